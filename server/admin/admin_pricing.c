/*
 * admin_pricing.c - /admin/models/pricing: read and replace the model price
 * table (route table `pricing_routes`, declared in router.h).
 *
 * Shapes follow the original system: GET answers {success, data: <table>},
 * GET .../status answers {success, data: {initialized, lastUpdated,
 * modelCount, nextUpdate, ...}}. The original downloads LiteLLM's file
 * (POST .../refresh); here the table is shared through Redis and replaced
 * whole with PUT (scripts/load-pricing.sh; the built-in table is
 * server/store/model_prices.json).
 *
 * The PUT route takes a large body (LiteLLM's full file is over 1 MiB);
 * pricing_parse() caps it at PRICING_MAX_JSON.
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "pricing.h"
#include "notify.h"
#include "pricing_sync.h"
#include "reqctx.h"
#include "router.h"
#include "xmalloc.h"

static void h_get(struct reqctx *rq)
{
    struct pricing *t = pricing_sync_snapshot(reqctx_app(rq)->pricing);
    size_t len;
    const char *json = pricing_json(t, &len);
    /* The table is already compact JSON text: wrap it instead of re-encoding ~130 KB. */
    char *body = xasprintf("{\"success\":true,\"data\":%s}", json);
    pricing_release(t);
    reqctx_set_header(rq, "Cache-Control", "no-store");
    reqctx_reply(rq, 200, "application/json", body, strlen(body));
}

static void add_time(cJSON *obj, const char *name, time_t t)
{
    char iso[32];
    if (t <= 0) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    admin_iso_from_ms((long long)t * 1000, iso);
    cJSON_AddStringToObject(obj, name, iso);
}

static void h_status(struct reqctx *rq)
{
    struct pricing_status st;
    pricing_sync_status(reqctx_app(rq)->pricing, &st);
    time_t next = (st.checked_at > 0 ? st.checked_at : st.loaded_at) + (time_t)st.interval;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddBoolToObject(d, "initialized", true);
    add_time(d, "lastUpdated", st.loaded_at);
    cJSON_AddNumberToObject(d, "modelCount", (double)st.models);
    add_time(d, "nextUpdate", next);
    add_time(d, "lastChecked", st.checked_at);
    cJSON_AddStringToObject(d, "source", st.version >= 0 ? "redis" : "built-in");
    cJSON_AddNumberToObject(d, "version", (double)st.version);
    admin_ok(rq, "data", d);
}

static void h_put(struct reqctx *rq)
{
    size_t len = 0;
    const char *body = reqctx_body(rq, &len);
    char err[256];
    long long version = 0;
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    struct pricing_sync *ps = reqctx_app(rq)->pricing;
    int rc = pricing_sync_replace(ps, c, body, len, err, sizeof(err), &version);
    if (rc == 0)
        notify_publish(reqctx_app(rq), c, "pricing"); /* the others reload at once */
    admin_conn_put(rq, c);
    if (rc == -ERR_TOOBIG && len > PRICING_MAX_JSON) {
        admin_error(rq, 413, "Payload too large", err);
    } else if (rc == -ERR_REDIS) {
        admin_error(rq, 503, "Service unavailable", err);
    } else if (rc != 0) {
        admin_error(rq, 400, "Invalid pricing table", err);
    } else {
        struct pricing_status st;
        pricing_sync_status(ps, &st);
        log_info("admin", "price table replaced by %s: %zu models, version %lld", reqctx_admin(rq),
                 st.models, version);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "modelCount", (double)st.models);
        cJSON_AddNumberToObject(d, "version", (double)version);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "success", true);
        cJSON_AddStringToObject(j, "message", "Pricing table updated");
        cJSON_AddItemToObject(j, "data", d);
        reqctx_reply_json(rq, 200, j);
    }
}

const struct route pricing_routes[] = {
    {"GET", "/admin/models/pricing", h_get, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/models/pricing/status", h_status, AUTH_ADMIN, BODY_SMALL, NULL},
    {"PUT", "/admin/models/pricing", h_put, AUTH_ADMIN, BODY_LARGE, NULL},
    {0},
};
