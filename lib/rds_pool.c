/*
 * rds_pool.c - connection pool and URL parsing for rds (see rds.h).
 *
 * LOCKING: p->mu guards the slots, the free count and the back-off state;
 * connecting happens outside the lock (the slot is reserved first).
 * Back-off: after a failed connect, further attempts wait 50 ms doubling to
 * 2 s; meanwhile rds_pool_get fails fast instead of hammering the server.
 */
#include "compat.h"
#include "errs.h"
#include "log.h"
#include "rds.h"
#include "xmalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <time.h>

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

struct slot {
    struct rds_conn *conn;
    bool busy;
};

struct rds_pool {
    pthread_mutex_t mu; /* guards: slots, backoff_ms, retry_at, warned */
    pthread_cond_t freed;
    struct rds_opts opts;
    char *strs[6]; /* owned copies of the option strings */
    struct slot *slots;
    int size;
    long long backoff_ms;
    long long retry_at;
    bool warned;
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *keep(struct rds_pool *p, int i, const char *s)
{
    p->strs[i] = s ? xstrdup(s) : NULL;
    return p->strs[i];
}

static void copy_opts(struct rds_pool *p, const struct rds_opts *o)
{
    p->opts = *o;
    p->opts.host = keep(p, 0, o->host);
    p->opts.unix_path = keep(p, 1, o->unix_path);
    p->opts.password = keep(p, 2, o->password);
    p->opts.username = keep(p, 3, o->username);
    p->opts.tls_ca_file = keep(p, 4, o->tls_ca_file);
}

int rds_pool_new(const struct rds_opts *o, int size, struct rds_pool **out, char *err,
                 size_t errlen)
{
    struct rds_conn *first = NULL;
    if (size < 1 || rds_connect(o, &first, err, errlen) != 0)
        return -ERR_REDIS;
    struct rds_pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->freed, NULL);
    copy_opts(p, o);
    p->size = size;
    p->slots = xcalloc((size_t)size, sizeof(*p->slots));
    p->slots[0].conn = first;
    *out = p;
    return 0;
}

/* Caller holds p->mu. Index of a free slot, preferring a connected one. */
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

static void note_failure(struct rds_pool *p, const char *err)
{
    pthread_mutex_lock(&p->mu);
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (p->backoff_ms > BACKOFF_MAX_MS)
        p->backoff_ms = BACKOFF_MAX_MS;
    p->retry_at = mono_ms() + p->backoff_ms;
    bool warn = !p->warned;
    p->warned = true;
    pthread_mutex_unlock(&p->mu);
    if (warn)
        log_warn("redis", "Redis connection failed: %s:%d: %s (retrying with back-off)",
                 p->opts.unix_path ? p->opts.unix_path : p->opts.host,
                 p->opts.unix_path ? 0 : p->opts.port, err);
}

static struct rds_conn *connect_slot(struct rds_pool *p, int i)
{
    char err[256] = "";
    struct rds_conn *c = NULL;
    pthread_mutex_lock(&p->mu);
    bool wait = mono_ms() < p->retry_at;
    pthread_mutex_unlock(&p->mu);
    if (!wait && rds_connect(&p->opts, &c, err, sizeof(err)) == 0) {
        pthread_mutex_lock(&p->mu);
        if (p->warned)
            log_info("redis", "Redis connection restored");
        p->backoff_ms = 0;
        p->retry_at = 0;
        p->warned = false;
        p->slots[i].conn = c;
        pthread_mutex_unlock(&p->mu);
        return c;
    }
    if (!wait)
        note_failure(p, err);
    pthread_mutex_lock(&p->mu);
    p->slots[i].busy = false;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct rds_conn *rds_pool_get(struct rds_pool *p, int wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&p->mu);
    int i;
    while ((i = take_slot_locked(p)) < 0)
        if (pthread_cond_timedwait(&p->freed, &p->mu, &until) != 0) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    struct rds_conn *c = p->slots[i].conn;
    pthread_mutex_unlock(&p->mu);
    return c ? c : connect_slot(p, i);
}

void rds_pool_put(struct rds_pool *p, struct rds_conn *c)
{
    if (!c)
        return;
    bool broken = rds_is_broken(c);
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->size; i++) {
        if (p->slots[i].conn != c)
            continue;
        p->slots[i].busy = false;
        if (broken)
            p->slots[i].conn = NULL;
        break;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
    if (broken)
        rds_close(c);
}

int rds_pool_ping(struct rds_pool *p, double *latency_ms)
{
    struct timespec a, b;
    struct rds_conn *c = rds_pool_get(p, 1000);
    if (!c)
        return -ERR_REDIS;
    clock_gettime(CLOCK_MONOTONIC, &a);
    redisReply *r = rds_command(c, "PING");
    clock_gettime(CLOCK_MONOTONIC, &b);
    int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    rds_pool_put(p, c);
    if (latency_ms)
        *latency_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    return rc;
}

void rds_pool_free(struct rds_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++)
        rds_close(p->slots[i].conn);
    for (size_t i = 0; i < ARRAY_SIZE(p->strs); i++)
        free(p->strs[i]);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p);
}

/* Percent-decode s[0..len) in place into out; returns false on bad escapes. */
static bool pct_decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= len + 0 || !isxdigit((unsigned char)s[i + 1]) ||
            !isxdigit((unsigned char)s[i + 2]))
            return false;
        char hex[3] = {s[i + 1], s[i + 2], 0};
        out[o++] = (char)strtol(hex, NULL, 16);
        i += 2;
    }
    out[o] = '\0';
    return true;
}

/* Split "[user[:pass]@]host[:port][/db]" into the storage block. */
static int parse_authority(const char *rest, struct rds_opts *o, char *st)
{
    const char *at = strrchr(rest, '@');
    const char *hp = at ? at + 1 : rest;
    char *user = st, *pass = st + strlen(rest) + 1, *host = pass + strlen(rest) + 1;
    user[0] = pass[0] = '\0';
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t ulen = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        if (!pct_decode(rest, ulen, user) ||
            (colon && !pct_decode(colon + 1, (size_t)(at - colon - 1), pass)))
            return -ERR_INVAL;
    }
    size_t hlen = strcspn(hp, ":/");
    if (hlen == 0)
        return -ERR_INVAL;
    memcpy(host, hp, hlen);
    host[hlen] = '\0';
    const char *p = hp + hlen;
    int port = 6379, db = 0;
    char *end;
    if (*p == ':') {
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535)
            return -ERR_INVAL;
        port = (int)v, p = end;
    }
    if (*p == '/' && p[1]) {
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || v < 0 || v > 15)
            return -ERR_INVAL;
        db = (int)v, p = end;
    } else if (*p == '/') {
        p++;
    }
    if (*p)
        return -ERR_INVAL;
    o->host = host, o->port = port, o->db = db;
    o->username = user[0] ? user : NULL;
    o->password = pass[0] ? pass : NULL;
    return 0;
}

int rds_opts_from_url(struct rds_opts *o, const char *url, char **storage)
{
    bool tls = strncmp(url, "rediss://", 9) == 0;
    if (!tls && strncmp(url, "redis://", 8) != 0)
        return -ERR_INVAL;
    const char *rest = url + (tls ? 9 : 8);
    char *st = xcalloc(3, strlen(rest) + 1);
    struct rds_opts tmp = *o;
    if (parse_authority(rest, &tmp, st) != 0) {
        free(st);
        return -ERR_INVAL;
    }
    tmp.tls = tls;
    if (tls)
        tmp.tls_verify = true;
    *o = tmp;
    *storage = st;
    return 0;
}
