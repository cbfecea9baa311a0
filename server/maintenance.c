/*
 * maintenance.c - periodic jobs on one thread (see maintenance.h).
 * LOCKING: m->mu guards m->stop; the jobs themselves use their own modules'
 * locking and check a Redis connection out of the pool.
 */
#include "compat.h"
#include "accounts.h"
#include "claude_profile.h"
#include "app.h"
#include "account_state.h"
#include "config.h"
#include "errs.h"
#include "leases.h"
#include "log.h"
#include "notify.h"
#include "maintenance.h"
#include "pricing_sync.h"
#include "rds.h"
#include "settings.h"
#include "token_refresh.h"
#include "usage_stats.h"
#include "usage_writer.h"
#include "xmalloc.h"

#include <malloc.h>
#include <pthread.h>
#include <time.h>

struct maint {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu; /* guards: stop */
    pthread_cond_t cond;
    bool stop;
};

/* Other instances sharing the Redis may change accounts. The notify
 * listener tells us at once while its subscription is up; then this full
 * reload is only a safety net, every 10 minutes instead of every 5 s. */
static void job_accounts(struct app *app, struct rds_conn *c)
{
    static _Thread_local time_t last_full;
    time_t now = time(NULL);
    if (notify_connected(app->notify) && now - last_full < 600)
        return;
    last_full = now;
    if (accounts_refresh(app->accounts, c) != 0)
        log_warn("maint", "account refresh failed");
    if (settings_reload(app->settings, c) != 0) /* a "settings" notice lost */
        log_warn("maint", "settings reload failed");
}

/* A cooling state whose time has passed: recorded as over, once across
 * instances (account_state_recover). Reads no Redis unless one is due.
 * Scheduling does not wait for it: a cooldown whose time passed reads as
 * active everywhere (account_state); this sweep writes the event and
 * clears the mark, every RATE_LIMIT_CLEANUP_INTERVAL. */
static void job_recover(struct app *app, struct rds_conn *c)
{
    struct account_list *l = accounts_snapshot(app->accounts);
    long long now = (long long)time(NULL) * 1000;
    for (size_t i = 0; i < l->n; i++) {
        const struct account *a = l->items[i];
        long long until = 0;
        enum account_state st = account_state_raw(a, &until);
        if (st == ACC_ACTIVE || account_state_permanent(st, until) || until > now)
            continue;
        if (account_state_recover(app, c, a, st, now) == 0) {
            account_set_state(a, ACC_ACTIVE, 0, NULL);
            log_info("maint", "account %s (%s) recovered from %s", a->id, a->name,
                     account_state_name(st));
        }
    }
    accounts_list_release(l);
}

/* Running requests keep their concurrency slots: renew what this instance
 * holds, every third of the lease (nothing to send when nothing is held). */
static void job_leases(struct app *app, struct rds_conn *c)
{
    static _Thread_local time_t last;
    time_t now = time(NULL);
    long long lease = app->cfg->concurrency_lease_s;
    if (now - last < (lease / 3 > 1 ? lease / 3 : 1) || leases_count(app->leases) == 0)
        return;
    last = now;
    if (leases_renew(app->leases, c, ((long long)now + lease) * 1000) != 0)
        log_warn("maint", "could not renew the concurrency leases");
}

static void job_usage_flush(struct app *app, struct rds_conn *c)
{
    usage_stats_flush(app->usage_stats, app, c);
}

/* Other instances (or an admin on one) may replace the price table: one GET
 * of its version per run, a reload only when it changed. */
static void job_pricing(struct app *app, struct rds_conn *c)
{
    if (pricing_sync_check(app->pricing, c) == -ERR_REDIS)
        log_warn("maint", "price table check failed");
}

/* Claude OAuth tokens expiring soon: refreshed, one instance per account. */
static void job_token_refresh(struct app *app, struct rds_conn *c)
{
    token_refresh_due(app, c);
}

/* Claude OAuth accounts whose profile lookup failed: tried again, one
 * instance per account and interval (no Redis while none is due). */
static void job_profile_retry(struct app *app, struct rds_conn *c)
{
    claude_profile_due(app, c);
}

/* After a burst glibc keeps the freed heap for reuse (5,000 streams leave
 * ~150 MB of it, in every thread's arena): once nothing runs and enough
 * has happened since the last time, give it back to the system. A
 * monitor's health checks alone (< TRIM_AFTER requests) do not trigger it. */
#define TRIM_AFTER 100
static void job_trim(struct app *app, struct rds_conn *c)
{
    static _Thread_local unsigned long long trimmed_at;
    UNUSED(c);
    unsigned long long n = atomic_load(&app->stats.requests);
    if (n - trimmed_at < TRIM_AFTER || atomic_load(&app->stats.transactions) != 0)
        return;
    malloc_trim(0);
    trimmed_at = n;
}

#define EVERY_PRICING 0  /* PRICING_RELOAD_INTERVAL */
#define EVERY_REFRESH -1 /* TOKEN_REFRESH_INTERVAL minutes */
#define EVERY_CLEANUP -2 /* RATE_LIMIT_CLEANUP_INTERVAL minutes (0: every second) */
#define EVERY_PROFILE -3 /* CLAUDE_PROFILE_RETRY_SECONDS */

static const struct {
    const char *name;
    int interval_s; /* or EVERY_* */
    bool at_start;  /* also run at the first tick */
    void (*fn)(struct app *app, struct rds_conn *c);
} jobs[] = {
    {"accounts-refresh", 5, false, job_accounts},
    {"account-recovery", EVERY_CLEANUP, false, job_recover},
    {"lease-renewal", 1, false, job_leases},
    {"usage-flush", 2, false, job_usage_flush},
    {"pricing-reload", EVERY_PRICING, false, job_pricing},
    {"token-refresh", EVERY_REFRESH, true, job_token_refresh},
    {"profile-retry", EVERY_PROFILE, true, job_profile_retry},
    {"memory-trim", 30, false, job_trim},
};

static long long job_interval(const struct app *app, size_t i)
{
    if (jobs[i].interval_s == EVERY_REFRESH)
        return app->cfg->token_refresh_interval_min * 60;
    if (jobs[i].interval_s == EVERY_CLEANUP)
        return app->cfg->rate_limit_cleanup_min ? app->cfg->rate_limit_cleanup_min * 60 : 1;
    if (jobs[i].interval_s == EVERY_PROFILE)
        return app->cfg->claude_profile_retry_s;
    return jobs[i].interval_s > 0 ? jobs[i].interval_s : app->cfg->pricing_reload_interval;
}

static void run_due(struct maint *m, time_t *last, time_t now)
{
    for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
        if (now - last[i] < job_interval(m->app, i))
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
        last[i] = jobs[i].at_start ? 0 : time(NULL);
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
