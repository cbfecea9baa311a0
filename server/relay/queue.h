/*
 * queue.h - the concurrency wait queue (CONCURRENT_REQUEST_QUEUE_*, off by
 * default; crs-relay-spec 3.5): a request over its key's concurrencyLimit
 * waits for a slot, first come first served, up to a timeout.
 *
 * A waiting request holds no thread: it is a waiter with a timer (a
 * delayed job on the worker pool). Only the head of a key's line on this
 * instance asks Redis for a slot. It is woken at once when a slot of the
 * key is returned anywhere - the accounting script publishes "slot <key>"
 * when someone waits, and every instance's notify listener kicks its head
 * - and otherwise re-checks after a bounded back-off (200 ms growing to
 * 2 s), which also catches a slot freed by a lease that expired. A waiter
 * whose client hung up leaves at its next timer, without Redis.
 *
 * Redis: concurrency:queue:{id} counts the waiters of all instances (the
 * cap), concurrency:queue:stats:{id} has entered / success / timeout /
 * cancelled / rejected_overload and the p50 / p90 / p99 of the recent
 * waits, concurrency:queue:wait_times:{id} and :global keep the samples.
 */
#ifndef RELAY_QUEUE_H
#define RELAY_QUEUE_H

struct app;
struct api_key;
struct admit_request;
struct admit_result;
struct queue;

enum queue_outcome {
    QUEUE_ADMITTED = 0, /* the slot is taken (res->leased) */
    QUEUE_REFUSED = 1,  /* admission refused for another reason: res says which */
    QUEUE_TIMEOUT = 2,
    QUEUE_CANCELLED = 3,  /* the client hung up */
    QUEUE_FULL = 4,       /* not queued: the line is full */
    QUEUE_OVERLOADED = 5, /* not queued: recent waits are too long */
    QUEUE_ERROR = 6,      /* Redis unavailable, or the relay stops */
};

/* What a refusal reports (the original's fields). */
struct queue_info {
    long long waiting, max, p90_ms, waited_ms, timeout_ms;
};

/* Called once, on a worker, when a queued request's wait is over. */
typedef void (*queue_done_fn)(void *owner, enum queue_outcome o, const struct admit_result *res,
                              const struct queue_info *info);

struct queue *queue_new(struct app *app);
/* Every waiter still waiting is finished with QUEUE_ERROR. */
void queue_free(struct queue *q);
/* Wait for a slot of key k (after admission said ADMIT_CONCURRENCY). One
 * Redis round trip. 0: queued, done() comes later (the key and ar are
 * copied or referenced). Else the outcome (FULL, OVERLOADED, ERROR) with
 * *info, and nothing was queued. client_fd: the client's socket, watched
 * for a hang-up. */
int queue_enter(struct queue *q, struct api_key *k, const struct admit_request *ar, int client_fd,
                queue_done_fn done, void *owner, struct queue_info *info);
/* A slot of key key_id may be free (notify). Thread-safe. */
void queue_kick(struct queue *q, const char *key_id);
/* Waiters on this instance (for /health and the tests). */
long queue_waiting(struct queue *q);

#endif
