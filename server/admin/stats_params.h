/*
 * stats_params.h - query parameters of the statistics routes, validated
 * with a 400 naming the parameter ({"error":"Invalid parameter","message":
 * "<name>: ..."}), and the handlers of stats_models.c.
 */
#ifndef RELAY_STATS_PARAMS_H
#define RELAY_STATS_PARAMS_H

#include <stdbool.h>

struct reqctx;

/* Query parameter name as an integer in [min, max], dflt when absent: 0, or
 * -ERR_INVAL after the 400 was sent. */
int stats_int_param(struct reqctx *rq, const char *name, long long min, long long max,
                    long long dflt, long long *out);
/* Query parameter name as the index of one of vals (NULL-terminated), dflt
 * when absent; -1 after the 400 was sent. */
int stats_enum_param(struct reqctx *rq, const char *name, const char *const vals[], int dflt);
/* An id (a UUID) from the path (in_path) or the query: 0 and *out (NULL when
 * absent from the query), or -ERR_INVAL after the 400 was sent. */
int stats_id_param(struct reqctx *rq, const char *name, bool in_path, const char **out);

struct rds_conn;
struct cJSON;
/* One key's models (key_id) or all models in one period (a day, a month, or
 * "total" without key_id), as the model-stats array (caller deletes). 0 or
 * -ERR_REDIS. */
int stats_model_rows(struct rds_conn *c, const char *period, const char *key_id, struct cJSON **out)
    __attribute__((warn_unused_result));

/* The labels (days YYYY-MM-DD or hours YYYY-MM-DDTHH, TIMEZONE_OFFSET) of
 * the n days or hours up to now, oldest first. */
void stats_trend_labels(int tz_offset_min, bool hours, int n, char (*labels)[24]);

/* GET /admin/model-stats, /admin/usage-costs, /admin/cost-ranking,
 * /admin/api-keys-usage-trend, /admin/account-usage-trend. */
void stats_h_model_stats(struct reqctx *rq);
void stats_h_usage_costs(struct reqctx *rq);
void stats_h_cost_ranking(struct reqctx *rq);
void stats_h_keys_trend(struct reqctx *rq);
void stats_h_accounts_trend(struct reqctx *rq);

#endif
