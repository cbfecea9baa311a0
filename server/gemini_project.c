/*
 * gemini_project.c - the loadCodeAssist side call that gives a project-less
 * gemini account its tempProjectId (see gemini_project.h).
 *
 * DESIGN: not per request and no thread waits: the side call (claude_call,
 * on httpc) runs only after a token save of an account without a project,
 * the worker that gets the answer reads the project with the provider's
 * own parser (gemini_answered_project, the one the learn_body hook uses)
 * and patches that one field (account_record_patch: HSET only if the record
 * still exists, then the notify). A failure is logged and left: the next
 * refresh asks again, and the client's own loadCodeAssist through the
 * relay teaches it too. An account whose user must still be onboarded has
 * no project in the answer; onboardUser (through the relay) teaches it.
 */
#include "compat.h"
#include "account_record.h"
#include "accounts.h"
#include "app.h"
#include "claude_call.h"
#include "config.h"
#include "gemini_project.h"
#include "gemini_oauth.h"
#include "json.h"
#include "log.h"
#include "provider.h"
#include "rds.h"
#include "secret.h"
#include "xmalloc.h"

#define PROJECT_MAX 201

/* What Gemini CLI sends first (its client metadata, no project yet). */
static const char load_body[] =
    "{\"metadata\":{\"ideType\":\"IDE_UNSPECIFIED\",\"platform\":\"PLATFORM_UNSPECIFIED\","
    "\"pluginType\":\"GEMINI\"}}";

struct load {
    struct app *app;
    char id[37];
};

/* The answer's project stored; "" or what went wrong in err. */
static void store_project(struct load *l, const struct claude_call_result *res, char *project,
                          size_t plen, char *err, size_t elen)
{
    if (!claude_call_ok(res)) {
        claude_call_error(res, err, elen);
        return;
    }
    if (!gemini_answered_project(res->body, res->len, project, plen)) {
        snprintf(err, elen, "the answer names no project (the user is not onboarded yet)");
        return;
    }
    struct rds_conn *c = res->on_worker ? rds_pool_get(l->app->redis, 1000) : NULL;
    const char *kv[] = {"tempProjectId", project};
    if (!c)
        snprintf(err, elen, "no worker or Redis to store it");
    else if (account_record_patch(l->app, c, &provider_gemini_oauth, l->id, kv, 2) != 0)
        snprintf(err, elen, "the project could not be stored");
    if (c)
        rds_pool_put(l->app->redis, c);
}

static void load_done(void *arg, const struct claude_call_result *res)
{
    struct load *l = arg;
    char project[PROJECT_MAX] = "", err[300] = "";
    store_project(l, res, project, sizeof(project), err, sizeof(err));
    if (*err)
        log_warn("gemini", "account %s: loadCodeAssist: %s", l->id, err);
    else
        log_info("gemini", "account %s: Code Assist project %s (tempProjectId)", l->id, project);
    free(l);
}

static bool has_project(const cJSON *rec)
{
    return *json_str(rec, "projectId", "") || *json_str(rec, "tempProjectId", "");
}

void gemini_project_start(struct app *app, const cJSON *rec)
{
    const struct provider *p = &provider_gemini_oauth;
    if (has_project(rec))
        return;
    char *token = account_unseal(app, p, rec, "accessToken");
    if (!token)
        return;
    char *proxy = account_proxy_url(app, p, rec);
    char *auth = xasprintf("Authorization: Bearer %s", token);
    char *url = xasprintf("%s/v1internal:loadCodeAssist", app->cfg->gemini_code_assist_url);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", auth,
                             NULL};
    struct load *l = xcalloc(1, sizeof(*l));
    l->app = app;
    snprintf(l->id, sizeof(l->id), "%s", json_str(rec, "id", ""));
    struct claude_call_req req = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = load_body,
        .proxy = proxy,
        .what = "loadCodeAssist",
    };
    if (claude_call(app, &req, load_done, l) != 0) {
        log_warn("gemini", "account %s: loadCodeAssist not started (shutting down)", l->id);
        free(l);
    }
    secret_free(auth); /* claude_call copied it */
    secret_free(token);
    secret_free(proxy);
    free(url);
}
