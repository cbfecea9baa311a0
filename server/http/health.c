/*
 * health.c - GET (and HEAD) /health for monitors (no auth): 200 when Redis
 * answers, 503 when it does not. Reports versions, uptime, Redis latency,
 * an upstream pool summary and the usage spool; never secrets or key counts.
 *
 * DESIGN: a monitor must get an answer within about a second, whatever
 * Redis does. A PING on a paused Redis (SIGSTOP, DEBUG SLEEP) blocks for the
 * 5 s command timeout, and it did so inside every health request. Now a
 * request starts a probe (a PING on the worker pool) only when the last one
 * began a second or more ago, then waits for it at most PROBE_WAIT_MS: a
 * probe still running after that means "Redis is not answering". So there
 * is at most one probe a second and at most one worker held by a stuck one.
 *
 * LOCKING: probe.mu guards every field of `probe` (module state, owned by
 * this file); probe.done is broadcast when a probe ends. A leaf lock: the
 * PING runs with it released.
 */
#include "compat.h"
#include "clock.h"
#include "accounts.h"
#include "app.h"
#include "httpc.h"
#include "json.h"
#include "leases.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "tpool.h"
#include "usage_stats.h"
#include "usage_writer.h"
#include "txn.h"

#include <pthread.h>
#include <time.h>

#define PROBE_INTERVAL_MS 1000 /* at most one PING a second, whatever the request rate */
#define PROBE_WAIT_MS 800      /* a probe slower than this counts as "not answering" */

static struct {
    pthread_mutex_t mu; /* guards: all below */
    pthread_cond_t done;
    bool running;
    long long started; /* monotonic ms of the last probe start; 0 = never */
    bool ok;
    double latency_ms;
} probe = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, false, 0};

static void iso_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void probe_job(void *arg)
{
    struct app *app = arg;
    double ms = 0;
    bool ok = rds_pool_ping(app->redis, &ms) == 0;
    pthread_mutex_lock(&probe.mu);
    probe.ok = ok;
    probe.latency_ms = ms;
    probe.running = false;
    pthread_cond_broadcast(&probe.done);
    pthread_mutex_unlock(&probe.mu);
}

/* Start a probe when due; wait for the running one up to PROBE_WAIT_MS after
 * its start. *ok false also when it is still running then. */
static void probe_result(struct app *app, bool *ok, double *latency_ms)
{
    pthread_mutex_lock(&probe.mu);
    long long now = clock_mono_ms();
    if (!probe.running && (!probe.started || now - probe.started >= PROBE_INTERVAL_MS)) {
        probe.running = true;
        probe.started = now;
        if (tpool_submit(app->workers, probe_job, app) != 0)
            probe.running = false; /* workers saturated: answer from the last probe */
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long left = probe.started + PROBE_WAIT_MS - now;
    until.tv_sec += left > 0 ? left / 1000 : 0;
    until.tv_nsec += left > 0 ? (left % 1000) * 1000000 : 0;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (probe.running && clock_mono_ms() < probe.started + PROBE_WAIT_MS)
        if (pthread_cond_timedwait(&probe.done, &probe.mu, &until) != 0)
            break;
    *ok = probe.ok && !probe.running;
    *latency_ms = probe.latency_ms;
    pthread_mutex_unlock(&probe.mu);
}

static cJSON *redis_component(struct app *app, bool *ok)
{
    double ms = 0;
    cJSON *r = cJSON_CreateObject();
    probe_result(app, ok, &ms);
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

/* Usages waiting for Redis, and those lost for good (spool full, refused). */
static cJSON *usage_component(struct app *app)
{
    size_t spooled = 0;
    unsigned long long dropped = 0;
    usage_writer_counts(app->usage_writer, &spooled, &dropped);
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "spooled", (double)spooled);
    cJSON_AddNumberToObject(u, "dropped", (double)dropped);
    /* The statistics flushes and their Redis commands (amortised, not per request). */
    unsigned long long flushes = 0, commands = 0;
    usage_stats_counts(app->usage_stats, &flushes, &commands);
    cJSON_AddNumberToObject(u, "statsFlushes", (double)flushes);
    cJSON_AddNumberToObject(u, "statsCommands", (double)commands);
    return u;
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
    /* Redis concurrency leases held (keys' and accounts' limits): renewed while held */
    cJSON_AddNumberToObject(u, "concurrencyLeases", (double)leases_count(app->leases));
    cJSON_AddNumberToObject(u, "failovers", (double)atomic_load(&app->stats.failovers));
    cJSON_AddNumberToObject(u, "userTurnsWaiting",
                            (double)atomic_load(&app->stats.user_turns_waiting));
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
    cJSON_AddItemToObject(comp, "usage", usage_component(app));
    cJSON_AddStringToObject(root, "status", ok ? "healthy" : "unhealthy");
    cJSON_AddStringToObject(root, "service", "claude-relay");
    cJSON_AddStringToObject(root, "version", app->version);
    cJSON_AddStringToObject(root, "timestamp", ts);
    cJSON_AddNumberToObject(root, "uptime", (double)(time(NULL) - app->started_at));
    cJSON_AddItemToObject(root, "components", comp);
    cJSON *stats = cJSON_AddObjectToObject(root, "stats");
    cJSON_AddNumberToObject(stats, "requests", (double)atomic_load(&app->stats.requests));
    cJSON_AddNumberToObject(stats, "errors", (double)atomic_load(&app->stats.errors));
    cJSON_AddNumberToObject(stats, "connections", (double)atomic_load(&app->stats.connections));
    reqctx_set_header(rq, "Cache-Control", "no-store");
    reqctx_reply_json(rq, ok ? 200 : 503, root);
}

const struct route system_routes[] = {
    {"GET", "/health", h_health, AUTH_NONE, BODY_SMALL, NULL},
    /* Monitors send HEAD; MHD sends the headers of the same answer, no body. */
    {"HEAD", "/health", h_health, AUTH_NONE, BODY_SMALL, NULL},
    {0},
};
