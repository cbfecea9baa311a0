/*
 * stream.h - one upstream transfer bridged to one client response.
 *
 * The upstream event loop (httpc) pushes bytes in; the libmicrohttpd reader
 * pulls them out. SSE responses are forwarded as each event completes (a
 * partial event is held back, so an upstream that dies mid-stream is turned
 * into a clean `event: error` frame, never a fake message_stop). Other
 * responses (JSON, errors) are buffered whole and sent with their status.
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

#include "httpc.h"
#include "sse.h"

struct reqctx;
struct stream;

struct stream_hooks {
    /* Each complete SSE event (upstream loop thread). */
    void (*on_event)(void *arg, const struct sse_event *ev);
    /* The whole non-SSE body once complete (upstream loop thread). */
    void (*on_body)(void *arg, int status, const char *body, size_t len);
    /* The transfer is over (result as httpc on_done); runs once, before the
     * client sees the end of the response. The hook owns arg from then on.
     * Returns the tokens to report in the access log. */
    long long (*on_finish)(void *arg, int status, int result);
};

/* Start the upstream transfer for rq and take over its response. */
void stream_start(struct reqctx *rq, const struct httpc_request *req,
                  const struct stream_hooks *hooks, void *arg);
/* Called by httpd after the handler returned (until then the connection is
 * never resumed, so the worker may still read the reqctx). After this call
 * the caller must not touch the reqctx: it may complete at any moment. */
void stream_arm(struct stream *st);
/* Called by httpd when libmicrohttpd re-enters the access handler for a
 * streaming request: queues the response when it is ready (returns MHD_YES
 * after queueing), or suspends again. */
enum MHD_Result stream_respond(struct stream *st, struct reqctx *rq);
/* The request is complete or the client is gone: forget the connection and
 * cancel the transfer if it still runs. Drops the request's reference. */
void stream_detach(struct stream *st);
/* Tokens reported by on_finish (0 until then). */
long long stream_tokens(struct stream *st);
/* Shutdown: never suspend again, and resume every suspended connection. */
void stream_shutdown_all(void);

#endif
