/*
 * rds_pool.c - a fixed-size, thread-safe pool of rds connections (rds.h).
 *
 * DESIGN: size slots, each empty or holding a connection, each free or
 * checked out (busy). Slots connect lazily on checkout. Connecting happens
 * outside the lock on a slot already marked busy, so the slot cannot be
 * handed out twice meanwhile. An idle connection is checked (no round trip)
 * before it is handed out, so a Redis restart costs no failed command.
 * After a failed connect the pool backs off, 50 ms doubling to 2 s: until
 * retry_at, checkouts that need a new connection return NULL at once, and
 * while one thread is retrying (probing) the others do not pile on.
 * Connections still open are handed out during back-off: they may work.
 * Logging: the first failure of an outage is a warning, repeats come at
 * most every 30 s, recovery is logged at info. Only host:port or the unix
 * path is logged; the password copy is wiped when the pool is freed.
 *
 * LOCKING: p->mu guards slots[] and the back-off state (see the struct).
 * p->cv is signalled whenever a slot becomes free. opts, strs and where are
 * written only by rds_pool_new and read without the lock. No I/O and no
 * logging happen under p->mu, so it is a leaf lock: no lock order to keep.
 */
#include "compat.h"
#include "errs.h"
#include "log.h"
#include "rds_int.h"
#include "xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define WARN_EVERY_MS 30000
#define PING_WAIT_MS 1000

struct rds_slot {
    struct rds_conn *conn; /* NULL: not connected */
    bool busy;             /* checked out, or being connected */
};

struct rds_pool {
    pthread_mutex_t mu; /* guards: slots[], backoff_ms, retry_at, probing, failures, warned,
                           warned_at */
    pthread_cond_t cv;  /* a slot became free */
    struct rds_slot *slots;
    int size;
    long long backoff_ms; /* 0 while healthy */
    long long retry_at;   /* clock_mono_ms before which no new connect is tried */
    bool probing;         /* a thread is retrying during an outage */
    long failures;        /* failed connects in the current outage */
    bool warned;
    long long warned_at;
    struct rds_opts opts; /* immutable; strings point into strs */
    char *strs;
    size_t strs_len;
    char where[320]; /* "host:port" or "unix:path", for logs; immutable */
};

static const char *copy_str(char **cursor, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *cursor;
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

/* Copy o and its strings (one block, wiped on free: it holds the password). */
static void copy_opts(struct rds_pool *p, const struct rds_opts *o)
{
    const char *s[] = {o->host, o->unix_path, o->password, o->username, o->tls_ca_file};
    p->strs_len = 1;
    for (size_t i = 0; i < ARRAY_SIZE(s); i++)
        p->strs_len += s[i] ? strlen(s[i]) + 1 : 0;
    p->strs = xmalloc(p->strs_len);
    char *cur = p->strs;
    p->opts = *o;
    p->opts.host = copy_str(&cur, o->host);
    p->opts.unix_path = copy_str(&cur, o->unix_path);
    p->opts.password = copy_str(&cur, o->password);
    p->opts.username = copy_str(&cur, o->username);
    p->opts.tls_ca_file = copy_str(&cur, o->tls_ca_file);
    const char *h = o->host ? o->host : "?";
    int port = o->port > 0 ? o->port : RDS_DEFAULT_PORT;
    if (o->unix_path && *o->unix_path)
        snprintf(p->where, sizeof(p->where), "unix:%s", o->unix_path);
    else
        snprintf(p->where, sizeof(p->where), strchr(h, ':') ? "[%s]:%d" : "%s:%d", h, port);
}

int rds_pool_new(const struct rds_opts *o, int size, struct rds_pool **out, char *errbuf,
                 size_t errlen)
{
    struct rds_conn *first = NULL;
    if (size < 1) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "pool size must be at least 1");
        return -ERR_INVAL;
    }
    int rc = rds_connect(o, &first, errbuf, errlen);
    if (rc != 0)
        return rc;
    struct rds_pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    copy_opts(p, o);
    p->size = size;
    p->slots = xcalloc((size_t)size, sizeof(*p->slots));
    p->slots[0].conn = first;
    *out = p;
    return 0;
}

/* Caller holds p->mu. Marks and returns a free slot, preferring a
 * connected one; -1 when all are busy. */
static int take_slot_locked(struct rds_pool *p)
{
    int empty = -1;
    for (int i = 0; i < p->size; i++) {
        if (p->slots[i].busy)
            continue;
        if (p->slots[i].conn) {
            p->slots[i].busy = true;
            return i;
        }
        if (empty < 0)
            empty = i;
    }
    if (empty >= 0)
        p->slots[empty].busy = true;
    return empty;
}

static struct timespec mono_after(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Wait up to wait_ms for a free slot; its index and connection, or -1. */
static int checkout_slot(struct rds_pool *p, int wait_ms, struct rds_conn **conn)
{
    struct timespec until = mono_after(wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&p->mu);
    int i;
    while ((i = take_slot_locked(p)) < 0) {
        if (wait_ms <= 0 || pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT) {
            i = take_slot_locked(p);
            break;
        }
    }
    *conn = i >= 0 ? p->slots[i].conn : NULL;
    pthread_mutex_unlock(&p->mu);
    return i;
}

/* Set slot i's connection and busy flag; wake a waiter when it becomes free. */
static void slot_set(struct rds_pool *p, int i, struct rds_conn *c, bool busy)
{
    pthread_mutex_lock(&p->mu);
    p->slots[i].conn = c;
    p->slots[i].busy = busy;
    if (!busy)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* May this thread connect now? Sets *probe when it is the outage's retry. */
static bool may_connect(struct rds_pool *p, bool *probe)
{
    pthread_mutex_lock(&p->mu);
    bool ok = p->backoff_ms == 0 || (!p->probing && clock_mono_ms() >= p->retry_at);
    *probe = ok && p->backoff_ms != 0;
    if (*probe)
        p->probing = true;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static void connect_ok(struct rds_pool *p, int i, struct rds_conn *c)
{
    pthread_mutex_lock(&p->mu);
    long failures = p->failures;
    bool warned = p->warned;
    p->slots[i].conn = c;
    p->backoff_ms = p->retry_at = 0;
    p->probing = p->warned = false;
    p->failures = 0;
    pthread_mutex_unlock(&p->mu);
    if (warned)
        log_info("rds", "redis connection restored addr=%s failed_attempts=%ld", p->where,
                 failures);
}

static void connect_failed(struct rds_pool *p, int i, bool probe, const char *err)
{
    long long now = clock_mono_ms();
    pthread_mutex_lock(&p->mu);
    p->slots[i].busy = false;
    pthread_cond_signal(&p->cv);
    if (probe || p->backoff_ms == 0) { /* one step per retry, not per thread */
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (p->backoff_ms > BACKOFF_MAX_MS)
            p->backoff_ms = BACKOFF_MAX_MS;
        p->retry_at = now + p->backoff_ms;
    }
    p->probing = false;
    long failures = ++p->failures;
    long long backoff = p->backoff_ms;
    bool first = !p->warned, warn = first || now - p->warned_at >= WARN_EVERY_MS;
    if (warn) {
        p->warned = true;
        p->warned_at = now;
    }
    pthread_mutex_unlock(&p->mu);
    if (warn)
        log_warn("rds", "redis %s addr=%s err=\"%s\" failed_attempts=%ld retry_in_ms=%lld",
                 first ? "unreachable" : "still unreachable", p->where, err, failures, backoff);
}

static struct rds_conn *connect_slot(struct rds_pool *p, int i)
{
    bool probe = false;
    if (!may_connect(p, &probe)) {
        slot_set(p, i, NULL, false);
        return NULL;
    }
    char err[256] = "";
    struct rds_conn *c = NULL;
    if (rds_connect(&p->opts, &c, err, sizeof(err)) != 0) {
        connect_failed(p, i, probe, err);
        return NULL;
    }
    connect_ok(p, i, c);
    return c;
}

struct rds_conn *rds_pool_get(struct rds_pool *p, int wait_ms)
{
    struct rds_conn *c = NULL;
    int i = checkout_slot(p, wait_ms, &c);
    if (i < 0)
        return NULL;
    if (c && !rds_conn_idle_ok(c)) {
        slot_set(p, i, NULL, true);
        rds_close(c);
        c = NULL;
    }
    return c ? c : connect_slot(p, i);
}

void rds_pool_put(struct rds_pool *p, struct rds_conn *c)
{
    if (!c)
        return;
    bool broken = rds_is_broken(c);
    if (!broken)
        rds_conn_drop_pipeline(c);
    pthread_mutex_lock(&p->mu);
    int i = 0;
    while (i < p->size && p->slots[i].conn != c)
        i++;
    BUG_ON(i == p->size || !p->slots[i].busy); /* not checked out from this pool */
    p->slots[i].busy = false;
    if (broken)
        p->slots[i].conn = NULL;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (broken)
        rds_close(c);
}

int rds_pool_ping(struct rds_pool *p, double *latency_ms)
{
    struct rds_conn *c = rds_pool_get(p, PING_WAIT_MS);
    if (!c)
        return -ERR_IO;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    redisReply *r = rds_command(c, "PING");
    clock_gettime(CLOCK_MONOTONIC, &b);
    int rc = !r ? -ERR_IO : r->type == REDIS_REPLY_STATUS ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    rds_pool_put(p, c);
    if (rc == 0 && latency_ms)
        *latency_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    return rc;
}

void rds_pool_free(struct rds_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++) {
        BUG_ON(p->slots[i].busy); /* a connection is still checked out */
        rds_close(p->slots[i].conn);
    }
    explicit_bzero(p->strs, p->strs_len);
    free(p->strs);
    free(p->slots);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int rds_pool_dial(struct rds_pool *p, struct rds_conn **out, char *errbuf, size_t errlen)
{
    return rds_connect(&p->opts, out, errbuf, errlen);
}
