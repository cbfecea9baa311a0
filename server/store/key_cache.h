/*
 * key_cache.h - recently used API keys in memory, by keyed hash, so a key
 * seen recently costs no Redis round trip to authenticate.
 *
 * Freshness: an admin change to a key (update, delete, regenerate,
 * activation) publishes "key <id>" on the notify channel; every instance
 * forgets that key at once (notify.c). An entry is trusted for
 * KEY_CACHE_TTL_MS while the notify subscription is up and for
 * KEY_CACHE_TTL_DOWN_MS otherwise, which bounds staleness when messages
 * may have been missed. Unknown keys are never cached (no negative entries
 * an attacker could fill).
 */
#ifndef RELAY_KEY_CACHE_H
#define RELAY_KEY_CACHE_H

#include <stdbool.h>

struct key_cache;
struct api_key;

#define KEY_CACHE_TTL_MS 300000
#define KEY_CACHE_TTL_DOWN_MS 5000
#define KEY_CACHE_MAX 8192

struct key_cache *key_cache_new(void);
void key_cache_free(struct key_cache *kc);
/* A fresh entry for hash: a new reference (keys_unref it), or NULL.
 * fresh_ms: how old an entry may be. Thread-safe. */
struct api_key *key_cache_get(struct key_cache *kc, const char *hash, long long fresh_ms);
/* Remember k under hash (takes a reference of its own). Thread-safe. */
void key_cache_put(struct key_cache *kc, const char *hash, struct api_key *k);
/* Forget every entry of key id. Thread-safe. */
void key_cache_forget(struct key_cache *kc, const char *id);
/* Entries held (tests, /health). */
long key_cache_size(struct key_cache *kc);

#endif
