/*
 * usage_read.c - reading the statistics (see usage_read.h).
 */
#include "compat.h"
#include "errs.h"
#include "json.h"
#include "rds.h"
#include "usage_read.h"
#include "xmalloc.h"

static int append_hmgets(struct rds_conn *c, int n, char (*keys)[STORE_KEY_MAX])
{
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *argv[2 + USAGE_NCOUNTERS] = {"HMGET", keys[i]};
        for (int j = 0; j < USAGE_NCOUNTERS; j++)
            argv[2 + j] = usage_counter_names[j];
        rc = rds_append_argv(c, 2 + USAGE_NCOUNTERS, argv, NULL);
    }
    return rc;
}

static int parse_sum(const redisReply *r, struct usage_sum *out)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != USAGE_NCOUNTERS)
        return -ERR_REDIS;
    for (int j = 0; j < USAGE_NCOUNTERS; j++) {
        const redisReply *e = r->element[j];
        out->v[j] = e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
    }
    return 0;
}

int usage_read_sums(struct rds_conn *c, int n, char (*keys)[STORE_KEY_MAX], struct usage_sum *out)
{
    if (n <= 0)
        return 0;
    redisReply **rep = xcalloc((size_t)n, sizeof(*rep));
    struct usage_sum *tmp = xcalloc((size_t)n, sizeof(*tmp));
    int rc = append_hmgets(c, n, keys);
    if (rc == 0)
        rc = rds_flush_replies(c, n, rep);
    for (int i = 0; i < n && rc == 0; i++)
        rc = parse_sum(rep[i], &tmp[i]);
    if (rc == 0)
        memcpy(out, tmp, (size_t)n * sizeof(*out));
    for (int i = 0; i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    free(rep);
    free(tmp);
    return rc ? -ERR_REDIS : 0;
}

void usage_format_cost(long long micro, char out[32])
{
    double usd = (double)micro / 1e6;
    int digits = usd >= 1 ? 2 : usd >= 0.001 ? 4 : 6;
    snprintf(out, 32, "$%.*f", digits, usd);
}

static void add_cost(cJSON *obj, long long micro)
{
    char f[32];
    usage_format_cost(micro, f);
    cJSON_AddNumberToObject(obj, "cost", (double)micro / 1e6);
    cJSON_AddStringToObject(obj, "formattedCost", f);
}

void usage_sum_json(cJSON *obj, const struct usage_sum *s)
{
    for (int j = 0; j < UC_COST; j++)
        cJSON_AddNumberToObject(obj, usage_counter_names[j], (double)s->v[j]);
    add_cost(obj, s->v[UC_COST]);
}

void usage_sum_add(struct usage_sum *to, const struct usage_sum *s)
{
    for (int j = 0; j < USAGE_NCOUNTERS; j++)
        to->v[j] += s->v[j];
}

int usage_read_log(struct rds_conn *c, const char *key, int limit, const char *model, cJSON **out)
{
    bool filter = model && *model;
    /* A model filter reads the whole log (it is bounded by REQUEST_LOG_MAX). */
    redisReply *r = rds_command(c, "LRANGE %s 0 %d", key, filter ? -1 : limit - 1);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return -ERR_REDIS;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < r->elements && cJSON_GetArraySize(arr) < limit; i++) {
        const redisReply *e = r->element[i];
        cJSON *rec = e->str ? json_parse(e->str, e->len, JSON_MAX_DEPTH, true) : NULL;
        if (!rec || (filter && strcmp(json_str(rec, "model", ""), model) != 0)) {
            cJSON_Delete(rec);
            continue;
        }
        long long micro = json_int(rec, "costMicro", 0);
        cJSON_DeleteItemFromObject(rec, "costMicro");
        add_cost(rec, micro);
        cJSON_AddItemToArray(arr, rec);
    }
    freeReplyObject(r);
    *out = arr;
    return 0;
}
