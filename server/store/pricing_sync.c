/*
 * pricing_sync.c - the current price table and its Redis copy (see
 * pricing_sync.h for the protocol).
 *
 * DESIGN: the version counter makes the idle cost one GET per check; the
 * table itself (~130 KB) crosses the network only when it changed. A load
 * pipelines GET version then GET table, so the table read is at least as new
 * as the version recorded: a change racing with the load is picked up at the
 * next check, never lost. A table that fails to parse is remembered by
 * version so it is reported once, not every minute.
 *
 * LOCKING: s->load_mu serialises loads and replacements (held across their
 * Redis round trips; only the maintenance thread and admin writes take it),
 * so a slow reload cannot swap an older table over a newer replacement.
 * s->mu guards cur, version, loaded_at and checked_at, and is held only to
 * copy or swap them. Lock order: load_mu -> mu. Readers take only mu.
 */
#include "compat.h"
#include "config.h"
#include "errs.h"
#include "log.h"
#include "pricing.h"
#include "pricing_builtin.h"
#include "pricing_sync.h"
#include "rds.h"
#include "store_keys.h"
#include "xmalloc.h"

#include <pthread.h>

#define NO_VERSION (-1LL)

struct pricing_sync {
    pthread_mutex_t load_mu; /* guards: bad_version; serialises loads and replacements */
    pthread_mutex_t mu;      /* guards: cur, version, loaded_at, checked_at */
    struct pricing *cur;
    struct pricing *builtin; /* immutable after new: what seeds Redis */
    long long version;       /* of cur; NO_VERSION: not from Redis */
    long long bad_version;   /* last version whose table did not parse */
    time_t loaded_at, checked_at;
    long long interval;
    struct pricing_fallback fb;
};

static void swap_in(struct pricing_sync *s, struct pricing *t, long long version)
{
    pthread_mutex_lock(&s->mu);
    struct pricing *old = s->cur;
    s->cur = t;
    s->version = version;
    s->loaded_at = time(NULL);
    pthread_mutex_unlock(&s->mu);
    pricing_release(old);
}

static long long current_version(struct pricing_sync *s)
{
    pthread_mutex_lock(&s->mu);
    long long v = s->version;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* The counter in a GET reply: absent is 0; -2 when unusable. */
static long long version_of(const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_NIL)
        return 0;
    long long v = rds_reply_int(r, -2);
    return v < 0 ? -2 : v;
}

/* SET NX the built-in table; when it was absent, bump the version so every
 * instance loads it. */
static int seed_locked(struct pricing_sync *s, struct rds_conn *c)
{
    size_t len;
    const char *json = pricing_json(s->builtin, &len);
    redisReply *r = rds_command(c, "SET %s %b NX", SK_MODEL_PRICING, json, len);
    bool set = rds_reply_ok(r);
    int rc = set || (r && r->type == REDIS_REPLY_NIL) ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    if (!set || rc != 0)
        return rc;
    r = rds_command(c, "INCR %s", SK_MODEL_PRICING_VERSION);
    rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    log_info("pricing", "seeded %s with the built-in table (%zu models)", SK_MODEL_PRICING,
             pricing_model_count(s->builtin));
    return rc;
}

/* Parse Redis's table of version v and swap it in; load_mu held. */
static int adopt_locked(struct pricing_sync *s, const char *json, size_t len, long long v)
{
    char err[256];
    struct pricing *t = NULL;
    if (pricing_parse(json, len, &s->fb, err, sizeof(err), &t) != 0) {
        if (v != s->bad_version)
            log_warn("pricing",
                     "%s (version %lld) is not a valid table: %s; keeping the current one",
                     SK_MODEL_PRICING, v, err);
        s->bad_version = v;
        return -ERR_INVAL;
    }
    size_t n = pricing_model_count(t);
    swap_in(s, t, v);
    log_info("pricing", "price table loaded from Redis (version %lld, %zu models)", v, n);
    return 0;
}

/* Read version and table in one round trip and adopt them; a missing table
 * is seeded again (the next check loads it). load_mu held. */
static int load_locked(struct pricing_sync *s, struct rds_conn *c)
{
    redisReply *rep[2] = {NULL, NULL};
    int rc = -ERR_REDIS;
    if (rds_append(c, "GET %s", SK_MODEL_PRICING_VERSION) != 0 ||
        rds_append(c, "GET %s", SK_MODEL_PRICING) != 0 || rds_flush_replies(c, 2, rep) != 0)
        goto out;
    long long v = version_of(rep[0]);
    if (v < 0)
        goto out;
    if (rep[1]->type == REDIS_REPLY_NIL)
        rc = seed_locked(s, c);
    else if (rep[1]->type == REDIS_REPLY_STRING)
        rc = adopt_locked(s, rep[1]->str, rep[1]->len, v);
out:
    for (int i = 0; i < 2; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    return rc;
}

static int fallback_from(const struct relay_config *cfg, struct pricing_fallback *fb)
{
    if (pricing_parse_usd_per_mtok(cfg->unpriced_fallback_input, &fb->input) != 0 ||
        pricing_parse_usd_per_mtok(cfg->unpriced_fallback_output, &fb->output) != 0)
        return -ERR_INVAL;
    return 0;
}

int pricing_sync_new(const struct relay_config *cfg, struct rds_conn *c, struct pricing_sync **out)
{
    struct pricing_fallback fb;
    struct pricing *b = NULL;
    char err[256];
    if (fallback_from(cfg, &fb) != 0)
        return -ERR_INVAL;
    if (pricing_parse((const char *)pricing_builtin_json, pricing_builtin_json_len, &fb, err,
                      sizeof(err), &b) != 0) {
        log_error("pricing", "the built-in price table is invalid: %s", err);
        return -ERR_INVAL;
    }
    struct pricing_sync *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->load_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    s->builtin = b;
    s->cur = pricing_ref(b);
    s->version = s->bad_version = NO_VERSION;
    s->loaded_at = time(NULL);
    s->interval = cfg->pricing_reload_interval;
    s->fb = fb;
    pthread_mutex_lock(&s->load_mu);
    int rc = c ? seed_locked(s, c) : -ERR_REDIS;
    if (rc == 0)
        rc = load_locked(s, c);
    pthread_mutex_unlock(&s->load_mu);
    if (rc != 0)
        log_warn("pricing",
                 "price table not loaded from Redis (%s): using the built-in one "
                 "until a later check succeeds",
                 err_str(rc));
    *out = s;
    return 0;
}

void pricing_sync_free(struct pricing_sync *s)
{
    if (!s)
        return;
    pricing_release(s->cur);
    pricing_release(s->builtin);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->load_mu);
    free(s);
}

struct pricing *pricing_sync_snapshot(struct pricing_sync *s)
{
    pthread_mutex_lock(&s->mu);
    struct pricing *t = pricing_ref(s->cur);
    pthread_mutex_unlock(&s->mu);
    return t;
}

int pricing_sync_check(struct pricing_sync *s, struct rds_conn *c)
{
    pthread_mutex_lock(&s->load_mu);
    redisReply *r = rds_command(c, "GET %s", SK_MODEL_PRICING_VERSION);
    long long v = version_of(r);
    if (r)
        freeReplyObject(r);
    int rc = v < 0 ? -ERR_REDIS : 0;
    pthread_mutex_lock(&s->mu);
    s->checked_at = time(NULL);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && v != current_version(s) && v != s->bad_version)
        rc = load_locked(s, c);
    pthread_mutex_unlock(&s->load_mu);
    return rc;
}

/* MULTI / SET table / INCR version / EXEC; the new version in *v. */
static int store_locked(struct rds_conn *c, const char *json, size_t len, long long *v)
{
    redisReply *rep[4] = {NULL, NULL, NULL, NULL};
    int rc = -ERR_REDIS;
    if (rds_append(c, "MULTI") != 0 ||
        rds_append(c, "SET %s %b", SK_MODEL_PRICING, json, len) != 0 ||
        rds_append(c, "INCR %s", SK_MODEL_PRICING_VERSION) != 0 || rds_append(c, "EXEC") != 0 ||
        rds_flush_replies(c, 4, rep) != 0)
        goto out;
    const redisReply *x = rep[3];
    if (x->type == REDIS_REPLY_ARRAY && x->elements == 2 && rds_reply_ok(x->element[0]) &&
        x->element[1]->type == REDIS_REPLY_INTEGER) {
        *v = x->element[1]->integer;
        rc = 0;
    }
out:
    for (int i = 0; i < 4; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    return rc;
}

int pricing_sync_replace(struct pricing_sync *s, struct rds_conn *c, const char *json, size_t len,
                         char *err, size_t errlen, long long *version)
{
    struct pricing *t = NULL;
    long long v = 0;
    size_t n;
    int rc = pricing_parse(json, len, &s->fb, err, errlen, &t);
    if (rc != 0)
        return rc;
    const char *text = pricing_json(t, &n);
    pthread_mutex_lock(&s->load_mu);
    rc = store_locked(c, text, n, &v);
    if (rc == 0) {
        swap_in(s, t, v);
        t = NULL;
    }
    pthread_mutex_unlock(&s->load_mu);
    pricing_release(t);
    if (rc != 0) {
        snprintf(err, errlen, "the table could not be stored in Redis");
        return rc;
    }
    *version = v;
    return 0;
}

void pricing_sync_status(struct pricing_sync *s, struct pricing_status *out)
{
    pthread_mutex_lock(&s->mu);
    out->version = s->version;
    out->loaded_at = s->loaded_at;
    out->checked_at = s->checked_at;
    out->interval = s->interval;
    out->models = pricing_model_count(s->cur);
    pthread_mutex_unlock(&s->mu);
}
