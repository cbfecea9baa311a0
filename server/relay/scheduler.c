/* scheduler.c - account selection (see scheduler.h). */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "provider.h"
#include "scheduler.h"

#include <time.h>

static bool was_tried(const struct sched_tried *tried, const struct account *a)
{
    for (size_t i = 0; tried && i < tried->n; i++)
        if (tried->items[i] == a)
            return true;
    return false;
}

static bool eligible(const struct account *a, const struct sched_request *req)
{
    if (!a->active || !a->schedulable || !a->api_key)
        return false;
    const struct provider *p = provider_find(a->type);
    return p && strcmp(p->family, req->family) == 0;
}

static struct account *priority_lru_select(const struct account_list *list,
                                           const struct sched_request *req,
                                           const struct sched_tried *tried)
{
    struct account *best = NULL;
    long long best_used = 0;
    for (size_t i = 0; i < list->n; i++) {
        struct account *a = list->items[i];
        if (!eligible(a, req) || was_tried(tried, a))
            continue;
        long long used = atomic_load(&a->last_used_ms);
        if (!best || a->priority < best->priority ||
            (a->priority == best->priority && used < best_used)) {
            best = a;
            best_used = used;
        }
    }
    return best;
}

const struct sched_strategy sched_priority_lru = {"priority-lru", priority_lru_select};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct account *scheduler_pick(struct app *app, const struct sched_request *req,
                               const struct sched_tried *tried, struct account_list **list_out)
{
    struct account_list *list = accounts_snapshot(app->accounts);
    struct account *a = sched_priority_lru.select(list, req, tried);
    if (!a) {
        accounts_list_release(list);
        return NULL;
    }
    atomic_store(&a->last_used_ms, now_ms());
    *list_out = list;
    return a;
}
