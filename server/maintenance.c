/*
 * maintenance.c - periodic jobs on one thread (see maintenance.h).
 * LOCKING: m->mu guards m->stop; the jobs themselves use their own modules'
 * locking and check a Redis connection out of the pool.
 */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "log.h"
#include "maintenance.h"
#include "rds.h"
#include "usage_stats.h"
#include "usage_writer.h"
#include "xmalloc.h"

#include <pthread.h>
#include <time.h>

struct maint {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu; /* guards: stop */
    pthread_cond_t cond;
    bool stop;
};

/* Other instances sharing the Redis may change accounts: pick that up. */
static void job_accounts(struct app *app, struct rds_conn *c)
{
    if (accounts_refresh(app->accounts, c) != 0)
        log_warn("maint", "account refresh failed");
}

static void job_usage_flush(struct app *app, struct rds_conn *c)
{
    usage_stats_flush(app->usage_stats, app, c);
}

static const struct {
    const char *name;
    int interval_s;
    void (*fn)(struct app *app, struct rds_conn *c);
} jobs[] = {
    {"accounts-refresh", 5, job_accounts},
    {"usage-flush", 2, job_usage_flush},
};

static void run_due(struct maint *m, time_t *last, time_t now)
{
    for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
        if (now - last[i] < jobs[i].interval_s)
            continue;
        struct rds_conn *c = rds_pool_get(m->app->redis, 1000);
        if (!c)
            return; /* Redis down: the pool logs it; try next tick */
        jobs[i].fn(m->app, c);
        rds_pool_put(m->app->redis, c);
        last[i] = now;
    }
}

static void *maint_main(void *arg)
{
    struct maint *m = arg;
    time_t last[ARRAY_SIZE(jobs)];
    for (size_t i = 0; i < ARRAY_SIZE(jobs); i++)
        last[i] = time(NULL);
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&m->cond, &m->mu, &until);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->mu);
        usage_writer_tick(m->app->usage_writer); /* spooled usages after an outage */
        run_due(m, last, time(NULL));
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int maint_start(struct app *app, struct maint **out)
{
    struct maint *m = xcalloc(1, sizeof(*m));
    m->app = app;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cond, NULL);
    if (pthread_create(&m->thread, NULL, maint_main, m) != 0) {
        free(m);
        return -1;
    }
    pthread_setname_np(m->thread, "maintenance");
    *out = m;
    return 0;
}

void maint_stop(struct maint *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
