/*
 * httpd.c - libmicrohttpd glue (see httpd.h).
 *
 * Request life: (1) first call: create the reqctx, match the route, check
 * Content-Length; (2) body chunks: append (bounded); (3) final call: copy
 * headers and query, suspend, submit to the worker pool; (4) the worker
 * runs auth + handler, sets the reply, resumes; (5) MHD re-enters the
 * handler and we queue the reply (or the stream module does).
 * The completion callback writes the access line and frees everything.
 *
 * DESIGN (the front door): MHD runs in poll mode with a thread pool, not
 * epoll. In 0.9.75's epoll mode a client that sent part of a request and
 * then closed stayed in CLOSE-WAIT until the connection timeout (measured:
 * 10,500 such connections held for the whole 605 s); poll mode sees the EOF
 * and closes at once. Connections idle out after REQUEST_HEADER_TIMEOUT while
 * a request is read and between requests; a dispatched request gets the
 * long REQUEST_TIMEOUT instead, so streams are never cut by the short one.
 * MHD's own connection limit sits above MAX_CONNECTIONS, so a client over
 * the cap gets a clear 503 (with Connection: close) instead of waiting
 * silently in the kernel backlog; MAX_CONNECTIONS_PER_IP is MHD's per-address
 * cap (over it MHD closes at once).
 *
 * DESIGN (bodies): nothing is buffered for a request that cannot be served.
 * On the first call (headers complete, no body byte consumed) an AUTH_KEY
 * route without a well-formed key gets its 401 at once, and a declared
 * Content-Length over the route's limit, or over what is left of
 * REQUEST_BODIES_MAX_MB (the sum of the bodies all requests hold), is
 * refused likewise; a reply queued at that point makes MHD skip the body
 * and close. A chunked body's size is known only as it arrives: the bytes
 * are counted as they are buffered, and the call that passes a limit
 * refuses the request there. libmicrohttpd 0.9.75 cannot queue a response
 * in the middle of an upload (MHD_queue_response refuses in that state), so
 * that refusal writes a short complete HTTP response on the socket itself,
 * shuts down the sending side and returns MHD_NO, which closes the
 * connection without reading further.
 */
#include "compat.h"
#include "app.h"
#include "auth.h"
#include "clientaddr.h"
#include "config.h"
#include "errors.h"
#include "format.h"
#include "errs.h"
#include "httpd.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "reqctx_int.h"
#include "stream.h"
#include "tpool.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SMALL_BODY_MAX (1024 * 1024)
#define TINY_BODY_MAX (64 * 1024)        /* telemetry: accepted and dropped, never large */
#define DISCARD_MAX (16LL * 1024 * 1024) /* read at most this much of a refused body */
#define KEY_DRAIN_MAX (1024LL * 1024)    /* ... of one refused for its key */
#define LISTEN_BACKLOG 4096 /* 5,000 clients connecting at once must not wait in SYN retries */
/* Per-connection memory (request line, headers, read and write buffers),
 * touched whole: at 5,000 slow streams every 4 KiB of it is ~20 MB of peak
 * RSS (measured 8 KiB 186 MB, 12 KiB 206 MB; 16 KiB ~226 MB by the same slope). 12 KiB
 * still takes ~10 KB of request headers (8 KiB only ~7 KB: too tight for
 * browsers with many cookies; Claude Code sends ~2 KB). */
#define CONNECTION_MEMORY (12 * 1024)
/* Bodies parsed on the I/O thread at most (larger ones go to a worker). */
#define INLINE_BODY_MAX (256 * 1024)
#define STREAM_TIMEOUT_SLACK_S 5 /* the upstream timeout fires first and says why */

struct httpd {
    struct MHD_Daemon *d;
    struct app *app;
    unsigned header_timeout_s, stream_timeout_s; /* set before the daemon starts */
    atomic_long inflight;
    atomic_bool closing;
};

static enum MHD_Result send_reply(struct reqctx *rq)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rq->rlen, rq->rbody ? rq->rbody : (char *)"",
                                        rq->rbody ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    rq->rbody = NULL; /* owned by the response now */
    if (rq->ctype && rq->rlen)
        MHD_add_response_header(resp, "Content-Type", rq->ctype);
    reqctx_decorate(resp, rq);
    enum MHD_Result r = MHD_queue_response(rq->conn, (unsigned)rq->status, resp);
    MHD_destroy_response(resp);
    atomic_store(&rq->phase, RQ_SENT);
    return r;
}

/* The relay's own error in the shape of the route's client API. */
static void route_error(struct reqctx *rq, enum relay_err e, const char *msg)
{
    format_for_path(rq->path)->reply_error(rq, e, msg);
}

/* Reply at once from the MHD thread (cheap, non-blocking cases only). */
static enum MHD_Result reply_now(struct reqctx *rq, enum relay_err e, const char *msg)
{
    route_error(rq, e, msg);
    return send_reply(rq);
}

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    UNUSED(kind);
    kvlist_add(cls, key, value);
    return MHD_YES;
}

/* TRUST_PROXY: the address our outermost trusted proxy appended, never the
 * client-written left end of X-Forwarded-For (clientaddr.h). */
static int client_from_proxy(const struct httpd *h, struct reqctx *rq)
{
    const char **vals = xcalloc(rq->headers.n + 1, sizeof(*vals));
    size_t n = 0;
    for (size_t i = 0; i < rq->headers.n; i++)
        if (strcasecmp(rq->headers.items[i].name, "x-forwarded-for") == 0)
            vals[n++] = rq->headers.items[i].value;
    int rc = clientaddr_from_xff(vals, n, (int)h->app->cfg->trust_proxy_hops, rq->client_ip,
                                 sizeof(rq->client_ip));
    free(vals);
    return rc;
}

static void collect_request(struct httpd *h, struct reqctx *rq)
{
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, collect_kv, &rq->headers);
    MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, collect_kv, &rq->query);
    if (h->app->cfg->trust_proxy && client_from_proxy(h, rq) == 0)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, rq->client_ip,
                  sizeof(rq->client_ip));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  rq->client_ip, sizeof(rq->client_ip));
}

static void run_handler(void *arg)
{
    struct reqctx *rq = arg;
    log_set_reqid(rq->id);
    const struct route *r = rq->match.route;
    if (r->auth != AUTH_ADMIN || auth_admin_check(rq))
        r->handler(rq);
    log_set_reqid(NULL);
    if (rq->defer_fn) {
        void (*fn)(void *) = rq->defer_fn;
        fn(rq->defer_arg); /* rq belongs to fn's wait now: not touched here again */
        return;
    }
    if (rq->stream) {
        stream_arm(rq->stream); /* rq may be gone after this */
        return;
    }
    if (!reqctx_has_reply(rq))
        route_error(rq, RERR_INTERNAL, NULL);
    atomic_store(&rq->phase, RQ_READY);
    MHD_resume_connection(rq->conn);
}

void reqctx_defer(struct reqctx *rq, void (*fn)(void *arg), void *arg)
{
    rq->defer_fn = fn;
    rq->defer_arg = arg;
}

void reqctx_resume(struct reqctx *rq)
{
    if (!reqctx_has_reply(rq))
        route_error(rq, RERR_INTERNAL, NULL);
    atomic_store(&rq->phase, RQ_READY);
    MHD_resume_connection(rq->conn);
}

static enum MHD_Result dispatch(struct httpd *h, struct reqctx *rq)
{
    if (atomic_load(&h->closing))
        return reply_now(rq, RERR_UNAVAILABLE, "The relay is shutting down");
    if (rq->too_large)
        return reply_now(rq, RERR_TOO_LARGE, NULL);
    if (rq->refusal)
        return reply_now(rq, (enum relay_err)(rq->refusal - 1), NULL);
    if (rq->match_rc != 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Route %s %.200s not found", rq->method, rq->path);
        return reply_now(rq, rq->match_rc == -ERR_INVAL ? RERR_METHOD : RERR_NOT_FOUND,
                         rq->match_rc == -ERR_INVAL ? NULL : msg);
    }
    collect_request(h, rq);
    /* Reading is over: from here the upstream's timeout governs. */
    MHD_set_connection_option(rq->conn, MHD_CONNECTION_OPTION_TIMEOUT, h->stream_timeout_s);
    atomic_store(&rq->phase, RQ_WORKING);
    MHD_suspend_connection(rq->conn);
    const struct route *r = rq->match.route;
    if (r->inline_ok && rq->body.len <= INLINE_BODY_MAX && r->inline_ok(rq)) {
        rq->inline_run = true;
        run_handler(rq); /* nothing in it blocks: spare the worker hop */
        return MHD_YES;
    }
    if (tpool_submit(h->app->workers, run_handler, rq) != 0) {
        route_error(rq, RERR_UNAVAILABLE, "The relay is overloaded");
        atomic_store(&rq->phase, RQ_READY);
        MHD_resume_connection(rq->conn);
    }
    return MHD_YES;
}

static enum MHD_Result preflight(struct reqctx *rq)
{
    reqctx_set_header(rq, "Access-Control-Allow-Origin", "*");
    reqctx_set_header(rq, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    reqctx_set_header(rq, "Access-Control-Allow-Headers",
                      "Content-Type, Authorization, x-api-key, anthropic-version, anthropic-beta, "
                      "x-admin-token, anthropic-dangerous-direct-browser-access, x-goog-api-key, "
                      "x-goog-api-client");
    reqctx_set_header(rq, "Access-Control-Max-Age", "86400");
    reqctx_reply(rq, 204, NULL, NULL, 0);
    return send_reply(rq);
}

struct hdr_count {
    const char *name;
    int n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct hdr_count *c = cls;
    UNUSED(kind);
    UNUSED(value);
    c->n += strcasecmp(key, c->name) == 0;
    return MHD_YES;
}

static int header_count(struct MHD_Connection *conn, const char *name)
{
    struct hdr_count c = {name, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &c);
    return c.n;
}

/* Requests answered at once, before any body, on a connection that then
 * closes: over the connection cap, or a body length that is ambiguous - MHD
 * takes the first of two Content-Length headers (and chunked over a
 * Content-Length), a proxy in front may take another, and the difference
 * is a smuggled request. *why is set (else left NULL). */
static enum relay_err refuse_early(struct httpd *h, struct MHD_Connection *conn, const char **why)
{
    if (atomic_load(&h->app->stats.connections) > h->app->cfg->max_connections) {
        *why = "Too many connections; try again later";
        return RERR_UNAVAILABLE;
    }
    int cl = header_count(conn, "Content-Length");
    if (cl > 1 || (cl && header_count(conn, "Transfer-Encoding")))
        *why = cl > 1 ? "Duplicate Content-Length header"
                      : "Content-Length together with Transfer-Encoding";
    return RERR_BAD_REQUEST;
}

static size_t body_max(const struct httpd *h, const struct route *r)
{
    if (r && r->body == BODY_LARGE)
        return (size_t)h->app->cfg->request_max_size_mb * 1024 * 1024;
    return r && r->body == BODY_TINY ? TINY_BODY_MAX : SMALL_BODY_MAX;
}

/* The key the transaction will look up, taken the same way (x-api-key,
 * Authorization: Bearer, x-goog-api-key, ?key= on Gemini paths; txn.c
 * client_key), straight from MHD's parsed headers. */
static const char *header_key(struct MHD_Connection *conn, const char *path)
{
    const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
    if (k && *k)
        return k;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7])
        return auth + 7;
    k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-goog-api-key");
    if (k && *k)
        return k;
    k = strncasecmp(path, "/gemini/", 8) == 0
            ? MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key")
            : NULL;
    return k && *k ? k : NULL;
}

/* Refusals decided from the headers alone, before any body byte is
 * buffered: a relay route without a well-formed key, a declared body over
 * the route's limit or over what is left of the global body budget.
 * Returns true (answer now and close) and sets *e and *why (may stay NULL).
 * A short body of a refused request is drained instead and answered at its
 * end (false, rq->refusal or rq->too_large set): closing with unread bytes
 * makes the kernel send a reset, and clients that write the whole body
 * before reading (Node's http) would see EPIPE instead of the answer. */
static bool refuse_before_body(struct httpd *h, struct reqctx *rq, enum relay_err *e,
                               const char **why)
{
    const struct route *r = rq->match_rc == 0 ? rq->match.route : NULL;
    const char *cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Length");
    long long len = cl ? strtoll(cl, NULL, 10) : 0, max = (long long)rq->body.max;
    bool chunked =
        !cl && MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
    if (r && r->auth == AUTH_KEY) {
        const char *k = header_key(rq->conn, rq->path);
        *e = k ? RERR_BAD_KEY : RERR_NO_KEY;
        if (!k || !keys_format_ok(h->app->cfg->api_key_prefix, k)) {
            rq->refusal = (int)*e + 1;
            return chunked || len > KEY_DRAIN_MAX;
        }
    }
    if (len > max) {
        rq->too_large = true;
        *e = RERR_TOO_LARGE;
        return len - max > DISCARD_MAX;
    }
    long long cap = h->app->cfg->request_bodies_max_mb * 1024 * 1024;
    *why = "The relay is receiving too many request bodies; try again";
    *e = RERR_UNAVAILABLE;
    if (len > 0 && atomic_load(&h->app->stats.body_bytes) + len > cap)
        return true;
    *why = NULL;
    return false;
}

static enum MHD_Result begin(struct httpd *h, struct MHD_Connection *conn, const char *url,
                             const char *method, void **con_cls)
{
    struct route_match m;
    int rc = router_match(method, url, &m);
    struct reqctx *rq = reqctx_new(h->app, conn, method, url, body_max(h, rc ? NULL : m.route));
    rq->match = m;
    rq->match_rc = rc;
    *con_cls = rq;
    atomic_fetch_add(&h->inflight, 1);
    atomic_fetch_add(&h->app->stats.requests, 1);
    const char *why = NULL;
    enum relay_err e = refuse_early(h, conn, &why);
    if (why || (strcmp(method, "OPTIONS") != 0 && refuse_before_body(h, rq, &e, &why))) {
        reqctx_set_header(rq, "Connection", "close");
        return reply_now(rq, e, why);
    }
    return MHD_YES;
}

/* A limit passed in the middle of an upload (see DESIGN): the whole reply
 * goes onto the socket here (a few hundred bytes: the send buffer is empty,
 * the previous response on this connection is complete), then MHD_NO
 * makes MHD close the connection without reading more. */
static enum MHD_Result refuse_mid_body(struct reqctx *rq, enum relay_err e, const char *why)
{
    route_error(rq, e, why);
    struct buf b;
    buf_init(&b, 16 * 1024);
    int rc =
        buf_printf(&b,
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\nX-Request-ID: %s\r\n",
                   rq->status, e == RERR_TOO_LARGE ? "Content Too Large" : "Service Unavailable",
                   rq->rlen, rq->id);
    for (size_t i = 0; rc == 0 && i < rq->rheaders.n; i++)
        rc = buf_printf(&b, "%s: %s\r\n", rq->rheaders.items[i].name, rq->rheaders.items[i].value);
    if (rc == 0)
        rc = buf_printf(&b, "\r\n%.*s", (int)rq->rlen, rq->rbody);
    int fd = reqctx_client_fd(rq);
    if (rc == 0 && fd >= 0 && send(fd, b.data, b.len, MSG_NOSIGNAL) == (ssize_t)b.len)
        shutdown(fd, SHUT_WR);
    buf_release(&b);
    atomic_store(&rq->phase, RQ_SENT);
    return MHD_NO;
}

/* Buffer a body chunk, counted against REQUEST_BODIES_MAX_MB. */
static enum MHD_Result receive(struct httpd *h, struct reqctx *rq, const char *data, size_t len)
{
    if (rq->too_large || rq->refusal) /* drained, refused at the end */
        return MHD_YES;
    long long cap = h->app->cfg->request_bodies_max_mb * 1024 * 1024;
    long long now = atomic_fetch_add(&h->app->stats.body_bytes, (long long)len) + (long long)len;
    rq->body_counted += len;
    if (now > cap)
        return refuse_mid_body(rq, RERR_UNAVAILABLE,
                               "The relay is receiving too many request bodies; try again");
    if (buf_append(&rq->body, data, len) != 0)
        return refuse_mid_body(rq, RERR_TOO_LARGE, NULL);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct httpd *h = cls;
    struct reqctx *rq = *con_cls;
    UNUSED(version);
    if (!rq)
        return begin(h, conn, url, method, con_cls);
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return receive(h, rq, upload, n);
    }
    switch (atomic_load(&rq->phase)) {
    case RQ_RECEIVING:
        if (strcmp(method, "OPTIONS") == 0)
            return preflight(rq);
        return dispatch(h, rq);
    case RQ_READY:
        return send_reply(rq);
    case RQ_STREAM:
        return stream_respond(rq->stream, rq);
    default:
        return MHD_YES;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct httpd *h = cls;
    struct reqctx *rq = *con_cls;
    if (!rq)
        return;
    if (rq->stream)
        stream_detach(rq->stream);
    /* A kept-alive connection waits for its next request on the short timeout. */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, h->header_timeout_s);
    reqctx_complete(rq, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    *con_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct httpd *h = cls;
    UNUSED(conn);
    UNUSED(socket_context);
    atomic_fetch_add(&h->app->stats.connections, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

/* libmicrohttpd's own messages: printf-style, for -Wformat-nonliteral. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    UNUSED(cls);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    /* libmicrohttpd may quote a request line: its query can carry a key
     * (Gemini clients may send ?key=), so nothing after a '?' is logged */
    char *q = strchr(msg, '?');
    if (q)
        snprintf(q, sizeof(msg) - (size_t)(q - msg), "?<query not logged>");
    log_warn("httpd", "%s", msg);
}

static int bind_addr(const struct relay_config *cfg, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%lld", cfg->port);
    if (getaddrinfo(cfg->host, port, &hints, &ai) != 0 || !ai)
        return -ERR_INVAL;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* We bind the socket ourselves instead of letting MHD do it: only so can a
 * failure say why (errno), and only so is it certain that no SO_REUSEPORT is
 * set - with it a second relay on the same port starts and silently takes
 * half the connections. SO_REUSEADDR alone lets a restart bind over
 * TIME_WAIT leftovers but fails with EADDRINUSE while another socket listens. */
int httpd_listen(const struct relay_config *cfg, int *fd_out, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int one = 1, fd = -1, rc = -ERR_IO;
    if (bind_addr(cfg, &ss, &sl) != 0) {
        snprintf(err, errlen, "HOST %s is not a numeric IPv4/IPv6 address", cfg->host);
        return -ERR_INVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)&ss, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%lld: %s", cfg->host, cfg->port,
                 errno == EADDRINUSE ? "address already in use (is another relay running?)"
                                     : strerror(errno));
        goto out;
    }
    *fd_out = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Per-address cap: with TRUST_PROXY every connection comes from the proxy,
 * and capping it would cut the whole service; the proxy caps per client. */
static unsigned per_ip_limit(const struct relay_config *cfg)
{
    return cfg->trust_proxy ? 0 : (unsigned)cfg->max_connections_per_ip;
}

int httpd_start(struct app *app, int listen_fd, struct httpd **out, char *err, size_t errlen)
{
    const struct relay_config *cfg = app->cfg;
    struct httpd *h = xcalloc(1, sizeof(*h));
    h->app = app;
    h->header_timeout_s = (unsigned)((cfg->request_header_timeout_ms + 999) / 1000);
    h->stream_timeout_s = (unsigned)(cfg->request_timeout_ms / 1000) + STREAM_TIMEOUT_SLACK_S;
    /* Room above MAX_CONNECTIONS for the connections that get the 503. */
    unsigned hard_limit = (unsigned)(cfg->max_connections + 64 + cfg->max_connections / 16);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->http_threads, MHD_OPTION_CONNECTION_LIMIT, hard_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_limit(cfg), MHD_OPTION_CONNECTION_TIMEOUT,
        h->header_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot start the HTTP server on %s:%lld", cfg->host, cfg->port);
        close(listen_fd);
        free(h);
        return -ERR_IO;
    }
    *out = h;
    return 0;
}

void httpd_quiesce(struct httpd *h)
{
    atomic_store(&h->closing, true);
    MHD_socket fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

long httpd_inflight(struct httpd *h)
{
    return atomic_load(&h->inflight);
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
