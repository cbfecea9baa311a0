/*
 * store.h - typed helpers over rds for the server's records.
 *
 * Every function borrows a connection checked out by the caller (one per
 * thread) and returns 0 / -ERR_x; Redis key names come from store_keys.h.
 */
#ifndef RELAY_STORE_H
#define RELAY_STORE_H

#include <stddef.h>

#include <hiredis.h>

#include "store_keys.h"

struct rds_conn;
struct cJSON;

/* HGETALL key into a new cJSON object of strings (caller deletes).
 * -ERR_NOTFOUND when the hash does not exist. */
int store_hgetall(struct rds_conn *c, const char *key, struct cJSON **out);
/* An HGETALL reply as a new cJSON object of strings (caller deletes); NULL
 * when the reply is not a non-empty array. */
struct cJSON *store_reply_object(const redisReply *r);
/* SMEMBERS key: 0 and *out (an array reply; caller frees), or -ERR_REDIS. */
int store_members(struct rds_conn *c, const char *key, redisReply **out)
    __attribute__((warn_unused_result));
/* HSET key with every string/number/bool member of obj (numbers and bools as
 * text), plus "_v" = STORE_FORMAT_VERSION. */
int store_hset_json(struct rds_conn *c, const char *key, const struct cJSON *obj);

#endif
