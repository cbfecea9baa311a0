/*
 * txn_waits.c - the transaction's waits that hold no thread: for an
 * account's OAuth token refresh (token_refresh.h) and for an account's
 * user turn (usermsg.h). Each hands the transaction over and gets it back
 * from the job that ends the wait.
 */
#include "compat.h"
#include "clock.h"
#include "accounts.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "log.h"
#include "rds.h"
#include "settings.h"
#include "reqctx.h"
#include "txn_int.h"
#include "policy.h"
#include "stream.h"
#include "token_refresh.h"
#include "tpool.h"

#include <stdatomic.h>

static void refresh_woken(void *arg);

/* Woken away from a worker (the token answer came on the upstream loop, or
 * at shutdown): the steps that follow may use Redis, so go to one. */
static bool refresh_woken_elsewhere(struct txn *t)
{
    if (tpool_on_worker(t->app->workers))
        return false;
    if (tpool_submit_after(t->app->workers, 0, refresh_woken, t) == 0)
        return true;
    txn_fail(t, RERR_UNAVAILABLE, "The relay is overloaded");
    txn_finish(t);
    return true;
}

/* Woken after waiting for the token refresh: take the newest snapshot and
 * the same account again unless its token has expired (then choose anew
 * without it: an expired token is not worth sending; a refused refresh has
 * marked it anyway). A token that merely expires soon is still good. */
static void refresh_woken(void *arg)
{
    struct txn *t = arg;
    if (refresh_woken_elsewhere(t))
        return;
    char id[37];
    log_set_reqid(reqctx_id(t->rq));
    snprintf(id, sizeof(id), "%s", t->acc->id);
    accounts_list_release(t->snap);
    t->snap = accounts_snapshot(t->app->accounts);
    t->on_io = false; /* a worker runs it now */
    long long now = clock_wall_ms();
    struct account *a = account_list_find(t->snap, id);
    t->acc = NULL;
    t->step = TS_SCHEDULE;
    if (a && t->test) { /* an account test: this account again, however its refresh went */
        t->acc = a;
        t->step = TS_PREPARE;
    } else if (a && !token_refresh_expired(a, now)) {
        sched_tried_drop_last(&t->tried);
        struct sched_request sreq = txn_sched_req(t, now);
        if (scheduler_skip(t->snap, a, &sreq, &t->tried) == SKIP_NONE) {
            sched_tried_add(&t->tried, a);
            t->acc = a;
            t->step = TS_PREPARE; /* still holding its user turn, if it took one */
        }
    }
    if (t->step == TS_SCHEDULE)
        usermsg_release(t->app, &t->turn); /* another account: its own turn */
    txn_run(t);
    log_set_reqid(NULL);
}

/* An OAuth token about to expire: wait (no thread held) for its refresh. */
bool txn_wait_for_token(struct txn *t)
{
    if (t->refresh_waited || !token_refresh_stale(t->acc, clock_wall_ms()))
        return false;
    t->refresh_waited = true;
    if (!t->st)
        txn_keep_connection(t);
    return token_refresh_demand(t->app, t->acc, refresh_woken, t) == 0;
}

/* A failed wait on the user-turn lock: 503 queue_timeout (with the
 * original's header) or 500 queue_backend_error, in the client's shape. */
static void refuse_turn(struct txn *t, int rc)
{
    struct refusal r;
    usermsg_refusal(rc, &r);
    if (rc == -ERR_TIMEOUT)
        reqctx_set_header(t->rq, "x-user-message-queue-error", "queue_timeout");
    else
        log_warn("relay", "account %s: user-turn lock unavailable (Redis)", t->acc->id);
    txn_refuse(t, &r);
}

/* A timer's wait for the turn is over (its job runs the step): count it out. */
static void turn_waited(struct txn *t)
{
    if (t->turn_waiting)
        atomic_fetch_sub(&t->app->stats.user_turns_waiting, 1);
    t->turn_waiting = false;
}

/* Hand the transaction to a job (a worker now, or a timer's): STEP_WAIT, or
 * STEP_DONE after an answer when the pool refuses. The stream keeps the
 * connection meanwhile (run_handler arms it). */
enum step_rc txn_hand_over(struct txn *t, long delay_ms)
{
    txn_keep_connection(t);
    t->turn_waiting = delay_ms > 0; /* its job runs the step again, which counts it out */
    if (t->turn_waiting)
        atomic_fetch_add(&t->app->stats.user_turns_waiting, 1);
    int rc = delay_ms ? tpool_submit_after(t->app->workers, delay_ms, txn_resume_job, t)
                      : tpool_submit(t->app->workers, txn_resume_job, t);
    if (rc != 0) {
        turn_waited(t);
        txn_fail(t, RERR_UNAVAILABLE, "The relay could not wait for the account's turn");
        return STEP_DONE;
    }
    return STEP_WAIT;
}

/* Woken by the timer: the client left (STEP_DONE), the account began
 * cooling meanwhile (STEP_GOTO: schedule anew, it is in `tried`), or try
 * again (STEP_NEXT). */
static enum step_rc turn_woken(struct txn *t)
{
    if (reqctx_client_gone(t->client_fd)) {
        txn_fail(t, RERR_UNAVAILABLE, "The client left while waiting for its turn");
        return STEP_DONE;
    }
    if (account_state(t->acc, clock_wall_ms(), NULL) != ACC_ACTIVE) {
        log_info("relay", "account %s began cooling while a user turn waited: scheduling again",
                 t->acc->id);
        t->step = TS_SCHEDULE;
        return STEP_GOTO;
    }
    return STEP_NEXT;
}

/* A user turn on an account with the user message queue waits for the
 * account's turn (usermsg.h), on a timer: no thread is held. Re-run by
 * that timer's job until the turn is ours, the wait times out or the
 * client hangs up. Nothing happens (and Redis hears nothing) otherwise. */
enum step_rc txn_step_user_turn(struct txn *t)
{
    turn_waited(t);
    bool queue_on = settings_on(t->app->settings, SETTING_UMQ_ENABLED);
    if (!usermsg_applies(queue_on, t->acc, t->op->endpoint, t->req.user_turn))
        return STEP_NEXT;
    if (t->on_io) /* the fast path ran this far without Redis: go on from a worker */
        return txn_hand_over(t, 0);
    bool woken = strcmp(t->turn.account, t->acc->id) == 0;
    enum step_rc wrc = woken ? turn_woken(t) : STEP_NEXT;
    if (wrc != STEP_NEXT)
        return wrc;
    char owner[48];
    long retry_ms = 0;
    snprintf(owner, sizeof(owner), "%s-%s", t->app->instance_id, reqctx_id(t->rq));
    int rc = usermsg_try(t->app, &t->turn, t->acc, owner, &retry_ms);
    if (rc != 0) {
        refuse_turn(t, rc);
        return STEP_DONE;
    }
    return retry_ms ? txn_hand_over(t, retry_ms) : STEP_NEXT;
}
