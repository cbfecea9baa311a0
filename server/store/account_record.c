/*
 * account_record.c - account records under their provider's schema (see
 * account_record.h). Records are hashes of strings; typing happens here.
 */
#include "compat.h"
#include "account_limits.h"
#include "account_record.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "rds.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#include <ctype.h>
#include <math.h>

/* The fields every account type has; the limits are account_limits.h's. */
static const struct account_field common_fields[] = {
    {"name", FT_STR, FIELD_REQUIRED, NULL, 1, 100, NULL},
    {"description", FT_STR, 0, "", 0, 500, NULL},
    {"priority", FT_INT, 0, "50", 1, 100, NULL},
    {"schedulable", FT_BOOL, 0, "true", 0, 0, NULL},
    {"isActive", FT_BOOL, 0, "true", 0, 0, NULL},
    /* user turns queue on this account even with USER_MESSAGE_QUEUE_ENABLED off */
    {"userMessageQueue", FT_BOOL, 0, "false", 0, 0, NULL},
    {"maxConcurrentTasks", FT_INT, 0, "0", 0, 10000, NULL}, /* 0: unlimited */
    {"dailyQuota", FT_USD, 0, "0", 0, 1000000, NULL},       /* USD; 0: none */
    {"quotaResetTime", FT_HHMM, 0, "00:00", 0, 0, NULL},    /* in TIMEZONE_OFFSET */
    {"quotaStoppedAt", FT_STR, FIELD_READONLY, NULL, 0, 40, NULL},
    {"quotaStoppedUntil", FT_INT, FIELD_READONLY, NULL, 0, 0, NULL}, /* ms; rendered as ISO */
};

static const struct account_field *common_field(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(common_fields); i++)
        if (strcmp(common_fields[i].name, name) == 0)
            return &common_fields[i];
    return NULL;
}

static void add_defaults(cJSON *rec, const struct account_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].dflt)
            json_set_str(rec, f[i].name, f[i].dflt);
}

cJSON *account_record_new(const struct provider *p)
{
    char id[37], now[32];
    secret_uuid(id);
    admin_iso_now(now);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "id", id);
    cJSON_AddStringToObject(rec, "platform", p->name);
    cJSON_AddStringToObject(rec, "status", "active");
    cJSON_AddStringToObject(rec, "proxy", "");
    cJSON_AddStringToObject(rec, "createdAt", now);
    add_defaults(rec, common_fields, ARRAY_SIZE(common_fields));
    add_defaults(rec, p->fields, p->nfields);
    return rec;
}

/* ---- one field ---- */

/* The message names the field: "<name><what>". */
static int bad(char *msg, size_t len, const char *name, const char *what)
{
    snprintf(msg, len, "%s%s", name, what);
    return -ERR_INVAL;
}

static int apply_url(cJSON *rec, const struct account_field *f, const char *v, char *msg,
                     size_t len)
{
    if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) || strlen(v) > (size_t)f->max)
        return bad(msg, len, f->name, " must be an http:// or https:// URL");
    char *u = xstrdup(v);
    size_t n = strlen(u);
    while (n && u[n - 1] == '/')
        u[--n] = '\0';
    json_set_str(rec, f->name, u);
    free(u);
    return 0;
}

static int apply_secret(const struct app *app, const struct provider *p, cJSON *rec,
                        const struct account_field *f, const char *v, char *msg, size_t len)
{
    if (!*v || strlen(v) > (size_t)f->max)
        return bad(msg, len, f->name, " must be a non-empty string");
    if (account_seal(app, p, rec, f->name, v) != 0)
        return bad(msg, len, f->name, " could not be sealed");
    char key[64], prev[32];
    size_t n = strlen(v);
    if (n >= 16)
        snprintf(prev, sizeof(prev), "%.7s...%s", v, v + n - 4);
    else
        snprintf(prev, sizeof(prev), "***");
    snprintf(key, sizeof(key), "%sPreview", f->name);
    json_set_str(rec, key, prev);
    return 0;
}

static int apply_number(cJSON *rec, const struct account_field *f, const cJSON *v, char *msg,
                        size_t len)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1e300;
    if (d != (double)(long long)d || d < (double)f->min || d > (double)f->max) {
        snprintf(msg, len, "%s must be an integer from %lld to %lld", f->name, f->min, f->max);
        return -ERR_INVAL;
    }
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)d);
    json_set_str(rec, f->name, buf);
    return 0;
}

/* A JSON value checked by the field's hook, stored compact; null restores
 * the default. */
static int apply_json(cJSON *rec, const struct account_field *f, const cJSON *v, char *msg,
                      size_t len)
{
    char what[160];
    if (cJSON_IsNull(v)) {
        json_set_str(rec, f->name, f->dflt ? f->dflt : "");
        return 0;
    }
    if (f->check && f->check(v, what, sizeof(what)) != 0)
        return bad(msg, len, f->name, what);
    char *text = json_print(v);
    int rc = 0;
    if (strlen(text) > (size_t)f->max) {
        snprintf(msg, len, "%s must be at most %lld bytes of JSON", f->name, f->max);
        rc = -ERR_INVAL;
    } else {
        json_set_str(rec, f->name, text);
    }
    free(text);
    return rc;
}

/* USD as a JSON number or a decimal string, kept as its shortest text. */
static int apply_usd(cJSON *rec, const struct account_field *f, const cJSON *v, char *msg,
                     size_t len)
{
    char text[64];
    long long micro = -1;
    double m = cJSON_IsNumber(v) ? v->valuedouble * 1e6 : -1;
    if (m >= 0 && m <= (double)f->max * 1e6 && fabs(m - nearbyint(m)) < 1e-3) /* 6 decimals */
        snprintf(text, sizeof(text), "%.6f", v->valuedouble);
    else
        snprintf(text, sizeof(text), "%s", cJSON_IsString(v) ? v->valuestring : "-");
    if (account_usd_parse(text, &micro) != 0 || micro > f->max * 1000000) {
        snprintf(msg, len, "%s must be a number of USD from %lld to %lld (at most 6 decimals)",
                 f->name, f->min, f->max);
        return -ERR_INVAL;
    }
    account_usd_format(micro, text);
    json_set_str(rec, f->name, text);
    return 0;
}

static int apply_bool(cJSON *rec, const struct account_field *f, const cJSON *v, char *msg,
                      size_t len)
{
    if (!cJSON_IsBool(v))
        return bad(msg, len, f->name, " must be a boolean");
    json_set_str(rec, f->name, cJSON_IsTrue(v) ? "true" : "false");
    return 0;
}

/* The string-valued types: a time of day, a URL, a secret, plain text. */
static int apply_string(const struct app *app, const struct provider *p, cJSON *rec,
                        const struct account_field *f, const cJSON *v, char *msg, size_t len)
{
    if (!cJSON_IsString(v))
        return bad(msg, len, f->name, " must be a string");
    if (f->type == FT_HHMM && account_hhmm_parse(v->valuestring) < 0)
        return bad(msg, len, f->name, " must be a time of day HH:mm (00:00 to 23:59)");
    if (f->type == FT_URL)
        return apply_url(rec, f, v->valuestring, msg, len);
    if (f->type == FT_SECRET)
        return apply_secret(app, p, rec, f, v->valuestring, msg, len);
    size_t n = strlen(v->valuestring);
    if (f->type != FT_HHMM && (n < (size_t)f->min || n > (size_t)f->max)) {
        snprintf(msg, len, "%s must be %lld to %lld characters", f->name, f->min, f->max);
        return -ERR_INVAL;
    }
    json_set_str(rec, f->name, v->valuestring);
    return 0;
}

static int apply_field(const struct app *app, const struct provider *p, cJSON *rec,
                       const struct account_field *f, const cJSON *v, char *msg, size_t len)
{
    switch (f->type) {
    case FT_INT:
        return apply_number(rec, f, v, msg, len);
    case FT_JSON:
        return apply_json(rec, f, v, msg, len);
    case FT_BOOL:
        return apply_bool(rec, f, v, msg, len);
    case FT_USD:
        return apply_usd(rec, f, v, msg, len);
    default:
        return apply_string(app, p, rec, f, v, msg, len);
    }
}

/* ---- the proxy object ---- */

static bool proxy_type_ok(const char *t)
{
    return !strcmp(t, "socks5") || !strcmp(t, "http") || !strcmp(t, "https");
}

static int apply_proxy(const struct app *app, const struct provider *p, cJSON *rec, const cJSON *v,
                       char *msg, size_t len)
{
    if (cJSON_IsNull(v) || (cJSON_IsObject(v) && !*json_str(v, "host", ""))) {
        json_set_str(rec, "proxy", "");
        json_set_str(rec, "proxyPassword", "");
        return 0;
    }
    const char *type = json_str(v, "type", json_str(v, "protocol", ""));
    long long port = json_int(v, "port", 0);
    if (!cJSON_IsObject(v) || !proxy_type_ok(type) || port < 1 || port > 65535 ||
        strlen(json_str(v, "host", "")) > 255)
        return bad(msg, len, "proxy",
                   " must be {type: socks5|http|https, host, port, username?, password?}");
    cJSON *keep = cJSON_CreateObject();
    cJSON_AddStringToObject(keep, "type", type);
    cJSON_AddStringToObject(keep, "host", json_str(v, "host", ""));
    cJSON_AddNumberToObject(keep, "port", (double)port);
    cJSON_AddStringToObject(keep, "username", json_str(v, "username", ""));
    char *text = json_print(keep);
    cJSON_Delete(keep);
    json_set_str(rec, "proxy", text);
    free(text);
    const char *pw = json_str(v, "password", "");
    if (!*pw) {
        json_set_str(rec, "proxyPassword", "");
        return 0;
    }
    return account_seal(app, p, rec, "proxyPassword", pw) == 0
               ? 0
               : bad(msg, len, "proxy.password", " could not be sealed");
}

/* ---- the whole body ---- */

static int check_required(const struct provider *p, const cJSON *rec, char *msg, size_t len)
{
    if (!*json_str(rec, "name", ""))
        return bad(msg, len, "name", " is required");
    for (size_t i = 0; i < p->nfields; i++)
        if ((p->fields[i].flags & FIELD_REQUIRED) && !*json_str(rec, p->fields[i].name, ""))
            return bad(msg, len, p->fields[i].name, " is required");
    return 0;
}

/* A stop was judged against the old quota: a new quota or reset time ends
 * it (the next request's cost is compared with the new one). */
static void clear_stop_if_changed(cJSON *rec, const char *old_quota, const char *old_reset)
{
    if (!strcmp(old_quota, json_str(rec, "dailyQuota", "0")) &&
        !strcmp(old_reset, json_str(rec, "quotaResetTime", "00:00")))
        return;
    json_set_str(rec, "quotaStoppedAt", "");
    json_set_str(rec, "quotaStoppedUntil", "");
}

static int apply_body(const struct app *app, const struct provider *p, cJSON *rec,
                      const cJSON *body, char *msg, size_t len)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        const struct account_field *f = common_field(it->string);
        if (!f)
            f = provider_field(p, it->string);
        int rc;
        if (f && (f->flags & FIELD_READONLY))
            rc = bad(msg, len, it->string, " is read-only");
        else if (f)
            rc = apply_field(app, p, rec, f, it, msg, len);
        else if (strcmp(it->string, "proxy") == 0)
            rc = apply_proxy(app, p, rec, it, msg, len);
        else
            rc = bad(msg, len, "unsupported field: ", it->string);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int account_record_apply(const struct app *app, const struct provider *p, cJSON *rec,
                         const cJSON *body, bool create, char *msg, size_t len)
{
    if (!cJSON_IsObject(body))
        return bad(msg, len, "Request body must be a JSON object", "");
    char quota[32], reset[8];
    snprintf(quota, sizeof(quota), "%s", json_str(rec, "dailyQuota", "0"));
    snprintf(reset, sizeof(reset), "%s", json_str(rec, "quotaResetTime", "00:00"));
    int rc = apply_body(app, p, rec, body, msg, len);
    if (rc != 0)
        return rc;
    if (!create)
        clear_stop_if_changed(rec, quota, reset);
    return create ? check_required(p, rec, msg, len) : 0;
}

/* ---- rendering ---- */

static bool is_secret(const struct provider *p, const char *k)
{
    const struct account_field *f = provider_field(p, k);
    return (f && f->type == FT_SECRET) || !strcmp(k, "proxyPassword") || !strcmp(k, "_v");
}

static cJSON *typed(const struct provider *p, const char *k, const char *v)
{
    const struct account_field *f = common_field(k);
    if (!f)
        f = provider_field(p, k);
    if (f && (f->type == FT_INT || f->type == FT_USD))
        return cJSON_CreateNumber(strtod(v, NULL));
    if (f && f->type == FT_BOOL)
        return cJSON_CreateBool(!strcmp(v, "true"));
    if (f && f->type == FT_JSON) /* as it was given; a broken value shows as null */
        return *v ? json_parse(v, strlen(v), 8, false) : cJSON_CreateNull();
    if (!strcmp(k, "proxy"))
        return *v ? json_parse(v, strlen(v), 8, true) : cJSON_CreateNull();
    return cJSON_CreateString(v);
}

static void add_state(cJSON *o, const struct account *a)
{
    long long until = 0;
    char reason[160] = "", iso[32] = "";
    enum account_state st = a ? account_state(a, (long long)time(NULL) * 1000, &until) : ACC_ACTIVE;
    if (st != ACC_ACTIVE)
        account_state_reason(a, reason, sizeof(reason));
    if (until)
        admin_iso_from_ms(until, iso);
    cJSON_DeleteItemFromObject(o, "status");
    cJSON_AddStringToObject(o, "status", account_state_name(st));
    cJSON_AddStringToObject(o, "statusReason", reason);
    cJSON_AddItemToObject(o, "statusUntil", until ? cJSON_CreateString(iso) : cJSON_CreateNull());
    long long used = a ? account_last_used(a) : 0; /* any instance's, as of the last reload */
    if (used)
        admin_iso_from_ms(used, iso);
    cJSON_DeleteItemFromObject(o, "lastUsedAt");
    cJSON_AddItemToObject(o, "lastUsedAt", used ? cJSON_CreateString(iso) : cJSON_CreateNull());
    cJSON *limits = cJSON_AddObjectToObject(o, "modelLimits"); /* family -> until */
    long long now = (long long)time(NULL) * 1000;
    for (int f = MF_ANY + 1; a && f < MF_COUNT; f++) {
        long long fu = account_family_until(a, (enum model_family)f);
        if (fu > now) {
            admin_iso_from_ms(fu, iso);
            cJSON_AddStringToObject(limits, model_family_name((enum model_family)f), iso);
        }
    }
    char window[24] = "";
    long long end = 0;
    if (a)
        account_window(a, window, sizeof(window), &end);
    if (!window[0])
        return;
    cJSON *w = cJSON_AddObjectToObject(o, "sessionWindow"); /* as this instance last saw it */
    cJSON_AddStringToObject(w, "status", window);
    if (end)
        admin_iso_from_ms(end, iso);
    cJSON_AddItemToObject(w, "resetsAt", end ? cJSON_CreateString(iso) : cJSON_CreateNull());
}

/* A record older than a common field shows the default in force. */
static void add_defaults_view(const struct provider *p, cJSON *o)
{
    for (size_t i = 0; i < ARRAY_SIZE(common_fields); i++) {
        const struct account_field *f = &common_fields[i];
        if (f->dflt && !cJSON_GetObjectItem(o, f->name))
            cJSON_AddItemToObject(o, f->name, typed(p, f->name, f->dflt));
    }
}

/* The daily-quota stop as this instance knows it: null when not stopped. */
static void add_quota_stop(cJSON *o, const struct account *a)
{
    long long until = a ? account_quota_until(a) : 0;
    bool stopped = a && a->daily_quota_micro > 0 && until > (long long)time(NULL) * 1000;
    char iso[32];
    cJSON_DeleteItemFromObject(o, "quotaStoppedUntil");
    if (stopped)
        admin_iso_from_ms(until, iso);
    cJSON_AddItemToObject(o, "quotaStoppedUntil",
                          stopped ? cJSON_CreateString(iso) : cJSON_CreateNull());
    if (!stopped) {
        cJSON_DeleteItemFromObject(o, "quotaStoppedAt");
        cJSON_AddNullToObject(o, "quotaStoppedAt");
    }
}

cJSON *account_record_render(const struct provider *p, const cJSON *rec,
                             const struct account_list *snap)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, rec)
    {
        if (is_secret(p, it->string) || !strcmp(it->string, "statusReason") ||
            !strcmp(it->string, "statusSince"))
            continue;
        cJSON *v = typed(p, it->string, it->valuestring);
        cJSON_AddItemToObject(o, it->string, v ? v : cJSON_CreateNull());
    }
    for (size_t i = 0; i < p->nfields; i++) /* "hasApiKey": true, never the key */
        if (p->fields[i].type == FT_SECRET) {
            char k[64];
            snprintf(k, sizeof(k), "has%c%s", toupper((unsigned char)p->fields[i].name[0]),
                     p->fields[i].name + 1);
            cJSON_AddBoolToObject(o, k, *json_str(rec, p->fields[i].name, "") != '\0');
        }
    cJSON *proxy = cJSON_GetObjectItem(o, "proxy");
    if (cJSON_IsObject(proxy))
        cJSON_AddBoolToObject(proxy, "hasPassword", *json_str(rec, "proxyPassword", "") != '\0');
    add_defaults_view(p, o);
    const struct account *a = account_list_find(snap, json_str(rec, "id", ""));
    add_state(o, a);
    add_quota_stop(o, a);
    return o;
}

/* ---- Redis ---- */

int account_record_save(struct app *app, struct rds_conn *c, const struct provider *p, cJSON *rec)
{
    char key[STORE_KEY_MAX], index[STORE_KEY_MAX], now[32];
    const char *id = json_str(rec, "id", "");
    admin_iso_now(now);
    json_set_str(rec, "updatedAt", now);
    store_key(key, SK_ACCOUNT_RECORD, p->record_prefix, id);
    store_key(index, SK_ACCOUNT_INDEX, p->record_prefix);
    int rc = store_hset_json(c, key, rec);
    redisReply *r = rc == 0 ? rds_command(c, "SADD %s %s", index, id) : NULL;
    if (rc == 0 && !r)
        rc = -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    if (rc == 0) {
        notify_publish(app, c, "accounts");
        if (accounts_refresh(app->accounts, c) != 0)
            log_warn("admin", "account snapshot refresh failed after a write");
    }
    return rc;
}

int account_record_load(struct rds_conn *c, const struct provider *p, const char *id, cJSON **out)
{
    char key[STORE_KEY_MAX];
    if (!admin_is_uuid(id))
        return -ERR_NOTFOUND;
    store_key(key, SK_ACCOUNT_RECORD, p->record_prefix, id);
    return store_hgetall(c, key, out);
}

int account_record_list(struct rds_conn *c, const struct provider *p, cJSON **out)
{
    char index[STORE_KEY_MAX];
    store_key(index, SK_ACCOUNT_INDEX, p->record_prefix);
    redisReply *ids = NULL;
    if (store_members(c, index, &ids) != 0)
        return -ERR_REDIS;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < ids->elements; i++) {
        cJSON *rec = NULL;
        if (account_record_load(c, p, ids->element[i]->str, &rec) == 0)
            cJSON_AddItemToArray(arr, rec);
    }
    freeReplyObject(ids);
    *out = arr;
    return 0;
}

int account_record_delete(struct app *app, struct rds_conn *c, const struct provider *p,
                          const char *id)
{
    char key[STORE_KEY_MAX], index[STORE_KEY_MAX], rl[STORE_KEY_MAX], ov[STORE_KEY_MAX],
        tu[STORE_KEY_MAX];
    store_key(key, SK_ACCOUNT_RECORD, p->record_prefix, id);
    store_key(index, SK_ACCOUNT_INDEX, p->record_prefix);
    store_key(rl, SK_RATE_LIMIT_STATE, id);
    store_key(ov, SK_OVERLOAD, id);
    store_key(tu, SK_TEMP_UNAVAILABLE, p->name, id);
    redisReply *r[3] = {0};
    int rc = -ERR_REDIS;
    if (rds_append(c, "DEL %s %s %s %s", key, rl, ov, tu) == 0 &&
        rds_append(c, "SREM %s %s", index, id) == 0 &&
        rds_append(c, "HDEL %s %s", SK_ACCOUNT_LAST_USED, id) == 0 &&
        rds_flush_replies(c, 3, r) == 0)
        rc = 0;
    for (int i = 0; i < 3; i++)
        if (r[i])
            freeReplyObject(r[i]);
    if (rc == 0) {
        notify_publish(app, c, "accounts");
        if (accounts_refresh(app->accounts, c) != 0)
            log_warn("admin", "account snapshot refresh failed after a delete");
    }
    return rc;
}

/* HSET only when the record still exists: a patch must not resurrect a
 * deleted account as a record with a few fields. */
static const char patch_lua[] = "if redis.call('EXISTS',KEYS[1])==0 then return 0 end "
                                "redis.call('HSET',KEYS[1],unpack(ARGV)) return 1";

int account_record_patch(struct app *app, struct rds_conn *c, const struct provider *p,
                         const char *id, const char *const *kv, size_t n)
{
    char key[STORE_KEY_MAX];
    if (!admin_is_uuid(id) || n == 0 || n % 2 || n > 32)
        return -ERR_INVAL;
    const char *argv[33];
    store_key(key, SK_ACCOUNT_RECORD, p->record_prefix, id);
    argv[0] = key;
    memcpy(argv + 1, kv, n * sizeof(*kv));
    redisReply *r = rds_script(c, patch_lua, 1, (int)n + 1, argv, NULL);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (r->integer ? 0 : -ERR_NOTFOUND) : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    if (rc == 0) {
        notify_publish(app, c, "accounts");
        if (accounts_refresh(app->accounts, c) != 0)
            log_warn("admin", "account snapshot refresh failed after a patch");
    }
    return rc;
}

cJSON *account_record_view(struct app *app, const struct provider *p, const cJSON *rec)
{
    struct account_list *snap = accounts_snapshot(app->accounts);
    cJSON *o = account_record_render(p, rec, snap);
    accounts_list_release(snap);
    return o;
}

int account_record_view_load(struct app *app, struct rds_conn *c, const struct provider *p,
                             const char *id, cJSON **out)
{
    cJSON *rec = NULL;
    int rc = account_record_load(c, p, id, &rec);
    if (rc == 0)
        *out = account_record_view(app, p, rec);
    cJSON_Delete(rec);
    return rc;
}
