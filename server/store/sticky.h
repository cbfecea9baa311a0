/*
 * sticky.h - sticky sessions in Redis: SK_STICKY_SESSION (session hash ->
 * account id, EX STICKY_SESSION_TTL_HOURS). Read by the schedule step (a
 * worker) once per request that has a session hash; written when a session
 * binds or rebinds. Thread-safe (each caller brings its connection).
 */
#ifndef RELAY_STICKY_H
#define RELAY_STICKY_H

#include <stddef.h>

struct rds_conn;

/* The account bound to session hash into out (len >= 37): one GET, or GET +
 * TTL pipelined when renew_s > 0, then EXPIRE ttl_s when less than renew_s
 * is left. 0, -ERR_NOTFOUND (no binding, or an invalid hash), -ERR_REDIS. */
int sticky_get(struct rds_conn *c, const char *hash, long long ttl_s, long long renew_s, char *out,
               size_t len) __attribute__((warn_unused_result));
/* Bind session hash to account id for ttl_s: one SET EX. 0 or -ERR_REDIS. */
int sticky_set(struct rds_conn *c, const char *hash, const char *account_id, long long ttl_s)
    __attribute__((warn_unused_result));

#endif
