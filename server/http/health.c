/*
 * health.c - GET /health for monitors (no auth): 200 when Redis answers,
 * 503 when it does not. Reports versions, uptime, Redis latency and an
 * upstream pool summary; never secrets or key counts.
 */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "httpc.h"
#include "json.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "txn.h"

#include <time.h>

static void iso_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *redis_component(struct app *app, bool *ok)
{
    double ms = 0;
    cJSON *r = cJSON_CreateObject();
    *ok = rds_pool_ping(app->redis, &ms) == 0;
    cJSON_AddStringToObject(r, "status", *ok ? "healthy" : "unhealthy");
    cJSON_AddBoolToObject(r, "connected", *ok);
    if (*ok) {
        char lat[32];
        snprintf(lat, sizeof(lat), "%.2fms", ms);
        cJSON_AddStringToObject(r, "latency", lat);
    } else {
        cJSON_AddStringToObject(r, "error", "Redis is not answering");
    }
    return r;
}

static cJSON *upstream_component(struct app *app)
{
    struct account_list *list = accounts_snapshot(app->accounts);
    int schedulable = 0, cooling = 0;
    long long now = (long long)time(NULL) * 1000;
    for (size_t i = 0; i < list->n; i++) {
        const struct account *a = list->items[i];
        schedulable += a->active && a->schedulable;
        cooling += account_state(a, now, NULL) != ACC_ACTIVE;
    }
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "accounts", (double)list->n);
    cJSON_AddNumberToObject(u, "schedulable", schedulable);
    cJSON_AddNumberToObject(u, "unavailable", cooling);
    cJSON_AddNumberToObject(u, "activeTransfers", (double)httpc_active(app->httpc));
    cJSON_AddNumberToObject(u, "activeStreams", (double)atomic_load(&app->stats.active_streams));
    cJSON_AddNumberToObject(u, "transactions", (double)txn_live(app));
    cJSON_AddNumberToObject(u, "accountLeases", (double)accounts_leases(app->accounts));
    cJSON_AddNumberToObject(u, "failovers", (double)atomic_load(&app->stats.failovers));
    accounts_list_release(list);
    return u;
}

static void h_health(struct reqctx *rq)
{
    struct app *app = reqctx_app(rq);
    bool ok = false;
    char ts[32];
    iso_now(ts);
    cJSON *root = cJSON_CreateObject();
    cJSON *comp = cJSON_CreateObject();
    cJSON_AddItemToObject(comp, "redis", redis_component(app, &ok));
    cJSON_AddItemToObject(comp, "upstream", upstream_component(app));
    cJSON_AddStringToObject(root, "status", ok ? "healthy" : "unhealthy");
    cJSON_AddStringToObject(root, "service", "claude-relay");
    cJSON_AddStringToObject(root, "version", app->version);
    cJSON_AddStringToObject(root, "timestamp", ts);
    cJSON_AddNumberToObject(root, "uptime", (double)(time(NULL) - app->started_at));
    cJSON_AddItemToObject(root, "components", comp);
    cJSON *stats = cJSON_AddObjectToObject(root, "stats");
    cJSON_AddNumberToObject(stats, "requests", (double)atomic_load(&app->stats.requests));
    cJSON_AddNumberToObject(stats, "errors", (double)atomic_load(&app->stats.errors));
    reqctx_set_header(rq, "Cache-Control", "no-store");
    reqctx_reply_json(rq, ok ? 200 : 503, root);
}

const struct route system_routes[] = {
    {"GET", "/health", h_health, AUTH_NONE, BODY_SMALL},
    {0},
};
