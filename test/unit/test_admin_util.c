/* test_admin_util.c - server/admin_util: ISO-8601 times as the admin API takes them. */
#include "compat.h"
#include "admin_util.h"
#include "harness.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

TEST(iso_utc_forms)
{
    CHECK(admin_parse_iso("2026-01-01T00:00:00Z") == T0);
    CHECK(admin_parse_iso("2026-01-01T00:00:00.000Z") == T0);
    CHECK(admin_parse_iso("2026-01-01T00:00Z") == T0);
    CHECK(admin_parse_iso("2026-01-01T00:00:00") == T0);
    CHECK(admin_parse_iso("2026-01-01T00:00:00.5Z") == T0 + 500);
    CHECK(admin_parse_iso("2026-01-01T00:00:00.123456789Z") == T0 + 123);
}

TEST(iso_offsets)
{
    CHECK(admin_parse_iso("2026-01-01T08:00:00+08:00") == T0);
    CHECK(admin_parse_iso("2026-01-01T08:00:00+0800") == T0);
    CHECK(admin_parse_iso("2025-12-31T19:30:00-04:30") == T0);
    CHECK(admin_parse_iso("2026-01-01T00:00:00+00:00") == T0);
}

TEST(iso_rejects)
{
    static const char *bad[] = {
        NULL, "", "2026", "2026-01-01", "2026-01-01 00:00:00Z", "2026-01-01t00:00Z",
        "2026-02-30T00:00Z", "2025-02-29T00:00Z", "2026-13-01T00:00Z", "2026-00-10T00:00Z",
        "2026-01-01T24:00Z", "2026-01-01T00:60Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00ZZ", "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00+8", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00+01:00", "-001-01-01T00:00Z",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        CHECK(admin_parse_iso(bad[i]) == -1);
    CHECK(admin_parse_iso("2024-02-29T00:00Z") > 0); /* leap year */
}

TEST(iso_format_round_trip)
{
    char out[32];
    admin_iso_from_ms(T0 + 4567, out);
    CHECK_STR(out, "2026-01-01T00:00:04.567Z");
    CHECK(admin_parse_iso(out) == T0 + 4567);
    admin_iso_now(out);
    CHECK(admin_parse_iso(out) > T0);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {T(iso_utc_forms), T(iso_offsets), T(iso_rejects),
                                        T(iso_format_round_trip)};
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
