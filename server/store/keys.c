/*
 * keys.c - relay API keys: lookup on the request path and the records the
 * admin API (admin/keys_admin.c) reads and writes.
 *
 * The record hash stores strings; a field table gives each known field its
 * type, used both to validate admin input and to render typed JSON.
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "rds.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#include <ctype.h>
#include <time.h>

enum ftype { F_STR = 0, F_BOOL = 1, F_INT = 2, F_NUM = 3, F_ARR = 4, F_TIME = 5 };

/* The fields of a key record. Only what the relay enforces may be set
 * through the admin API (admin: true); key policy fields (limits, models,
 * clients, permissions) arrive with their enforcement. */
static const struct kfield {
    const char *name;
    enum ftype type;
    long long max;
    bool admin;
} key_fields[] = {
    {"name", F_STR, 100, true},    {"description", F_STR, 500, true},
    {"isActive", F_BOOL, 0, true}, {"expiresAt", F_TIME, 0, true},
    {"tags", F_ARR, 0, true},      {"isDeleted", F_BOOL, 0, false},
};

static const struct kfield *find_field(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(key_fields); i++)
        if (strcmp(key_fields[i].name, name) == 0)
            return &key_fields[i];
    return NULL;
}

/* ---- request path ---- */

/* KEYS[1] is the index entry under the current ENCRYPTION_KEY, KEYS[2..] those
 * under old keys (ENCRYPTION_KEY_OLD). A key found under an old hash is
 * re-indexed under the current one in the same script, so a rotation needs no
 * re-issue: each key moves over on its first use. ARGV: record prefix, new hash. */
static const char auth_lua[] = "local id=redis.call('GET',KEYS[1])\n"
                               "if not id then\n"
                               "  for i=2,#KEYS do\n"
                               "    id=redis.call('GET',KEYS[i])\n"
                               "    if id then\n"
                               "      if redis.call('EXISTS',ARGV[1]..id)==1 then\n"
                               "        redis.call('SET',KEYS[1],id)\n"
                               "        redis.call('DEL',KEYS[i])\n"
                               "        redis.call('HSET',ARGV[1]..id,'keyHash',ARGV[2])\n"
                               "      end\n"
                               "      break\n"
                               "    end\n"
                               "  end\n"
                               "  if not id then return nil end\n"
                               "end\n"
                               "return {id,redis.call('HGETALL',ARGV[1]..id)}\n";
bool keys_format_ok(const char *prefix, const char *k)
{
    size_t pl = strlen(prefix);
    if (strncmp(k, prefix, pl) != 0 || strlen(k) != pl + 64)
        return false;
    for (const char *p = k + pl; *p; p++)
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
            return false;
    return true;
}

static const char *reply_field(const redisReply *arr, const char *name)
{
    for (size_t i = 0; i + 1 < arr->elements; i += 2)
        if (arr->element[i]->type == REDIS_REPLY_STRING && strcmp(arr->element[i]->str, name) == 0)
            return arr->element[i + 1]->str;
    return NULL;
}

static int read_record(const redisReply *rec, struct api_key *out)
{
    if (!rec || rec->type != REDIS_REPLY_ARRAY || rec->elements == 0)
        return -ERR_NOTFOUND;
    const char *active = reply_field(rec, "isActive"), *del = reply_field(rec, "isDeleted");
    const char *name = reply_field(rec, "name");
    long long exp = admin_parse_iso(reply_field(rec, "expiresAt"));
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    out->active = active && strcmp(active, "true") == 0;
    out->deleted = del && strcmp(del, "true") == 0;
    out->expires_at_ms = exp > 0 ? exp : 0;
    return 0;
}

enum key_check keys_admit(const struct api_key *k, long long now_ms)
{
    if (!k->active || k->deleted)
        return KEY_DISABLED;
    if (k->expires_at_ms > 0 && k->expires_at_ms <= now_ms)
        return KEY_EXPIRED;
    return KEY_OK;
}

int keys_lookup(struct app *app, struct rds_conn *c, const char *plaintext, struct api_key *out)
{
    if (!plaintext || !keys_format_ok(app->cfg->api_key_prefix, plaintext))
        return -ERR_NOTFOUND;
    char hash[SECRET_MAX_KEYS][SECRET_HASH_HEX + 1], hkey[SECRET_MAX_KEYS][STORE_KEY_MAX];
    const char *argv[SECRET_MAX_KEYS + 2];
    int nkeys = secret_box_nkeys(app->box);
    for (int i = 0; i < nkeys; i++) {
        secret_keyed_hash_at(app->box, i, "api-key", plaintext, hash[i]);
        store_key(hkey[i], SK_API_KEY_HASH, hash[i]);
        argv[i] = hkey[i];
    }
    argv[nkeys] = SK_API_KEY_PREFIX;
    argv[nkeys + 1] = hash[0]; /* the current hash, for re-indexing */
    redisReply *r = rds_script(c, auth_lua, nkeys, nkeys + 2, argv, NULL);
    int rc = -ERR_REDIS;
    if (r && r->type == REDIS_REPLY_NIL) {
        rc = -ERR_NOTFOUND;
    } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[0]->type == REDIS_REPLY_STRING) {
        struct api_key k = {0};
        rc = read_record(r->element[1], &k);
        snprintf(k.id, sizeof(k.id), "%s", r->element[0]->str);
        if (rc == 0)
            *out = k;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* ---- admin: validation and rendering ---- */

static const char *number_text(const struct kfield *f, const cJSON *v, char buf[64])
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (d < 0 || d >= 1e15 || (f->type == F_INT && d != (double)(long long)d))
        return NULL;
    snprintf(buf, 64, f->type == F_INT ? "%.0f" : "%.6g", d);
    return buf;
}

/* ISO-8601 stored as UTC; null or "" clears it. */
static const char *time_text(const cJSON *v, char buf[64])
{
    if (cJSON_IsNull(v) || (cJSON_IsString(v) && !*v->valuestring))
        return "";
    long long t = cJSON_IsString(v) ? admin_parse_iso(v->valuestring) : -1;
    if (t <= 0)
        return NULL;
    admin_iso_from_ms(t, buf);
    return buf;
}

/* The stored text of v for f (in buf, in *owned, or v's own), or NULL. */
static const char *field_text(const struct kfield *f, const cJSON *v, char buf[64], char **owned)
{
    switch (f->type) {
    case F_STR:
        return cJSON_IsString(v) && strlen(v->valuestring) <= (size_t)f->max ? v->valuestring
                                                                             : NULL;
    case F_BOOL:
        return cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? "true" : "false") : NULL;
    case F_INT:
    case F_NUM:
        return number_text(f, v, buf);
    case F_ARR:
        return cJSON_IsArray(v) && cJSON_GetArraySize(v) <= 1000 ? (*owned = json_print(v)) : NULL;
    case F_TIME:
        return time_text(v, buf);
    }
    return NULL;
}

static int set_field(cJSON *rec, const struct kfield *f, const cJSON *v, char *msg, size_t len)
{
    char buf[64], *owned = NULL;
    const char *val = field_text(f, v, buf, &owned);
    if (!val) {
        snprintf(msg, len, "%s has an invalid value", f->name);
        return -ERR_INVAL;
    }
    cJSON_DeleteItemFromObject(rec, f->name);
    cJSON_AddStringToObject(rec, f->name, val);
    free(owned);
    return 0;
}

/* Copy the body's fields into rec (strings). 0, or -ERR_INVAL with msg
 * naming the field. */
static int apply_body(cJSON *rec, const cJSON *body, char *msg, size_t len)
{
    if (!cJSON_IsObject(body)) {
        snprintf(msg, len, "Request body must be a JSON object");
        return -ERR_INVAL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        const struct kfield *f = find_field(it->string);
        if (!f || !f->admin) { /* the original ignored them: a user would think them in force */
            snprintf(msg, len, "unsupported field: %s", it->string);
            return -ERR_INVAL;
        }
        if (set_field(rec, f, it, msg, len) != 0)
            return -ERR_INVAL;
    }
    if (!*json_str(rec, "name", "")) {
        snprintf(msg, len, "name is required (1 to 100 characters)");
        return -ERR_INVAL;
    }
    return 0;
}

static cJSON *typed_value(const struct kfield *f, const char *s)
{
    if (!f || f->type == F_STR || f->type == F_TIME)
        return cJSON_CreateString(s);
    if (f->type == F_BOOL)
        return cJSON_CreateBool(strcmp(s, "true") == 0);
    if (f->type == F_ARR) {
        cJSON *a = json_parse(s, strlen(s), JSON_MAX_DEPTH, true);
        return a ? a : cJSON_CreateArray();
    }
    return cJSON_CreateNumber(strtod(s, NULL));
}

static cJSON *usage_object(const redisReply *u)
{
    static const char *const names[] = {"requests",          "inputTokens",     "outputTokens",
                                        "cacheCreateTokens", "cacheReadTokens", "allTokens"};
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const char *v = u && u->type == REDIS_REPLY_ARRAY ? reply_field(u, names[i]) : NULL;
        cJSON_AddNumberToObject(o, names[i], v ? strtod(v, NULL) : 0);
    }
    const char *last = u && u->type == REDIS_REPLY_ARRAY ? reply_field(u, "lastUsedAt") : NULL;
    cJSON_AddStringToObject(o, "lastUsedAt", last ? last : "");
    return o;
}

/* Typed item from a record reply (array of strings) and its usage reply. */
static cJSON *render_item(const redisReply *rec, const redisReply *usage)
{
    cJSON *item = cJSON_CreateObject();
    for (size_t i = 0; i + 1 < rec->elements; i += 2) {
        const char *k = rec->element[i]->str, *v = rec->element[i + 1]->str;
        if (!k || !v || strcmp(k, "keyHash") == 0 || strcmp(k, "_v") == 0)
            continue;
        if (strcmp(k, "keyPreview") == 0)
            k = "maskedKey";
        cJSON_AddItemToObject(item, k, typed_value(find_field(k), v));
    }
    if (!cJSON_HasObjectItem(item, "isDeleted"))
        cJSON_AddBoolToObject(item, "isDeleted", false);
    cJSON *u = usage_object(usage);
    const char *last = json_str(u, "lastUsedAt", "");
    cJSON_AddStringToObject(item, "lastUsedAt", last);
    cJSON_AddItemToObject(item, "usage", u);
    return item;
}

/* Load one key as a typed item; -ERR_NOTFOUND / -ERR_REDIS. */
int keys_load_item(struct rds_conn *c, const char *id, cJSON **out)
{
    char rk[STORE_KEY_MAX], uk[STORE_KEY_MAX];
    store_key(rk, SK_API_KEY, id);
    store_key(uk, SK_API_KEY_USAGE, id);
    redisReply *rep[2];
    if (rds_append(c, "HGETALL %s", rk) || rds_append(c, "HGETALL %s", uk) ||
        rds_flush_replies(c, 2, rep) != 0)
        return -ERR_REDIS;
    int rc = rep[0]->type == REDIS_REPLY_ARRAY && rep[0]->elements ? 0 : -ERR_NOTFOUND;
    if (rc == 0)
        *out = render_item(rep[0], rep[1]);
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return rc;
}

/* ---- admin: writes ---- */

/* Write the record and (optionally) the hash index atomically. */
static int write_key(struct rds_conn *c, const char *id, const cJSON *rec, const char *hash_index,
                     bool add_index)
{
    char rk[STORE_KEY_MAX];
    store_key(rk, SK_API_KEY, id);
    redisReply *r = rds_command(c, "MULTI");
    if (!r)
        return -ERR_REDIS;
    freeReplyObject(r);
    int rc = store_hset_json(c, rk, rec);
    (void)rc; /* inside MULTI the reply is QUEUED (a status): checked at EXEC */
    if (hash_index)
        r = add_index ? rds_command(c, "SET %s %s", hash_index, id)
                      : rds_command(c, "DEL %s", hash_index);
    if (hash_index && r)
        freeReplyObject(r);
    r = rds_command(c, "SADD %s %s", SK_API_KEY_INDEX, id);
    if (r)
        freeReplyObject(r);
    r = rds_command(c, "EXEC");
    rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    return rc;
}

static void hash_index_key(struct app *app, const char *hash, char out[STORE_KEY_MAX])
{
    UNUSED(app);
    store_key(out, SK_API_KEY_HASH, hash);
}

int keys_create(struct app *app, struct rds_conn *c, const cJSON *body, cJSON **item,
                char **plaintext, char *msg, size_t len)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "isActive", "true");
    cJSON_AddStringToObject(rec, "expiresAt", "");
    cJSON_AddStringToObject(rec, "description", "");
    if (apply_body(rec, body, msg, len) != 0) {
        cJSON_Delete(rec);
        return -ERR_INVAL;
    }
    char id[37], hex[65], hash[SECRET_HASH_HEX + 1], hk[STORE_KEY_MAX], now[32], preview[40];
    secret_uuid(id);
    secret_random_hex(hex, 32);
    char *key = xasprintf("%s%s", app->cfg->api_key_prefix, hex);
    secret_keyed_hash(app->box, "api-key", key, hash);
    hash_index_key(app, hash, hk);
    admin_iso_now(now);
    snprintf(preview, sizeof(preview), "%s...%s", app->cfg->api_key_prefix, hex + 60);
    cJSON_AddStringToObject(rec, "id", id);
    cJSON_AddStringToObject(rec, "keyHash", hash);
    cJSON_AddStringToObject(rec, "keyPreview", preview);
    cJSON_AddStringToObject(rec, "createdAt", now);
    cJSON_AddStringToObject(rec, "updatedAt", now);
    cJSON_AddStringToObject(rec, "createdBy", "admin");
    int rc = write_key(c, id, rec, hk, true);
    cJSON_Delete(rec);
    if (rc == 0)
        rc = keys_load_item(c, id, item);
    if (rc != 0) {
        secret_free(key);
        return rc;
    }
    *plaintext = key;
    return 0;
}

/* ---- admin: reads and changes ---- */

/* All key items (deleted or not, per want_deleted). Caller deletes the array. */
int keys_load_all(struct rds_conn *c, bool want_deleted, cJSON **out)
{
    redisReply *ids = rds_command(c, "SMEMBERS %s", SK_API_KEY_INDEX);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject(ids);
        return -ERR_REDIS;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < ids->elements; i++) {
        cJSON *item = NULL;
        if (keys_load_item(c, ids->element[i]->str, &item) != 0)
            continue;
        if (json_bool(item, "isDeleted", false) == want_deleted)
            cJSON_AddItemToArray(arr, item);
        else
            cJSON_Delete(item);
    }
    freeReplyObject(ids);
    *out = arr;
    return 0;
}

/* Read-modify-write of one record. */
typedef int (*mutate_fn)(cJSON *rec, const struct cJSON *body, const char *by, bool *index_add,
                         bool *index_del, char *msg, size_t len);

static int mut_update(cJSON *rec, const cJSON *body, const char *by, bool *add, bool *del,
                      char *msg, size_t len)
{
    UNUSED(by), UNUSED(add), UNUSED(del);
    if (strcmp(json_str(rec, "isDeleted", ""), "true") == 0)
        return -ERR_NOTFOUND;
    return apply_body(rec, body, msg, len);
}

static void set_str(cJSON *rec, const char *k, const char *v)
{
    cJSON_DeleteItemFromObject(rec, k);
    cJSON_AddStringToObject(rec, k, v);
}

static int mut_soft_delete(cJSON *rec, const cJSON *body, const char *by, bool *add, bool *del,
                           char *msg, size_t len)
{
    char now[32];
    UNUSED(body), UNUSED(add), UNUSED(msg), UNUSED(len);
    admin_iso_now(now);
    set_str(rec, "isDeleted", "true");
    set_str(rec, "isActive", "false");
    set_str(rec, "deletedAt", now);
    set_str(rec, "deletedBy", by ? by : "admin");
    *del = true; /* the key stops working at once */
    return 0;
}

static int mut_restore(cJSON *rec, const cJSON *body, const char *by, bool *add, bool *del,
                       char *msg, size_t len)
{
    UNUSED(body), UNUSED(by), UNUSED(del);
    if (strcmp(json_str(rec, "isDeleted", "false"), "true") != 0) {
        snprintf(msg, len, "API key is not deleted");
        return -ERR_INVAL;
    }
    set_str(rec, "isDeleted", "false");
    set_str(rec, "isActive", "true");
    *add = true;
    return 0;
}

static const mutate_fn mutations[] = {
    [KEYS_UPDATE] = mut_update,
    [KEYS_SOFT_DELETE] = mut_soft_delete,
    [KEYS_RESTORE] = mut_restore,
};

int keys_change(struct app *app, struct rds_conn *c, const char *id, enum keys_change what,
                const cJSON *body, const char *by, char *msg, size_t len)
{
    char rk[STORE_KEY_MAX], hk[STORE_KEY_MAX], now[32];
    store_key(rk, SK_API_KEY, id);
    cJSON *rec = NULL;
    int rc = store_hgetall(c, rk, &rec);
    bool add = false, del = false;
    if (rc == 0)
        rc = mutations[what](rec, body, by, &add, &del, msg, len);
    if (rc == 0) {
        admin_iso_now(now);
        set_str(rec, "updatedAt", now);
        hash_index_key(app, json_str(rec, "keyHash", "none"), hk);
        rc = write_key(c, id, rec, (add || del) ? hk : NULL, add);
    }
    cJSON_Delete(rec);
    return rc;
}

int keys_delete_permanent(struct rds_conn *c, const char *id)
{
    char rk[STORE_KEY_MAX], uk[STORE_KEY_MAX], ck[STORE_KEY_MAX];
    cJSON *rec = NULL;
    store_key(rk, SK_API_KEY, id);
    int rc = store_hgetall(c, rk, &rec);
    if (rc == 0 && strcmp(json_str(rec, "isDeleted", "false"), "true") != 0)
        rc = -ERR_INVAL;
    cJSON_Delete(rec);
    if (rc != 0)
        return rc;
    store_key(uk, SK_API_KEY_USAGE, id);
    store_key(ck, SK_API_KEY_COST, id);
    redisReply *r[2] = {0};
    rc = rds_append(c, "DEL %s %s %s", rk, uk, ck) == 0 &&
                 rds_append(c, "SREM %s %s", SK_API_KEY_INDEX, id) == 0 &&
                 rds_flush_replies(c, 2, r) == 0
             ? 0
             : -ERR_REDIS;
    for (int i = 0; i < 2; i++)
        if (r[i])
            freeReplyObject(r[i]);
    return rc;
}
