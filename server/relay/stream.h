/*
 * stream.h - the client response of one relayed request, fed by one or
 * more upstream attempts in turn.
 *
 * An attempt's answer is committed - passed to the client - only when the
 * owner says so: a 2xx event stream at its headers (each complete SSE event
 * is then forwarded as it arrives; a partial event is held back), a 2xx
 * body when it is complete. Anything else (an error status, a transfer that
 * failed before commit) is buffered, bounded, and handed to the owner's
 * decide hook, which either lets it through, replaces it, or asks for
 * another attempt - nothing has reached the client yet, so a retry costs
 * nothing. After commit a failure is an in-stream error frame made by the
 * owner, never a retry. The stream knows no API: headers to keep, error
 * frames, replacement replies and conversions (an event filter and a body
 * transform, when the owner asks for them at commit) come from the hooks.
 *
 * The buffer is bounded: when the client reads slower than the upstream
 * writes, the transfer is paused. A client disconnect cancels the transfer.
 *
 * LOCKING: each stream has a mutex guarding its buffers, phase and the
 * suspended flag; lock order: stream->mu, then libmicrohttpd's internal
 * locks (MHD_resume_connection) or the httpc queue lock. Hooks run on the
 * upstream loop thread WITHOUT the stream lock held.
 */
#ifndef RELAY_STREAM_H
#define RELAY_STREAM_H

#include <microhttpd.h>
#include <stdbool.h>

#include "buf.h"
#include "httpc.h"
#include "provider.h"
#include "sse.h"

struct reqctx;
struct stream;

enum stream_verdict {
    SV_COMMIT = 0, /* send the buffered answer as it is */
    SV_RETRY = 1,  /* drop it; the owner starts another attempt or replies */
    SV_REPLY = 2,  /* send the owner's reply instead */
};

/* A reply made by the owner (an error in the client's API shape). */
struct stream_reply {
    int status;
    char *body; /* malloc'd, taken by the stream */
    size_t len;
    const char *content_type; /* static strings */
    const char *should_retry; /* x-should-retry, or NULL */
    const char *retry_after;  /* retry-after, or NULL */
};

struct stream_hooks {
    /* An attempt's 2xx answer is committed: its status and headers
     * (valid during the call only). True when the owner converts it (a
     * client of another API): its events then reach the client only
     * through filter, its body through transform_body. */
    bool (*on_commit)(void *arg, int status, const struct httpc_header *h, size_t n);
    /* An answer that is not a usable 2xx, before any byte of it was sent. */
    enum stream_verdict (*decide)(void *arg, const struct upstream_answer *ans,
                                  struct stream_reply *reply);
    /* Each complete SSE event of the committed answer. */
    void (*on_event)(void *arg, const struct sse_event *ev);
    /* The committed non-SSE body, complete. */
    void (*on_body)(void *arg, int status, const char *body, size_t len);
    /* Converting: one committed event (after on_event saw it) -> the
     * client's frames, appended to out. 0, or -ERR_TOOBIG: the stream is
     * cut and ends with the owner's error frame. ev NULL: the upstream
     * ended cleanly; nonzero when the converted stream is not complete
     * (then it ends with the error frame too). */
    int (*filter)(void *arg, const struct sse_event *ev, struct buf *out);
    /* Converting: the committed body (after on_body saw it) -> the
     * client's (malloc'd, *out_len), or NULL to pass it as it came. */
    char *(*transform_body)(void *arg, const char *body, size_t len, size_t *out_len);
    /* The stream is over for the owner: the committed or replied answer's
     * transfer ended, or the client left while an attempt ran (-ERR_CLOSED).
     * Never after SV_RETRY. Once per stream_attempt that did not retry; the
     * stream calls no hook after it. */
    void (*on_finish)(void *arg, int result);
    /* The SSE frame that ends a committed event stream that broke
     * (result: -ERR_TIMEOUT, -ERR_IO, -ERR_TOOBIG); malloc'd. */
    char *(*error_frame)(void *arg, int result);
};

/* Which upstream response headers the client may see (the provider's). */
typedef bool (*stream_header_fn)(const char *name);

/* Take over rq's response. The stream holds two references: the request's
 * (dropped by stream_detach) and the owner's (dropped by stream_release).
 * Hooks run with arg. */
struct stream *stream_new(struct reqctx *rq, const struct stream_hooks *hooks, void *arg);
/* Start an attempt (any thread; never while one runs); keep filters the
 * headers of its answer. 0, or -ERR_CLOSED
 * when the client is gone or the relay stops (then nothing was started and
 * no hook will run for it). */
int stream_attempt(struct stream *st, const struct httpc_request *req, stream_header_fn keep)
    __attribute__((warn_unused_result));
/* The 2xx answers of this stream's attempts are a streamed JSON array
 * (Gemini without alt=sse): committed at their headers, forwarded up to
 * their last complete element (each one also goes to on_event as an event's
 * data); a break drops the partial element and ends the array with the
 * owner's error_frame as its last element. Call before stream_attempt. */
void stream_json_array(struct stream *st);
/* Every answer of this stream's attempts, a 2xx one too, is buffered (at
 * most max bytes; more is -ERR_TOOBIG) and handed to decide, so the owner
 * always replies itself (an admin's account test sums the answer up).
 * Call before stream_attempt. */
void stream_collect(struct stream *st, size_t max);
/* End the response with the owner's reply instead of an upstream answer
 * (no attempt running). Any thread. */
void stream_reply(struct stream *st, struct stream_reply *reply);
/* The owner is done with the stream. */
void stream_release(struct stream *st);
/* Called by httpd after the handler returned (until then the connection is
 * never resumed, so the worker may still read the reqctx). After this call
 * the caller must not touch the reqctx: it may complete at any moment. */
void stream_arm(struct stream *st);
/* Called by httpd when libmicrohttpd re-enters the access handler for a
 * streaming request: queues the response when it is ready (returns MHD_YES
 * after queueing), or suspends again. */
enum MHD_Result stream_respond(struct stream *st, struct reqctx *rq);
/* The request is complete or the client is gone: forget the connection and
 * cancel the attempt if one runs. Drops the request's reference. */
void stream_detach(struct stream *st);
/* Shutdown: never suspend again, and resume every suspended connection. */
void stream_shutdown_all(void);

/* Resume the connections the upstream loop's callbacks woke this round:
 * httpc's round-end hook (httpc_set_round_end), on the loop thread. */
void stream_wake_batch(void *unused);

#endif
