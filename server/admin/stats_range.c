/*
 * stats_range.c - the days a statistics request covers (stats_range.h):
 * calendar arithmetic on day numbers (pure, unit-tested in
 * test_stats_range.c) and the days / startDate / endDate parameters.
 *
 * DESIGN: a range is checked against what the data has before anything is
 * read: it may not end after today, start before the oldest day kept, or
 * span more days than the caller allows, so every read stays one bounded
 * pipeline of one bucket per day (or hour) of the range.
 */
#include "compat.h"
#include "stats_range.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "reqctx.h"
#include "stats_params.h"

#include <ctype.h>
#include <time.h>

#define DAY_S 86400LL

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil, for years from 1970 on). */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = y / 400;
    long long yoe = y - era * 400;
    long long doy = (153LL * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

long long stats_day_parse(const char *s)
{
    if (!s || strlen(s) != 10)
        return -1;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            return -1;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return -1;
    return days_from_civil(y, m, d);
}

void stats_day_format(long long day, char out[16])
{
    time_t t = (time_t)(day * DAY_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

long long stats_day_at(int tz_offset_min, long long ms)
{
    long long s = ms / 1000 + (long long)tz_offset_min * 60;
    return s >= 0 ? s / DAY_S : -((-s + DAY_S - 1) / DAY_S);
}

const char *stats_range_check(long long start, long long end, long long today,
                              const struct stats_range_limits *lim, const char **param)
{
    *param = "endDate";
    if (end < start)
        return "is before startDate";
    if (end > today)
        return "is after today (dates are in TIMEZONE_OFFSET)";
    if (end - start + 1 > lim->span_max)
        return "makes the range longer than allowed";
    *param = "startDate";
    if (start < today - (lim->kept - 1))
        return "is older than the statistics are kept";
    *param = NULL;
    return NULL;
}

void stats_range_labels(const struct stats_range *r, bool hours, char (*labels)[24])
{
    for (int i = 0; i < r->ndays; i++) {
        char day[16];
        stats_day_format(r->first + i, day);
        if (!hours) {
            snprintf(labels[i], sizeof(labels[i]), "%s", day);
            continue;
        }
        for (int h = 0; h < 24; h++)
            snprintf(labels[i * 24 + h], sizeof(labels[0]), "%.10sT%02u", day, (unsigned)h % 24u);
    }
}

void stats_bucket_labels(int tz_offset_min, const struct stats_range *r, bool hours,
                         char (*labels)[24])
{
    if (hours && !r->dates)
        stats_trend_labels(tz_offset_min, true, r->ndays * 24, labels);
    else
        stats_range_labels(r, hours, labels);
}

static int refuse(struct reqctx *rq, const char *name, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "%s: %s", name, why);
    admin_error(rq, 400, "Invalid parameter", msg);
    return -ERR_INVAL;
}

static bool given(const char *v)
{
    return v && *v;
}

/* startDate and endDate, both given: parsed and checked against today. */
static int date_range(struct reqctx *rq, const struct stats_range_limits *lim, long long today,
                      struct stats_range *out)
{
    static const char fmt[] = "expected YYYY-MM-DD (a date in TIMEZONE_OFFSET)";
    long long start = stats_day_parse(reqctx_query(rq, "startDate"));
    long long end = stats_day_parse(reqctx_query(rq, "endDate"));
    if (start < 0)
        return refuse(rq, "startDate", fmt);
    if (end < 0)
        return refuse(rq, "endDate", fmt);
    const char *param = NULL, *why = stats_range_check(start, end, today, lim, &param);
    if (why) {
        char full[160];
        snprintf(full, sizeof(full), "%s (a range: at most %d days, within the last %d)", why,
                 lim->span_max, lim->kept);
        return refuse(rq, param, full);
    }
    out->first = start;
    out->ndays = (int)(end - start + 1);
    out->dates = true;
    return 0;
}

int stats_range_param(struct reqctx *rq, const struct stats_range_limits *lim,
                      struct stats_range *out)
{
    bool has_start = given(reqctx_query(rq, "startDate"));
    bool has_end = given(reqctx_query(rq, "endDate"));
    long long today = stats_day_at(reqctx_app(rq)->tz_offset_min, (long long)time(NULL) * 1000);
    if (has_start || has_end) {
        if (given(reqctx_query(rq, "days")))
            return refuse(rq, "days", "give days or startDate and endDate, not both");
        if (!has_start || !has_end)
            return refuse(rq, has_start ? "endDate" : "startDate",
                          "startDate and endDate go together");
        return date_range(rq, lim, today, out);
    }
    long long days = 0;
    if (stats_int_param(rq, "days", 1, lim->days_max, lim->days_dflt, &days))
        return -ERR_INVAL;
    out->first = today - days + 1;
    out->ndays = (int)days;
    out->dates = false;
    return 0;
}
