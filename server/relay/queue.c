/*
 * queue.c - the concurrency wait queue (see queue.h).
 *
 * DESIGN: a waiter sits in its key's line (FIFO) on this instance and is
 * driven by jobs on the worker pool: its timer, and kicks when a slot may
 * be free. Several jobs may be queued for one waiter; `busy` lets one run
 * at a time and `done` makes the rest no-ops, and each job holds a
 * reference, so a waiter outlives every job that names it.
 *
 * LOCKING: q->mu guards the lines, every waiter's next/busy/done and q->n;
 * a leaf lock, never held across Redis or the done callback.
 */
#include "compat.h"
#include "clock.h"
#include "admission.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "keys.h"
#include "log.h"
#include "queue.h"
#include "rds.h"
#include "settings.h"
#include "store.h"
#include "tpool.h"
#include "xmalloc.h"

#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <time.h>

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 2000

struct waiter {
    struct waiter *next;
    atomic_int refs;
    struct queue *q;
    struct api_key *key;
    struct admit_request ar;
    char lease[48];
    int fd;
    long long entered_ms; /* monotonic */
    long long backoff_ms;
    bool busy, done;
    queue_done_fn fn;
    void *owner;
};

struct line {
    struct line *next;
    char key_id[40];
    struct waiter *head, *tail;
};

struct queue {
    struct app *app;
    pthread_mutex_t mu; /* guards: lines, waiters' next/busy/done, n */
    struct line *lines;
    long n;
};

/* KEYS: count, stats, waits. ARGV: max, ttl s, health, threshold ms. */
static const char enter_lua[] =
    "local n=tonumber(redis.call('GET',KEYS[1]) or '0')\n"
    "local max=tonumber(ARGV[1])\n"
    "if ARGV[3]=='1' and n>0 and n>math.ceil(max*0.5) then\n"
    "  local s=redis.call('LRANGE',KEYS[3],0,-1)\n"
    "  if #s>=10 then\n"
    "    local t={} for i=1,#s do t[i]=tonumber(s[i]) end table.sort(t)\n"
    "    local p90=t[math.ceil(#t*0.9)]\n"
    "    if p90>=tonumber(ARGV[4]) then\n"
    "      redis.call('HINCRBY',KEYS[2],'rejected_overload',1)\n"
    "      redis.call('EXPIRE',KEYS[2],604800)\n"
    "      return {2,n,p90}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "n=redis.call('INCR',KEYS[1]) redis.call('EXPIRE',KEYS[1],ARGV[2])\n"
    "if n>max then redis.call('DECR',KEYS[1]) return {1,n-1,0} end\n"
    "redis.call('HINCRBY',KEYS[2],'entered',1) redis.call('EXPIRE',KEYS[2],604800)\n"
    "return {0,n,0}\n";

/* KEYS: count, stats, waits, global waits. ARGV: outcome, wait ms, sample. */
static const char leave_lua[] =
    "local n=redis.call('DECR',KEYS[1]) if n<=0 then redis.call('DEL',KEYS[1]) end\n"
    "redis.call('HINCRBY',KEYS[2],ARGV[1],1) redis.call('EXPIRE',KEYS[2],604800)\n"
    "if ARGV[3]=='1' then\n"
    "  redis.call('LPUSH',KEYS[3],ARGV[2]) redis.call('LTRIM',KEYS[3],0,499)\n"
    "  redis.call('EXPIRE',KEYS[3],86400)\n"
    "  redis.call('LPUSH',KEYS[4],ARGV[2]) redis.call('LTRIM',KEYS[4],0,1999)\n"
    "  redis.call('EXPIRE',KEYS[4],86400)\n"
    "  local s=redis.call('LRANGE',KEYS[3],0,-1)\n"
    "  local t={} for i=1,#s do t[i]=tonumber(s[i]) end table.sort(t)\n"
    "  local function p(q) return t[math.max(1,math.ceil(#t*q))] end\n"
    "  redis.call('HSET',KEYS[2],'p50',p(0.5),'p90',p(0.9),'p99',p(0.99))\n"
    "end\n"
    "return 1\n";

static long long max_waiting(const struct app *app, const struct api_key *k)
{
    long long by_limit = k->pol.concurrency * app->cfg->queue_max_multiplier;
    return by_limit > app->cfg->queue_max_size ? by_limit : app->cfg->queue_max_size;
}

static void unref(struct waiter *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    keys_unref(w->key);
    free(w);
}

/* ---- lines ---- */

static struct line *line_find_locked(struct queue *q, const char *key_id)
{
    for (struct line *l = q->lines; l; l = l->next)
        if (strcmp(l->key_id, key_id) == 0)
            return l;
    return NULL;
}

static void line_add_locked(struct queue *q, struct waiter *w)
{
    struct line *l = line_find_locked(q, w->key->id);
    if (!l) {
        l = xcalloc(1, sizeof(*l));
        snprintf(l->key_id, sizeof(l->key_id), "%s", w->key->id);
        l->next = q->lines;
        q->lines = l;
    }
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    q->n++;
}

/* Take w out of its line; the new head, if any, is returned with a reference. */
static struct waiter *line_remove_locked(struct queue *q, struct waiter *w)
{
    struct line *l = line_find_locked(q, w->key->id);
    struct waiter **p = l ? &l->head : NULL, *prev = NULL;
    while (p && *p && *p != w)
        prev = *p, p = &(*p)->next;
    if (!p || !*p)
        return NULL;
    *p = w->next;
    if (l->tail == w)
        l->tail = prev;
    q->n--;
    struct waiter *next = l->head;
    if (next)
        atomic_fetch_add(&next->refs, 1);
    return next;
}

static bool is_head_locked(struct queue *q, const struct waiter *w)
{
    const struct line *l = line_find_locked(q, w->key->id);
    return l && l->head == w;
}

/* ---- jobs ---- */

static void waiter_job(void *arg);

/* 0, or -ERR_CLOSED when the relay stops (nothing will run it again). */
static int run_soon(struct queue *q, struct waiter *w, long delay_ms)
{
    atomic_fetch_add(&w->refs, 1);
    int rc = delay_ms ? tpool_submit_after(q->app->workers, delay_ms, waiter_job, w)
                      : tpool_submit(q->app->workers, waiter_job, w);
    if (rc != 0)
        unref(w); /* busy: the timer of its own or the next kick takes over */
    return rc == -ERR_CLOSED ? rc : 0;
}

static void leave_redis(struct queue *q, const struct waiter *w, const char *what, long long waited)
{
    char kc[STORE_KEY_MAX], ks[STORE_KEY_MAX], kw[STORE_KEY_MAX], ms[24];
    store_key(kc, SK_QUEUE_COUNT, w->key->id);
    store_key(ks, SK_QUEUE_STATS, w->key->id);
    store_key(kw, SK_QUEUE_WAITS, w->key->id);
    snprintf(ms, sizeof(ms), "%lld", waited);
    const char *argv[] = {
        kc, ks, kw, SK_QUEUE_WAITS_GLOBAL, what, ms, strcmp(what, "success") == 0 ? "1" : "0"};
    struct rds_conn *c = rds_pool_get(q->app->redis, 3000);
    redisReply *r = c ? rds_script(c, leave_lua, 4, 7, argv, NULL) : NULL;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_warn("queue", "could not record a queue exit for key %s", w->key->id);
    if (r)
        freeReplyObject(r);
    rds_pool_put(q->app->redis, c);
}

static const char *outcome_stat(enum queue_outcome o)
{
    if (o == QUEUE_ADMITTED)
        return "success";
    if (o == QUEUE_TIMEOUT)
        return "timeout";
    return o == QUEUE_CANCELLED ? "cancelled" : "failed";
}

static void finish(struct queue *q, struct waiter *w, enum queue_outcome o,
                   const struct admit_result *res)
{
    pthread_mutex_lock(&q->mu);
    w->done = true;
    struct waiter *next = line_remove_locked(q, w);
    pthread_mutex_unlock(&q->mu);
    long long waited = clock_mono_ms() - w->entered_ms;
    leave_redis(q, w, outcome_stat(o), waited);
    struct queue_info info = {.max = max_waiting(q->app, w->key),
                              .waited_ms = waited,
                              .timeout_ms =
                                  settings_int(q->app->settings, SETTING_QUEUE_TIMEOUT_MS)};
    w->fn(w->owner, o, res, &info);
    if (next) { /* maybe another slot is free: let the new head look at once */
        if (run_soon(q, next, 0) != 0)
            log_warn("queue", "the relay stops: a waiter of key %s ends with its timer",
                     next->key->id);
        unref(next);
    }
    unref(w); /* the line's reference */
}

static bool client_gone(int fd)
{
    struct pollfd p = {fd, POLLRDHUP, 0};
    return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* The head asks Redis: admitted, still full, or refused for another reason. */
static void try_admit(struct queue *q, struct waiter *w)
{
    struct admit_result res;
    w->ar.now_ms = (long long)time(NULL) * 1000;
    struct rds_conn *c = rds_pool_get(q->app->redis, 3000);
    int rc = c ? admission_run(q->app, c, w->key, &w->ar, &res) : -ERR_REDIS;
    rds_pool_put(q->app->redis, c);
    if (rc != 0)
        finish(q, w, QUEUE_ERROR, NULL);
    else if (res.code == ADMIT_OK)
        finish(q, w, QUEUE_ADMITTED, &res);
    else if (res.code != ADMIT_CONCURRENCY)
        finish(q, w, QUEUE_REFUSED, &res);
    else
        return; /* still full: wait on */
}

static long next_backoff(struct waiter *w)
{
    long long b = w->backoff_ms;
    w->backoff_ms = b * 3 / 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 3 / 2;
    long jitter = (long)(b / 5);
    return (long)b - jitter + (long)randombytes_uniform((uint32_t)(2 * jitter + 1));
}

static void waiter_job(void *arg)
{
    struct waiter *w = arg;
    struct queue *q = w->q;
    pthread_mutex_lock(&q->mu);
    bool run = !w->done && !w->busy, head = run && is_head_locked(q, w);
    if (run)
        w->busy = true;
    pthread_mutex_unlock(&q->mu);
    if (!run) {
        unref(w);
        return;
    }
    if (client_gone(w->fd))
        finish(q, w, QUEUE_CANCELLED, NULL);
    else if (clock_mono_ms() - w->entered_ms >=
             settings_int(q->app->settings, SETTING_QUEUE_TIMEOUT_MS))
        finish(q, w, QUEUE_TIMEOUT, NULL);
    else if (head)
        try_admit(q, w);
    pthread_mutex_lock(&q->mu);
    bool again = !w->done;
    w->busy = false;
    pthread_mutex_unlock(&q->mu);
    if (again && run_soon(q, w, next_backoff(w)) != 0)
        finish(q, w, QUEUE_ERROR, NULL); /* the relay stops */
    unref(w);
}

/* ---- entry points ---- */

struct queue *queue_new(struct app *app)
{
    struct queue *q = xcalloc(1, sizeof(*q));
    q->app = app;
    pthread_mutex_init(&q->mu, NULL);
    return q;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    while (q->lines) {
        struct line *l = q->lines;
        q->lines = l->next;
        free(l); /* waiters were finished by their timers at tpool_free */
    }
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static int enter_redis(struct queue *q, const struct api_key *k, struct queue_info *info)
{
    char kc[STORE_KEY_MAX], ks[STORE_KEY_MAX], kw[STORE_KEY_MAX], max[24], ttl[24], thr[24];
    const struct relay_config *cfg = q->app->cfg;
    store_key(kc, SK_QUEUE_COUNT, k->id);
    store_key(ks, SK_QUEUE_STATS, k->id);
    store_key(kw, SK_QUEUE_WAITS, k->id);
    snprintf(max, sizeof(max), "%lld", info->max);
    long long timeout_ms = settings_int(q->app->settings, SETTING_QUEUE_TIMEOUT_MS);
    snprintf(ttl, sizeof(ttl), "%lld", timeout_ms / 1000 + 30);
    snprintf(thr, sizeof(thr), "%lld", timeout_ms * cfg->queue_health_percent / 100);
    const char *argv[] = {kc, ks, kw, max, ttl, cfg->queue_health_check ? "1" : "0", thr};
    struct rds_conn *c = rds_pool_get(q->app->redis, 3000);
    redisReply *r = c ? rds_script(c, enter_lua, 3, 7, argv, NULL) : NULL;
    rds_pool_put(q->app->redis, c);
    int rc = QUEUE_ERROR;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        long long code = rds_reply_int(r->element[0], -1);
        info->waiting = rds_reply_int(r->element[1], 0);
        info->p90_ms = rds_reply_int(r->element[2], 0);
        rc = code == 0 ? 0 : code == 1 ? QUEUE_FULL : QUEUE_OVERLOADED;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

int queue_enter(struct queue *q, struct api_key *k, const struct admit_request *ar, int client_fd,
                queue_done_fn done, void *owner, struct queue_info *info)
{
    *info =
        (struct queue_info){.max = max_waiting(q->app, k),
                            .timeout_ms = settings_int(q->app->settings, SETTING_QUEUE_TIMEOUT_MS)};
    int rc = enter_redis(q, k, info);
    if (rc != 0)
        return rc;
    struct waiter *w = xcalloc(1, sizeof(*w));
    atomic_init(&w->refs, 1); /* the line's, dropped by finish */
    w->q = q;
    w->key = keys_ref(k);
    w->ar = *ar;
    w->fd = client_fd;
    w->entered_ms = clock_mono_ms();
    w->backoff_ms = BACKOFF_FIRST_MS;
    w->fn = done;
    w->owner = owner;
    snprintf(w->lease, sizeof(w->lease), "%s", ar->lease);
    w->ar.lease = w->lease;
    pthread_mutex_lock(&q->mu);
    line_add_locked(q, w);
    pthread_mutex_unlock(&q->mu);
    if (run_soon(q, w, (long)w->backoff_ms) != 0)
        finish(q, w, QUEUE_ERROR, NULL);
    return 0;
}

void queue_kick(struct queue *q, const char *key_id)
{
    pthread_mutex_lock(&q->mu);
    struct line *l = line_find_locked(q, key_id);
    struct waiter *w = l ? l->head : NULL;
    if (w)
        atomic_fetch_add(&w->refs, 1);
    pthread_mutex_unlock(&q->mu);
    if (w) {
        if (run_soon(q, w, 0) != 0)
            log_debug("queue", "kick refused: the relay stops");
        unref(w);
    }
}

long queue_waiting(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    long n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}
