/*
 * scheduler_admin.c - GET /admin/scheduler/explain?keyId=&model=: for one
 * key and model, every account with `eligible: true` or the reason the
 * scheduler skips it (scheduler_skip, the filter of every real pick), and
 * `picked`, the account scheduler_pick would choose now (no session).
 * Read-only; one Redis round trip (the key record).
 */
#include "compat.h"
#include "clock.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "format.h"
#include "json.h"
#include "key_policy.h"
#include "keys.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "scheduler.h"

#include <time.h>

/* The health state behind a cooling / unauthorized / blocked skip. */
static void add_state(cJSON *o, const struct account *a, long long now)
{
    long long until = 0;
    char iso[32], reason[160];
    enum account_state st = account_state(a, now, &until);
    cJSON_AddStringToObject(o, "status", account_state_name(st));
    if (until) {
        admin_iso_from_ms(until, iso);
        cJSON_AddStringToObject(o, "until", iso);
    }
    account_state_reason(a, reason, sizeof(reason));
    if (*reason)
        cJSON_AddStringToObject(o, "statusReason", reason);
}

/* What stops an account that is over one of its limits. */
static void add_limit(cJSON *o, const struct account *a, enum sched_skip s)
{
    char iso[32];
    if (s == SKIP_OVER_QUOTA) {
        admin_iso_from_ms(account_quota_until(a), iso);
        cJSON_AddStringToObject(o, "until", iso);
    } else {
        cJSON_AddNumberToObject(o, "inflight", account_inflight(a));
        cJSON_AddNumberToObject(o, "maxConcurrentTasks", a->max_tasks);
    }
}

static cJSON *account_view(const struct account_list *snap, const struct account *a,
                           const struct sched_request *req)
{
    enum sched_skip s = scheduler_skip(snap, a, req, NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "platform", a->prov->name);
    cJSON_AddNumberToObject(o, "priority", a->priority);
    cJSON_AddBoolToObject(o, "eligible", s == SKIP_NONE);
    if (s != SKIP_NONE)
        cJSON_AddStringToObject(o, "reason", scheduler_skip_name(s));
    if (s == SKIP_COOLING || s == SKIP_UNAUTHORIZED || s == SKIP_BLOCKED)
        add_state(o, a, req->now_ms);
    const char *to = s == SKIP_NONE && req->model && a->prov->map_model
                         ? a->prov->map_model(a, req->model)
                         : NULL;
    if (to) /* the name the upstream would be sent */
        cJSON_AddStringToObject(o, "upstreamModel", to);
    if (s == SKIP_OVER_QUOTA || s == SKIP_OVER_CONCURRENCY)
        add_limit(o, a, s);
    return o;
}

/* ?endpoint= (e.g. "v1internal:generateContent") explains a request to that
 * endpoint: account types that do not serve it are skipped. */
static cJSON *explain(struct app *app, const char *family, const char *bound, const char *model,
                      const char *endpoint)
{
    struct account_list *snap = accounts_snapshot(app->accounts);
    struct sched_request req = {family, model, clock_wall_ms(), bound, NULL, endpoint};
    cJSON *d = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(d, "accounts");
    cJSON_AddStringToObject(d, "family", family);
    cJSON_AddStringToObject(d, "binding", bound);
    if (model)
        cJSON_AddStringToObject(d, "model", model);
    for (size_t i = 0; i < snap->n; i++)
        cJSON_AddItemToArray(arr, account_view(snap, snap->items[i], &req));
    const struct account *p = scheduler_pick(snap, &req, NULL);
    cJSON *picked = p ? cJSON_CreateObject() : cJSON_CreateNull();
    if (p) {
        cJSON_AddStringToObject(picked, "id", p->id);
        cJSON_AddStringToObject(picked, "name", p->name);
    }
    cJSON_AddItemToObject(d, "picked", picked);
    accounts_list_release(snap);
    return d;
}

/* The key's binding for the family: Claude an OAuth account or group
 * first, then a Console one; OpenAI its openaiAccountId. */
static const char *key_binding(const cJSON *item, const char *family)
{
    if (strcmp(family, format_openai_responses.family) == 0)
        return key_policy_bound_id(json_str(item, "openaiAccountId", ""));
    if (strcmp(family, format_gemini.family) == 0) { /* "api:<id>": the gemini-api account */
        const char *g = json_str(item, "geminiAccountId", "");
        return strncmp(g, "api:", 4) == 0 ? g + 4 : g;
    }
    const char *oauth = json_str(item, "claudeAccountId", "");
    return *oauth ? oauth : json_str(item, "claudeConsoleAccountId", "");
}

/* ?family=openai (gemini) explains an OpenAI (Gemini) request; anything
 * else a Claude one. */
static const char *query_family(struct reqctx *rq)
{
    const char *f = reqctx_query(rq, "family");
    if (f && strcmp(f, format_gemini.family) == 0)
        return format_gemini.family;
    return f && strcmp(f, format_openai_responses.family) == 0 ? format_openai_responses.family
                                                               : format_anthropic.family;
}

/* A query parameter, NULL when absent or empty. */
static const char *query_set(struct reqctx *rq, const char *name)
{
    const char *v = reqctx_query(rq, name);
    return v && *v ? v : NULL;
}

static void h_explain(struct reqctx *rq)
{
    const char *id = reqctx_query(rq, "keyId");
    if (!id || !admin_is_uuid(id)) {
        admin_error(rq, id ? 404 : 400, id ? "Not found" : "keyId is required",
                    id ? "API key not found" : "keyId is required");
        return;
    }
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *item = NULL;
    int rc = keys_load_item(c, id, &item);
    admin_conn_put(rq, c);
    if (rc != 0) {
        if (rc == -ERR_NOTFOUND)
            admin_error(rq, 404, "Not found", "API key not found");
        else
            admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
        return;
    }
    const char *family = query_family(rq);
    cJSON *d = explain(reqctx_app(rq), family, key_binding(item, family), query_set(rq, "model"),
                       query_set(rq, "endpoint"));
    cJSON_AddStringToObject(d, "keyId", id);
    cJSON_Delete(item);
    admin_ok(rq, "data", d);
}

const struct route scheduler_routes[] = {
    {"GET", "/admin/scheduler/explain", h_explain, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
