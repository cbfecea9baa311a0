/* test_account_limits.c - the pure parts of the per-account limits: USD
 * amounts (exact micro-USD, no float), quotaResetTime, and the quota day
 * with its next reset in TIMEZONE_OFFSET (crs-relay-spec 5.4). */
#include "compat.h"
#include "account_limits.h"
#include "errs.h"
#include "harness.h"

TEST(usd_parse_exact)
{
    long long m = -1;
    CHECK_INT(account_usd_parse("12.5", &m), 0);
    CHECK_INT(m, 12500000);
    CHECK_INT(account_usd_parse("0.000001", &m), 0);
    CHECK_INT(m, 1);
    CHECK_INT(account_usd_parse("0", &m), 0);
    CHECK_INT(m, 0);
    CHECK_INT(account_usd_parse(".5", &m), 0);
    CHECK_INT(m, 500000);
    CHECK_INT(account_usd_parse("1000000", &m), 0);
    CHECK_INT(m, 1000000000000LL);
}

TEST(usd_parse_refuses)
{
    long long m = 42;
    CHECK_INT(account_usd_parse("", &m), -ERR_INVAL);
    CHECK_INT(account_usd_parse("-1", &m), -ERR_INVAL);
    CHECK_INT(account_usd_parse("1.0000001", &m), -ERR_INVAL); /* 7 decimals */
    CHECK_INT(account_usd_parse("1e3", &m), -ERR_INVAL);
    CHECK_INT(account_usd_parse("1000000.01", &m), -ERR_INVAL);
    CHECK_INT(account_usd_parse("12 ", &m), -ERR_INVAL);
    CHECK_INT(m, 42); /* untouched on failure */
}

TEST(usd_format_shortest)
{
    char out[32];
    account_usd_format(12500000, out);
    CHECK_STR(out, "12.5");
    account_usd_format(1, out);
    CHECK_STR(out, "0.000001");
    account_usd_format(0, out);
    CHECK_STR(out, "0");
    account_usd_format(3000000, out);
    CHECK_STR(out, "3");
}

TEST(hhmm)
{
    CHECK_INT(account_hhmm_parse("00:00"), 0);
    CHECK_INT(account_hhmm_parse("08:30"), 510);
    CHECK_INT(account_hhmm_parse("23:59"), 1439);
    CHECK_INT(account_hhmm_parse("24:00"), -1);
    CHECK_INT(account_hhmm_parse("12:60"), -1);
    CHECK_INT(account_hhmm_parse("8:30"), -1);
    CHECK_INT(account_hhmm_parse("08-30"), -1);
    CHECK_INT(account_hhmm_parse(NULL), -1);
}

/* now (ms), tz (min), reset (min) -> the day's label and the next reset */
static void day_is(long long now, int tz, int reset, const char *label, long long next)
{
    char got[QUOTA_DAY_MAX];
    long long n = 0;
    account_quota_day(now, tz, reset, got, &n);
    CHECK_STR(got, label);
    CHECK_INT(n, next);
}

TEST(quota_day_midnight_utc)
{
    /* 2026-12-01T10:00Z -> the day of 2026-12-01, reset at 2026-12-02T00:00Z */
    day_is(1796119200000LL, 0, 0, "2026-12-01", 1796169600000LL);
}

TEST(quota_day_in_timezone_offset)
{
    /* UTC+8: 2026-12-01T20:00Z is 04:00 on 12-02 local; next local midnight 12-02T16:00Z */
    day_is(1796155200000LL, 480, 0, "2026-12-02", 1796227200000LL);
}

TEST(quota_day_reset_time_boundaries)
{
    /* reset 08:30 UTC: one minute before it the day began yesterday; at it, a new one */
    day_is(1796113740000LL, 0, 510, "2026-11-30", 1796113800000LL);
    day_is(1796113800000LL, 0, 510, "2026-12-01", 1796200200000LL);
}

TEST(quota_day_negative_offset_late_reset)
{
    /* UTC-5, reset 23:00: 2026-12-01T03:00Z is 22:00 on 11-30 local, so the day began
     * 11-29 23:00 and ends 11-30 23:00 local = 2026-12-01T04:00Z */
    day_is(1796094000000LL, -300, 1380, "2026-11-29", 1796097600000LL);
}

static const struct test tests[] = {
    T(usd_parse_exact),
    T(usd_parse_refuses),
    T(usd_format_shortest),
    T(hhmm),
    T(quota_day_midnight_utc),
    T(quota_day_in_timezone_offset),
    T(quota_day_reset_time_boundaries),
    T(quota_day_negative_offset_late_reset),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
