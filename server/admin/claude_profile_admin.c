/*
 * claude_profile_admin.c - the profile and usage routes of Claude
 * subscription accounts (crs-admin-spec "claude-accounts"):
 *
 *   POST /admin/claude-accounts/:accountId/update-profile -> the account's admin view
 *   POST /admin/claude-accounts/update-all-profiles       -> {totalAccounts, successCount,
 *                                                             failureCount, results}
 *   GET  /admin/claude-accounts/usage                     -> {<id>: {fiveHour, sevenDay,
 *                                                             sevenDaySonnet, sevenDayOpus}
 *                                                             | {error} | null}
 *
 * Each upstream call runs on httpc; the reply is deferred (reqctx_defer)
 * until every call answered - each is bounded by its own 30 s timeout, all
 * run at once - so no worker waits. The many-account routes take the
 * accounts and their tokens from the snapshot: no Redis to find them.
 *
 * DESIGN: a fan-out counts its calls plus one guard held while they are
 * being started, so the reply is built exactly once, by whichever party
 * drops the count to zero (a worker, or the starter itself). Each call
 * writes only its own slot before the (sequentially consistent) decrement,
 * so the last party sees every slot. Tokens never reach a reply: the usage
 * view is rebuilt field by field from the answer.
 */
#include "compat.h"
#include "account_record.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "claude_call.h"
#include "claude_profile.h"
#include "claude_subscription.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "secret.h"
#include "xmalloc.h"

#include <stdatomic.h>
#include <time.h>

static const struct provider *const prov = &provider_claude_official;

/* ---- one account: update-profile ---- */

struct one {
    struct reqctx *rq;
    struct app *app;
    char id[37];
    char *token; /* wiped */
    char *proxy; /* wiped */
};

static void one_free(struct one *o)
{
    secret_free(o->token);
    secret_free(o->proxy);
    free(o);
}

/* Worker: the lookup ended; answer with the refreshed view or the error. */
static void one_done(void *arg, int rc, const struct claude_profile *p, const char *err)
{
    struct one *o = arg;
    cJSON *view = NULL;
    struct rds_conn *c = rc == 0 ? rds_pool_get(o->app->redis, 1000) : NULL;
    UNUSED(p);
    if (c && account_record_view_load(o->app, c, prov, o->id, &view) == 0) {
        admin_ok(o->rq, "data", view);
    } else if (rc == 0 || rc == -ERR_REDIS) {
        admin_error(o->rq, 503, "Service unavailable", "Redis is unavailable");
    } else if (rc == -ERR_NOTFOUND) {
        admin_error(o->rq, 404, "Not found", "Account not found");
    } else if (rc == -ERR_CLOSED || rc == -ERR_BUSY) {
        admin_error(o->rq, 503, "Service unavailable", err);
    } else {
        admin_error(o->rq, 502, "Failed to update account profile", err);
    }
    if (c)
        rds_pool_put(o->app->redis, c);
    struct reqctx *rq = o->rq;
    one_free(o);
    reqctx_resume(rq);
}

static void one_start(void *arg)
{
    struct one *o = arg;
    int rc = claude_profile_fetch(o->app, o->id, o->token, o->proxy, one_done, o);
    secret_free(o->token); /* copied by the call */
    o->token = NULL;
    if (rc != 0)
        one_done(o, -ERR_CLOSED, NULL, "the relay is shutting down");
}

/* The record's token and proxy for a lookup; NULL after an error reply. */
static struct one *one_new(struct reqctx *rq, const cJSON *rec)
{
    struct app *app = reqctx_app(rq);
    if (!claude_scopes_have(json_str(rec, "scopes", ""), CLAUDE_PROFILE_SCOPE)) {
        admin_error(rq, 400, "No profile scope",
                    "scopes: the account has no user:profile scope (a setup token has no profile)");
        return NULL;
    }
    char *token = account_unseal(app, prov, rec, "accessToken");
    if (!token) {
        admin_error(rq, 400, "No access token",
                    "accessToken: none stored, or sealed under a key this relay does not have");
        return NULL;
    }
    struct one *o = xcalloc(1, sizeof(*o));
    o->rq = rq;
    o->app = app;
    snprintf(o->id, sizeof(o->id), "%s", json_str(rec, "id", ""));
    o->token = token;
    o->proxy = account_proxy_url(app, prov, rec);
    return o;
}

static void h_update_profile(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *rec = NULL;
    int rc = account_record_load(c, prov, reqctx_param(rq, "accountId"), &rec);
    admin_conn_put(rq, c);
    if (rc == -ERR_NOTFOUND)
        return admin_error(rq, 404, "Not found", "Account not found");
    if (rc != 0)
        return admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
    struct one *o = one_new(rq, rec);
    cJSON_Delete(rec);
    if (o)
        reqctx_defer(rq, one_start, o);
}

/* ---- many accounts: a fan-out over the snapshot ---- */

struct fanout;

struct slot {
    struct fanout *fo;
    const struct account *acc; /* from fo->snap, only while the calls start */
    char id[37];
    char name[101];
    bool probe; /* a call is made for it */
    int rc;
    char err[200];
    char sub[16];
    cJSON *view; /* usage answer */
};

struct fanout {
    struct reqctx *rq;
    struct app *app;
    struct account_list *snap; /* held while the calls start */
    atomic_size_t left;        /* calls not answered + the starter's guard */
    size_t n;
    struct slot *slots;
    bool usage; /* usage probe, else profile update */
};

static void fanout_reply(struct fanout *fo);

static void fanout_drop(struct fanout *fo)
{
    if (atomic_fetch_sub(&fo->left, 1) != 1)
        return;
    struct reqctx *rq = fo->rq;
    fanout_reply(fo);
    for (size_t i = 0; i < fo->n; i++)
        cJSON_Delete(fo->slots[i].view);
    free(fo->slots);
    free(fo);
    reqctx_resume(rq);
}

static bool can_call(const struct account *a)
{
    const char *token = account_field(a, "accessToken");
    enum account_state st = account_state(a, (long long)time(NULL) * 1000, NULL);
    return a->active && token && *token && st != ACC_UNAUTHORIZED && st != ACC_BLOCKED &&
           claude_scopes_have(account_field(a, "scopes"), CLAUDE_PROFILE_SCOPE);
}

/* Every claude-official account of the snapshot gets a slot. */
static struct fanout *fanout_new(struct reqctx *rq, bool usage)
{
    struct fanout *fo = xcalloc(1, sizeof(*fo));
    fo->rq = rq;
    fo->app = reqctx_app(rq);
    fo->usage = usage;
    fo->snap = accounts_snapshot(fo->app->accounts);
    fo->slots = xcalloc(fo->snap->n ? fo->snap->n : 1, sizeof(*fo->slots));
    for (size_t i = 0; i < fo->snap->n; i++) {
        const struct account *a = fo->snap->items[i];
        if (a->prov != prov)
            continue;
        struct slot *s = &fo->slots[fo->n++];
        s->fo = fo;
        s->acc = a;
        snprintf(s->id, sizeof(s->id), "%s", a->id);
        snprintf(s->name, sizeof(s->name), "%s", a->name);
        s->probe = can_call(a);
    }
    return fo;
}

/* ---- the profile of every account ---- */

static void profile_slot_done(void *arg, int rc, const struct claude_profile *p, const char *err)
{
    struct slot *s = arg;
    s->rc = rc;
    snprintf(s->err, sizeof(s->err), "%s", rc ? err : "");
    if (p)
        snprintf(s->sub, sizeof(s->sub), "%s", p->subscription);
    fanout_drop(s->fo);
}

static cJSON *profile_result(const struct slot *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "accountId", s->id);
    cJSON_AddStringToObject(o, "accountName", s->name);
    cJSON_AddBoolToObject(o, "success", s->probe && s->rc == 0);
    if (s->probe && s->rc == 0)
        cJSON_AddStringToObject(o, "subscriptionType", s->sub);
    else
        cJSON_AddStringToObject(o, "error",
                                s->probe ? s->err
                                         : "not looked up: inactive, marked, without a token "
                                           "or without the user:profile scope");
    return o;
}

static void profiles_reply(struct fanout *fo)
{
    cJSON *d = cJSON_CreateObject(), *results = cJSON_CreateArray();
    size_t ok = 0;
    for (size_t i = 0; i < fo->n; i++) {
        ok += fo->slots[i].probe && fo->slots[i].rc == 0;
        cJSON_AddItemToArray(results, profile_result(&fo->slots[i]));
    }
    cJSON_AddNumberToObject(d, "totalAccounts", (double)fo->n);
    cJSON_AddNumberToObject(d, "successCount", (double)ok);
    cJSON_AddNumberToObject(d, "failureCount", (double)(fo->n - ok));
    cJSON_AddItemToObject(d, "results", results);
    admin_ok(fo->rq, "data", d);
}

/* ---- the usage of every account ---- */

static void usage_slot_done(void *arg, const struct claude_call_result *res)
{
    struct slot *s = arg;
    if (claude_call_ok(res))
        s->view = claude_usage_view(res->body, res->len, (long long)time(NULL) * 1000);
    if (!s->view && claude_call_ok(res))
        snprintf(s->err, sizeof(s->err), "the usage answer is not a JSON object");
    else if (!s->view)
        claude_call_error(res, s->err, sizeof(s->err));
    fanout_drop(s->fo);
}

static void usage_reply(struct fanout *fo)
{
    cJSON *d = cJSON_CreateObject();
    for (size_t i = 0; i < fo->n; i++) {
        struct slot *s = &fo->slots[i];
        cJSON *v = s->view;
        s->view = NULL;
        if (!v && s->probe) {
            v = cJSON_CreateObject();
            cJSON_AddStringToObject(v, "error", s->err);
        }
        cJSON_AddItemToObject(d, s->id, v ? v : cJSON_CreateNull());
    }
    admin_ok(fo->rq, "data", d);
}

static void fanout_reply(struct fanout *fo)
{
    if (fo->usage)
        usage_reply(fo);
    else
        profiles_reply(fo);
}

static int usage_call(struct slot *s)
{
    struct claude_call_req req = {
        .method = "GET",
        .url = s->fo->app->cfg->claude_oauth_usage_url,
        .headers = claude_call_api_headers,
        .bearer = account_field(s->acc, "accessToken"),
        .proxy = s->acc->proxy_url,
        .what = "usage",
    };
    return claude_call(s->fo->app, &req, usage_slot_done, s);
}

/* After the handler returned: start every call, then drop the guard. */
static void fanout_start(void *arg)
{
    struct fanout *fo = arg;
    for (size_t i = 0; i < fo->n; i++) {
        struct slot *s = &fo->slots[i];
        if (!s->probe)
            continue;
        atomic_fetch_add(&fo->left, 1);
        int rc = fo->usage
                     ? usage_call(s)
                     : claude_profile_fetch(fo->app, s->id, account_field(s->acc, "accessToken"),
                                            s->acc->proxy_url, profile_slot_done, s);
        if (rc != 0) {
            s->rc = rc;
            snprintf(s->err, sizeof(s->err), "the relay is shutting down");
            fanout_drop(fo);
        }
    }
    accounts_list_release(fo->snap); /* the calls copied what they need; acc is not used again */
    fo->snap = NULL;
    fanout_drop(fo);
}

static void h_update_all(struct reqctx *rq)
{
    struct fanout *fo = fanout_new(rq, false);
    atomic_init(&fo->left, 1);
    log_info("admin", "profile update of %zu claude-official accounts by %s", fo->n,
             reqctx_admin(rq));
    reqctx_defer(rq, fanout_start, fo);
}

static void h_usage(struct reqctx *rq)
{
    struct fanout *fo = fanout_new(rq, true);
    atomic_init(&fo->left, 1);
    reqctx_defer(rq, fanout_start, fo);
}

#define CLA "/admin/claude-accounts"
const struct route claude_profile_routes[] = {
    {"POST", CLA "/update-all-profiles", h_update_all, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", CLA "/usage", h_usage, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", CLA "/:accountId/update-profile", h_update_profile, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
