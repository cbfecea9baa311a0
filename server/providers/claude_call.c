/*
 * claude_call.c - a side call to one of Claude's OAuth endpoints (see
 * claude_call.h).
 * DESIGN: httpc runs the request on the upstream loop; the answer is
 * collected there (bounded) and handed to a worker, which may use Redis.
 * The token, profile and usage calls differ only in method, URL, headers
 * and body, so they share this one path.
 */
#include "compat.h"
#include "app.h"
#include "buf.h"
#include "claude_call.h"
#include "config.h"
#include "errs.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "tpool.h"
#include "xmalloc.h"

#include <sodium.h>

#define CALL_TIMEOUT_MS 30000
#define CALL_ANSWER_MAX (64 * 1024)
#define CALL_HEADERS_MAX 16
#define OAUTH_BETA "anthropic-beta: oauth-2025-04-20"

const char *const claude_call_api_headers[] = {
    "Accept: application/json",
    "User-Agent: claude-cli/1.0.56 (external, cli)",
    NULL,
};

struct call {
    struct app *app;
    claude_call_fn done;
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
    struct claude_call_result res = {c->result, c->status, c->body.data ? c->body.data : "",
                                     c->body.len, on_worker};
    c->done(c->arg, &res);
    /* A token answer holds tokens. */
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
        log_warn("oauth", "OAuth endpoint transfer failed: %s", msg ? msg : "?");
        c->result = result;
    }
    if (tpool_submit(c->app->workers, finish_job, c) != 0) {
        c->result = -ERR_BUSY;
        finish(c, false);
    }
}

/* The header lines: the caller's, then (with a bearer) Authorization and
 * the OAuth beta. *auth gets the Authorization line (caller wipes it). */
static size_t build_headers(const struct claude_call_req *req, const char **out, char **auth)
{
    size_t n = 0;
    for (size_t i = 0; req->headers && req->headers[i] && n < CALL_HEADERS_MAX - 3; i++)
        out[n++] = req->headers[i];
    *auth = NULL;
    if (req->bearer) {
        *auth = xasprintf("Authorization: Bearer %s", req->bearer);
        out[n++] = *auth;
        out[n++] = OAUTH_BETA;
    }
    out[n] = NULL;
    return n;
}

int claude_call(struct app *app, const struct claude_call_req *req, claude_call_fn done, void *arg)
{
    const char *headers[CALL_HEADERS_MAX];
    char *auth = NULL;
    build_headers(req, headers, &auth);
    struct call *c = xcalloc(1, sizeof(*c));
    c->app = app;
    c->done = done;
    c->arg = arg;
    buf_init(&c->body, CALL_ANSWER_MAX);
    struct httpc_request hr = {
        .method = req->method,
        .url = req->url,
        .headers = headers,
        .body = req->body,
        .body_len = req->body ? strlen(req->body) : 0,
        .proxy = req->proxy,
        .connect_timeout_ms = (long)app->cfg->upstream_connect_timeout_ms,
        .timeout_ms = CALL_TIMEOUT_MS,
        .watch_fd = -1,
    };
    static const struct httpc_callbacks cb = {on_headers, on_data, on_done};
    uint64_t id = httpc_submit(app->httpc, &hr, &cb, c); /* copies everything */
    if (auth) {
        sodium_memzero(auth, strlen(auth));
        free(auth);
    }
    if (id == 0) {
        buf_release(&c->body);
        free(c);
        return -ERR_CLOSED;
    }
    log_debug("oauth", "%s call started", req->what ? req->what : "OAuth");
    return 0;
}

bool claude_call_ok(const struct claude_call_result *res)
{
    return res->result == 0 && res->status >= 200 && res->status <= 299;
}

void claude_call_error(const struct claude_call_result *res, char *out, size_t len)
{
    if (res->result != 0 && res->status == 0) {
        snprintf(out, len, "unreachable (%s)", err_str(res->result));
        return;
    }
    cJSON *j = json_parse(res->body, res->len, 8, true);
    const cJSON *e = cJSON_GetObjectItem(j, "error");
    const char *code = cJSON_IsString(e) ? e->valuestring : json_str(e, "type", "error");
    const char *desc = json_str(j, "error_description", json_str(e, "message", ""));
    snprintf(out, len, "%d %.60s%s%.160s", res->status, code, *desc ? ": " : "", desc);
    cJSON_Delete(j);
}
