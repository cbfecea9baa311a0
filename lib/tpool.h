/*
 * tpool.h - a fixed pool of worker threads with a bounded FIFO queue
 * (mutex + condition variables; Redis bio / curl thrdpool style).
 *
 * Jobs are (fn, arg) pairs; the pool never frees arg. tpool_submit never
 * blocks: when the queue is full it fails with -ERR_BUSY so the caller can
 * answer 503 instead of piling up work.
 */
#ifndef RELAY_TPOOL_H
#define RELAY_TPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct tpool;

typedef void (*tpool_fn)(void *arg);

/* Start nthreads workers (name prefix for the thread names, <= 10 chars). */
int tpool_new(int nthreads, size_t queue_max, const char *name, struct tpool **out)
    __attribute__((warn_unused_result));
/* Queue a job. Thread-safe. 0, -ERR_BUSY (queue full) or -ERR_CLOSED (shutting down). */
int tpool_submit(struct tpool *tp, tpool_fn fn, void *arg) __attribute__((warn_unused_result));
/* Queue a job to run after delay_ms (a timer: a waiting request holds no
 * thread). At most queue_max delayed jobs wait at once. Thread-safe.
 * 0, -ERR_BUSY, -ERR_CLOSED or -ERR_INVAL. Delayed jobs still waiting when
 * tpool_free runs are run then, at once. tpool_drain does not wait for them. */
int tpool_submit_after(struct tpool *tp, long delay_ms, tpool_fn fn, void *arg)
    __attribute__((warn_unused_result));
/* Jobs waiting (not running). Thread-safe. */
size_t tpool_pending(struct tpool *tp);
/* True when the calling thread is one of tp's workers (a caller that may
 * run elsewhere, e.g. on an I/O thread, can hand blocking work over). */
bool tpool_on_worker(const struct tpool *tp);
/* Wait until the queue is empty and no job is running (new jobs may still be
 * submitted meanwhile; the caller stops its producers first). Thread-safe. */
void tpool_drain(struct tpool *tp);
/* Stop accepting jobs, run those already queued, join the threads, free. */
void tpool_free(struct tpool *tp);

#endif
