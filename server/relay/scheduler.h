/*
 * scheduler.h - picks the upstream account for a request.
 *
 * One scheduler, pluggable strategies (h2o balancer style). Strategies see
 * an immutable account snapshot and a `tried` set (accounts this request
 * already used, so failover moves on), and return an account or NULL. The
 * pick is lock-free and reads no Redis: an account's health state travels
 * in the snapshot's runtime object, set at once by this instance and within
 * a moment by the notify listener when another instance changed it.
 */
#ifndef RELAY_SCHEDULER_H
#define RELAY_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>

struct account;
struct account_list;

#define SCHED_TRIED_MAX 10

struct sched_request {
    const char *family; /* "claude" */
    const char *model;  /* may be NULL */
    long long now_ms;   /* wall clock: cooling states end by it */
    const char *bound;  /* the key's dedicated account id; NULL or "": the pool */
};

struct sched_tried {
    const struct account *items[SCHED_TRIED_MAX];
    size_t n;
};

struct sched_strategy {
    const char *name;
    struct account *(*select)(const struct account_list *list, const struct sched_request *req,
                              const struct sched_tried *tried);
};

/* Active, schedulable, usable account of the family that is not cooling,
 * with the best (lowest) priority; among equals the least recently used. */
extern const struct sched_strategy sched_priority_lru;

/* True when the account may take a request of req now (tried aside). */
bool scheduler_eligible(const struct account *a, const struct sched_request *req);
/* Pick an account from list (borrowed from it), or NULL when none fits. A
 * key bound to an account gets that account or none.
 * Pure: the caller marks its use (account_touch). */
struct account *scheduler_pick(const struct account_list *list, const struct sched_request *req,
                               const struct sched_tried *tried);

#endif
