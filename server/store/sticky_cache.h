/*
 * sticky_cache.h - sticky-session bindings this instance read or wrote
 * recently, in memory, so a session's request needs no GET and can take the
 * I/O-thread fast path.
 *
 * Why it stays correct across instances (docs/architecture.md "The
 * scheduler"):
 * - An entry never outlives its Redis key: it is usable only until the
 *   key's expiry as read (PTTL) or written (SET EX) by this instance, less
 *   the renewal threshold. So a binding that expires in Redis expires here
 *   too, and a reuse that is due for renewal reads Redis and renews there
 *   exactly as without the cache.
 * - Every bind (SET) also publishes "sticky <hash>"; the other instances
 *   forget that session at once and read the new binding at its next use.
 *   A forget bumps a generation, so a read that was under way meanwhile is
 *   not cached (sticky_cache_gen / sticky_cache_put).
 * - An entry is trusted for the caller's fresh_ms (STICKY_SESSION_CACHE_SECONDS
 *   while the notify subscription is up, 5 s while it is down, which bounds
 *   what a lost message costs); the listener clears the cache on every
 *   (re)subscription, since messages sent meanwhile are gone.
 * - Eligibility is not cached: the schedule step checks the bound account
 *   against the current snapshot at every request and rebinds at once.
 * Bounded: STICKY_CACHE_MAX entries, then it starts over (never grows).
 * Times are monotonic milliseconds, passed in (unit tests drive them).
 */
#ifndef RELAY_STICKY_CACHE_H
#define RELAY_STICKY_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#define STICKY_CACHE_MAX 16384
#define STICKY_CACHE_TTL_DOWN_MS 5000

struct sticky_cache;

struct sticky_cache *sticky_cache_new(void);
void sticky_cache_free(struct sticky_cache *sc);
/* The account bound to hash into out (len >= 37) when an entry is usable
 * at now_ms and no older than fresh_ms. Thread-safe. */
bool sticky_cache_get(struct sticky_cache *sc, const char *hash, long long now_ms,
                      long long fresh_ms, char *out, size_t len);
/* The generation to pass to sticky_cache_put for a read starting now. */
unsigned long sticky_cache_gen(struct sticky_cache *sc);
/* Remember hash -> account at now_ms, usable until until_ms (its Redis
 * key's expiry less the renewal threshold). Nothing is kept when until_ms
 * is not after now_ms, or when a forget or clear happened since gen was
 * read. Thread-safe. */
void sticky_cache_put(struct sticky_cache *sc, const char *hash, const char *account,
                      long long now_ms, long long until_ms, unsigned long gen);
/* Forget one session (another instance bound it). Thread-safe. */
void sticky_cache_forget(struct sticky_cache *sc, const char *hash);
/* Forget everything (messages may have been missed). Thread-safe. */
void sticky_cache_clear(struct sticky_cache *sc);
/* Entries held (tests, /health). */
long sticky_cache_size(struct sticky_cache *sc);
/* How long an entry put at now_ms may be used: until the key's expiry
 * (now_ms + ttl_left_ms) less renew_ms. Pure. */
long long sticky_cache_until(long long now_ms, long long ttl_left_ms, long long renew_ms);

#endif
