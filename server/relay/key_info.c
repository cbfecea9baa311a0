/*
 * key_info.c - what a key holder may read about their own key, with the key
 * itself as the credential (crs-relay-spec 2): GET /api/v1/key-info,
 * /api/v1/usage and /api/v1/me (also under /claude and bare /v1). Reading
 * never activates an activation-mode key and takes no slot.
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

#define KEY_INFO_ROUTES(prefix)                                                                    \
    {"GET", prefix "/v1/key-info", h_key_info, AUTH_KEY, BODY_SMALL, NULL},                        \
        {"GET", prefix "/v1/usage", h_usage, AUTH_KEY, BODY_SMALL, NULL},                          \
    {                                                                                              \
        "GET", prefix "/v1/me", h_me, AUTH_KEY, BODY_SMALL, NULL                                   \
    }

const struct route key_info_routes[] = {
    KEY_INFO_ROUTES("/api"),
    KEY_INFO_ROUTES("/claude"),
    KEY_INFO_ROUTES(""),
    {0},
};
