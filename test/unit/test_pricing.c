/*
 * test_pricing.c - server/store/pricing: the built-in table, model lookup,
 * request cost against hand-computed values, and parse errors.
 *
 * Expected costs are worked out by hand in micro-USD (1 USD per MTok = 1 µ$
 * per token): e.g. Sonnet 4.5 at 3 / 15 / 3.75 / 6 / 0.30 USD per MTok.
 */
#include "compat.h"
#include "errs.h"
#include "harness.h"
#include "pricing.h"
#include "pricing_builtin.h"
#include "usage.h"

#include <limits.h>

/* UNPRICED_MODEL_FALLBACK_* defaults: 3 and 15 USD per MTok. */
static const struct pricing_fallback FB = {3000000000LL, 15000000000LL};

static struct pricing *builtin(void)
{
    struct pricing *t = NULL;
    char err[256];
    int rc = pricing_parse((const char *)pricing_builtin_json, pricing_builtin_json_len, &FB, err,
                           sizeof(err), &t);
    if (rc != 0)
        fprintf(stderr, "  built-in table: %s\n", err);
    return t;
}

static struct pricing *table(const char *json)
{
    struct pricing *t = NULL;
    char err[256];
    if (pricing_parse(json, strlen(json), &FB, err, sizeof(err), &t) != 0)
        fprintf(stderr, "  table: %s\n", err);
    return t;
}

static struct usage mk(long long in, long long out, long long cc, long long rd, long long e5,
                       long long e1)
{
    struct usage u = {.input = in, .output = out, .cache_create = cc, .cache_read = rd};
    u.eph_5m = e5;
    u.eph_1h = e1;
    return u;
}

/* Cost of model with u in micro-USD (-1 on error); *c gets the details. */
static long long cost(const struct pricing *t, const char *model, struct usage u,
                      struct pricing_cost *c)
{
    return pricing_cost(t, model, &u, c) == 0 ? c->micro : -1;
}

TEST(builtin_table_parses)
{
    struct pricing *t = builtin();
    REQUIRE(t);
    CHECK_INT(pricing_model_count(t), 222);
    size_t len = 0;
    const char *j = pricing_json(t, &len);
    CHECK(j && len > 1000 && len < pricing_builtin_json_len && j[0] == '{');
    struct pricing *again = table(j); /* the compact text is itself a valid table */
    CHECK(again && pricing_model_count(again) == 222);
    pricing_release(again);
    pricing_release(t);
}

TEST(sonnet_45_all_parts)
{
    struct pricing *t = builtin();
    REQUIRE(t);
    struct pricing_cost c;
    /* 1000x3 + 500x15 + 1000x3.75 (5m) + 2000x6 (1h) + 10000x0.30 = 29250 µ$ */
    CHECK_INT(cost(t, "claude-sonnet-4-5-20250929", mk(1000, 500, 3000, 10000, 1000, 2000), &c),
              29250);
    CHECK(!c.unpriced && !c.long_context);
    CHECK_STR(c.model, "claude-sonnet-4-5-20250929");
    CHECK_INT(c.input, 3000LL * 1000000000);
    CHECK_INT(c.cache_1h, 12000LL * 1000000000);
    CHECK_INT(c.femto, 29250LL * 1000000000);
    pricing_release(t);
}

TEST(haiku_date_suffix_and_uncovered_cache_writes)
{
    struct pricing *t = builtin();
    REQUIRE(t);
    struct pricing_cost c;
    /* claude-haiku-4-5 at 1 / 5 / 1.25 / 2 / 0.10. cache_create 700 = 200 (5m) + 300 (1h)
     * + 200 uncovered (5m): 123 + 225 + 400x1.25 + 300x2 + 999x0.1 = 1547.9 -> 1548 µ$ */
    CHECK_INT(cost(t, "claude-haiku-4-5-20991231", mk(123, 45, 700, 999, 200, 300), &c), 1548);
    CHECK_STR(c.model, "claude-haiku-4-5");
    CHECK_INT(c.femto, 1547900000000LL);
    CHECK_INT(c.cache_5m, 500LL * 1000000000);
    pricing_release(t);
}

TEST(deepseek_cache_price_fallbacks)
{
    struct pricing *t = builtin();
    REQUIRE(t);
    struct pricing_cost c;
    /* deepseek-chat: 0.28 / 0.42, read 0.028, no cache-write prices: 5m = 1.25x0.28 = 0.35,
     * 1h = 2x0.28 = 0.56. 10000x0.28 + 2000x0.42 + 600x0.35 + 400x0.56 + 5000x0.028
     * = 2800 + 840 + 210 + 224 + 140 = 4214 µ$ */
    CHECK_INT(cost(t, "deepseek-chat", mk(10000, 2000, 1000, 5000, 0, 400), &c), 4214);
    CHECK(!c.unpriced);
    pricing_release(t);
}

TEST(gemini_long_context_tier)
{
    struct pricing *t = builtin();
    REQUIRE(t);
    struct pricing_cost c;
    /* gemini-2.5-pro base 1.25 / 10 / read 0.125; above 200k: 2.5 / 15 / read 0.25.
     * prompt 150000 + 60000 = 210000 > 200k: 150000x2.5 + 1000x15 + 60000x0.25 */
    CHECK_INT(cost(t, "gemini-2.5-pro", mk(150000, 1000, 0, 60000, 0, 0), &c), 405000);
    CHECK(c.long_context);
    /* exactly 200000 is not above: 140000x1.25 + 1000x10 + 60000x0.125 */
    CHECK_INT(cost(t, "gemini-2.5-pro", mk(140000, 1000, 0, 60000, 0, 0), &c), 192500);
    CHECK(!c.long_context);
    /* a 1h write in the tier: no price at all -> 2x tier input = 5: +1000x5 */
    CHECK_INT(cost(t, "gemini-2.5-pro", mk(150000, 1000, 1000, 60000, 0, 1000), &c), 410000);
    pricing_release(t);
}

TEST(multipliers_and_explicit_zero)
{
    struct pricing *t =
        table("{\"m1\":{\"input_cost_per_token\":4e-6,\"output_cost_per_token\":2e-5},"
              "\"m0\":{\"input_cost_per_token\":4e-6,\"output_cost_per_token\":2e-5,"
              "\"cache_read_input_token_cost\":0,\"cache_creation_input_token_cost\":0}}");
    REQUIRE(t);
    struct pricing_cost c;
    /* 10x4 + 10x20 + 20x5 (5m) + 10x8 (1h) + 100x0.4 = 460 µ$ */
    CHECK_INT(cost(t, "m1", mk(10, 10, 30, 100, 10, 10), &c), 460);
    /* explicit 0 stays 0 (free), only absent prices fall back: 40 + 200 + 0 + 80 + 0 */
    CHECK_INT(cost(t, "m0", mk(10, 10, 30, 100, 10, 10), &c), 320);
    pricing_release(t);
}

TEST(unpriced_model_uses_fallback_and_is_flagged)
{
    struct pricing *t = builtin();
    REQUIRE(t);
    struct pricing_cost c;
    /* 3 / 15 / 3.75 / 0.30: 1000x3 + 1000x15 + 1000x3.75 + 1000x0.3 = 22050 µ$ */
    CHECK_INT(cost(t, "mystery-model-x", mk(1000, 1000, 1000, 1000, 0, 0), &c), 22050);
    CHECK(c.unpriced && !c.model);
    /* gpt-image-1 has no output_cost_per_token: not priced, never a silent $0 */
    CHECK_INT(cost(t, "gpt-image-1", mk(0, 1000, 0, 0, 0, 0), &c), 15000);
    CHECK(c.unpriced);
    CHECK_INT(cost(t, NULL, mk(1000, 0, 0, 0, 0, 0), &c), 3000);
    CHECK(c.unpriced);
    pricing_release(t);
}

TEST(lookup_normalisation)
{
    struct pricing *t = builtin();
    REQUIRE(t);
    CHECK_STR(pricing_match(t, "claude-opus-4-1"), "claude-opus-4-1");
    CHECK_STR(pricing_match(t, "anthropic/claude-opus-4-1"), "claude-opus-4-1");
    CHECK_STR(pricing_match(t, "Claude-Sonnet-4-5"), "claude-sonnet-4-5");
    CHECK_STR(pricing_match(t, "claude-sonnet-4-5[1m]"), "claude-sonnet-4-5");
    CHECK_STR(pricing_match(t, "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
              "claude-sonnet-4-5-20250929-v1:0");
    CHECK_STR(pricing_match(t, "eu.anthropic.claude-opus-4-1-20250805-v1:0"),
              "claude-opus-4-1-20250805");
    CHECK_STR(pricing_match(t, "claude-opus-4-1@20250805"), "claude-opus-4-1");
    CHECK_STR(pricing_match(t, "vertex_ai/claude-haiku-4-5@20251001"), "claude-haiku-4-5");
    CHECK(pricing_match(t, "claude-opus-4-1-2025") == NULL); /* not a date */
    CHECK(pricing_match(t, "") == NULL);
    char longname[600];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(pricing_match(t, longname) == NULL);
    pricing_release(t);
}

TEST(rounding_half_up_and_saturation)
{
    struct pricing *t = table("{\"half\":{\"input_cost_per_token\":5e-10,\"output_cost_per_token\":"
                              "4.99e-10},\"big\":{\"input_cost_per_token\":1,"
                              "\"output_cost_per_token\":1}}");
    REQUIRE(t);
    struct pricing_cost c;
    CHECK_INT(cost(t, "half", mk(1000, 0, 0, 0, 0, 0), &c), 1); /* 0.5 µ$ -> 1 */
    CHECK_INT(cost(t, "half", mk(0, 1000, 0, 0, 0, 0), &c), 0); /* 0.499 µ$ -> 0 */
    CHECK_INT(cost(t, "half", mk(-5, -5, -5, -5, -5, -5), &c), 0);
    cost(t, "big", mk(LLONG_MAX / 2, LLONG_MAX / 2, LLONG_MAX, 0, 0, LLONG_MAX), &c);
    CHECK_INT(c.femto, LLONG_MAX);
    CHECK_INT(c.micro, LLONG_MAX / 1000000000 + 1);
    CHECK(pricing_cost(t, "half", NULL, &c) == -ERR_INVAL);
    pricing_release(t);
}

/* Parse text; returns the error code and leaves the message in err. */
static int parse_err(const char *json, char *err, size_t errlen)
{
    struct pricing *t = NULL;
    int rc = pricing_parse(json, strlen(json), &FB, err, errlen, &t);
    pricing_release(t);
    return rc;
}

TEST(parse_errors_name_model_and_field)
{
    char err[256];
    CHECK(parse_err("{not json", err, sizeof(err)) == -ERR_PARSE);
    CHECK(parse_err("[1,2]", err, sizeof(err)) == -ERR_INVAL);
    CHECK(parse_err("{}", err, sizeof(err)) == -ERR_INVAL);
    CHECK(parse_err("{\"m\":3}", err, sizeof(err)) == -ERR_INVAL);
    CHECK(strstr(err, "\"m\"") && strstr(err, "object"));
    CHECK(parse_err("{\"m\":{\"input_cost_per_token\":-1}}", err, sizeof(err)) == -ERR_INVAL);
    CHECK(strstr(err, "\"m\"") && strstr(err, "input_cost_per_token"));
    CHECK(parse_err("{\"a\":{},\"m\":{\"output_cost_per_token\":\"3e-6\"}}", err, sizeof(err)) ==
          -ERR_INVAL);
    CHECK(strstr(err, "\"m\"") && strstr(err, "output_cost_per_token"));
    CHECK(parse_err("{\"m\":{\"cache_read_input_token_cost\":2}}", err, sizeof(err)) ==
          -ERR_INVAL);
    CHECK(parse_err("{\"m\":{\"output_cost_per_reasoning_token\":-0.1}}", err, sizeof(err)) ==
          -ERR_INVAL);
    CHECK(strstr(err, "output_cost_per_reasoning_token"));
    CHECK(parse_err("{\"m\":{\"search_context_cost_per_query\":{\"low\":0.01}}}", err,
                    sizeof(err)) == 0);
    const char *dup = "{\"m\":{\"input_cost_per_token\":1e-6,\"output_cost_per_token\":1e-6},"
                      "\"m\":{\"input_cost_per_token\":1e-6,\"output_cost_per_token\":1e-6}}";
    CHECK(parse_err(dup, err, sizeof(err)) == -ERR_INVAL);
    CHECK(strstr(err, "more than once"));
    struct pricing *t = NULL;
    CHECK(pricing_parse("{}", PRICING_MAX_JSON + 1, &FB, err, sizeof(err), &t) == -ERR_TOOBIG);
    CHECK(t == NULL);
}

TEST(usd_per_mtok)
{
    long long v = -1;
    CHECK(pricing_parse_usd_per_mtok("3", &v) == 0 && v == 3000000000LL);
    CHECK(pricing_parse_usd_per_mtok("0.30", &v) == 0 && v == 300000000LL);
    CHECK(pricing_parse_usd_per_mtok("15.", &v) == 0 && v == 15000000000LL);
    CHECK(pricing_parse_usd_per_mtok(".5", &v) == 0 && v == 500000000LL);
    CHECK(pricing_parse_usd_per_mtok("0.000000001", &v) == 0 && v == 1);
    CHECK(pricing_parse_usd_per_mtok("1000000", &v) == 0 && v == 1000000000000000LL);
    static const char *bad[] = {NULL, "", ".", "-1", "1e3", "1.2.3", "abc", "3 ", "1000000.5",
                                "1000001", "0.0000000001", "123456789"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        v = 42;
        CHECK(pricing_parse_usd_per_mtok(bad[i], &v) == -ERR_INVAL && v == 42);
    }
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(builtin_table_parses),
        T(sonnet_45_all_parts),
        T(haiku_date_suffix_and_uncovered_cache_writes),
        T(deepseek_cache_price_fallbacks),
        T(gemini_long_context_tier),
        T(multipliers_and_explicit_zero),
        T(unpriced_model_uses_fallback_and_is_flagged),
        T(lookup_normalisation),
        T(rounding_half_up_and_saturation),
        T(parse_errors_name_model_and_field),
        T(usd_per_mtok),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
