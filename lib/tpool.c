/*
 * tpool.c - fixed pool of worker threads with a bounded FIFO queue (see tpool.h).
 *
 * DESIGN: the queue is a ring of queue_max (fn, arg) slots allocated once, so
 * submitting never allocates and a full queue is an immediate -ERR_BUSY
 * (Redis bio, curl thrdpool). Workers are named "<prefix>-<n>" for top/gdb.
 * tpool_free sets stop; workers keep taking jobs until the ring is empty and
 * only then exit, so every accepted job runs exactly once.
 *
 * Delayed jobs (tpool_submit_after) wait in a min-heap by due time; a worker
 * moves the due ones into the ring before taking a job and otherwise sleeps
 * until the earliest is due (a monotonic-clock condition variable). At
 * tpool_free they run at once, due or not, so their owners can clean up.
 *
 * LOCKING: one mutex, tp->mu, guards ring, head, len, heap, nheap, running
 * and stop.
 * `work` is signalled when a job is queued or stop is set (workers wait on
 * it); `idle` is broadcast when the ring is empty and no job runs
 * (tpool_drain waits on it). Jobs run with the mutex released, so a job may
 * call tpool_submit on its own pool; it must not call tpool_drain or
 * tpool_free on it (that would wait for itself). No other lock is taken while
 * tp->mu is held.
 */
#include "compat.h"
#include "clock.h"
#include "errs.h"
#include "tpool.h"
#include "xmalloc.h"

#include <pthread.h>
#include <time.h>

#define TPOOL_NAME_MAX 16 /* the kernel's limit, NUL included */

struct job {
    tpool_fn fn;
    void *arg;
};

struct timed {
    long long due_ms;
    struct job job;
};

struct tpool {
    pthread_mutex_t mu;  /* guards: ring, head, len, heap, nheap, running, stop */
    pthread_cond_t work; /* job queued or stop set */
    pthread_cond_t idle; /* ring empty and nothing running */
    struct job *ring;
    size_t cap, head, len;
    struct timed *heap; /* delayed jobs, earliest first */
    size_t nheap;
    int running;
    bool stop;
    int nthreads; /* written before the pool is shared; read-only after */
    pthread_t *threads;
};

static void heap_swap(struct timed *h, size_t a, size_t b)
{
    struct timed t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static void heap_push_locked(struct tpool *tp, struct timed t)
{
    size_t i = tp->nheap++;
    tp->heap[i] = t;
    while (i && tp->heap[(i - 1) / 2].due_ms > tp->heap[i].due_ms) {
        heap_swap(tp->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct job heap_pop_locked(struct tpool *tp)
{
    struct job j = tp->heap[0].job;
    tp->heap[0] = tp->heap[--tp->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < tp->nheap && tp->heap[l].due_ms < tp->heap[m].due_ms)
            m = l;
        if (r < tp->nheap && tp->heap[r].due_ms < tp->heap[m].due_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(tp->heap, i, m);
        i = m;
    }
    return j;
}

/* Move due delayed jobs (all of them when stopping) into the ring. */
static void promote_due_locked(struct tpool *tp)
{
    long long now = clock_mono_ms();
    while (tp->nheap && tp->len < tp->cap && (tp->stop || tp->heap[0].due_ms <= now)) {
        tp->ring[(tp->head + tp->len) % tp->cap] = heap_pop_locked(tp);
        tp->len++;
    }
}

/* Sleep until a job is queued, stop is set, or the earliest delayed job is due. */
static void wait_work_locked(struct tpool *tp)
{
    if (!tp->nheap) {
        pthread_cond_wait(&tp->work, &tp->mu);
        return;
    }
    long long due = tp->heap[0].due_ms;
    struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000};
    pthread_cond_timedwait(&tp->work, &tp->mu, &ts);
}

/* Take the next job; false when the pool stops and nothing is left. */
static bool next_job_locked(struct tpool *tp, struct job *j)
{
    for (;;) {
        promote_due_locked(tp);
        if (tp->len || (tp->stop && !tp->nheap))
            break;
        wait_work_locked(tp);
    }
    if (!tp->len)
        return false;
    *j = tp->ring[tp->head];
    tp->head = (tp->head + 1) % tp->cap;
    tp->len--;
    tp->running++;
    return true;
}

/* The pool the calling thread works for (NULL outside any pool). Per
 * thread, written once by the thread itself: no sharing, no lock. */
static _Thread_local const struct tpool *current_pool;

bool tpool_on_worker(const struct tpool *tp)
{
    return tp && current_pool == tp;
}

static void *worker_main(void *arg)
{
    struct tpool *tp = arg;
    struct job j;
    current_pool = tp;
    pthread_mutex_lock(&tp->mu);
    while (next_job_locked(tp, &j)) {
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

static void name_thread(pthread_t t, const char *prefix, int n)
{
    char name[TPOOL_NAME_MAX], num[16];
    const char *pre = prefix ? prefix : "pool";
    /* Cut the prefix so "-<n>" always fits; the name is cosmetic. */
    int nl = snprintf(num, sizeof(num), "-%d", n);
    if (nl < 0 || (size_t)nl >= sizeof(name))
        return;
    size_t pl = strnlen(pre, sizeof(name) - 1 - (size_t)nl);
    memcpy(name, pre, pl);
    memcpy(name + pl, num, (size_t)nl + 1);
    (void)pthread_setname_np(t, name);
}

int tpool_new(int nthreads, size_t queue_max, const char *name, struct tpool **out)
{
    if (nthreads < 1 || queue_max < 1)
        return -ERR_INVAL;
    struct tpool *tp = xcalloc(1, sizeof(*tp));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* delayed jobs: immune to clock steps */
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->work, &ca);
    pthread_cond_init(&tp->idle, NULL);
    pthread_condattr_destroy(&ca);
    tp->cap = queue_max;
    tp->ring = xcalloc(queue_max, sizeof(*tp->ring));
    tp->heap = xcalloc(queue_max, sizeof(*tp->heap));
    tp->threads = xcalloc((size_t)nthreads, sizeof(*tp->threads));
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&tp->threads[i], NULL, worker_main, tp) != 0) {
            tpool_free(tp); /* joins the i threads already started */
            return -ERR_IO;
        }
        tp->nthreads = i + 1;
        name_thread(tp->threads[i], name, i);
    }
    *out = tp;
    return 0;
}

int tpool_submit(struct tpool *tp, tpool_fn fn, void *arg)
{
    if (!fn)
        return -ERR_INVAL;
    int rc = 0;
    pthread_mutex_lock(&tp->mu);
    if (tp->stop) {
        rc = -ERR_CLOSED;
        goto out;
    }
    if (tp->len == tp->cap) {
        rc = -ERR_BUSY;
        goto out;
    }
    tp->ring[(tp->head + tp->len) % tp->cap] = (struct job){fn, arg};
    tp->len++;
    pthread_cond_signal(&tp->work);
out:
    pthread_mutex_unlock(&tp->mu);
    return rc;
}

int tpool_submit_after(struct tpool *tp, long delay_ms, tpool_fn fn, void *arg)
{
    if (!fn || delay_ms < 0)
        return -ERR_INVAL;
    int rc = 0;
    pthread_mutex_lock(&tp->mu);
    if (tp->stop)
        rc = -ERR_CLOSED;
    else if (tp->nheap == tp->cap)
        rc = -ERR_BUSY;
    else
        heap_push_locked(tp, (struct timed){clock_mono_ms() + delay_ms, {fn, arg}});
    if (rc == 0)
        pthread_cond_signal(&tp->work); /* a sleeping worker may need an earlier wake-up */
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
    /* Workers empty the ring before they exit (next_job_locked). */
    for (int i = 0; i < tp->nthreads; i++)
        pthread_join(tp->threads[i], NULL);
    pthread_cond_destroy(&tp->work);
    pthread_cond_destroy(&tp->idle);
    pthread_mutex_destroy(&tp->mu);
    free(tp->threads);
    free(tp->ring);
    free(tp->heap);
    free(tp);
}
