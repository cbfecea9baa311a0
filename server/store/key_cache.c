/*
 * key_cache.c - the in-memory API-key cache (see key_cache.h).
 * LOCKING: kc->mu guards the table; a leaf lock (keys_unref never takes
 * another lock). Entries hold a reference on their api_key.
 */
#include "compat.h"
#include "clock.h"
#include "key_cache.h"
#include "keys.h"
#include "xmalloc.h"

#include <pthread.h>
#include <time.h>

#define BUCKETS 1024

struct entry {
    struct entry *next;
    char hash[65];
    long long at_ms; /* monotonic */
    struct api_key *key;
};

struct key_cache {
    pthread_mutex_t mu; /* guards: table, n */
    struct entry *table[BUCKETS];
    long n;
};

static unsigned bucket(const char *hash)
{
    unsigned h = 2166136261u; /* FNV-1a over a keyed hash: already uniform */
    for (; *hash; hash++)
        h = (h ^ (unsigned char)*hash) * 16777619u;
    return h % BUCKETS;
}

struct key_cache *key_cache_new(void)
{
    struct key_cache *kc = xcalloc(1, sizeof(*kc));
    pthread_mutex_init(&kc->mu, NULL);
    return kc;
}

static void clear_locked(struct key_cache *kc)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        struct entry *e = kc->table[i];
        while (e) {
            struct entry *next = e->next;
            keys_unref(e->key);
            free(e);
            e = next;
        }
        kc->table[i] = NULL;
    }
    kc->n = 0;
}

void key_cache_free(struct key_cache *kc)
{
    if (!kc)
        return;
    clear_locked(kc);
    pthread_mutex_destroy(&kc->mu);
    free(kc);
}

struct api_key *key_cache_get(struct key_cache *kc, const char *hash, long long fresh_ms)
{
    struct api_key *k = NULL;
    long long now = clock_mono_ms();
    pthread_mutex_lock(&kc->mu);
    for (struct entry *e = kc->table[bucket(hash)]; e; e = e->next)
        if (strcmp(e->hash, hash) == 0) {
            if (now - e->at_ms <= fresh_ms)
                k = keys_ref(e->key);
            break;
        }
    pthread_mutex_unlock(&kc->mu);
    return k;
}

static void remove_hash_locked(struct key_cache *kc, const char *hash)
{
    for (struct entry **p = &kc->table[bucket(hash)]; *p; p = &(*p)->next)
        if (strcmp((*p)->hash, hash) == 0) {
            struct entry *e = *p;
            *p = e->next;
            keys_unref(e->key);
            free(e);
            kc->n--;
            return;
        }
}

void key_cache_put(struct key_cache *kc, const char *hash, struct api_key *k)
{
    struct entry *e = xcalloc(1, sizeof(*e));
    snprintf(e->hash, sizeof(e->hash), "%s", hash);
    e->at_ms = clock_mono_ms();
    e->key = keys_ref(k);
    pthread_mutex_lock(&kc->mu);
    remove_hash_locked(kc, hash);
    if (kc->n >= KEY_CACHE_MAX)
        clear_locked(kc); /* a flood of distinct keys: start over, never grow */
    unsigned b = bucket(hash);
    e->next = kc->table[b];
    kc->table[b] = e;
    kc->n++;
    pthread_mutex_unlock(&kc->mu);
}

void key_cache_forget(struct key_cache *kc, const char *id)
{
    pthread_mutex_lock(&kc->mu);
    for (size_t i = 0; i < BUCKETS; i++)
        for (struct entry **p = &kc->table[i]; *p;) {
            struct entry *e = *p;
            if (strcmp(e->key->id, id) != 0) {
                p = &e->next;
                continue;
            }
            *p = e->next;
            keys_unref(e->key);
            free(e);
            kc->n--;
        }
    pthread_mutex_unlock(&kc->mu);
}

long key_cache_size(struct key_cache *kc)
{
    pthread_mutex_lock(&kc->mu);
    long n = kc->n;
    pthread_mutex_unlock(&kc->mu);
    return n;
}
