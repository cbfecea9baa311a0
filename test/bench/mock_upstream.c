/*
 * mock_upstream: a small, fast stand-in for the Anthropic Messages API, for `make bench`.
 *
 * The Node mock (test/mock/upstream.js) is right for the integration tests but costs more CPU
 * per request than the relay under test, so at 256 connections it, not the relay, would be
 * measured. This one answers the same wire format from one thread:
 *
 *   POST [/b/<x>]/v1/messages               canned message JSON with a usage block, or, when the
 *                                           body has "stream":true, a chunked SSE stream:
 *                                           message_start (usage), content_block_start, ping,
 *                                           content_block_delta x N, content_block_stop,
 *                                           message_delta (usage), message_stop
 *   POST [/b/<x>]/v1/messages/count_tokens  {"input_tokens":42}
 *   GET  /v1/models, GET /health, GET /__mock/stats (counters as JSON)
 *
 * N is --deltas (default 16: a 22-event stream) and each delta waits --delay-ms (default 0).
 * A model named bench-slow-<n>-<ms> asks for n deltas <ms> apart for that request (a
 * non-stream request with such a model is answered after n * ms).
 *
 *   mock_upstream --port 0 [--host 127.0.0.1] [--delay-ms 0] [--deltas 16] [--max-conns 20000]
 *
 * prints "listening <port>" on stdout; SIGINT / SIGTERM print the counters on stderr and exit 0.
 *
 * DESIGN
 *   One epoll loop owns every socket; timers are a binary min-heap of connections ordered by
 *   deadline, with one timerfd armed (absolute, CLOCK_MONOTONIC) at the earliest: a waiting
 *   stream costs a heap slot and its buffers, no thread. HTTP/1.1 keep-alive; requests carry a
 *   Content-Length body (a chunked request body is refused with 501), "Expect: 100-continue" is
 *   honoured. Bytes that arrive while a request is answered are kept and parsed after it
 *   (pipelining falls out of that, it is not otherwise relied on).
 *   Bounds: request head 16 KiB (431), body 4 MiB (413), pending output 256 KiB per connection
 *   (a stream generates its next event only when less than half of that is queued), --max-conns
 *   open connections (more are accepted and closed). A connection closed during an event batch
 *   is freed at the end of the batch, so a later event of that batch never sees freed memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX (16 * 1024)
#define BODY_MAX (4 * 1024 * 1024)
#define IN_INITIAL 4096
#define OUT_MAX (256 * 1024)
#define OUT_HIGH (OUT_MAX / 2)
#define MODEL_MAX 64
#define DELTAS_MAX 10000
#define DELAY_MAX_MS 60000
#define EVENTS_PER_WAIT 256
#define DEFAULT_MODEL "claude-sonnet-4-5"

#define USAGE_FIELDS                                                                               \
    "\"input_tokens\":11,\"cache_creation_input_tokens\":7,\"cache_read_input_tokens\":5,"         \
    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":3,\"ephemeral_1h_input_tokens\":4}"

enum gen_kind { GEN_NONE = 0, GEN_SSE, GEN_LATE_JSON };

struct conn {
    int fd;
    bool dead;   /* closed; freed at the end of the event batch */
    bool busy;   /* a request is being answered */
    bool keep;   /* keep the connection after this answer */
    bool waited; /* the current delta has had its delay */
    bool continued;
    uint32_t mask; /* epoll interest registered */
    char *in;
    size_t in_len, in_cap, req_len;
    char *out;
    size_t out_len, out_off, out_cap;
    enum gen_kind gen;
    int next_ev, n_deltas, delay_ms;
    uint64_t id, deadline_ns;
    long heap_idx;
    char model[MODEL_MAX + 1];
    struct conn *next_dead;
};

struct counters {
    uint64_t accepted, refused, requests, json, streams, count_tokens, completed, aborted, bad;
};

struct mock {
    int ep, lfd, tfd, sfd;
    char tag_listen, tag_timer, tag_signal; /* epoll data.ptr of the non-connection fds */
    struct conn **heap;
    size_t heap_len, heap_cap;
    uint64_t armed_ns;
    struct conn *graveyard;
    long nconns, max_conns;
    bool accept_paused, stop;
    int delay_ms, deltas;
    uint64_t next_id;
    struct counters n;
};

struct req {
    const char *method, *path;
    size_t mlen, plen, head_len, clen;
    bool close, expect;
};

static void conn_close(struct mock *m, struct conn *c);
static void conn_input(struct mock *m, struct conn *c);

static void die(const char *what)
{
    fprintf(stderr, "mock_upstream: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "mock_upstream: out of memory\n");
        abort();
    }
    return q;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ timer heap */

static bool heap_less(struct mock *m, size_t a, size_t b)
{
    return m->heap[a]->deadline_ns < m->heap[b]->deadline_ns;
}

static void heap_swap(struct mock *m, size_t a, size_t b)
{
    struct conn *t = m->heap[a];
    m->heap[a] = m->heap[b];
    m->heap[b] = t;
    m->heap[a]->heap_idx = (long)a;
    m->heap[b]->heap_idx = (long)b;
}

static void heap_fix(struct mock *m, size_t i)
{
    while (i > 0 && heap_less(m, i, (i - 1) / 2)) {
        heap_swap(m, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->heap_len && heap_less(m, l, min))
            min = l;
        if (r < m->heap_len && heap_less(m, r, min))
            min = r;
        if (min == i)
            return;
        heap_swap(m, i, min);
        i = min;
    }
}

static void timer_add(struct mock *m, struct conn *c, uint64_t deadline_ns)
{
    if (m->heap_len == m->heap_cap) {
        m->heap_cap = m->heap_cap ? 2 * m->heap_cap : 1024;
        m->heap = xrealloc(m->heap, m->heap_cap * sizeof(*m->heap));
    }
    c->deadline_ns = deadline_ns;
    c->heap_idx = (long)m->heap_len;
    m->heap[m->heap_len++] = c;
    heap_fix(m, (size_t)c->heap_idx);
}

static void timer_del(struct mock *m, struct conn *c)
{
    size_t i = (size_t)c->heap_idx;
    if (c->heap_idx < 0)
        return;
    c->heap_idx = -1;
    m->heap_len--;
    if (i == m->heap_len)
        return;
    m->heap[i] = m->heap[m->heap_len];
    m->heap[i]->heap_idx = (long)i;
    heap_fix(m, i);
}

/* Arms the timerfd at the earliest deadline (or disarms it) when that changed. */
static void timer_arm(struct mock *m)
{
    uint64_t want = m->heap_len ? m->heap[0]->deadline_ns : 0;
    struct itimerspec its = {0};
    if (want == m->armed_ns)
        return;
    its.it_value.tv_sec = (time_t)(want / 1000000000u);
    its.it_value.tv_nsec = (long)(want % 1000000000u);
    if (timerfd_settime(m->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime");
    m->armed_ns = want;
}

/* ------------------------------------------------------------------ output */

static void conn_watch(struct mock *m, struct conn *c)
{
    uint32_t want = EPOLLRDHUP;
    struct epoll_event ev = {0};
    if (!c->busy || c->in_len < c->in_cap)
        want |= EPOLLIN;
    if (c->out_off < c->out_len)
        want |= EPOLLOUT;
    if (want == c->mask)
        return;
    ev.events = want;
    ev.data.ptr = c;
    if (epoll_ctl(m->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl MOD");
    c->mask = want;
}

/* Appends formatted bytes to the output; false (the connection must go) past OUT_MAX. */
__attribute__((format(printf, 2, 3))) static bool out_printf(struct conn *c, const char *fmt, ...)
{
    for (;;) {
        size_t room = c->out_cap - c->out_len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(c->out + c->out_len, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return false;
        if ((size_t)n < room) {
            c->out_len += (size_t)n;
            return true;
        }
        if (c->out_off > 0) { /* reclaim what was already sent */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
            continue;
        }
        if (c->out_cap >= OUT_MAX)
            return false;
        c->out_cap = c->out_cap ? 2 * c->out_cap : 4096;
        if (c->out_cap > OUT_MAX)
            c->out_cap = OUT_MAX;
        c->out = xrealloc(c->out, c->out_cap);
    }
}

/* One SSE event as one HTTP chunk. */
__attribute__((format(printf, 2, 3))) static bool out_chunk(struct conn *c, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(body))
        return false;
    return out_printf(c, "%x\r\n%s\r\n", (unsigned)n, body);
}

static bool out_json(struct conn *c, int status, const char *reason, const char *body)
{
    return out_printf(c,
                      "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                      "content-length: %zu\r\nrequest-id: req_mock_%016" PRIx64 "\r\n%s\r\n%s",
                      status, reason, strlen(body), c->id, c->keep ? "" : "connection: close\r\n",
                      body);
}

static bool out_error(struct conn *c, int status, const char *reason, const char *type,
                      const char *msg)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}", type, msg);
    return out_json(c, status, reason, body);
}

static bool out_message(struct conn *c, int output_tokens)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"id\":\"msg_mock_%016" PRIx64 "\",\"type\":\"message\",\"role\":\"assistant\","
             "\"model\":\"%s\",\"content\":[{\"type\":\"text\",\"text\":\"Hello from the mock "
             "upstream.\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
             "\"usage\":{" USAGE_FIELDS ",\"output_tokens\":%d}}",
             c->id, c->model, output_tokens);
    return out_json(c, 200, "OK", body);
}

/* Event i of the stream (0-based): 3 openers, n deltas, 3 closers. */
static bool out_event(struct conn *c, int i)
{
    int n = c->n_deltas;
    if (i == 0)
        return out_chunk(c,
                         "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
                         "\"id\":\"msg_mock_%016" PRIx64 "\",\"type\":\"message\",\"role\":"
                         "\"assistant\",\"model\":\"%s\",\"content\":[],\"stop_reason\":null,"
                         "\"stop_sequence\":null,\"usage\":{" USAGE_FIELDS
                         ",\"output_tokens\":1}}}\n\n",
                         c->id, c->model);
    if (i == 1)
        return out_chunk(c, "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                            "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    if (i == 2)
        return out_chunk(c, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    if (i < 3 + n)
        return out_chunk(
            c,
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
            "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"chunk%d \"}}\n\n",
            i - 3);
    if (i == 3 + n)
        return out_chunk(c, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                            "\"index\":0}\n\n");
    if (i == 4 + n)
        return out_chunk(c,
                         "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"
                         "\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{"
                         "\"output_tokens\":%d}}\n\n",
                         n);
    return out_chunk(c, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

/* Generates the stream's events until a delay, output back-pressure or the end. */
static bool stream_pump(struct mock *m, struct conn *c)
{
    int total = c->n_deltas + 6;
    while (c->next_ev < total) {
        bool delta = c->next_ev >= 3 && c->next_ev < 3 + c->n_deltas;
        if (c->out_len - c->out_off > OUT_HIGH)
            return true; /* resumed by conn_flush once the client has read */
        if (delta && c->delay_ms > 0 && !c->waited) {
            c->waited = true;
            timer_add(m, c, now_ns() + (uint64_t)c->delay_ms * 1000000u);
            return true;
        }
        if (!out_event(c, c->next_ev))
            return false;
        c->next_ev++;
        c->waited = false;
    }
    c->gen = GEN_NONE;
    return out_printf(c, "0\r\n\r\n");
}

/* Ends the current request: keep the connection for the next one or close it. */
static void request_done(struct mock *m, struct conn *c)
{
    m->n.completed++;
    c->busy = false; /* answered: a close now is not an abort */
    if (!c->keep) {
        conn_close(m, c);
        return;
    }
    memmove(c->in, c->in + c->req_len, c->in_len - c->req_len);
    c->in_len -= c->req_len;
    c->req_len = 0;
    c->busy = false;
    c->continued = false;
    if (c->in_len > 0)
        conn_input(m, c);
}

/* Sends what is queued: 1 all sent, 0 the socket is full, -1 the connection failed. */
static int out_send(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w <= 0)
            return -1;
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    return 1;
}

/* Writes what is queued, lets a stream generate more while the socket takes it, and ends the
 * request once everything is out. */
static void conn_flush(struct mock *m, struct conn *c)
{
    for (;;) {
        int rc = out_send(c);
        if (rc < 0) {
            conn_close(m, c);
            return;
        }
        if (c->gen != GEN_SSE || c->heap_idx >= 0 || c->out_len - c->out_off > OUT_HIGH)
            break;
        size_t before = c->out_len - c->out_off;
        if (!stream_pump(m, c)) {
            conn_close(m, c);
            return;
        }
        if (rc == 0 || c->out_len - c->out_off == before)
            break; /* the socket is full (EPOLLOUT resumes), or a delay / the end was reached */
    }
    if (c->busy && c->gen == GEN_NONE && c->out_off == c->out_len) {
        request_done(m, c);
        return;
    }
    conn_watch(m, c);
}

/* ------------------------------------------------------------------ request parsing */

static bool is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool hdr_is(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

static bool value_has(const char *v, size_t vlen, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= vlen; i++)
        if (strncasecmp(v + i, token, tl) == 0)
            return true;
    return false;
}

/* Content-Length: digits only, at most 10 of them; a repeated header must agree. */
static int parse_clen(struct req *r, bool *seen, const char *v, size_t vlen)
{
    size_t n = 0;
    if (vlen == 0 || vlen > 10)
        return -400;
    for (size_t i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -400;
        n = n * 10 + (size_t)(v[i] - '0');
    }
    if (*seen && n != r->clen)
        return -400;
    *seen = true;
    r->clen = n;
    return n > BODY_MAX ? -413 : 0;
}

/* One header line [p, end): name ":" OWS value OWS. */
static int parse_header(struct req *r, bool *seen_clen, const char *p, const char *end)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon || colon == p || *p == ' ' || *p == '\t')
        return -400; /* no name, or obsolete line folding */
    for (const char *q = p; q < colon; q++)
        if (!is_tchar(*q))
            return -400;
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = end;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t nlen = (size_t)(colon - p), vlen = (size_t)(ve - v);
    if (hdr_is(p, nlen, "content-length"))
        return parse_clen(r, seen_clen, v, vlen);
    if (hdr_is(p, nlen, "transfer-encoding"))
        return -501;
    if (hdr_is(p, nlen, "connection") && value_has(v, vlen, "close"))
        r->close = true;
    if (hdr_is(p, nlen, "expect") && value_has(v, vlen, "100-continue"))
        r->expect = true;
    return 0;
}

/* Request line: method SP origin-form SP HTTP/1.x. */
static int parse_request_line(struct req *r, const char *p, const char *end)
{
    const char *sp1 = memchr(p, ' ', (size_t)(end - p));
    if (!sp1 || sp1 == p)
        return -400;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1 || sp1[1] != '/')
        return -400;
    for (const char *q = p; q < sp1; q++)
        if (!is_tchar(*q))
            return -400;
    for (const char *q = sp1 + 1; q < sp2; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return -400;
    size_t vlen = (size_t)(end - sp2 - 1);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
        return -505;
    r->method = p;
    r->mlen = (size_t)(sp1 - p);
    r->path = sp1 + 1;
    r->plen = (size_t)(sp2 - sp1 - 1);
    if (sp2[8] == '0')
        r->close = true; /* HTTP/1.0: one request per connection */
    return 0;
}

/* 1: head complete in r; 0: need more bytes; negative: answer with that status and close. */
static int parse_head(const char *buf, size_t len, struct req *r)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    bool seen_clen = false;
    memset(r, 0, sizeof(*r));
    if (!end)
        return len > HEAD_MAX ? -431 : 0;
    if ((size_t)(end - buf) + 4 > HEAD_MAX)
        return -431;
    const char *eol = memmem(buf, (size_t)(end - buf) + 2, "\r\n", 2);
    int rc = parse_request_line(r, buf, eol);
    if (rc < 0)
        return rc;
    for (const char *p = eol + 2; p < end + 2; p = eol + 2) {
        eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        for (const char *q = p; q < eol; q++)
            if (*q == '\0' || *q == '\r' || *q == '\n')
                return -400;
        rc = parse_header(r, &seen_clen, p, eol);
        if (rc < 0)
            return rc;
    }
    r->head_len = (size_t)(end - buf) + 4;
    return 1;
}

/* ------------------------------------------------------------------ the answers */

/* Finds "key" : in a JSON text and returns where its value starts (NULL if absent). */
static const char *json_value(const char *body, size_t blen, const char *key)
{
    char pat[32];
    int pl = snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = body, *end = body + blen;
    while (pl > 0 && (p = memmem(p, (size_t)(end - p), pat, (size_t)pl)) != NULL) {
        const char *q = p + pl;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
            q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
                q++;
            return q;
        }
        p += pl;
    }
    return NULL;
}

/* The model, if it is a plain identifier (it is echoed into JSON unescaped), else the default. */
static void body_model(const char *body, size_t blen, char *out)
{
    const char *v = json_value(body, blen, "model"), *end = body + blen;
    size_t n = 0;
    snprintf(out, MODEL_MAX + 1, "%s", DEFAULT_MODEL);
    if (!v || v >= end || *v != '"')
        return;
    for (v++; v + n < end && v[n] != '"'; n++)
        if (n >= MODEL_MAX || !(is_tchar(v[n]) || v[n] == ':' || v[n] == '@'))
            return;
    if (v + n < end && n > 0)
        snprintf(out, MODEL_MAX + 1, "%.*s", (int)n, v);
}

static bool body_streams(const char *body, size_t blen)
{
    const char *v = json_value(body, blen, "stream");
    return v && (size_t)(body + blen - v) >= 4 && memcmp(v, "true", 4) == 0;
}

/* bench-slow-<n>-<ms> overrides the default delta count and delay. */
static void model_pacing(struct mock *m, struct conn *c)
{
    int n = 0, ms = 0, used = 0;
    c->n_deltas = m->deltas;
    c->delay_ms = m->delay_ms;
    if (sscanf(c->model, "bench-slow-%d-%d%n", &n, &ms, &used) == 2 && c->model[used] == '\0' &&
        n >= 1 && n <= DELTAS_MAX && ms >= 0 && ms <= DELAY_MAX_MS) {
        c->n_deltas = n;
        c->delay_ms = ms;
    }
}

static bool answer_messages(struct mock *m, struct conn *c, const char *body, size_t blen)
{
    size_t i = 0;
    while (i < blen && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == blen || body[i] != '{') {
        m->n.bad++;
        return out_error(c, 400, "Bad Request", "invalid_request_error",
                         "mock: request body is not a JSON object");
    }
    body_model(body, blen, c->model);
    model_pacing(m, c);
    if (!body_streams(body, blen)) {
        m->n.json++;
        if (c->delay_ms > 0 && strncmp(c->model, "bench-slow-", 11) == 0) {
            c->gen = GEN_LATE_JSON;
            timer_add(m, c, now_ns() + (uint64_t)c->n_deltas * (uint64_t)c->delay_ms * 1000000u);
            return true;
        }
        return out_message(c, 13);
    }
    m->n.streams++;
    c->gen = GEN_SSE;
    c->next_ev = 0;
    c->waited = false;
    return out_printf(c,
                      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                      "cache-control: no-cache\r\nrequest-id: req_mock_%016" PRIx64 "\r\n"
                      "transfer-encoding: chunked\r\n%s\r\n",
                      c->id, c->keep ? "" : "connection: close\r\n") &&
           stream_pump(m, c);
}

static bool answer_stats(struct mock *m, struct conn *c)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"requests\":%" PRIu64
             ",\"json\":%" PRIu64 ",\"streams\":%" PRIu64 ",\"countTokens\":%" PRIu64
             ",\"completed\":%" PRIu64 ",\"aborted\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"open\":%ld}",
             m->n.accepted, m->n.refused, m->n.requests, m->n.json, m->n.streams, m->n.count_tokens,
             m->n.completed, m->n.aborted, m->n.bad, m->nconns);
    return out_json(c, 200, "OK", body);
}

static bool route(struct mock *m, struct conn *c, const struct req *r, const char *body)
{
    const char *p = r->path, *pe = r->path + r->plen, *q = memchr(p, '?', r->plen);
    if (q)
        pe = q;
    if (pe - p > 3 && memcmp(p, "/b/", 3) == 0) { /* per-account prefix: ignored */
        const char *slash = memchr(p + 3, '/', (size_t)(pe - p - 3));
        p = slash ? slash : pe;
    }
    size_t plen = (size_t)(pe - p);
    bool post = r->mlen == 4 && memcmp(r->method, "POST", 4) == 0;
    bool get = r->mlen == 3 && memcmp(r->method, "GET", 3) == 0;
#define PATH_IS(s) (plen == sizeof(s) - 1 && memcmp(p, s, plen) == 0)
    if (post && PATH_IS("/v1/messages"))
        return answer_messages(m, c, body, r->clen);
    if (post && PATH_IS("/v1/messages/count_tokens")) {
        m->n.count_tokens++;
        return out_json(c, 200, "OK", "{\"input_tokens\":42}");
    }
    if (get && PATH_IS("/v1/models"))
        return out_json(c, 200, "OK",
                        "{\"data\":[{\"type\":\"model\",\"id\":\"claude-sonnet-4-5\",\"display_name"
                        "\":\"Claude Sonnet 4.5\",\"created_at\":\"2025-09-29T00:00:00Z\"}],"
                        "\"has_more\":false,\"first_id\":\"claude-sonnet-4-5\",\"last_id\":"
                        "\"claude-sonnet-4-5\"}");
    if (get && PATH_IS("/health"))
        return out_json(c, 200, "OK", "{\"ok\":true}");
    if (get && PATH_IS("/__mock/stats"))
        return answer_stats(m, c);
#undef PATH_IS
    m->n.bad++;
    return out_error(c, 404, "Not Found", "not_found_error", "mock: no such route");
}

static const char *reason_of(int status)
{
    switch (status) {
    case 413:
        return "Payload Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Bad Request";
    }
}

/* Makes room for the whole request (head + body), within the bounds. */
static bool in_reserve(struct conn *c, size_t want)
{
    if (want <= c->in_cap)
        return true;
    if (want > HEAD_MAX + BODY_MAX)
        return false;
    size_t cap = c->in_cap;
    while (cap < want)
        cap *= 2;
    if (cap > HEAD_MAX + BODY_MAX)
        cap = HEAD_MAX + BODY_MAX;
    c->in = xrealloc(c->in, cap);
    c->in_cap = cap;
    return true;
}

/* Parses what has arrived; starts the answer once a whole request is in. */
static void conn_input(struct mock *m, struct conn *c)
{
    struct req r;
    int rc = parse_head(c->in, c->in_len, &r);
    if (rc == 0 && c->in_len == c->in_cap && !in_reserve(c, c->in_cap * 2))
        rc = -431;
    if (rc < 0) {
        m->n.bad++;
        c->busy = true;
        c->keep = false;
        c->req_len = c->in_len;
        if (!out_error(c, -rc, reason_of(-rc), "invalid_request_error", "mock: bad request"))
            conn_close(m, c);
        else
            conn_flush(m, c);
        return;
    }
    if (rc == 0 || !in_reserve(c, r.head_len + r.clen)) {
        conn_watch(m, c);
        return;
    }
    if (c->in_len < r.head_len + r.clen) {
        if (r.expect && !c->continued) {
            c->continued = true;
            if (!out_printf(c, "HTTP/1.1 100 Continue\r\n\r\n")) {
                conn_close(m, c);
                return;
            }
            conn_flush(m, c);
            return;
        }
        conn_watch(m, c);
        return;
    }
    m->n.requests++;
    c->busy = true;
    c->keep = !r.close;
    c->req_len = r.head_len + r.clen;
    c->id = ++m->next_id;
    if (!route(m, c, &r, c->in + r.head_len))
        conn_close(m, c);
    else
        conn_flush(m, c);
}

/* ------------------------------------------------------------------ connections */

static void conn_close(struct mock *m, struct conn *c)
{
    if (c->dead)
        return;
    if (c->busy)
        m->n.aborted++;
    timer_del(m, c);
    close(c->fd); /* also leaves the epoll set */
    c->dead = true;
    c->next_dead = m->graveyard;
    m->graveyard = c;
    m->nconns--;
    if (m->accept_paused) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &m->tag_listen};
        if (epoll_ctl(m->ep, EPOLL_CTL_MOD, m->lfd, &ev) != 0)
            die("epoll_ctl resume accept");
        m->accept_paused = false;
    }
}

static void graveyard_free(struct mock *m)
{
    while (m->graveyard) {
        struct conn *c = m->graveyard;
        m->graveyard = c->next_dead;
        free(c->in);
        free(c->out);
        free(c);
    }
}

static void conn_readable(struct mock *m, struct conn *c, bool rdhup)
{
    for (;;) {
        if (c->in_len == c->in_cap && (c->busy || !in_reserve(c, c->in_cap * 2))) {
            if (rdhup) { /* the peer is done sending and we cannot take its bytes */
                conn_close(m, c);
                return;
            }
            break;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_close(m, c);
            return;
        }
        c->in_len += (size_t)n;
    }
    if (!c->busy)
        conn_input(m, c);
    else
        conn_watch(m, c);
}

static void accept_all(struct mock *m)
{
    for (;;) {
        int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            struct epoll_event ev = {.events = 0, .data.ptr = &m->tag_listen};
            fprintf(stderr, "mock_upstream: accept: %s (pausing until a close)\n", strerror(errno));
            if (epoll_ctl(m->ep, EPOLL_CTL_MOD, m->lfd, &ev) != 0)
                die("epoll_ctl pause accept");
            m->accept_paused = true;
            return;
        }
        if (fd < 0)
            return; /* EAGAIN, or a connection reset before accept */
        if (m->nconns >= m->max_conns) {
            m->n.refused++;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (!c)
            abort();
        c->fd = fd;
        c->heap_idx = -1;
        c->in_cap = IN_INITIAL;
        c->in = xrealloc(NULL, c->in_cap);
        c->mask = EPOLLIN | EPOLLRDHUP;
        struct epoll_event ev = {.events = c->mask, .data.ptr = c};
        if (epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl ADD");
        m->nconns++;
        m->n.accepted++;
    }
}

static void timers_fire(struct mock *m)
{
    uint64_t expirations, now = now_ns();
    if (read(m->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        die("read timerfd");
    m->armed_ns = 0; /* a fired absolute timer is disarmed */
    while (m->heap_len && m->heap[0]->deadline_ns <= now) {
        struct conn *c = m->heap[0];
        timer_del(m, c);
        if (c->gen == GEN_LATE_JSON) {
            c->gen = GEN_NONE;
            if (!out_message(c, c->n_deltas)) {
                conn_close(m, c);
                continue;
            }
        }
        conn_flush(m, c); /* a stream continues from its pending delta */
    }
}

static void on_event(struct mock *m, struct epoll_event *ev)
{
    if (ev->data.ptr == &m->tag_listen) {
        accept_all(m);
        return;
    }
    if (ev->data.ptr == &m->tag_timer) {
        timers_fire(m);
        return;
    }
    if (ev->data.ptr == &m->tag_signal) {
        m->stop = true;
        return;
    }
    struct conn *c = ev->data.ptr;
    if (c->dead)
        return;
    if (ev->events & (EPOLLERR | EPOLLHUP)) {
        conn_close(m, c);
        return;
    }
    if (ev->events & (EPOLLIN | EPOLLRDHUP))
        conn_readable(m, c, (ev->events & EPOLLRDHUP) != 0);
    if (!c->dead && (ev->events & EPOLLOUT))
        conn_flush(m, c);
}

/* ------------------------------------------------------------------ setup */

static void add_fd(struct mock *m, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    if (epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl ADD");
}

static int listen_on(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t sl = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "mock_upstream: --host wants an IPv4 address\n");
        exit(2);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 65535) != 0)
        die("bind/listen");
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        die("getsockname");
    printf("listening %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static long arg_num(const char *name, const char *v, long lo, long hi)
{
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "mock_upstream: %s wants a number in [%ld, %ld]\n", name, lo, hi);
        exit(2);
    }
    return n;
}

static void parse_args(struct mock *m, int argc, char **argv, const char **host, int *port)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--port") == 0)
            *port = (int)arg_num(a, v, 0, 65535);
        else if (strcmp(a, "--host") == 0 && v)
            *host = v;
        else if (strcmp(a, "--delay-ms") == 0)
            m->delay_ms = (int)arg_num(a, v, 0, DELAY_MAX_MS);
        else if (strcmp(a, "--deltas") == 0)
            m->deltas = (int)arg_num(a, v, 1, DELTAS_MAX);
        else if (strcmp(a, "--max-conns") == 0)
            m->max_conns = arg_num(a, v, 1, 1000000);
        else {
            fprintf(stderr, "usage: mock_upstream [--port N] [--host A] [--delay-ms N] "
                            "[--deltas N] [--max-conns N]\n");
            exit(2);
        }
        i++;
    }
}

int main(int argc, char **argv)
{
    struct mock m = {.deltas = 16, .max_conns = 20000};
    const char *host = "127.0.0.1";
    int port = 0;
    sigset_t sigs;
    struct epoll_event evs[EVENTS_PER_WAIT];

    parse_args(&m, argc, argv, &host, &port);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0)
        die("sigprocmask");
    if ((m.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (m.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
        (m.sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        die("epoll/timerfd/signalfd");
    m.lfd = listen_on(host, port);
    add_fd(&m, m.lfd, &m.tag_listen);
    add_fd(&m, m.tfd, &m.tag_timer);
    add_fd(&m, m.sfd, &m.tag_signal);
    while (!m.stop) {
        int n = epoll_wait(m.ep, evs, EVENTS_PER_WAIT, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait");
        for (int i = 0; i < n; i++)
            on_event(&m, &evs[i]);
        graveyard_free(&m);
        timer_arm(&m);
    }
    fprintf(stderr,
            "mock_upstream: accepted=%" PRIu64 " refused=%" PRIu64 " requests=%" PRIu64
            " json=%" PRIu64 " streams=%" PRIu64 " completed=%" PRIu64 " aborted=%" PRIu64
            " bad=%" PRIu64 "\n",
            m.n.accepted, m.n.refused, m.n.requests, m.n.json, m.n.streams, m.n.completed,
            m.n.aborted, m.n.bad);
    return 0;
}
