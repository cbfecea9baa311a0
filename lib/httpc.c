/*
 * httpc.c - the upstream libcurl multi event loop (see httpc.h).
 *
 * DESIGN: one thread owns the multi handle, every easy handle and the epoll
 * set of watched client sockets. Other threads talk to it only through the
 * command queue (add / cancel / resume) followed by curl_multi_wakeup, which
 * is documented as safe from any thread. Transfers are found by id in a
 * small hash table owned by the loop thread, so a late cancel of a finished
 * transfer simply finds nothing.
 *
 * A transfer's client socket is watched for a hang-up only once the
 * transfer has run WATCH_DELAY_MS: most answers (every JSON one on a fast
 * upstream) are over sooner, and the watch costs two epoll_ctl calls, an
 * eighth of a request's syscalls. Transfers wait for their watch in `due`,
 * oldest first. A client that left in the meantime is seen at once: the
 * hang-up is level-triggered. (Its fd cannot be reused meanwhile by another
 * connection: libmicrohttpd does not close a suspended connection, and a
 * running stream's close cancels the transfer first, see stream_detach.)
 *
 * LOCKING: h->mu guards the command queue and the stop flag. It is a leaf
 * lock: no callback runs while it is held.
 */
#include "compat.h"
#include "buf.h"
#include "clock.h"
#include "errs.h"
#include "httpc.h"
#include "log.h"
#include "xmalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#define XFER_BUCKETS 1024
#define HDR_MAX (64 * 1024)
#define HDR_COUNT_MAX 128
#define WATCH_DELAY_MS 50
#define IDLE_CONNS_MAX 256

enum cmd_type { CMD_ADD = 0, CMD_CANCEL = 1, CMD_RESUME = 2 };

struct xfer {
    uint64_t id;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    struct httpc_callbacks cb;
    void *arg;
    struct buf rhdr; /* response header block: "name\0value\0"... */
    size_t nrhdr;
    int watch_fd;
    bool watched;               /* its client socket is in the epoll set */
    long long watch_at;         /* monotonic ms: when to watch it */
    struct xfer *dprev, *dnext; /* in h->due while waiting for the watch */
    bool headers_done;
    struct httpc *h;
    struct xfer *next; /* hash bucket chain */
};

struct cmd {
    enum cmd_type type;
    uint64_t id;
    struct xfer *x;
    struct cmd *next;
};

struct httpc {
    pthread_t thread;
    CURLM *multi;
    int epfd;
    pthread_mutex_t mu; /* guards: cmd_head, cmd_tail, stop, round_fn, round_arg */
    void (*round_fn)(void *arg);
    void *round_arg;
    struct cmd *cmd_head, *cmd_tail;
    bool stop;                        /* asked to stop */
    bool stopped;                     /* the loop has exited: commands are refused */
    struct xfer *table[XFER_BUCKETS]; /* loop thread only */
    struct xfer *due_head, *due_tail; /* loop thread only: waiting for their watch */
    atomic_bool sleeping;             /* the loop is in (or about to enter) curl_multi_poll */
    atomic_size_t nactive;
    atomic_uint_fast64_t next_id;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct xfer **xfer_slot(struct httpc *h, uint64_t id)
{
    struct xfer **p = &h->table[id % XFER_BUCKETS];
    while (*p && (*p)->id != id)
        p = &(*p)->next;
    return p;
}

/* false when the loop has stopped (the command is dropped, x is not taken). */
static bool cmd_post(struct httpc *h, enum cmd_type type, uint64_t id, struct xfer *x)
{
    struct cmd *c = xcalloc(1, sizeof(*c));
    c->type = type;
    c->id = id;
    c->x = x;
    pthread_mutex_lock(&h->mu);
    if (h->stopped) {
        pthread_mutex_unlock(&h->mu);
        free(c);
        return false;
    }
    if (h->cmd_tail)
        h->cmd_tail->next = c;
    else
        h->cmd_head = c;
    h->cmd_tail = c;
    pthread_mutex_unlock(&h->mu);
    /* A busy loop reads the queue before it sleeps (loop_sleep): waking it
     * would cost a send here and a recv there for nothing. */
    if (atomic_load(&h->sleeping))
        curl_multi_wakeup(h->multi);
    return true;
}

static void xfer_free(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    buf_release(&x->rhdr);
    free(x);
}

static void fire_headers(struct xfer *x)
{
    if (x->headers_done)
        return;
    x->headers_done = true;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    struct httpc_header hv[HDR_COUNT_MAX];
    size_t n = 0;
    for (const char *p = x->rhdr.data; p && n < x->nrhdr; n++) {
        hv[n].name = p;
        p += strlen(p) + 1;
        hv[n].value = p;
        p += strlen(p) + 1;
    }
    if (x->cb.on_headers)
        x->cb.on_headers(x->arg, (int)status, hv, n);
}

/* Remove from every structure the loop owns, then report. */
static void due_unlink(struct httpc *h, struct xfer *x)
{
    if (x->dprev)
        x->dprev->dnext = x->dnext;
    else
        h->due_head = x->dnext;
    if (x->dnext)
        x->dnext->dprev = x->dprev;
    else
        h->due_tail = x->dprev;
    x->dprev = x->dnext = NULL;
}

static void xfer_finish(struct httpc *h, struct xfer *x, int rc, const char *msg)
{
    struct xfer **slot = xfer_slot(h, x->id);
    if (*slot == x)
        *slot = x->next;
    if (x->watched)
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, x->watch_fd, NULL);
    else if (x->watch_fd >= 0)
        due_unlink(h, x);
    curl_multi_remove_handle(h->multi, x->easy);
    atomic_fetch_sub(&h->nactive, 1);
    if (rc == 0)
        fire_headers(x); /* a response with no body still has headers */
    x->cb.on_done(x->arg, rc, msg);
    xfer_free(x);
}

static size_t on_header_line(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * nmemb;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        buf_reset(&x->rhdr); /* a new response (1xx or redirect): start over */
        x->nrhdr = 0;
        return len;
    }
    if (len <= 2) { /* blank line: end of a header block */
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200)
            fire_headers(x);
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || x->nrhdr >= HDR_COUNT_MAX)
        return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (buf_append(&x->rhdr, data, nlen) || buf_append(&x->rhdr, "", 1) ||
        buf_append(&x->rhdr, v, (size_t)(end - v)) || buf_append(&x->rhdr, "", 1))
        return 0; /* header block too large: abort the transfer */
    x->nrhdr++;
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * nmemb;
    fire_headers(x);
    if (x->cb.on_data && x->cb.on_data(x->arg, data, len) == HTTPC_PAUSE)
        return CURL_WRITEFUNC_PAUSE;
    return len;
}

static int set_headers(struct xfer *x, const char *const *headers)
{
    for (size_t i = 0; headers && headers[i]; i++)
        x->hdrs = curl_slist_append(x->hdrs, headers[i]);
    /* No "Expect: 100-continue" round trip for large bodies. */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    return curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs) == CURLE_OK ? 0 : -ERR_INVAL;
}

static int xfer_setup(struct xfer *x, const struct httpc_request *req)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        x->body = xmalloc(req->body_len + 1);
        memcpy(x->body, req->body, req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (req->proxy) {
        curl_easy_setopt(e, CURLOPT_PROXY, req->proxy);
        /* Always CONNECT through HTTP proxies, also to http:// upstreams: a
         * proxy's own refusal (407, 502) then fails the transfer instead of
         * reaching the client as if the upstream had said it. */
        curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
    }
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    /* 4 KiB read buffer instead of 16: a relay holds thousands of mostly idle
     * streams whose events are small (5,000 slow streams: 8 KiB -> 4 KiB took
     * peak RSS 202 -> 186 MB). */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
    /* libcurl 7.88 copies the request into a 64 KiB upload buffer per
     * transfer over HTTPS/1.1 or an HTTP proxy tunnel (Curl_buffer_send,
     * tunnel_init) and keeps it for the transfer's life: the minimum, 16 KiB,
     * saves up to 48 KiB a stream. (Not seen by the bench: its mock is
     * plain HTTP.) */
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Wait for a connection that may multiplex only where that is settled
     * at the TLS handshake (ALPN). Over plain http:// libcurl learns it only
     * from the first answer's headers, so every new request to a busy
     * upstream would queue behind a slow first byte. */
    if (strncasecmp(req->url, "https://", 8) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header_line);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    return set_headers(x, req->headers);
}

uint64_t httpc_submit(struct httpc *h, const struct httpc_request *req,
                      const struct httpc_callbacks *cb, void *arg)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->id = atomic_fetch_add(&h->next_id, 1);
    x->cb = *cb;
    x->arg = arg;
    x->h = h;
    x->watch_fd = req->watch_fd;
    buf_init(&x->rhdr, HDR_MAX);
    x->easy = curl_easy_init();
    BUG_ON(!x->easy);
    if (xfer_setup(x, req) != 0)
        log_warn("httpc", "could not set request headers id=%llu", (unsigned long long)x->id);
    atomic_fetch_add(&h->nactive, 1);
    uint64_t id = x->id;
    if (!cmd_post(h, CMD_ADD, id, x)) {
        atomic_fetch_sub(&h->nactive, 1);
        xfer_free(x);
        return 0;
    }
    return id;
}

void httpc_cancel(struct httpc *h, uint64_t id)
{
    cmd_post(h, CMD_CANCEL, id, NULL);
}

void httpc_resume(struct httpc *h, uint64_t id)
{
    cmd_post(h, CMD_RESUME, id, NULL);
}

size_t httpc_active(struct httpc *h)
{
    return atomic_load(&h->nactive);
}

static void loop_add(struct httpc *h, struct xfer *x)
{
    struct xfer **slot = &h->table[x->id % XFER_BUCKETS];
    x->next = *slot;
    *slot = x;
    if (x->watch_fd >= 0) { /* watched later (see DESIGN), in order of arrival */
        x->watch_at = clock_mono_ms() + WATCH_DELAY_MS;
        x->dprev = h->due_tail;
        if (h->due_tail)
            h->due_tail->dnext = x;
        else
            h->due_head = x;
        h->due_tail = x;
    }
    curl_multi_add_handle(h->multi, x->easy);
}

/* Watch the client sockets of the transfers that have run long enough.
 * Returns the ms until the next one is due (at most max_ms). */
static int loop_watch_due(struct httpc *h, int max_ms)
{
    long long now = clock_mono_ms();
    struct xfer *x;
    while ((x = h->due_head) && x->watch_at <= now) {
        due_unlink(h, x);
        struct epoll_event ev = {.events = EPOLLRDHUP, .data.u64 = x->id};
        x->watched = epoll_ctl(h->epfd, EPOLL_CTL_ADD, x->watch_fd, &ev) == 0 ||
                     epoll_ctl(h->epfd, EPOLL_CTL_MOD, x->watch_fd, &ev) == 0;
    }
    if (!x)
        return max_ms;
    long long wait = x->watch_at - now;
    return wait < max_ms ? (int)wait : max_ms;
}

void httpc_set_round_end(struct httpc *h, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&h->mu);
    h->round_fn = fn;
    h->round_arg = arg;
    pthread_mutex_unlock(&h->mu);
}

bool httpc_on_loop(const struct httpc *h)
{
    return pthread_equal(pthread_self(), h->thread) != 0;
}

static void round_end(struct httpc *h)
{
    pthread_mutex_lock(&h->mu);
    void (*fn)(void *) = h->round_fn;
    void *arg = h->round_arg;
    pthread_mutex_unlock(&h->mu);
    if (fn)
        fn(arg);
}

static void loop_commands(struct httpc *h, bool *stop)
{
    pthread_mutex_lock(&h->mu);
    struct cmd *c = h->cmd_head;
    h->cmd_head = h->cmd_tail = NULL;
    *stop = h->stop;
    h->stopped = h->stop; /* from now on commands are refused, none is lost */
    pthread_mutex_unlock(&h->mu);
    while (c) {
        struct cmd *next = c->next;
        struct xfer *x = c->type == CMD_ADD ? c->x : *xfer_slot(h, c->id);
        if (c->type == CMD_ADD)
            loop_add(h, x);
        else if (x && c->type == CMD_CANCEL)
            xfer_finish(h, x, -ERR_CLOSED, "cancelled");
        else if (x && c->type == CMD_RESUME)
            curl_easy_pause(x->easy, CURLPAUSE_CONT);
        free(c);
        c = next;
    }
}

static int map_curl_error(CURLcode rc, bool got_headers)
{
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ERR_TIMEOUT;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
        return -ERR_CLOSED;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_PROXY:
        return got_headers ? -ERR_IO : -ERR_UPSTREAM;
    default:
        return got_headers ? -ERR_IO : -ERR_UPSTREAM;
    }
}

static void loop_done(struct httpc *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result;
        bool got = x->headers_done;
        xfer_finish(h, x, map_curl_error(rc, got), curl_easy_strerror(rc));
    }
}

static void loop_hangups(struct httpc *h)
{
    struct epoll_event evs[64];
    int n = epoll_wait(h->epfd, evs, 64, 0);
    for (int i = 0; i < n; i++) {
        struct xfer *x = *xfer_slot(h, evs[i].data.u64);
        if (x)
            xfer_finish(h, x, -ERR_CLOSED, "client disconnected");
    }
}

static void loop_drain_all(struct httpc *h)
{
    for (size_t b = 0; b < XFER_BUCKETS; b++)
        while (h->table[b])
            xfer_finish(h, h->table[b], -ERR_CLOSED, "shutting down");
}

/* Wait for sockets, commands or wait_ms. `sleeping` is set before the
 * queue is looked at, and a poster looks at it after queueing (both
 * sequentially consistent): either this thread sees the command, or the
 * poster sees it sleeping and wakes it. Returns true when a watched client
 * socket hung up. */
static bool loop_sleep(struct httpc *h, int wait_ms)
{
    atomic_store(&h->sleeping, true);
    pthread_mutex_lock(&h->mu);
    bool pending = h->cmd_head || h->stop;
    pthread_mutex_unlock(&h->mu);
    struct curl_waitfd extra = {.fd = h->epfd, .events = CURL_WAIT_POLLIN};
    if (!pending)
        curl_multi_poll(h->multi, &extra, 1, wait_ms, NULL);
    atomic_store(&h->sleeping, false);
    return extra.revents != 0;
}

static void *loop_main(void *arg)
{
    struct httpc *h = arg;
    bool stop = false;
    while (!stop) {
        loop_commands(h, &stop);
        int running = 0;
        curl_multi_perform(h->multi, &running);
        loop_done(h);
        round_end(h);
        if (loop_sleep(h, loop_watch_due(h, 1000))) {
            loop_hangups(h);
            round_end(h);
        }
    }
    loop_commands(h, &stop); /* adds that raced with stop are finished below */
    loop_drain_all(h);
    round_end(h);
    return NULL;
}

int httpc_new(struct httpc **out)
{
    pthread_once(&curl_once, curl_init_once);
    struct httpc *h = xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    atomic_init(&h->next_id, 1);
    atomic_init(&h->sleeping, false);
    h->multi = curl_multi_init();
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!h->multi || h->epfd < 0)
        goto fail;
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    /* Idle upstream connections kept warm: libcurl's default (4 per
     * transfer running when one is handed back) kept all 1,000 of a wave
     * of streams for two minutes after it, ~8 MB and 1,000 fds. */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)IDLE_CONNS_MAX);
    if (pthread_create(&h->thread, NULL, loop_main, h) != 0)
        goto fail;
    pthread_setname_np(h->thread, "upstream");
    *out = h;
    return 0;
fail:
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->epfd >= 0)
        close(h->epfd);
    free(h);
    return -ERR_IO;
}

void httpc_stop(struct httpc *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    bool was = h->stop;
    h->stop = true;
    pthread_mutex_unlock(&h->mu);
    if (was)
        return;
    curl_multi_wakeup(h->multi);
    pthread_join(h->thread, NULL);
}

void httpc_free(struct httpc *h)
{
    if (!h)
        return;
    httpc_stop(h);
    curl_multi_cleanup(h->multi);
    close(h->epfd);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
