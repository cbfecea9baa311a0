/*
 * usage_stats.h - daily usage breakdowns (per key+model, per account, global)
 * summed in memory and written to Redis in one pipeline every few seconds by
 * the maintenance thread, and once more at shutdown. A crash loses at most
 * one flush interval of breakdowns; the per-key totals are exact
 * (usage_record_many). ENABLE_USAGE_STATISTICS=false turns this off.
 */
#ifndef RELAY_USAGE_STATS_H
#define RELAY_USAGE_STATS_H

struct app;
struct rds_conn;
struct usage;
struct usage_stats;

struct usage_stats *usage_stats_new(void);
void usage_stats_free(struct usage_stats *st);
/* Add one request's usage to the pending breakdowns. Thread-safe, no I/O. */
void usage_stats_add(struct usage_stats *st, const struct app *app, const char *key_id,
                     const char *account_id, const struct usage *u);
/* Write everything pending (one pipeline). On failure the counts are kept
 * for the next flush. Thread-safe. Returns 0 or -ERR_REDIS. */
int usage_stats_flush(struct usage_stats *st, const struct app *app, struct rds_conn *c);

#endif
