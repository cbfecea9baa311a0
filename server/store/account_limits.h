/*
 * account_limits.h - the limits every account type shares (crs-relay-spec
 * 5.4 "Daily quota" and "Per-account concurrency"):
 *
 *   maxConcurrentTasks   at most N requests in flight on the account across
 *                        all instances: leases in the ZSET concurrency:{id}
 *                        (member -> lease end ms), the key leases' scheme.
 *   dailyQuota           USD per quota day; the account's cost of the day is
 *   quotaResetTime       counted by the accounting script (usage.c) in
 *                        account_daily_cost:{id}:{day}, where a quota day
 *                        starts at quotaResetTime (TIMEZONE_OFFSET). The
 *                        request that reaches the quota stops the account
 *                        until the next reset: the record's quotaStoppedAt /
 *                        quotaStoppedUntil, an account_events entry and a
 *                        notify message, so every instance stops too.
 *
 * An account without a limit costs no Redis command for it.
 */
#ifndef RELAY_ACCOUNT_LIMITS_H
#define RELAY_ACCOUNT_LIMITS_H

#include <stdbool.h>

struct app;
struct rds_conn;

#define QUOTA_DAY_MAX 16 /* "YYYY-MM-DD" of a quota day's start */

/* "12.5" (USD, at most 6 decimals, no sign) -> micro-USD. Pure. 0 or -ERR_INVAL. */
int account_usd_parse(const char *s, long long *micro) __attribute__((warn_unused_result));
/* micro-USD as the shortest decimal text: 12500000 -> "12.5". Pure. */
void account_usd_format(long long micro, char out[32]);
/* "HH:mm" (00:00 to 23:59) -> minutes after midnight, or -1. Pure. */
int account_hhmm_parse(const char *s);
/* The quota day holding now_ms when days start at reset_min minutes after
 * local midnight (local = UTC + tz_min): its label (the local date it
 * started on) and the wall-clock ms of the next reset. Pure. */
void account_quota_day(long long now_ms, int tz_min, int reset_min, char label[QUOTA_DAY_MAX],
                       long long *next_reset_ms);

/* Take one of the account's limit leases for member, ending at lease_end_ms,
 * unless limit are held already (one script call, atomic across instances).
 * 0 with *taken, or -ERR_REDIS. */
int account_limits_take(struct rds_conn *c, const char *id, const char *member, int limit,
                        long long now_ms, long long lease_end_ms, bool *taken)
    __attribute__((warn_unused_result));
/* The accounting script says the account's cost today (micro-USD) reached
 * its quota: stop it here at once (unless it is already stopped until
 * until_ms), then in Redis and on every instance (c may be NULL: this
 * instance only). Called by the usage writer on a worker. */
void account_limits_quota_reached(struct app *app, struct rds_conn *c, const char *id,
                                  long long cost_micro, long long until_ms);

#endif
