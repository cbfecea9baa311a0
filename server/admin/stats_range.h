/*
 * stats_range.h - the days a statistics request covers: `days` (the last n
 * days up to today) or `startDate` / `endDate` (the original's names,
 * YYYY-MM-DD in TIMEZONE_OFFSET, both ends included), validated with a 400
 * naming the parameter. Days are numbered from 1970-01-01 (day 0).
 */
#ifndef RELAY_STATS_RANGE_H
#define RELAY_STATS_RANGE_H

#include <stdbool.h>

struct reqctx;

#define STATS_RANGE_MAX_DAYS 90 /* the longest startDate..endDate by day */
#define STATS_RANGE_HOUR_DAYS 7 /* the longest by hour: the hours' retention */

struct stats_range_limits {
    int days_max, days_dflt; /* the days parameter */
    int span_max;            /* days from startDate to endDate, both included */
    int kept;                /* days kept: startDate at most kept - 1 days before today */
};

struct stats_range {
    long long first; /* day number of the first day */
    int ndays;       /* >= 1 */
    bool dates;      /* from startDate / endDate (else from days or its default) */
};

/* Pure: "YYYY-MM-DD", a calendar date from 1970 on, as a day number; -1 when
 * it is not one. */
long long stats_day_parse(const char *s);
/* Pure: a day number as "YYYY-MM-DD". */
void stats_day_format(long long day, char out[16]);
/* Pure: the day number of the moment ms (UTC milliseconds) in tz_offset_min. */
long long stats_day_at(int tz_offset_min, long long ms);
/* Pure: start..end checked against today and lim; NULL when valid, else the
 * reason, and *param the parameter it names. */
const char *stats_range_check(long long start, long long end, long long today,
                              const struct stats_range_limits *lim, const char **param);
/* Pure: the labels of r (days YYYY-MM-DD, or hours YYYY-MM-DDTHH: 24 a day),
 * oldest first; labels holds r->ndays (hours: r->ndays * 24) entries. */
void stats_range_labels(const struct stats_range *r, bool hours, char (*labels)[24]);

/* The labels of the buckets of r: with days, by hour, the last ndays * 24
 * hours up to this one (stats_trend_labels); else stats_range_labels. */
void stats_bucket_labels(int tz_offset_min, const struct stats_range *r, bool hours,
                         char (*labels)[24]);

/* The range of a request from days, startDate and endDate (days with either
 * date: 400 naming both; one date without the other: 400 naming the one
 * missing). 0 and *out, or -ERR_INVAL after the 400 was sent. */
int stats_range_param(struct reqctx *rq, const struct stats_range_limits *lim,
                      struct stats_range *out) __attribute__((warn_unused_result));

#endif
