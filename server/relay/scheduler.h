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
    /* The relay endpoint (the provider's serves hook); NULL: any. Last, so
     * positional initialisers without it mean "any". */
    const char *endpoint;
};

/* Accounts by id, not by pointer: a request may move to a newer snapshot
 * (after waiting for a token refresh) and keep what it tried. */
struct sched_tried {
    char ids[SCHED_TRIED_MAX][37];
    size_t n;
};

/* Add a (no-op when full); drop the last one added. */
void sched_tried_add(struct sched_tried *tried, const struct account *a);
void sched_tried_drop_last(struct sched_tried *tried);

/* Why an account is not a candidate. scheduler_skip checks them in this
 * order, except SKIP_WRONG_ENDPOINT, SKIP_TOKEN_EXPIRED and SKIP_WRONG_MODEL
 * (checked right after the family, in that order; numbered late so the
 * values stay stable). */
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
    SKIP_BLOCKED = 10,          /* until an admin reset, or a timed block until its end */
    SKIP_WRONG_MODEL = 11,      /* the provider's supports_model refuses the request's model */
    SKIP_MODEL_LIMIT = 12,      /* rate limited on the request's model family (weekly Opus, ...) */
    SKIP_OVER_QUOTA = 13,       /* dailyQuota reached: stopped until the next reset */
    SKIP_OVER_CONCURRENCY = 14, /* maxConcurrentTasks in flight on this instance already */
    SKIP_TOKEN_EXPIRED = 15,    /* the provider's token_expired: past expiresAt, not renewable */
    SKIP_WRONG_ENDPOINT = 16,   /* its type cannot serve the request's endpoint (serves hook);
                                 * checked right after the family */
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
/* True when req names a model, the key's binding holds accounts of the
 * request's family, and not one of them supports the model, whatever its
 * state: the request can never be served (a clear 404, not a 503). Pure. */
bool scheduler_model_unsupported(const struct account_list *list, const struct sched_request *req);
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
