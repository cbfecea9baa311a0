/* scheduler.c - account selection (see scheduler.h). */
#include "compat.h"
#include "accounts.h"
#include "provider.h"
#include "scheduler.h"

static const char *const skip_names[] = {
    [SKIP_NONE] = "eligible",
    [SKIP_NOT_DEDICATED] = "not the dedicated account",
    [SKIP_NOT_IN_GROUP] = "not in the bound group",
    [SKIP_TRIED] = "already tried",
    [SKIP_PAUSED] = "paused",
    [SKIP_NOT_SCHEDULABLE] = "not schedulable",
    [SKIP_CREDENTIAL] = "credential unavailable",
    [SKIP_WRONG_FAMILY] = "wrong family",
    [SKIP_COOLING] = "cooling",
    [SKIP_UNAUTHORIZED] = "unauthorized",
    [SKIP_BLOCKED] = "blocked",
    [SKIP_MODEL_LIMIT] = "model family rate limited",
    [SKIP_WRONG_MODEL] = "model not supported",
    [SKIP_OVER_QUOTA] = "daily quota reached",
    [SKIP_OVER_CONCURRENCY] = "over concurrency",
    [SKIP_TOKEN_EXPIRED] = "token expired",
    [SKIP_WRONG_ENDPOINT] = "endpoint not served",
};

const char *scheduler_skip_name(enum sched_skip s)
{
    return (unsigned)s < ARRAY_SIZE(skip_names) ? skip_names[s] : "?";
}

static bool was_tried(const struct sched_tried *tried, const struct account *a)
{
    for (size_t i = 0; tried && i < tried->n; i++)
        if (strcmp(tried->ids[i], a->id) == 0)
            return true;
    return false;
}

void sched_tried_add(struct sched_tried *tried, const struct account *a)
{
    if (tried->n < SCHED_TRIED_MAX)
        snprintf(tried->ids[tried->n++], sizeof(tried->ids[0]), "%s", a->id);
}

void sched_tried_drop_last(struct sched_tried *tried)
{
    if (tried->n)
        tried->n--;
}

/* Outside the key's binding: a dedicated account or a group's members. A
 * group that no longer exists has no members. */
static enum sched_skip binding_skip(const struct account_list *list, const struct account *a,
                                    const char *bound)
{
    if (!bound || !*bound)
        return SKIP_NONE;
    size_t gl = strlen(SCHED_GROUP_PREFIX);
    if (strncmp(bound, SCHED_GROUP_PREFIX, gl) != 0)
        return strcmp(a->id, bound) == 0 ? SKIP_NONE : SKIP_NOT_DEDICATED;
    const struct account_group *g = account_list_group(list, bound + gl);
    return account_group_has(g, a->id) ? SKIP_NONE : SKIP_NOT_IN_GROUP;
}

/* No model named (explain without one): nothing to check. */
static bool supports(const struct account *a, const char *model)
{
    return !model || !*model || !a->prov->supports_model || a->prov->supports_model(a, model);
}

static enum sched_skip state_skip(const struct account *a, const struct sched_request *req)
{
    enum account_state st = account_state(a, req->now_ms, NULL);
    if (st == ACC_UNAUTHORIZED)
        return SKIP_UNAUTHORIZED;
    if (st == ACC_BLOCKED)
        return SKIP_BLOCKED;
    if (st != ACC_ACTIVE)
        return SKIP_COOLING;
    enum model_family f = model_family_of(req->model);
    return f != MF_ANY && account_family_until(a, f) > req->now_ms ? SKIP_MODEL_LIMIT : SKIP_NONE;
}

/* The shared limits, from memory only: the quota stop travels in the
 * runtime object; the in-flight count is this instance's (the Redis lease
 * at the attempt counts the others'). */
static enum sched_skip limit_skip(const struct account *a, long long now_ms)
{
    if (a->daily_quota_micro > 0 && account_quota_until(a) > now_ms)
        return SKIP_OVER_QUOTA;
    if (a->max_tasks > 0 && account_inflight(a) >= a->max_tasks)
        return SKIP_OVER_CONCURRENCY;
    return SKIP_NONE;
}

/* An account type that serves only some endpoints of its family (an API
 * key cannot call Code Assist, say). */
static bool serves(const struct account *a, const char *endpoint)
{
    return !endpoint || !a->prov->serves || a->prov->serves(endpoint);
}

enum sched_skip scheduler_skip(const struct account_list *list, const struct account *a,
                               const struct sched_request *req, const struct sched_tried *tried)
{
    enum sched_skip s = binding_skip(list, a, req->bound);
    if (s != SKIP_NONE)
        return s;
    if (was_tried(tried, a))
        return SKIP_TRIED;
    if (!a->active)
        return SKIP_PAUSED;
    if (!a->schedulable)
        return SKIP_NOT_SCHEDULABLE;
    if (!a->usable)
        return SKIP_CREDENTIAL;
    if (strcmp(a->prov->family, req->family) != 0)
        return SKIP_WRONG_FAMILY;
    if (!serves(a, req->endpoint))
        return SKIP_WRONG_ENDPOINT;
    if (a->prov->token_expired && a->prov->token_expired(a, req->now_ms))
        return SKIP_TOKEN_EXPIRED;
    if (!supports(a, req->model))
        return SKIP_WRONG_MODEL;
    s = state_skip(a, req);
    return s != SKIP_NONE ? s : limit_skip(a, req->now_ms);
}

bool scheduler_model_unsupported(const struct account_list *list, const struct sched_request *req)
{
    size_t family = 0;
    if (!req->model || !*req->model)
        return false;
    for (size_t i = 0; i < list->n; i++) {
        const struct account *a = list->items[i];
        if (binding_skip(list, a, req->bound) != SKIP_NONE ||
            strcmp(a->prov->family, req->family) != 0 || !serves(a, req->endpoint))
            continue;
        if (supports(a, req->model))
            return false;
        family++;
    }
    return family > 0;
}

bool scheduler_any_full(const struct account_list *list, const struct sched_request *req,
                        const struct sched_tried *tried)
{
    for (size_t i = 0; i < list->n; i++)
        if (scheduler_skip(list, list->items[i], req, tried) == SKIP_OVER_CONCURRENCY)
            return true;
    return false;
}

static struct account *priority_lru_select(const struct account_list *list,
                                           const struct sched_request *req,
                                           const struct sched_tried *tried)
{
    struct account *best = NULL;
    long long best_used = 0;
    for (size_t i = 0; i < list->n; i++) {
        struct account *a = list->items[i];
        if (scheduler_skip(list, a, req, tried) != SKIP_NONE)
            continue;
        long long used = account_last_used(a);
        if (!best || a->priority < best->priority ||
            (a->priority == best->priority && used < best_used)) {
            best = a;
            best_used = used;
        }
    }
    return best;
}

const struct sched_strategy sched_priority_lru = {"priority-lru", priority_lru_select};

struct account *scheduler_pick(const struct account_list *list, const struct sched_request *req,
                               const struct sched_tried *tried)
{
    struct account *s = req->sticky ? account_list_find(list, req->sticky) : NULL;
    if (s && scheduler_skip(list, s, req, tried) == SKIP_NONE)
        return s;
    return sched_priority_lru.select(list, req, tried);
}
