/*
 * admission.h - a key's stateful limits, checked and taken in one Redis
 * script call, so several relays on one Redis never exceed a limit:
 * activation on first use, the concurrency lease, the rate window and the
 * cost caps (daily, total, weekly Claude-family), in the original's order.
 *
 * Keys (store_keys.h): concurrency:{id} (ZSET member -> lease end ms),
 * rate_limit:{id} (HASH start, requests, tokens, cost; PX = the window),
 * api_key_cost:{id} (HASH totalMicro, day, dayMicro, week, weekMicro),
 * api_key:{id} (activation fields). Costs are micro-USD; a limit is
 * checked against what earlier requests cost, so the request that crosses
 * a cap is still served (as the original).
 */
#ifndef RELAY_ADMISSION_H
#define RELAY_ADMISSION_H

struct app;
struct rds_conn;
struct api_key;

enum admit_code {
    ADMIT_OK = 0,
    ADMIT_CONCURRENCY = 1,
    ADMIT_WINDOW_REQUESTS = 2,
    ADMIT_WINDOW_TOKENS = 3,
    ADMIT_WINDOW_COST = 4,
    ADMIT_DAILY_COST = 5,
    ADMIT_TOTAL_COST = 6,
    ADMIT_WEEKLY_COST = 7,
};

struct admit_request {
    long long now_ms;
    const char *lease;  /* concurrency lease member (request id) */
    long long lease_ms; /* lease length */
    int claude_family;  /* the model counts toward the weekly cap */
    char day[16];       /* the statistics day (TIMEZONE_OFFSET) */
    char week[24];      /* the key's current week, "YYYY-MM-DDTHH" of its start */
    long long week_end_ms;
    long long day_end_ms;
};

struct admit_result {
    enum admit_code code;
    long long current; /* the count or cost found (micro-USD for costs) */
    long long limit;
    long long reset_ms;     /* when the limit resets (window, day, week); 0: never */
    long long activated_ms; /* > 0: the key was activated now, expiring then */
    int leased;             /* a concurrency lease was taken */
};

/* The day and week the key's counters belong to at now (TIMEZONE_OFFSET). */
void admission_periods(const struct api_key *k, int tz_offset_min, long long now_ms,
                       struct admit_request *r);
/* Check and take. 0 with *out (code says whether admitted); -ERR_REDIS. */
int admission_run(struct app *app, struct rds_conn *c, const struct api_key *k,
                  const struct admit_request *r, struct admit_result *out)
    __attribute__((warn_unused_result));
/* Give a lease back at once (a request refused after admission). */
int admission_release(struct rds_conn *c, const char *key_id, const char *lease)
    __attribute__((warn_unused_result));
/* Extend leases of running requests: n pairs (key id, member) to end_ms, in
 * one pipelined round trip (ZADD XX: an expired one is not revived). */
int admission_renew(struct rds_conn *c, int n, const char *const *key_ids,
                    const char *const *leases, long long end_ms)
    __attribute__((warn_unused_result));

#endif
