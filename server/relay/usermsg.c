/*
 * usermsg.c - the user message queue (see usermsg.h): which requests queue,
 * one try at an account's turn, the poll interval, and giving the turn back.
 *
 * DESIGN: the waiting itself belongs to the transaction (txn.c), which
 * holds a struct usermsg_turn and re-runs its step from a delayed job; this
 * file keeps no state of its own. A release is a worker job that carries
 * copies of the account id and the owner, so it outlives the transaction.
 */
#include "compat.h"
#include "clock.h"
#include "accounts.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "format.h"
#include "log.h"
#include "rds.h"
#include "settings.h"
#include "tpool.h"
#include "usermsg.h"
#include "usermsg_lock.h"
#include "xmalloc.h"

#include <sodium.h>

#define REDIS_WAIT_MS 3000
#define JITTER_PERMILLE 150 /* +-15 % */

bool usermsg_applies(bool queue_on, const struct account *a, const char *endpoint, bool user_turn)
{
    /* count_tokens is no message: the upstream's message rate never sees it */
    static const char *const message_endpoints[] = {"messages", "generateContent",
                                                    "streamGenerateContent"};
    bool message = false;
    for (size_t i = 0; i < ARRAY_SIZE(message_endpoints); i++)
        message = message || strcmp(endpoint, message_endpoints[i]) == 0;
    if (!user_turn || !message)
        return false;
    return queue_on || a->user_queue;
}

/* A new account (the first try, or a failover) starts a new wait. */
static void turn_begin(struct usermsg_turn *u, const struct account *a, const char *owner)
{
    snprintf(u->account, sizeof(u->account), "%s", a->id);
    snprintf(u->owner, sizeof(u->owner), "%s", owner);
    u->since_ms = clock_mono_ms();
    u->backoff_ms = USERMSG_BACKOFF_FIRST_MS;
    u->held = false;
}

int usermsg_try(struct app *app, struct usermsg_turn *u, const struct account *a, const char *owner,
                long *retry_ms)
{
    const struct relay_config *cfg = app->cfg;
    if (strcmp(u->account, a->id) != 0)
        turn_begin(u, a, owner);
    long long wait = 0;
    struct rds_conn *c = rds_pool_get(app->redis, REDIS_WAIT_MS);
    int rc = c ? usermsg_lock_acquire(c, a->id, u->owner, clock_wall_ms(),
                                      settings_int(app->settings, SETTING_UMQ_DELAY_MS),
                                      cfg->umq_lock_ttl_ms, &wait)
               : -ERR_REDIS;
    rds_pool_put(app->redis, c);
    if (rc != 0)
        return rc;
    if (wait == 0) {
        u->held = true;
        *retry_ms = 0;
        return 0;
    }
    long long left =
        settings_int(app->settings, SETTING_UMQ_TIMEOUT_MS) - (clock_mono_ms() - u->since_ms);
    if (left <= 0)
        return -ERR_TIMEOUT;
    *retry_ms = usermsg_next_poll(u, wait, left, randombytes_uniform(1001));
    return 0;
}

long usermsg_next_poll(struct usermsg_turn *u, long long wait_ms, long long left_ms, unsigned rnd)
{
    long long ms = wait_ms;
    if (wait_ms <= 0) { /* held elsewhere: back off */
        long long b = u->backoff_ms > 0 ? u->backoff_ms : USERMSG_BACKOFF_FIRST_MS;
        long long next = b * 3 / 2;
        u->backoff_ms = next > USERMSG_BACKOFF_MAX_MS ? USERMSG_BACKOFF_MAX_MS : next;
        long long span = b * JITTER_PERMILLE / 1000;
        ms = b - span + (long long)(rnd % 1001) * 2 * span / 1000;
    }
    if (ms > left_ms)
        ms = left_ms;
    return ms < 1 ? 1 : (long)ms;
}

struct release_job {
    struct app *app;
    char account[37];
    char owner[48];
};

static void release_run(void *arg)
{
    struct release_job *j = arg;
    struct rds_conn *c = rds_pool_get(j->app->redis, REDIS_WAIT_MS);
    int rc = c ? usermsg_lock_release(c, j->account, j->owner, clock_wall_ms()) : -ERR_REDIS;
    rds_pool_put(j->app->redis, c);
    if (rc != 0)
        log_warn("usermsg", "account %s: user-turn lock left to its TTL (Redis unavailable)",
                 j->account);
    free(j);
}

void usermsg_release(struct app *app, struct usermsg_turn *u)
{
    if (!u->held)
        return;
    u->held = false;
    struct release_job *j = xcalloc(1, sizeof(*j));
    j->app = app;
    memcpy(j->account, u->account, sizeof(j->account));
    memcpy(j->owner, u->owner, sizeof(j->owner));
    int rc = tpool_submit(app->workers, release_run, j);
    if (rc == -ERR_BUSY) /* the ring is full: the delayed jobs have their own room */
        rc = tpool_submit_after(app->workers, 0, release_run, j);
    if (rc == -ERR_CLOSED) {
        release_run(j); /* shutting down: the upstream loop has stopped, this is no I/O thread */
    } else if (rc != 0) {
        log_warn("usermsg", "account %s: user-turn lock left to its TTL (workers saturated)",
                 j->account);
        free(j);
    }
}

void usermsg_refusal(int rc, struct refusal *r)
{
    memset(r, 0, sizeof(*r));
    if (rc == -ERR_TIMEOUT) {
        r->status = 503;
        r->type = "queue_timeout";
        r->code = "QUEUE_TIMEOUT";
        snprintf(r->message, sizeof(r->message), "%s",
                 "User message queue wait timeout, please retry later");
        return;
    }
    r->status = 500;
    r->type = "queue_backend_error";
    r->code = "QUEUE_BACKEND_ERROR";
    snprintf(r->message, sizeof(r->message), "%s",
             "Queue service temporarily unavailable, please retry later");
}
