/*
 * stats_admin.c - the statistics behind the admin UI (docs/admin-stats-api.md):
 * dashboard, usage trends, model and cost breakdowns, the cost ranking of
 * keys and the request logs. Thin over store/usage_read.h; every read is
 * bounded by the periods asked for and the index sets of those periods (no
 * SCAN), and takes one or two pipelined round trips.
 */
#include "compat.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "provider.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "stats_params.h"
#include "stats_range.h"
#include "store_keys.h"
#include "usage_read.h"
#include "xmalloc.h"

#include <time.h>

/* ---- dashboard ---- */

struct key_counts {
    int total, active, disabled, expired;
};

static bool is_true(const redisReply *e)
{
    return e->str && strcmp(e->str, "true") == 0;
}

/* One key's HMGET isActive isDeleted expiresAt (a deleted or vanished key
 * is not counted). */
static void count_key(const redisReply *r, long long now, struct key_counts *kc)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !r->element[0]->str ||
        is_true(r->element[1]))
        return;
    const char *exp_s = r->element[2]->str;
    long long exp = exp_s && *exp_s ? admin_parse_iso(exp_s) : 0;
    bool on = is_true(r->element[0]), gone = exp > 0 && exp <= now;
    kc->total++;
    kc->active += on && !gone;
    kc->disabled += !on;
    kc->expired += on && gone;
}

/* Keys by state: the index and one HMGET per key, in one round trip. */
static int count_keys(struct rds_conn *c, struct key_counts *kc)
{
    redisReply *ids = rds_command(c, "SMEMBERS %s", SK_API_KEY_INDEX);
    int rc = ids && ids->type == REDIS_REPLY_ARRAY ? 0 : -ERR_REDIS;
    size_t n = rc == 0 ? ids->elements : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char k[STORE_KEY_MAX];
        store_key(k, SK_API_KEY, ids->element[i]->str);
        rc = rds_append(c, "HMGET %s isActive isDeleted expiresAt", k);
    }
    redisReply **rep = xcalloc(n + 1, sizeof(*rep));
    if (rc == 0 && n)
        rc = rds_flush_replies(c, (int)n, rep);
    long long now = (long long)time(NULL) * 1000;
    for (size_t i = 0; i < n && rc == 0; i++)
        count_key(rep[i], now, kc);
    for (size_t i = 0; i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    free(rep);
    if (ids)
        freeReplyObject(ids);
    return rc;
}

enum acc_class { AC_NORMAL = 0, AC_ABNORMAL = 1, AC_PAUSED = 2, AC_LIMITED = 3, AC__COUNT = 4 };
static const char *const acc_class_names[AC__COUNT] = {"normal", "abnormal", "paused",
                                                       "rateLimited"};

static enum acc_class classify(const struct account *a, long long now)
{
    enum account_state st = account_state(a, now, NULL);
    if (st == ACC_UNAUTHORIZED || st == ACC_BLOCKED)
        return AC_ABNORMAL;
    if (!a->active || !a->schedulable)
        return AC_PAUSED;
    return st == ACC_ACTIVE ? AC_NORMAL : AC_LIMITED;
}

static cJSON *platform_entry(cJSON *by, const char *name)
{
    cJSON *p = cJSON_GetObjectItemCaseSensitive(by, name);
    if (p)
        return p;
    p = cJSON_AddObjectToObject(by, name);
    cJSON_AddNumberToObject(p, "total", 0);
    for (int i = 0; i < AC__COUNT; i++)
        cJSON_AddNumberToObject(p, acc_class_names[i], 0);
    return p;
}

static void bump(cJSON *obj, const char *name)
{
    cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, name);
    cJSON_SetNumberHelper(n, n->valuedouble + 1);
}

/* Accounts by state and platform, from this instance's snapshot (no Redis). */
static void add_accounts(struct app *app, cJSON *ov)
{
    static const char *const totals[AC__COUNT] = {"normalAccounts", "abnormalAccounts",
                                                  "pausedAccounts", "rateLimitedAccounts"};
    struct account_list *l = accounts_snapshot(app->accounts);
    long long now = (long long)time(NULL) * 1000;
    int count[AC__COUNT] = {0};
    cJSON *by = cJSON_CreateObject();
    for (size_t i = 0; i < l->n; i++) {
        enum acc_class k = classify(l->items[i], now);
        cJSON *p = platform_entry(by, l->items[i]->prov->name);
        bump(p, "total");
        bump(p, acc_class_names[k]);
        count[k]++;
    }
    cJSON_AddNumberToObject(ov, "totalAccounts", (double)l->n);
    for (int i = 0; i < AC__COUNT; i++)
        cJSON_AddNumberToObject(ov, totals[i], count[i]);
    cJSON_AddItemToObject(ov, "accountsByPlatform", by);
    accounts_list_release(l);
}

enum dash_bucket { DB_DAY = 0, DB_MONTH = 1, DB_TOTAL = 2, DB_MINUTE = 3 };
#define DB_COUNT (DB_MINUTE + USAGE_RPM_WINDOW_MIN)

static void add_overview_totals(cJSON *ov, const struct usage_sum *t)
{
    static const char *const names[] = {"totalRequestsUsed",
                                        "totalInputTokensUsed",
                                        "totalOutputTokensUsed",
                                        "totalCacheCreateTokensUsed",
                                        "totalCacheReadTokensUsed",
                                        NULL,
                                        NULL,
                                        "totalAllTokensUsed"};
    char f[32];
    for (int j = 0; j < UC_COST; j++)
        if (names[j])
            cJSON_AddNumberToObject(ov, names[j], (double)t->v[j]);
    cJSON_AddNumberToObject(ov, "totalCost", (double)t->v[UC_COST] / 1e6);
    usage_format_cost(t->v[UC_COST], f);
    cJSON_AddStringToObject(ov, "formattedTotalCost", f);
}

static cJSON *recent_activity(const struct usage_sum *d)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "requestsToday", (double)d->v[UC_REQUESTS]);
    cJSON_AddNumberToObject(r, "tokensToday", (double)d->v[UC_ALL]);
    cJSON_AddNumberToObject(r, "inputTokensToday", (double)d->v[UC_INPUT]);
    cJSON_AddNumberToObject(r, "outputTokensToday", (double)d->v[UC_OUTPUT]);
    cJSON_AddNumberToObject(r, "cacheCreateTokensToday", (double)d->v[UC_CACHE_CREATE]);
    cJSON_AddNumberToObject(r, "cacheReadTokensToday", (double)d->v[UC_CACHE_READ]);
    cJSON_AddNumberToObject(r, "costToday", (double)d->v[UC_COST] / 1e6);
    return r;
}

/* rpm / tpm over the last USAGE_RPM_WINDOW_MIN whole minutes before this one
 * and this one so far, across instances. */
static cJSON *realtime(const struct usage_sum *mins)
{
    struct usage_sum w = {0};
    for (int i = 0; i < USAGE_RPM_WINDOW_MIN; i++)
        usage_sum_add(&w, &mins[i]);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "rpm", (double)w.v[UC_REQUESTS] / USAGE_RPM_WINDOW_MIN);
    cJSON_AddNumberToObject(r, "tpm", (double)w.v[UC_ALL] / USAGE_RPM_WINDOW_MIN);
    cJSON_AddNumberToObject(r, "windowMinutes", USAGE_RPM_WINDOW_MIN);
    return r;
}

static cJSON *sum_object(const struct usage_sum *s)
{
    cJSON *o = cJSON_CreateObject();
    usage_sum_json(o, s);
    return o;
}

static cJSON *health(struct app *app)
{
    double lat = 0;
    bool ok = rds_pool_ping(app->redis, &lat) == 0;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddBoolToObject(h, "redisConnected", ok);
    cJSON_AddNumberToObject(h, "redisLatencyMs", ok ? lat : 0);
    cJSON_AddNumberToObject(h, "uptime", (double)(time(NULL) - app->started_at));
    return h;
}

static cJSON *dashboard(struct app *app, const struct usage_period *p, const struct usage_sum *s,
                        const struct key_counts *kc)
{
    cJSON *d = cJSON_CreateObject(), *ov = cJSON_AddObjectToObject(d, "overview");
    cJSON_AddNumberToObject(ov, "totalApiKeys", kc->total);
    cJSON_AddNumberToObject(ov, "activeApiKeys", kc->active);
    cJSON_AddNumberToObject(ov, "disabledApiKeys", kc->disabled);
    cJSON_AddNumberToObject(ov, "expiredApiKeys", kc->expired);
    add_accounts(app, ov);
    add_overview_totals(ov, &s[DB_TOTAL]);
    cJSON_AddItemToObject(d, "today", sum_object(&s[DB_DAY]));
    cJSON_AddItemToObject(d, "month", sum_object(&s[DB_MONTH]));
    cJSON_AddItemToObject(d, "total", sum_object(&s[DB_TOTAL]));
    cJSON_AddItemToObject(d, "recentActivity", recent_activity(&s[DB_DAY]));
    cJSON_AddItemToObject(d, "realtimeMetrics", realtime(&s[DB_MINUTE]));
    cJSON_AddItemToObject(d, "systemHealth", health(app));
    cJSON_AddNumberToObject(d, "systemTimezone", app->tz_offset_min);
    cJSON_AddStringToObject(d, "date", p->day);
    cJSON_AddStringToObject(d, "monthKey", p->month);
    return d;
}

static void h_dashboard(struct reqctx *rq)
{
    struct app *app = reqctx_app(rq);
    struct usage_period p;
    long long now = (long long)time(NULL) * 1000;
    usage_period_at(app->tz_offset_min, now, &p);
    char keys[DB_COUNT][STORE_KEY_MAX], total[] = "total";
    store_key(keys[DB_DAY], SK_USAGE_GLOBAL, p.day);
    store_key(keys[DB_MONTH], SK_USAGE_GLOBAL, p.month);
    store_key(keys[DB_TOTAL], SK_USAGE_GLOBAL, total);
    for (int i = 0; i < USAGE_RPM_WINDOW_MIN; i++) /* this minute and the ones before */
        store_key(keys[DB_MINUTE + i], SK_USAGE_MINUTE, p.minute - i);
    struct usage_sum s[DB_COUNT] = {0};
    struct key_counts kc = {0};
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    int rc = usage_read_sums(c, DB_COUNT, keys, s);
    if (rc == 0)
        rc = count_keys(c, &kc);
    admin_conn_put(rq, c);
    if (rc != 0)
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
    else
        admin_ok(rq, "data", dashboard(app, &p, s, &kc));
}

/* ---- usage trend ---- */

/* The scope of a trend: everything, one key or one account. */
struct scope {
    const char *key_id, *account_id;
};

static void bucket_key(char out[STORE_KEY_MAX], const struct scope *sc, const char *period)
{
    if (sc->key_id)
        store_key(out, SK_USAGE_KEY, sc->key_id, period);
    else if (sc->account_id)
        store_key(out, SK_USAGE_ACCOUNT, sc->account_id, period);
    else
        store_key(out, SK_USAGE_GLOBAL, period);
}

static cJSON *trend_json(int n, char (*labels)[24], const struct usage_sum *s, const char *label,
                         const char *granularity)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "success", true);
    cJSON *arr = cJSON_AddArrayToObject(root, "data");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, label, labels[i]);
        usage_sum_json(e, &s[i]);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddStringToObject(root, "granularity", granularity);
    return root;
}

void stats_trend_labels(int tz_offset_min, bool hours, int n, char (*labels)[24])
{
    long long now = (long long)time(NULL) * 1000, step = hours ? 3600000LL : 86400000LL;
    for (int i = 0; i < n; i++) {
        struct usage_period p;
        usage_period_at(tz_offset_min, now - (long long)(n - 1 - i) * step, &p);
        snprintf(labels[i], sizeof(labels[i]), "%s", hours ? p.hour : p.day);
    }
}

/* The buckets of a trend, oldest first: their labels and keys. */
static void trend_buckets(int tz_offset_min, const struct scope *sc, bool hours,
                          const struct stats_range *r, char (*keys)[STORE_KEY_MAX],
                          char (*labels)[24])
{
    int n = hours ? r->ndays * 24 : r->ndays;
    stats_bucket_labels(tz_offset_min, r, hours, labels);
    for (int i = 0; i < n; i++)
        bucket_key(keys[i], sc, labels[i]);
}

/* days (or startDate / endDate) by day: within TOKEN_USAGE_RETENTION, a
 * range at most STATS_RANGE_MAX_DAYS; by hour: within the 7 days kept. */
static int trend_range(struct reqctx *rq, bool hours, struct stats_range *r)
{
    int kept = (int)reqctx_app(rq)->cfg->token_usage_retention_days;
    struct stats_range_limits lim = {
        kept, 7, kept < STATS_RANGE_MAX_DAYS ? kept : STATS_RANGE_MAX_DAYS, kept};
    if (hours)
        lim = (struct stats_range_limits){STATS_RANGE_HOUR_DAYS, 1, STATS_RANGE_HOUR_DAYS,
                                          STATS_RANGE_HOUR_DAYS};
    return stats_range_param(rq, &lim, r);
}

static void trend(struct reqctx *rq, const struct scope *sc)
{
    struct app *app = reqctx_app(rq);
    static const char *const grans[] = {"day", "hour", NULL};
    int gran = stats_enum_param(rq, "granularity", grans, 0);
    struct stats_range r;
    if (gran < 0 || trend_range(rq, gran == 1, &r))
        return;
    int n = gran ? r.ndays * 24 : r.ndays;
    char(*keys)[STORE_KEY_MAX] = xcalloc((size_t)n, sizeof(*keys));
    char(*labels)[24] = xcalloc((size_t)n, sizeof(*labels));
    trend_buckets(app->tz_offset_min, sc, gran == 1, &r, keys, labels);
    struct usage_sum *s = xcalloc((size_t)n, sizeof(*s));
    struct rds_conn *c = admin_conn(rq);
    int rc = c ? usage_read_sums(c, n, keys, s) : -ERR_REDIS;
    admin_conn_put(rq, c);
    if (c && rc != 0)
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
    if (c && rc == 0)
        reqctx_reply_json(rq, 200, trend_json(n, labels, s, gran ? "hour" : "date", grans[gran]));
    free(s);
    free(labels);
    free(keys);
}

static void h_trend(struct reqctx *rq)
{
    struct scope sc = {0};
    if (stats_id_param(rq, "keyId", false, &sc.key_id) ||
        stats_id_param(rq, "accountId", false, &sc.account_id))
        return;
    if (sc.key_id && sc.account_id) {
        admin_error(rq, 400, "Invalid parameter", "keyId: give keyId or accountId, not both");
        return;
    }
    trend(rq, &sc);
}

static void h_key_trend(struct reqctx *rq)
{
    struct scope sc = {0};
    if (stats_id_param(rq, "keyId", true, &sc.key_id) == 0)
        trend(rq, &sc);
}

static void h_account_trend(struct reqctx *rq)
{
    struct scope sc = {0};
    if (stats_id_param(rq, "accountId", true, &sc.account_id) == 0)
        trend(rq, &sc);
}

/* ---- request log ---- */

static void request_log(struct reqctx *rq, const char *key_id, const char *account_id)
{
    struct app *app = reqctx_app(rq);
    long long max = app->cfg->request_log_max, limit = 0;
    const char *model = reqctx_query(rq, "model");
    if (stats_int_param(rq, "limit", 1, max, max < 50 ? max : 50, &limit))
        return;
    if (model && strlen(model) > 95) {
        admin_error(rq, 400, "Invalid parameter", "model: at most 95 characters");
        return;
    }
    char k[STORE_KEY_MAX];
    if (key_id)
        store_key(k, SK_USAGE_RECORDS, key_id);
    else if (account_id)
        store_key(k, SK_USAGE_ACCOUNT_RECORDS, account_id);
    else
        store_key(k, SK_USAGE_RECORDS_ALL);
    cJSON *recs = NULL;
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    int rc = usage_read_log(c, k, (int)limit, model, &recs);
    admin_conn_put(rq, c);
    if (rc != 0) {
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
        return;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "total", cJSON_GetArraySize(recs));
    cJSON_AddItemToObject(d, "records", recs);
    cJSON_AddNumberToObject(d, "max", (double)max);
    admin_ok(rq, "data", d);
}

static void h_request_log(struct reqctx *rq)
{
    const char *key = NULL, *acc = NULL;
    if (stats_id_param(rq, "keyId", false, &key) || stats_id_param(rq, "accountId", false, &acc))
        return;
    if (key && acc) {
        admin_error(rq, 400, "Invalid parameter", "keyId: give keyId or accountId, not both");
        return;
    }
    request_log(rq, key, acc);
}

static void h_key_records(struct reqctx *rq)
{
    const char *key = NULL;
    if (stats_id_param(rq, "keyId", true, &key) == 0)
        request_log(rq, key, NULL);
}

static void h_account_records(struct reqctx *rq)
{
    const char *acc = NULL;
    if (stats_id_param(rq, "accountId", true, &acc) == 0)
        request_log(rq, NULL, acc);
}

const struct route stats_routes[] = {
    {"GET", "/admin/dashboard", h_dashboard, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/usage-trend", h_trend, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/api-keys/:keyId/usage-trend", h_key_trend, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/accounts/:accountId/usage-trend", h_account_trend, AUTH_ADMIN, BODY_SMALL,
     NULL},
    {"GET", "/admin/request-log", h_request_log, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/api-keys/:keyId/usage-records", h_key_records, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/accounts/:accountId/usage-records", h_account_records, AUTH_ADMIN, BODY_SMALL,
     NULL},
    {"GET", "/admin/model-stats", stats_h_model_stats, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/usage-costs", stats_h_usage_costs, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/cost-ranking", stats_h_cost_ranking, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/api-keys-usage-trend", stats_h_keys_trend, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/account-usage-trend", stats_h_accounts_trend, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
