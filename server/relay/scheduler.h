/*
 * scheduler.h - picks the upstream account for a request.
 *
 * One scheduler, pluggable strategies (h2o balancer style). Strategies see
 * an immutable account snapshot and a `tried` set (accounts this request
 * already used, so failover moves on), and return an account or NULL. The
 * pick is lock-free and reads no Redis: an account's health state travels
 * in the snapshot's runtime object, set at once by this instance and within
 * a moment by the notify listener when another instance changed it.
 *
 * Order of decisions (docs/architecture.md "The scheduler"): the key's
 * binding narrows the candidates (a dedicated account, or the members of a
 * group); each candidate must be eligible (scheduler_skip); a session's
 * sticky account is taken when it is a candidate; otherwise the best
 * priority, then the least recently used.
 */
#ifndef RELAY_SCHEDULER_H
#define RELAY_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>

struct account;
struct account_list;

#define SCHED_TRIED_MAX 10
#define SCHED_GROUP_PREFIX "group:"

struct sched_request {
    const char *family; /* "claude" */
    const char *model;  /* may be NULL */
    long long now_ms;   /* wall clock: cooling states end by it */
    const char *bound;  /* the key's account id, or "group:<gid>"; NULL or "": the pool */
    const char *sticky; /* the session's account id; NULL: none */
};

struct sched_tried {
    const struct account *items[SCHED_TRIED_MAX];
    size_t n;
};

/* Why an account is not a candidate, in the order they are checked. */
enum sched_skip {
    SKIP_NONE = 0,
    SKIP_NOT_DEDICATED = 1, /* the key is bound to another account */
    SKIP_NOT_IN_GROUP = 2,  /* the key is bound to a group without it */
    SKIP_TRIED = 3,         /* this request used it already */
    SKIP_PAUSED = 4,        /* isActive false */
    SKIP_NOT_SCHEDULABLE = 5,
    SKIP_CREDENTIAL = 6,   /* a required secret could not be unsealed */
    SKIP_WRONG_FAMILY = 7, /* not the request's API family */
    SKIP_COOLING = 8,      /* temp_error, overloaded or rate_limited until a time */
    SKIP_UNAUTHORIZED = 9,
    SKIP_BLOCKED = 10,
    SKIP_OVER_QUOTA = 11,       /* dailyQuota reached: stopped until the next reset */
    SKIP_OVER_CONCURRENCY = 12, /* maxConcurrentTasks in flight on this instance already */
};

struct sched_strategy {
    const char *name;
    struct account *(*select)(const struct account_list *list, const struct sched_request *req,
                              const struct sched_tried *tried);
};

/* Active, schedulable, usable account of the family that is not cooling,
 * within the key's binding, with the best (lowest) priority; among equals
 * the least recently used. */
extern const struct sched_strategy sched_priority_lru;

/* Why a (in list) cannot take req now, or SKIP_NONE. tried may be NULL.
 * Pure and lock-free; the one filter of every pick. */
enum sched_skip scheduler_skip(const struct account_list *list, const struct account *a,
                               const struct sched_request *req, const struct sched_tried *tried);
/* True when some account within req's binding is skipped only because it
 * is at its concurrency limit (SKIP_OVER_CONCURRENCY, the last check). */
bool scheduler_any_full(const struct account_list *list, const struct sched_request *req,
                        const struct sched_tried *tried);
/* The skip reason as the admin API shows it ("cooling", "not schedulable", ...). */
const char *scheduler_skip_name(enum sched_skip s);
/* Pick an account from list (borrowed from it), or NULL when none fits:
 * the sticky account when it is a candidate, else the strategy's choice.
 * Pure: the caller marks its use (account_touch). */
struct account *scheduler_pick(const struct account_list *list, const struct sched_request *req,
                               const struct sched_tried *tried);

#endif
