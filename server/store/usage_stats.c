/*
 * usage_stats.c - in-memory breakdown counters (see usage_stats.h).
 * LOCKING: st->mu guards the bucket table; flushing swaps the table out
 * under the lock and talks to Redis without it.
 */
#include "compat.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "log.h"
#include "rds.h"
#include "store_keys.h"
#include "usage.h"
#include "usage_stats.h"
#include "xmalloc.h"

#include <pthread.h>

#define STAT_BUCKETS 256
#define NCOUNTERS 8

static const char *const counter_names[NCOUNTERS] = {
    "requests",        "inputTokens",       "outputTokens",      "cacheCreateTokens",
    "cacheReadTokens", "ephemeral5mTokens", "ephemeral1hTokens", "allTokens"};

struct stat_entry {
    char key[STORE_KEY_MAX];
    long long v[NCOUNTERS];
    struct stat_entry *next;
};

struct usage_stats {
    pthread_mutex_t mu; /* guards: table */
    struct stat_entry *table[STAT_BUCKETS];
};

struct usage_stats *usage_stats_new(void)
{
    struct usage_stats *st = xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

static void free_table(struct stat_entry **table)
{
    for (size_t b = 0; b < STAT_BUCKETS; b++)
        while (table[b]) {
            struct stat_entry *e = table[b];
            table[b] = e->next;
            free(e);
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

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Caller holds st->mu. */
static void add_locked(struct stat_entry **table, const char *key, const long long *v)
{
    struct stat_entry **p = &table[hash_str(key) % STAT_BUCKETS];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    if (!*p) {
        *p = xcalloc(1, sizeof(**p));
        snprintf((*p)->key, sizeof((*p)->key), "%s", key);
    }
    for (int i = 0; i < NCOUNTERS; i++)
        (*p)->v[i] += v[i];
}

void usage_stats_add(struct usage_stats *st, const struct app *app, const char *key_id,
                     const char *account_id, const struct usage *u)
{
    if (!app->cfg->enable_usage_statistics)
        return;
    char date[16], iso[32], keys[3][STORE_KEY_MAX];
    usage_dates(app->tz_offset_min, time(NULL), date, iso);
    store_key(keys[0], SK_USAGE_DAILY, date, key_id, u->model[0] ? u->model : "unknown");
    store_key(keys[1], SK_USAGE_ACCOUNT, account_id, date);
    store_key(keys[2], SK_USAGE_GLOBAL, date);
    long long v[NCOUNTERS] = {1,         u->input,  u->output,     u->cache_create, u->cache_read,
                              u->eph_5m, u->eph_1h, usage_total(u)};
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < 3; i++)
        add_locked(st->table, keys[i], v);
    pthread_mutex_unlock(&st->mu);
}

static int append_entry(struct rds_conn *c, const struct stat_entry *e, long long ttl)
{
    int n = 0;
    for (int i = 0; i < NCOUNTERS; i++, n++)
        if (rds_append(c, "HINCRBY %s %s %lld", e->key, counter_names[i], e->v[i]) != 0)
            return -1;
    if (rds_append(c, "EXPIRE %s %lld", e->key, ttl) != 0)
        return -1;
    return n + 1;
}

static int flush_table(struct rds_conn *c, struct stat_entry **table, long long ttl)
{
    int total = 0;
    for (size_t b = 0; b < STAT_BUCKETS; b++)
        for (struct stat_entry *e = table[b]; e; e = e->next) {
            int n = append_entry(c, e, ttl);
            if (n < 0)
                return -ERR_REDIS;
            total += n;
        }
    if (total == 0)
        return 0;
    redisReply **replies = xcalloc((size_t)total, sizeof(*replies));
    int rc = rds_flush_replies(c, total, replies);
    for (int i = 0; i < total; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    free(replies);
    return rc == 0 ? 0 : -ERR_REDIS;
}

int usage_stats_flush(struct usage_stats *st, const struct app *app, struct rds_conn *c)
{
    struct stat_entry *table[STAT_BUCKETS];
    pthread_mutex_lock(&st->mu);
    memcpy(table, st->table, sizeof(table));
    memset(st->table, 0, sizeof(st->table));
    pthread_mutex_unlock(&st->mu);
    int rc = flush_table(c, table, app->cfg->token_usage_retention_days * 86400LL);
    if (rc != 0) { /* keep the counts for the next try */
        log_warn("usage", "statistics flush failed; will retry");
        pthread_mutex_lock(&st->mu);
        for (size_t b = 0; b < STAT_BUCKETS; b++)
            for (struct stat_entry *e = table[b]; e; e = e->next)
                add_locked(st->table, e->key, e->v);
        pthread_mutex_unlock(&st->mu);
    }
    free_table(table);
    return rc;
}
