/*
 * scheduler.h - picks the upstream account for a request.
 *
 * One scheduler, pluggable strategies (h2o balancer style). Strategies see
 * an immutable account snapshot and a `tried` set (accounts a failover loop
 * already used), and return an account or NULL. The pick is lock-free: the
 * only shared write is the account's atomic last_used_ms.
 */
#ifndef RELAY_SCHEDULER_H
#define RELAY_SCHEDULER_H

#include <stddef.h>

struct app;
struct account;
struct account_list;

#define SCHED_TRIED_MAX 8

struct sched_request {
    const char *family; /* "claude" */
    const char *model;  /* may be NULL */
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

/* Schedulable, active account with the best (lowest) priority; among equals
 * the least recently used. */
extern const struct sched_strategy sched_priority_lru;

/* Pick an account. On success *list_out holds the snapshot reference that
 * keeps the account alive: release it with accounts_list_release() when the
 * request no longer needs the account. NULL when none fits. */
struct account *scheduler_pick(struct app *app, const struct sched_request *req,
                               const struct sched_tried *tried, struct account_list **list_out);

#endif
