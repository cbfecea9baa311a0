/*
 * reqctx_int.h - the inside of struct reqctx, for httpd.c, reqctx.c and
 * stream.c only. Handlers use the accessors in reqctx.h.
 */
#ifndef RELAY_REQCTX_INT_H
#define RELAY_REQCTX_INT_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <time.h>

#include "buf.h"
#include "reqctx.h"
#include "router.h"

struct stream;

struct kv {
    char *name;
    char *value;
};

struct kvlist {
    struct kv *items;
    size_t n, cap;
};

enum rq_phase {
    RQ_RECEIVING = 0, /* MHD thread: headers and body arriving */
    RQ_WORKING = 1,   /* worker thread runs the handler; connection suspended */
    RQ_READY = 2,     /* a buffered reply is set; waiting for MHD to send it */
    RQ_STREAM = 3,    /* the stream module owns the response */
    RQ_SENT = 4,      /* response queued with MHD */
};

struct reqctx {
    atomic_int refs; /* the connection's, and a relay transaction's */
    struct app *app;
    struct MHD_Connection *conn;
    _Atomic int phase;
    char id[24];
    char method[16];
    char *path;
    struct kvlist headers;
    struct kvlist query;
    struct route_match match;
    int match_rc;
    struct buf body;
    bool too_large;
    int refusal;         /* a relay_err + 1, answered once the (short) body is drained; 0: none */
    size_t body_counted; /* bytes of body in app->stats.body_bytes, given back when freed */
    struct cJSON *json;
    bool json_done;
    bool inline_run; /* the handler runs on the I/O thread (route.inline_ok) */
    char client_ip[64];
    /* response */
    int status;
    char *ctype;
    char *rbody;
    size_t rlen;
    struct kvlist rheaders;
    struct stream *stream;
    void (*defer_fn)(void *arg); /* reqctx_defer: run after the handler, owns the reply */
    void *defer_arg;
    /* identity and access-log notes */
    char *admin;
    char key_id[40];
    char account_id[40];
    char model[96];
    int upstream_status;
    long long tokens;
    char attempts[256];
    long long cost_micro;
    bool unpriced;
    bool aborted; /* the connection ended before the response was complete */
    struct timespec t0;
};

void kvlist_add(struct kvlist *l, const char *name, const char *value);
const char *kvlist_get(const struct kvlist *l, const char *name);
void kvlist_release(struct kvlist *l);

struct reqctx *reqctx_new(struct app *app, struct MHD_Connection *conn, const char *method,
                          const char *path, size_t body_max);
/* Add the response headers every reply carries (request id, security
 * headers) and those the handler set. */
void reqctx_decorate(struct MHD_Response *resp, struct reqctx *rq);
/* Drop the connection's reference (libmicrohttpd's completion callback). */
void reqctx_complete(struct reqctx *rq, bool aborted);

#endif
