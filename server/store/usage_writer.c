/*
 * usage_writer.c - group commit of per-key usage totals (see usage_writer.h).
 *
 * DESIGN: a FIFO of pushed usages and one flag, `scheduled`: true while a
 * flush job is queued or running. A push that finds it false sets it and
 * submits the job; the job drains the FIFO in batches of up to BATCH and
 * clears the flag only when it finds the FIFO empty, under the lock, so a
 * push never waits for a job that has already looked. If the worker queue
 * is full the items stay queued for the next push or usage_writer_free.
 *
 * LOCKING: w->mu guards head, tail, len and scheduled; a leaf lock (no I/O,
 * no other lock while held).
 */
#include "compat.h"
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

#define BATCH 256        /* usages per round trip */
#define QUEUE_MAX 200000 /* ~70 MB at most; beyond it Redis is not keeping up */
#define REDIS_WAIT_MS 3000

struct item {
    struct item *next;
    char key_id[40];
    char account_id[40];
    struct usage u;
};

struct usage_writer {
    struct app *app;
    pthread_mutex_t mu; /* guards: head, tail, len, scheduled */
    struct item *head, *tail;
    size_t len;
    bool scheduled;
};

struct usage_writer *usage_writer_new(struct app *app)
{
    struct usage_writer *w = xcalloc(1, sizeof(*w));
    w->app = app;
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

static void write_batch(struct usage_writer *w, struct item *batch)
{
    const char *ids[BATCH];
    const struct usage *us[BATCH];
    int n = 0;
    for (struct item *it = batch; it; it = it->next) {
        usage_stats_add(w->app->usage_stats, w->app, it->key_id, it->account_id, &it->u);
        ids[n] = it->key_id;
        us[n++] = &it->u;
    }
    struct rds_conn *c = rds_pool_get(w->app->redis, REDIS_WAIT_MS);
    if (c) {
        usage_record_many(w->app, c, n, ids, us);
        rds_pool_put(w->app->redis, c);
    } else {
        log_warn("usage", "store unavailable: usage of %d requests lost", n);
    }
    while (batch) {
        struct item *next = batch->next;
        free(batch);
        batch = next;
    }
}

static void flush_job(void *arg)
{
    struct usage_writer *w = arg;
    struct item *batch;
    while ((batch = take_batch(w, true)))
        write_batch(w, batch);
}

int usage_writer_push(struct usage_writer *w, const char *key_id, const char *account_id,
                      const struct usage *u)
{
    struct item *it = xcalloc(1, sizeof(*it));
    snprintf(it->key_id, sizeof(it->key_id), "%s", key_id);
    snprintf(it->account_id, sizeof(it->account_id), "%s", account_id);
    it->u = *u;
    bool submit = false;
    pthread_mutex_lock(&w->mu);
    if (w->len >= QUEUE_MAX) {
        pthread_mutex_unlock(&w->mu);
        log_warn("usage", "usage queue full: usage of key %s lost", key_id);
        free(it);
        return -ERR_BUSY;
    }
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    w->len++;
    if (!w->scheduled)
        submit = w->scheduled = true;
    pthread_mutex_unlock(&w->mu);
    if (submit && tpool_submit(w->app->workers, flush_job, w) != 0) {
        pthread_mutex_lock(&w->mu);
        w->scheduled = false; /* the next push tries again; free writes the rest */
        pthread_mutex_unlock(&w->mu);
    }
    return 0;
}

void usage_writer_free(struct usage_writer *w)
{
    if (!w)
        return;
    struct item *batch;
    while ((batch = take_batch(w, false)))
        write_batch(w, batch);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
