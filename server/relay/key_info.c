/*
 * key_info.c - what a key holder may read about their own key, with the key
 * itself as the credential (crs-relay-spec 2): GET /api/v1/key-info,
 * /api/v1/usage and /api/v1/me (also under /claude and bare /v1). Reading
 * never activates an activation-mode key and takes no slot. Also the
 * OpenAI- and Gemini-family usage and key-info routes (crs-relay-spec 2.1).
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "format.h"
#include "json.h"
#include "keys.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "store.h"
#include "txn.h"
#include "usage.h"
#include "usage_read.h"
#include "xmalloc.h"

#include <time.h>

static const char *const usage_fields[] = {"requests",          "inputTokens",     "outputTokens",
                                           "cacheCreateTokens", "cacheReadTokens", "allTokens"};

static long long field(const redisReply *r, const char *name)
{
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (strcmp(r->element[i]->str, name) == 0)
            return strtoll(r->element[i + 1]->str, NULL, 10);
    return 0;
}

static const char *text(const redisReply *r, const char *name)
{
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (strcmp(r->element[i]->str, name) == 0)
            return r->element[i + 1]->str;
    return "";
}

/* The key's counters: usage and cost hashes in one round trip. */
static int load_counters(struct reqctx *rq, const struct api_key *k, redisReply *rep[2])
{
    char uk[STORE_KEY_MAX], ck[STORE_KEY_MAX];
    store_key(uk, SK_API_KEY_USAGE, k->id);
    store_key(ck, SK_API_KEY_COST, k->id);
    struct rds_conn *c = rds_pool_get(reqctx_app(rq)->redis, 3000);
    int rc = c && rds_append(c, "HGETALL %s", uk) == 0 && rds_append(c, "HGETALL %s", ck) == 0 &&
                     rds_flush_replies(c, 2, rep) == 0
                 ? 0
                 : -ERR_REDIS;
    rds_pool_put(reqctx_app(rq)->redis, c);
    return rc;
}

static cJSON *usage_json(const redisReply *u, const redisReply *cost, const char *day)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *total = cJSON_AddObjectToObject(o, "total");
    for (size_t i = 0; i < ARRAY_SIZE(usage_fields); i++)
        cJSON_AddNumberToObject(total, usage_fields[i], (double)field(u, usage_fields[i]));
    cJSON_AddNumberToObject(total, "tokens", (double)field(u, "allTokens"));
    cJSON *c = cJSON_AddObjectToObject(o, "cost");
    cJSON_AddNumberToObject(c, "total", (double)field(cost, "totalMicro") / 1e6);
    bool today = strcmp(text(cost, "day"), day) == 0;
    cJSON_AddNumberToObject(c, "daily", today ? (double)field(cost, "dayMicro") / 1e6 : 0);
    cJSON_AddNumberToObject(c, "unpricedRequests", (double)field(cost, "unpricedRequests"));
    cJSON_AddStringToObject(o, "lastUsedAt", text(u, "lastUsedAt"));
    return o;
}

static cJSON *limits_json(const struct api_key *k)
{
    const struct key_policy *p = &k->pol;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tokens", (double)p->window_tokens);
    cJSON_AddNumberToObject(o, "requests", (double)p->window_requests);
    cJSON_AddNumberToObject(o, "windowMinutes", (double)(p->window_ms / 60000));
    cJSON_AddNumberToObject(o, "concurrency", (double)p->concurrency);
    cJSON_AddNumberToObject(o, "dailyCost", (double)p->daily_cost / 1e6);
    cJSON_AddNumberToObject(o, "totalCost", (double)p->total_cost / 1e6);
    cJSON_AddNumberToObject(o, "weeklyOpusCost", (double)p->weekly_cost / 1e6);
    return o;
}

static void add_timestamp(cJSON *o)
{
    char iso[32];
    admin_iso_now(iso);
    cJSON_AddStringToObject(o, "timestamp", iso);
}

typedef cJSON *(*info_fn)(const struct api_key *k, const redisReply *u, const redisReply *c,
                          const char *day);

static void serve(struct reqctx *rq, info_fn fn)
{
    struct api_key *k = txn_key_only(rq, &format_anthropic);
    if (!k)
        return;
    redisReply *rep[2] = {0};
    char day[16], iso[32];
    usage_dates(reqctx_app(rq)->tz_offset_min, time(NULL), day, iso);
    if (load_counters(rq, k, rep) == 0)
        reqctx_reply_json(rq, 200, fn(k, rep[0], rep[1], day));
    else
        format_anthropic.reply_error(rq, RERR_UNAVAILABLE, "The relay's store is unavailable");
    for (int i = 0; i < 2; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    keys_unref(k);
}

static cJSON *key_info(const struct api_key *k, const redisReply *u, const redisReply *c,
                       const char *day)
{
    cJSON *root = cJSON_CreateObject(), *ki = cJSON_AddObjectToObject(root, "keyInfo");
    char exp[32] = "";
    if (k->expires_at_ms)
        admin_iso_from_ms(k->expires_at_ms, exp);
    cJSON_AddStringToObject(ki, "id", k->id);
    cJSON_AddStringToObject(ki, "name", k->name);
    cJSON_AddNumberToObject(ki, "tokenLimit", (double)k->pol.window_tokens);
    cJSON_AddItemToObject(ki, "expiresAt", *exp ? cJSON_CreateString(exp) : cJSON_CreateNull());
    cJSON_AddBoolToObject(ki, "activationPending", k->pol.activation);
    cJSON_AddItemToObject(ki, "usage", usage_json(u, c, day));
    cJSON_AddItemToObject(ki, "limits", limits_json(k));
    add_timestamp(root);
    return root;
}

static cJSON *usage_info(const struct api_key *k, const redisReply *u, const redisReply *c,
                         const char *day)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "usage", usage_json(u, c, day));
    cJSON_AddItemToObject(root, "limits", limits_json(k));
    add_timestamp(root);
    return root;
}

static cJSON *me_info(const struct api_key *k, const redisReply *u, const redisReply *c,
                      const char *day)
{
    UNUSED(u), UNUSED(c), UNUSED(day);
    char id[64], iso[32];
    snprintf(id, sizeof(id), "user_%s", k->id);
    admin_iso_now(iso);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "type", "user");
    cJSON_AddStringToObject(root, "display_name", *k->name ? k->name : "API User");
    cJSON_AddStringToObject(root, "created_at", iso);
    return root;
}

static void h_key_info(struct reqctx *rq)
{
    serve(rq, key_info);
}

static void h_usage(struct reqctx *rq)
{
    serve(rq, usage_info);
}

static void h_me(struct reqctx *rq)
{
    serve(rq, me_info);
}

/* ---- /openai and /gemini usage and key-info (crs-relay-spec 2.1) ---- */

/* Lifetime (exact), today's and this month's counters of the key. */
static int load_periods(struct reqctx *rq, const struct api_key *k, struct usage_sum s[3],
                        char **desc)
{
    struct usage_period p;
    char keys[3][STORE_KEY_MAX], rk[STORE_KEY_MAX];
    usage_period_at(reqctx_app(rq)->tz_offset_min, (long long)time(NULL) * 1000, &p);
    store_key(keys[0], SK_API_KEY_USAGE, k->id);
    store_key(keys[1], SK_USAGE_KEY, k->id, p.day);
    store_key(keys[2], SK_USAGE_KEY, k->id, p.month);
    store_key(rk, SK_API_KEY, k->id);
    struct rds_conn *c = rds_pool_get(reqctx_app(rq)->redis, 3000);
    int rc = c ? usage_read_sums(c, 3, keys, s) : -ERR_REDIS;
    redisReply *r = rc == 0 ? rds_command(c, "HGET %s description", rk) : NULL;
    rc = rc == 0 && !r ? -ERR_REDIS : rc;
    *desc = xstrdup(r && r->type == REDIS_REPLY_STRING ? r->str : "");
    if (r)
        freeReplyObject(r);
    rds_pool_put(reqctx_app(rq)->redis, c);
    return rc;
}

static cJSON *period_json(const struct usage_sum *s)
{
    cJSON *o = cJSON_CreateObject();
    usage_sum_json(o, s);
    cJSON_AddNumberToObject(o, "tokens", (double)s->v[UC_ALL]);
    return o;
}

static cJSON *openai_usage(const struct api_key *k, const struct usage_sum s[3], const char *d)
{
    UNUSED(k), UNUSED(d);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "usage");
    cJSON_AddNumberToObject(o, "total_tokens", (double)s[0].v[UC_ALL]);
    cJSON_AddNumberToObject(o, "total_requests", (double)s[0].v[UC_REQUESTS]);
    cJSON_AddNumberToObject(o, "daily_tokens", (double)s[1].v[UC_ALL]);
    cJSON_AddNumberToObject(o, "daily_requests", (double)s[1].v[UC_REQUESTS]);
    cJSON_AddNumberToObject(o, "monthly_tokens", (double)s[2].v[UC_ALL]);
    cJSON_AddNumberToObject(o, "monthly_requests", (double)s[2].v[UC_REQUESTS]);
    return o;
}

static cJSON *permissions_json(const struct key_policy *p)
{
    cJSON *a = cJSON_CreateArray();
    for (unsigned i = 0; key_policy_service_name(i); i++)
        if (p->services & (1u << i))
            cJSON_AddItemToArray(a, cJSON_CreateString(key_policy_service_name(i)));
    return a;
}

static cJSON *openai_key_info(const struct api_key *k, const struct usage_sum s[3], const char *d)
{
    cJSON *o = cJSON_CreateObject();
    long long limit = k->pol.window_tokens, used = s[0].v[UC_ALL];
    cJSON_AddStringToObject(o, "id", k->id);
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddStringToObject(o, "description", d);
    cJSON_AddItemToObject(o, "permissions", permissions_json(&k->pol));
    cJSON_AddNumberToObject(o, "token_limit", (double)limit);
    cJSON_AddNumberToObject(o, "tokens_used", (double)used);
    if (limit > 0)
        cJSON_AddNumberToObject(o, "tokens_remaining", (double)(limit > used ? limit - used : 0));
    else
        cJSON_AddNullToObject(o, "tokens_remaining");
    cJSON *rl = cJSON_AddObjectToObject(o, "rate_limit");
    cJSON_AddNumberToObject(rl, "window", (double)(k->pol.window_ms / 60000));
    cJSON_AddNumberToObject(rl, "requests", (double)k->pol.window_requests);
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddItemToObject(u, "total", period_json(&s[0]));
    cJSON_AddItemToObject(u, "daily", period_json(&s[1]));
    cJSON_AddItemToObject(u, "monthly", period_json(&s[2]));
    return o;
}

typedef cJSON *(*family_fn)(const struct api_key *k, const struct usage_sum s[3], const char *d);

static void serve_family(struct reqctx *rq, const struct client_format *fmt, family_fn fn)
{
    struct api_key *k = txn_key_only(rq, fmt);
    if (!k)
        return;
    struct usage_sum s[3] = {0};
    char *desc = NULL;
    if (load_periods(rq, k, s, &desc) == 0)
        reqctx_reply_json(rq, 200, fn(k, s, desc));
    else
        fmt->reply_error(rq, RERR_UNAVAILABLE, "The relay's store is unavailable");
    free(desc);
    keys_unref(k);
}

static void h_openai_usage(struct reqctx *rq)
{
    serve_family(rq, &format_openai_responses, openai_usage);
}

static void h_openai_key_info(struct reqctx *rq)
{
    serve_family(rq, &format_openai_responses, openai_key_info);
}

static void h_gemini_usage(struct reqctx *rq)
{
    serve_family(rq, &format_gemini, openai_usage);
}

static void h_gemini_key_info(struct reqctx *rq)
{
    serve_family(rq, &format_gemini, openai_key_info);
}

#define KEY_INFO_ROUTES(prefix)                                                                    \
    {"GET", prefix "/v1/key-info", h_key_info, AUTH_KEY, BODY_SMALL, NULL},                        \
        {"GET", prefix "/v1/usage", h_usage, AUTH_KEY, BODY_SMALL, NULL},                          \
    {                                                                                              \
        "GET", prefix "/v1/me", h_me, AUTH_KEY, BODY_SMALL, NULL                                   \
    }

const struct route key_info_routes[] = {
    {"GET", "/openai/usage", h_openai_usage, AUTH_KEY, BODY_SMALL, NULL},
    {"GET", "/openai/key-info", h_openai_key_info, AUTH_KEY, BODY_SMALL, NULL},
    {"GET", "/gemini/usage", h_gemini_usage, AUTH_KEY, BODY_SMALL, NULL},
    {"GET", "/gemini/key-info", h_gemini_key_info, AUTH_KEY, BODY_SMALL, NULL},
    KEY_INFO_ROUTES("/api"),
    KEY_INFO_ROUTES("/claude"),
    KEY_INFO_ROUTES(""),
    {0},
};
