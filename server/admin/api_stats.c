/*
 * api_stats.c - the key holder's own statistics (POST /apiStats/api/...,
 * docs/admin-stats-api.md), authenticated by the key itself in the body.
 *
 * DESIGN: the original accepted a bare key id (apiId) and so served anyone
 * every key's statistics; here an id is refused by name. Unknown keys are
 * throttled per client address (the login throttle's growing delays,
 * LOGIN_MAX_FAILURES / LOGIN_LOCKOUT_SECONDS): once an address is delayed
 * every answer is 429, a right key included, so the page is no key oracle.
 * Only failures are counted (a key holder refreshing the page is never
 * slowed); a success does not clear them (one known key must not reset an
 * attacker's delay). Reading never activates a key.
 */
#include "compat.h"
#include "admin_util.h"
#include "admission.h"
#include "app.h"
#include "clock.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "keys.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "stats_params.h"
#include "store_keys.h"
#include "usage_read.h"

#include <time.h>

/* KEYS: 1 the address record. ARGV: 1 now ms, 2 budget, 3 longest delay
 * ms, 4 TTL s. One more failure; from the budget on, the next attempt waits
 * 1 s, doubling up to the longest delay. */
static const char fail_lua[] =
    "local n=redis.call('HINCRBY',KEYS[1],'fails',1)\n"
    "local budget=tonumber(ARGV[2])\n"
    "if n>=budget then\n"
    "  local d=math.min(tonumber(ARGV[3]),1000*2^math.min(n-budget,40))\n"
    "  redis.call('HSET',KEYS[1],'next',string.format('%d',tonumber(ARGV[1])+d))\n"
    "end\n"
    "redis.call('EXPIRE',KEYS[1],ARGV[4])\n"
    "return n\n";

static void throttle_key(struct reqctx *rq, char out[STORE_KEY_MAX])
{
    store_key(out, SK_API_STATS_THROTTLE,
              reqctx_client_ip(rq)[0] ? reqctx_client_ip(rq) : "unknown");
}

/* ms to wait before this address may try again (0: now), or -ERR_REDIS. */
static long long throttle_wait(struct reqctx *rq, struct rds_conn *c)
{
    char k[STORE_KEY_MAX];
    throttle_key(rq, k);
    redisReply *r = rds_command(c, "HGET %s next", k);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r)
            freeReplyObject(r);
        return -ERR_REDIS;
    }
    long long next = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    long long wait = next - clock_wall_ms();
    return wait > 0 ? wait : 0;
}

static void throttle_fail(struct reqctx *rq, struct rds_conn *c)
{
    const struct relay_config *cfg = reqctx_app(rq)->cfg;
    char k[STORE_KEY_MAX], now[24], budget[24], cap[24], ttl[24];
    throttle_key(rq, k);
    snprintf(now, sizeof(now), "%lld", clock_wall_ms());
    snprintf(budget, sizeof(budget), "%lld", cfg->login_max_failures);
    snprintf(cap, sizeof(cap), "%lld", cfg->login_lockout_seconds * 1000);
    snprintf(ttl, sizeof(ttl), "%lld", cfg->login_lockout_seconds * 4);
    const char *argv[] = {k, now, budget, cap, ttl};
    redisReply *r = rds_script(c, fail_lua, 1, (int)ARRAY_SIZE(argv), argv, NULL);
    if (r)
        freeReplyObject(r);
}

static void reply_throttled(struct reqctx *rq, long long wait_ms)
{
    char secs[24];
    snprintf(secs, sizeof(secs), "%lld", (wait_ms + 999) / 1000);
    reqctx_set_header(rq, "Retry-After", secs);
    admin_error(rq, 429, "Too many failed attempts", "Try again later");
}

/* The plaintext key of the body, or NULL after a 400. */
static const char *body_key(struct reqctx *rq)
{
    const cJSON *b = reqctx_json(rq);
    const cJSON *k = json_get(b, "apiKey");
    if (!k && json_get(b, "apiId")) {
        admin_error(rq, 400, "Invalid parameter",
                    "apiId: not accepted; send apiKey (the key itself)");
        return NULL;
    }
    if (!cJSON_IsString(k) || strlen(k->valuestring) < 10 || strlen(k->valuestring) > 512) {
        admin_error(rq, 400, "Invalid parameter", "apiKey: required, 10 to 512 characters");
        return NULL;
    }
    return k->valuestring;
}

/* The key named by the body, usable now: a new reference, or NULL after
 * the answer (400, 401, 429, 503). */
static struct api_key *authenticate(struct reqctx *rq, struct rds_conn *c)
{
    static const char *const why[] = {"Invalid API key", "API key is disabled",
                                      "API key has expired"};
    const char *plain = body_key(rq);
    if (!plain)
        return NULL;
    long long wait = throttle_wait(rq, c);
    struct api_key *k = NULL;
    int rc = wait != 0 ? -ERR_BUSY : keys_lookup(reqctx_app(rq), c, plain, &k);
    if (wait < 0 || rc == -ERR_REDIS) {
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
        return NULL;
    }
    if (wait > 0) {
        reply_throttled(rq, wait);
        return NULL;
    }
    if (rc == -ERR_NOTFOUND) {
        throttle_fail(rq, c);
        admin_error(rq, 401, "Invalid API key", why[0]);
        return NULL;
    }
    enum key_check kc = keys_admit(k, clock_wall_ms());
    if (kc != KEY_OK) {
        keys_unref(k);
        admin_error(rq, 401, "Invalid API key", why[kc == KEY_DISABLED ? 1 : 2]);
        return NULL;
    }
    return k;
}

typedef void (*serve_fn)(struct reqctx *rq, struct rds_conn *c, const struct api_key *k);

static void serve(struct reqctx *rq, serve_fn fn)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    struct api_key *k = authenticate(rq, c);
    if (k)
        fn(rq, c, k);
    keys_unref(k);
    admin_conn_put(rq, c);
}

/* ---- get-key-id ---- */

static void key_id(struct reqctx *rq, struct rds_conn *c, const struct api_key *k)
{
    UNUSED(c);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", k->id);
    admin_ok(rq, "data", d);
}

/* ---- user-stats ---- */

static const char *const record_fields[] = {"id",
                                            "name",
                                            "description",
                                            "isActive",
                                            "createdAt",
                                            "expiresAt",
                                            "expirationMode",
                                            "isActivated",
                                            "activationDays",
                                            "activationUnit",
                                            "permissions",
                                            NULL};
static const char *const limit_fields[] = {"tokenLimit",
                                           "concurrencyLimit",
                                           "rateLimitWindow",
                                           "rateLimitRequests",
                                           "rateLimitCost",
                                           "dailyCostLimit",
                                           "totalCostLimit",
                                           "weeklyOpusCostLimit",
                                           "weeklyResetDay",
                                           "weeklyResetHour",
                                           NULL};

static void copy_fields(cJSON *to, const cJSON *from, const char *const names[])
{
    for (int i = 0; names[i]; i++) {
        const cJSON *v = json_get(from, names[i]);
        if (v)
            cJSON_AddItemToObject(to, names[i], cJSON_Duplicate(v, true));
    }
}

/* current and, when limit > 0, what remains of it (USD). */
static void add_budget(cJSON *o, const char *cur, const char *rem, long long used, long long limit)
{
    cJSON_AddNumberToObject(o, cur, (double)used / 1e6);
    if (limit > 0)
        cJSON_AddNumberToObject(o, rem, (double)(limit > used ? limit - used : 0) / 1e6);
    else
        cJSON_AddNullToObject(o, rem);
}

/* The spend the limits are checked against, from api_key_cost. */
static cJSON *limits(const cJSON *item, const struct api_key *k, const redisReply *cost,
                     const struct admit_request *per)
{
    cJSON *o = cJSON_CreateObject();
    copy_fields(o, item, limit_fields);
    const char *v[5] = {0};
    for (size_t i = 0; i < 5 && cost && cost->type == REDIS_REPLY_ARRAY && i < cost->elements; i++)
        v[i] = cost->element[i]->str;
    long long total = v[0] ? strtoll(v[0], NULL, 10) : 0;
    long long day = v[1] && strcmp(v[1], per->day) == 0 && v[2] ? strtoll(v[2], NULL, 10) : 0;
    long long week = v[3] && strcmp(v[3], per->week) == 0 && v[4] ? strtoll(v[4], NULL, 10) : 0;
    add_budget(o, "currentDailyCost", "remainingDailyCost", day, k->pol.daily_cost);
    add_budget(o, "currentTotalCost", "remainingTotalCost", total, k->pol.total_cost);
    add_budget(o, "weeklyOpusCost", "remainingWeeklyOpusCost", week, k->pol.weekly_cost);
    return o;
}

static cJSON *usage_obj(const struct usage_sum *s)
{
    cJSON *o = cJSON_CreateObject();
    usage_sum_json(o, s);
    return o;
}

/* Lifetime (exact), today's and this month's usage, and the cost record. */
static int load_usage(struct rds_conn *c, const struct api_key *k, const struct usage_period *p,
                      struct usage_sum s[3], redisReply **cost)
{
    char keys[3][STORE_KEY_MAX], ck[STORE_KEY_MAX];
    store_key(keys[0], SK_API_KEY_USAGE, k->id);
    store_key(keys[1], SK_USAGE_KEY, k->id, p->day);
    store_key(keys[2], SK_USAGE_KEY, k->id, p->month);
    store_key(ck, SK_API_KEY_COST, k->id);
    if (usage_read_sums(c, 3, keys, s) != 0)
        return -ERR_REDIS;
    *cost = rds_command(c, "HMGET %s totalMicro day dayMicro week weekMicro", ck);
    if (!*cost)
        return -ERR_REDIS;
    s[0].v[UC_COST] =
        (*cost)->type == REDIS_REPLY_ARRAY && (*cost)->elements && (*cost)->element[0]->str
            ? strtoll((*cost)->element[0]->str, NULL, 10)
            : 0;
    return 0;
}

static void user_stats(struct reqctx *rq, struct rds_conn *c, const struct api_key *k)
{
    struct app *app = reqctx_app(rq);
    long long now = clock_wall_ms();
    struct usage_period p;
    struct admit_request per = {0};
    struct usage_sum s[3] = {0};
    redisReply *cost = NULL;
    cJSON *item = NULL;
    usage_period_at(app->tz_offset_min, now, &p);
    admission_periods(k, app->tz_offset_min, now, &per);
    if (keys_load_item(c, k->id, &item) != 0 || load_usage(c, k, &p, s, &cost) != 0) {
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
        goto out;
    }
    cJSON *d = cJSON_CreateObject(), *u = cJSON_CreateObject();
    copy_fields(d, item, record_fields);
    cJSON_AddItemToObject(u, "total", usage_obj(&s[0]));
    cJSON_AddItemToObject(u, "today", usage_obj(&s[1]));
    cJSON_AddItemToObject(u, "month", usage_obj(&s[2]));
    cJSON_AddItemToObject(d, "usage", u);
    cJSON_AddItemToObject(d, "limits", limits(item, k, cost, &per));
    admin_ok(rq, "data", d);
out:
    cJSON_Delete(item);
    if (cost)
        freeReplyObject(cost);
}

/* ---- user-model-stats ---- */

static void user_model_stats(struct reqctx *rq, struct rds_conn *c, const struct api_key *k)
{
    const char *period = json_str(reqctx_json(rq), "period", "monthly");
    bool daily = strcmp(period, "daily") == 0;
    if (!daily && strcmp(period, "monthly") != 0) {
        admin_error(rq, 400, "Invalid parameter", "period: must be daily or monthly");
        return;
    }
    struct usage_period p;
    usage_period_at(reqctx_app(rq)->tz_offset_min, clock_wall_ms(), &p);
    cJSON *rows = NULL;
    if (stats_model_rows(c, daily ? p.day : p.month, k->id, &rows) != 0)
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
    else
        admin_ok(rq, "data", rows);
}

static void h_key_id(struct reqctx *rq)
{
    serve(rq, key_id);
}

static void h_user_stats(struct reqctx *rq)
{
    serve(rq, user_stats);
}

static void h_user_model_stats(struct reqctx *rq)
{
    serve(rq, user_model_stats);
}

const struct route api_stats_routes[] = {
    {"POST", "/apiStats/api/get-key-id", h_key_id, AUTH_NONE, BODY_SMALL, NULL},
    {"POST", "/apiStats/api/user-stats", h_user_stats, AUTH_NONE, BODY_SMALL, NULL},
    {"POST", "/apiStats/api/user-model-stats", h_user_model_stats, AUTH_NONE, BODY_SMALL, NULL},
    {0},
};
