/*
 * accounts.c - the account records of every provider and the scheduler's
 * snapshot (see accounts.h). Admin CRUD is in admin/accounts_admin.c.
 *
 * DESIGN: a refresh is two round trips whatever the number of accounts:
 * SMEMBERS of every provider's index and of the group index, then HGETALL
 * of every record plus the reads of its health state, and HGET name +
 * SMEMBERS members of every group, all pipelined. Runtime objects (state, last
 * use, in-flight) are carried from the old snapshot to the new one by id.
 *
 * LOCKING: accs->refresh_mu serialises refreshes (held across their round
 * trips, on the caller's connection): without it a refresh that read Redis
 * before an admin write but finished after it would swap an older snapshot
 * over the newer one. Lock order: refresh_mu -> mu.
 * accs->mu guards the current snapshot pointer only; a snapshot is
 * immutable and refcounted, so readers hold no lock while using it.
 * rt->mu guards rt->reason; the other runtime fields are atomics.
 */
#include "compat.h"
#include "account_limits.h"
#include "account_state.h"
#include "accounts.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>

#define REFRESH_MAX 4096 /* accounts per refresh, all types */
#define GROUPS_MAX 1024  /* account groups per refresh */
#define GROUP_READS 2    /* HGET name, SMEMBERS members */

struct account_rt {
    atomic_int refs;
    atomic_int state;
    atomic_llong until_ms;
    atomic_llong last_used_ms;
    atomic_llong shared_ms; /* the last use written to account_last_used by this instance */
    atomic_int inflight;
    atomic_llong family_until[MF_COUNT]; /* model-family limits; [MF_ANY] unused */
    atomic_uint learnt;                  /* bit i: fields[i] learnt (a flag, or a text written) */
    atomic_llong quota_until_ms;         /* daily-quota stop end (account_limits.h) */
    pthread_mutex_t mu;                  /* guards: reason, window */
    char reason[160];
    char window[24];         /* the upstream's usage window status, "" = unknown */
    long long window_end_ms; /* its end */
};

struct accounts {
    struct app *app;
    pthread_mutex_t refresh_mu; /* serialises accounts_refresh */
    pthread_mutex_t mu;         /* guards: cur */
    struct account_list *cur;
    atomic_llong leases;
};

static const char *const state_names[] = {"active",       "temp_error",   "overloaded",
                                          "rate_limited", "unauthorized", "blocked"};

const char *account_state_name(enum account_state st)
{
    return (unsigned)st < ARRAY_SIZE(state_names) ? state_names[st] : "active";
}

int account_state_parse(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(state_names); i++)
        if (strcmp(state_names[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- runtime objects ---- */

static struct account_rt *rt_new(void)
{
    struct account_rt *rt = xcalloc(1, sizeof(*rt));
    atomic_init(&rt->refs, 1);
    pthread_mutex_init(&rt->mu, NULL);
    return rt;
}

static void rt_unref(struct account_rt *rt)
{
    if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

enum account_state account_state_raw(const struct account *a, long long *until_ms)
{
    enum account_state st = (enum account_state)atomic_load(&a->rt->state);
    if (until_ms)
        *until_ms = atomic_load(&a->rt->until_ms);
    return st;
}

bool account_state_permanent(enum account_state st, long long until_ms)
{
    return (st == ACC_UNAUTHORIZED || st == ACC_BLOCKED) && until_ms <= 0;
}

enum account_state account_state(const struct account *a, long long now_ms, long long *until_ms)
{
    long long until = 0;
    enum account_state st = account_state_raw(a, &until);
    bool permanent = account_state_permanent(st, until);
    if (st != ACC_ACTIVE && !permanent && until <= now_ms)
        st = ACC_ACTIVE, until = 0; /* cooled down */
    if (until_ms)
        *until_ms = permanent ? 0 : until;
    return st;
}

void account_set_state(const struct account *a, enum account_state st, long long until_ms,
                       const char *reason)
{
    struct account_rt *rt = a->rt;
    pthread_mutex_lock(&rt->mu);
    snprintf(rt->reason, sizeof(rt->reason), "%s", st == ACC_ACTIVE || !reason ? "" : reason);
    atomic_store(&rt->until_ms, st == ACC_ACTIVE ? 0 : until_ms);
    atomic_store(&rt->state, (int)st);
    pthread_mutex_unlock(&rt->mu);
}

void account_state_reason(const struct account *a, char *out, size_t len)
{
    pthread_mutex_lock(&a->rt->mu);
    snprintf(out, len, "%s", a->rt->reason);
    pthread_mutex_unlock(&a->rt->mu);
}

long long account_family_until(const struct account *a, enum model_family f)
{
    return f > MF_ANY && f < MF_COUNT ? atomic_load(&a->rt->family_until[f]) : 0;
}

void account_set_family_until(const struct account *a, enum model_family f, long long until_ms)
{
    if (f > MF_ANY && f < MF_COUNT)
        atomic_store(&a->rt->family_until[f], until_ms);
}

void account_set_window(const struct account *a, const char *status, long long end_ms)
{
    pthread_mutex_lock(&a->rt->mu);
    snprintf(a->rt->window, sizeof(a->rt->window), "%s", status ? status : "");
    a->rt->window_end_ms = end_ms;
    pthread_mutex_unlock(&a->rt->mu);
}

void account_window(const struct account *a, char *status, size_t len, long long *end_ms)
{
    pthread_mutex_lock(&a->rt->mu);
    snprintf(status, len, "%s", a->rt->window);
    *end_ms = a->rt->window_end_ms;
    pthread_mutex_unlock(&a->rt->mu);
}

long long account_last_used(const struct account *a)
{
    return atomic_load(&a->rt->last_used_ms);
}

void account_touch(const struct account *a, long long now_ms)
{
    atomic_store(&a->rt->last_used_ms, now_ms);
}

bool account_last_used_due(const struct account *a, long long used_ms, long long every_ms)
{
    long long prev = atomic_load(&a->rt->shared_ms);
    if (prev && used_ms >= prev && used_ms - prev < every_ms)
        return false; /* a time behind the last write (a clock step) writes again */
    return atomic_compare_exchange_strong(&a->rt->shared_ms, &prev, used_ms);
}

void account_lease_take(struct accounts *accs, const struct account *a)
{
    atomic_fetch_add(&a->rt->inflight, 1);
    atomic_fetch_add(&accs->leases, 1);
}

void account_lease_release(struct accounts *accs, const struct account *a)
{
    atomic_fetch_sub(&a->rt->inflight, 1);
    atomic_fetch_sub(&accs->leases, 1);
}

int account_inflight(const struct account *a)
{
    return atomic_load(&a->rt->inflight);
}

long long account_quota_until(const struct account *a)
{
    return atomic_load(&a->rt->quota_until_ms);
}

void account_set_quota_until(const struct account *a, long long until_ms)
{
    atomic_store(&a->rt->quota_until_ms, until_ms);
}

long long accounts_leases(struct accounts *accs)
{
    return atomic_load(&accs->leases);
}

/* ---- snapshot ---- */

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

static void account_free(struct account *a)
{
    for (size_t i = 0; i < a->prov->nfields; i++) {
        wipe_free(a->values[i]);
        cJSON_Delete(a->json[i]);
    }
    free(a->values);
    free(a->json);
    wipe_free(a->proxy_url);
    rt_unref(a->rt);
    free(a);
}

void accounts_list_release(struct account_list *list)
{
    if (!list || atomic_fetch_sub(&list->refs, 1) != 1)
        return;
    for (size_t i = 0; i < list->n; i++)
        account_free(list->items[i]);
    for (size_t i = 0; i < list->ngroups; i++)
        free(list->groups[i].members);
    free(list->groups);
    free(list->items);
    free(list);
}

static struct account_list *list_new(size_t cap)
{
    struct account_list *l = xcalloc(1, sizeof(*l));
    atomic_init(&l->refs, 1);
    l->items = xcalloc(cap ? cap : 1, sizeof(*l->items));
    return l;
}

int accounts_new(struct app *app, struct accounts **out)
{
    struct accounts *a = xcalloc(1, sizeof(*a));
    a->app = app;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->refresh_mu, NULL);
    a->cur = list_new(0);
    *out = a;
    return 0;
}

void accounts_free(struct accounts *accs)
{
    if (!accs)
        return;
    accounts_list_release(accs->cur);
    pthread_mutex_destroy(&accs->mu);
    pthread_mutex_destroy(&accs->refresh_mu);
    free(accs);
}

struct account_list *accounts_snapshot(struct accounts *accs)
{
    pthread_mutex_lock(&accs->mu);
    struct account_list *l = accs->cur;
    atomic_fetch_add(&l->refs, 1);
    pthread_mutex_unlock(&accs->mu);
    return l;
}

struct account *account_list_find(const struct account_list *list, const char *id)
{
    for (size_t i = 0; id && i < list->n; i++)
        if (strcmp(list->items[i]->id, id) == 0)
            return list->items[i];
    return NULL;
}

const struct account_group *account_list_group(const struct account_list *list, const char *gid)
{
    for (size_t i = 0; gid && i < list->ngroups; i++)
        if (strcmp(list->groups[i].id, gid) == 0)
            return &list->groups[i];
    return NULL;
}

bool account_group_has(const struct account_group *g, const char *id)
{
    for (size_t i = 0; g && i < g->n; i++)
        if (strcmp(g->members[i], id) == 0)
            return true;
    return false;
}

const char *account_field(const struct account *a, const char *name)
{
    for (size_t i = 0; i < a->prov->nfields; i++)
        if (strcmp(a->prov->fields[i].name, name) == 0)
            return a->values[i];
    return NULL;
}

/* Schema index of a relay-set flag (bits of rt->learnt), or -1. */
static int flag_index(const struct account *a, const char *name)
{
    for (size_t i = 0; i < a->prov->nfields && i < 32; i++)
        if (strcmp(a->prov->fields[i].name, name) == 0)
            return a->prov->fields[i].type == FT_BOOL ? (int)i : -1;
    return -1;
}

bool account_flag(const struct account *a, const char *name)
{
    int i = flag_index(a, name);
    if (i < 0)
        return false;
    if (a->rt && (atomic_load(&a->rt->learnt) & (1u << i)))
        return true;
    return a->values[i] && strcmp(a->values[i], "true") == 0;
}

void account_learn(const struct account *a, const char *name)
{
    int i = flag_index(a, name);
    if (i >= 0)
        atomic_fetch_or(&a->rt->learnt, 1u << i);
}

bool account_learn_once(const struct account *a, const char *name)
{
    for (size_t i = 0; i < a->prov->nfields && i < 32; i++) {
        const struct account_field *f = &a->prov->fields[i];
        if (strcmp(f->name, name) != 0)
            continue;
        if (f->type != FT_STR || !(f->flags & FIELD_READONLY))
            return false;
        unsigned bit = 1u << i;
        return !(atomic_fetch_or(&a->rt->learnt, bit) & bit);
    }
    return false;
}

const struct cJSON *account_json(const struct account *a, const char *name)
{
    for (size_t i = 0; i < a->prov->nfields; i++)
        if (strcmp(a->prov->fields[i].name, name) == 0)
            return a->json[i];
    return NULL;
}

/* ---- records -> snapshot ---- */

static void seal_ad(char *ad, size_t len, const struct provider *p, const cJSON *rec,
                    const char *field)
{
    /* Binds a sealed blob to its record and field: it cannot be moved. */
    snprintf(ad, len, "%s:%s:%s", p->record_prefix, json_str(rec, "id", ""), field);
}

int account_seal(const struct app *app, const struct provider *p, cJSON *rec, const char *field,
                 const char *plain)
{
    char ad[STORE_KEY_MAX + 64], *blob = NULL;
    seal_ad(ad, sizeof(ad), p, rec, field);
    if (secret_seal(app->box, ad, plain, strlen(plain), &blob) != 0)
        return -ERR_CRYPTO;
    cJSON_DeleteItemFromObject(rec, field);
    cJSON_AddStringToObject(rec, field, blob);
    free(blob);
    return 0;
}

char *account_unseal(const struct app *app, const struct provider *p, const cJSON *rec,
                     const char *field)
{
    char ad[STORE_KEY_MAX + 64];
    const char *blob = json_str(rec, field, NULL);
    if (!blob || !*blob)
        return NULL;
    seal_ad(ad, sizeof(ad), p, rec, field);
    char *plain = NULL;
    if (secret_open(app->box, ad, blob, &plain, NULL) != 0) {
        log_warn("accounts", "cannot open the sealed %s of account %s (wrong ENCRYPTION_KEY?)",
                 field, json_str(rec, "id", "?"));
        return NULL;
    }
    return plain;
}

static char *pct(const char *s)
{
    char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
    for (; *s; s++) {
        if (isalnum((unsigned char)*s) || strchr("-._~", *s))
            *o++ = *s;
        else
            o += snprintf(o, 4, "%%%02X", (unsigned char)*s);
    }
    *o = '\0';
    return out;
}

/* socks5h: the proxy resolves the upstream host name (as the original's
 * SocksProxyAgent does); https: TLS to the proxy itself. */
static const char *proxy_scheme(const char *type)
{
    if (strcmp(type, "socks5") == 0)
        return "socks5h";
    return strcmp(type, "https") == 0 ? "https" : "http";
}

char *account_proxy_url(const struct app *app, const struct provider *prov, const cJSON *rec)
{
    const char *text = json_str(rec, "proxy", "");
    cJSON *p = *text ? json_parse(text, strlen(text), 8, true) : NULL;
    const char *host = json_str(p, "host", "");
    char *url = NULL;
    if (*host) {
        const char *scheme = proxy_scheme(json_str(p, "type", ""));
        char *user = pct(json_str(p, "username", ""));
        char *pw = account_unseal(app, prov, rec, "proxyPassword");
        char *epw = pw ? pct(pw) : xstrdup("");
        long long port = json_int(p, "port", 0);
        url = *user ? xasprintf("%s://%s:%s@%s:%lld", scheme, user, epw, host, port)
                    : xasprintf("%s://%s:%lld", scheme, host, port);
        free(user);
        wipe_free(pw);
        wipe_free(epw);
    }
    cJSON_Delete(p);
    return url;
}

static struct account_rt *rt_carry(const struct account_list *old, const char *id)
{
    const struct account *prev = old ? account_list_find(old, id) : NULL;
    if (!prev)
        return rt_new();
    atomic_fetch_add(&prev->rt->refs, 1);
    return prev->rt;
}

static void load_values(const struct app *app, struct account *a, const cJSON *rec)
{
    a->usable = true;
    a->values = xcalloc(a->prov->nfields ? a->prov->nfields : 1, sizeof(char *));
    a->json = xcalloc(a->prov->nfields ? a->prov->nfields : 1, sizeof(cJSON *));
    for (size_t i = 0; i < a->prov->nfields; i++) {
        const struct account_field *f = &a->prov->fields[i];
        const char *v = json_str(rec, f->name, NULL);
        if (f->type == FT_SECRET)
            a->values[i] = account_unseal(app, a->prov, rec, f->name);
        else if (v)
            a->values[i] = xstrdup(v);
        if (f->type == FT_JSON && v && *v) /* parsed here once, read by every request */
            a->json[i] = json_parse(v, strlen(v), 8, false);
        if ((f->flags & FIELD_REQUIRED) && !a->values[i])
            a->usable = false;
    }
}

/* The shared limits (account_limits.h); the record is authoritative for a
 * quota stop: an admin change or reset clears it there. */
static void load_limits(struct account *a, const cJSON *rec)
{
    long long quota = 0;
    int reset = account_hhmm_parse(json_str(rec, "quotaResetTime", "00:00"));
    a->max_tasks = (int)strtol(json_str(rec, "maxConcurrentTasks", "0"), NULL, 10);
    if (account_usd_parse(json_str(rec, "dailyQuota", "0"), &quota) == 0)
        a->daily_quota_micro = quota;
    a->quota_reset_min = reset < 0 ? 0 : reset;
    account_set_quota_until(a, strtoll(json_str(rec, "quotaStoppedUntil", "0"), NULL, 10));
}

static struct account *account_from(const struct app *app, const struct provider *prov,
                                    const cJSON *rec, const struct account_list *old)
{
    struct account *a = xcalloc(1, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", json_str(rec, "id", ""));
    snprintf(a->name, sizeof(a->name), "%s", json_str(rec, "name", ""));
    a->prov = prov;
    a->priority = (int)strtol(json_str(rec, "priority", "50"), NULL, 10);
    a->schedulable = strcmp(json_str(rec, "schedulable", "true"), "true") == 0;
    a->active = strcmp(json_str(rec, "isActive", "true"), "true") == 0;
    a->user_queue = strcmp(json_str(rec, "userMessageQueue", "false"), "true") == 0;
    a->proxy_url = account_proxy_url(app, prov, rec);
    a->rt = rt_carry(old, a->id);
    load_values(app, a, rec);
    load_limits(a, rec);
    return a;
}

static void apply_health(struct account *a, const struct account_health *h)
{
    account_set_state(a, h->state, h->until_ms, h->reason);
    for (int f = MF_ANY + 1; f < MF_COUNT; f++)
        account_set_family_until(a, (enum model_family)f, h->family_until[f]);
}

/* Fields sealed under an old ENCRYPTION_KEY are re-sealed under the current
 * one, compare-and-set so an admin edit made meanwhile wins. After one pass
 * nothing is sealed under the old key and ENCRYPTION_KEY_OLD can go. */
static const char reseal_lua[] = "if redis.call('HGET',KEYS[1],ARGV[1])==ARGV[2] then\n"
                                 "  return redis.call('HSET',KEYS[1],ARGV[1],ARGV[3])\n"
                                 "end\n"
                                 "return -1\n";

static void reseal_field(const struct app *app, struct rds_conn *c, const struct provider *p,
                         cJSON *rec, const char *field)
{
    const char *blob = json_str(rec, field, "");
    if (!*blob || secret_is_current(app->box, blob))
        return;
    char key[STORE_KEY_MAX];
    store_key(key, SK_ACCOUNT_RECORD, p->record_prefix, json_str(rec, "id", ""));
    char *plain = account_unseal(app, p, rec, field), *old = xstrdup(blob);
    if (plain && account_seal(app, p, rec, field, plain) == 0) {
        const char *argv[] = {key, field, old, json_str(rec, field, "")};
        redisReply *r = rds_script(c, reseal_lua, 1, 4, argv, NULL);
        if (rds_reply_int(r, -1) >= 0)
            log_info("accounts", "re-sealed %s of account %s under the current key", field,
                     json_str(rec, "id", "?"));
        if (r)
            freeReplyObject(r);
    }
    wipe_free(plain);
    free(old);
}

static void reseal_old(const struct app *app, struct rds_conn *c, const struct provider *p,
                       cJSON *rec)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (p->fields[i].type == FT_SECRET)
            reseal_field(app, c, p, rec, p->fields[i].name);
    reseal_field(app, c, p, rec, "proxyPassword");
}

/* Round trip 1: every provider's index, then the group index, then the
 * accounts' last use: ids[i] is provider_at(i)'s, ids[provider_count()]
 * the groups', ids[provider_count() + 1] the last uses. */
static int load_indexes(struct rds_conn *c, redisReply **ids)
{
    size_t np = provider_count();
    for (size_t i = 0; i < np; i++) {
        char key[STORE_KEY_MAX];
        store_key(key, SK_ACCOUNT_INDEX, provider_at(i)->record_prefix);
        if (rds_append(c, "SMEMBERS %s", key) != 0)
            return -ERR_REDIS;
    }
    if (rds_append(c, "SMEMBERS %s", SK_ACCOUNT_GROUPS) != 0 ||
        rds_append(c, "HGETALL %s", SK_ACCOUNT_LAST_USED) != 0 ||
        rds_flush_replies(c, (int)np + 2, ids) != 0)
        return -ERR_REDIS;
    for (size_t i = 0; i <= np + 1; i++)
        if (ids[i]->type != REDIS_REPLY_ARRAY)
            return -ERR_REDIS;
    return 0;
}

struct refresh_ctx {
    const struct provider **prov; /* per account */
    const char **id;
    size_t n;
    const redisReply *gids; /* the group index reply (borrowed from ids) */
    size_t ng;
    redisReply **rep; /* (1 + ACCOUNT_STATE_READS) per account, then GROUP_READS per group */
};

static int append_group_reads(struct rds_conn *c, const char *gid)
{
    char key[STORE_KEY_MAX], members[STORE_KEY_MAX];
    store_key(key, SK_ACCOUNT_GROUP, gid);
    store_key(members, SK_ACCOUNT_GROUP_MEMBERS, gid);
    if (rds_append(c, "HGET %s name", key) != 0 || rds_append(c, "SMEMBERS %s", members) != 0)
        return -ERR_REDIS;
    return 0;
}

static void build_group(struct account_group *g, const char *gid, redisReply **r)
{
    snprintf(g->id, sizeof(g->id), "%s", gid);
    snprintf(g->name, sizeof(g->name), "%s", r[0]->type == REDIS_REPLY_STRING ? r[0]->str : "");
    size_t n = r[1]->type == REDIS_REPLY_ARRAY ? r[1]->elements : 0;
    g->members = xcalloc(n ? n : 1, sizeof(*g->members));
    for (size_t k = 0; k < n; k++)
        if (r[1]->element[k]->type == REDIS_REPLY_STRING)
            snprintf(g->members[g->n++], sizeof(*g->members), "%s", r[1]->element[k]->str);
}

static void build_groups(struct account_list *l, const struct refresh_ctx *x)
{
    redisReply **r = x->rep + x->n * (1 + ACCOUNT_STATE_READS);
    l->groups = xcalloc(x->ng ? x->ng : 1, sizeof(*l->groups));
    for (size_t i = 0; i < x->ng; i++, r += GROUP_READS)
        if (r[0]->type == REDIS_REPLY_STRING) /* a group deleted meanwhile has no record */
            build_group(&l->groups[l->ngroups++], x->gids->element[i]->str, r);
}

static int append_account_reads(struct rds_conn *c, const struct provider *p, const char *id)
{
    char key[STORE_KEY_MAX];
    store_key(key, SK_ACCOUNT_RECORD, p->record_prefix, id);
    if (rds_append(c, "HGETALL %s", key) != 0)
        return -ERR_REDIS;
    return account_state_append_reads(c, p, id);
}

/* Round trip 2: every record and its state, every group and its members. */
static int load_records(struct rds_conn *c, redisReply **ids, struct refresh_ctx *x)
{
    x->gids = ids[provider_count()];
    for (size_t i = 0; i < provider_count(); i++)
        for (size_t k = 0; k < ids[i]->elements && x->n < REFRESH_MAX; k++) {
            x->prov[x->n] = provider_at(i);
            x->id[x->n] = ids[i]->element[k]->str;
            if (append_account_reads(c, x->prov[x->n], x->id[x->n]) != 0)
                return -ERR_REDIS;
            x->n++;
        }
    for (; x->ng < x->gids->elements && x->ng < GROUPS_MAX; x->ng++)
        if (append_group_reads(c, x->gids->element[x->ng]->str) != 0)
            return -ERR_REDIS;
    int total = (int)(x->n * (1 + ACCOUNT_STATE_READS) + x->ng * GROUP_READS);
    x->rep = xcalloc((size_t)total + 1, sizeof(*x->rep));
    return total && rds_flush_replies(c, total, x->rep) != 0 ? -ERR_REDIS : 0;
}

static struct account *build_one(struct accounts *accs, struct rds_conn *c, redisReply **r,
                                 const struct provider *p, const struct account_list *old)
{
    cJSON *rec = store_reply_object(r[0]);
    struct account *a = NULL;
    if (rec && *json_str(rec, "id", "")) {
        struct account_health h;
        a = account_from(accs->app, p, rec, old);
        account_state_decode(json_str(rec, "status", NULL), json_str(rec, "statusReason", NULL),
                             r + 1, &h);
        apply_health(a, &h);
        reseal_old(accs->app, c, p, rec);
    }
    cJSON_Delete(rec);
    return a;
}

static void swap_in(struct accounts *accs, struct account_list *l)
{
    pthread_mutex_lock(&accs->mu);
    struct account_list *old = accs->cur;
    accs->cur = l;
    pthread_mutex_unlock(&accs->mu);
    accounts_list_release(old);
}

static void refresh_release(struct refresh_ctx *x, redisReply **ids)
{
    for (size_t i = 0; x->rep && i < x->n * (1 + ACCOUNT_STATE_READS) + x->ng * GROUP_READS; i++)
        if (x->rep[i])
            freeReplyObject(x->rep[i]);
    for (size_t i = 0; i <= provider_count() + 1; i++)
        if (ids[i])
            freeReplyObject(ids[i]);
    free(x->rep);
    free(x->prov);
    free(x->id);
}

/* Another instance's last use of an account counts for least-recently-used
 * here too (the accounting script writes account_last_used). */
static void merge_last_used(struct account_list *l, const redisReply *r)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const struct account *a = account_list_find(l, r->element[i]->str);
        long long at = strtoll(r->element[i + 1]->str, NULL, 10);
        if (a && at > account_last_used(a))
            account_touch(a, at);
    }
}

static int refresh_locked(struct accounts *accs, struct rds_conn *c)
{
    redisReply *ids[16] = {0};
    struct refresh_ctx x = {xcalloc(REFRESH_MAX, sizeof(*x.prov)),
                            xcalloc(REFRESH_MAX, sizeof(*x.id)),
                            0,
                            NULL,
                            0,
                            NULL};
    BUG_ON(provider_count() + 2 > ARRAY_SIZE(ids));
    int rc = load_indexes(c, ids);
    if (rc == 0)
        rc = load_records(c, ids, &x);
    if (rc == 0) {
        struct account_list *old = accounts_snapshot(accs), *l = list_new(x.n);
        for (size_t i = 0; i < x.n; i++) {
            struct account *a =
                build_one(accs, c, x.rep + i * (1 + ACCOUNT_STATE_READS), x.prov[i], old);
            if (a)
                l->items[l->n++] = a;
        }
        build_groups(l, &x);
        merge_last_used(l, ids[provider_count() + 1]);
        accounts_list_release(old);
        swap_in(accs, l);
    }
    refresh_release(&x, ids);
    return rc;
}

int accounts_refresh(struct accounts *accs, struct rds_conn *c)
{
    pthread_mutex_lock(&accs->refresh_mu);
    int rc = refresh_locked(accs, c);
    pthread_mutex_unlock(&accs->refresh_mu);
    return rc;
}

void accounts_quota_stop(struct accounts *accs, const char *id, long long until_ms)
{
    pthread_mutex_lock(&accs->refresh_mu);
    struct account_list *l = accounts_snapshot(accs);
    const struct account *a = account_list_find(l, id);
    if (a)
        account_set_quota_until(a, until_ms);
    accounts_list_release(l);
    pthread_mutex_unlock(&accs->refresh_mu);
}

int accounts_reload_state(struct accounts *accs, struct rds_conn *c, const char *id)
{
    struct account_list *l = accounts_snapshot(accs);
    struct account *a = account_list_find(l, id);
    redisReply *r[1 + ACCOUNT_STATE_READS] = {0};
    int rc = a ? 0 : -ERR_NOTFOUND;
    char key[STORE_KEY_MAX];
    if (a) {
        store_key(key, SK_ACCOUNT_RECORD, a->prov->record_prefix, a->id);
        if (rds_append(c, "HMGET %s status statusReason quotaStoppedUntil", key) != 0 ||
            account_state_append_reads(c, a->prov, a->id) != 0 ||
            rds_flush_replies(c, 1 + ACCOUNT_STATE_READS, r) != 0)
            rc = -ERR_REDIS;
    }
    if (rc == 0 && r[0]->type == REDIS_REPLY_ARRAY && r[0]->elements == 3) {
        struct account_health h;
        const char *stop = r[0]->element[2]->str;
        account_state_decode(r[0]->element[0]->str, r[0]->element[1]->str, r + 1, &h);
        apply_health(a, &h);
        account_set_quota_until(a, stop ? strtoll(stop, NULL, 10) : 0);
    }
    for (size_t i = 0; i < ARRAY_SIZE(r); i++)
        if (r[i])
            freeReplyObject(r[i]);
    accounts_list_release(l);
    return rc;
}
