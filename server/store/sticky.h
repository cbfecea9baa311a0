/*
 * sticky.h - sticky sessions in Redis: SK_STICKY_SESSION (session hash ->
 * account id, EX STICKY_SESSION_TTL_HOURS). Read by the schedule step (a
 * worker) when the session is not in this instance's sticky_cache; written
 * when a session binds or rebinds. Thread-safe (each caller brings its
 * connection).
 */
#ifndef RELAY_STICKY_H
#define RELAY_STICKY_H

#include <stddef.h>

struct rds_conn;

/* The account bound to session hash into out (len >= 37) and the ms its
 * binding has left (-1: no expiry) into *left_ms: GET + PTTL pipelined (one
 * round trip), then EXPIRE ttl_s when renew_s > 0 and less than that is
 * left. 0, -ERR_NOTFOUND (no binding, or an invalid hash), -ERR_REDIS. */
int sticky_get(struct rds_conn *c, const char *hash, long long ttl_s, long long renew_s, char *out,
               size_t len, long long *left_ms) __attribute__((warn_unused_result));
/* Bind session hash to account id for ttl_s: one SET EX, and when notice
 * is not NULL a PUBLISH of it on the notify channel in the same round trip
 * (the other instances forget their cached binding). 0 or -ERR_REDIS. */
int sticky_set(struct rds_conn *c, const char *hash, const char *account_id, long long ttl_s,
               const char *notice) __attribute__((warn_unused_result));

#endif
