/*
 * stats_models.c - breakdowns by model and by key over one or more periods
 * (GET /admin/model-stats, /admin/usage-costs, /admin/cost-ranking), and
 * the query parameter checks of the statistics routes (stats_params.h).
 * A breakdown reads the periods' index sets (at most MAX_MEMBERS members
 * each) in one pipelined round trip, then every member's bucket of every
 * period in one more (at most MAX_CELLS buckets, however long the range).
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "rds.h"
#include "reqctx.h"
#include "stats_params.h"
#include "stats_range.h"
#include "store_keys.h"
#include "usage_read.h"
#include "xmalloc.h"

#include <ctype.h>
#include <time.h>

#define MAX_MEMBERS 500                  /* models / keys read from one index set */
#define MAX_PERIODS STATS_RANGE_MAX_DAYS /* days summed by one breakdown */
#define MAX_SERIES_DAYS 31               /* days of the per-key / per-account series */
#define MAX_CELLS 50000                  /* rows x periods read by one breakdown */
#define WEEK 7                           /* days of "7days" */
#define DEFAULT_RANKING 10

/* ---- parameters ---- */

static void bad_param(struct reqctx *rq, const char *name, const char *why)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "%s: %s", name, why);
    admin_error(rq, 400, "Invalid parameter", msg);
}

int stats_int_param(struct reqctx *rq, const char *name, long long min, long long max,
                    long long dflt, long long *out)
{
    const char *v = reqctx_query(rq, name);
    if (!v || !*v) {
        *out = dflt;
        return 0;
    }
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (*end || !isdigit((unsigned char)*v) || n < min || n > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be an integer from %lld to %lld", min, max);
        bad_param(rq, name, why);
        return -ERR_INVAL;
    }
    *out = n;
    return 0;
}

int stats_enum_param(struct reqctx *rq, const char *name, const char *const vals[], int dflt)
{
    const char *v = reqctx_query(rq, name);
    if (!v || !*v)
        return dflt;
    for (int i = 0; vals[i]; i++)
        if (strcmp(v, vals[i]) == 0)
            return i;
    char why[128] = "must be one of";
    for (int i = 0; vals[i]; i++) {
        size_t n = strlen(why);
        snprintf(why + n, sizeof(why) - n, "%s %s", i ? "," : "", vals[i]);
    }
    bad_param(rq, name, why);
    return -1;
}

int stats_id_param(struct reqctx *rq, const char *name, bool in_path, const char **out)
{
    const char *v = in_path ? reqctx_param(rq, name) : reqctx_query(rq, name);
    *out = NULL;
    if (!in_path && (!v || !*v))
        return 0;
    if (!v || !admin_is_uuid(v)) {
        bad_param(rq, name, "must be an id (a UUID)");
        return -ERR_INVAL;
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DD" (len 10) or "YYYY-MM" (len 7): digits and dashes in place. */
static bool is_period(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* ---- breakdowns ---- */

enum dim { DIM_MODEL = 0, DIM_KEY = 1, DIM_ACCOUNT = 2 };

struct periods {
    char p[MAX_PERIODS][24];
    int n;
};

struct row {
    char name[100];
    struct usage_sum s;
};

struct rows {
    struct row *r;
    int n;
};

/* Add name once; past cap rows a name is left out (the read stays bounded). */
static void rows_add_name(struct rows *rs, const char *name, int cap)
{
    for (int i = 0; i < rs->n; i++)
        if (strcmp(rs->r[i].name, name) == 0)
            return;
    if (rs->n >= cap)
        return;
    rs->r = xrealloc(rs->r, (size_t)(rs->n + 1) * sizeof(*rs->r));
    memset(&rs->r[rs->n], 0, sizeof(rs->r[0]));
    snprintf(rs->r[rs->n++].name, sizeof(rs->r[0].name), "%s", name);
}

static void index_key(char out[STORE_KEY_MAX], enum dim d, const char *key_id, const char *period)
{
    if (key_id)
        store_key(out, SK_USAGE_KEY_MODELS, period, key_id);
    else
        store_key(out, SK_USAGE_INDEX, period,
                  d == DIM_MODEL ? "models"
                  : d == DIM_KEY ? "keys"
                                 : "accounts");
}

static void member_key(char out[STORE_KEY_MAX], enum dim d, const char *key_id, const char *period,
                       const char *name)
{
    if (d == DIM_KEY)
        store_key(out, SK_USAGE_KEY, name, period);
    else if (d == DIM_ACCOUNT)
        store_key(out, SK_USAGE_ACCOUNT, name, period);
    else if (!key_id)
        store_key(out, SK_USAGE_MODEL, name, period);
    else if (strlen(period) == 10)
        store_key(out, SK_USAGE_DAILY, period, key_id, name);
    else
        store_key(out, SK_USAGE_MONTHLY, period, key_id, name);
}

/* One index set's SRANDMEMBER reply into rs. */
static int add_members(struct rows *rs, const redisReply *r, int cap)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return -ERR_REDIS;
    for (size_t j = 0; j < r->elements; j++)
        rows_add_name(rs, r->element[j]->str ? r->element[j]->str : "", cap);
    return 0;
}

/* The members of every period's index set, once each, in one round trip. */
static int collect_members(struct rds_conn *c, const struct periods *ps, enum dim d,
                           const char *key_id, struct rows *rs)
{
    int rc = 0, cap = MAX_CELLS / (ps->n ? ps->n : 1);
    for (int i = 0; i < ps->n && rc == 0; i++) {
        char k[STORE_KEY_MAX];
        index_key(k, d, key_id, ps->p[i]);
        rc = rds_append(c, "SRANDMEMBER %s %d", k, MAX_MEMBERS);
    }
    redisReply **rep = xcalloc((size_t)ps->n + 1, sizeof(*rep));
    if (rc == 0 && ps->n)
        rc = rds_flush_replies(c, ps->n, rep);
    for (int i = 0; i < ps->n; i++) {
        if (rc == 0)
            rc = add_members(rs, rep[i], cap);
        if (rep[i])
            freeReplyObject(rep[i]);
    }
    free(rep);
    return rc == 0 ? 0 : -ERR_REDIS;
}

static int by_cost(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->s.v[UC_COST] != y->s.v[UC_COST])
        return x->s.v[UC_COST] < y->s.v[UC_COST] ? 1 : -1;
    if (x->s.v[UC_REQUESTS] != y->s.v[UC_REQUESTS])
        return x->s.v[UC_REQUESTS] < y->s.v[UC_REQUESTS] ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* Rows of dimension d (one key's models when key_id) summed over the
 * periods, by cost descending. 0 or -ERR_REDIS. */
static int breakdown(struct rds_conn *c, const struct periods *ps, enum dim d, const char *key_id,
                     struct rows *rs)
{
    int rc = collect_members(c, ps, d, key_id, rs);
    int n = rs->n * ps->n;
    if (rc != 0 || n == 0)
        return rc;
    char(*keys)[STORE_KEY_MAX] = xcalloc((size_t)n, sizeof(*keys));
    struct usage_sum *s = xcalloc((size_t)n, sizeof(*s));
    for (int i = 0; i < rs->n; i++)
        for (int j = 0; j < ps->n; j++)
            member_key(keys[i * ps->n + j], d, key_id, ps->p[j], rs->r[i].name);
    rc = usage_read_sums(c, n, keys, s);
    for (int i = 0; i < rs->n && rc == 0; i++)
        for (int j = 0; j < ps->n; j++)
            usage_sum_add(&rs->r[i].s, &s[i * ps->n + j]);
    free(s);
    free(keys);
    if (rc == 0)
        qsort(rs->r, (size_t)rs->n, sizeof(rs->r[0]), by_cost);
    return rc;
}

/* today / 7days / monthly / all as periods. */
static void named_periods(struct app *app, int which, struct periods *ps)
{
    long long now = (long long)time(NULL) * 1000;
    struct usage_period p;
    usage_period_at(app->tz_offset_min, now, &p);
    ps->n = 1;
    if (which == 0)
        snprintf(ps->p[0], sizeof(ps->p[0]), "%s", p.day);
    else if (which == 2)
        snprintf(ps->p[0], sizeof(ps->p[0]), "%s", p.month);
    else if (which == 3)
        snprintf(ps->p[0], sizeof(ps->p[0]), "total");
    else
        for (ps->n = 0; ps->n < WEEK; ps->n++) {
            usage_period_at(app->tz_offset_min, now - (long long)ps->n * 86400000LL, &p);
            snprintf(ps->p[ps->n], sizeof(ps->p[0]), "%s", p.day);
        }
}

static const char *const named[] = {"today", "7days", "monthly", "all", NULL};

/* Run a breakdown on a connection of the pool, or answer 503. */
static int run_breakdown(struct reqctx *rq, const struct periods *ps, enum dim d,
                         const char *key_id, struct rows *rs)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return -ERR_REDIS;
    int rc = breakdown(c, ps, d, key_id, rs);
    admin_conn_put(rq, c);
    if (rc != 0) {
        free(rs->r);
        rs->r = NULL;
        rs->n = 0;
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
    }
    return rc;
}

/* ---- GET /admin/model-stats ---- */

/* The one period of model-stats from period / date / month. */
static int model_period(struct reqctx *rq, int which, const char *key_id, struct periods *ps)
{
    static const int as_named[] = {0, 2, 3};
    const char *pname[] = {"date", "month"}, *v = which < 2 ? reqctx_query(rq, pname[which]) : NULL;
    if (which == 2 && key_id) {
        bad_param(rq, "period", "total is not kept per key (use daily or monthly)");
        return -ERR_INVAL;
    }
    named_periods(reqctx_app(rq), as_named[which], ps);
    if (!v || !*v)
        return 0;
    if (!is_period(v, which == 0 ? 10 : 7)) {
        bad_param(rq, pname[which], which == 0 ? "expected YYYY-MM-DD" : "expected YYYY-MM");
        return -ERR_INVAL;
    }
    snprintf(ps->p[0], sizeof(ps->p[0]), "%s", v);
    return 0;
}

static cJSON *model_rows_json(const struct rows *rs, const char *period)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < rs->n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "model", rs->r[i].name);
        cJSON_AddStringToObject(e, "period", period);
        usage_sum_json(e, &rs->r[i].s);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

int stats_model_rows(struct rds_conn *c, const char *period, const char *key_id, cJSON **out)
{
    struct periods ps = {.n = 1};
    struct rows rs = {0};
    snprintf(ps.p[0], sizeof(ps.p[0]), "%s", period);
    int rc = breakdown(c, &ps, DIM_MODEL, key_id, &rs);
    if (rc == 0)
        *out = model_rows_json(&rs, period);
    free(rs.r);
    return rc;
}

static bool has_range(struct reqctx *rq)
{
    static const char *const names[] = {"days", "startDate", "endDate"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = reqctx_query(rq, names[i]);
        if (v && *v)
            return true;
    }
    return false;
}

/* days or startDate / endDate (daily only, without date / month): every day
 * of the range, summed; label "first/last" (one day: that day). */
static int model_range(struct reqctx *rq, int which, struct periods *ps, char label[48])
{
    const char *date = reqctx_query(rq, "date"), *month = reqctx_query(rq, "month");
    int kept = (int)reqctx_app(rq)->cfg->token_usage_retention_days;
    int span = kept < MAX_PERIODS ? kept : MAX_PERIODS;
    struct stats_range_limits lim = {span, 1, span, kept};
    struct stats_range r;
    if (which != 0) {
        bad_param(rq, "period", "a range (days, startDate/endDate) sums days: use daily");
        return -ERR_INVAL;
    }
    if ((date && *date) || (month && *month)) {
        bad_param(rq, date && *date ? "date" : "month",
                  "give it or a range (days, startDate/endDate), not both");
        return -ERR_INVAL;
    }
    if (stats_range_param(rq, &lim, &r))
        return -ERR_INVAL;
    stats_range_labels(&r, false, ps->p);
    ps->n = r.ndays;
    if (r.ndays == 1)
        snprintf(label, 48, "%s", ps->p[0]);
    else
        snprintf(label, 48, "%s/%s", ps->p[0], ps->p[r.ndays - 1]);
    return 0;
}

void stats_h_model_stats(struct reqctx *rq)
{
    static const char *const periods[] = {"daily", "monthly", "total", NULL};
    const char *key_id = NULL;
    int which = stats_enum_param(rq, "period", periods, 0);
    struct periods ps = {0};
    struct rows rs = {0};
    char label[48];
    if (which < 0 || stats_id_param(rq, "keyId", false, &key_id))
        return;
    int rc =
        has_range(rq) ? model_range(rq, which, &ps, label) : model_period(rq, which, key_id, &ps);
    if (rc != 0 || run_breakdown(rq, &ps, DIM_MODEL, key_id, &rs))
        return;
    if (!has_range(rq))
        snprintf(label, sizeof(label), "%s", ps.p[0]);
    cJSON *arr = model_rows_json(&rs, label);
    free(rs.r);
    admin_ok(rq, "data", arr);
}

/* ---- GET /admin/usage-costs ---- */

static cJSON *model_cost(const struct row *r)
{
    char f[32];
    cJSON *e = cJSON_CreateObject(), *u = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "model", r->name);
    cJSON_AddNumberToObject(e, "requests", (double)r->s.v[UC_REQUESTS]);
    usage_sum_json(u, &r->s);
    cJSON_AddItemToObject(e, "usage", u);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(e, "costs"), "total",
                            (double)r->s.v[UC_COST] / 1e6);
    usage_format_cost(r->s.v[UC_COST], f);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "formatted"), "total", f);
    return e;
}

void stats_h_usage_costs(struct reqctx *rq)
{
    int which = stats_enum_param(rq, "period", named, 0);
    struct periods ps = {0};
    struct rows rs = {0};
    if (which < 0)
        return;
    named_periods(reqctx_app(rq), which, &ps);
    if (run_breakdown(rq, &ps, DIM_MODEL, NULL, &rs))
        return;
    struct usage_sum total = {0};
    cJSON *d = cJSON_CreateObject(), *mc = cJSON_CreateArray();
    for (int i = 0; i < rs.n; i++) {
        usage_sum_add(&total, &rs.r[i].s);
        cJSON_AddItemToArray(mc, model_cost(&rs.r[i]));
    }
    char f[32];
    usage_format_cost(total.v[UC_COST], f);
    cJSON_AddStringToObject(d, "period", named[which]);
    cJSON *tc = cJSON_AddObjectToObject(d, "totalCosts");
    cJSON_AddNumberToObject(tc, "totalCost", (double)total.v[UC_COST] / 1e6);
    cJSON_AddStringToObject(tc, "formatted", f);
    cJSON_AddNumberToObject(tc, "requests", (double)total.v[UC_REQUESTS]);
    cJSON_AddNumberToObject(tc, "allTokens", (double)total.v[UC_ALL]);
    cJSON_AddItemToObject(d, "modelCosts", mc);
    free(rs.r);
    admin_ok(rq, "data", d);
}

/* ---- GET /admin/cost-ranking ---- */

/* The names of the first n keys (one pipelined HGET each). */
static int key_names(struct reqctx *rq, const struct rows *rs, int n, char (*names)[101])
{
    struct rds_conn *c = admin_conn(rq);
    int rc = c ? 0 : -ERR_REDIS;
    for (int i = 0; i < n && rc == 0; i++) {
        char k[STORE_KEY_MAX];
        store_key(k, SK_API_KEY, rs->r[i].name);
        rc = rds_append(c, "HGET %s name", k);
    }
    redisReply **rep = xcalloc((size_t)n + 1, sizeof(*rep));
    if (rc == 0 && n)
        rc = rds_flush_replies(c, n, rep);
    for (int i = 0; i < n; i++) {
        snprintf(names[i], 101, "%s", rep[i] && rep[i]->str ? rep[i]->str : "");
        if (rep[i])
            freeReplyObject(rep[i]);
    }
    free(rep);
    if (c)
        admin_conn_put(rq, c);
    return rc;
}

void stats_h_cost_ranking(struct reqctx *rq)
{
    int which = stats_enum_param(rq, "period", named, 0);
    long long limit = 0;
    struct periods ps = {0};
    struct rows rs = {0};
    if (which < 0 || stats_int_param(rq, "limit", 1, 100, DEFAULT_RANKING, &limit))
        return;
    named_periods(reqctx_app(rq), which, &ps);
    if (run_breakdown(rq, &ps, DIM_KEY, NULL, &rs))
        return;
    int n = rs.n < (int)limit ? rs.n : (int)limit;
    char(*names)[101] = xcalloc((size_t)n + 1, sizeof(*names));
    if (key_names(rq, &rs, n, names) != 0) {
        admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
        goto out;
    }
    cJSON *d = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(d, "keys");
    cJSON_AddStringToObject(d, "period", named[which]);
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "keyId", rs.r[i].name);
        cJSON_AddStringToObject(e, "name", names[i]);
        usage_sum_json(e, &rs.r[i].s);
        cJSON_AddItemToArray(arr, e);
    }
    admin_ok(rq, "data", d);
out:
    free(names);
    free(rs.r);
}

/* ---- GET /admin/api-keys-usage-trend, /admin/account-usage-trend ---- */

struct series_req {
    bool hours;
    int n;                /* buckets */
    long long top;        /* series */
    struct stats_range r; /* the days asked for */
    struct periods days;  /* the days the buckets fall in: where the ranking comes from */
};

static int series_params(struct reqctx *rq, long long dflt_top, struct series_req *sr)
{
    static const char *const grans[] = {"day", "hour", NULL};
    int gran = stats_enum_param(rq, "granularity", grans, 0);
    int kept = (int)reqctx_app(rq)->cfg->token_usage_retention_days;
    int maxd = kept < MAX_SERIES_DAYS ? kept : MAX_SERIES_DAYS;
    struct stats_range_limits lim = {maxd, 7, maxd, kept};
    if (gran == 1)
        lim = (struct stats_range_limits){STATS_RANGE_HOUR_DAYS, 1, STATS_RANGE_HOUR_DAYS,
                                          STATS_RANGE_HOUR_DAYS};
    if (gran < 0 || stats_range_param(rq, &lim, &sr->r) ||
        stats_int_param(rq, "limit", 1, 100, dflt_top, &sr->top))
        return -ERR_INVAL;
    sr->hours = gran == 1;
    sr->n = sr->hours ? sr->r.ndays * 24 : sr->r.ndays;
    struct stats_range days = sr->r;
    if (sr->hours && !sr->r.dates) { /* 24 h from now reach back into a 2nd day */
        days.first--;
        days.ndays++;
    }
    stats_range_labels(&days, false, sr->days.p);
    sr->days.n = days.ndays;
    return 0;
}

static cJSON *series_json(const struct series_req *sr, const struct rows *top, int ntop,
                          char (*labels)[24], const struct usage_sum *s)
{
    cJSON *arr = cJSON_CreateArray();
    for (int b = 0; b < sr->n; b++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, sr->hours ? "hour" : "date", labels[b]);
        for (int i = 0; i < ntop; i++) {
            const struct usage_sum *v = &s[i * sr->n + b];
            char f[32];
            cJSON *o = cJSON_AddObjectToObject(e, top->r[i].name);
            cJSON_AddNumberToObject(o, "requests", (double)v->v[UC_REQUESTS]);
            cJSON_AddNumberToObject(o, "allTokens", (double)v->v[UC_ALL]);
            cJSON_AddNumberToObject(o, "cost", (double)v->v[UC_COST] / 1e6);
            usage_format_cost(v->v[UC_COST], f);
            cJSON_AddStringToObject(o, "formattedCost", f);
        }
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

/* The top series' buckets in one round trip. */
static int series_read(struct reqctx *rq, enum dim d, const struct series_req *sr,
                       const struct rows *rs, int ntop, char (*labels)[24], struct usage_sum *s)
{
    int n = ntop * sr->n;
    if (n == 0)
        return 0;
    char(*keys)[STORE_KEY_MAX] = xcalloc((size_t)n, sizeof(*keys));
    for (int i = 0; i < ntop; i++)
        for (int b = 0; b < sr->n; b++)
            member_key(keys[i * sr->n + b], d, NULL, labels[b], rs->r[i].name);
    struct rds_conn *c = admin_conn(rq);
    int rc = c ? usage_read_sums(c, n, keys, s) : -ERR_REDIS;
    if (c) {
        admin_conn_put(rq, c);
        if (rc != 0)
            admin_error(rq, 503, "Service unavailable", "The relay's store is unavailable");
    }
    free(keys);
    return rc;
}

/* The top `limit` keys or accounts of the period by cost, each as a series. */
static void series(struct reqctx *rq, enum dim d, long long dflt_top)
{
    struct series_req sr = {0};
    struct rows rs = {0};
    if (series_params(rq, dflt_top, &sr) || run_breakdown(rq, &sr.days, d, NULL, &rs))
        return;
    int ntop = rs.n < (int)sr.top ? rs.n : (int)sr.top;
    char(*labels)[24] = xcalloc((size_t)sr.n, sizeof(*labels));
    struct usage_sum *s = xcalloc((size_t)(ntop * sr.n) + 1, sizeof(*s));
    stats_bucket_labels(reqctx_app(rq)->tz_offset_min, &sr.r, sr.hours, labels);
    if (series_read(rq, d, &sr, &rs, ntop, labels, s) == 0) {
        cJSON *root = cJSON_CreateObject(), *ids = cJSON_CreateArray();
        cJSON_AddBoolToObject(root, "success", true);
        cJSON_AddItemToObject(root, "data", series_json(&sr, &rs, ntop, labels, s));
        cJSON_AddStringToObject(root, "granularity", sr.hours ? "hour" : "day");
        for (int i = 0; i < ntop; i++)
            cJSON_AddItemToArray(ids, cJSON_CreateString(rs.r[i].name));
        cJSON_AddItemToObject(root, d == DIM_KEY ? "topApiKeys" : "topAccounts", ids);
        cJSON_AddNumberToObject(root, d == DIM_KEY ? "totalApiKeys" : "totalAccounts", rs.n);
        reqctx_reply_json(rq, 200, root);
    }
    free(s);
    free(labels);
    free(rs.r);
}

void stats_h_keys_trend(struct reqctx *rq)
{
    series(rq, DIM_KEY, 10);
}

void stats_h_accounts_trend(struct reqctx *rq)
{
    series(rq, DIM_ACCOUNT, 20);
}
