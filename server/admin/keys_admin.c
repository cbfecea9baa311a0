/*
 * keys_admin.c - /admin/api-keys: the original system's shapes over the
 * key records of store/keys.c (list with search and pages, get, create,
 * update, soft delete, restore, permanent delete).
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "secret.h"
#include "xmalloc.h"

#include <string.h>

static void reply_rc(struct reqctx *rq, int rc, const char *msg)
{
    if (rc == -ERR_NOTFOUND)
        admin_error(rq, 404, "Not found", "API key not found");
    else if (rc == -ERR_INVAL)
        admin_error(rq, 400, msg && *msg ? msg : "Invalid request", msg);
    else
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
}

static void h_create(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    char msg[160] = "";
    cJSON *item = NULL;
    char *key = NULL;
    int rc = keys_create(reqctx_app(rq), c, reqctx_json(rq), &item, &key, msg, sizeof(msg));
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_rc(rq, rc, msg);
        return;
    }
    cJSON_AddStringToObject(item, "apiKey", key);
    log_info("admin", "API key %s created by %s", json_str(item, "id", ""), reqctx_admin(rq));
    secret_free(key);
    admin_ok(rq, "data", item);
}

/* The batch body's fields for key i: everything but baseName and count,
 * with name "<baseName>_<i>". Caller deletes. */
static cJSON *batch_body(const cJSON *body, const char *base, int i)
{
    cJSON *one = cJSON_Duplicate(body, true);
    char name[128];
    cJSON_DeleteItemFromObject(one, "baseName");
    cJSON_DeleteItemFromObject(one, "count");
    cJSON_DeleteItemFromObject(one, "name");
    snprintf(name, sizeof(name), "%s_%d", base, i);
    cJSON_AddStringToObject(one, "name", name);
    return one;
}

/* Create n keys; the first refusal stops the batch (they share one body). */
static int create_batch(struct reqctx *rq, struct rds_conn *c, const char *base, int n, cJSON *out,
                        char *msg, size_t len)
{
    for (int i = 1; i <= n; i++) {
        cJSON *one = batch_body(reqctx_json(rq), base, i), *item = NULL;
        char *key = NULL;
        int rc = keys_create(reqctx_app(rq), c, one, &item, &key, msg, len);
        cJSON_Delete(one);
        if (rc != 0)
            return rc;
        cJSON_AddStringToObject(item, "apiKey", key);
        secret_free(key);
        cJSON_AddItemToArray(out, item);
    }
    return 0;
}

/* POST /admin/api-keys/batch {baseName, count 2..500, ...the key fields} */
static void h_batch(struct reqctx *rq)
{
    const cJSON *body = reqctx_json(rq);
    const char *base = json_str(body, "baseName", "");
    long long n = json_int(body, "count", 0);
    if (!*base || strlen(base) > 90 || n < 2 || n > 500) {
        admin_error(rq, 400, "baseName and count are required",
                    "baseName: 1 to 90 characters; count: 2 to 500");
        return;
    }
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    char msg[160] = "";
    cJSON *made = cJSON_CreateArray();
    int rc = create_batch(rq, c, base, (int)n, made, msg, sizeof(msg));
    admin_conn_put(rq, c);
    int created = cJSON_GetArraySize(made);
    if (rc != 0 && created == 0) {
        cJSON_Delete(made);
        reply_rc(rq, rc, msg);
        return;
    }
    log_info("admin", "%d API keys created in a batch by %s", created, reqctx_admin(rq));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    cJSON_AddItemToObject(j, "data", made);
    cJSON *sum = cJSON_AddObjectToObject(j, "summary");
    cJSON_AddNumberToObject(sum, "requested", (double)n);
    cJSON_AddNumberToObject(sum, "created", created);
    cJSON_AddNumberToObject(sum, "failed", (double)n - created);
    if (rc != 0)
        cJSON_AddStringToObject(j, "error", msg);
    reqctx_set_header(rq, "Cache-Control", "no-store");
    reqctx_reply_json(rq, 200, j);
}

static int cmp_created_desc(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(json_str(y, "createdAt", ""), json_str(x, "createdAt", ""));
}

static bool matches_filters(const cJSON *item, const char *search, const char *active)
{
    if (active && *active && strcmp(active, json_bool(item, "isActive", false) ? "true" : "false"))
        return false;
    return !search || !*search || strcasestr(json_str(item, "name", ""), search);
}

static cJSON *paginate(cJSON *all, struct reqctx *rq)
{
    long page = reqctx_query(rq, "page") ? strtol(reqctx_query(rq, "page"), NULL, 10) : 1;
    long size = reqctx_query(rq, "pageSize") ? strtol(reqctx_query(rq, "pageSize"), NULL, 10) : 20;
    page = page < 1 ? 1 : page;
    size = size < 1 ? 1 : size > 100 ? 100 : size;
    int n = cJSON_GetArraySize(all);
    cJSON **v = xcalloc((size_t)n + 1, sizeof(*v));
    int m = 0;
    for (cJSON *it = all->child; it; it = it->next)
        if (matches_filters(it, reqctx_query(rq, "search"), reqctx_query(rq, "isActive")))
            v[m++] = it;
    qsort(v, (size_t)m, sizeof(*v), cmp_created_desc);
    cJSON *data = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(data, "items");
    for (long i = (page - 1) * size; i < m && i < page * size; i++)
        cJSON_AddItemToArray(items, cJSON_Duplicate(v[i], true));
    cJSON *pg = cJSON_AddObjectToObject(data, "pagination");
    cJSON_AddNumberToObject(pg, "page", (double)page);
    cJSON_AddNumberToObject(pg, "pageSize", (double)size);
    cJSON_AddNumberToObject(pg, "total", m);
    cJSON_AddNumberToObject(pg, "totalPages", (double)((m + size - 1) / size));
    free(v);
    return data;
}

static void h_list(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *all = NULL;
    int rc = keys_load_all(c, false, &all);
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_rc(rq, rc, NULL);
        return;
    }
    admin_ok(rq, "data", paginate(all, rq));
    cJSON_Delete(all);
}

static void h_deleted(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *all = NULL;
    int rc = keys_load_all(c, true, &all);
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_rc(rq, rc, NULL);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    cJSON_AddNumberToObject(j, "total", cJSON_GetArraySize(all));
    cJSON_AddItemToObject(j, "apiKeys", all);
    reqctx_reply_json(rq, 200, j);
}

static const char *key_param(struct reqctx *rq)
{
    const char *id = reqctx_param(rq, "keyId");
    if (!admin_is_uuid(id)) {
        admin_error(rq, 404, "Not found", "API key not found");
        return NULL;
    }
    return id;
}

static void h_get(struct reqctx *rq)
{
    const char *id = key_param(rq);
    struct rds_conn *c = id ? admin_conn(rq) : NULL;
    if (!c)
        return;
    cJSON *item = NULL;
    int rc = keys_load_item(c, id, &item);
    admin_conn_put(rq, c);
    if (rc != 0)
        reply_rc(rq, rc, NULL);
    else
        admin_ok(rq, "data", item);
}

static void run_change(struct reqctx *rq, enum keys_change what, const char *done)
{
    const char *id = key_param(rq);
    struct rds_conn *c = id ? admin_conn(rq) : NULL;
    if (!c)
        return;
    char msg[160] = "";
    int rc = keys_change(reqctx_app(rq), c, id, what, reqctx_json(rq), reqctx_admin(rq), msg,
                         sizeof(msg));
    cJSON *item = NULL;
    if (rc == 0)
        rc = keys_load_item(c, id, &item);
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_rc(rq, rc, msg);
        return;
    }
    log_info("admin", "API key %s: %s by %s", id, done, reqctx_admin(rq));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    cJSON_AddStringToObject(j, "message", done);
    cJSON_AddItemToObject(j, "data", item);
    reqctx_reply_json(rq, 200, j);
}

static void h_update(struct reqctx *rq)
{
    run_change(rq, KEYS_UPDATE, "API key updated successfully");
}

static void h_delete(struct reqctx *rq)
{
    run_change(rq, KEYS_SOFT_DELETE, "API key deleted successfully");
}

static void h_restore(struct reqctx *rq)
{
    run_change(rq, KEYS_RESTORE, "API key restored successfully");
}

/* A new secret for the key: same id, settings and statistics. */
static void h_regenerate(struct reqctx *rq)
{
    const char *id = key_param(rq);
    struct rds_conn *c = id ? admin_conn(rq) : NULL;
    if (!c)
        return;
    cJSON *item = NULL;
    char *key = NULL;
    int rc = keys_regenerate(reqctx_app(rq), c, id, &item, &key);
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_rc(rq, rc, NULL);
        return;
    }
    cJSON_AddStringToObject(item, "apiKey", key);
    secret_free(key);
    log_info("admin", "API key %s regenerated by %s", id, reqctx_admin(rq));
    admin_ok(rq, "data", item);
}

static void h_permanent(struct reqctx *rq)
{
    const char *id = key_param(rq);
    struct rds_conn *c = id ? admin_conn(rq) : NULL;
    if (!c)
        return;
    int rc = keys_delete_permanent(reqctx_app(rq), c, id);
    admin_conn_put(rq, c);
    if (rc != 0)
        reply_rc(rq, rc, "Only deleted API keys can be removed permanently");
    else
        admin_ok(rq, "message", cJSON_CreateString("API key permanently deleted"));
}

const struct route admin_routes[] = {
    {"GET", "/admin/api-keys/deleted", h_deleted, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/api-keys", h_list, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", "/admin/api-keys", h_create, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", "/admin/api-keys/batch", h_batch, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", "/admin/api-keys/:keyId/regenerate", h_regenerate, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/api-keys/:keyId", h_get, AUTH_ADMIN, BODY_SMALL, NULL},
    {"PUT", "/admin/api-keys/:keyId", h_update, AUTH_ADMIN, BODY_SMALL, NULL},
    {"DELETE", "/admin/api-keys/:keyId", h_delete, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", "/admin/api-keys/:keyId/restore", h_restore, AUTH_ADMIN, BODY_SMALL, NULL},
    {"DELETE", "/admin/api-keys/:keyId/permanent", h_permanent, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
