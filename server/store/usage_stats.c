/*
 * usage_stats.c - in-memory breakdowns and request logs (see usage_stats.h).
 *
 * DESIGN: a request touches up to 18 counter buckets, 10 index-set members
 * and 3 logs (its key's, its account's, everyone's). Summing them here and writing the sums every
 * few seconds makes the Redis cost proportional to what changed, not to traffic: one EVAL per flush
 * (chunked past FLUSH_CHUNK items) that reads and writes each hash with HMGET + HSET (2 commands,
 * whatever the field count), sets a bucket's TTL once when it is created, SADDs index members, and
 * LPUSHes each log's new entries at once, then LTRIM + EXPIRE. LOCKING: st->mu guards the item
 * table and the counts; flushing swaps the table out under the lock and talks to Redis without it.
 */
#include "compat.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "store_keys.h"
#include "usage.h"
#include "usage_stats.h"
#include "xmalloc.h"

#include <pthread.h>
#include <time.h>

#define STAT_BUCKETS 4096 /* a flush interval of many keys keeps chains short */
#define MEMBER_MAX 100
#define FLUSH_CHUNK 200 /* items per script call: bounds one call's run time in Redis */

const char *const usage_counter_names[USAGE_NCOUNTERS] = {
    "requests",          "inputTokens",     "outputTokens",
    "cacheCreateTokens", "cacheReadTokens", "ephemeral5mTokens",
    "ephemeral1hTokens", "allTokens",       "costMicro"};

enum item_kind { IT_COUNT = 0, IT_MEMBER = 1, IT_LOG = 2 };

struct item {
    enum item_kind kind;
    char key[STORE_KEY_MAX];
    char member[MEMBER_MAX]; /* IT_MEMBER */
    long long ttl;           /* s; 0: none */
    long long v[USAGE_NCOUNTERS];
    char **recs; /* IT_LOG: JSON entries, oldest first, at most cap */
    int nrec, cap;
    struct item *next;
};

struct usage_stats {
    pthread_mutex_t mu; /* guards: table, flushes, commands */
    struct item *table[STAT_BUCKETS];
    unsigned long long flushes, commands;
};

void usage_period_at(int tz_offset_min, long long ms, struct usage_period *p)
{
    time_t local = (time_t)(ms / 1000) + (time_t)tz_offset_min * 60;
    struct tm tm;
    gmtime_r(&local, &tm);
    strftime(p->day, sizeof(p->day), "%Y-%m-%d", &tm);
    strftime(p->hour, sizeof(p->hour), "%Y-%m-%dT%H", &tm);
    strftime(p->month, sizeof(p->month), "%Y-%m", &tm);
    p->minute = ms / 60000;
}

struct usage_stats *usage_stats_new(void)
{
    struct usage_stats *st = xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

static void free_item(struct item *e)
{
    for (int i = 0; i < e->nrec; i++)
        free(e->recs[i]);
    free(e->recs);
    free(e);
}

static void free_table(struct item **table)
{
    for (size_t b = 0; b < STAT_BUCKETS; b++)
        while (table[b]) {
            struct item *e = table[b];
            table[b] = e->next;
            free_item(e);
        }
}

void usage_stats_free(struct usage_stats *st)
{
    if (!st)
        return;
    free_table(st->table);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static unsigned hash_item(enum item_kind kind, const char *key, const char *member)
{
    unsigned h = 2166136261u ^ (unsigned)kind;
    for (const char *s = key; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    for (const char *s = member; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The item for (kind, key, member), made when missing. Caller holds st->mu. */
static struct item *item_locked(struct item **table, enum item_kind kind, const char *key,
                                const char *member, long long ttl)
{
    struct item **p = &table[hash_item(kind, key, member) % STAT_BUCKETS];
    while (*p &&
           ((*p)->kind != kind || strcmp((*p)->key, key) != 0 || strcmp((*p)->member, member) != 0))
        p = &(*p)->next;
    if (!*p) {
        *p = xcalloc(1, sizeof(**p));
        (*p)->kind = kind;
        (*p)->ttl = ttl;
        snprintf((*p)->key, sizeof((*p)->key), "%s", key);
        snprintf((*p)->member, sizeof((*p)->member), "%s", member);
    }
    return *p;
}

/* Append a log entry (taken); the oldest goes when the log holds cap. */
static void log_push(struct item *e, char *rec, int cap)
{
    if (!e->recs) {
        e->cap = cap;
        e->recs = xcalloc((size_t)cap, sizeof(*e->recs));
    }
    if (e->nrec == e->cap) {
        free(e->recs[0]);
        memmove(e->recs, e->recs + 1, (size_t)(e->nrec - 1) * sizeof(*e->recs));
        e->nrec--;
    }
    e->recs[e->nrec++] = rec;
}

/* One request's additions, prepared without the lock. */
struct adds {
    char counts[20][STORE_KEY_MAX];
    long long count_ttl[20];
    int ncounts;
    char sets[12][STORE_KEY_MAX];
    const char *members[12];
    long long set_ttl[12];
    int nsets;
    long long v[USAGE_NCOUNTERS];
};

static void add_count(struct adds *x, long long ttl)
{
    x->count_ttl[x->ncounts++] = ttl;
}

static void add_set(struct adds *x, const char *member, long long ttl)
{
    x->members[x->nsets] = member;
    x->set_ttl[x->nsets++] = ttl;
}

/* The buckets and index members of one request (see the key table in
 * docs/architecture.md). */
static void plan_adds(struct adds *x, const struct accounting *a, const char *model,
                      const struct usage_period *p, long long day_ttl)
{
    const char *k = a->key_id, *acc = a->account_id;
    char total[] = "total";
    store_key(x->counts[x->ncounts], SK_USAGE_DAILY, p->day, k, model), add_count(x, day_ttl);
    store_key(x->counts[x->ncounts], SK_USAGE_MONTHLY, p->month, k, model),
        add_count(x, USAGE_MONTH_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_KEY, k, p->day), add_count(x, day_ttl);
    store_key(x->counts[x->ncounts], SK_USAGE_KEY, k, p->hour), add_count(x, USAGE_HOUR_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_KEY, k, p->month), add_count(x, USAGE_MONTH_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_KEY, k, total), add_count(x, 0);
    store_key(x->counts[x->ncounts], SK_USAGE_MODEL, model, p->day), add_count(x, day_ttl);
    store_key(x->counts[x->ncounts], SK_USAGE_MODEL, model, p->hour),
        add_count(x, USAGE_HOUR_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_MODEL, model, p->month),
        add_count(x, USAGE_MONTH_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_MODEL, model, total), add_count(x, 0);
    store_key(x->counts[x->ncounts], SK_USAGE_GLOBAL, p->day), add_count(x, day_ttl);
    store_key(x->counts[x->ncounts], SK_USAGE_GLOBAL, p->hour), add_count(x, USAGE_HOUR_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_GLOBAL, p->month), add_count(x, USAGE_MONTH_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_GLOBAL, total), add_count(x, 0);
    store_key(x->counts[x->ncounts], SK_USAGE_MINUTE, p->minute), add_count(x, USAGE_MINUTE_TTL_S);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, p->day, "keys"), add_set(x, k, day_ttl);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, p->month, "keys"),
        add_set(x, k, USAGE_MONTH_TTL_S);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, total, "keys"), add_set(x, k, 0);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, p->day, "models"), add_set(x, model, day_ttl);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, p->month, "models"),
        add_set(x, model, USAGE_MONTH_TTL_S);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, total, "models"), add_set(x, model, 0);
    store_key(x->sets[x->nsets], SK_USAGE_KEY_MODELS, p->day, k), add_set(x, model, day_ttl);
    store_key(x->sets[x->nsets], SK_USAGE_KEY_MODELS, p->month, k),
        add_set(x, model, USAGE_MONTH_TTL_S);
    if (!*acc)
        return;
    store_key(x->counts[x->ncounts], SK_USAGE_ACCOUNT, acc, p->day), add_count(x, day_ttl);
    store_key(x->counts[x->ncounts], SK_USAGE_ACCOUNT, acc, p->hour),
        add_count(x, USAGE_HOUR_TTL_S);
    store_key(x->counts[x->ncounts], SK_USAGE_ACCOUNT, acc, p->month),
        add_count(x, USAGE_MONTH_TTL_S);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, p->day, "accounts"), add_set(x, acc, day_ttl);
    store_key(x->sets[x->nsets], SK_USAGE_INDEX, p->month, "accounts"),
        add_set(x, acc, USAGE_MONTH_TTL_S);
}

static void counter_values(long long v[USAGE_NCOUNTERS], const struct accounting *a)
{
    const struct usage *u = &a->u;
    long long vals[USAGE_NCOUNTERS] = {
        1,         u->input,  u->output,      u->cache_create, u->cache_read,
        u->eph_5m, u->eph_1h, usage_total(u), a->cost};
    memcpy(v, vals, sizeof(vals));
}

/* The request-log entry (malloc'd JSON). */
static char *log_entry(const struct accounting *a, const char *model)
{
    char iso[32];
    struct tm tm;
    time_t secs = (time_t)(a->end_ms / 1000);
    gmtime_r(&secs, &tm);
    size_t n = strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso + n, sizeof(iso) - n, ".%03lldZ", a->end_ms % 1000);
    const struct usage *u = &a->u;
    char *s = xasprintf("{\"timestamp\":\"%s\",\"requestId\":\"%s\",\"keyId\":\"%s\","
                        "\"accountId\":\"%s\",\"model\":\"%s\",\"status\":%d,\"stream\":%s,"
                        "\"inputTokens\":%lld,\"outputTokens\":%lld,\"cacheCreateTokens\":%lld,"
                        "\"cacheReadTokens\":%lld,\"ephemeral5mTokens\":%lld,"
                        "\"ephemeral1hTokens\":%lld,\"allTokens\":%lld,\"costMicro\":%lld,"
                        "\"durationMs\":%ld,\"ttftMs\":%ld,\"attempts\":%d}",
                        iso, a->request_id, a->key_id, a->account_id, model, a->status,
                        a->stream ? "true" : "false", u->input, u->output, u->cache_create,
                        u->cache_read, u->eph_5m, u->eph_1h, usage_total(u), a->cost,
                        a->duration_ms, a->ttft_ms, a->attempts);
    return s;
}

/* Model names come from upstream answers: only what is safe in a key name
 * and a JSON string without escaping is kept. */
static void clean_model(char out[96], const char *model)
{
    size_t n = 0;
    for (const char *s = model; *s && n < 95; s++)
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            strchr("-_.:@/[]", *s))
            out[n++] = *s;
    out[n] = '\0';
    if (!n)
        snprintf(out, 96, "unknown");
}

static void add_locked(struct usage_stats *st, const struct adds *x)
{
    for (int i = 0; i < x->ncounts; i++) {
        struct item *e = item_locked(st->table, IT_COUNT, x->counts[i], "", x->count_ttl[i]);
        for (int j = 0; j < USAGE_NCOUNTERS; j++)
            e->v[j] += x->v[j];
    }
    for (int i = 0; i < x->nsets; i++)
        item_locked(st->table, IT_MEMBER, x->sets[i], x->members[i], x->set_ttl[i]);
}

void usage_stats_add(struct usage_stats *st, const struct app *app, const struct accounting *a)
{
    const struct relay_config *cfg = app->cfg;
    if (!cfg->enable_usage_statistics || (!a->u.seen && a->attempts == 0))
        return;
    char model[96], lk[3][STORE_KEY_MAX];
    clean_model(model, a->u.model);
    struct usage_period p;
    usage_period_at(app->tz_offset_min, a->end_ms, &p);
    struct adds *x = xcalloc(1, sizeof(*x));
    if (a->u.seen) {
        plan_adds(x, a, model, &p, cfg->token_usage_retention_days * 86400LL);
        counter_values(x->v, a);
    }
    long long log_ttl = cfg->token_usage_retention_days * 86400LL;
    int cap = (int)cfg->request_log_max;
    store_key(lk[0], SK_USAGE_RECORDS, a->key_id);
    store_key(lk[1], SK_USAGE_RECORDS_ALL);
    store_key(lk[2], SK_USAGE_ACCOUNT_RECORDS, a->account_id);
    pthread_mutex_lock(&st->mu);
    add_locked(st, x);
    for (int i = 0; i < (*a->account_id ? 3 : 2); i++)
        log_push(item_locked(st->table, IT_LOG, lk[i], "", log_ttl), log_entry(a, model), cap);
    pthread_mutex_unlock(&st->mu);
    free(x);
}

/* KEYS: nc counter hashes, nm sets, nl lists. ARGV: 1 nc, 2 nm, 3 nl, 4
 * the lists' cap, then per hash its TTL (0: none) and the 9 counters, per
 * set its TTL and the member, per list its TTL, n and n entries (oldest
 * first, so the newest ends up at the head). Returns the commands run. */
static const char flush_lua[] =
    "local names={'requests','inputTokens','outputTokens','cacheCreateTokens',"
    "'cacheReadTokens','ephemeral5mTokens','ephemeral1hTokens','allTokens','costMicro'}\n"
    "local nc,nm,nl=tonumber(ARGV[1]),tonumber(ARGV[2]),tonumber(ARGV[3])\n"
    "local cap=tonumber(ARGV[4])\n"
    "local p,k,ops=5,1,0\n"
    "for i=1,nc do\n"
    "  local key,ttl=KEYS[k],tonumber(ARGV[p])\n"
    "  local cur=redis.call('HMGET',key,unpack(names))\n"
    "  local out={}\n"
    "  for j=1,#names do out[#out+1]=names[j] "
    "out[#out+1]=(tonumber(cur[j]) or 0)+tonumber(ARGV[p+j]) end\n"
    "  redis.call('HSET',key,unpack(out))\n"
    "  ops=ops+2\n"
    "  if ttl>0 and not cur[1] then redis.call('EXPIRE',key,ttl) ops=ops+1 end\n"
    "  k=k+1 p=p+1+#names\n"
    "end\n"
    "for i=1,nm do\n"
    "  local key,ttl=KEYS[k],tonumber(ARGV[p])\n"
    "  ops=ops+1\n"
    "  if redis.call('SADD',key,ARGV[p+1])==1 and ttl>0 then "
    "redis.call('EXPIRE',key,ttl) ops=ops+1 end\n"
    "  k=k+1 p=p+2\n"
    "end\n"
    "for i=1,nl do\n"
    "  local key,ttl,n=KEYS[k],tonumber(ARGV[p]),tonumber(ARGV[p+1])\n"
    "  redis.call('LPUSH',key,unpack(ARGV,p+2,p+1+n))\n"
    "  redis.call('LTRIM',key,0,cap-1)\n"
    "  redis.call('EXPIRE',key,ttl)\n"
    "  ops=ops+3\n"
    "  k=k+1 p=p+2+n\n"
    "end\n"
    "return ops\n";

/* One script call's arguments: keys first, then the other arguments. */
struct call {
    const char **keys, **args;
    char **owned; /* number strings made here */
    int nkeys, nargs, nowned, kcap, acap, ocap;
    int n[3]; /* items per kind */
    long long cap;
};

static void push_ptr(const char ***v, int *n, int *capn, const char *s)
{
    if (*n == *capn) {
        *capn = *capn ? *capn * 2 : 64;
        *v = xrealloc(*v, (size_t)*capn * sizeof(**v));
    }
    (*v)[(*n)++] = s;
}

static const char *num(struct call *cl, long long v)
{
    char *s = xasprintf("%lld", v);
    if (cl->nowned == cl->ocap) {
        cl->ocap = cl->ocap ? cl->ocap * 2 : 64;
        cl->owned = xrealloc(cl->owned, (size_t)cl->ocap * sizeof(*cl->owned));
    }
    cl->owned[cl->nowned++] = s;
    return s;
}

static void call_add(struct call *cl, const struct item *e)
{
    push_ptr(&cl->keys, &cl->nkeys, &cl->kcap, e->key);
    push_ptr(&cl->args, &cl->nargs, &cl->acap, num(cl, e->ttl));
    cl->n[e->kind]++;
    if (e->kind == IT_COUNT) {
        for (int j = 0; j < USAGE_NCOUNTERS; j++)
            push_ptr(&cl->args, &cl->nargs, &cl->acap, num(cl, e->v[j]));
    } else if (e->kind == IT_MEMBER) {
        push_ptr(&cl->args, &cl->nargs, &cl->acap, e->member);
    } else {
        push_ptr(&cl->args, &cl->nargs, &cl->acap, num(cl, e->nrec));
        for (int j = 0; j < e->nrec; j++)
            push_ptr(&cl->args, &cl->nargs, &cl->acap, e->recs[j]);
        cl->cap = e->cap;
    }
}

static void call_release(struct call *cl)
{
    for (int i = 0; i < cl->nowned; i++)
        free(cl->owned[i]);
    free(cl->owned);
    free(cl->keys);
    free(cl->args);
    memset(cl, 0, sizeof(*cl));
}

/* Run one call: "EVAL lua nkeys KEYS... nc nm nl cap ARGS...". EVAL, not
 * EVALSHA: a call every few seconds can carry the script, and commandstats
 * then tells the flushes (eval) from the per-request scripts (evalsha).
 * Returns the commands it ran, or -ERR_IO (no answer: retry) / -ERR_REDIS. */
static long long call_run(struct rds_conn *c, struct call *cl)
{
    int argc = 3 + cl->nkeys + 4 + cl->nargs;
    const char **argv = xcalloc((size_t)argc, sizeof(*argv));
    argv[0] = "EVAL";
    argv[1] = flush_lua;
    argv[2] = num(cl, cl->nkeys);
    memcpy(argv + 3, cl->keys, (size_t)cl->nkeys * sizeof(*argv));
    for (int i = 0; i < 3; i++)
        argv[3 + cl->nkeys + i] = num(cl, cl->n[i]);
    argv[3 + cl->nkeys + 3] = num(cl, cl->cap ? cl->cap : 1);
    memcpy(argv + 3 + cl->nkeys + 4, cl->args, (size_t)cl->nargs * sizeof(*argv));
    redisReply *r = rds_command_argv(c, argc, argv, NULL);
    free(argv);
    long long rc = !r ? -ERR_IO : r->type == REDIS_REPLY_INTEGER ? r->integer + 1 : -ERR_REDIS;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_warn("usage", "statistics flush refused: %s", r->str);
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Put a failed chunk's items back for the next flush (they were not
 * written: no answer came). */
static void keep_locked(struct usage_stats *st, struct item *e)
{
    struct item *to = item_locked(st->table, e->kind, e->key, e->member, e->ttl);
    for (int j = 0; j < USAGE_NCOUNTERS; j++)
        to->v[j] += e->v[j];
    for (int j = 0; j < e->nrec; j++) {
        log_push(to, e->recs[j], e->cap);
        e->recs[j] = NULL;
    }
    e->nrec = 0;
}

/* Items in kind order (the script wants counters, then sets, then lists). */
static int collect(struct item **table, struct item ***out)
{
    int n = 0;
    for (size_t b = 0; b < STAT_BUCKETS; b++)
        for (struct item *e = table[b]; e; e = e->next)
            n++;
    *out = xcalloc((size_t)n + 1, sizeof(**out));
    n = 0;
    for (int kind = IT_COUNT; kind <= IT_LOG; kind++)
        for (size_t b = 0; b < STAT_BUCKETS; b++)
            for (struct item *e = table[b]; e; e = e->next)
                if ((int)e->kind == kind)
                    (*out)[n++] = e;
    return n;
}

static int flush_items(struct usage_stats *st, struct rds_conn *c, struct item **items, int n)
{
    int rc = 0;
    unsigned long long cmds = 0;
    for (int i = 0; i < n;) {
        struct call cl = {0};
        int first = i;
        for (; i < n && i - first < FLUSH_CHUNK; i++)
            call_add(&cl, items[i]);
        long long r = rc == 0 ? call_run(c, &cl) : -ERR_IO;
        call_release(&cl);
        if (r >= 0) {
            cmds += (unsigned long long)r;
            continue;
        }
        rc = -ERR_REDIS;
        if (r == -ERR_IO) { /* not written: keep for the next flush */
            pthread_mutex_lock(&st->mu);
            for (int j = first; j < i; j++)
                keep_locked(st, items[j]);
            pthread_mutex_unlock(&st->mu);
        }
    }
    pthread_mutex_lock(&st->mu);
    st->flushes += cmds > 0;
    st->commands += cmds;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int usage_stats_flush(struct usage_stats *st, const struct app *app, struct rds_conn *c)
{
    UNUSED(app);
    struct item *table[STAT_BUCKETS], **items;
    pthread_mutex_lock(&st->mu);
    memcpy(table, st->table, sizeof(table));
    memset(st->table, 0, sizeof(st->table));
    pthread_mutex_unlock(&st->mu);
    int n = collect(table, &items);
    int rc = n ? flush_items(st, c, items, n) : 0;
    if (rc != 0)
        log_warn("usage", "statistics flush failed; unanswered parts kept for a retry");
    free(items);
    free_table(table);
    return rc;
}

void usage_stats_counts(struct usage_stats *st, unsigned long long *flushes,
                        unsigned long long *commands)
{
    pthread_mutex_lock(&st->mu);
    *flushes = st->flushes;
    *commands = st->commands;
    pthread_mutex_unlock(&st->mu);
}
