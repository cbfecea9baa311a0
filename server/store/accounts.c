/*
 * accounts.c - Claude Console accounts: admin CRUD (/admin/claude-console-
 * accounts, shapes of the original system) and the scheduler's snapshot.
 *
 * LOCKING: accs->mu guards the current snapshot pointer only; a snapshot is
 * immutable and refcounted, so readers hold no lock while using it. The
 * scheduler's last_used_ms (atomic) is carried over across refreshes.
 */
#include "compat.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>

struct accounts {
    struct app *app;
    pthread_mutex_t mu; /* guards: cur */
    struct account_list *cur;
};

/* ---- snapshot ---- */

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

void accounts_list_release(struct account_list *list)
{
    if (!list || atomic_fetch_sub(&list->refs, 1) != 1)
        return;
    for (size_t i = 0; i < list->n; i++) {
        struct account *a = list->items[i];
        free(a->api_url);
        wipe_free(a->api_key);
        wipe_free(a->proxy_url);
        free(a->user_agent);
        free(a);
    }
    free(list->items);
    free(list);
}

static struct account_list *list_new(size_t cap)
{
    struct account_list *l = xcalloc(1, sizeof(*l));
    atomic_init(&l->refs, 1);
    l->items = xcalloc(cap ? cap : 1, sizeof(*l->items));
    return l;
}

int accounts_new(struct app *app, struct accounts **out)
{
    struct accounts *a = xcalloc(1, sizeof(*a));
    a->app = app;
    pthread_mutex_init(&a->mu, NULL);
    a->cur = list_new(0);
    *out = a;
    return 0;
}

void accounts_free(struct accounts *accs)
{
    if (!accs)
        return;
    accounts_list_release(accs->cur);
    pthread_mutex_destroy(&accs->mu);
    free(accs);
}

struct account_list *accounts_snapshot(struct accounts *accs)
{
    pthread_mutex_lock(&accs->mu);
    struct account_list *l = accs->cur;
    atomic_fetch_add(&l->refs, 1);
    pthread_mutex_unlock(&accs->mu);
    return l;
}

static char *unseal_field(const struct app *app, const cJSON *rec, const char *field)
{
    char ad[STORE_KEY_MAX + 32];
    const char *blob = json_str(rec, field, NULL);
    if (!blob || !*blob)
        return NULL;
    snprintf(ad, sizeof(ad), "claude_console_account:%s:%s", json_str(rec, "id", ""), field);
    char *plain = NULL;
    if (secret_open(app->box, ad, blob, &plain, NULL) != 0) {
        log_warn("accounts", "cannot open the sealed %s of account %s (wrong ENCRYPTION_KEY?)",
                 field, json_str(rec, "id", "?"));
        return NULL;
    }
    return plain;
}

static char *pct(const char *s)
{
    char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
    for (; *s; s++) {
        if (isalnum((unsigned char)*s) || strchr("-._~", *s))
            *o++ = *s;
        else
            o += snprintf(o, 4, "%%%02X", (unsigned char)*s);
    }
    *o = '\0';
    return out;
}

static char *proxy_url(const struct app *app, const cJSON *rec)
{
    const char *text = json_str(rec, "proxy", "");
    cJSON *p = *text ? json_parse(text, strlen(text), 8, true) : NULL;
    const char *type = json_str(p, "type", ""), *host = json_str(p, "host", "");
    char *url = NULL;
    if (*host) {
        /* socks5h: the proxy resolves the upstream host name (as the
         * original's SocksProxyAgent does); https: TLS to the proxy itself. */
        const char *scheme = strcmp(type, "socks5") == 0  ? "socks5h"
                             : strcmp(type, "https") == 0 ? "https"
                                                          : "http";
        char *user = pct(json_str(p, "username", "")),
             *pw = unseal_field(app, rec, "proxyPassword");
        char *epw = pw ? pct(pw) : xstrdup("");
        url = *user
                  ? xasprintf("%s://%s:%s@%s:%lld", scheme, user, epw, host, json_int(p, "port", 0))
                  : xasprintf("%s://%s:%lld", scheme, host, json_int(p, "port", 0));
        free(user);
        wipe_free(pw);
        wipe_free(epw);
    }
    cJSON_Delete(p);
    return url;
}

static struct account *account_from(const struct app *app, const cJSON *rec,
                                    const struct account_list *old)
{
    struct account *a = xcalloc(1, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", json_str(rec, "id", ""));
    snprintf(a->name, sizeof(a->name), "%s", json_str(rec, "name", ""));
    a->type = "claude-console";
    a->api_url = xstrdup(json_str(rec, "apiUrl", ""));
    a->api_key = unseal_field(app, rec, "apiKey");
    a->proxy_url = proxy_url(app, rec);
    const char *ua = json_str(rec, "userAgent", "");
    a->user_agent = *ua ? xstrdup(ua) : NULL;
    a->priority = (int)strtol(json_str(rec, "priority", "50"), NULL, 10);
    a->schedulable = strcmp(json_str(rec, "schedulable", "true"), "true") == 0;
    a->active = strcmp(json_str(rec, "isActive", "true"), "true") == 0;
    for (size_t i = 0; old && i < old->n; i++)
        if (strcmp(old->items[i]->id, a->id) == 0)
            atomic_store(&a->last_used_ms, atomic_load(&old->items[i]->last_used_ms));
    return a;
}

static int seal_into(const struct app *app, cJSON *rec, const char *field, const char *plain)
{
    char ad[STORE_KEY_MAX + 32], *blob = NULL;
    snprintf(ad, sizeof(ad), "claude_console_account:%s:%s", json_str(rec, "id", ""), field);
    if (secret_seal(app->box, ad, plain, strlen(plain), &blob) != 0)
        return -ERR_CRYPTO;
    cJSON_DeleteItemFromObject(rec, field);
    cJSON_AddStringToObject(rec, field, blob);
    free(blob);
    return 0;
}

/* Fields sealed under an old ENCRYPTION_KEY are re-sealed under the current
 * one, compare-and-set so an admin edit made meanwhile wins. After one pass
 * nothing is sealed under the old key and ENCRYPTION_KEY_OLD can go. */
static const char reseal_lua[] = "if redis.call('HGET',KEYS[1],ARGV[1])==ARGV[2] then\n"
                                 "  return redis.call('HSET',KEYS[1],ARGV[1],ARGV[3])\n"
                                 "end\n"
                                 "return -1\n";

static void reseal_old(const struct app *app, struct rds_conn *c, const char *key, cJSON *rec)
{
    static const char *const fields[] = {"apiKey", "proxyPassword"};
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        const char *blob = json_str(rec, fields[i], "");
        if (!*blob || secret_is_current(app->box, blob))
            continue;
        char *plain = unseal_field(app, rec, fields[i]);
        char *old = xstrdup(blob);
        if (plain && seal_into(app, rec, fields[i], plain) == 0) {
            const char *argv[] = {key, fields[i], old, json_str(rec, fields[i], "")};
            redisReply *r = rds_script(c, reseal_lua, 1, 4, argv, NULL);
            if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
                log_info("accounts", "re-sealed %s of account %s under the current key", fields[i],
                         json_str(rec, "id", "?"));
            if (r)
                freeReplyObject(r);
        }
        wipe_free(plain);
        free(old);
    }
}

int accounts_refresh(struct accounts *accs, struct rds_conn *c)
{
    redisReply *ids = rds_command(c, "SMEMBERS %s", SK_CONSOLE_ACCOUNT_INDEX);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject(ids);
        return -ERR_REDIS;
    }
    struct account_list *old = accounts_snapshot(accs);
    struct account_list *l = list_new(ids->elements);
    for (size_t i = 0; i < ids->elements; i++) {
        char key[STORE_KEY_MAX];
        cJSON *rec = NULL;
        store_key(key, SK_CONSOLE_ACCOUNT, ids->element[i]->str);
        if (store_hgetall(c, key, &rec) == 0) {
            l->items[l->n++] = account_from(accs->app, rec, old);
            reseal_old(accs->app, c, key, rec);
        }
        cJSON_Delete(rec);
    }
    freeReplyObject(ids);
    accounts_list_release(old);
    pthread_mutex_lock(&accs->mu);
    old = accs->cur;
    accs->cur = l;
    pthread_mutex_unlock(&accs->mu);
    accounts_list_release(old);
    return 0;
}

/* ---- admin ---- */

static void set_str(cJSON *rec, const char *k, const char *v)
{
    cJSON_DeleteItemFromObject(rec, k);
    cJSON_AddStringToObject(rec, k, v);
}

static const char *apply_proxy(const struct app *app, cJSON *rec, const cJSON *p)
{
    if (cJSON_IsNull(p) || (cJSON_IsObject(p) && !*json_str(p, "host", ""))) {
        set_str(rec, "proxy", "");
        set_str(rec, "proxyPassword", "");
        return NULL;
    }
    const char *type = json_str(p, "type", json_str(p, "protocol", ""));
    long long port = json_int(p, "port", 0);
    if (!cJSON_IsObject(p) ||
        (strcmp(type, "socks5") && strcmp(type, "http") && strcmp(type, "https")) || port < 1 ||
        port > 65535 || strlen(json_str(p, "host", "")) > 255)
        return "proxy must be {type: socks5|http|https, host, port, username?, password?}";
    cJSON *keep = cJSON_CreateObject();
    cJSON_AddStringToObject(keep, "type", type);
    cJSON_AddStringToObject(keep, "host", json_str(p, "host", ""));
    cJSON_AddNumberToObject(keep, "port", (double)port);
    cJSON_AddStringToObject(keep, "username", json_str(p, "username", ""));
    char *text = json_print(keep);
    cJSON_Delete(keep);
    set_str(rec, "proxy", text);
    free(text);
    const char *pw = json_str(p, "password", "");
    if (*pw)
        seal_into(app, rec, "proxyPassword", pw);
    else
        set_str(rec, "proxyPassword", "");
    return NULL;
}

static const char *check_url(const char *u)
{
    if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
        return "apiUrl must start with http:// or https://";
    return strlen(u) > 2048 ? "apiUrl is too long" : NULL;
}

/* Apply the admin body to rec (strings). NULL or an error text. */
static const char *apply_account(const struct app *app, cJSON *rec, const cJSON *b, bool create)
{
    if (!cJSON_IsObject(b))
        return "Request body must be a JSON object";
    const cJSON *v;
    if ((v = json_get(b, "name"))) {
        if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > 100)
            return "name must be 1 to 100 characters";
        set_str(rec, "name", v->valuestring);
    }
    if ((v = json_get(b, "description")) && cJSON_IsString(v))
        set_str(rec, "description", v->valuestring);
    if ((v = json_get(b, "apiUrl"))) {
        if (!cJSON_IsString(v) || check_url(v->valuestring))
            return cJSON_IsString(v) ? check_url(v->valuestring) : "apiUrl must be a string";
        char *u = xstrdup(v->valuestring);
        size_t n = strlen(u);
        while (n && u[n - 1] == '/')
            u[--n] = '\0';
        set_str(rec, "apiUrl", u);
        free(u);
    }
    if ((v = json_get(b, "apiKey")) && cJSON_IsString(v) && *v->valuestring) {
        if (strlen(v->valuestring) > 4096)
            return "apiKey is too long";
        seal_into(app, rec, "apiKey", v->valuestring);
        char prev[32];
        size_t n = strlen(v->valuestring);
        if (n >= 16)
            snprintf(prev, sizeof(prev), "%.7s...%s", v->valuestring, v->valuestring + n - 4);
        else
            snprintf(prev, sizeof(prev), "***");
        set_str(rec, "apiKeyPreview", prev);
    }
    if ((v = json_get(b, "priority"))) {
        long long p = json_int(b, "priority", -1);
        if (!cJSON_IsNumber(v) || p < 1 || p > 100)
            return "priority must be an integer from 1 to 100";
        char buf[8];
        snprintf(buf, sizeof(buf), "%lld", p);
        set_str(rec, "priority", buf);
    }
    static const char *const bools[] = {"schedulable", "isActive"};
    for (size_t i = 0; i < ARRAY_SIZE(bools); i++)
        if ((v = json_get(b, bools[i]))) {
            if (!cJSON_IsBool(v))
                return "schedulable and isActive must be booleans";
            set_str(rec, bools[i], cJSON_IsTrue(v) ? "true" : "false");
        }
    if ((v = json_get(b, "userAgent")) && cJSON_IsString(v))
        set_str(rec, "userAgent", v->valuestring);
    if ((v = json_get(b, "proxy"))) {
        const char *err = apply_proxy(app, rec, v);
        if (err)
            return err;
    }
    if (create && (!*json_str(rec, "name", "") || !*json_str(rec, "apiUrl", "") ||
                   !*json_str(rec, "apiKey", "")))
        return "name, apiUrl and apiKey are required";
    return NULL;
}

/* The admin view of a record: typed, no secrets. */
static cJSON *render_account(const cJSON *rec)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, rec)
    {
        const char *k = it->string, *v = it->valuestring;
        if (!strcmp(k, "apiKey") || !strcmp(k, "proxyPassword") || !strcmp(k, "_v"))
            continue;
        if (!strcmp(k, "priority"))
            cJSON_AddNumberToObject(o, k, strtod(v, NULL));
        else if (!strcmp(k, "schedulable") || !strcmp(k, "isActive"))
            cJSON_AddBoolToObject(o, k, !strcmp(v, "true"));
        else if (!strcmp(k, "proxy"))
            cJSON_AddItemToObject(o, k,
                                  *v ? json_parse(v, strlen(v), 8, true) : cJSON_CreateNull());
        else
            cJSON_AddStringToObject(o, k, v);
    }
    cJSON_AddBoolToObject(o, "hasApiKey", *json_str(rec, "apiKey", "") != '\0');
    cJSON *proxy = cJSON_GetObjectItem(o, "proxy");
    if (cJSON_IsObject(proxy))
        cJSON_AddBoolToObject(proxy, "hasPassword", *json_str(rec, "proxyPassword", "") != '\0');
    return o;
}

static void reply_err(struct reqctx *rq, int rc, const char *msg)
{
    if (rc == -ERR_NOTFOUND)
        admin_error(rq, 404, "Not found", "Account not found");
    else if (rc == -ERR_INVAL)
        admin_error(rq, 400, "Invalid request", msg);
    else
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
}

static int save(struct reqctx *rq, struct rds_conn *c, cJSON *rec)
{
    char key[STORE_KEY_MAX], now[32];
    admin_iso_now(now);
    set_str(rec, "updatedAt", now);
    store_key(key, SK_CONSOLE_ACCOUNT, json_str(rec, "id", ""));
    int rc = store_hset_json(c, key, rec);
    redisReply *r = rds_command(c, "SADD %s %s", SK_CONSOLE_ACCOUNT_INDEX, json_str(rec, "id", ""));
    if (r)
        freeReplyObject(r);
    if (rc == 0)
        accounts_refresh(reqctx_app(rq)->accounts, c);
    return rc;
}

static void h_list(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    redisReply *ids = rds_command(c, "SMEMBERS %s", SK_CONSOLE_ACCOUNT_INDEX);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; ids && ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        char key[STORE_KEY_MAX];
        cJSON *rec = NULL;
        store_key(key, SK_CONSOLE_ACCOUNT, ids->element[i]->str);
        if (store_hgetall(c, key, &rec) == 0)
            cJSON_AddItemToArray(arr, render_account(rec));
        cJSON_Delete(rec);
    }
    bool ok = ids && ids->type == REDIS_REPLY_ARRAY;
    if (ids)
        freeReplyObject(ids);
    admin_conn_put(rq, c);
    if (!ok) {
        cJSON_Delete(arr);
        reply_err(rq, -ERR_REDIS, NULL);
        return;
    }
    admin_ok(rq, "data", arr);
}

static void h_create(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    char id[37], now[32];
    secret_uuid(id);
    admin_iso_now(now);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "id", id);
    static const char *const defaults[][2] = {{"platform", "claude-console"},
                                              {"priority", "50"},
                                              {"schedulable", "true"},
                                              {"isActive", "true"},
                                              {"status", "active"},
                                              {"description", ""},
                                              {"proxy", ""}};
    for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
        cJSON_AddStringToObject(rec, defaults[i][0], defaults[i][1]);
    cJSON_AddStringToObject(rec, "createdAt", now);
    const char *err = apply_account(reqctx_app(rq), rec, reqctx_json(rq), true);
    int rc = err ? -ERR_INVAL : save(rq, c, rec);
    admin_conn_put(rq, c);
    if (rc == 0) {
        log_info("admin", "console account %s created by %s", id, reqctx_admin(rq));
        admin_ok(rq, "data", render_account(rec));
    } else {
        reply_err(rq, rc, err);
    }
    cJSON_Delete(rec);
}

/* Load the account named by :accountId; replies on failure. */
static cJSON *load_param(struct reqctx *rq, struct rds_conn *c)
{
    const char *id = reqctx_param(rq, "accountId");
    char key[STORE_KEY_MAX];
    cJSON *rec = NULL;
    int rc = -ERR_NOTFOUND;
    if (admin_is_uuid(id)) {
        store_key(key, SK_CONSOLE_ACCOUNT, id);
        rc = store_hgetall(c, key, &rec);
    }
    if (rc != 0)
        reply_err(rq, rc, NULL);
    return rc == 0 ? rec : NULL;
}

static void h_update(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *rec = load_param(rq, c);
    if (rec) {
        const char *err = apply_account(reqctx_app(rq), rec, reqctx_json(rq), false);
        int rc = err ? -ERR_INVAL : save(rq, c, rec);
        if (rc == 0)
            admin_ok(rq, "data", render_account(rec));
        else
            reply_err(rq, rc, err);
    }
    cJSON_Delete(rec);
    admin_conn_put(rq, c);
}

static void toggle(struct reqctx *rq, const char *field)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *rec = load_param(rq, c);
    if (rec) {
        bool now_on = strcmp(json_str(rec, field, "true"), "true") != 0;
        set_str(rec, field, now_on ? "true" : "false");
        if (save(rq, c, rec) == 0) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddBoolToObject(j, "success", true);
            cJSON_AddBoolToObject(j, field, now_on);
            reqctx_reply_json(rq, 200, j);
        } else {
            reply_err(rq, -ERR_REDIS, NULL);
        }
    }
    cJSON_Delete(rec);
    admin_conn_put(rq, c);
}

static void h_toggle(struct reqctx *rq)
{
    toggle(rq, "isActive");
}

static void h_toggle_sched(struct reqctx *rq)
{
    toggle(rq, "schedulable");
}

static void h_delete(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *rec = load_param(rq, c);
    if (rec) {
        char key[STORE_KEY_MAX];
        const char *id = json_str(rec, "id", "");
        store_key(key, SK_CONSOLE_ACCOUNT, id);
        redisReply *r1 = rds_command(c, "DEL %s", key);
        redisReply *r2 = rds_command(c, "SREM %s %s", SK_CONSOLE_ACCOUNT_INDEX, id);
        bool ok = r1 && r2;
        if (r1)
            freeReplyObject(r1);
        if (r2)
            freeReplyObject(r2);
        accounts_refresh(reqctx_app(rq)->accounts, c);
        if (ok)
            admin_ok(rq, "message", cJSON_CreateString("Account deleted successfully"));
        else
            reply_err(rq, -ERR_REDIS, NULL);
    }
    cJSON_Delete(rec);
    admin_conn_put(rq, c);
}

#define ACC "/admin/claude-console-accounts"
const struct route account_routes[] = {
    {"GET", ACC, h_list, AUTH_ADMIN, BODY_SMALL},
    {"POST", ACC, h_create, AUTH_ADMIN, BODY_SMALL},
    {"PUT", ACC "/:accountId", h_update, AUTH_ADMIN, BODY_SMALL},
    {"DELETE", ACC "/:accountId", h_delete, AUTH_ADMIN, BODY_SMALL},
    {"PUT", ACC "/:accountId/toggle", h_toggle, AUTH_ADMIN, BODY_SMALL},
    {"PUT", ACC "/:accountId/toggle-schedulable", h_toggle_sched, AUTH_ADMIN, BODY_SMALL},
    {0},
};
