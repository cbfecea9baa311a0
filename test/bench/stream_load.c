/*
 * stream_load: opens N connections at once, sends one streaming request on each and times every
 * stream from connect to its last byte, for `make bench`'s concurrent slow-stream scenarios.
 *
 *   stream_load --port P [--host 127.0.0.1] [--path /v1/messages] --conns N --body JSON
 *               [--header "name: value"]... [--expect-deltas K] [--timeout-ms 60000]
 *
 * Each request carries "Connection: close". A stream counts as ok when the status is 200, the
 * (chunked or close-delimited) body ended cleanly, it held exactly one message_stop event, no
 * error event and, with --expect-deltas, exactly K content_block_delta events. The SSE text is
 * scanned after chunk decoding, so the relay may re-chunk freely.
 *
 * Prints one JSON object on stdout: conns, ok, errors by cause, wallMs, p50Ms / p90Ms / p99Ms /
 * maxMs of the ok streams' durations, ttfbP50Ms / ttfbP99Ms, and the first error's description.
 * Bounded: every buffer has a fixed size, the whole run ends at --timeout-ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX (8 * 1024)
#define REQ_MAX (64 * 1024)
#define MAX_HEADERS 16
#define MAX_CONNS 100000
#define NPAT 3

enum phase { PH_CONNECT = 0, PH_SEND, PH_HEAD, PH_BODY, PH_DONE };
enum chunk_state { CH_SIZE = 0, CH_SIZE_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_END };
enum result {
    RES_PENDING = 0,
    RES_OK,
    RES_CONNECT,
    RES_IO,
    RES_HTTP,
    RES_INCOMPLETE,
    RES_CONTENT,
    RES_TIMEOUT
};

static const char *const result_name[] = {"pending", "ok",         "connect", "io",
                                          "http",    "incomplete", "content", "timeout"};

/* SSE markers counted in the decoded body: KMP, so they may straddle reads and chunks. */
static const char *const patterns[NPAT] = {"event: content_block_delta", "event: message_stop",
                                           "event: error"};

struct matcher {
    int fail[NPAT][64];
    size_t len[NPAT];
};

struct sconn {
    int fd;
    enum phase ph;
    enum result res;
    size_t sent;
    char head[HEAD_MAX];
    size_t head_len;
    int status;
    bool chunked;
    enum chunk_state cs;
    size_t chunk_left;
    int state[NPAT];
    long hits[NPAT];
    double t0, t_first, t_end;
};

struct run {
    const char *host, *path, *body;
    const char *headers[MAX_HEADERS];
    int nheaders, port, conns, expect_deltas, pending;
    long timeout_ms;
    char req[REQ_MAX];
    size_t req_len;
    struct matcher mt;
    char first_error[256];
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: stream_load --port P --conns N --body JSON [--host A] [--path P]\n"
                    "       [--header 'k: v']... [--expect-deltas K] [--timeout-ms MS]\n");
    exit(2);
}

static long arg_num(const char *v, long lo, long hi)
{
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end != '\0' || n < lo || n > hi)
        usage();
    return n;
}

static void parse_args(struct run *r, int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--port") == 0)
            r->port = (int)arg_num(v, 1, 65535);
        else if (strcmp(a, "--host") == 0)
            r->host = v;
        else if (strcmp(a, "--path") == 0)
            r->path = v;
        else if (strcmp(a, "--conns") == 0)
            r->conns = (int)arg_num(v, 1, MAX_CONNS);
        else if (strcmp(a, "--body") == 0)
            r->body = v;
        else if (strcmp(a, "--header") == 0 && r->nheaders < MAX_HEADERS)
            r->headers[r->nheaders++] = v;
        else if (strcmp(a, "--expect-deltas") == 0)
            r->expect_deltas = (int)arg_num(v, 0, 1000000);
        else if (strcmp(a, "--timeout-ms") == 0)
            r->timeout_ms = arg_num(v, 100, 3600000);
        else
            usage();
    }
    if (argc % 2 == 0 || r->port == 0 || r->conns == 0 || !r->body)
        usage();
}

static void build_request(struct run *r)
{
    int n = snprintf(r->req, sizeof(r->req),
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     "Accept: text/event-stream\r\nContent-Length: %zu\r\nConnection: close\r\n",
                     r->path, r->host, r->port, strlen(r->body));
    for (int i = 0; i < r->nheaders && n > 0 && (size_t)n < sizeof(r->req); i++)
        n += snprintf(r->req + n, sizeof(r->req) - (size_t)n, "%s\r\n", r->headers[i]);
    if (n > 0 && (size_t)n < sizeof(r->req))
        n += snprintf(r->req + n, sizeof(r->req) - (size_t)n, "\r\n%s", r->body);
    if (n < 0 || (size_t)n >= sizeof(r->req)) {
        fprintf(stderr, "stream_load: request larger than %d bytes\n", REQ_MAX);
        exit(2);
    }
    r->req_len = (size_t)n;
}

static void matcher_init(struct matcher *mt)
{
    for (int p = 0; p < NPAT; p++) {
        const char *s = patterns[p];
        size_t len = strlen(s);
        int k = 0;
        mt->len[p] = len;
        mt->fail[p][0] = 0;
        for (size_t i = 1; i < len; i++) {
            while (k > 0 && s[i] != s[k])
                k = mt->fail[p][k - 1];
            if (s[i] == s[k])
                k++;
            mt->fail[p][i] = k;
        }
    }
}

static void scan(const struct matcher *mt, struct sconn *c, const char *d, size_t n)
{
    for (int p = 0; p < NPAT; p++) {
        const char *s = patterns[p];
        int k = c->state[p];
        for (size_t i = 0; i < n; i++) {
            while (k > 0 && d[i] != s[k])
                k = mt->fail[p][k - 1];
            if (d[i] == s[k])
                k++;
            if ((size_t)k == mt->len[p]) {
                c->hits[p]++;
                k = mt->fail[p][k - 1];
            }
        }
        c->state[p] = k;
    }
}

static void finish(struct run *r, struct sconn *c, enum result res, const char *why)
{
    if (c->ph == PH_DONE)
        return;
    c->ph = PH_DONE;
    c->res = res;
    r->pending--;
    c->t_end = now_ms();
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (res != RES_OK && r->first_error[0] == '\0')
        snprintf(r->first_error, sizeof(r->first_error), "%s: %s", result_name[res], why);
}

/* The body is complete: judge its content. */
static void judge(struct run *r, struct sconn *c)
{
    char why[128];
    if (c->status != 200) {
        snprintf(why, sizeof(why), "status %d", c->status);
        finish(r, c, RES_HTTP, why);
        return;
    }
    if (c->hits[1] != 1 || c->hits[2] != 0 ||
        (r->expect_deltas > 0 && c->hits[0] != r->expect_deltas)) {
        snprintf(why, sizeof(why), "deltas=%ld message_stop=%ld error_events=%ld", c->hits[0],
                 c->hits[1], c->hits[2]);
        finish(r, c, RES_CONTENT, why);
        return;
    }
    finish(r, c, RES_OK, "");
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* One byte of chunk framing (not data): false on a framing error. */
static bool chunk_frame_byte(struct sconn *c, char ch)
{
    int hv = hexval(ch);
    switch (c->cs) {
    case CH_SIZE:
        if (hv >= 0 && c->chunk_left < ((size_t)1 << 40)) {
            c->chunk_left = c->chunk_left * 16 + (size_t)hv;
            return true;
        }
        if (ch == ';' || ch == ' ' || ch == '\t')
            c->cs = CH_SIZE_EXT;
        else if (ch == '\r')
            c->cs = CH_SIZE_LF;
        else
            return false;
        return true;
    case CH_SIZE_EXT:
        if (ch == '\r')
            c->cs = CH_SIZE_LF;
        return true;
    case CH_SIZE_LF:
        if (ch != '\n')
            return false;
        c->cs = c->chunk_left ? CH_DATA : CH_END;
        return true;
    case CH_DATA_CR:
        c->cs = CH_DATA_LF;
        return ch == '\r';
    case CH_DATA_LF:
        c->cs = CH_SIZE;
        c->chunk_left = 0;
        return ch == '\n';
    default:
        return false;
    }
}

/* Decodes chunked bytes into the scanner; true once the last chunk was read. */
static bool body_chunked(struct run *r, struct sconn *c, const char *d, size_t n, bool *bad)
{
    size_t i = 0;
    while (i < n && c->cs != CH_END) {
        if (c->cs == CH_DATA) {
            size_t take = n - i < c->chunk_left ? n - i : c->chunk_left;
            scan(&r->mt, c, d + i, take);
            i += take;
            c->chunk_left -= take;
            if (c->chunk_left == 0)
                c->cs = CH_DATA_CR;
            continue;
        }
        if (!chunk_frame_byte(c, d[i++])) {
            *bad = true;
            return false;
        }
    }
    return c->cs == CH_END; /* trailers, if any, are not waited for */
}

static void on_body(struct run *r, struct sconn *c, const char *d, size_t n)
{
    bool bad = false;
    if (!c->chunked) {
        scan(&r->mt, c, d, n); /* close-delimited (or an error body): ends at EOF */
        return;
    }
    if (body_chunked(r, c, d, n, &bad))
        judge(r, c);
    else if (bad)
        finish(r, c, RES_IO, "bad chunk framing");
}

static bool head_has(const char *h, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (strncasecmp(h + i, needle, nl) == 0)
            return true;
    return false;
}

static void on_head_bytes(struct run *r, struct sconn *c, const char *d, size_t n)
{
    size_t room = sizeof(c->head) - c->head_len, take = n < room ? n : room;
    memcpy(c->head + c->head_len, d, take);
    c->head_len += take;
    const char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->head_len == sizeof(c->head))
            finish(r, c, RES_IO, "response head too large");
        return;
    }
    size_t hl = (size_t)(end - c->head) + 4;
    if (sscanf(c->head, "HTTP/1.%*c %d", &c->status) != 1) {
        finish(r, c, RES_IO, "no status line");
        return;
    }
    c->chunked = head_has(c->head, hl - 2, "\r\ntransfer-encoding: chunked");
    c->ph = PH_BODY;
    /* bytes after the head: those still in head[], then whatever of d was not copied */
    if (c->head_len > hl)
        on_body(r, c, c->head + hl, c->head_len - hl);
    if (c->ph == PH_BODY && take < n)
        on_body(r, c, d + take, n - take);
}

static void on_readable(struct run *r, struct sconn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            finish(r, c, RES_IO, strerror(errno));
            return;
        }
        if (n == 0) { /* EOF: complete only for a close-delimited body */
            if (c->ph == PH_BODY && !c->chunked)
                judge(r, c);
            else
                finish(r, c, RES_INCOMPLETE, "connection closed before the end of the stream");
            return;
        }
        if (c->t_first == 0)
            c->t_first = now_ms();
        if (c->ph == PH_HEAD)
            on_head_bytes(r, c, buf, (size_t)n);
        else if (c->ph == PH_BODY)
            on_body(r, c, buf, (size_t)n);
        if (c->ph == PH_DONE)
            return;
    }
}

static void on_writable(struct run *r, struct sconn *c, int ep)
{
    if (c->ph == PH_CONNECT) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            finish(r, c, RES_CONNECT, strerror(err));
            return;
        }
        c->ph = PH_SEND;
    }
    while (c->ph == PH_SEND && c->sent < r->req_len) {
        ssize_t w = send(c->fd, r->req + c->sent, r->req_len - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            finish(r, c, RES_IO, strerror(errno));
            return;
        }
        c->sent += (size_t)w;
    }
    if (c->ph == PH_SEND) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        c->ph = PH_HEAD;
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

static void open_all(struct run *r, struct sconn *cs, int ep)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
    if (inet_pton(AF_INET, r->host, &sa.sin_addr) != 1)
        usage();
    for (int i = 0; i < r->conns; i++) {
        struct sconn *c = &cs[i];
        int one = 1;
        c->t0 = now_ms();
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            finish(r, c, RES_CONNECT, strerror(errno));
            continue;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
            finish(r, c, RES_CONNECT, strerror(errno));
            continue;
        }
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            finish(r, c, RES_CONNECT, strerror(errno));
    }
}

static void on_event(struct run *r, struct sconn *c, uint32_t events, int ep)
{
    if (c->ph == PH_DONE)
        return;
    if ((events & EPOLLERR) && c->ph == PH_CONNECT) {
        on_writable(r, c, ep); /* reads SO_ERROR */
        return;
    }
    if ((events & EPOLLOUT) && (c->ph == PH_CONNECT || c->ph == PH_SEND))
        on_writable(r, c, ep);
    if (c->ph != PH_DONE && c->ph >= PH_HEAD && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
        on_readable(r, c);
    else if (c->ph != PH_DONE && (events & (EPOLLHUP | EPOLLERR)))
        finish(r, c, RES_IO, "hang-up while sending the request");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, int n, double p)
{
    if (n == 0)
        return -1;
    int i = (int)(p / 100.0 * (double)n + 0.999999) - 1;
    return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

static void report(struct run *r, struct sconn *cs, double wall)
{
    long count[RES_TIMEOUT + 1] = {0};
    double *dur = calloc((size_t)r->conns, sizeof(double));
    double *ttfb = calloc((size_t)r->conns, sizeof(double));
    int ok = 0;
    if (!dur || !ttfb)
        abort();
    for (int i = 0; i < r->conns; i++) {
        count[cs[i].res]++;
        if (cs[i].res == RES_OK) {
            dur[ok] = cs[i].t_end - cs[i].t0;
            ttfb[ok++] = cs[i].t_first - cs[i].t0;
        }
    }
    qsort(dur, (size_t)ok, sizeof(double), cmp_double);
    qsort(ttfb, (size_t)ok, sizeof(double), cmp_double);
    printf("{\"conns\":%d,\"ok\":%d,\"errors\":%d,\"connectErrors\":%ld,\"ioErrors\":%ld,"
           "\"httpErrors\":%ld,\"incomplete\":%ld,\"contentErrors\":%ld,\"timeouts\":%ld,"
           "\"wallMs\":%.1f,\"minMs\":%.1f,\"p50Ms\":%.1f,\"p90Ms\":%.1f,\"p99Ms\":%.1f,"
           "\"maxMs\":%.1f,\"ttfbP50Ms\":%.1f,\"ttfbP99Ms\":%.1f,\"firstError\":\"",
           r->conns, ok, r->conns - ok, count[RES_CONNECT], count[RES_IO], count[RES_HTTP],
           count[RES_INCOMPLETE], count[RES_CONTENT], count[RES_TIMEOUT], wall, pct(dur, ok, 0),
           pct(dur, ok, 50), pct(dur, ok, 90), pct(dur, ok, 99), pct(dur, ok, 100),
           pct(ttfb, ok, 50), pct(ttfb, ok, 99));
    for (const char *p = r->first_error; *p; p++) /* JSON-safe: drop quotes and controls */
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            putchar(*p);
    printf("\"}\n");
    free(dur);
    free(ttfb);
}

int main(int argc, char **argv)
{
    static struct run r = {.host = "127.0.0.1", .path = "/v1/messages", .timeout_ms = 60000};
    struct epoll_event evs[512];

    signal(SIGPIPE, SIG_IGN);
    parse_args(&r, argc, argv);
    build_request(&r);
    matcher_init(&r.mt);
    struct sconn *cs = calloc((size_t)r.conns, sizeof(*cs));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0) {
        perror("stream_load: setup");
        return 1;
    }
    double start = now_ms(), deadline = start + (double)r.timeout_ms;
    r.pending = r.conns;
    open_all(&r, cs, ep);
    do {
        int wait = (int)(deadline - now_ms());
        int n = epoll_wait(ep, evs, 512, wait > 0 ? wait : 0);
        if (n < 0 && errno != EINTR) {
            perror("stream_load: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++)
            on_event(&r, evs[i].data.ptr, evs[i].events, ep);
    } while (r.pending > 0 && now_ms() < deadline);
    for (int i = 0; i < r.conns; i++)
        finish(&r, &cs[i], RES_TIMEOUT, "no complete stream before --timeout-ms");
    report(&r, cs, now_ms() - start);
    free(cs);
    return 0;
}
