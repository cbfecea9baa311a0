/*
 * usage_read.h - reading the statistics usage_stats.c writes: counter
 * buckets (pipelined HMGET, one round trip for any number), index sets and
 * the request logs, and their JSON shapes (docs/admin-stats-api.md). Every
 * read is bounded by the periods and ids the caller names: no SCAN.
 */
#ifndef RELAY_USAGE_READ_H
#define RELAY_USAGE_READ_H

#include <stdbool.h>

#include "store_keys.h"
#include "usage_stats.h"

struct rds_conn;
struct cJSON;

struct usage_sum {
    long long v[USAGE_NCOUNTERS]; /* enum usage_counter */
};

/* The counters of n buckets (keys[i]) in one round trip; a missing bucket
 * reads as zeros. 0 or -ERR_REDIS (out untouched then). */
int usage_read_sums(struct rds_conn *c, int n, char (*keys)[STORE_KEY_MAX], struct usage_sum *out)
    __attribute__((warn_unused_result));
/* The newest entries of a request log (list key), at most limit, those of
 * model only when model is not NULL/"": 0 and *out (a JSON array, caller
 * deletes) or -ERR_REDIS. Each entry gets cost and formattedCost. */
int usage_read_log(struct rds_conn *c, const char *key, int limit, const char *model,
                   struct cJSON **out) __attribute__((warn_unused_result));

/* Add the usage fields (requests ... allTokens, cost, formattedCost) to obj. */
void usage_sum_json(struct cJSON *obj, const struct usage_sum *s);
void usage_sum_add(struct usage_sum *to, const struct usage_sum *s);
/* "$1.23" (>= 1), "$0.0123" (>= 0.001), else six decimals. */
void usage_format_cost(long long micro, char out[32]);

#endif
