/*
 * reqctx.c - per-request state and the accessors handlers use (reqctx.h).
 * Everything a request allocates is released in one place, when its last
 * reference goes (the connection's, dropped by the libmicrohttpd completion
 * callback, or a relay transaction's), right after the access line.
 */
#include "compat.h"
#include "app.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "reqctx_int.h"
#include "secret.h"
#include "xmalloc.h"

#include <poll.h>
#include <strings.h>

void kvlist_add(struct kvlist *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].name = xstrdup(name);
    l->items[l->n].value = xstrdup(value ? value : "");
    l->n++;
}

const char *kvlist_get(const struct kvlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->items[i].name, name) == 0)
            return l->items[i].value;
    return NULL;
}

void kvlist_release(struct kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

struct reqctx *reqctx_new(struct app *app, struct MHD_Connection *conn, const char *method,
                          const char *path, size_t body_max)
{
    struct reqctx *rq = xcalloc(1, sizeof(*rq));
    atomic_init(&rq->refs, 1);
    rq->app = app;
    rq->conn = conn;
    snprintf(rq->method, sizeof(rq->method), "%s", method);
    rq->path = xstrdup(path);
    buf_init(&rq->body, body_max);
    /* 16 hex chars: unique enough to grep, short enough to read. */
    secret_id_hex(rq->id, 8);
    clock_gettime(CLOCK_MONOTONIC, &rq->t0);
    return rq;
}

static long elapsed_ms(const struct reqctx *rq)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - rq->t0.tv_sec) * 1000 + (now.tv_nsec - rq->t0.tv_nsec) / 1000000;
}

static void access_line(const struct reqctx *rq)
{
    if (strcmp(rq->path, "/health") == 0 && rq->status == 200)
        return; /* monitors poll it: keep the log readable */
    log_set_reqid(rq->id);
    log_info("access",
             "%s %s status=%d key=%s account=%s model=%s upstream=%d ms=%ld tokens=%lld "
             "cost=%lld.%06lld%s%s%s%s",
             rq->method, rq->path, rq->status, rq->key_id[0] ? rq->key_id : "-",
             rq->account_id[0] ? rq->account_id : "-", rq->model[0] ? rq->model : "-",
             rq->upstream_status, elapsed_ms(rq), rq->tokens, rq->cost_micro / 1000000,
             rq->cost_micro % 1000000, rq->unpriced ? " unpriced=1" : "",
             rq->attempts[0] ? " attempts=" : "", rq->attempts, rq->aborted ? " aborted=1" : "");
    log_set_reqid(NULL);
}

static void reqctx_free(struct reqctx *rq)
{
    access_line(rq);
    if (rq->status >= 500)
        atomic_fetch_add(&rq->app->stats.errors, 1);
    free(rq->path);
    kvlist_release(&rq->headers);
    kvlist_release(&rq->query);
    kvlist_release(&rq->rheaders);
    buf_release(&rq->body);
    atomic_fetch_sub(&rq->app->stats.body_bytes, (long long)rq->body_counted);
    cJSON_Delete(rq->json);
    free(rq->ctype);
    free(rq->rbody);
    free(rq->admin);
    free(rq);
}

void reqctx_decorate(struct MHD_Response *resp, struct reqctx *rq)
{
    MHD_add_response_header(resp, "X-Request-ID", rq->id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    for (size_t i = 0; i < rq->rheaders.n; i++)
        MHD_add_response_header(resp, rq->rheaders.items[i].name, rq->rheaders.items[i].value);
}

struct reqctx *reqctx_ref(struct reqctx *rq)
{
    atomic_fetch_add(&rq->refs, 1);
    return rq;
}

void reqctx_unref(struct reqctx *rq)
{
    if (rq && atomic_fetch_sub(&rq->refs, 1) == 1)
        reqctx_free(rq);
}

void reqctx_complete(struct reqctx *rq, bool aborted)
{
    rq->aborted = aborted;
    rq->conn = NULL;
    reqctx_unref(rq);
}

int reqctx_client_fd(const struct reqctx *rq)
{
    const union MHD_ConnectionInfo *ci =
        rq->conn ? MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    return ci ? ci->connect_fd : -1;
}

bool reqctx_inline(const struct reqctx *rq)
{
    return rq->inline_run;
}

bool reqctx_client_gone(int fd)
{
    struct pollfd p = {fd, POLLRDHUP, 0};
    return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

struct app *reqctx_app(const struct reqctx *rq)
{
    return rq->app;
}

const char *reqctx_id(const struct reqctx *rq)
{
    return rq->id;
}

const char *reqctx_method(const struct reqctx *rq)
{
    return rq->method;
}

const char *reqctx_path(const struct reqctx *rq)
{
    return rq->path;
}

const char *reqctx_header(const struct reqctx *rq, const char *name)
{
    return kvlist_get(&rq->headers, name);
}

size_t reqctx_header_count(const struct reqctx *rq)
{
    return rq->headers.n;
}

void reqctx_header_at(const struct reqctx *rq, size_t i, const char **name, const char **value)
{
    *name = rq->headers.items[i].name;
    *value = rq->headers.items[i].value;
}

const char *reqctx_query(const struct reqctx *rq, const char *name)
{
    return kvlist_get(&rq->query, name);
}

const char *reqctx_param(const struct reqctx *rq, const char *name)
{
    for (size_t i = 0; i < rq->match.nparams; i++)
        if (strcmp(rq->match.params[i].name, name) == 0)
            return rq->match.params[i].value;
    return NULL;
}

const char *reqctx_body(const struct reqctx *rq, size_t *len)
{
    if (len)
        *len = rq->body.len;
    return rq->body.data ? rq->body.data : "";
}

const struct cJSON *reqctx_json_parsed(const struct reqctx *rq)
{
    return rq->json_done ? rq->json : NULL;
}

struct cJSON *reqctx_json(struct reqctx *rq)
{
    if (!rq->json_done) {
        rq->json_done = true;
        if (rq->body.len)
            rq->json = json_parse(rq->body.data, rq->body.len, JSON_MAX_DEPTH, true);
        /* We would read the first of two same-named members, the upstream the
         * last (a model restriction checked here, bypassed there): refuse. */
        if (json_has_duplicate_keys(rq->json)) {
            cJSON_Delete(rq->json);
            rq->json = NULL;
        }
    }
    return rq->json;
}

const char *reqctx_client_ip(const struct reqctx *rq)
{
    return rq->client_ip;
}

void reqctx_set_header(struct reqctx *rq, const char *name, const char *value)
{
    kvlist_add(&rq->rheaders, name, value);
}

void reqctx_reply(struct reqctx *rq, int status, const char *content_type, char *body, size_t len)
{
    free(rq->rbody);
    free(rq->ctype);
    rq->status = status;
    rq->ctype = xstrdup(content_type ? content_type : "application/json");
    rq->rbody = body;
    rq->rlen = len;
}

void reqctx_reply_json(struct reqctx *rq, int status, struct cJSON *json)
{
    char *text = json_print(json);
    cJSON_Delete(json);
    reqctx_reply(rq, status, "application/json", text, strlen(text));
}

bool reqctx_has_reply(const struct reqctx *rq)
{
    return rq->status != 0;
}

void reqctx_set_admin(struct reqctx *rq, const char *username)
{
    free(rq->admin);
    rq->admin = xstrdup(username);
}

const char *reqctx_admin(const struct reqctx *rq)
{
    return rq->admin;
}

void reqctx_note_key(struct reqctx *rq, const char *key_id)
{
    snprintf(rq->key_id, sizeof(rq->key_id), "%s", key_id ? key_id : "");
}

void reqctx_note_account(struct reqctx *rq, const char *account_id)
{
    snprintf(rq->account_id, sizeof(rq->account_id), "%s", account_id ? account_id : "");
}

void reqctx_note_model(struct reqctx *rq, const char *model)
{
    snprintf(rq->model, sizeof(rq->model), "%s", model ? model : "");
}

void reqctx_note_attempts(struct reqctx *rq, const char *attempts)
{
    snprintf(rq->attempts, sizeof(rq->attempts), "%s", attempts ? attempts : "");
}

void reqctx_note_tokens(struct reqctx *rq, long long tokens)
{
    rq->tokens = tokens;
}

void reqctx_note_cost(struct reqctx *rq, long long micro, bool unpriced)
{
    rq->cost_micro = micro;
    rq->unpriced = unpriced;
}
