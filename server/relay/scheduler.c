/* scheduler.c - account selection (see scheduler.h). */
#include "compat.h"
#include "accounts.h"
#include "provider.h"
#include "scheduler.h"

static bool was_tried(const struct sched_tried *tried, const struct account *a)
{
    for (size_t i = 0; tried && i < tried->n; i++)
        if (tried->items[i] == a)
            return true;
    return false;
}

bool scheduler_eligible(const struct account *a, const struct sched_request *req)
{
    if (!a->active || !a->schedulable || !a->usable)
        return false;
    if (strcmp(a->prov->family, req->family) != 0)
        return false;
    return account_state(a, req->now_ms, NULL) == ACC_ACTIVE;
}

static struct account *priority_lru_select(const struct account_list *list,
                                           const struct sched_request *req,
                                           const struct sched_tried *tried)
{
    struct account *best = NULL;
    long long best_used = 0;
    for (size_t i = 0; i < list->n; i++) {
        struct account *a = list->items[i];
        if (was_tried(tried, a) || !scheduler_eligible(a, req))
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
    if (req->bound && *req->bound) {
        struct account *a = account_list_find(list, req->bound);
        return a && !was_tried(tried, a) && scheduler_eligible(a, req) ? a : NULL;
    }
    return sched_priority_lru.select(list, req, tried);
}
