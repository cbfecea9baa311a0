/*
 * token_refresh.c - OAuth token refresh for every OAuth kind (see
 * token_refresh.h; the kinds differ only by their table entry, oauth_kind.h).
 *
 * DESIGN: the maintenance thread picks due accounts from the snapshot, takes
 * each one's lock and re-reads expiresAt (another instance may have just
 * refreshed it), then hands the POST to httpc. The worker that gets the
 * answer stores the rotated tokens (sealed) or, on a refusal, re-reads the
 * record: only if the stored refresh token is still the one that failed is
 * the account marked unauthorized (a rotation race with another instance
 * must not kill a live account). Failures also go to
 * LOG_DIR/token-refresh-error.log. The lock is released compare-and-delete;
 * if this instance dies it ends by itself (PX).
 *
 * On demand: a request whose account's token is about to expire waits for
 * the refresh without holding a thread. Waiters are kept per account in
 * app->refresh; the first one starts the refresh on a worker (this
 * instance's, through the same lock); every waiter is woken once, when
 * this instance's refresh ended, when the snapshot shows a fresh token
 * (another instance refreshed it: a delayed job polls the snapshot, no
 * Redis), or after WAIT_MAX_MS.
 */
#include "compat.h"
#include "account_record.h"
#include "account_state.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "oauth_token.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "secret.h"
#include "store.h"
#include "store_keys.h"
#include "token_refresh.h"
#include "tpool.h"
#include "clock.h"
#include "xmalloc.h"

#include <fcntl.h>
#include <sodium.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define LOCK_MS 60000
#define ERROR_LOG "token-refresh-error.log"
#define WAIT_MAX_MS 35000 /* the token call's own timeout (30 s) and some */
#define POLL_MS 250

struct waiter {
    token_refresh_wake_fn wake;
    void *arg;
    struct waiter *next;
};

/* Requests waiting for one account's token. */
struct pending {
    char id[37];
    long long since_ms; /* monotonic */
    struct waiter *waiters;
    struct pending *next;
};

struct token_refresh {
    struct app *app;
    pthread_mutex_t mu; /* guards: head */
    struct pending *head;
};

struct refresh {
    struct app *app;
    const struct provider *prov; /* an OAuth provider (prov->oauth) */
    bool force;                  /* an admin asked: refresh even when not due */
    token_refresh_done_fn done;  /* the admin's reply, or NULL */
    void *done_arg;
    char id[37];
    char owner[33];
    char *old_refresh; /* the refresh token sent: wiped */
    char *body;        /* the token request: wiped */
    char *proxy;
    char *answer; /* a 2xx answer kept until it can be stored: wiped */
    size_t answer_len;
    int store_tries;
};

#define STORE_RETRIES 20 /* a second apart: within the lock's minute */

static long long now_ms(void)
{
    return (long long)time(NULL) * 1000;
}

static void refresh_free(struct refresh *r)
{
    secret_free(r->old_refresh);
    secret_free(r->body);
    secret_free(r->proxy);
    if (r->answer)
        sodium_memzero(r->answer, r->answer_len);
    free(r->answer);
    free(r);
}

static const char release_lua[] =
    "if redis.call('GET',KEYS[1])==ARGV[1] then return redis.call('DEL',KEYS[1]) end return 0";

static void lock_release(struct rds_conn *c, const struct refresh *r)
{
    char key[STORE_KEY_MAX];
    store_key(key, SK_TOKEN_REFRESH_LOCK, r->prov->oauth->name, r->id);
    redisReply *rep = rds_command(c, "EVAL %s 1 %s %s", release_lua, key, r->owner);
    if (rep)
        freeReplyObject(rep);
}

static void error_log(const struct app *app, const char *id, const char *msg)
{
    if (!app->cfg->log_dir[0])
        return;
    char path[1024], iso[32];
    snprintf(path, sizeof(path), "%s/%s", app->cfg->log_dir, ERROR_LOG);
    admin_iso_now(iso);
    char *line = xasprintf("%s account=%s error=%s\n", iso, id, msg);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0 || write(fd, line, strlen(line)) < 0) /* one write: lines never interleave */
        log_warn("refresh", "cannot write %s", path);
    if (fd >= 0)
        close(fd);
    free(line);
}

/* The refresh was refused: mark the account unless its refresh token changed meanwhile. */
static void refused(struct refresh *r, struct rds_conn *c, const char *err)
{
    const struct provider *p = r->prov;
    cJSON *rec = NULL;
    if (account_record_load(c, p, r->id, &rec) != 0)
        return;
    char *stored = account_unseal(r->app, p, rec, "refreshToken");
    bool same = stored && secret_equal(stored, r->old_refresh);
    secret_free(stored);
    cJSON_Delete(rec);
    if (!same) {
        log_info("refresh", "account %s: refresh refused but its token was rotated meanwhile",
                 r->id);
        return;
    }
    struct account_list *snap = accounts_snapshot(r->app->accounts);
    const struct account *a = account_list_find(snap, r->id);
    struct verdict v = {.action = VERDICT_FAIL, .mark = ACC_UNAUTHORIZED};
    snprintf(v.reason, sizeof(v.reason), "token refresh failed: %.130s", err);
    if (a && account_state_mark(r->app, c, a, account_state(a, now_ms(), NULL), &v, now_ms()) == 0)
        account_set_state(a, ACC_UNAUTHORIZED, 0, v.reason);
    accounts_list_release(snap);
}

static int store_new(struct refresh *r, struct rds_conn *c, const struct claude_call_result *res,
                     char *err, size_t len)
{
    const struct oauth_kind *k = r->prov->oauth;
    struct oauth_tokens t = {0};
    cJSON *rec = NULL;
    int rc = oauth_tokens_parse(k, res->body, res->len, now_ms(), &t, err, len);
    if (rc == 0 && account_record_load(c, r->prov, r->id, &rec) != 0)
        rc = -ERR_NOTFOUND; /* deleted meanwhile */
    if (rc == 0)
        rc = oauth_tokens_store(r->app, r->prov, rec, &t);
    if (rc == 0)
        rc = account_record_save(r->app, c, r->prov, rec);
    if (rc == 0 && k->stored)
        k->stored(r->app, rec);
    if (rc != 0 && !*err)
        snprintf(err, len, "could not store the new tokens (%s)", err_str(rc));
    cJSON_Delete(rec);
    oauth_tokens_release(&t);
    return rc;
}

static void wake_account(struct app *app, const char *id);

/* The token endpoint's answer, judged and stored; err gets what failed. */
static void refresh_judge(struct refresh *r, struct rds_conn *c,
                          const struct claude_call_result *res, char *err, size_t len)
{
    bool ok = res->result == 0 && res->status >= 200 && res->status <= 299;
    if (ok && store_new(r, c, res, err, len) == 0) {
        log_info("refresh", "account %s: token refreshed", r->id);
        return;
    }
    if (!ok)
        oauth_token_error(res, err, len);
    log_warn("refresh", "account %s: token refresh failed: %s", r->id, err);
    error_log(r->app, r->id, err);
    if (!ok && res->status >= 400 && res->status < 500)
        refused(r, c, err); /* transport errors and 5xx are retried next run */
}

static void refresh_done(void *arg, const struct claude_call_result *res);

/* A worker again, for the answer that could not be stored. */
static void store_retry_job(void *arg)
{
    struct refresh *r = arg;
    struct claude_call_result res = {0, 200, r->answer, r->answer_len, true};
    refresh_done(r, &res);
}

/* A 2xx answer carries rotated tokens: the upstream has already retired
 * the old refresh token, so dropping the answer would kill the account.
 * Keep it and try again (the lock is still ours for its minute). */
static bool keep_for_later(struct refresh *r, const struct claude_call_result *res)
{
    bool ok = res->result == 0 && res->status >= 200 && res->status <= 299;
    if (!ok || ++r->store_tries > STORE_RETRIES)
        return false;
    if (!r->answer) {
        r->answer = xstrndup(res->body, res->len);
        r->answer_len = res->len;
    }
    if (tpool_submit_after(r->app->workers, 1000, store_retry_job, r) == 0)
        return true;
    return false;
}

static void refresh_done(void *arg, const struct claude_call_result *res)
{
    struct refresh *r = arg;
    struct rds_conn *c = res->on_worker ? rds_pool_get(r->app->redis, 1000) : NULL;
    char err[300] = "";
    if (c) {
        refresh_judge(r, c, res, err, sizeof(err));
        lock_release(c, r);
        rds_pool_put(r->app->redis, c);
    } else if (keep_for_later(r, res)) {
        log_warn("refresh", "account %s: new tokens kept until Redis or a worker takes them",
                 r->id);
        return;
    } else { /* no Redis here: the lock ends by itself */
        log_warn("refresh", "account %s: refresh answer dropped (no worker or Redis)", r->id);
        snprintf(err, sizeof(err), "the answer could not be stored");
    }
    wake_account(r->app, r->id); /* after the save refreshed the snapshot */
    if (r->done)
        r->done(r->done_arg, *err ? (c ? -ERR_UPSTREAM : -ERR_REDIS) : 0, err);
    refresh_free(r);
}

/* The proactive lead, never shorter than the kind's on-demand one. */
static long long lead_ms(const struct app *app, const struct oauth_kind *k)
{
    long long l = app->cfg->token_refresh_lead_s * 1000;
    return l > k->demand_lead_ms ? l : k->demand_lead_ms;
}

static bool is_due(const struct app *app, const struct oauth_kind *k, const char *expires_at)
{
    long long at = expires_at ? strtoll(expires_at, NULL, 10) : 0;
    return at > 0 && at - now_ms() < lead_ms(app, k);
}

/* Take the lock and confirm from Redis that the token is still due. */
static bool lock_take(struct app *app, struct rds_conn *c, struct refresh *r)
{
    char key[STORE_KEY_MAX], rkey[STORE_KEY_MAX];
    store_key(key, SK_TOKEN_REFRESH_LOCK, r->prov->oauth->name, r->id);
    store_key(rkey, SK_ACCOUNT_RECORD, r->prov->record_prefix, r->id);
    redisReply *rep = rds_command(c, "SET %s %s NX PX %d", key, r->owner, LOCK_MS);
    bool mine = rep && rep->type == REDIS_REPLY_STATUS;
    if (rep)
        freeReplyObject(rep);
    if (!mine)
        return false; /* another instance refreshes it: we see its result via notify */
    rep = rds_command(c, "HGET %s expiresAt", rkey);
    bool due = rep && rep->type == REDIS_REPLY_STRING &&
               (r->force || is_due(app, r->prov->oauth, rep->str));
    if (rep)
        freeReplyObject(rep);
    if (!due)
        lock_release(c, r);
    return due;
}

static char *refresh_body(const struct relay_config *cfg, const struct oauth_kind *k,
                          const char *token)
{
    struct oauth_endpoints e;
    k->endpoints(cfg, &e);
    return oauth_refresh_body(k, &e, token);
}

/* 0 when this instance's refresh of a started (its answer wakes the
 * account's waiters), else -ERR_BUSY (another instance has it, or it is
 * not due any more) or -ERR_CLOSED. */
static int start_refresh(struct app *app, struct rds_conn *c, const struct account *a,
                         struct refresh *r)
{
    r->app = app;
    r->prov = a->prov;
    snprintf(r->id, sizeof(r->id), "%s", a->id);
    secret_random_hex(r->owner, 16);
    if (!lock_take(app, c, r)) {
        refresh_free(r);
        return -ERR_BUSY;
    }
    r->old_refresh = xstrdup(account_field(a, "refreshToken"));
    r->body = refresh_body(app->cfg, a->prov->oauth, r->old_refresh);
    r->proxy = a->proxy_url ? xstrdup(a->proxy_url) : NULL;
    log_info("refresh", "account %s (%s): refreshing its token", a->id, a->name);
    if (oauth_token_call(app, a->prov->oauth, r->body, r->proxy, refresh_done, r) != 0) {
        lock_release(c, r);
        refresh_free(r);
        return -ERR_CLOSED;
    }
    return 0;
}

static int start_one(struct app *app, struct rds_conn *c, const struct account *a)
{
    return start_refresh(app, c, a, xcalloc(1, sizeof(struct refresh)));
}

int token_refresh_now(struct app *app, struct rds_conn *c, const struct account *a,
                      token_refresh_done_fn done, void *arg)
{
    const char *rt = account_field(a, "refreshToken");
    if (!a->prov->oauth || !rt || !*rt)
        return -ERR_INVAL;
    struct refresh *r = xcalloc(1, sizeof(*r));
    r->force = true;
    r->done = done;
    r->done_arg = arg;
    return start_refresh(app, c, a, r);
}

void token_refresh_due(struct app *app, struct rds_conn *c)
{
    struct account_list *l = accounts_snapshot(app->accounts);
    for (size_t i = 0; i < l->n; i++) {
        const struct account *a = l->items[i];
        const char *rt = account_field(a, "refreshToken");
        enum account_state st = account_state(a, now_ms(), NULL);
        if (!a->prov->oauth || !a->active || !rt || !*rt || st == ACC_UNAUTHORIZED ||
            st == ACC_BLOCKED || !is_due(app, a->prov->oauth, account_field(a, "expiresAt")))
            continue;
        (void)start_one(app, c, a); /* busy: another instance has it */
    }
    accounts_list_release(l);
}

/* ---- on demand ---- */

bool token_refresh_stale(const struct account *a, long long now)
{
    const char *rt = account_field(a, "refreshToken");
    const char *at = account_field(a, "expiresAt");
    long long exp = at ? strtoll(at, NULL, 10) : 0;
    return a->prov->oauth && rt && *rt && exp > 0 && exp - now < a->prov->oauth->demand_lead_ms;
}

bool token_refresh_expired(const struct account *a, long long now)
{
    const char *at = account_field(a, "expiresAt");
    long long exp = at ? strtoll(at, NULL, 10) : 0;
    return a->prov->oauth && exp > 0 && exp <= now;
}

struct token_refresh *token_refresh_new(struct app *app)
{
    struct token_refresh *tr = xcalloc(1, sizeof(*tr));
    tr->app = app;
    pthread_mutex_init(&tr->mu, NULL);
    return tr;
}

/* Unlink the account's waiters (NULL when none wait). */
static struct waiter *take_waiters(struct token_refresh *tr, const char *id)
{
    struct waiter *w = NULL;
    pthread_mutex_lock(&tr->mu);
    for (struct pending **pp = &tr->head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) != 0)
            continue;
        struct pending *p = *pp;
        *pp = p->next;
        w = p->waiters;
        free(p);
        break;
    }
    pthread_mutex_unlock(&tr->mu);
    return w;
}

static void wake_list(struct waiter *w)
{
    while (w) {
        struct waiter *next = w->next;
        w->wake(w->arg);
        free(w);
        w = next;
    }
}

static void wake_account(struct app *app, const char *id)
{
    if (app->refresh)
        wake_list(take_waiters(app->refresh, id));
}

void token_refresh_free(struct token_refresh *tr)
{
    if (!tr)
        return;
    while (tr->head) {
        char id[37];
        snprintf(id, sizeof(id), "%s", tr->head->id);
        wake_list(take_waiters(tr, id));
    }
    pthread_mutex_destroy(&tr->mu);
    free(tr);
}

struct poll {
    struct app *app;
    char id[37];
    long long since_ms;
};

/* Still waiting for another instance's refresh: is the token fresh in the
 * snapshot now (the notify listener reloaded it), or has it taken too long? */
static void poll_job(void *arg)
{
    struct poll *p = arg;
    struct account_list *l = accounts_snapshot(p->app->accounts);
    const struct account *a = account_list_find(l, p->id);
    bool over =
        !a || !token_refresh_stale(a, now_ms()) || clock_mono_ms() - p->since_ms > WAIT_MAX_MS;
    accounts_list_release(l);
    if (!over && tpool_submit_after(p->app->workers, POLL_MS, poll_job, p) == 0)
        return;
    wake_account(p->app, p->id);
    free(p);
}

/* Worker: the first waiter's job. Start the refresh here, or watch another's. */
static void demand_job(void *arg)
{
    struct poll *p = arg;
    struct rds_conn *c = rds_pool_get(p->app->redis, 1000);
    struct account_list *l = accounts_snapshot(p->app->accounts);
    const struct account *a = account_list_find(l, p->id);
    int rc = a && c ? start_one(p->app, c, a) : -ERR_NOTFOUND;
    accounts_list_release(l);
    if (c)
        rds_pool_put(p->app->redis, c);
    if (rc == 0) { /* its answer wakes them */
        free(p);
        return;
    }
    if (rc == -ERR_BUSY)
        return poll_job(p);
    wake_account(p->app, p->id);
    free(p);
}

int token_refresh_demand(struct app *app, const struct account *a, token_refresh_wake_fn wake,
                         void *arg)
{
    struct token_refresh *tr = app->refresh;
    struct waiter *w = xcalloc(1, sizeof(*w));
    struct poll *job = xcalloc(1, sizeof(*job));
    w->wake = wake;
    w->arg = arg;
    job->app = app;
    /* Once the waiter is in, it may be woken - and a freed with the caller's
     * snapshot - by another thread at any time: copy what is needed first. */
    snprintf(job->id, sizeof(job->id), "%s", a->id);
    char name[sizeof(a->name)];
    snprintf(name, sizeof(name), "%s", a->name);
    pthread_mutex_lock(&tr->mu);
    struct pending *p = tr->head;
    while (p && strcmp(p->id, job->id) != 0)
        p = p->next;
    bool first = !p;
    if (first) {
        p = xcalloc(1, sizeof(*p));
        snprintf(p->id, sizeof(p->id), "%s", job->id);
        p->since_ms = job->since_ms = clock_mono_ms();
        p->next = tr->head;
        tr->head = p;
    }
    w->next = p->waiters;
    p->waiters = w;
    pthread_mutex_unlock(&tr->mu);
    if (!first) {
        free(job);
        return 0;
    }
    log_info("refresh", "account %s (%s): token expires within a minute; requests wait for it",
             job->id, name);
    if (tpool_submit(app->workers, demand_job, job) == 0)
        return 0;
    /* Nobody can run it: undo - unless a wake took the waiters meanwhile,
     * in which case ours has run (or runs now) and the wait is over. */
    struct waiter *all = take_waiters(tr, job->id), **wp = &all;
    free(job);
    while (*wp && *wp != w)
        wp = &(*wp)->next;
    if (!*wp) {
        wake_list(all);
        return 0;
    }
    *wp = w->next;
    free(w);
    wake_list(all); /* others that joined meanwhile */
    return -ERR_BUSY;
}
