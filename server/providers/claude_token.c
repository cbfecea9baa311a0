/*
 * claude_token.c - the OAuth token endpoint (see claude_token.h).
 * DESIGN: httpc runs the POST on the upstream loop; the answer is collected
 * there (bounded) and handed to a worker, which may use Redis.
 */
#include "compat.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "buf.h"
#include "claude_token.h"
#include "config.h"
#include "errs.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "secret.h"
#include "tpool.h"
#include "xmalloc.h"

#include <sodium.h>

#define TOKEN_TIMEOUT_MS 30000
#define TOKEN_ANSWER_MAX (64 * 1024)

struct call {
    struct app *app;
    claude_token_fn done;
    void *arg;
    int status;
    int result;
    struct buf body;
};

static void on_headers(void *arg, int status, const struct httpc_header *h, size_t n)
{
    struct call *c = arg;
    UNUSED(h), UNUSED(n);
    c->status = status;
}

static int on_data(void *arg, const char *data, size_t len)
{
    struct call *c = arg;
    if (buf_append(&c->body, data, len) != 0)
        c->result = -ERR_TOOBIG; /* the rest is dropped; judged as a failure */
    return 0;
}

static void finish(struct call *c, bool on_worker)
{
    struct claude_token_result res = {c->result, c->status, c->body.data ? c->body.data : "",
                                      c->body.len, on_worker};
    c->done(c->arg, &res);
    /* The answer may hold tokens. */
    if (c->body.data)
        sodium_memzero(c->body.data, c->body.len);
    buf_release(&c->body);
    free(c);
}

static void finish_job(void *arg)
{
    finish(arg, true);
}

static void on_done(void *arg, int result, const char *msg)
{
    struct call *c = arg;
    if (result != 0) {
        log_warn("oauth", "token endpoint transfer failed: %s", msg ? msg : "?");
        c->result = result;
    }
    if (tpool_submit(c->app->workers, finish_job, c) != 0) {
        c->result = -ERR_BUSY;
        finish(c, false);
    }
}

int claude_token_call(struct app *app, const char *body, const char *proxy, claude_token_fn done,
                      void *arg)
{
    static const char *const headers[] = {
        "Content-Type: application/json",
        "User-Agent: claude-cli/1.0.56 (external, cli)",
        "Accept: application/json, text/plain, */*",
        "Accept-Language: en-US,en;q=0.9",
        "Referer: https://claude.ai/",
        "Origin: https://claude.ai",
        NULL,
    };
    struct call *c = xcalloc(1, sizeof(*c));
    c->app = app;
    c->done = done;
    c->arg = arg;
    buf_init(&c->body, TOKEN_ANSWER_MAX);
    struct httpc_request req = {
        .method = "POST",
        .url = app->cfg->claude_oauth_token_url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .proxy = proxy,
        .connect_timeout_ms = (long)app->cfg->upstream_connect_timeout_ms,
        .timeout_ms = TOKEN_TIMEOUT_MS,
        .watch_fd = -1,
    };
    static const struct httpc_callbacks cb = {on_headers, on_data, on_done};
    if (httpc_submit(app->httpc, &req, &cb, c) == 0) {
        buf_release(&c->body);
        free(c);
        return -ERR_CLOSED;
    }
    return 0;
}

static char *dup_str(const cJSON *o, const char *name)
{
    const char *v = json_str(o, name, "");
    return *v ? xstrdup(v) : NULL;
}

int claude_tokens_parse(const char *body, size_t len, long long now_ms, struct claude_tokens *out,
                        char *err, size_t errlen)
{
    cJSON *j = json_parse(body, len, 16, true);
    const cJSON *exp = cJSON_GetObjectItem(j, "expires_in");
    struct claude_tokens t = {0};
    int rc = -ERR_PARSE;
    t.access = dup_str(j, "access_token");
    if (!t.access || strlen(t.access) > 8192) {
        snprintf(err, errlen, "the token answer has no access_token");
    } else if (!cJSON_IsNumber(exp) || exp->valuedouble <= 0 || exp->valuedouble > 1e9) {
        snprintf(err, errlen, "the token answer has no valid expires_in");
    } else {
        t.refresh = dup_str(j, "refresh_token");
        t.expires_at_ms = (now_ms / 1000 + (long long)exp->valuedouble) * 1000;
        snprintf(t.scopes, sizeof(t.scopes), "%s", json_str(j, "scope", ""));
        const cJSON *org = cJSON_GetObjectItem(j, "organization");
        snprintf(t.organization, sizeof(t.organization), "%s",
                 json_str(org, "name", json_str(org, "uuid", "")));
        rc = 0;
    }
    cJSON_Delete(j);
    if (rc != 0)
        claude_tokens_release(&t);
    else
        *out = t;
    return rc;
}

void claude_token_error(const struct claude_token_result *res, char *out, size_t len)
{
    if (res->result != 0 && res->status == 0) {
        snprintf(out, len, "token endpoint unreachable (%s)", err_str(res->result));
        return;
    }
    cJSON *j = json_parse(res->body, res->len, 8, true);
    const cJSON *e = cJSON_GetObjectItem(j, "error");
    const char *code = cJSON_IsString(e) ? e->valuestring : json_str(e, "type", "error");
    const char *desc = json_str(j, "error_description", json_str(e, "message", ""));
    snprintf(out, len, "%d %.60s%s%.160s", res->status, code, *desc ? ": " : "", desc);
    cJSON_Delete(j);
}

int claude_tokens_store(const struct app *app, cJSON *rec, const struct claude_tokens *t)
{
    const struct provider *p = &provider_claude_official;
    char num[24], now[32];
    if (account_seal(app, p, rec, "accessToken", t->access) != 0 ||
        (t->refresh && account_seal(app, p, rec, "refreshToken", t->refresh) != 0))
        return -ERR_CRYPTO;
    snprintf(num, sizeof(num), "%lld", t->expires_at_ms);
    json_set_str(rec, "expiresAt", num);
    json_set_str(rec, "scopes", t->scopes);
    json_set_str(rec, "organization", t->organization);
    admin_iso_now(now);
    json_set_str(rec, "lastRefreshAt", now);
    return 0;
}

void claude_tokens_release(struct claude_tokens *t)
{
    secret_free(t->access);
    secret_free(t->refresh);
    memset(t, 0, sizeof(*t));
}
