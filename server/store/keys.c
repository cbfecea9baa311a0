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
#include "key_cache.h"
#include "key_policy.h"
#include "log.h"
#include "notify.h"
#include "provider.h"
#include "rds.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#include <ctype.h>
#include <sodium.h>
#include <time.h>

enum ftype {
    F_STR = 0, /* text, min..max characters */
    F_BOOL = 1,
    F_INT = 2,  /* integer in min..max */
    F_USD = 3,  /* money, 0..max USD, up to 6 decimals (micro-USD) */
    F_ARR = 4,  /* array of strings (from `allowed` when set), at most max items */
    F_TIME = 5, /* ISO-8601, stored as UTC; null or "" clears it */
    F_ENUM = 6, /* one of `allowed` */
    F_BIND = 7, /* a dedicated account: "" or the id of an account of `bind` type */
};

static const char *const perms_allowed[] = {"claude", "gemini", "openai", "droid", NULL};
static const char *const clients_allowed[] = {"claude_code", "gemini_cli", "codex_cli", "droid_cli",
                                              NULL};
static const char *const modes_allowed[] = {"fixed", "activation", NULL};
static const char *const units_allowed[] = {"hours", "days", NULL};

/* The fields of a key record (crs-admin-spec 3.2). admin: settable through
 * the admin API; every such field is enforced on the request path. */
static const struct kfield {
    const char *name;
    enum ftype type;
    long long min, max;
    const char *const *allowed;
    const char *bind; /* F_BIND: the provider whose account it names; NULL: none exist */
    bool admin;
} key_fields[] = {
    {"name", F_STR, 1, 100, NULL, NULL, true},
    {"description", F_STR, 0, 500, NULL, NULL, true},
    {"isActive", F_BOOL, 0, 0, NULL, NULL, true},
    {"expiresAt", F_TIME, 0, 0, NULL, NULL, true},
    {"tags", F_ARR, 0, 100, NULL, NULL, true},
    {"permissions", F_ARR, 0, 4, perms_allowed, NULL, true},
    {"enableClientRestriction", F_BOOL, 0, 0, NULL, NULL, true},
    {"allowedClients", F_ARR, 0, 4, clients_allowed, NULL, true},
    {"enableModelRestriction", F_BOOL, 0, 0, NULL, NULL, true},
    {"restrictedModels", F_ARR, 0, 500, NULL, NULL, true},
    {"expirationMode", F_ENUM, 0, 0, modes_allowed, NULL, true},
    {"activationDays", F_INT, 1, 3650, NULL, NULL, true},
    {"activationUnit", F_ENUM, 0, 0, units_allowed, NULL, true},
    {"rateLimitWindow", F_INT, 0, 525600, NULL, NULL, true},
    {"rateLimitRequests", F_INT, 0, 1000000000, NULL, NULL, true},
    {"tokenLimit", F_INT, 0, 1000000000000LL, NULL, NULL, true},
    {"rateLimitCost", F_USD, 0, 1000000000, NULL, NULL, true},
    {"dailyCostLimit", F_USD, 0, 1000000000, NULL, NULL, true},
    {"totalCostLimit", F_USD, 0, 1000000000, NULL, NULL, true},
    {"weeklyOpusCostLimit", F_USD, 0, 1000000000, NULL, NULL, true},
    {"weeklyResetDay", F_INT, 1, 7, NULL, NULL, true},
    {"weeklyResetHour", F_INT, 0, 23, NULL, NULL, true},
    {"concurrencyLimit", F_INT, 0, 100000, NULL, NULL, true},
    {"claudeConsoleAccountId", F_BIND, 0, 0, NULL, "claude-console", true},
    {"claudeAccountId", F_BIND, 0, 0, NULL, "claude-official", true},
    {"geminiAccountId", F_BIND, 0, 0, NULL, "gemini", true}, /* or "api:<id>": gemini-api */
    {"openaiAccountId", F_BIND, 0, 0, NULL, "openai", true}, /* or openai-responses: bind_alt */
    {"bedrockAccountId", F_BIND, 0, 0, NULL, NULL, true},
    {"azureOpenaiAccountId", F_BIND, 0, 0, NULL, NULL, true},
    {"droidAccountId", F_BIND, 0, 0, NULL, NULL, true},
    {"isDeleted", F_BOOL, 0, 0, NULL, NULL, false},
    {"isActivated", F_BOOL, 0, 0, NULL, NULL, false},
    {"activatedAt", F_TIME, 0, 0, NULL, NULL, false},
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

static struct api_key *key_from(const char *id, const redisReply *reply)
{
    cJSON *rec = store_reply_object(reply);
    if (!rec)
        return NULL;
    struct api_key *k = xcalloc(1, sizeof(*k));
    atomic_init(&k->refs, 1);
    long long exp = admin_parse_iso(json_str(rec, "expiresAt", ""));
    snprintf(k->id, sizeof(k->id), "%s", id);
    snprintf(k->name, sizeof(k->name), "%s", json_str(rec, "name", ""));
    k->active = strcmp(json_str(rec, "isActive", ""), "true") == 0;
    k->deleted = strcmp(json_str(rec, "isDeleted", ""), "true") == 0;
    k->expires_at_ms = exp > 0 ? exp : 0;
    key_policy_parse(rec, &k->pol);
    cJSON_Delete(rec);
    return k;
}

struct api_key *keys_ref(struct api_key *k)
{
    atomic_fetch_add(&k->refs, 1);
    return k;
}

void keys_unref(struct api_key *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    key_policy_release(&k->pol);
    free(k);
}

enum key_check keys_admit(const struct api_key *k, long long now_ms)
{
    if (!k->active || k->deleted)
        return KEY_DISABLED;
    if (k->expires_at_ms > 0 && k->expires_at_ms <= now_ms)
        return KEY_EXPIRED;
    return KEY_OK;
}

bool keys_hash(struct app *app, const char *plaintext, char out[65])
{
    if (!plaintext || !keys_format_ok(app->cfg->api_key_prefix, plaintext))
        return false;
    secret_keyed_hash_at(app->box, 0, "api-key", plaintext, out);
    return true;
}

int keys_lookup(struct app *app, struct rds_conn *c, const char *plaintext, struct api_key **out)
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
        struct api_key *k = key_from(r->element[0]->str, r->element[1]);
        rc = k ? 0 : -ERR_NOTFOUND;
        if (k)
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
    if (d < (double)f->min || d > (double)f->max)
        return NULL;
    if (f->type == F_INT && d != (double)(long long)d)
        return NULL;
    if (f->type == F_USD) /* micro-USD is the unit of account: no finer */
        snprintf(buf, 64, "%.6f", d);
    else
        snprintf(buf, 64, "%lld", (long long)d);
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

static bool in_list(const char *const *allowed, const char *s)
{
    for (; *allowed; allowed++)
        if (strcmp(*allowed, s) == 0)
            return true;
    return false;
}

/* permissions: the original's "all" (alone or in the list) means every
 * service, stored as []. */
static bool means_all(const struct kfield *f, const cJSON *v)
{
    if (f->allowed != perms_allowed)
        return false;
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "all") == 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) if (cJSON_IsString(it) &&
                                  strcmp(it->valuestring, "all") == 0) return true;
    return false;
}

/* An array of non-empty strings (each from f->allowed when set). */
static const char *array_text(const struct kfield *f, const cJSON *v, char **owned)
{
    if (means_all(f, v))
        return "[]";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > f->max)
        return NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || !*it->valuestring || strlen(it->valuestring) > 200)
            return NULL;
        if (f->allowed && !in_list(f->allowed, it->valuestring))
            return NULL;
    }
    return *owned = json_print(v);
}

static const char *string_text(const struct kfield *f, const cJSON *v)
{
    if (!cJSON_IsString(v))
        return NULL;
    size_t n = strlen(v->valuestring);
    return n >= (size_t)f->min && n <= (size_t)f->max ? v->valuestring : NULL;
}

#define GROUP_PREFIX "group:"

/* "group:<gid>": the key schedules among the members of an account group. */
static const char *bound_group(const char *v)
{
    return strncmp(v, GROUP_PREFIX, strlen(GROUP_PREFIX)) == 0 ? v + strlen(GROUP_PREFIX) : NULL;
}

/* The account type a binding's value names and its id (in *id).
 * geminiAccountId names a gemini-api account as "api:<id>" (the original's
 * spelling: its plain ids are Google OAuth accounts); openaiAccountId may
 * spell an openai-responses one "responses:<id>" (key_policy_bound_id). */
static const char *bound_id(const struct kfield *f, const char *v, const char **id)
{
    static const char api[] = "api:";
    if (strcmp(f->name, "geminiAccountId") == 0 && strncmp(v, api, sizeof(api) - 1) == 0) {
        *id = v + sizeof(api) - 1;
        return "gemini-api";
    }
    *id = key_policy_bound_id(v);
    return f->bind;
}

/* A dedicated account: "" (the pool), the id of an account of the field's
 * type or "group:<gid>" (checked against Redis by check_bindings). */
static const char *bind_text(const struct kfield *f, const cJSON *v)
{
    if (cJSON_IsNull(v) || (cJSON_IsString(v) && !*v->valuestring))
        return "";
    if (!f->bind || !cJSON_IsString(v))
        return NULL;
    const char *gid = bound_group(v->valuestring);
    const char *id = gid ? gid : NULL;
    if (!gid)
        bound_id(f, v->valuestring, &id);
    return admin_is_uuid(id) ? v->valuestring : NULL;
}

/* The stored text of v for f (in buf, in *owned, or v's own), or NULL. */
static const char *field_text(const struct kfield *f, const cJSON *v, char buf[64], char **owned)
{
    switch (f->type) {
    case F_STR:
        return string_text(f, v);
    case F_BOOL:
        return cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? "true" : "false") : NULL;
    case F_INT:
    case F_USD:
        return number_text(f, v, buf);
    case F_ARR:
        return array_text(f, v, owned);
    case F_TIME:
        return time_text(v, buf);
    case F_ENUM:
        return cJSON_IsString(v) && in_list(f->allowed, v->valuestring) ? v->valuestring : NULL;
    case F_BIND:
        return bind_text(f, v);
    }
    return NULL;
}

/* Why a value was refused, naming the field. */
static void explain(const struct kfield *f, char *msg, size_t len)
{
    if (f->type == F_BIND && !f->bind)
        snprintf(msg, len, "%s: this relay has no such accounts yet (only \"\" is accepted)",
                 f->name);
    else if (f->type == F_INT || f->type == F_USD)
        snprintf(msg, len, "%s must be a number from %lld to %lld", f->name, f->min, f->max);
    else if (f->type == F_STR)
        snprintf(msg, len, "%s must be %lld to %lld characters", f->name, f->min, f->max);
    else
        snprintf(msg, len, "%s has an invalid value", f->name);
}

static int set_field(cJSON *rec, const struct kfield *f, const cJSON *v, char *msg, size_t len)
{
    char buf[64], *owned = NULL;
    const char *val = field_text(f, v, buf, &owned);
    if (!val) {
        explain(f, msg, len);
        return -ERR_INVAL;
    }
    cJSON_DeleteItemFromObject(rec, f->name);
    cJSON_AddStringToObject(rec, f->name, val);
    free(owned);
    return 0;
}

/* Activation mode: the key's period starts at its first use, so it has no
 * fixed expiry until then. */
static int check_activation(cJSON *rec, const cJSON *body, char *msg, size_t len)
{
    if (strcmp(json_str(rec, "expirationMode", "fixed"), "activation") != 0)
        return 0;
    if (strcmp(json_str(rec, "isActivated", ""), "true") == 0)
        return 0;
    if (*json_str(body, "expiresAt", "")) {
        snprintf(msg, len, "expiresAt cannot be set while expirationMode is activation");
        return -ERR_INVAL;
    }
    if (!*json_str(rec, "activationDays", "")) {
        snprintf(msg, len, "activationDays is required when expirationMode is activation");
        return -ERR_INVAL;
    }
    cJSON_DeleteItemFromObject(rec, "isActivated");
    cJSON_AddStringToObject(rec, "isActivated", "false");
    cJSON_DeleteItemFromObject(rec, "expiresAt");
    cJSON_AddStringToObject(rec, "expiresAt", "");
    return 0;
}

/* The other account type a binding may name: an OpenAI binding names a
 * ChatGPT (openai) or an openai-responses account; NULL: none. */
static const char *bind_alt(const char *type)
{
    return strcmp(type, "openai") == 0 ? "openai-responses" : NULL;
}

/* One binding: the account or group it names must exist (one EXISTS). */
static int check_binding(struct rds_conn *c, const struct kfield *f, const char *id, char *msg,
                         size_t len)
{
    char key[STORE_KEY_MAX], alt[STORE_KEY_MAX];
    const char *gid = bound_group(id);
    const char *plain = NULL;
    const char *type = bound_id(f, id, &plain);
    if (gid)
        store_key(key, SK_ACCOUNT_GROUP, gid);
    else
        store_key(key, SK_ACCOUNT_RECORD, provider_find(type)->record_prefix, plain);
    /* An id may name either type (ids are unique across types); "responses:<id>" as the
     * original spelt an openai-responses binding. */
    const char *other = gid ? NULL : bind_alt(type);
    if (other)
        store_key(alt, SK_ACCOUNT_RECORD, provider_find(other)->record_prefix, plain);
    redisReply *r =
        other ? rds_command(c, "EXISTS %s %s", key, alt) : rds_command(c, "EXISTS %s", key);
    long long n = rds_reply_int(r, -1);
    if (r)
        freeReplyObject(r);
    if (n < 0)
        return -ERR_REDIS;
    if (n > 0)
        return 0;
    if (gid)
        snprintf(msg, len, "%s: no account group with this id", f->name);
    else
        snprintf(msg, len, "%s: no %s account with this id", f->name, type);
    return -ERR_INVAL;
}

/* Dedicated accounts and bound groups must exist (one EXISTS per binding
 * set). */
static int check_bindings(struct rds_conn *c, const cJSON *rec, char *msg, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(key_fields); i++) {
        const struct kfield *f = &key_fields[i];
        const char *id = json_str(rec, f->name, "");
        if (f->type != F_BIND || !f->bind || !*id)
            continue;
        int rc = check_binding(c, f, id, msg, len);
        if (rc != 0)
            return rc;
    }
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
    return check_activation(rec, body, msg, len);
}

static cJSON *typed_value(const struct kfield *f, const char *s)
{
    if (!f || f->type == F_STR || f->type == F_TIME || f->type == F_ENUM || f->type == F_BIND)
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

/* Every instance drops its cached copy of the key (one PUBLISH). */
static void key_changed(struct app *app, struct rds_conn *c, const char *id)
{
    char what[64];
    key_cache_forget(app->keys, id);
    snprintf(what, sizeof(what), "key %s", id);
    notify_publish(app, c, what);
}

/* A fresh secret for rec: the plaintext (returned, shown once), its
 * keyed hash and preview in rec. hk gets the hash index key. */
static char *new_secret(struct app *app, cJSON *rec, char hk[STORE_KEY_MAX])
{
    char hex[65], hash[SECRET_HASH_HEX + 1], preview[40];
    secret_random_hex(hex, 32);
    char *key = xasprintf("%s%s", app->cfg->api_key_prefix, hex);
    secret_keyed_hash(app->box, "api-key", key, hash);
    hash_index_key(app, hash, hk);
    snprintf(preview, sizeof(preview), "%s...%s", app->cfg->api_key_prefix, hex + 60);
    json_set_str(rec, "keyHash", hash);
    json_set_str(rec, "keyPreview", preview);
    sodium_memzero(hex, sizeof(hex));
    return key;
}

/* The end of a create or regenerate that wrote with result rc: on success
 * the stored item and the plaintext (the caller's now), else key is freed. */
static int hand_out(struct rds_conn *c, const char *id, int rc, char *key, cJSON **item,
                    char **plaintext)
{
    if (rc == 0)
        rc = keys_load_item(c, id, item);
    if (rc != 0) {
        secret_free(key);
        return rc;
    }
    *plaintext = key;
    return 0;
}

int keys_create(struct app *app, struct rds_conn *c, const cJSON *body, cJSON **item,
                char **plaintext, char *msg, size_t len)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "isActive", "true");
    cJSON_AddStringToObject(rec, "expiresAt", "");
    cJSON_AddStringToObject(rec, "description", "");
    int rc = apply_body(rec, body, msg, len);
    if (rc == 0)
        rc = check_bindings(c, rec, msg, len);
    if (rc != 0) {
        cJSON_Delete(rec);
        return rc;
    }
    char id[37], hk[STORE_KEY_MAX], now[32];
    secret_uuid(id);
    admin_iso_now(now);
    char *key = new_secret(app, rec, hk);
    cJSON_AddStringToObject(rec, "id", id);
    cJSON_AddStringToObject(rec, "createdAt", now);
    cJSON_AddStringToObject(rec, "updatedAt", now);
    cJSON_AddStringToObject(rec, "createdBy", "admin");
    rc = write_key(c, id, rec, hk, true);
    cJSON_Delete(rec);
    return hand_out(c, id, rc, key, item, plaintext);
}

int keys_regenerate(struct app *app, struct rds_conn *c, const char *id, cJSON **item,
                    char **plaintext)
{
    char rk[STORE_KEY_MAX], old_hk[STORE_KEY_MAX], hk[STORE_KEY_MAX], now[32];
    cJSON *rec = NULL;
    store_key(rk, SK_API_KEY, id);
    int rc = store_hgetall(c, rk, &rec);
    if (rc == 0 && strcmp(json_str(rec, "isDeleted", ""), "true") == 0)
        rc = -ERR_NOTFOUND;
    if (rc != 0) {
        cJSON_Delete(rec);
        return rc;
    }
    hash_index_key(app, json_str(rec, "keyHash", "none"), old_hk);
    char *key = new_secret(app, rec, hk);
    admin_iso_now(now);
    json_set_str(rec, "updatedAt", now);
    rc = write_key(c, id, rec, old_hk, false); /* the old secret stops working */
    if (rc == 0)
        rc = write_key(c, id, rec, hk, true);
    if (rc == 0)
        key_changed(app, c, id);
    cJSON_Delete(rec);
    return hand_out(c, id, rc, key, item, plaintext);
}

/* ---- admin: reads and changes ---- */

/* All key items (deleted or not, per want_deleted). Caller deletes the array. */
int keys_load_all(struct rds_conn *c, bool want_deleted, cJSON **out)
{
    redisReply *ids = NULL;
    if (store_members(c, SK_API_KEY_INDEX, &ids) != 0)
        return -ERR_REDIS;
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

static int mut_soft_delete(cJSON *rec, const cJSON *body, const char *by, bool *add, bool *del,
                           char *msg, size_t len)
{
    char now[32];
    UNUSED(body), UNUSED(add), UNUSED(msg), UNUSED(len);
    admin_iso_now(now);
    json_set_str(rec, "isDeleted", "true");
    json_set_str(rec, "isActive", "false");
    json_set_str(rec, "deletedAt", now);
    json_set_str(rec, "deletedBy", by ? by : "admin");
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
    json_set_str(rec, "isDeleted", "false");
    json_set_str(rec, "isActive", "true");
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
    if (rc == 0 && what == KEYS_UPDATE)
        rc = check_bindings(c, rec, msg, len);
    if (rc == 0) {
        admin_iso_now(now);
        json_set_str(rec, "updatedAt", now);
        hash_index_key(app, json_str(rec, "keyHash", "none"), hk);
        rc = write_key(c, id, rec, (add || del) ? hk : NULL, add);
    }
    if (rc == 0)
        key_changed(app, c, id);
    cJSON_Delete(rec);
    return rc;
}

int keys_delete_permanent(struct app *app, struct rds_conn *c, const char *id)
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
    /* Its lifetime statistics and request log go too (the dated buckets expire). */
    char tk[STORE_KEY_MAX], lk[STORE_KEY_MAX], ik[STORE_KEY_MAX], total[] = "total";
    store_key(tk, SK_USAGE_KEY, id, total);
    store_key(lk, SK_USAGE_RECORDS, id);
    store_key(ik, SK_USAGE_INDEX, total, "keys");
    redisReply *r[3] = {0};
    rc = rds_append(c, "DEL %s %s %s %s %s", rk, uk, ck, tk, lk) == 0 &&
                 rds_append(c, "SREM %s %s", SK_API_KEY_INDEX, id) == 0 &&
                 rds_append(c, "SREM %s %s", ik, id) == 0 && rds_flush_replies(c, 3, r) == 0
             ? 0
             : -ERR_REDIS;
    for (int i = 0; i < 3; i++)
        if (r[i])
            freeReplyObject(r[i]);
    if (rc == 0)
        key_changed(app, c, id);
    return rc;
}
