/*
 * claude_profile.c - the profile lookup of Claude subscription accounts
 * (see claude_profile.h).
 *
 * DESIGN: the GET runs on httpc (claude_call); the worker that gets the
 * answer parses it and patches only the profile fields of the record
 * (account_record_patch), so a token refresh saving the whole record at the
 * same moment is never overwritten with older tokens. The patch publishes
 * on relay:notify like every record write. Retries come from the snapshot
 * alone: an account is due when it has the profile scope and no
 * subscriptionType; only a due account costs Redis (one SET NX PX), and
 * only the instance that wins it asks the upstream.
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
#include "secret.h"
#include "store.h"
#include "store_keys.h"
#include "xmalloc.h"

#include <time.h>

struct fetch {
    struct app *app;
    char id[37];
    claude_profile_fn done;
    void *arg;
};

static int store_profile(struct app *app, const char *id, const struct claude_profile *p)
{
    char now[32];
    admin_iso_now(now);
    const char *kv[] = {
        "subscriptionType", p->subscription,    "email",     p->email,           "accountUuid",
        p->account_uuid,    "organizationUuid", p->org_uuid, "profileUpdatedAt", now,
    };
    struct rds_conn *c = rds_pool_get(app->redis, 1000);
    if (!c)
        return -ERR_REDIS;
    int rc = account_record_patch(app, c, &provider_claude_official, id, kv, ARRAY_SIZE(kv));
    rds_pool_put(app->redis, c);
    return rc;
}

/* The answer: parsed and stored. 0, or -ERR_* with err. */
static int take_answer(struct fetch *f, const struct claude_call_result *res,
                       struct claude_profile *p, char *err, size_t len)
{
    if (!claude_call_ok(res)) {
        claude_call_error(res, err, len);
        return res->result ? res->result : -ERR_UPSTREAM;
    }
    int rc = claude_profile_parse(res->body, res->len, p, err, len);
    if (rc == 0 && !res->on_worker) {
        snprintf(err, len, "the relay is overloaded");
        rc = -ERR_BUSY;
    }
    if (rc == 0 && (rc = store_profile(f->app, f->id, p)) != 0)
        snprintf(err, len, "the profile could not be stored (%s)", err_str(rc));
    return rc;
}

static void fetch_done(void *arg, const struct claude_call_result *res)
{
    struct fetch *f = arg;
    struct claude_profile p;
    char err[300] = "";
    int rc = take_answer(f, res, &p, err, sizeof(err));
    if (rc == 0)
        log_info("profile", "account %s: subscription %s", f->id, p.subscription);
    else
        log_warn("profile", "account %s: profile lookup failed: %s", f->id, err);
    if (f->done)
        f->done(f->arg, rc, rc == 0 ? &p : NULL, err);
    free(f);
}

int claude_profile_fetch(struct app *app, const char *id, const char *token, const char *proxy,
                         claude_profile_fn done, void *arg)
{
    struct fetch *f = xcalloc(1, sizeof(*f));
    f->app = app;
    snprintf(f->id, sizeof(f->id), "%s", id);
    f->done = done;
    f->arg = arg;
    struct claude_call_req req = {
        .method = "GET",
        .url = app->cfg->claude_oauth_profile_url,
        .headers = claude_call_api_headers,
        .bearer = token,
        .proxy = proxy,
        .what = "profile",
    };
    int rc = claude_call(app, &req, fetch_done, f);
    if (rc != 0)
        free(f);
    return rc;
}

void claude_profile_start(struct app *app, const cJSON *rec)
{
    const struct provider *p = &provider_claude_official;
    if (!claude_scopes_have(json_str(rec, "scopes", ""), CLAUDE_PROFILE_SCOPE))
        return; /* a setup token (user:inference only) has no profile to read */
    char *token = account_unseal(app, p, rec, "accessToken");
    char *proxy = token ? account_proxy_url(app, p, rec) : NULL;
    if (token && claude_profile_fetch(app, json_str(rec, "id", ""), token, proxy, NULL, NULL) != 0)
        log_warn("profile", "account %s: profile lookup not started (shutting down)",
                 json_str(rec, "id", ""));
    secret_free(token);
    secret_free(proxy);
}

/* ---- retries (maintenance) ---- */

static bool is_due(const struct account *a)
{
    const char *sub = account_field(a, "subscriptionType");
    const char *token = account_field(a, "accessToken");
    enum account_state st = account_state(a, (long long)time(NULL) * 1000, NULL);
    return a->prov == &provider_claude_official && a->active && (!sub || !*sub) && token &&
           *token && st != ACC_UNAUTHORIZED && st != ACC_BLOCKED &&
           claude_scopes_have(account_field(a, "scopes"), CLAUDE_PROFILE_SCOPE);
}

/* One instance per account and interval: the one whose SET NX succeeds. */
static bool retry_take(struct app *app, struct rds_conn *c, const char *id)
{
    char key[STORE_KEY_MAX];
    store_key(key, SK_PROFILE_RETRY, id);
    redisReply *r = rds_command(c, "SET %s %s NX PX %lld", key, app->instance_id,
                                app->cfg->claude_profile_retry_s * 1000);
    bool mine = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    return mine;
}

void claude_profile_due(struct app *app, struct rds_conn *c)
{
    struct account_list *l = accounts_snapshot(app->accounts);
    for (size_t i = 0; i < l->n; i++) {
        const struct account *a = l->items[i];
        if (!is_due(a) || !retry_take(app, c, a->id))
            continue;
        log_info("profile", "account %s (%s): trying its profile lookup again", a->id, a->name);
        if (claude_profile_fetch(app, a->id, account_field(a, "accessToken"), a->proxy_url, NULL,
                                 NULL) != 0)
            break; /* shutting down */
    }
    accounts_list_release(l);
}
