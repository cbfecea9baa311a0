/* store.c - typed helpers over rds and the key-name formatter (store.h). */
#include "compat.h"
#include "errs.h"
#include "json.h"
#include "rds.h"
#include "store.h"
#include "xmalloc.h"

#include <stdarg.h>

void store_key(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, STORE_KEY_MAX, fmt, ap);
    va_end(ap);
    BUG_ON(n < 0 || n >= STORE_KEY_MAX);
}

struct cJSON *store_reply_object(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return NULL;
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            cJSON_AddStringToObject(obj, r->element[i]->str, r->element[i + 1]->str);
    return obj;
}

int store_members(struct rds_conn *c, const char *key, redisReply **out)
{
    redisReply *r = rds_command(c, "SMEMBERS %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return -ERR_REDIS;
    }
    *out = r;
    return 0;
}

int store_hgetall(struct rds_conn *c, const char *key, struct cJSON **out)
{
    redisReply *r = rds_command(c, "HGETALL %s", key);
    int rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : -ERR_REDIS;
    cJSON *obj = rc == 0 ? store_reply_object(r) : NULL;
    if (rc == 0 && !obj)
        rc = -ERR_NOTFOUND;
    if (r)
        freeReplyObject(r);
    if (rc == 0)
        *out = obj;
    return rc;
}

/* A member's value as stored: text, "true"/"false", "" for null, JSON else. */
static char *stored_text(const cJSON *it)
{
    if (cJSON_IsString(it))
        return xstrdup(it->valuestring);
    if (cJSON_IsBool(it))
        return xstrdup(cJSON_IsTrue(it) ? "true" : "false");
    return cJSON_IsNull(it) ? xstrdup("") : json_print(it);
}

int store_hset_json(struct rds_conn *c, const char *key, const struct cJSON *obj)
{
    size_t n = 0, cap = 4 + 2 * (size_t)cJSON_GetArraySize(obj);
    const char **argv = xcalloc(cap, sizeof(char *));
    char **owned = xcalloc(cap, sizeof(char *));
    argv[n++] = "HSET";
    argv[n++] = key;
    argv[n++] = "_v";
    argv[n++] = STORE_FORMAT_VERSION;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        if (!it->string || strcmp(it->string, "_v") == 0)
            continue;
        owned[n] = stored_text(it);
        argv[n] = it->string;
        argv[n + 1] = owned[n];
        n += 2;
    }
    redisReply *r = rds_command_argv(c, (int)n, argv, NULL);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    return rc;
}
