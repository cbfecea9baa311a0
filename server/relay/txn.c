/*
 * txn.c - the request transaction (see txn.h for the steps and threads).
 *
 * DESIGN: exactly one party holds a transaction at a time - the worker
 * running its steps, then the upstream loop (stream hooks) while an attempt
 * runs, then a worker again after a retry - so its fields need no lock. A
 * step that returns WAIT has handed it over and must not touch it again.
 * The reqctx stays alive through the transaction's reference; the client's
 * connection may be gone, which the stream reports as -ERR_CLOSED.
 */
#include "compat.h"
#include "clock.h"
#include "account_limits.h"
#include "account_state.h"
#include "accounts.h"
#include "app.h"
#include "clients.h"
#include "config.h"
#include "errs.h"
#include "format.h"
#include "admission.h"
#include "key_cache.h"
#include "keys.h"
#include "leases.h"
#include "log.h"
#include "marks.h"
#include "notify.h"
#include "policy.h"
#include "pricing.h"
#include "pricing_sync.h"
#include "queue.h"
#include "rds.h"
#include "settings.h"
#include "reqctx.h"
#include "secret.h"
#include "scheduler.h"
#include "session_hash.h"
#include "sticky.h"
#include "sticky_cache.h"
#include "stream.h"
#include "tpool.h"
#include "token_refresh.h"
#include "txn.h"
#include "txn_int.h"
#include "usage_stats.h"
#include "usage_writer.h"
#include "usermsg.h"
#include "xmalloc.h"

#include <strings.h>
#include <time.h>

/* ---- replies ---- */

/* An error in the client's shape: a plain reply before the stream exists,
 * the stream's reply after. */
void txn_fail(struct txn *t, enum relay_err e, const char *msg)
{
    if (t->test) {
        txn_test_fail(t, e, msg);
        return;
    }
    if (!t->st) {
        t->op->fmt->reply_error(t->rq, e, msg);
        return;
    }
    struct stream_reply rep = {0};
    t->op->fmt->render_error(e, msg, &rep);
    stream_reply(t->st, &rep);
}

static enum relay_err transport_error(int result)
{
    if (result == -ERR_TIMEOUT)
        return RERR_UPSTREAM_TIMEOUT;
    if (result == -ERR_CLOSED)
        return RERR_UNAVAILABLE;
    return result == -ERR_UPSTREAM ? RERR_UPSTREAM_CONNECT : RERR_UPSTREAM_BROKEN;
}

/* The answer for a failed attempt: the upstream's error in the client's
 * shape and status, or the relay's error for a transport failure. */
static void render_failure(struct txn *t, const struct upstream_answer *ans,
                           struct stream_reply *rep)
{
    if (ans->status)
        t->op->fmt->render_upstream(ans, rep);
    else
        t->op->fmt->render_error(transport_error(ans->result), NULL, rep);
}

static void keep_last(struct txn *t, const struct upstream_answer *ans)
{
    struct last_answer *l = &t->last;
    free(l->body);
    l->status = ans->status;
    l->result = ans->result;
    l->body = xmalloc(ans->body_len + 1);
    memcpy(l->body, ans->body, ans->body_len);
    l->body[ans->body_len] = '\0';
    l->len = ans->body_len;
    const char *sr = upstream_header(ans, "x-should-retry");
    const char *ra = upstream_header(ans, "retry-after");
    snprintf(l->should_retry, sizeof(l->should_retry), "%s", sr ? sr : "");
    snprintf(l->retry_after, sizeof(l->retry_after), "%s", ra ? ra : "");
}

/* No account left after a retry: answer with the last failure. */
static void reply_last(struct txn *t)
{
    const struct last_answer *l = &t->last;
    struct httpc_header h[2];
    size_t n = 0;
    if (l->should_retry[0])
        h[n++] = (struct httpc_header){"x-should-retry", l->should_retry};
    if (l->retry_after[0])
        h[n++] = (struct httpc_header){"retry-after", l->retry_after};
    struct upstream_answer ans = {.status = l->status,
                                  .result = l->result,
                                  .headers = h,
                                  .nheaders = n,
                                  .body = l->body ? l->body : "",
                                  .body_len = l->len};
    struct stream_reply rep = {0};
    render_failure(t, &ans, &rep);
    stream_reply(t->st, &rep);
}

/* ---- leases and notes ---- */

static void lease_release(struct txn *t)
{
    if (t->leased) {
        account_lease_release(t->app->accounts, t->acc);
        t->leased = false;
    }
}

static void attempt_begin(struct txn *t)
{
    struct attempt *a = &t->att[t->natt < ATTEMPTS_CAP ? t->natt : ATTEMPTS_CAP - 1];
    snprintf(a->account, sizeof(a->account), "%.8s", t->acc->id);
    a->status = -1;
    t->att_t0 = clock_mono_ms();
    t->natt++;
}

static void attempt_end(struct txn *t, int status)
{
    struct attempt *a = &t->att[(t->natt <= ATTEMPTS_CAP ? t->natt : ATTEMPTS_CAP) - 1];
    a->status = status;
    a->ms = clock_mono_ms() - t->att_t0;
}

/* "acc1:429:12ms,acc2:200:80ms" for the access line. */
static void attempts_text(const struct txn *t, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < t->natt && i < ATTEMPTS_CAP && off < len; i++) {
        const struct attempt *a = &t->att[i];
        int n = snprintf(out + off, len - off, "%s%s:%d:%ldms", i ? "," : "", a->account,
                         a->status < 0 ? 0 : a->status, a->ms);
        off += n > 0 ? (size_t)n : 0;
    }
}

/* ---- finish: the one exit ---- */

/* The model to bill when the answer names none: the one sent upstream. */
static const char *billed_model(const struct txn *t)
{
    return t->up_model[0] ? t->up_model : t->req.model;
}

/* The request's cost in micro-USD from the shared price table; a model the
 * table lacks is priced at the fallback and flagged, never free. */
static void cost_of(struct txn *t, struct accounting *a)
{
    struct pricing *table = pricing_sync_snapshot(t->app->pricing);
    struct pricing_cost c;
    const char *model = a->u.model[0] ? a->u.model : billed_model(t);
    if (pricing_cost(table, model, &a->u, &c) == 0) {
        a->cost = c.micro;
        a->unpriced = c.unpriced;
    }
    pricing_release(table);
    reqctx_note_cost(t->rq, a->cost, a->unpriced);
}

/* What the statistics and the request log want beside the usage. */
static void note_request(const struct txn *t, struct accounting *a)
{
    a->end_ms = clock_wall_ms();
    a->duration_ms = (long)(clock_mono_ms() - t->t0_ms);
    a->ttft_ms = t->first_ms ? (long)(t->first_ms - t->t0_ms) : -1;
    a->attempts = t->natt;
    a->status = t->natt ? t->att[(t->natt <= ATTEMPTS_CAP ? t->natt : ATTEMPTS_CAP) - 1].status : 0;
    a->status = a->status < 0 ? 0 : a->status;
    a->stream = t->req.stream;
    if (!a->u.model[0])
        snprintf(a->u.model, sizeof(a->u.model), "%s", billed_model(t));
}

/* The statistics and the request log (in memory, flushed in batches): a
 * request with usage, or one that reached an upstream and failed. */
static void stats_add(const struct txn *t, struct accounting *a, bool usage)
{
    if (!usage && !(t->op->record_usage && t->natt))
        return;
    snprintf(a->key_id, sizeof(a->key_id), "%s", t->key->id);
    snprintf(a->account_id, sizeof(a->account_id), "%s", t->acc ? t->acc->id : "");
    snprintf(a->request_id, sizeof(a->request_id), "%s-%s", t->app->instance_id, reqctx_id(t->rq));
    a->u.seen = usage;
    note_request(t, a);
    usage_stats_add(t->app->usage_stats, t->app, a);
}

/* Usage, cost and the slot, settled once by the group-committed accounting
 * script (no Redis here: finish may run on the upstream loop). */
static void account_for(struct txn *t)
{
    bool usage = t->op->record_usage && t->usage.seen && t->acc;
    struct accounting a = {.u = t->usage, .window = t->key->pol.window_ms > 0};
    if (!usage && !t->lease && !t->acc_lease) {
        stats_add(t, &a, false);
        return;
    }
    snprintf(a.key_id, sizeof(a.key_id), "%s", t->key->id);
    snprintf(a.account_id, sizeof(a.account_id), "%s", t->acc ? t->acc->id : "");
    a.used_ms = t->acc && usage ? account_last_used(t->acc) : 0;
    /* At most once a second per account (the next reload loses nothing); only
     * a counted request writes it, so only one may claim the turn. */
    if (a.used_ms && !account_last_used_due(t->acc, a.used_ms, ACCOUNT_LAST_USED_SHARE_MS))
        a.used_ms = 0;
    snprintf(a.request_id, sizeof(a.request_id), "%s-%s", t->app->instance_id, reqctx_id(t->rq));
    snprintf(a.lease, sizeof(a.lease), "%s", t->lease ? t->lease_member : "");
    snprintf(a.acc_lease, sizeof(a.acc_lease), "%s", t->acc_lease ? t->acc_member : "");
    a.u.seen = usage;
    if (usage)
        cost_of(t, &a);
    if (usage && t->acc->daily_quota_micro > 0) {
        a.quota_micro = t->acc->daily_quota_micro;
        account_quota_day(clock_wall_ms(), t->app->tz_offset_min, t->acc->quota_reset_min,
                          a.quota_day, &a.quota_until_ms);
    }
    struct admit_request periods;
    admission_periods(t->key, t->app->tz_offset_min, clock_wall_ms(), &periods);
    memcpy(a.day, periods.day, sizeof(a.day));
    memcpy(a.week, periods.week, sizeof(a.week));
    a.weekly = policy_claude_family(a.u.model[0] ? a.u.model : billed_model(t));
    stats_add(t, &a, usage);
    usage_writer_push(t->app->usage_writer, &a);
    leases_remove(t->app->leases, t->lease);
    leases_remove(t->app->leases, t->acc_lease);
    t->lease = NULL;
    t->acc_lease = NULL;
}

void txn_finish(struct txn *t)
{
    char att[256];
    lease_release(t);
    usermsg_release(t->app, &t->turn); /* when no answer gave it back */
    if (t->key)
        account_for(t);
    attempts_text(t, att, sizeof(att));
    reqctx_note_attempts(t->rq, att);
    reqctx_note_tokens(t->rq, usage_total(&t->usage));
    upstream_req_release(&t->ureq);
    txn_convert_release(t);
    if (t->st)
        stream_release(t->st);
    accounts_list_release(t->snap);
    keys_unref(t->key);
    free(t->last.body);
    txn_test_free(t->test);
    reqctx_unref(t->rq);
    atomic_fetch_sub(&t->app->stats.transactions, 1);
    free(t);
}

/* ---- steps (worker) ---- */

static const struct stream_hooks txn_hooks;

void txn_keep_connection(struct txn *t)
{
    if (!t->st)
        t->st = stream_new(t->rq, &txn_hooks, t);
}
void txn_run(struct txn *t);
void txn_resume_job(void *arg);

/* x-api-key, Authorization: Bearer, Google's x-goog-api-key; on Gemini
 * paths also ?key= (the Google SDKs may send it so; the path is logged,
 * never the query). */
static const char *client_key(const struct reqctx *rq)
{
    const char *k = reqctx_header(rq, "x-api-key");
    if (k && *k)
        return k;
    const char *auth = reqctx_header(rq, "authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7])
        return auth + 7;
    k = reqctx_header(rq, "x-goog-api-key");
    if (k && *k)
        return k;
    k = strncasecmp(reqctx_path(rq), "/gemini/", 8) == 0 ? reqctx_query(rq, "key") : NULL;
    return k && *k ? k : NULL;
}

/* A key seen recently is trusted for a while (key_cache.h). */
static long long cache_ttl(const struct app *app)
{
    return notify_connected(app->notify) ? KEY_CACHE_TTL_MS : KEY_CACHE_TTL_DOWN_MS;
}

static int fetch_key(struct app *app, const char *plain, struct api_key **key)
{
    char hash[SECRET_HASH_HEX + 1];
    if (!keys_hash(app, plain, hash))
        return -ERR_NOTFOUND;
    if ((*key = key_cache_get(app->keys, hash, cache_ttl(app))))
        return 0;
    struct rds_conn *c = rds_pool_get(app->redis, REDIS_WAIT_MS);
    int rc = c ? keys_lookup(app, c, plain, key) : -ERR_REDIS;
    rds_pool_put(app->redis, c);
    if (rc == 0)
        key_cache_put(app->keys, hash, *key);
    return rc;
}

/* The key named by the request (a new reference): 0, or the error to
 * answer with. */
static int lookup_key(struct reqctx *rq, struct api_key **key, enum relay_err *e, const char **msg)
{
    struct app *app = reqctx_app(rq);
    const char *plain = client_key(rq);
    *msg = NULL;
    if (!plain) {
        *e = RERR_NO_KEY;
        return -ERR_DENIED;
    }
    int rc = fetch_key(app, plain, key);
    if (rc == -ERR_NOTFOUND)
        *e = RERR_BAD_KEY;
    else if (rc != 0)
        *e = RERR_UNAVAILABLE, *msg = "The relay's store is unavailable";
    else
        reqctx_note_key(rq, (*key)->id);
    return rc;
}

/* May the key be used now: 0, or the error to answer with. */
static int admit_key(const struct api_key *key, enum relay_err *e)
{
    enum key_check kc = keys_admit(key, clock_wall_ms());
    if (kc == KEY_OK)
        return 0;
    *e = kc == KEY_EXPIRED ? RERR_KEY_EXPIRED : RERR_KEY_DISABLED;
    return -ERR_DENIED;
}

static enum step_rc step_intake(struct txn *t)
{
    char msg[160];
    enum relay_err e = RERR_BAD_REQUEST;
    const struct client_format *f = t->op->fmt;
    if (f->validate(t->rq, t->op->endpoint, &t->req, &e, msg, sizeof(msg)) != 0) {
        txn_fail(t, e, msg);
        return STEP_DONE;
    }
    if (!t->req.family) { /* the format's own pool, unless validation chose one */
        t->req.family = f->family;
        t->req.service = f->service;
        t->req.service_name = f->service_name;
    }
    reqctx_note_model(t->rq, t->req.model);
    return txn_convert_request(t) ? STEP_NEXT : STEP_DONE;
}

static enum step_rc step_authenticate(struct txn *t)
{
    enum relay_err e;
    const char *msg;
    if (lookup_key(t->rq, &t->key, &e, &msg) != 0) {
        txn_fail(t, e, msg);
        return STEP_DONE;
    }
    return STEP_NEXT;
}

/* The stateful limits, in one script call when the key has any. */
/* A refusal in the client's shape: a plain reply before the stream
 * exists, the stream's reply after (a queued request has one). */
void txn_refuse(struct txn *t, struct refusal *r)
{
    if (!t->st) {
        t->op->fmt->reply_refusal(t->rq, r);
        return;
    }
    struct stream_reply rep = {0};
    t->op->fmt->render_refusal(r, &rep);
    stream_reply(t->st, &rep);
}

/* The queue's verdict, on a worker (see queue.h): go on, or refuse. */
static void queue_done(void *owner, enum queue_outcome o, const struct admit_result *res,
                       const struct queue_info *info)
{
    struct txn *t = owner;
    struct refusal r;
    log_set_reqid(reqctx_id(t->rq));
    if (o == QUEUE_ADMITTED) {
        t->lease = leases_add(t->app->leases, t->key->id, t->lease_member);
        t->step = TS_SCHEDULE;
        txn_run(t);
    } else if (o == QUEUE_REFUSED) {
        policy_refusal(res, t->app->tz_offset_min, &r);
        txn_refuse(t, &r);
        txn_finish(t);
    } else if (o == QUEUE_TIMEOUT) {
        policy_queue_refusal(o, t->key, info, &r);
        txn_refuse(t, &r);
        txn_finish(t);
    } else { /* cancelled (nobody to answer) or the store is away */
        txn_fail(t, RERR_UNAVAILABLE, "The relay could not wait for a slot");
        txn_finish(t);
    }
    log_set_reqid(NULL);
}

/* Over the concurrency limit with the queue on: wait for a slot, holding
 * no thread. STEP_WAIT when queued; otherwise the refusal was sent. */
static enum step_rc wait_in_queue(struct txn *t, const struct admit_request *ar)
{
    struct queue_info info;
    t->st = stream_new(t->rq, &txn_hooks, t); /* keeps the connection until we answer */
    int o = queue_enter(t->app->queue, t->key, ar, t->client_fd, queue_done, t, &info);
    if (o == 0)
        return STEP_WAIT;
    struct refusal r;
    if (o == QUEUE_ERROR) {
        txn_fail(t, RERR_UNAVAILABLE, "The relay's store is unavailable");
        return STEP_DONE;
    }
    policy_queue_refusal((enum queue_outcome)o, t->key, &info, &r);
    txn_refuse(t, &r);
    return STEP_DONE;
}

/* The stateful limits, in one script call when the key has any. 0,
 * -ERR_DENIED with *r, -ERR_BUSY (over the concurrency limit, the queue
 * may take it: *ar and *res filled), -ERR_REDIS. */
static int admit_limits(struct txn *t, struct admit_request *ar, struct refusal *r)
{
    *ar = (struct admit_request){.now_ms = clock_wall_ms(),
                                 .lease_ms = t->app->cfg->concurrency_lease_s * 1000,
                                 .claude_family = policy_claude_family(t->req.model)};
    snprintf(t->lease_member, sizeof(t->lease_member), "%s-%s", t->app->instance_id,
             reqctx_id(t->rq));
    ar->lease = t->lease_member;
    admission_periods(t->key, t->app->tz_offset_min, ar->now_ms, ar);
    struct admit_result res;
    struct rds_conn *c = rds_pool_get(t->app->redis, REDIS_WAIT_MS);
    int rc = c ? admission_run(t->app, c, t->key, ar, &res) : -ERR_REDIS;
    if (rc == 0 && res.activated_ms) { /* its period starts now: every instance re-reads it */
        char what[64];
        snprintf(what, sizeof(what), "key %s", t->key->id);
        key_cache_forget(t->app->keys, t->key->id);
        notify_publish(t->app, c, what);
    }
    rds_pool_put(t->app->redis, c);
    if (rc != 0)
        return rc;
    if (res.leased)
        t->lease = leases_add(t->app->leases, t->key->id, t->lease_member);
    if (res.code == ADMIT_OK)
        return 0;
    if (res.code == ADMIT_CONCURRENCY && settings_on(t->app->settings, SETTING_QUEUE_ENABLED))
        return -ERR_BUSY;
    policy_refusal(&res, t->app->tz_offset_min, r);
    return -ERR_DENIED;
}

/* Is the key usable now and does it allow this request: disabled or
 * expired keys, the key's rules, then its limits (crs-relay-spec 3). */
static enum step_rc step_admit(struct txn *t)
{
    enum relay_err e;
    struct refusal r;
    struct admit_request ar;
    if (admit_key(t->key, &e) != 0) {
        txn_fail(t, e, NULL);
        return STEP_DONE;
    }
    int rc = policy_check(t->rq, t->op, t->key, &t->req, &r);
    /* Not billed (count_tokens, Code Assist's countTokens and setup calls):
     * no stateful limits either - Gemini CLI makes five setup calls a prompt. */
    bool counting = !t->op->record_usage;
    if (rc == 0 && !counting && key_policy_admission_needed(&t->key->pol))
        rc = admit_limits(t, &ar, &r);
    if (rc == -ERR_BUSY)
        return wait_in_queue(t, &ar);
    if (rc == -ERR_DENIED) {
        txn_refuse(t, &r);
        return STEP_DONE;
    }
    if (rc != 0) {
        txn_fail(t, RERR_UNAVAILABLE, "The relay's store is unavailable");
        return STEP_DONE;
    }
    return STEP_NEXT;
}

/* The key's dedicated account or group for the request's family: Claude
 * an OAuth binding first, then a Console one (crs-relay-spec 4.3); OpenAI
 * its openaiAccountId; Gemini its geminiAccountId. */
static const char *bound_account(const struct key_policy *p, const char *family)
{
    if (strcmp(family, "openai") == 0)
        return p->openai_account;
    if (strcmp(family, "gemini") == 0)
        return key_policy_gemini_bound(p);
    return p->claude_account[0] ? p->claude_account : p->console_account;
}

struct sched_request txn_sched_req(const struct txn *t, long long now_ms)
{
    return (struct sched_request){t->req.family,
                                  t->req.model,
                                  now_ms,
                                  bound_account(&t->key->pol, t->req.family),
                                  t->sticky[0] ? t->sticky : NULL,
                                  t->endpoint};
}

/* A failover leaves an account with a concurrency limit: its slot goes
 * back now (one ZREM on a worker), not when the request ends. */
static void account_slot_return(struct txn *t)
{
    if (!t->acc_lease)
        return;
    struct rds_conn *c = rds_pool_get(t->app->redis, REDIS_WAIT_MS);
    if (!c || admission_release(c, t->acc_lease_id, t->acc_member) != 0)
        log_warn("relay", "account %s: slot not returned (Redis unavailable); its lease ends",
                 t->acc_lease_id);
    rds_pool_put(t->app->redis, c);
    leases_remove(t->app->leases, t->acc_lease);
    t->acc_lease = NULL;
}

/* Nothing to schedule: the last upstream failure, else why none - a model
 * no account of the key's serves is the client's to fix (404 naming it);
 * anything else is "try again" (503). */
static void no_account(struct txn *t, const struct sched_request *sreq)
{
    char msg[160];
    if (t->natt) {
        reply_last(t);
    } else if (scheduler_model_unsupported(t->snap, sreq)) {
        snprintf(msg, sizeof(msg), "No available account supports the requested model: %s",
                 t->req.model);
        txn_fail(t, RERR_MODEL_UNSUPPORTED, msg);
    } else if (t->full || scheduler_any_full(t->snap, sreq, &t->tried)) {
        txn_fail(t, RERR_NO_ACCOUNT, ACCOUNTS_FULL_MSG);
    } else {
        txn_fail(t, RERR_NO_ACCOUNT, NULL);
    }
}

static enum step_rc step_schedule(struct txn *t)
{
    if (t->test) { /* pinned: its account is gone (or its token expired meanwhile) */
        txn_fail(t, RERR_NO_ACCOUNT, "The account cannot be used now");
        return STEP_DONE;
    }
    if (!t->snap)
        t->snap = accounts_snapshot(t->app->accounts);
    if (!txn_sticky_lookup(t)) /* the fast path with a binding not cached: Redis, on a worker */
        return txn_hand_over(t, 0);
    account_slot_return(t);
    struct sched_request sreq = txn_sched_req(t, clock_wall_ms());
    struct account *a =
        t->tried.n < SCHED_TRIED_MAX ? scheduler_pick(t->snap, &sreq, &t->tried) : NULL;
    if (!a) {
        no_account(t, &sreq);
        return STEP_DONE;
    }
    if (t->on_io && txn_sticky_bind_needed(t, a)) /* a (re)binding is a Redis write */
        return txn_hand_over(t, 0);
    account_touch(a, sreq.now_ms);
    txn_sticky_bind(t, a);
    t->acc = a;
    sched_tried_add(&t->tried, a);
    reqctx_note_account(t->rq, a->id);
    return STEP_NEXT;
}

/* prepare answered by itself: no upstream call, no attempt. */
static enum step_rc answer_locally(struct txn *t)
{
    char *body = t->ureq.local_body ? t->ureq.local_body : xstrdup("{}");
    size_t len = strlen(body);
    t->ureq.local_body = NULL;
    if (!t->st) {
        reqctx_reply(t->rq, t->ureq.local_status, "application/json", body, len);
        return STEP_DONE;
    }
    struct stream_reply rep = {t->ureq.local_status, body, len, "application/json", NULL, NULL};
    stream_reply(t->st, &rep);
    return STEP_DONE;
}

static enum step_rc step_prepare(struct txn *t)
{
    if (txn_wait_for_token(t))
        return STEP_WAIT;
    size_t len = 0;
    const char *body = txn_body(t, &len);
    struct upstream_call call = {t->rq, t->endpoint, body, len, t->req.model, t->conv != NULL};
    const struct provider *p = t->acc->prov;
    const char *to = p->map_model && t->req.model[0] ? p->map_model(t->acc, t->req.model) : NULL;
    snprintf(t->up_model, sizeof(t->up_model), "%s", to ? to : "");
    upstream_req_release(&t->ureq);
    if (t->acc->prov->prepare(t->acc, &call, &t->ureq) != 0) {
        log_warn("relay", "account %s: cannot build the upstream request", t->acc->id);
        txn_fail(t, RERR_INTERNAL, NULL);
        return STEP_DONE;
    }
    return t->ureq.local_status ? answer_locally(t) : STEP_NEXT;
}

void txn_resume_job(void *arg);

/* maxConcurrentTasks across instances: take a slot in concurrency:{id}
 * (one script call, on a worker: an inline run hands over first). A full
 * account is skipped like a tried one - no attempt, no mark - and the
 * schedule step picks the next. Without Redis only this instance's count
 * (the scheduler's) limits it. */
static enum step_rc account_slot_take(struct txn *t)
{
    if (!tpool_on_worker(t->app->workers)) {
        if (!t->st) /* keeps the connection until we answer (as the wait queue does) */
            t->st = stream_new(t->rq, &txn_hooks, t);
        if (tpool_submit(t->app->workers, txn_resume_job, t) == 0)
            return STEP_WAIT; /* step_attempt runs again there */
        txn_fail(t, RERR_UNAVAILABLE, "The relay is overloaded");
        return STEP_DONE;
    }
    long long now = clock_wall_ms(), end = now + t->app->cfg->concurrency_lease_s * 1000;
    bool taken = false;
    snprintf(t->acc_member, sizeof(t->acc_member), "%s-%s", t->app->instance_id, reqctx_id(t->rq));
    struct rds_conn *c = rds_pool_get(t->app->redis, REDIS_WAIT_MS);
    int rc =
        c ? account_limits_take(c, t->acc->id, t->acc_member, t->acc->max_tasks, now, end, &taken)
          : -ERR_REDIS;
    rds_pool_put(t->app->redis, c);
    if (rc != 0) {
        log_warn("relay", "account %s: no shared slot (Redis unavailable), local limit only",
                 t->acc->id);
        return STEP_NEXT;
    }
    if (!taken) {
        log_info("relay", "account %s is at its concurrency limit (%d): trying another", t->acc->id,
                 t->acc->max_tasks);
        t->full++;
        usermsg_release(t->app, &t->turn); /* its turn too: another account is chosen */
        t->step = TS_SCHEDULE;
        return STEP_GOTO;
    }
    t->acc_lease = leases_add(t->app->leases, t->acc->id, t->acc_member);
    snprintf(t->acc_lease_id, sizeof(t->acc_lease_id), "%s", t->acc->id);
    return STEP_NEXT;
}

static enum step_rc step_attempt(struct txn *t)
{
    if (t->acc->max_tasks > 0 && !t->test) { /* a test takes no shared slot */
        enum step_rc rc = account_slot_take(t);
        if (rc != STEP_NEXT)
            return rc;
    }
    size_t len = 0;
    const char *body = txn_body(t, &len);
    struct httpc_request hr = {.method = t->ureq.method ? t->ureq.method : "POST",
                               .url = t->ureq.url,
                               .headers = (const char *const *)t->ureq.headers,
                               .body = t->ureq.body ? t->ureq.body : body,
                               .body_len = t->ureq.body ? t->ureq.body_len : len,
                               .proxy = t->acc->proxy_url,
                               .connect_timeout_ms = t->app->cfg->upstream_connect_timeout_ms,
                               .timeout_ms =
                                   t->test ? TXN_TEST_TIMEOUT_MS : t->app->cfg->request_timeout_ms,
                               .watch_fd = t->client_fd};
    if (!t->st)
        t->st = stream_new(t->rq, &txn_hooks, t);
    if (t->test)
        stream_collect(t->st, TXN_TEST_BODY_MAX);
    else if (t->op->fmt->json_stream)
        stream_json_array(t->st);
    account_lease_take(t->app->accounts, t->acc);
    t->leased = true;
    attempt_begin(t);
    t->step = TS_DECIDE;
    atomic_fetch_add(&t->app->stats.relayed, 1);
    if (stream_attempt(t->st, &hr, t->acc->prov->keep_header) != 0) {
        attempt_end(t, 0);
        lease_release(t);
        txn_fail(t, RERR_UNAVAILABLE, "The relay is shutting down");
        return STEP_DONE;
    }
    return STEP_WAIT; /* the upstream loop has the transaction now */
}

static const struct {
    const char *name;
    enum step_rc (*run)(struct txn *t);
} steps[] = {
    [TS_INTAKE] = {"intake", step_intake},
    [TS_AUTHENTICATE] = {"authenticate", step_authenticate},
    [TS_ADMIT] = {"admit", step_admit},
    [TS_SCHEDULE] = {"schedule", step_schedule},
    [TS_USER_TURN] = {"user turn", txn_step_user_turn},
    [TS_PREPARE] = {"prepare", step_prepare},
    [TS_ATTEMPT] = {"attempt", step_attempt},
};

void txn_run(struct txn *t)
{
    while ((size_t)t->step < ARRAY_SIZE(steps)) {
        enum step_rc rc = steps[t->step].run(t);
        if (rc == STEP_WAIT)
            return;
        if (rc == STEP_DONE) {
            txn_finish(t);
            return;
        }
        if (rc == STEP_NEXT)
            t->step++;
    }
}

void txn_resume_job(void *arg)
{
    struct txn *t = arg;
    t->on_io = false; /* a worker runs it */
    log_set_reqid(reqctx_id(t->rq));
    txn_run(t);
    log_set_reqid(NULL);
}

/* ---- stream hooks (upstream loop) ---- */

/* What the provider learns from a success: the usage window, a mark. */
static void observe(struct txn *t, int status, const struct httpc_header *h, size_t n)
{
    if (!t->acc->prov->observe)
        return;
    struct upstream_answer ans = {
        .status = status, .headers = h, .nheaders = n, .body = "", .now_ms = clock_wall_ms()};
    struct verdict v = {.action = VERDICT_OK};
    t->acc->prov->observe(t->acc, &ans, &v);
    if (v.window[0])
        account_set_window(t->acc, v.window, v.window_end_ms);
    if (v.mark != ACC_ACTIVE && account_state(t->acc, ans.now_ms, NULL) == ACC_ACTIVE)
        marks_state(t->app, t->acc, &v, ans.now_ms);
}

static bool hook_commit(void *arg, int status, const struct httpc_header *h, size_t n)
{
    struct txn *t = arg;
    attempt_end(t, status);
    observe(t, status, h, n);
    usermsg_release(t->app, &t->turn); /* answered: the next user turn may go */
    t->step = TS_RELAY;
    return txn_convert_begin(t);
}

static bool retry_possible(struct txn *t, long long now_ms)
{
    if (t->natt >= t->app->cfg->max_upstream_attempts || t->tried.n >= SCHED_TRIED_MAX)
        return false;
    struct sched_request sreq = txn_sched_req(t, now_ms);
    return scheduler_pick(t->snap, &sreq, &t->tried) != NULL;
}

static enum stream_verdict hook_decide(void *arg, const struct upstream_answer *ans,
                                       struct stream_reply *rep)
{
    struct txn *t = arg;
    struct verdict v;
    log_set_reqid(reqctx_id(t->rq));
    struct judge j = {t->app->cfg, t->acc, t->endpoint};
    t->acc->prov->classify(&j, ans, &v);
    attempt_end(t, ans->status);
    lease_release(t);
    usermsg_release(t->app, &t->turn); /* before a failover queues on the next account */
    if (ans->result && ans->result != -ERR_CLOSED)
        log_warn("relay", "upstream attempt failed: account=%s %s", t->acc->id, v.reason);
    if (v.mark != ACC_ACTIVE)
        marks_state(t->app, t->acc, &v, ans->now_ms);
    if (v.learn)
        marks_learn(t->app, t->acc, v.learn);
    enum stream_verdict sv = SV_REPLY;
    if (t->test) {
        txn_test_answer(t, ans, &v, rep);
        log_set_reqid(NULL);
        return SV_REPLY;
    }
    if (v.action == VERDICT_RETRY && retry_possible(t, ans->now_ms)) {
        keep_last(t, ans); /* before the job: it may run at once */
        t->step = TS_SCHEDULE;
        if (tpool_submit(t->app->workers, txn_resume_job, t) == 0) {
            atomic_fetch_add(&t->app->stats.failovers, 1);
            sv = SV_RETRY;
        }
    }
    if (sv == SV_REPLY)
        render_failure(t, ans, rep);
    log_set_reqid(NULL);
    return sv;
}

static void hook_event(void *arg, const struct sse_event *ev)
{
    struct txn *t = arg;
    if (!t->first_ms)
        t->first_ms = clock_mono_ms();
    t->acc->prov->usage_event(&t->usage, ev);
    if (!t->acc->prov->observe_event)
        return;
    struct verdict v = {.action = VERDICT_OK};
    long long now = clock_wall_ms();
    t->acc->prov->observe_event(t->acc, ev, now, &v);
    if (v.mark != ACC_ACTIVE)
        marks_state(t->app, t->acc, &v, now);
}

/* A success's body: its usage, and what it teaches about the account
 * (e.g. Code Assist's project, learnt once). */
static void hook_body(void *arg, int status, const char *body, size_t len)
{
    struct txn *t = arg;
    if (!t->first_ms)
        t->first_ms = clock_mono_ms();
    if (status < 200 || status >= 300)
        return;
    const struct provider *p = t->acc->prov;
    p->usage_body(&t->usage, body, len);
    char value[256];
    const char *field =
        p->learn_body ? p->learn_body(t->acc, t->op->endpoint, body, len, value, sizeof(value))
                      : NULL;
    if (field)
        marks_learn_text(t->app, t->acc, field, value);
}

static int hook_filter(void *arg, const struct sse_event *ev, struct buf *out)
{
    return txn_convert_event(arg, ev, out);
}

static char *hook_transform_body(void *arg, const char *body, size_t len, size_t *out_len)
{
    return txn_convert_body(arg, body, len, out_len);
}

static void hook_finish(void *arg, int result)
{
    struct txn *t = arg;
    /* The client left while an attempt ran (an attempt judged by decide and
     * answered keeps its status). */
    if (t->step == TS_DECIDE && t->natt &&
        t->att[(t->natt <= ATTEMPTS_CAP ? t->natt : ATTEMPTS_CAP) - 1].status < 0)
        attempt_end(t, 0);
    if (t->step == TS_RELAY && result && result != -ERR_CLOSED) {
        log_set_reqid(reqctx_id(t->rq));
        log_warn("relay", "committed stream broke: account=%s %s", t->acc->id, err_str(result));
        log_set_reqid(NULL);
    }
    txn_finish(t);
}

static char *hook_error_frame(void *arg, int result)
{
    struct txn *t = arg;
    if (result == -ERR_TOOBIG)
        return t->op->fmt->error_frame(RERR_UPSTREAM_BROKEN,
                                       "Upstream event exceeds the relay's size limit");
    if (result == -ERR_TIMEOUT)
        return t->op->fmt->error_frame(RERR_UPSTREAM_TIMEOUT, "Upstream timed out mid-stream");
    return t->op->fmt->error_frame(RERR_UPSTREAM_BROKEN, "Upstream connection lost mid-stream");
}

static const struct stream_hooks txn_hooks = {
    .on_commit = hook_commit,
    .decide = hook_decide,
    .on_event = hook_event,
    .on_body = hook_body,
    .filter = hook_filter,
    .transform_body = hook_transform_body,
    .on_finish = hook_finish,
    .error_frame = hook_error_frame,
};

/* ---- entry points ---- */

void txn_start(struct reqctx *rq, const struct relay_op *op)
{
    struct txn *t = xcalloc(1, sizeof(*t));
    t->app = reqctx_app(rq);
    t->rq = reqctx_ref(rq);
    t->op = op;
    t->client_fd = reqctx_client_fd(rq);
    t->on_io = reqctx_inline(rq);
    t->t0_ms = clock_mono_ms();
    atomic_fetch_add(&t->app->stats.transactions, 1);
    txn_run(t);
}

struct api_key *txn_key_only(struct reqctx *rq, const struct client_format *fmt)
{
    struct api_key *key = NULL;
    enum relay_err e;
    const char *msg = NULL;
    int rc = lookup_key(rq, &key, &e, &msg);
    if (rc == 0)
        rc = admit_key(key, &e);
    if (rc == 0)
        return key;
    keys_unref(key);
    fmt->reply_error(rq, e, msg);
    return NULL;
}

bool txn_inline_ok(struct reqctx *rq)
{
    return txn_inline_ok_for(rq, &format_anthropic);
}

bool txn_inline_ok_for(struct reqctx *rq, const struct client_format *fmt)
{
    struct app *app = reqctx_app(rq);
    char hash[SECRET_HASH_HEX + 1];
    const char *plain = client_key(rq);
    if (!plain || !keys_hash(app, plain, hash))
        return false;
    struct api_key *k = key_cache_get(app->keys, hash, cache_ttl(app));
    bool ok =
        k && keys_admit(k, clock_wall_ms()) == KEY_OK && !key_policy_admission_needed(&k->pol);
    keys_unref(k);
    return ok && txn_session_local(rq, fmt); /* the body is parsed once: intake reuses it */
}

long long txn_live(struct app *app)
{
    return atomic_load(&app->stats.transactions);
}
