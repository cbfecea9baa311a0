/*
 * usage_writer.c - group commit of per-key usage totals, with a spool that
 * survives a Redis outage (see usage_writer.h).
 *
 * DESIGN: a FIFO of pushed usages (the spool) and one flag, `scheduled`:
 * true while a flush job is queued or running. A push that finds it false
 * (and no back-off running) sets it and submits the job; the job drains the
 * FIFO in batches of up to BATCH, one pipelined round trip each, and clears
 * the flag only when it finds the FIFO empty, under the lock, so a push never
 * waits for a job that has already looked.
 *
 * A usage the client was already answered for must not be lost because
 * Redis was away (measured before: 20 streams finished while Redis was
 * killed, all 20 usages logged as lost and never retried). So a batch that
 * cannot be written goes back to the head of the spool, in order, and the
 * job stops; the next try comes after a back-off (1 s doubling to 5 s),
 * started by usage_writer_tick from the maintenance thread, or by a push
 * once the back-off is over. Only the spool's cap (SPOOL_MAX usages) or an
 * answer Redis will never accept (e.g. WRONGTYPE) drops a usage, and each
 * such usage is counted (`dropped`, shown in /health) and logged.
 * When a pipeline broke after it was sent, Redis may have run some of its
 * scripts: those usages are written again (at least once, never lost).
 *
 * LOCKING: w->mu guards head, tail, len, scheduled, retry_at and backoff;
 * a leaf lock (no I/O, no other lock while held). dropped is atomic.
 */
#include "compat.h"
#include "account_limits.h"
#include "clock.h"
#include "app.h"
#include "errs.h"
#include "log.h"
#include "rds.h"
#include "tpool.h"
#include "usage.h"
#include "usage_stats.h"
#include "usage_writer.h"
#include "xmalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define BATCH 256           /* usages per round trip */
#define SPOOL_MAX 200000    /* ~70 MB at most; beyond it Redis has been away too long */
#define REDIS_WAIT_MS 3000  /* checkout wait for a flush */
#define BACKOFF_MIN_MS 1000 /* first retry after a failed flush */
#define BACKOFF_MAX_MS 5000
#define FINAL_FLUSH_MS 5000 /* usage_writer_free keeps trying this long */

struct item {
    struct item *next;
    struct accounting a;
};

struct usage_writer {
    struct app *app;
    pthread_mutex_t mu; /* guards: head, tail, len, scheduled, retry_at, backoff */
    struct item *head, *tail;
    size_t len;
    bool scheduled;
    long long retry_at; /* monotonic ms before which no flush starts; 0: none pending */
    long long backoff;  /* the next back-off, ms */
    atomic_ullong dropped;
};

struct usage_writer *usage_writer_new(struct app *app)
{
    struct usage_writer *w = xcalloc(1, sizeof(*w));
    w->app = app;
    w->backoff = BACKOFF_MIN_MS;
    pthread_mutex_init(&w->mu, NULL);
    return w;
}

/* Detach up to BATCH items; NULL (and scheduled cleared) when empty. */
static struct item *take_batch(struct usage_writer *w, bool clear_when_empty)
{
    pthread_mutex_lock(&w->mu);
    struct item *first = w->head, *last = NULL;
    size_t n = 0;
    for (struct item *it = first; it && n < BATCH; it = it->next, n++)
        last = it;
    if (last) {
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        w->len -= n;
    } else if (clear_when_empty) {
        w->scheduled = false;
    }
    pthread_mutex_unlock(&w->mu);
    return first;
}

/* Put the unwritten items (a list, in order) back at the head and start the
 * back-off; the flush job that failed ends (scheduled cleared). */
static void requeue_locked(struct usage_writer *w, struct item *first, struct item *last, size_t n)
{
    last->next = w->head;
    w->head = first;
    if (!w->tail)
        w->tail = last;
    w->len += n;
    w->retry_at = clock_mono_ms() + w->backoff;
    w->backoff = w->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff * 2;
}

static void discard(struct usage_writer *w, struct item *it)
{
    atomic_fetch_add(&w->dropped, 1);
    free(it);
}

static void drop_item(struct usage_writer *w, struct item *it, const char *why)
{
    log_warn("usage", "usage of key %s dropped (%s): %lld tokens", it->a.key_id, why,
             usage_total(&it->a.u));
    discard(w, it);
}

/* Free the written items, drop the refused ones, and return the ones to
 * retry as a list (*n of them, *last its tail). */
static struct item *sort_out(struct usage_writer *w, struct item *batch, const int *res,
                             struct item **last, size_t *n)
{
    struct item *keep = NULL, **tailp = &keep;
    *n = 0;
    for (int i = 0; batch; i++) {
        struct item *next = batch->next;
        if (res[i] == -ERR_IO) {
            *last = *tailp = batch;
            tailp = &batch->next;
            batch->next = NULL;
            (*n)++;
        } else if (res[i] != 0) {
            drop_item(w, batch, "refused by Redis");
        } else {
            free(batch);
        }
        batch = next;
    }
    return keep;
}

/* Accounts whose quota this batch reached stop now, everywhere. */
static void check_quotas(struct usage_writer *w, struct rds_conn *c, struct item *batch,
                         const long long *day_cost)
{
    for (int i = 0; batch; batch = batch->next, i++)
        if (day_cost[i] >= 0 && day_cost[i] >= batch->a.quota_micro)
            account_limits_quota_reached(w->app, c, batch->a.account_id, day_cost[i],
                                         batch->a.quota_until_ms);
}

/* Write one batch. Returns true when every usage is settled (written or
 * dropped), false when some went back to the spool. */
static bool write_batch(struct usage_writer *w, struct item *batch)
{
    const struct accounting *as[BATCH];
    int res[BATCH], n = 0;
    long long day_cost[BATCH];
    for (struct item *it = batch; it; it = it->next, n++) {
        as[n] = &it->a;
        res[n] = -ERR_IO;
        day_cost[n] = -1;
    }
    struct rds_conn *c = rds_pool_get(w->app->redis, REDIS_WAIT_MS);
    if (c) {
        usage_record_many(w->app, c, n, as, res, day_cost);
        check_quotas(w, c, batch, day_cost);
        rds_pool_put(w->app->redis, c);
    }
    struct item *last = NULL;
    size_t nkeep = 0;
    struct item *keep = sort_out(w, batch, res, &last, &nkeep);
    if (!keep)
        return true;
    pthread_mutex_lock(&w->mu);
    requeue_locked(w, keep, last, nkeep);
    size_t spooled = w->len;
    pthread_mutex_unlock(&w->mu);
    log_warn("usage", "store unavailable: usage of %zu requests kept for a retry (%zu spooled)",
             nkeep, spooled);
    return false;
}

static void flush_job(void *arg)
{
    struct usage_writer *w = arg;
    struct item *batch;
    while ((batch = take_batch(w, true))) {
        if (!write_batch(w, batch)) {
            pthread_mutex_lock(&w->mu);
            w->scheduled = false; /* usage_writer_tick starts the retry */
            pthread_mutex_unlock(&w->mu);
            return;
        }
        pthread_mutex_lock(&w->mu);
        w->retry_at = 0;
        w->backoff = BACKOFF_MIN_MS;
        pthread_mutex_unlock(&w->mu);
    }
}

/* Submit the flush job if none runs, items wait and no back-off holds. */
static void maybe_submit(struct usage_writer *w)
{
    bool submit = false;
    pthread_mutex_lock(&w->mu);
    if (!w->scheduled && w->len && (!w->retry_at || clock_mono_ms() >= w->retry_at))
        submit = w->scheduled = true;
    pthread_mutex_unlock(&w->mu);
    if (submit && tpool_submit(w->app->workers, flush_job, w) != 0) {
        pthread_mutex_lock(&w->mu);
        w->scheduled = false; /* the next push or tick tries again; free writes the rest */
        pthread_mutex_unlock(&w->mu);
    }
}

int usage_writer_push(struct usage_writer *w, const struct accounting *a)
{
    struct item *it = xcalloc(1, sizeof(*it));
    it->a = *a;
    pthread_mutex_lock(&w->mu);
    if (w->len >= SPOOL_MAX) {
        pthread_mutex_unlock(&w->mu);
        drop_item(w, it, "spool full");
        return -ERR_BUSY;
    }
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    w->len++;
    pthread_mutex_unlock(&w->mu);
    maybe_submit(w);
    return 0;
}

void usage_writer_tick(struct usage_writer *w)
{
    maybe_submit(w);
}

void usage_writer_counts(struct usage_writer *w, size_t *spooled, unsigned long long *dropped)
{
    pthread_mutex_lock(&w->mu);
    *spooled = w->len;
    pthread_mutex_unlock(&w->mu);
    *dropped = atomic_load(&w->dropped);
}

/* At exit: keep trying for FINAL_FLUSH_MS, then count what is left as dropped. */
static void final_flush(struct usage_writer *w)
{
    long long until = clock_mono_ms() + FINAL_FLUSH_MS;
    struct item *batch;
    while ((batch = take_batch(w, false))) {
        if (write_batch(w, batch))
            continue;
        if (clock_mono_ms() >= until)
            break;
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    size_t left = 0;
    while ((batch = take_batch(w, false)))
        for (struct item *it = batch, *next; it; it = next, left++) {
            next = it->next;
            discard(w, it);
        }
    if (left)
        log_error("usage", "exit: Redis unavailable, usage of %zu requests dropped", left);
}

void usage_writer_free(struct usage_writer *w)
{
    if (!w)
        return;
    final_flush(w);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
