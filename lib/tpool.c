/*
 * tpool.c - fixed worker pool with a bounded FIFO queue (see tpool.h).
 * LOCKING: tp->mu guards the ring, counts and the stop flag; `work` wakes
 * workers, `idle` wakes tpool_drain. Jobs run without the lock.
 */
#include "compat.h"
#include "errs.h"
#include "tpool.h"
#include "xmalloc.h"

#include <pthread.h>

struct job {
    tpool_fn fn;
    void *arg;
};

struct tpool {
    pthread_mutex_t mu; /* guards: ring, head, len, running, stop */
    pthread_cond_t work;
    pthread_cond_t idle;
    struct job *ring;
    size_t cap, head, len;
    int running;
    bool stop;
    int nthreads;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    struct tpool *tp = arg;
    pthread_mutex_lock(&tp->mu);
    for (;;) {
        while (!tp->len && !tp->stop)
            pthread_cond_wait(&tp->work, &tp->mu);
        if (!tp->len && tp->stop)
            break;
        struct job j = tp->ring[tp->head];
        tp->head = (tp->head + 1) % tp->cap;
        tp->len--;
        tp->running++;
        pthread_mutex_unlock(&tp->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&tp->mu);
        tp->running--;
        if (!tp->len && !tp->running)
            pthread_cond_broadcast(&tp->idle);
    }
    pthread_mutex_unlock(&tp->mu);
    return NULL;
}

int tpool_new(int nthreads, size_t queue_max, const char *name, struct tpool **out)
{
    if (nthreads < 1 || queue_max < 1)
        return -ERR_INVAL;
    struct tpool *tp = xcalloc(1, sizeof(*tp));
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->work, NULL);
    pthread_cond_init(&tp->idle, NULL);
    tp->cap = queue_max;
    tp->ring = xcalloc(queue_max, sizeof(*tp->ring));
    tp->threads = xcalloc((size_t)nthreads, sizeof(*tp->threads));
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&tp->threads[i], NULL, worker_main, tp) != 0) {
            tp->nthreads = i;
            tpool_free(tp);
            return -ERR_IO;
        }
        char tname[32];
        snprintf(tname, sizeof(tname), "%.10s-%d", name ? name : "pool", i);
        tname[15] = '\0'; /* the kernel's limit */
        pthread_setname_np(tp->threads[i], tname);
    }
    tp->nthreads = nthreads;
    *out = tp;
    return 0;
}

int tpool_submit(struct tpool *tp, tpool_fn fn, void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&tp->mu);
    if (tp->stop) {
        rc = -ERR_CLOSED;
    } else if (tp->len == tp->cap) {
        rc = -ERR_BUSY;
    } else {
        tp->ring[(tp->head + tp->len) % tp->cap] = (struct job){fn, arg};
        tp->len++;
        pthread_cond_signal(&tp->work);
    }
    pthread_mutex_unlock(&tp->mu);
    return rc;
}

size_t tpool_pending(struct tpool *tp)
{
    pthread_mutex_lock(&tp->mu);
    size_t n = tp->len;
    pthread_mutex_unlock(&tp->mu);
    return n;
}

void tpool_drain(struct tpool *tp)
{
    pthread_mutex_lock(&tp->mu);
    while (tp->len || tp->running)
        pthread_cond_wait(&tp->idle, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
}

void tpool_free(struct tpool *tp)
{
    if (!tp)
        return;
    pthread_mutex_lock(&tp->mu);
    tp->stop = true;
    pthread_cond_broadcast(&tp->work);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 0; i < tp->nthreads; i++)
        pthread_join(tp->threads[i], NULL);
    pthread_cond_destroy(&tp->work);
    pthread_cond_destroy(&tp->idle);
    pthread_mutex_destroy(&tp->mu);
    free(tp->threads);
    free(tp->ring);
    free(tp);
}
