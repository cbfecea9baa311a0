/* test_sticky_cache.c - the in-memory sticky-session cache: an entry never
 * outlives its Redis key less the renewal threshold, is trusted only for
 * fresh_ms, is forgotten by a notice, and a read that raced a forget is not
 * cached. */
#include "compat.h"
#include "harness.h"
#include "sticky_cache.h"

#define H "0123456789abcdef0123456789abcdef"
#define ACC "11111111-2222-3333-4444-555555555555"

TEST(hit_until_expiry)
{
    struct sticky_cache *sc = sticky_cache_new();
    char out[37] = "";
    sticky_cache_put(sc, H, ACC, 1000, sticky_cache_until(1000, 5000, 0), sticky_cache_gen(sc));
    CHECK(sticky_cache_get(sc, H, 1000, 60000, out, sizeof(out)));
    CHECK(strcmp(out, ACC) == 0);
    CHECK(sticky_cache_get(sc, H, 5999, 60000, out, sizeof(out)));
    CHECK(!sticky_cache_get(sc, H, 6000, 60000, out, sizeof(out))); /* the key expired */
    CHECK(!sticky_cache_get(sc, "abcd", 1000, 60000, out, sizeof(out)));
    sticky_cache_free(sc);
}

TEST(trusted_only_for_fresh_ms)
{
    struct sticky_cache *sc = sticky_cache_new();
    char out[37];
    sticky_cache_put(sc, H, ACC, 0, 3600000, sticky_cache_gen(sc));
    CHECK(sticky_cache_get(sc, H, 60000, 60000, out, sizeof(out)));
    CHECK(!sticky_cache_get(sc, H, 60001, 60000, out, sizeof(out)));
    CHECK(!sticky_cache_get(sc, H, 6000, 5000, out, sizeof(out))); /* subscription down */
    sticky_cache_free(sc);
}

TEST(renewal_due_is_a_miss)
{
    /* 10 min left, renewal below 15 min: due now, so Redis must be asked. */
    CHECK(sticky_cache_until(0, 600000, 900000) <= 0);
    struct sticky_cache *sc = sticky_cache_new();
    char out[37];
    sticky_cache_put(sc, H, ACC, 0, sticky_cache_until(0, 600000, 900000), sticky_cache_gen(sc));
    CHECK(sticky_cache_size(sc) == 0);
    CHECK(!sticky_cache_get(sc, H, 0, 60000, out, sizeof(out)));
    /* 1 h left, renewal below 15 min: usable for 45 min (if fresh). */
    sticky_cache_put(sc, H, ACC, 0, sticky_cache_until(0, 3600000, 900000), sticky_cache_gen(sc));
    CHECK(sticky_cache_get(sc, H, 2699999, 3600000, out, sizeof(out)));
    CHECK(!sticky_cache_get(sc, H, 2700000, 3600000, out, sizeof(out)));
    sticky_cache_free(sc);
}

TEST(forget_and_clear)
{
    struct sticky_cache *sc = sticky_cache_new();
    char out[37];
    sticky_cache_put(sc, H, ACC, 0, 100000, sticky_cache_gen(sc));
    sticky_cache_forget(sc, H);
    CHECK(!sticky_cache_get(sc, H, 1, 60000, out, sizeof(out)));
    sticky_cache_put(sc, H, ACC, 0, 100000, sticky_cache_gen(sc));
    sticky_cache_put(sc, "abcdef", ACC, 0, 100000, sticky_cache_gen(sc));
    CHECK(sticky_cache_size(sc) == 2);
    sticky_cache_clear(sc);
    CHECK(sticky_cache_size(sc) == 0);
    sticky_cache_free(sc);
}

TEST(read_racing_a_forget_is_not_cached)
{
    struct sticky_cache *sc = sticky_cache_new();
    char out[37];
    unsigned long gen = sticky_cache_gen(sc); /* a worker starts its GET */
    sticky_cache_forget(sc, H);               /* another instance rebinds meanwhile */
    sticky_cache_put(sc, H, ACC, 0, 100000, gen);
    CHECK(!sticky_cache_get(sc, H, 1, 60000, out, sizeof(out)));
    sticky_cache_put(sc, H, ACC, 0, 100000, sticky_cache_gen(sc));
    CHECK(sticky_cache_get(sc, H, 1, 60000, out, sizeof(out)));
    sticky_cache_free(sc);
}

TEST(replace_and_bound)
{
    struct sticky_cache *sc = sticky_cache_new();
    char out[37], h[32];
    sticky_cache_put(sc, H, ACC, 0, 100000, sticky_cache_gen(sc));
    sticky_cache_put(sc, H, "22222222-2222-3333-4444-555555555555", 0, 100000,
                     sticky_cache_gen(sc));
    CHECK(sticky_cache_size(sc) == 1);
    CHECK(sticky_cache_get(sc, H, 1, 60000, out, sizeof(out)) && out[0] == '2');
    for (int i = 0; i < STICKY_CACHE_MAX + 10; i++) {
        snprintf(h, sizeof(h), "%x", i + 0x100000);
        sticky_cache_put(sc, h, ACC, 0, 100000, sticky_cache_gen(sc));
    }
    CHECK(sticky_cache_size(sc) <= STICKY_CACHE_MAX);
    sticky_cache_free(sc);
}

static const struct test tests[] = {
    T(hit_until_expiry), T(trusted_only_for_fresh_ms),          T(renewal_due_is_a_miss),
    T(forget_and_clear), T(read_racing_a_forget_is_not_cached), T(replace_and_bound),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
