/*
 * stream.c - upstream transfer -> bounded buffer -> libmicrohttpd reader
 * (see stream.h for the contract and the LOCKING rules).
 *
 * DESIGN: a stream has up to three references: the request (dropped in
 * stream_detach), the transfer (dropped after on_finish) and the MHD
 * response object (dropped by its free callback). Whoever drops the last
 * one frees it, so no thread can see a freed stream.
 *
 * The "suspended" flag is set only by the thread that suspends (MHD reader
 * or access handler) and cleared only by whoever resumes, both under the
 * stream mutex: a connection is never resumed twice, or resumed after it
 * completed (platform notes, check 1).
 */
#include "compat.h"
#include "app.h"
#include "errors.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "reqctx_int.h"
#include "stream.h"
#include "httpd.h"
#include "xmalloc.h"

#include <pthread.h>

#define OUT_HIGH (256 * 1024)       /* pause the upstream above this */
#define OUT_LOW (64 * 1024)         /* resume it below this */
#define BODY_MAX (64 * 1024 * 1024) /* whole non-SSE bodies */
#define SSE_EVENT_MAX (8 * 1024 * 1024)

enum st_phase { SP_WAIT = 0, SP_HEADERS = 1, SP_DONE = 2 };

struct stream {
    pthread_mutex_t mu; /* guards: conn, suspended, phase, out, pending, paused, status,
                           sse, result, overflow, hdrs */
    atomic_int refs;
    struct app *app;
    struct MHD_Connection *conn;
    bool suspended;
    bool armed; /* the handler returned: the connection may be resumed */
    enum st_phase phase;
    bool sse;
    bool overflow;
    bool paused;
    int status;
    int result;
    long long tokens;
    struct kvlist hdrs;
    struct buf out;
    struct buf pending;
    uint64_t xfer;
    struct sse_parser parser; /* upstream loop thread only */
    struct stream_hooks hooks;
    void *arg;
    struct stream *prev, *next; /* registry, guards: reg_mu */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER; /* guards: reg_head, reg_closing */
static struct stream *reg_head;
static atomic_bool reg_closing;

static void stream_unref(struct stream *st)
{
    if (atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    pthread_mutex_lock(&reg_mu);
    if (st->prev)
        st->prev->next = st->next;
    else
        reg_head = st->next;
    if (st->next)
        st->next->prev = st->prev;
    pthread_mutex_unlock(&reg_mu);
    atomic_fetch_sub(&st->app->stats.active_streams, 1);
    kvlist_release(&st->hdrs);
    buf_release(&st->out);
    buf_release(&st->pending);
    sse_release(&st->parser);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Caller holds st->mu. */
static void wake_locked(struct stream *st)
{
    if (st->armed && st->suspended && st->conn) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
}

static bool passthrough_header(const char *name)
{
    static const char *const keep[] = {"content-type", "request-id", "retry-after",
                                       "x-should-retry"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        if (strcasecmp(name, keep[i]) == 0)
            return true;
    return strncasecmp(name, "anthropic-ratelimit-", 20) == 0;
}

static void on_headers(void *arg, int status, const struct httpc_header *h, size_t n)
{
    struct stream *st = arg;
    pthread_mutex_lock(&st->mu);
    st->status = status;
    for (size_t i = 0; i < n; i++) {
        if (passthrough_header(h[i].name))
            kvlist_add(&st->hdrs, h[i].name, h[i].value);
        if (strcasecmp(h[i].name, "content-type") == 0 && strstr(h[i].value, "text/event-stream"))
            st->sse = status == 200;
    }
    st->phase = SP_HEADERS;
    if (st->sse)
        wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

/* End offset of the last complete SSE event in d[0..len), or 0. */
static size_t last_boundary(const char *d, size_t len)
{
    for (size_t i = len; i >= 2; i--) {
        if (d[i - 1] == '\n' && d[i - 2] == '\n')
            return i;
        if (i >= 3 && d[i - 1] == '\n' && d[i - 2] == '\r' && d[i - 3] == '\n')
            return i;
    }
    return 0;
}

static int on_data_sse(struct stream *st, const char *data, size_t len)
{
    pthread_mutex_lock(&st->mu);
    if (st->out.len >= OUT_HIGH) {
        st->paused = true;
        pthread_mutex_unlock(&st->mu);
        return HTTPC_PAUSE;
    }
    size_t old = st->pending.len;
    if (buf_append(&st->pending, data, len) != 0) {
        st->overflow = true; /* one event over SSE_EVENT_MAX: drop, report at the end */
        buf_reset(&st->pending);
    }
    size_t end = st->pending.len > old ? last_boundary(st->pending.data, st->pending.len) : 0;
    if (end) {
        if (buf_append(&st->out, st->pending.data, end) != 0)
            st->overflow = true;
        buf_consume(&st->pending, end);
        wake_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
    if (sse_feed(&st->parser, data, len) != 0)
        sse_reset(&st->parser);
    return 0;
}

static int on_data(void *arg, const char *data, size_t len)
{
    struct stream *st = arg;
    if (st->sse) /* written only in on_headers, on this same thread */
        return on_data_sse(st, data, len);
    pthread_mutex_lock(&st->mu);
    if (buf_append(&st->out, data, len) != 0)
        st->overflow = true;
    pthread_mutex_unlock(&st->mu);
    return 0;
}

static int on_sse_event(void *arg, const struct sse_event *ev)
{
    struct stream *st = arg;
    if (st->hooks.on_event)
        st->hooks.on_event(st->arg, ev);
    return 0;
}

/* Caller holds st->mu: a stream that already sent events ends with an error
 * frame; its partial last event is dropped. */
static void end_sse_with_error_locked(struct stream *st, int result)
{
    buf_reset(&st->pending);
    enum relay_err e = result == -ERR_TIMEOUT ? RERR_UPSTREAM_TIMEOUT : RERR_UPSTREAM_BROKEN;
    char *frame =
        errors_sse_frame(e, result == -ERR_TIMEOUT ? "Upstream timed out mid-stream"
                                                   : "Upstream connection lost mid-stream");
    st->out.max += strlen(frame); /* the frame always fits */
    if (buf_append_str(&st->out, frame) != 0)
        st->overflow = true;
    free(frame);
}

static void on_done(void *arg, int result, const char *msg)
{
    struct stream *st = arg;
    if (result == 0 && !st->sse && st->hooks.on_body && !st->overflow)
        st->hooks.on_body(st->arg, st->status, st->out.data ? st->out.data : "", st->out.len);
    if (result != 0 && result != -ERR_CLOSED)
        log_warn("stream", "upstream transfer failed: %s (%s)", err_str(result), msg);
    long long tokens = st->hooks.on_finish ? st->hooks.on_finish(st->arg, st->status, result) : 0;
    pthread_mutex_lock(&st->mu);
    st->tokens = tokens;
    st->result = result;
    if (st->sse && result == 0 && st->pending.len) {
        if (buf_append(&st->out, st->pending.data, st->pending.len) != 0)
            st->overflow = true;
        buf_reset(&st->pending);
    } else if (st->sse && result != 0) {
        end_sse_with_error_locked(st, result);
    }
    st->phase = SP_DONE;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
    stream_unref(st);
}

static const struct httpc_callbacks stream_cb = {on_headers, on_data, on_done};

void stream_start(struct reqctx *rq, const struct httpc_request *req,
                  const struct stream_hooks *hooks, void *arg)
{
    struct stream *st = xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->mu, NULL);
    atomic_init(&st->refs, 2); /* the request and the transfer */
    st->app = rq->app;
    st->conn = rq->conn;
    st->suspended = true; /* httpd suspended it before running the handler */
    st->hooks = *hooks;
    st->arg = arg;
    buf_init(&st->out, BODY_MAX);
    buf_init(&st->pending, SSE_EVENT_MAX);
    sse_init(&st->parser, SSE_EVENT_MAX, on_sse_event, st);
    atomic_fetch_add(&rq->app->stats.active_streams, 1);
    pthread_mutex_lock(&reg_mu);
    st->next = reg_head;
    if (reg_head)
        reg_head->prev = st;
    reg_head = st;
    pthread_mutex_unlock(&reg_mu);
    rq->stream = st;
    atomic_store(&rq->phase, RQ_STREAM);
    st->xfer = httpc_submit(rq->app->httpc, req, &stream_cb, st);
}

void stream_arm(struct stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->armed = true;
    if (st->phase == SP_DONE || (st->phase == SP_HEADERS && st->sse))
        wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct stream *st = cls;
    UNUSED(pos);
    bool resume = false;
    ssize_t rc;
    pthread_mutex_lock(&st->mu);
    if (st->out.len) {
        size_t n = st->out.len < max ? st->out.len : max;
        memcpy(out, st->out.data, n);
        buf_consume(&st->out, n);
        resume = st->paused && st->out.len < OUT_LOW;
        if (resume)
            st->paused = false;
        rc = (ssize_t)n;
    } else if (st->phase == SP_DONE) {
        rc = st->overflow ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    } else if (atomic_load(&reg_closing) || !st->conn) {
        rc = MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        st->suspended = true;
        MHD_suspend_connection(st->conn);
        rc = 0;
    }
    pthread_mutex_unlock(&st->mu);
    if (resume)
        httpc_resume(st->app->httpc, st->xfer);
    return rc;
}

static void stream_response_free(void *cls)
{
    stream_unref(cls);
}

static enum relay_err result_error(int result)
{
    switch (result) {
    case -ERR_TIMEOUT:
        return RERR_UPSTREAM_TIMEOUT;
    case -ERR_UPSTREAM:
        return RERR_UPSTREAM_CONNECT;
    default:
        return RERR_UPSTREAM_BROKEN;
    }
}

static void add_headers(struct MHD_Response *resp, const struct kvlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        MHD_add_response_header(resp, l->items[i].name, l->items[i].value);
}

/* Caller holds st->mu; the transfer is over or the SSE headers are known. */
static struct MHD_Response *build_response_locked(struct stream *st, struct reqctx *rq)
{
    struct MHD_Response *resp;
    rq->upstream_status = st->status;
    if (st->sse) {
        atomic_fetch_add(&st->refs, 1);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, st,
                                                 stream_response_free);
        add_headers(resp, &st->hdrs);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        rq->status = 200;
        return resp;
    }
    if (st->result != 0 || st->overflow || st->status < 100) {
        enum relay_err e = st->overflow ? RERR_UPSTREAM_BROKEN : result_error(st->result);
        reqctx_set_header(rq, "x-should-retry", "true");
        struct cJSON *body = errors_body(e, NULL);
        char *text = json_print(body);
        cJSON_Delete(body);
        rq->status = errors_status(e);
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        return resp;
    }
    resp = MHD_create_response_from_buffer(st->out.len, st->out.data ? st->out.data : (char *)"",
                                           MHD_RESPMEM_MUST_COPY);
    add_headers(resp, &st->hdrs);
    rq->status = st->status;
    return resp;
}

enum MHD_Result stream_respond(struct stream *st, struct reqctx *rq)
{
    pthread_mutex_lock(&st->mu);
    bool ready = st->phase == SP_DONE || (st->phase == SP_HEADERS && st->sse);
    if (!ready) {
        st->suspended = true;
        MHD_suspend_connection(st->conn);
        pthread_mutex_unlock(&st->mu);
        return MHD_YES;
    }
    struct MHD_Response *resp = build_response_locked(st, rq);
    pthread_mutex_unlock(&st->mu);
    httpd_decorate(resp, rq);
    enum MHD_Result r = MHD_queue_response(rq->conn, (unsigned)rq->status, resp);
    MHD_destroy_response(resp);
    atomic_store(&rq->phase, RQ_SENT);
    return r;
}

void stream_detach(struct stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->conn = NULL;
    st->suspended = false;
    bool running = st->phase != SP_DONE;
    pthread_mutex_unlock(&st->mu);
    if (running)
        httpc_cancel(st->app->httpc, st->xfer);
    stream_unref(st);
}

long long stream_tokens(struct stream *st)
{
    pthread_mutex_lock(&st->mu);
    long long t = st->tokens;
    pthread_mutex_unlock(&st->mu);
    return t;
}

void stream_shutdown_all(void)
{
    atomic_store(&reg_closing, true);
    pthread_mutex_lock(&reg_mu);
    for (struct stream *st = reg_head; st; st = st->next) {
        pthread_mutex_lock(&st->mu);
        wake_locked(st);
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}
