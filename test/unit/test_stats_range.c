/* test_stats_range.c - server/admin/stats_range: day numbers, the relay's
 * local day of a moment, the checks of a startDate..endDate range, labels. */
#include "compat.h"
#include "stats_range.h"
#include "harness.h"

#define D2026 20454LL      /* 2026-01-01 */
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define HOUR_MS 3600000LL

TEST(day_parse)
{
    CHECK(stats_day_parse("1970-01-01") == 0);
    CHECK(stats_day_parse("2026-01-01") == D2026);
    CHECK(stats_day_parse("2025-12-31") == D2026 - 1);
    CHECK(stats_day_parse("2024-02-29") == stats_day_parse("2024-02-28") + 1);
    CHECK(stats_day_parse("2024-03-01") == stats_day_parse("2024-02-29") + 1);
    CHECK(stats_day_parse("2000-02-29") > 0); /* divisible by 400: leap */
    CHECK(stats_day_parse("2026-12-02") - stats_day_parse("2026-11-02") == 30);
}

TEST(day_parse_rejects)
{
    static const char *bad[] = {
        NULL,          "",           "2026-1-01",  "2026-01-1",     "20260101",
        "2026/01/01",  "2026-13-01", "2026-00-10", "2026-01-00",    "2026-02-29",
        "1900-02-29",  "2026-04-31", "1969-12-31", "2026-01-01T00", "2026-01-01 ",
        " 2026-01-01", "2026-0a-01", "+026-01-01"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        CHECK(stats_day_parse(bad[i]) == -1);
}

TEST(day_format_round_trip)
{
    char out[16];
    stats_day_format(D2026, out);
    CHECK_STR(out, "2026-01-01");
    stats_day_format(stats_day_parse("2024-02-29"), out);
    CHECK_STR(out, "2024-02-29");
    stats_day_format(0, out);
    CHECK_STR(out, "1970-01-01");
    for (long long d = D2026 - 800; d < D2026 + 800; d += 7) {
        stats_day_format(d, out);
        CHECK(stats_day_parse(out) == d);
    }
}

TEST(day_at_time_zone)
{
    CHECK(stats_day_at(0, T0) == D2026);
    CHECK(stats_day_at(0, T0 - 1) == D2026 - 1);
    CHECK(stats_day_at(8 * 60, T0 - 8 * HOUR_MS) == D2026); /* 08:00 local on the 1st */
    CHECK(stats_day_at(8 * 60, T0 - 8 * HOUR_MS - 1) == D2026 - 1);
    CHECK(stats_day_at(-5 * 60, T0 + 4 * HOUR_MS) == D2026 - 1); /* 23:00 local on the 31st */
    CHECK(stats_day_at(-5 * 60, T0 + 5 * HOUR_MS) == D2026);
    CHECK(stats_day_at(14 * 60, T0 + 10 * HOUR_MS) == D2026 + 1);
}

TEST(range_check)
{
    struct stats_range_limits lim = {30, 7, 30, 30};
    const char *param = "x";
    long long today = D2026 + 40;
    CHECK(stats_range_check(today, today, today, &lim, &param) == NULL && param == NULL);
    CHECK(stats_range_check(today - 29, today, today, &lim, &param) == NULL);
    CHECK(stats_range_check(today, today - 1, today, &lim, &param) != NULL);
    CHECK_STR(param, "endDate");
    CHECK(stats_range_check(today, today + 1, today, &lim, &param) != NULL);
    CHECK_STR(param, "endDate");
    CHECK(stats_range_check(today - 30, today, today, &lim, &param) != NULL); /* 31 days */
    CHECK_STR(param, "endDate");
    CHECK(stats_range_check(today - 30, today - 25, today, &lim, &param) != NULL); /* not kept */
    CHECK_STR(param, "startDate");
    struct stats_range_limits hours = {7, 1, 7, 7};
    CHECK(stats_range_check(today - 6, today, today, &hours, &param) == NULL);
    CHECK(stats_range_check(today - 7, today - 7, today, &hours, &param) != NULL);
    CHECK_STR(param, "startDate");
    struct stats_range_limits long_kept = {365, 7, 90,
                                           365}; /* kept longer than the longest range */
    CHECK(stats_range_check(today - 89, today, today, &long_kept, &param) == NULL);
    CHECK(stats_range_check(today - 90, today, today, &long_kept, &param) != NULL);
    CHECK(stats_range_check(today - 200, today - 111, today, &long_kept, &param) == NULL);
}

TEST(range_labels)
{
    struct stats_range r = {stats_day_parse("2024-02-28"), 3, true};
    char days[3][24], hours[72][24];
    stats_range_labels(&r, false, days);
    CHECK_STR(days[0], "2024-02-28");
    CHECK_STR(days[1], "2024-02-29");
    CHECK_STR(days[2], "2024-03-01");
    stats_range_labels(&r, true, hours);
    CHECK_STR(hours[0], "2024-02-28T00");
    CHECK_STR(hours[23], "2024-02-28T23");
    CHECK_STR(hours[24], "2024-02-29T00");
    CHECK_STR(hours[71], "2024-03-01T23");
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(day_parse),        T(day_parse_rejects), T(day_format_round_trip),
        T(day_at_time_zone), T(range_check),       T(range_labels)};
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
