/*
 * marks.c - account state and flags learnt from answers (see marks.h).
 * The jobs hold a snapshot reference, so the account outlives them.
 */
#include "compat.h"
#include "account_record.h"
#include "account_state.h"
#include "accounts.h"
#include "app.h"
#include "errs.h"
#include "log.h"
#include "marks.h"
#include "rds.h"
#include "tpool.h"
#include "xmalloc.h"

#define REDIS_WAIT_MS 3000

struct mark_job {
    struct app *app;
    struct account_list *snap; /* keeps acc alive */
    const struct account *acc;
    enum account_state from;
    struct verdict v;
    long long now_ms;
};

static void mark_run(void *arg)
{
    struct mark_job *j = arg;
    struct rds_conn *c = rds_pool_get(j->app->redis, REDIS_WAIT_MS);
    int rc = c ? account_state_mark(j->app, c, j->acc, j->from, &j->v, j->now_ms) : -ERR_REDIS;
    rds_pool_put(j->app->redis, c);
    if (rc == -ERR_REDIS)
        log_warn("relay", "account %s: state %s kept in memory only (Redis unavailable)",
                 j->acc->id, account_state_name(j->v.mark));
    accounts_list_release(j->snap);
    free(j);
}

/* The account's new state applies here at once; Redis (and so the other
 * instances) gets it from a worker, never from the upstream loop. */
void marks_state(struct app *app, const struct account *acc, const struct verdict *v,
                 long long now_ms)
{
    long long until = 0;
    enum account_state from = account_state(acc, now_ms, &until);
    if (v->family != MF_ANY) { /* one model family only: the account goes on for the others */
        if (account_family_until(acc, v->family) >= v->until_ms)
            return;
        account_set_family_until(acc, v->family, v->until_ms);
    } else if (from == v->mark && (v->until_ms <= until || !until)) {
        return; /* another request marked it already */
    } else {
        account_set_state(acc, v->mark, v->until_ms, v->reason);
    }
    log_warn("relay", "account %s (%s) is now %s%s%s: %s", acc->id, acc->name,
             account_state_name(v->mark), v->family ? " for " : "", model_family_name(v->family),
             v->reason);
    struct mark_job *j = xcalloc(1, sizeof(*j));
    *j = (struct mark_job){app, accounts_snapshot(app->accounts), NULL, from, *v, now_ms};
    j->acc = account_list_find(j->snap, acc->id);
    if (!j->acc || tpool_submit(app->workers, mark_run, j) != 0) {
        accounts_list_release(j->snap);
        free(j);
    }
}

struct learn_job {
    struct app *app;
    struct account_list *snap; /* keeps acc alive */
    const struct account *acc;
    const char *field; /* a schema field name: static */
};

static void learn_run(void *arg)
{
    struct learn_job *j = arg;
    struct rds_conn *c = rds_pool_get(j->app->redis, REDIS_WAIT_MS);
    if (!c || account_state_learn(j->app, c, j->acc, j->field) != 0)
        log_warn("relay", "account %s: %s kept in memory only (Redis unavailable)", j->acc->id,
                 j->field);
    rds_pool_put(j->app->redis, c);
    accounts_list_release(j->snap);
    free(j);
}

/* The answer taught us something lasting about the account (a flag of its
 * schema): in memory at once, in its record from a worker. */
void marks_learn(struct app *app, const struct account *acc, const char *field)
{
    if (account_flag(acc, field))
        return;
    account_learn(acc, field);
    log_info("relay", "account %s (%s): %s", acc->id, acc->name, field);
    struct learn_job *j = xcalloc(1, sizeof(*j));
    *j = (struct learn_job){app, accounts_snapshot(app->accounts), NULL, field};
    j->acc = account_list_find(j->snap, acc->id);
    if (!j->acc || tpool_submit(app->workers, learn_run, j) != 0) {
        accounts_list_release(j->snap);
        free(j);
    }
}

struct text_job {
    struct app *app;
    const struct provider *prov;
    char id[37];
    const char *field; /* a schema field name: static */
    char *value;
};

static void text_run(void *arg)
{
    struct text_job *j = arg;
    const char *kv[] = {j->field, j->value};
    struct rds_conn *c = rds_pool_get(j->app->redis, REDIS_WAIT_MS);
    int rc = c ? account_record_patch(j->app, c, j->prov, j->id, kv, 2) : -ERR_REDIS;
    if (rc != 0 && rc != -ERR_NOTFOUND)
        log_warn("relay", "account %s: %s not written (%s)", j->id, j->field, err_str(rc));
    rds_pool_put(j->app->redis, c);
    free(j->value);
    free(j);
}

/* Learnt once: the patch reloads this instance's snapshot and, through
 * relay:notify, every other's; until then the request path goes without. */
void marks_learn_text(struct app *app, const struct account *acc, const char *field,
                      const char *value)
{
    if (!value || !*value || !account_learn_once(acc, field))
        return;
    log_info("relay", "account %s (%s): learnt %s=%s", acc->id, acc->name, field, value);
    struct text_job *j = xcalloc(1, sizeof(*j));
    j->app = app;
    j->prov = acc->prov;
    snprintf(j->id, sizeof(j->id), "%s", acc->id);
    j->field = field;
    j->value = xstrdup(value);
    if (tpool_submit(app->workers, text_run, j) != 0) {
        free(j->value);
        free(j);
    }
}
