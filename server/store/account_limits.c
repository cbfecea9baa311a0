/*
 * account_limits.c - per-account concurrency and daily quota (see
 * account_limits.h).
 *
 * DESIGN: the lease script checks and takes in one atomic step (prune the
 * ended leases, count, add), so two instances cannot both take the last
 * slot and a refused request leaves nothing to give back. The lease is
 * renewed with the key leases (leases.c: the same ZSET scheme) and returned
 * by the accounting script at finish.
 * The quota costs no read per request: the accounting script adds the
 * request's cost to the account's day and returns the new total; the usage
 * writer calls account_limits_quota_reached when it reaches the quota.
 */
#include "compat.h"
#include "account_limits.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "log.h"
#include "notify.h"
#include "rds.h"
#include "store.h"

#include <ctype.h>
#include <time.h>

#define DAY_MS 86400000LL
#define MIN_MS 60000LL
#define USD_MICRO_MAX 1000000000000LL /* a million dollars: beyond, a typo */

int account_usd_parse(const char *s, long long *micro)
{
    long long whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p) && digits < 13; p++, digits++)
        whole = whole * 10 + (*p - '0');
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p) && fdigits < 6; p++, fdigits++)
            frac = frac * 10 + (*p - '0');
    if (*p || (!digits && !fdigits))
        return -ERR_INVAL;
    for (int i = fdigits; i < 6; i++)
        frac *= 10;
    long long v = whole * 1000000 + frac;
    if (v > USD_MICRO_MAX)
        return -ERR_INVAL;
    *micro = v;
    return 0;
}

void account_usd_format(long long micro, char out[32])
{
    int n = snprintf(out, 32, "%lld.%06lld", micro / 1000000, micro % 1000000);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

int account_hhmm_parse(const char *s)
{
    if (!s || strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && !isdigit((unsigned char)s[i]))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

void account_quota_day(long long now_ms, int tz_min, int reset_min, char label[QUOTA_DAY_MAX],
                       long long *next_reset_ms)
{
    long long local = now_ms + (long long)tz_min * MIN_MS;
    long long day = local >= 0 ? local / DAY_MS : (local - DAY_MS + 1) / DAY_MS;
    long long start = day * DAY_MS + (long long)reset_min * MIN_MS; /* local ms */
    if (local < start)
        start -= DAY_MS;
    time_t t = (time_t)(start / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(label, QUOTA_DAY_MAX, "%Y-%m-%d", &tm);
    *next_reset_ms = start + DAY_MS - (long long)tz_min * MIN_MS;
}

/* ---- concurrency ---- */

/* KEYS: concurrency:{id}. ARGV: now, lease end, member, limit. */
static const char take_lua[] =
    "redis.call('ZREMRANGEBYSCORE',KEYS[1],'-inf',ARGV[1])\n"
    "if redis.call('ZCARD',KEYS[1])>=tonumber(ARGV[4]) then return 0 end\n"
    "redis.call('ZADD',KEYS[1],ARGV[2],ARGV[3])\n"
    "redis.call('PEXPIRE',KEYS[1],tonumber(ARGV[2])-tonumber(ARGV[1])+60000)\n"
    "return 1\n";

int account_limits_take(struct rds_conn *c, const char *id, const char *member, int limit,
                        long long now_ms, long long lease_end_ms, bool *taken)
{
    char key[STORE_KEY_MAX], now[24], end[24], lim[24];
    store_key(key, SK_CONCURRENCY, id);
    snprintf(now, sizeof(now), "%lld", now_ms);
    snprintf(end, sizeof(end), "%lld", lease_end_ms);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *argv[] = {key, now, end, member, lim};
    redisReply *r = rds_script(c, take_lua, 1, (int)ARRAY_SIZE(argv), argv, NULL);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_warn("accounts", "account lease script failed: %s", r->str);
    if (rc == 0)
        *taken = r->integer == 1;
    if (r)
        freeReplyObject(r);
    return rc;
}

/* ---- daily quota ---- */

/* KEYS: record, events. ARGV: id, type, stopped at (ISO), until (ms),
 * reason, now (ms), maxlen, channel, payload. Once per stop, whichever
 * instance comes first. */
static const char stop_lua[] =
    "if redis.call('EXISTS',KEYS[1])==0 then return 0 end\n"
    "if redis.call('HGET',KEYS[1],'quotaStoppedUntil')==ARGV[4] then return 0 end\n"
    "redis.call('HSET',KEYS[1],'quotaStoppedAt',ARGV[3],'quotaStoppedUntil',ARGV[4])\n"
    "redis.call('XADD',KEYS[2],'MAXLEN','~',ARGV[7],'*','time',ARGV[6],'account',ARGV[1],"
    "'type',ARGV[2],'from','active','to','quota_exceeded','reason',ARGV[5],'until',ARGV[4])\n"
    "redis.call('PUBLISH',ARGV[8],ARGV[9])\n"
    "return 1\n";

static int write_stop(struct app *app, struct rds_conn *c, const struct account *a,
                      const char *reason, long long until_ms)
{
    char rkey[STORE_KEY_MAX], at[32], until[24], now[24], maxlen[24], what[64], payload[128];
    long long now_ms = (long long)time(NULL) * 1000;
    store_key(rkey, SK_ACCOUNT_RECORD, a->prov->record_prefix, a->id);
    admin_iso_from_ms(now_ms, at);
    snprintf(until, sizeof(until), "%lld", until_ms);
    snprintf(now, sizeof(now), "%lld", now_ms);
    snprintf(maxlen, sizeof(maxlen), "%lld", app->cfg->account_events_max);
    snprintf(what, sizeof(what), "account %s", a->id);
    notify_payload(app, what, payload, sizeof(payload));
    const char *argv[] = {rkey,   SK_ACCOUNT_EVENTS, a->id,  a->prov->name, at, until, reason, now,
                          maxlen, SK_NOTIFY_CHANNEL, payload};
    redisReply *r = rds_script(c, stop_lua, 2, (int)ARRAY_SIZE(argv), argv, NULL);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    return rc;
}

void account_limits_quota_reached(struct app *app, struct rds_conn *c, const char *id,
                                  long long cost_micro, long long until_ms)
{
    struct account_list *l = accounts_snapshot(app->accounts);
    const struct account *a = account_list_find(l, id);
    bool stop = a && a->daily_quota_micro > 0 && account_quota_until(a) < until_ms;
    if (stop) {
        char cost[32], quota[32], reason[160], iso[32];
        account_usd_format(cost_micro, cost);
        account_usd_format(a->daily_quota_micro, quota);
        admin_iso_from_ms(until_ms, iso);
        snprintf(reason, sizeof(reason), "daily quota reached: $%s of $%s", cost, quota);
        account_set_quota_until(a, until_ms); /* this instance stops at once */
        log_warn("accounts", "account %s (%s) %s; not scheduled until %s", a->id, a->name, reason,
                 iso);
        if (!c || write_stop(app, c, a, reason, until_ms) != 0)
            log_warn("accounts", "account %s: quota stop kept in memory only (Redis unavailable)",
                     a->id);
    }
    accounts_list_release(l);
    if (stop) /* again after the write: a refresh that read the record before it may have run */
        accounts_quota_stop(app->accounts, id, until_ms);
}
