/*
 * txn_sticky.c - the transaction's sticky session (crs-relay-spec 4.1-4.2):
 * the session hash by the client format's rule, its binding from this
 * instance's cache (sticky_cache.h) or Redis, and the (re)binding.
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
#include "clients.h"
#include "notify.h"
#include "sticky.h"
#include "sticky_cache.h"

static const char *rq_header(const void *ctx, const char *name)
{
    return reqctx_header(ctx, name);
}

/* The request's session hash by its format's rule (Anthropic: the body;
 * OpenAI: a session header or prompt_cache_key). */
static int format_session(struct reqctx *rq, const struct client_format *fmt, char *out, size_t len)
{
    struct client_facts f = {reqctx_path(rq), rq_header, rq, reqctx_json(rq)};
    return fmt->session ? fmt->session(&f, out, len) : -ERR_NOTFOUND;
}

/* How long a cached binding is trusted (sticky_cache.h): shorter while
 * the notify subscription is down, since rebinds may go unheard. */
static long long sticky_fresh_ms(const struct app *app)
{
    long long ms = app->cfg->sticky_cache_s * 1000;
    return notify_connected(app->notify) || ms < STICKY_CACHE_TTL_DOWN_MS
               ? ms
               : STICKY_CACHE_TTL_DOWN_MS;
}

static bool sticky_cached(struct app *app, const char *session, char *out, size_t len)
{
    return app->cfg->sticky_cache_s > 0 &&
           sticky_cache_get(app->sticky, session, clock_mono_ms(), sticky_fresh_ms(app), out, len);
}

/* Remember a binding read or written at now_ms with left_ms to live (-1:
 * no expiry); never usable past its renewal threshold. */
static void sticky_remember(struct txn *t, long long now_ms, long long left_ms, unsigned long gen)
{
    const struct relay_config *cfg = t->app->cfg;
    if (cfg->sticky_cache_s <= 0 || !t->sticky[0])
        return;
    long long left = left_ms < 0 ? cfg->sticky_cache_s * 1000 : left_ms;
    sticky_cache_put(t->app->sticky, t->session, t->sticky, now_ms,
                     sticky_cache_until(now_ms, left, cfg->sticky_renewal_min * 60000), gen);
}

/* The session's binding, looked up once (the first schedule): this
 * instance's cache, else GET + PTTL in one round trip. False on the I/O
 * thread when Redis is needed (the caller hands over to a worker). Without
 * Redis the request is simply not sticky. */
bool txn_sticky_lookup(struct txn *t)
{
    if (t->sticky_read)
        return true;
    bool none =
        !t->session[0] && format_session(t->rq, t->op->fmt, t->session, sizeof(t->session)) != 0;
    if (none || sticky_cached(t->app, t->session, t->sticky, sizeof(t->sticky))) {
        t->sticky_read = true;
        return true;
    }
    if (t->on_io)
        return false;
    t->sticky_read = true;
    const struct relay_config *cfg = t->app->cfg;
    unsigned long gen = sticky_cache_gen(t->app->sticky);
    long long now = clock_mono_ms(), left = -1;
    struct rds_conn *c = rds_pool_get(t->app->redis, REDIS_WAIT_MS);
    int rc = c ? sticky_get(c, t->session,
                            settings_int(t->app->settings, SETTING_STICKY_TTL_HOURS) * 3600,
                            cfg->sticky_renewal_min * 60, t->sticky, sizeof(t->sticky), &left)
               : -ERR_REDIS;
    rds_pool_put(t->app->redis, c);
    if (rc == -ERR_REDIS)
        log_warn("relay", "sticky session %.8s not read (Redis unavailable)", t->session);
    if (rc == 0)
        sticky_remember(t, now, left, gen);
    return true;
}

bool txn_sticky_bind_needed(const struct txn *t, const struct account *a)
{
    return t->session[0] && strcmp(t->sticky, a->id) != 0;
}

/* A session bound elsewhere (or not yet) binds to a: one SET EX and a
 * PUBLISH "sticky <hash>" (other instances forget their copy), one round
 * trip. A binding to an account that cannot take the request, or one that
 * just failed, is replaced at once. */
void txn_sticky_bind(struct txn *t, const struct account *a)
{
    if (!txn_sticky_bind_needed(t, a))
        return;
    if (t->sticky[0])
        log_info("relay", "sticky session %.8s rebound from account %s to %s", t->session,
                 t->sticky, a->id);
    char what[80], notice[128];
    snprintf(what, sizeof(what), "sticky %s", t->session);
    notify_payload(t->app, what, notice, sizeof(notice));
    long long ttl_s = settings_int(t->app->settings, SETTING_STICKY_TTL_HOURS) * 3600;
    long long now = clock_mono_ms();
    /* Our own bind is no notice to ourselves: forgetting bumps the generation,
     * so a read of the old binding still in flight here cannot cache it. */
    sticky_cache_forget(t->app->sticky, t->session);
    unsigned long gen = sticky_cache_gen(t->app->sticky);
    struct rds_conn *c = rds_pool_get(t->app->redis, REDIS_WAIT_MS);
    int rc = c ? sticky_set(c, t->session, a->id, ttl_s, notice) : -ERR_REDIS;
    rds_pool_put(t->app->redis, c);
    snprintf(t->sticky, sizeof(t->sticky), "%s", a->id);
    if (rc != 0)
        log_warn("relay", "sticky session %.8s not bound (Redis unavailable)", t->session);
    else
        sticky_remember(t, now, ttl_s * 1000, gen);
}

/* A request without a session, or whose binding is in the sticky cache,
 * schedules without Redis. */
bool txn_session_local(struct reqctx *rq, const struct client_format *fmt)
{
    char session[SESSION_HASH_MAX], acc[37];
    return format_session(rq, fmt, session, sizeof(session)) != 0 ||
           sticky_cached(reqctx_app(rq), session, acc, sizeof(acc));
}
