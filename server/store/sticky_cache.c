/*
 * sticky_cache.c - the in-memory sticky-session cache (see sticky_cache.h).
 * LOCKING: sc->mu guards the table, n and gen; a leaf lock.
 */
#include "compat.h"
#include "sticky_cache.h"
#include "xmalloc.h"

#include <pthread.h>

#define BUCKETS 4096
#define HASH_LEN 65

struct entry {
    struct entry *next;
    char hash[HASH_LEN];
    char account[37];
    long long at_ms;    /* when read or written */
    long long until_ms; /* the Redis key's expiry less the renewal threshold */
};

struct sticky_cache {
    pthread_mutex_t mu; /* guards: table, n, gen */
    struct entry *table[BUCKETS];
    long n;
    unsigned long gen; /* bumped by every forget and clear */
};

static unsigned bucket(const char *hash)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *hash; hash++)
        h = (h ^ (unsigned char)*hash) * 16777619u;
    return h % BUCKETS;
}

struct sticky_cache *sticky_cache_new(void)
{
    struct sticky_cache *sc = xcalloc(1, sizeof(*sc));
    pthread_mutex_init(&sc->mu, NULL);
    return sc;
}

static void clear_locked(struct sticky_cache *sc)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        struct entry *e = sc->table[i];
        while (e) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
        sc->table[i] = NULL;
    }
    sc->n = 0;
}

void sticky_cache_free(struct sticky_cache *sc)
{
    if (!sc)
        return;
    clear_locked(sc);
    pthread_mutex_destroy(&sc->mu);
    free(sc);
}

static struct entry **find_locked(struct sticky_cache *sc, const char *hash)
{
    struct entry **p = &sc->table[bucket(hash)];
    while (*p && strcmp((*p)->hash, hash) != 0)
        p = &(*p)->next;
    return p;
}

bool sticky_cache_get(struct sticky_cache *sc, const char *hash, long long now_ms,
                      long long fresh_ms, char *out, size_t len)
{
    bool hit = false;
    pthread_mutex_lock(&sc->mu);
    struct entry *e = *find_locked(sc, hash);
    if (e && now_ms < e->until_ms && now_ms - e->at_ms <= fresh_ms && strlen(e->account) < len) {
        snprintf(out, len, "%s", e->account);
        hit = true;
    }
    pthread_mutex_unlock(&sc->mu);
    return hit;
}

unsigned long sticky_cache_gen(struct sticky_cache *sc)
{
    pthread_mutex_lock(&sc->mu);
    unsigned long g = sc->gen;
    pthread_mutex_unlock(&sc->mu);
    return g;
}

static void remove_locked(struct sticky_cache *sc, const char *hash)
{
    struct entry **p = find_locked(sc, hash);
    if (!*p)
        return;
    struct entry *e = *p;
    *p = e->next;
    free(e);
    sc->n--;
}

void sticky_cache_put(struct sticky_cache *sc, const char *hash, const char *account,
                      long long now_ms, long long until_ms, unsigned long gen)
{
    if (until_ms <= now_ms || strlen(hash) >= HASH_LEN || strlen(account) >= 37)
        return;
    struct entry *e = xcalloc(1, sizeof(*e));
    snprintf(e->hash, sizeof(e->hash), "%s", hash);
    snprintf(e->account, sizeof(e->account), "%s", account);
    e->at_ms = now_ms;
    e->until_ms = until_ms;
    pthread_mutex_lock(&sc->mu);
    if (gen != sc->gen) { /* forgotten while it was read: the read may be older */
        pthread_mutex_unlock(&sc->mu);
        free(e);
        return;
    }
    remove_locked(sc, hash);
    if (sc->n >= STICKY_CACHE_MAX)
        clear_locked(sc); /* a flood of sessions: start over, never grow */
    unsigned b = bucket(hash);
    e->next = sc->table[b];
    sc->table[b] = e;
    sc->n++;
    pthread_mutex_unlock(&sc->mu);
}

void sticky_cache_forget(struct sticky_cache *sc, const char *hash)
{
    pthread_mutex_lock(&sc->mu);
    remove_locked(sc, hash);
    sc->gen++;
    pthread_mutex_unlock(&sc->mu);
}

void sticky_cache_clear(struct sticky_cache *sc)
{
    pthread_mutex_lock(&sc->mu);
    clear_locked(sc);
    sc->gen++;
    pthread_mutex_unlock(&sc->mu);
}

long sticky_cache_size(struct sticky_cache *sc)
{
    pthread_mutex_lock(&sc->mu);
    long n = sc->n;
    pthread_mutex_unlock(&sc->mu);
    return n;
}

long long sticky_cache_until(long long now_ms, long long ttl_left_ms, long long renew_ms)
{
    return now_ms + ttl_left_ms - renew_ms;
}
