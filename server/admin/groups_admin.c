/*
 * groups_admin.c - /admin/account-groups (crs-admin-spec 2.3): list,
 * create, get, update, delete (refused while it has members or a key binds
 * it), the resolved members, and member add / remove. Thin over
 * store/account_groups.c.
 */
#include "compat.h"
#include "account_groups.h"
#include "account_record.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"

static void reply_err(struct reqctx *rq, int rc, const char *msg)
{
    if (rc == -ERR_INVAL)
        admin_error(rq, 400, msg, msg);
    else if (rc == -ERR_NOTFOUND)
        admin_error(rq, 404, "Not found", "Account group not found");
    else
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
}

/* The list, filtered by ?platform= as the original's. */
static void h_list(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *all = NULL;
    int rc = account_groups_list(c, &all);
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_err(rq, rc, NULL);
        return;
    }
    const char *platform = reqctx_query(rq, "platform");
    cJSON *arr = cJSON_CreateArray();
    const cJSON *g;
    cJSON_ArrayForEach(g, all)
    {
        if (!platform || !*platform || strcmp(json_str(g, "platform", ""), platform) == 0)
            cJSON_AddItemToArray(arr, cJSON_Duplicate(g, true));
    }
    cJSON_Delete(all);
    admin_ok(rq, "data", arr);
}

static void h_get(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *rec = NULL;
    int rc = account_groups_load(c, reqctx_param(rq, "groupId"), &rec);
    admin_conn_put(rq, c);
    if (rc == 0)
        admin_ok(rq, "data", rec);
    else
        reply_err(rq, rc, NULL);
}

static void write_group(struct reqctx *rq, const char *gid)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    char msg[200] = "";
    cJSON *rec = NULL;
    int rc = account_groups_write(reqctx_app(rq), c, gid, reqctx_json(rq), &rec, msg, sizeof(msg));
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_err(rq, rc, msg);
        return;
    }
    log_info("admin", "account group %s %s by %s", json_str(rec, "id", ""),
             gid ? "updated" : "created", reqctx_admin(rq));
    admin_ok(rq, "data", rec);
}

static void h_create(struct reqctx *rq)
{
    write_group(rq, NULL);
}

static void h_update(struct reqctx *rq)
{
    write_group(rq, reqctx_param(rq, "groupId"));
}

static void h_delete(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    char msg[200] = "";
    const char *gid = reqctx_param(rq, "groupId");
    int rc = account_groups_delete(reqctx_app(rq), c, gid, msg, sizeof(msg));
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_err(rq, rc, msg);
        return;
    }
    log_info("admin", "account group %s deleted by %s", gid, reqctx_admin(rq));
    admin_ok(rq, "message", cJSON_CreateString("Account group deleted successfully"));
}

/* The member ids resolved to account views (ids of deleted accounts left out). */
static cJSON *resolve(struct reqctx *rq, struct rds_conn *c, const cJSON *ids)
{
    struct account_list *snap = accounts_snapshot(reqctx_app(rq)->accounts);
    cJSON *arr = cJSON_CreateArray();
    const cJSON *id;
    cJSON_ArrayForEach(id, ids)
    {
        const struct account *a = account_list_find(snap, id->valuestring);
        cJSON *rec = NULL;
        if (a && account_record_load(c, a->prov, a->id, &rec) == 0)
            cJSON_AddItemToArray(arr, account_record_render(a->prov, rec, snap));
        cJSON_Delete(rec);
    }
    accounts_list_release(snap);
    return arr;
}

static void h_members(struct reqctx *rq)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *rec = NULL, *ids = NULL, *arr = NULL;
    const char *gid = reqctx_param(rq, "groupId");
    int rc = account_groups_load(c, gid, &rec);
    if (rc == 0)
        rc = account_groups_members(c, gid, &ids);
    if (rc == 0)
        arr = resolve(rq, c, ids);
    admin_conn_put(rq, c);
    cJSON_Delete(rec);
    cJSON_Delete(ids);
    if (rc == 0)
        admin_ok(rq, "data", arr);
    else
        reply_err(rq, rc, NULL);
}

static void member(struct reqctx *rq, const char *account_id, bool add)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    char msg[200] = "";
    const char *gid = reqctx_param(rq, "groupId");
    int rc = account_groups_member(reqctx_app(rq), c, gid, account_id, add, msg, sizeof(msg));
    cJSON *rec = NULL;
    if (rc == 0)
        rc = account_groups_load(c, gid, &rec);
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_err(rq, rc, msg);
        return;
    }
    log_info("admin", "account %s %s group %s by %s", account_id, add ? "added to" : "removed from",
             gid, reqctx_admin(rq));
    admin_ok(rq, "data", rec);
}

/* Body {accountId}: nothing else is accepted. */
static void h_member_add(struct reqctx *rq)
{
    const cJSON *body = reqctx_json(rq), *it;
    char msg[160];
    if (!cJSON_IsObject(body)) {
        admin_error(rq, 400, "Request body must be a JSON object",
                    "Request body must be a JSON object");
        return;
    }
    cJSON_ArrayForEach(it, body)
    {
        if (strcmp(it->string, "accountId") != 0) {
            snprintf(msg, sizeof(msg), "unsupported field: %.100s", it->string);
            admin_error(rq, 400, msg, msg);
            return;
        }
    }
    const char *id = json_str(body, "accountId", "");
    if (!admin_is_uuid(id)) {
        admin_error(rq, 400, "accountId is required", "accountId must be an account id");
        return;
    }
    member(rq, id, true);
}

static void h_member_remove(struct reqctx *rq)
{
    member(rq, reqctx_param(rq, "accountId"), false);
}

#define GRP "/admin/account-groups"
const struct route group_routes[] = {
    {"GET", GRP, h_list, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", GRP, h_create, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", GRP "/:groupId", h_get, AUTH_ADMIN, BODY_SMALL, NULL},
    {"PUT", GRP "/:groupId", h_update, AUTH_ADMIN, BODY_SMALL, NULL},
    {"DELETE", GRP "/:groupId", h_delete, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", GRP "/:groupId/members", h_members, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", GRP "/:groupId/members", h_member_add, AUTH_ADMIN, BODY_SMALL, NULL},
    {"DELETE", GRP "/:groupId/members/:accountId", h_member_remove, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
