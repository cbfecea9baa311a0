/*
 * accounts_admin.c - /admin/<type>-accounts for every provider in the
 * registry (the original's per-type paths, e.g. /admin/claude-console-
 * accounts): list, create, update, delete, toggle, toggle-schedulable,
 * reset-status and test (relay/txn_test.c). Thin over store/
 * account_record.c; the provider comes from the path, so a new provider
 * needs no line here.
 */
#include "compat.h"
#include "account_record.h"
#include "account_state.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "txn.h"

static void reply_err(struct reqctx *rq, int rc, const char *msg)
{
    if (rc == -ERR_INVAL)
        admin_error(rq, 400, msg, msg);
    else if (rc == -ERR_NOTFOUND)
        admin_error(rq, 404, "Not found", "Account not found");
    else
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
}

/* The provider named by the path, or NULL after a 404. */
static const struct provider *path_provider(struct reqctx *rq)
{
    const struct provider *p = provider_by_admin_path(reqctx_param(rq, "accountType"));
    if (!p) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Route %s %.150s not found", reqctx_method(rq), reqctx_path(rq));
        admin_error(rq, 404, "Not Found", msg);
    }
    return p;
}

static cJSON *render(struct reqctx *rq, const struct provider *p, const cJSON *rec)
{
    return account_record_view(reqctx_app(rq), p, rec);
}

static void h_list(struct reqctx *rq)
{
    const struct provider *p = path_provider(rq);
    struct rds_conn *c = p ? admin_conn(rq) : NULL;
    if (!c)
        return;
    cJSON *recs = NULL;
    int rc = account_record_list(c, p, &recs);
    admin_conn_put(rq, c);
    if (rc != 0) {
        reply_err(rq, rc, NULL);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it, recs) cJSON_AddItemToArray(arr, render(rq, p, it));
    cJSON_Delete(recs);
    admin_ok(rq, "data", arr);
}

static void h_create(struct reqctx *rq)
{
    const struct provider *p = path_provider(rq);
    struct rds_conn *c = p ? admin_conn(rq) : NULL;
    if (!c)
        return;
    char msg[200] = "";
    cJSON *rec = account_record_new(p);
    int rc = account_record_apply(reqctx_app(rq), p, rec, reqctx_json(rq), true, msg, sizeof(msg));
    if (rc == 0)
        rc = account_record_save(reqctx_app(rq), c, p, rec);
    admin_conn_put(rq, c);
    if (rc == 0) {
        log_info("admin", "%s account %s created by %s", p->name, json_str(rec, "id", ""),
                 reqctx_admin(rq));
        admin_ok(rq, "data", render(rq, p, rec));
    } else {
        reply_err(rq, rc, msg);
    }
    cJSON_Delete(rec);
}

typedef int (*change_fn)(struct reqctx *rq, const struct provider *p, cJSON *rec, char *msg,
                         size_t len);

/* Load :accountId, let fn change it, save, answer {success, data} (and
 * the toggled field, as the original's toggles do). */
static void change(struct reqctx *rq, change_fn fn, const char *echo)
{
    const struct provider *p = path_provider(rq);
    struct rds_conn *c = p ? admin_conn(rq) : NULL;
    if (!c)
        return;
    char msg[200] = "";
    cJSON *rec = NULL;
    int rc = account_record_load(c, p, reqctx_param(rq, "accountId"), &rec);
    if (rc == 0)
        rc = fn(rq, p, rec, msg, sizeof(msg));
    if (rc == 0)
        rc = account_record_save(reqctx_app(rq), c, p, rec);
    admin_conn_put(rq, c);
    if (rc == 0 && echo) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "success", true);
        cJSON_AddBoolToObject(j, echo, strcmp(json_str(rec, echo, ""), "true") == 0);
        cJSON_AddItemToObject(j, "data", render(rq, p, rec));
        reqctx_reply_json(rq, 200, j);
    } else if (rc == 0) {
        admin_ok(rq, "data", render(rq, p, rec));
    } else {
        reply_err(rq, rc, msg);
    }
    cJSON_Delete(rec);
}

static int do_update(struct reqctx *rq, const struct provider *p, cJSON *rec, char *msg, size_t len)
{
    return account_record_apply(reqctx_app(rq), p, rec, reqctx_json(rq), false, msg, len);
}

static int flip(cJSON *rec, const char *field)
{
    bool on = strcmp(json_str(rec, field, "true"), "true") != 0;
    json_set_str(rec, field, on ? "true" : "false");
    return 0;
}

static int do_toggle(struct reqctx *rq, const struct provider *p, cJSON *rec, char *msg, size_t len)
{
    UNUSED(rq), UNUSED(p), UNUSED(msg), UNUSED(len);
    return flip(rec, "isActive");
}

static int do_toggle_sched(struct reqctx *rq, const struct provider *p, cJSON *rec, char *msg,
                           size_t len)
{
    UNUSED(rq), UNUSED(p), UNUSED(msg), UNUSED(len);
    return flip(rec, "schedulable");
}

static void h_update(struct reqctx *rq)
{
    change(rq, do_update, NULL);
}

static void h_toggle(struct reqctx *rq)
{
    change(rq, do_toggle, "isActive");
}

static void h_toggle_sched(struct reqctx *rq)
{
    change(rq, do_toggle_sched, "schedulable");
}

typedef int (*act_fn)(struct reqctx *rq, struct rds_conn *c, const struct provider *p,
                      const char *id);

/* Act on :accountId if it exists; 0 or the error (replied by the caller). */
static int with_account(struct reqctx *rq, act_fn act, const struct provider **pp,
                        struct rds_conn **cp)
{
    const struct provider *p = path_provider(rq);
    struct rds_conn *c = p ? admin_conn(rq) : NULL;
    if (!c)
        return 1; /* replied */
    cJSON *rec = NULL;
    const char *id = reqctx_param(rq, "accountId");
    int rc = account_record_load(c, p, id, &rec);
    cJSON_Delete(rec);
    if (rc == 0)
        rc = act(rq, c, p, id);
    *pp = p;
    *cp = c;
    return rc;
}

static int do_delete(struct reqctx *rq, struct rds_conn *c, const struct provider *p,
                     const char *id)
{
    return account_record_delete(reqctx_app(rq), c, p, id);
}

static void h_delete(struct reqctx *rq)
{
    const struct provider *p = NULL;
    struct rds_conn *c = NULL;
    int rc = with_account(rq, do_delete, &p, &c);
    if (rc == 1)
        return;
    admin_conn_put(rq, c);
    if (rc == 0)
        admin_ok(rq, "message", cJSON_CreateString("Account deleted successfully"));
    else
        reply_err(rq, rc, NULL);
}

static int do_reset(struct reqctx *rq, struct rds_conn *c, const struct provider *p, const char *id)
{
    return account_state_reset(reqctx_app(rq), c, p, id, reqctx_admin(rq));
}

/* Clears every health mark: cooling, unauthorized, blocked. */
static void h_reset_status(struct reqctx *rq)
{
    const struct provider *p = NULL;
    struct rds_conn *c = NULL;
    int rc = with_account(rq, do_reset, &p, &c);
    if (rc == 1)
        return;
    const char *id = reqctx_param(rq, "accountId");
    cJSON *rec = NULL;
    if (rc == 0)
        rc = account_record_load(c, p, id, &rec);
    admin_conn_put(rq, c);
    if (rc == 0) {
        log_info("admin", "%s account %s status reset by %s", p->name, id, reqctx_admin(rq));
        admin_ok(rq, "data", render(rq, p, rec));
    } else {
        reply_err(rq, rc, NULL);
    }
    cJSON_Delete(rec);
}

/* Characters (UTF-8 code points) of s. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The optional string member name of at most max characters: 0, or
 * -ERR_INVAL with msg naming it. */
static int test_str(const cJSON *body, const char *name, size_t max, const char **out, char *msg,
                    size_t len)
{
    const cJSON *v = json_get(body, name);
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || utf8_chars(v->valuestring) > max) {
        snprintf(msg, len, "%s must be a string of at most %zu characters", name, max);
        return -ERR_INVAL;
    }
    *out = v->valuestring;
    return 0;
}

/* The test body {model, prompt, maxTokens}, every member optional. */
static int test_params(struct reqctx *rq, struct txn_test_params *tp, char *msg, size_t len)
{
    size_t blen = 0;
    reqctx_body(rq, &blen);
    const cJSON *body = reqctx_json(rq), *it;
    *tp = (struct txn_test_params){NULL, NULL, TXN_TEST_TOKENS_DEFAULT};
    if (blen && !cJSON_IsObject(body)) {
        snprintf(msg, len, "The body must be a JSON object");
        return -ERR_INVAL;
    }
    cJSON_ArrayForEach(it, body)
    {
        if (strcmp(it->string, "model") && strcmp(it->string, "prompt") &&
            strcmp(it->string, "maxTokens")) {
            snprintf(msg, len, "unsupported field: %.100s", it->string);
            return -ERR_INVAL;
        }
    }
    const cJSON *mt = json_get(body, "maxTokens");
    if (mt && (!cJSON_IsNumber(mt) || mt->valuedouble != (double)(int)mt->valuedouble ||
               mt->valuedouble < 1 || mt->valuedouble > TXN_TEST_TOKENS_MAX)) {
        snprintf(msg, len, "maxTokens must be an integer from 1 to %d", TXN_TEST_TOKENS_MAX);
        return -ERR_INVAL;
    }
    if (mt)
        tp->max_tokens = (int)mt->valuedouble;
    int rc = test_str(body, "model", TXN_TEST_MODEL_MAX, &tp->model, msg, len);
    return rc ? rc : test_str(body, "prompt", TXN_TEST_PROMPT_MAX, &tp->prompt, msg, len);
}

/* One small request through exactly this account; the reply comes when
 * the upstream answered (no worker waits for it). */
static void h_test(struct reqctx *rq)
{
    struct txn_test_params tp;
    char msg[200];
    const struct provider *p = path_provider(rq);
    if (!p)
        return;
    if (test_params(rq, &tp, msg, sizeof(msg)) != 0) {
        reply_err(rq, -ERR_INVAL, msg);
        return;
    }
    if (txn_test_start(rq, p, reqctx_param(rq, "accountId"), &tp) != 0)
        reply_err(rq, -ERR_NOTFOUND, NULL);
}

#define ACC "/admin/:accountType"
const struct route account_routes[] = {
    {"GET", ACC, h_list, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", ACC, h_create, AUTH_ADMIN, BODY_SMALL, NULL},
    {"PUT", ACC "/:accountId", h_update, AUTH_ADMIN, BODY_SMALL, NULL},
    {"DELETE", ACC "/:accountId", h_delete, AUTH_ADMIN, BODY_SMALL, NULL},
    {"PUT", ACC "/:accountId/toggle", h_toggle, AUTH_ADMIN, BODY_SMALL, NULL},
    {"PUT", ACC "/:accountId/toggle-schedulable", h_toggle_sched, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", ACC "/:accountId/reset-status", h_reset_status, AUTH_ADMIN, BODY_SMALL, NULL},
    {"POST", ACC "/:accountId/test", h_test, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
