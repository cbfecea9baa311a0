/*
 * usage_stats.h - usage breakdowns (per key, key+model, account, model and
 * overall; by day, hour, month, minute and in total) and the recent-request
 * logs, summed in memory and written to Redis in one script call every few
 * seconds by the maintenance thread, and once more at shutdown. A request
 * costs no Redis command of its own here: a flush costs about two commands
 * per bucket that changed, whatever the number of requests in it. A crash
 * loses at most one flush interval of breakdowns; the per-key totals are
 * exact (usage_record_many). ENABLE_USAGE_STATISTICS=false turns this off.
 */
#ifndef RELAY_USAGE_STATS_H
#define RELAY_USAGE_STATS_H

#include <stdbool.h>

struct app;
struct rds_conn;
struct accounting;
struct usage_stats;

/* Retention of the buckets (days: TOKEN_USAGE_RETENTION). */
#define USAGE_HOUR_TTL_S (7 * 86400LL)
#define USAGE_MONTH_TTL_S (365 * 86400LL)
#define USAGE_MINUTE_TTL_S 3600LL
#define USAGE_RPM_WINDOW_MIN 5 /* minutes behind the dashboard's rpm / tpm */

/* The counters of every bucket, in this order (hash fields). */
#define USAGE_NCOUNTERS 9
extern const char *const usage_counter_names[USAGE_NCOUNTERS];
enum usage_counter {
    UC_REQUESTS = 0,
    UC_INPUT = 1,
    UC_OUTPUT = 2,
    UC_CACHE_CREATE = 3,
    UC_CACHE_READ = 4,
    UC_EPH_5M = 5,
    UC_EPH_1H = 6,
    UC_ALL = 7,
    UC_COST = 8, /* micro-USD */
};

/* The periods a moment falls in, in the TIMEZONE_OFFSET (tz_offset_min). */
struct usage_period {
    char day[16];     /* YYYY-MM-DD */
    char hour[24];    /* YYYY-MM-DDTHH */
    char month[8];    /* YYYY-MM */
    long long minute; /* UTC minutes since the epoch */
};
/* Pure. */
void usage_period_at(int tz_offset_min, long long ms, struct usage_period *p);

struct usage_stats *usage_stats_new(void);
void usage_stats_free(struct usage_stats *st);
/* Add one finished request: its usage to the buckets (when a->u.seen) and
 * an entry to its key's, its account's and the overall request logs (when
 * an upstream was tried). Thread-safe, no I/O. */
void usage_stats_add(struct usage_stats *st, const struct app *app, const struct accounting *a);
/* Write everything pending (one round trip). On a failure without an
 * answer the counts are kept for the next flush. Thread-safe. Returns 0 or
 * -ERR_REDIS. */
int usage_stats_flush(struct usage_stats *st, const struct app *app, struct rds_conn *c);
/* Flushes that wrote something, and the Redis commands they cost (counted
 * as commandstats does: the script call and every command inside it). */
void usage_stats_counts(struct usage_stats *st, unsigned long long *flushes,
                        unsigned long long *commands);

#endif
