/*
 * account_groups.c - account group records (see account_groups.h).
 *
 * DESIGN: the platform is an account family some provider serves ("claude",
 * "openai", "gemini"). A member must be an account of a provider of the
 * group's family; it is not
 * removed from a group when the account is deleted (the snapshot ignores a
 * member it does not know, as the original resolved members lazily).
 */
#include "compat.h"
#include "account_groups.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "notify.h"
#include "provider.h"
#include "rds.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#define PLATFORMS_MSG "platform must be \"claude\", \"openai\" or \"gemini\""
#define GROUPS_LIST_MAX 1024

static long long member_count(struct rds_conn *c, const char *gid)
{
    char key[STORE_KEY_MAX];
    store_key(key, SK_ACCOUNT_GROUP_MEMBERS, gid);
    redisReply *r = rds_command(c, "SCARD %s", key);
    long long n = rds_reply_int(r, -1);
    if (r)
        freeReplyObject(r);
    return n;
}

int account_groups_load(struct rds_conn *c, const char *gid, cJSON **out)
{
    char key[STORE_KEY_MAX];
    cJSON *rec = NULL;
    if (!admin_is_uuid(gid))
        return -ERR_NOTFOUND;
    store_key(key, SK_ACCOUNT_GROUP, gid);
    int rc = store_hgetall(c, key, &rec);
    long long n = rc == 0 ? member_count(c, gid) : 0;
    if (rc == 0 && n < 0)
        rc = -ERR_REDIS;
    if (rc != 0) {
        cJSON_Delete(rec);
        return rc;
    }
    cJSON_AddNumberToObject(rec, "memberCount", (double)n);
    *out = rec;
    return 0;
}

static int by_created(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(json_str(x, "createdAt", ""), json_str(y, "createdAt", ""));
}

static cJSON *sorted(cJSON **items, size_t n)
{
    qsort(items, n, sizeof(*items), by_created);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, items[i]);
    return arr;
}

int account_groups_list(struct rds_conn *c, cJSON **out)
{
    redisReply *ids = rds_command(c, "SMEMBERS %s", SK_ACCOUNT_GROUPS);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject(ids);
        return -ERR_REDIS;
    }
    cJSON **items = xcalloc(ids->elements + 1, sizeof(*items));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; rc != -ERR_REDIS && i < ids->elements && i < GROUPS_LIST_MAX; i++) {
        rc = account_groups_load(c, ids->element[i]->str, &items[n]);
        n += rc == 0;
    }
    freeReplyObject(ids);
    cJSON *arr = sorted(items, n);
    free(items);
    if (rc == -ERR_REDIS) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int bad(char *msg, size_t len, const char *text)
{
    snprintf(msg, len, "%s", text);
    return -ERR_INVAL;
}

static int check_text(const cJSON *v, const char *name, size_t min, size_t max, char *msg,
                      size_t len)
{
    size_t n = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
    if (!cJSON_IsString(v) || n < min || n > max) {
        snprintf(msg, len, "%s must be a string of %zu to %zu characters", name, min, max);
        return -ERR_INVAL;
    }
    return 0;
}

/* Is name an account family some provider serves? */
static bool platform_known(const cJSON *name)
{
    for (size_t i = 0; cJSON_IsString(name) && i < provider_count(); i++)
        if (strcmp(provider_at(i)->family, name->valuestring) == 0)
            return true;
    return false;
}

static int apply_one(cJSON *rec, const cJSON *it, bool create, char *msg, size_t len)
{
    const char *name = it->string;
    int rc = 0;
    if (strcmp(name, "name") == 0)
        rc = check_text(it, name, 1, 100, msg, len);
    else if (strcmp(name, "description") == 0)
        rc = cJSON_IsNull(it) ? 0 : check_text(it, name, 0, 500, msg, len);
    else if (strcmp(name, "platform") != 0)
        return snprintf(msg, len, "unsupported field: %s", name), -ERR_INVAL;
    else if (!platform_known(it))
        return bad(msg, len, PLATFORMS_MSG);
    else if (!create && strcmp(json_str(rec, "platform", ""), it->valuestring) != 0)
        return bad(msg, len, "platform cannot be changed");
    if (rc == 0)
        json_set_str(rec, name, cJSON_IsString(it) ? it->valuestring : "");
    return rc;
}

static int apply_body(cJSON *rec, const cJSON *body, bool create, char *msg, size_t len)
{
    if (!cJSON_IsObject(body))
        return bad(msg, len, "Request body must be a JSON object");
    const cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        if (apply_one(rec, it, create, msg, len) != 0)
            return -ERR_INVAL;
    }
    if (!*json_str(rec, "name", ""))
        return bad(msg, len, "name is required (1 to 100 characters)");
    if (!*json_str(rec, "platform", ""))
        return bad(msg, len, "platform is required (\"claude\", \"openai\" or \"gemini\")");
    return 0;
}

static cJSON *group_new(void)
{
    char id[37], now[32];
    secret_uuid(id);
    admin_iso_now(now);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "id", id);
    cJSON_AddStringToObject(rec, "description", "");
    cJSON_AddStringToObject(rec, "createdAt", now);
    return rec;
}

/* Every write: the other instances re-read the snapshot, this one now. */
static void changed(struct app *app, struct rds_conn *c)
{
    notify_publish(app, c, "accounts");
    if (accounts_refresh(app->accounts, c) != 0)
        log_warn("admin", "account snapshot refresh failed after a group change");
}

static int save(struct app *app, struct rds_conn *c, cJSON *rec)
{
    char key[STORE_KEY_MAX], now[32];
    const char *id = json_str(rec, "id", "");
    admin_iso_now(now);
    json_set_str(rec, "updatedAt", now);
    cJSON *count = cJSON_DetachItemFromObject(rec, "memberCount");
    store_key(key, SK_ACCOUNT_GROUP, id);
    int rc = store_hset_json(c, key, rec);
    redisReply *r = rc == 0 ? rds_command(c, "SADD %s %s", SK_ACCOUNT_GROUPS, id) : NULL;
    if (rc == 0 && (!r || r->type == REDIS_REPLY_ERROR))
        rc = -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    cJSON_AddItemToObject(rec, "memberCount", count ? count : cJSON_CreateNumber(0));
    if (rc == 0)
        changed(app, c);
    return rc;
}

int account_groups_write(struct app *app, struct rds_conn *c, const char *gid, const cJSON *body,
                         cJSON **out, char *msg, size_t len)
{
    cJSON *rec = NULL;
    int rc = 0;
    if (gid)
        rc = account_groups_load(c, gid, &rec);
    else
        rec = group_new();
    if (rc == 0)
        rc = apply_body(rec, body, !gid, msg, len);
    if (rc == 0)
        rc = save(app, c, rec);
    if (rc != 0) {
        cJSON_Delete(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

/* How many keys (not deleted) bind the group; -1 on a Redis error. */
static long long binding_keys(struct rds_conn *c, const char *gid)
{
    cJSON *keys = NULL;
    if (keys_load_all(c, false, &keys) != 0)
        return -1;
    char want[64];
    snprintf(want, sizeof(want), "group:%s", gid);
    long long n = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) n += strcmp(json_str(k, "claudeConsoleAccountId", ""), want) == 0;
    cJSON_Delete(keys);
    return n;
}

static int delete_refusal(struct rds_conn *c, const cJSON *rec, char *msg, size_t len)
{
    long long members = (long long)json_num(rec, "memberCount", 0);
    long long keys = binding_keys(c, json_str(rec, "id", ""));
    if (keys < 0)
        return -ERR_REDIS;
    if (keys > 0) {
        snprintf(msg, len, "The group is bound by %lld API key(s); unbind them first", keys);
        return -ERR_INVAL;
    }
    if (members > 0) {
        snprintf(msg, len, "The group still has %lld member(s); remove them first", members);
        return -ERR_INVAL;
    }
    return 0;
}

int account_groups_delete(struct app *app, struct rds_conn *c, const char *gid, char *msg,
                          size_t len)
{
    cJSON *rec = NULL;
    int rc = account_groups_load(c, gid, &rec);
    if (rc == 0)
        rc = delete_refusal(c, rec, msg, len);
    cJSON_Delete(rec);
    char key[STORE_KEY_MAX], members[STORE_KEY_MAX];
    redisReply *r[2] = {0};
    store_key(key, SK_ACCOUNT_GROUP, gid);
    store_key(members, SK_ACCOUNT_GROUP_MEMBERS, gid);
    if (rc == 0 && (rds_append(c, "DEL %s %s", key, members) != 0 ||
                    rds_append(c, "SREM %s %s", SK_ACCOUNT_GROUPS, gid) != 0 ||
                    rds_flush_replies(c, 2, r) != 0))
        rc = -ERR_REDIS;
    for (int i = 0; i < 2; i++)
        if (r[i])
            freeReplyObject(r[i]);
    if (rc == 0)
        changed(app, c);
    return rc;
}

/* Does an account of the group's family with this id exist? 1, 0, -ERR_REDIS. */
static int account_exists(struct rds_conn *c, const char *id, const char *family)
{
    int found = 0;
    for (size_t i = 0; found == 0 && admin_is_uuid(id) && i < provider_count(); i++) {
        const struct provider *p = provider_at(i);
        if (strcmp(p->family, family) != 0)
            continue;
        char key[STORE_KEY_MAX];
        store_key(key, SK_ACCOUNT_RECORD, p->record_prefix, id);
        redisReply *r = rds_command(c, "EXISTS %s", key);
        long long n = rds_reply_int(r, -1);
        if (r)
            freeReplyObject(r);
        found = n < 0 ? -ERR_REDIS : (int)n;
    }
    return found;
}

int account_groups_member(struct app *app, struct rds_conn *c, const char *gid,
                          const char *account_id, bool add, char *msg, size_t len)
{
    cJSON *rec = NULL;
    int rc = account_groups_load(c, gid, &rec);
    char family[16];
    snprintf(family, sizeof(family), "%s", json_str(rec, "platform", "claude"));
    cJSON_Delete(rec);
    int exists = rc == 0 && add ? account_exists(c, account_id, family) : 1;
    if (rc == 0 && exists < 0)
        rc = -ERR_REDIS;
    if (rc == 0 && exists == 0) {
        snprintf(msg, len, "accountId: no %s account with this id", family);
        rc = -ERR_INVAL;
    }
    char key[STORE_KEY_MAX];
    store_key(key, SK_ACCOUNT_GROUP_MEMBERS, gid);
    redisReply *r =
        rc == 0 ? rds_command(c, "%s %s %s", add ? "SADD" : "SREM", key, account_id) : NULL;
    if (rc == 0 && (!r || r->type == REDIS_REPLY_ERROR))
        rc = -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    if (rc == 0)
        changed(app, c);
    return rc;
}

int account_groups_members(struct rds_conn *c, const char *gid, cJSON **out)
{
    char key[STORE_KEY_MAX];
    if (!admin_is_uuid(gid))
        return -ERR_NOTFOUND;
    store_key(key, SK_ACCOUNT_GROUP_MEMBERS, gid);
    redisReply *r = rds_command(c, "SMEMBERS %s", key);
    int rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : -ERR_REDIS;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; rc == 0 && i < r->elements; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(r->element[i]->str));
    if (r)
        freeReplyObject(r);
    if (rc != 0) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return 0;
}
