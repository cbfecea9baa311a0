/*
 * httpc.h - upstream HTTP client on one libcurl multi event loop thread.
 *
 * Callers on any thread submit a transfer description plus callbacks; the
 * loop thread owns every curl handle and runs all callbacks. A transfer is
 * named by a 64-bit id, so cancel/resume from other threads are safe even
 * after the transfer ended (they are then no-ops). Long streams cost one
 * easy handle and a socket, never a thread.
 *
 * Client-disconnect watch: a transfer may name a file descriptor (the
 * client's socket); the loop watches it for EPOLLRDHUP and cancels the
 * transfer within milliseconds of the peer closing it.
 */
#ifndef RELAY_HTTPC_H
#define RELAY_HTTPC_H

#include <stddef.h>
#include <stdint.h>

struct httpc;

#define HTTPC_PAUSE 1 /* on_data return: data NOT consumed, pause the transfer */

struct httpc_header {
    const char *name;
    const char *value;
};

struct httpc_callbacks {
    /* Final response status and headers (status >= 200), at most once. */
    void (*on_headers)(void *arg, int status, const struct httpc_header *h, size_t n);
    /* Body bytes. Return 0 when consumed, HTTPC_PAUSE to refuse them for now
     * (they are delivered again after httpc_resume). */
    int (*on_data)(void *arg, const char *data, size_t len);
    /* Exactly once, last: 0 on success, else -ERR_UPSTREAM (could not
     * connect), -ERR_TIMEOUT, -ERR_IO (broken mid-way) or -ERR_CLOSED
     * (cancelled / client gone / shutdown). msg is curl's text. */
    void (*on_done)(void *arg, int result, const char *msg);
};

struct httpc_request {
    const char *method;
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated */
    const char *body;           /* copied at submit */
    size_t body_len;
    const char *proxy; /* curl proxy URL or NULL */
    long connect_timeout_ms;
    long timeout_ms;
    int watch_fd; /* client socket to watch, or -1 */
};

/* Start the loop thread. */
int httpc_new(struct httpc **out) __attribute__((warn_unused_result));
/* Cancel everything still running (on_done gets -ERR_CLOSED) and join the
 * loop. The handle stays valid: later submits are refused, cancels and
 * resumes are no-ops. Idempotent. */
void httpc_stop(struct httpc *h);
/* httpc_stop if needed, then free. No other thread may use h any more. */
void httpc_free(struct httpc *h);
/* Queue a transfer; returns its id, or 0 when the loop has stopped (then no
 * callback runs). Thread-safe; everything in req is copied. Callbacks run
 * on the loop thread, on_done exactly once for every id returned. */
uint64_t httpc_submit(struct httpc *h, const struct httpc_request *req,
                      const struct httpc_callbacks *cb, void *arg);
/* Abort a transfer (on_done(-ERR_CLOSED) unless it already finished). Thread-safe. */
void httpc_cancel(struct httpc *h, uint64_t id);
/* Unpause a transfer paused by HTTPC_PAUSE. Thread-safe. */
void httpc_resume(struct httpc *h, uint64_t id);
/* Transfers currently running. Thread-safe. */
size_t httpc_active(struct httpc *h);
/* fn(arg) runs on the loop thread at the end of each round of callbacks,
 * before the loop sleeps (and once after its last round): a caller can
 * batch what its callbacks would otherwise do one by one. Thread-safe. */
void httpc_set_round_end(struct httpc *h, void (*fn)(void *arg), void *arg);
/* True on the loop thread (where callbacks run). */
bool httpc_on_loop(const struct httpc *h);

#endif
