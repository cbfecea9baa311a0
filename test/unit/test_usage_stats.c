/* test_usage_stats.c - the statistics periods (TIMEZONE_OFFSET days, hours
 * and months, UTC minutes) and the cost format of the statistics routes. */
#include "compat.h"
#include "harness.h"
#include "usage_read.h"
#include "usage_stats.h"

/* 2026-12-02T03:30:15Z */
#define T0 1796182215000LL

TEST(negative_offset_is_the_day_before)
{
    struct usage_period p;
    usage_period_at(-300, T0, &p);
    CHECK_STR(p.day, "2026-12-01");
    CHECK_STR(p.hour, "2026-12-01T22");
    CHECK_STR(p.month, "2026-12");
    CHECK_INT(p.minute, T0 / 60000);
}

TEST(positive_offset_crosses_the_year)
{
    struct usage_period p;
    usage_period_at(480, 1798747200000LL, &p); /* 2026-12-31T20:00:00Z */
    CHECK_STR(p.day, "2027-01-01");
    CHECK_STR(p.hour, "2027-01-01T04");
    CHECK_STR(p.month, "2027-01");
}

TEST(zero_offset_is_utc)
{
    struct usage_period p;
    usage_period_at(0, T0, &p);
    CHECK_STR(p.day, "2026-12-02");
    CHECK_STR(p.hour, "2026-12-02T03");
}

TEST(cost_format_digits_by_size)
{
    char f[32];
    usage_format_cost(1230000, f);
    CHECK_STR(f, "$1.23");
    usage_format_cost(12300, f);
    CHECK_STR(f, "$0.0123");
    usage_format_cost(1000, f);
    CHECK_STR(f, "$0.0010");
    usage_format_cost(88, f);
    CHECK_STR(f, "$0.000088");
    usage_format_cost(0, f);
    CHECK_STR(f, "$0.000000");
}

TEST(sums_add_every_counter)
{
    struct usage_sum a = {{1, 2, 3, 4, 5, 6, 7, 8, 9}}, b = {{10, 20, 30, 40, 50, 60, 70, 80, 90}};
    usage_sum_add(&a, &b);
    for (int i = 0; i < USAGE_NCOUNTERS; i++)
        CHECK_INT(a.v[i], (long long)(i + 1) * 11);
    CHECK_STR(usage_counter_names[UC_COST], "costMicro");
}

static const struct test tests[] = {
    T(negative_offset_is_the_day_before),
    T(positive_offset_crosses_the_year),
    T(zero_offset_is_utc),
    T(cost_format_digits_by_size),
    T(sums_add_every_counter),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
