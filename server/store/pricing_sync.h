/*
 * pricing_sync.h - this process's current price table, kept in step with
 * Redis so every relay instance prices alike.
 *
 * Redis holds the table as JSON under `model_pricing` and a change counter
 * under `model_pricing:version` (store_keys.h). At start the built-in table
 * (pricing_builtin.h) seeds `model_pricing` when it is absent (SET NX), then
 * the table is loaded from Redis. The maintenance thread calls
 * pricing_sync_check() every PRICING_RELOAD_INTERVAL seconds: one GET of the
 * version, and a reload only when it changed. An admin replacement writes the
 * table and bumps the version in one MULTI, and swaps the local table at once.
 * If Redis is down at start, or holds a table that does not parse, the
 * built-in (or the last good) table stays in use.
 *
 * The request path never touches Redis for prices: it takes a reference to
 * the current snapshot (pricing_sync_snapshot) and calls pricing_cost().
 */
#ifndef RELAY_PRICING_SYNC_H
#define RELAY_PRICING_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct relay_config;
struct rds_conn;
struct pricing;
struct pricing_sync;

struct pricing_status {
    long long version; /* model_pricing:version of the table in use; -1: built-in, not from Redis */
    time_t loaded_at;  /* when this process swapped the table in */
    time_t checked_at; /* last version check (0: none yet) */
    long long interval; /* seconds between checks */
    size_t models;
};

/* Parse the built-in table with the configured fallback prices, seed Redis if
 * it has no table, and load Redis's table. c may be NULL (Redis unavailable):
 * the built-in table is used until a check succeeds. Returns 0, or -ERR_INVAL
 * when the configuration's fallback prices or the built-in table are invalid.
 * The caller owns *out (pricing_sync_free). */
int pricing_sync_new(const struct relay_config *cfg, struct rds_conn *c, struct pricing_sync **out)
    __attribute__((warn_unused_result));
/* NULL is a no-op. No other thread may use s any more; snapshots already
 * taken stay valid until released. */
void pricing_sync_free(struct pricing_sync *s);

/* A reference to the current table (never NULL); pricing_release() it.
 * Thread-safe and cheap: one mutex-guarded pointer copy, no I/O. */
struct pricing *pricing_sync_snapshot(struct pricing_sync *s);

/* One GET of the version; when it differs from the table in use, load the
 * table from Redis and swap it in. Returns 0 (also when nothing changed or
 * Redis holds no table), -ERR_REDIS, or -ERR_INVAL when Redis's table does not
 * parse (logged once per version; the current table stays). Thread-safe. */
int pricing_sync_check(struct pricing_sync *s, struct rds_conn *c);

/* Validate json as a table, store it in Redis (SET + INCR version in one
 * MULTI) and swap it in locally. Returns 0 and the new version in *version;
 * -ERR_PARSE / -ERR_INVAL / -ERR_TOOBIG with the reason in err (nothing is
 * written); -ERR_REDIS when Redis refused or is unreachable (the local table
 * is unchanged). Thread-safe. */
int pricing_sync_replace(struct pricing_sync *s, struct rds_conn *c, const char *json, size_t len,
                         char *err, size_t errlen, long long *version)
    __attribute__((warn_unused_result));

/* What is in use, for the admin status route. Thread-safe. */
void pricing_sync_status(struct pricing_sync *s, struct pricing_status *out);

#endif
