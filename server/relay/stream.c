/*
 * stream.c - upstream attempts -> bounded buffer -> libmicrohttpd reader
 * (see stream.h for the contract and the LOCKING rules).
 *
 * DESIGN: a stream has up to four kinds of references: the request
 * (dropped in stream_detach), the owner (stream_release), each running
 * attempt (dropped at the end of its on_done) and the MHD response object
 * (its free callback). Whoever drops the last one frees it, so no thread can
 * see a freed stream.
 *
 * An attempt that is not committed keeps its answer in `out` and `hdrs`;
 * before decide runs, on_done moves both out of the stream, so the owner may
 * start the next attempt from another thread while decide still reads them.
 *
 * The "suspended" flag is set only by the thread that suspends (MHD reader
 * or access handler) and cleared only by whoever resumes, both under the
 * stream mutex: a connection is never resumed twice, or resumed after it
 * completed (platform notes, check 1).
 */
#include "compat.h"
#include "clock.h"
#include "app.h"
#include "errs.h"
#include "jsonseq.h"
#include "log.h"
#include "reqctx_int.h"
#include "stream.h"
#include "xmalloc.h"

#include <pthread.h>
#include <strings.h>
#include <time.h>

#define OUT_HIGH (256 * 1024)       /* pause the upstream above this */
#define OUT_LOW (64 * 1024)         /* resume it below this */
#define BODY_MAX (64 * 1024 * 1024) /* whole non-SSE bodies */
#define SSE_EVENT_MAX (4 * 1024 * 1024)
/* libmicrohttpd allocates this per streamed response, whether it uses it
 * (HTTP/1.0 clients: the size of each read) or not (chunked HTTP/1.1 writes
 * into the connection's pool). At 16 KiB it was a third of a stream's
 * memory (massif, 1,000 slow streams); events are small. */
#define SSE_BLOCK 2048

enum st_phase { SP_WAIT = 0, SP_HEADERS = 1, SP_DONE = 2 };

struct stream {
    pthread_mutex_t mu; /* guards: conn, suspended, armed, phase, committed, out, pending,
                           paused, status, sse, result, overflow, hdrs, reply, xfer */
    atomic_int refs;
    struct app *app;
    struct MHD_Connection *conn;
    bool suspended;
    bool armed; /* the handler returned: the connection may be resumed */
    enum st_phase phase;
    bool committed;
    bool sse;     /* the committed answer is an event stream */
    bool convert; /* the owner converts it (hooks filter / transform_body) */
    int conv_err; /* the filter failed: cut the stream */
    bool overflow;
    bool paused;
    int status;
    int result;
    int cut; /* -ERR_TOOBIG: the relay cut the committed stream itself */
    struct kvlist hdrs;
    struct buf out;
    struct buf pending;
    uint64_t xfer;
    struct sse_parser parser; /* upstream loop thread only */
    struct buf conv;          /* upstream loop thread only: one feed's converted frames */
    /* A streamed JSON array (stream_json_array): committed at its 2xx
     * headers like an event stream, forwarded up to its last complete
     * element. json_array is set under mu before the first attempt and
     * read by the loop thread after it; seq and fwd (bytes forwarded) are
     * the upstream loop thread's only. */
    bool json_array;
    /* stream_collect: every answer, a 2xx too, is buffered up to this
     * many bytes and decided (0: off); set before the first attempt. */
    size_t collect;
    struct jsonseq seq;
    size_t fwd;
    struct stream_hooks hooks;
    void *arg;
    stream_header_fn keep; /* the current attempt's */
    bool has_reply;
    struct stream_reply reply;
    struct stream *prev, *next; /* registry, guards: reg_mu */
    bool wake_queued;           /* in the loop's batch (guards: mu) */
    struct stream *wake_next;   /* upstream loop thread only */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER; /* guards: reg_head */
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
    buf_release(&st->conv);
    sse_release(&st->parser);
    jsonseq_release(&st->seq);
    free(st->reply.body);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Streams the upstream loop's callbacks woke in this round (its thread
 * only): resumed together at the round's end (stream_wake_batch), so the
 * headers, the events and the end of an answer that came in one read cost
 * libmicrohttpd one wake-up and one write instead of three. */
static _Thread_local struct stream *wake_batch;

/* Caller holds st->mu. */
static void wake_locked(struct stream *st)
{
    if (!st->armed || !st->suspended || !st->conn)
        return;
    if (!httpc_on_loop(st->app->httpc)) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    } else if (!st->wake_queued) {
        st->wake_queued = true;
        atomic_fetch_add(&st->refs, 1); /* the batch's, dropped at its end */
        st->wake_next = wake_batch;
        wake_batch = st;
    }
}

void stream_wake_batch(void *unused)
{
    UNUSED(unused);
    struct stream *st = wake_batch;
    wake_batch = NULL;
    while (st) {
        struct stream *next = st->wake_next;
        pthread_mutex_lock(&st->mu);
        st->wake_queued = false;
        if (st->armed && st->suspended && st->conn) { /* may have changed since */
            st->suspended = false;
            MHD_resume_connection(st->conn);
        }
        pthread_mutex_unlock(&st->mu);
        stream_unref(st);
        st = next;
    }
}

static bool is_event_stream(const struct httpc_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].name, "content-type") == 0 && strstr(h[i].value, "text/event-stream"))
            return true;
    return false;
}

static void on_headers(void *arg, int status, const struct httpc_header *h, size_t n)
{
    struct stream *st = arg;
    bool sse =
        !st->collect && status >= 200 && status < 300 && (st->json_array || is_event_stream(h, n));
    /* an event stream (or a streamed JSON array) is committed at its headers */
    bool convert = sse && st->hooks.on_commit(st->arg, status, h, n);
    pthread_mutex_lock(&st->mu);
    st->status = status;
    for (size_t i = 0; i < n; i++)
        kvlist_add(&st->hdrs, h[i].name, h[i].value);
    st->sse = sse;
    st->convert = convert;
    if (sse) {
        st->committed = true;
        st->phase = SP_HEADERS;
        wake_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
}

/* End offset of the last complete SSE event in d[0..len), or 0. Only
 * boundaries ending after `old` are looked for: the bytes before it were
 * searched when they came (a boundary may straddle old). Searching the
 * whole buffer at every chunk made a 4 MB event quadratic: 1,000 chunks
 * of 4 KiB, each scanning megabytes back. */
static size_t last_boundary(const char *d, size_t len, size_t old)
{
    for (size_t i = len; i >= 2 && i > old; i--) {
        if (d[i - 1] == '\n' && d[i - 2] == '\n')
            return i;
        if (i >= 3 && d[i - 1] == '\n' && d[i - 2] == '\r' && d[i - 3] == '\n')
            return i;
    }
    return 0;
}

/* One event larger than SSE_EVENT_MAX: the relay ends the stream itself
 * with an error frame (on_done), instead of passing a truncated event. */
static int cut_stream_locked(struct stream *st)
{
    st->cut = -ERR_TOOBIG;
    buf_reset(&st->pending);
    httpc_cancel(st->app->httpc, st->xfer);
    return 0;
}

static int on_data_sse(struct stream *st, const char *data, size_t len)
{
    pthread_mutex_lock(&st->mu);
    if (st->cut) {
        pthread_mutex_unlock(&st->mu);
        return 0; /* being cancelled: swallow the rest */
    }
    if (st->out.len >= OUT_HIGH) {
        st->paused = true;
        pthread_mutex_unlock(&st->mu);
        return HTTPC_PAUSE;
    }
    size_t old = st->pending.len;
    if (buf_append(&st->pending, data, len) != 0) {
        int rc = cut_stream_locked(st);
        pthread_mutex_unlock(&st->mu);
        return rc;
    }
    size_t end = last_boundary(st->pending.data, st->pending.len, old);
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

/* A converted event stream: the parser feeds the owner's filter, whose
 * frames (not the upstream's bytes) go out; an event over SSE_EVENT_MAX
 * or a failing filter cuts the stream. */
static int on_data_converted(struct stream *st, const char *data, size_t len)
{
    pthread_mutex_lock(&st->mu);
    bool cut = st->cut, full = !cut && st->out.len >= OUT_HIGH;
    if (full)
        st->paused = true;
    pthread_mutex_unlock(&st->mu);
    if (cut)
        return 0; /* being cancelled: swallow the rest */
    if (full)
        return HTTPC_PAUSE;
    int rc = sse_feed(&st->parser, data, len);
    pthread_mutex_lock(&st->mu);
    if (rc != 0 || st->conv_err) {
        cut_stream_locked(st);
    } else if (st->conv.len) {
        if (buf_append(&st->out, st->conv.data, st->conv.len) != 0)
            st->overflow = true;
        wake_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
    buf_reset(&st->conv);
    return 0;
}

static int on_array_element(void *arg, const char *elem, size_t len)
{
    struct stream *st = arg;
    struct sse_event ev = {"", elem, len, ""}; /* an element is what an SSE event's data is */
    st->hooks.on_event(st->arg, &ev);
    if (st->convert && !st->conv_err) /* the owner's elements replace the upstream's */
        st->conv_err = st->hooks.filter(st->arg, &ev, &st->conv);
    return 0;
}

/* A streamed JSON array: the elements go to on_event (outside the lock),
 * the bytes up to the last complete one to the client. Bytes that are no
 * array, or an element over SSE_EVENT_MAX, cut the stream as a huge SSE
 * event does. */
static int on_data_array(struct stream *st, const char *data, size_t len)
{
    pthread_mutex_lock(&st->mu);
    if (st->cut || st->out.len >= OUT_HIGH) {
        st->paused = !st->cut;
        pthread_mutex_unlock(&st->mu);
        return st->cut ? 0 : HTTPC_PAUSE;
    }
    pthread_mutex_unlock(&st->mu);
    int rc = jsonseq_feed(&st->seq, data, len, on_array_element, st);
    pthread_mutex_lock(&st->mu);
    if (rc != 0 || st->conv_err || buf_append(&st->pending, data, len) != 0) {
        cut_stream_locked(st);
        pthread_mutex_unlock(&st->mu);
        buf_reset(&st->conv);
        return 0;
    }
    size_t n = st->seq.boundary - st->fwd;
    if (n) {
        /* converted: the owner's elements instead of these bytes; the
         * upstream's tail (its closing bracket) still ends the array */
        const char *src = st->convert ? st->conv.data : st->pending.data;
        size_t m = st->convert ? st->conv.len : n;
        if (m && buf_append(&st->out, src, m) != 0)
            st->overflow = true;
        buf_consume(&st->pending, n);
        st->fwd += n;
        wake_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
    buf_reset(&st->conv);
    return 0;
}

static int on_data(void *arg, const char *data, size_t len)
{
    struct stream *st = arg;
    if (st->sse && st->json_array)
        return on_data_array(st, data, len);
    if (st->sse && st->convert) /* both written only in on_headers, on this same thread */
        return on_data_converted(st, data, len);
    if (st->sse)
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
    st->hooks.on_event(st->arg, ev);
    if (st->convert && !st->conv_err)
        st->conv_err = st->hooks.filter(st->arg, ev, &st->conv);
    return 0;
}

/* Caller holds st->mu: the committed event stream is over. A clean end
 * passes the held-back tail; a broken one drops its partial last event and
 * ends with the owner's error frame. */
static void end_sse_locked(struct stream *st, char *frame)
{
    if (!frame) {
        if (buf_append(&st->out, st->pending.data, st->pending.len) != 0)
            st->overflow = true;
        buf_reset(&st->pending);
        return;
    }
    buf_reset(&st->pending);
    if (st->json_array) { /* the error is the array's last element */
        char *elem = frame;
        frame = xasprintf("%s%s]", st->seq.count ? ",\r\n" : "[", elem);
        free(elem);
    }
    st->out.max += strlen(frame); /* the frame always fits */
    if (buf_append_str(&st->out, frame) != 0)
        st->overflow = true;
    free(frame);
}

static void finish_committed(struct stream *st, int result)
{
    int code = st->cut ? st->cut : result; /* cut: written on this thread */
    /* A converted stream that ended cleanly but short of its last event
     * (the filter says so) is a broken one: the client gets the frame. */
    if (!code && st->sse && st->convert && st->hooks.filter(st->arg, NULL, &st->conv) != 0)
        code = -ERR_IO;
    /* Made before on_finish: no hook runs after it. */
    char *frame = code ? st->hooks.error_frame(st->arg, code) : NULL;
    st->hooks.on_finish(st->arg, code);
    pthread_mutex_lock(&st->mu);
    st->result = result;
    if (st->sse)
        end_sse_locked(st, frame);
    else
        free(frame);
    st->phase = SP_DONE;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

/* The owner's conversion of a complete body replaces it. No reader runs
 * yet (the answer is not decided), but out is the reader's: under mu. */
static void transform_body(struct stream *st)
{
    size_t len = 0;
    char *body =
        st->hooks.transform_body(st->arg, st->out.data ? st->out.data : "", st->out.len, &len);
    if (!body)
        return;
    pthread_mutex_lock(&st->mu);
    buf_reset(&st->out);
    if (buf_append(&st->out, body, len) != 0)
        st->overflow = true;
    pthread_mutex_unlock(&st->mu);
    free(body);
}

/* A complete 2xx body: commit it. */
static void commit_body(struct stream *st)
{
    struct httpc_header *h = xcalloc(st->hdrs.n + 1, sizeof(*h));
    for (size_t i = 0; i < st->hdrs.n; i++)
        h[i] = (struct httpc_header){st->hdrs.items[i].name, st->hdrs.items[i].value};
    bool convert = st->hooks.on_commit(st->arg, st->status, h, st->hdrs.n);
    free(h);
    st->hooks.on_body(st->arg, st->status, st->out.data ? st->out.data : "", st->out.len);
    if (convert)
        transform_body(st);
    st->hooks.on_finish(st->arg, 0);
    pthread_mutex_lock(&st->mu);
    st->committed = true;
    st->phase = SP_DONE;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

/* The uncommitted answer, moved out of the stream (see DESIGN). */
struct held {
    int status;
    struct buf body;
    struct kvlist hdrs;
    struct httpc_header *h;
};

static void hold_locked(struct stream *st, struct held *held)
{
    held->status = st->status;
    held->body = st->out;
    held->hdrs = st->hdrs;
    buf_init(&st->out, BODY_MAX);
    memset(&st->hdrs, 0, sizeof(st->hdrs));
    held->h = xcalloc(held->hdrs.n + 1, sizeof(*held->h));
    for (size_t i = 0; i < held->hdrs.n; i++)
        held->h[i] = (struct httpc_header){held->hdrs.items[i].name, held->hdrs.items[i].value};
}

static void held_release(struct held *held)
{
    buf_release(&held->body);
    kvlist_release(&held->hdrs);
    free(held->h);
}

/* Put the decided answer (or the owner's reply) in place and finish. */
static void settle(struct stream *st, enum stream_verdict v, struct stream_reply *rep,
                   struct held *held, int result)
{
    pthread_mutex_lock(&st->mu);
    if (v == SV_REPLY) {
        st->reply = *rep;
        st->has_reply = true;
    } else { /* SV_COMMIT: the upstream's own answer */
        st->status = held->status;
        st->out = held->body;
        st->hdrs = held->hdrs;
        memset(&held->body, 0, sizeof(held->body));
        memset(&held->hdrs, 0, sizeof(held->hdrs));
        st->committed = true;
    }
    st->result = result;
    st->phase = SP_DONE;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
    st->hooks.on_finish(st->arg, result);
}

static void decide_uncommitted(struct stream *st, int result)
{
    struct held held;
    pthread_mutex_lock(&st->mu);
    bool gone = !st->conn;
    if (!result && st->overflow)
        result = -ERR_TOOBIG; /* a body over BODY_MAX is no usable answer */
    hold_locked(st, &held);
    pthread_mutex_unlock(&st->mu);
    if (gone) { /* nobody to answer: the owner just finishes */
        held_release(&held);
        st->hooks.on_finish(st->arg, -ERR_CLOSED);
        return;
    }
    struct upstream_answer ans = {.status = result ? 0 : held.status,
                                  .result = result,
                                  .headers = held.h,
                                  .nheaders = held.hdrs.n,
                                  .body = held.body.data ? held.body.data : "",
                                  .body_len = held.body.len,
                                  .now_ms = clock_wall_ms()};
    struct stream_reply rep = {0};
    enum stream_verdict v = st->hooks.decide(st->arg, &ans, &rep);
    if (v != SV_RETRY)
        settle(st, v, &rep, &held, result);
    held_release(&held);
}

static void on_done(void *arg, int result, const char *msg)
{
    struct stream *st = arg;
    UNUSED(msg);
    pthread_mutex_lock(&st->mu);
    bool committed = st->committed;
    bool ok_body =
        result == 0 && !st->overflow && !st->collect && st->status >= 200 && st->status < 300;
    pthread_mutex_unlock(&st->mu);
    if (committed)
        finish_committed(st, result);
    else if (ok_body)
        commit_body(st);
    else
        decide_uncommitted(st, result);
    stream_unref(st);
}

static const struct httpc_callbacks stream_cb = {on_headers, on_data, on_done};

struct stream *stream_new(struct reqctx *rq, const struct stream_hooks *hooks, void *arg)
{
    struct stream *st = xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->mu, NULL);
    atomic_init(&st->refs, 2); /* the request and the owner */
    st->app = rq->app;
    st->conn = rq->conn;
    st->suspended = true; /* httpd suspended it before running the handler */
    st->hooks = *hooks;
    st->arg = arg;
    buf_init(&st->out, BODY_MAX);
    buf_init(&st->pending, SSE_EVENT_MAX);
    buf_init(&st->conv, 2 * SSE_EVENT_MAX);
    sse_init(&st->parser, SSE_EVENT_MAX, on_sse_event, st);
    jsonseq_init(&st->seq, SSE_EVENT_MAX);
    atomic_fetch_add(&rq->app->stats.active_streams, 1);
    pthread_mutex_lock(&reg_mu);
    st->next = reg_head;
    if (reg_head)
        reg_head->prev = st;
    reg_head = st;
    pthread_mutex_unlock(&reg_mu);
    rq->stream = st;
    atomic_store(&rq->phase, RQ_STREAM);
    return st;
}

static void reset_attempt_locked(struct stream *st)
{
    buf_reset(&st->out);
    buf_reset(&st->pending);
    kvlist_release(&st->hdrs);
    sse_reset(&st->parser);
    buf_reset(&st->conv); /* the upstream loop is done with the last attempt */
    jsonseq_release(&st->seq);
    jsonseq_init(&st->seq, SSE_EVENT_MAX);
    st->fwd = 0;
    st->status = 0;
    st->sse = false;
    st->convert = false;
    st->conv_err = 0;
    st->overflow = false;
    st->paused = false;
}

int stream_attempt(struct stream *st, const struct httpc_request *req, stream_header_fn keep)
{
    int rc = -ERR_CLOSED;
    pthread_mutex_lock(&st->mu);
    if (st->conn && !atomic_load(&reg_closing)) {
        reset_attempt_locked(st);
        if (st->collect)
            st->out.max = st->collect;
        st->keep = keep;
        atomic_fetch_add(&st->refs, 1); /* the attempt's */
        st->xfer = httpc_submit(st->app->httpc, req, &stream_cb, st);
        if (st->xfer)
            rc = 0;
        else
            atomic_fetch_sub(&st->refs, 1); /* the loop has stopped; refs stay >= 2 */
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void stream_json_array(struct stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->json_array = true;
    pthread_mutex_unlock(&st->mu);
}

void stream_collect(struct stream *st, size_t max)
{
    pthread_mutex_lock(&st->mu);
    st->collect = max;
    pthread_mutex_unlock(&st->mu);
}

void stream_reply(struct stream *st, struct stream_reply *reply)
{
    pthread_mutex_lock(&st->mu);
    free(st->reply.body);
    st->reply = *reply;
    st->has_reply = true;
    st->phase = SP_DONE;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

void stream_release(struct stream *st)
{
    stream_unref(st);
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

static void add_kept_headers(struct stream *st, struct MHD_Response *resp)
{
    for (size_t i = 0; i < st->hdrs.n; i++)
        if (st->keep && st->keep(st->hdrs.items[i].name))
            MHD_add_response_header(resp, st->hdrs.items[i].name, st->hdrs.items[i].value);
}

static struct MHD_Response *reply_response_locked(struct stream *st, struct reqctx *rq)
{
    struct stream_reply *r = &st->reply;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
                                        r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    r->body = NULL; /* owned by the response now */
    if (r->content_type)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    if (r->should_retry)
        MHD_add_response_header(resp, "x-should-retry", r->should_retry);
    if (r->retry_after)
        MHD_add_response_header(resp, "retry-after", r->retry_after);
    rq->status = r->status;
    return resp;
}

/* Caller holds st->mu; the answer is decided (phase DONE) or an event
 * stream is committed. */
static struct MHD_Response *build_response_locked(struct stream *st, struct reqctx *rq)
{
    struct MHD_Response *resp;
    rq->upstream_status = st->status;
    if (st->has_reply)
        return reply_response_locked(st, rq);
    if (st->sse) {
        atomic_fetch_add(&st->refs, 1);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, stream_reader, st,
                                                 stream_response_free);
        add_kept_headers(st, resp);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        rq->status = 200;
        return resp;
    }
    resp = MHD_create_response_from_buffer(st->out.len, st->out.data ? st->out.data : (char *)"",
                                           MHD_RESPMEM_MUST_COPY);
    add_kept_headers(st, resp);
    rq->status = st->status ? st->status : 502;
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
    reqctx_decorate(resp, rq);
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
    uint64_t xfer = st->xfer;
    pthread_mutex_unlock(&st->mu);
    if (running && xfer)
        httpc_cancel(st->app->httpc, xfer);
    stream_unref(st);
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
