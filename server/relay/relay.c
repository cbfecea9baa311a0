/*
 * relay.c - the relay pipeline for Anthropic-format requests, as short
 * steps: authenticate -> validate -> schedule -> build upstream request ->
 * stream -> record usage. Runs on a worker thread until the transfer is
 * handed to the upstream loop; usage is recorded by a later worker job.
 */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "errors.h"
#include "httpc.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "provider.h"
#include "rds.h"
#include "reqctx_int.h"
#include "router.h"
#include "scheduler.h"
#include "stream.h"
#include "tpool.h"
#include "usage.h"
#include "usage_writer.h"
#include "xmalloc.h"
#include "config.h"

#include <strings.h>

#define REDIS_WAIT_MS 3000

/* Lives from the handler to the end of the usage job. */
struct relay_job {
    struct app *app;
    const struct provider *prov;
    char key_id[37];
    char account_id[37];
    bool record;
    struct usage usage;
};

static const char *client_key(const struct reqctx *rq)
{
    const char *k = reqctx_header(rq, "x-api-key");
    if (k && *k)
        return k;
    const char *auth = reqctx_header(rq, "authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7])
        return auth + 7;
    return NULL;
}

/* Step 1: the relay key. Replies and returns false on failure. */
static bool relay_authenticate(struct reqctx *rq, struct api_key *key)
{
    struct app *app = reqctx_app(rq);
    const char *plain = client_key(rq);
    if (!plain) {
        errors_reply(rq, RERR_NO_KEY, NULL);
        return false;
    }
    struct rds_conn *c = rds_pool_get(app->redis, REDIS_WAIT_MS);
    if (!c) {
        errors_reply(rq, RERR_UNAVAILABLE, "The relay's store is unavailable");
        return false;
    }
    enum key_check kc = keys_authenticate(app, c, plain, key);
    rds_pool_put(app->redis, c);
    static const enum relay_err map[] = {[KEY_MISSING] = RERR_NO_KEY,
                                         [KEY_INVALID] = RERR_BAD_KEY,
                                         [KEY_DISABLED] = RERR_KEY_DISABLED,
                                         [KEY_EXPIRED] = RERR_KEY_EXPIRED,
                                         [KEY_BACKEND] = RERR_UNAVAILABLE};
    if (kc != KEY_OK) {
        errors_reply(rq, map[kc], NULL);
        return false;
    }
    reqctx_note_key(rq, key->id);
    return true;
}

/* Step 2: the body must be a JSON object with a messages array. */
static bool relay_validate(struct reqctx *rq, const cJSON **body)
{
    size_t len = 0;
    reqctx_body(rq, &len);
    const cJSON *j = reqctx_json(rq);
    if (len == 0 || !cJSON_IsObject(j)) {
        errors_reply(rq, RERR_BAD_JSON, len ? NULL : "Request body is empty");
        return false;
    }
    if (!cJSON_IsArray(json_get(j, "messages"))) {
        errors_reply(rq, RERR_BAD_REQUEST, "messages: field required (must be an array)");
        return false;
    }
    reqctx_note_model(rq, json_str(j, "model", NULL));
    *body = j;
    return true;
}

static void hook_event(void *arg, const struct sse_event *ev)
{
    struct relay_job *job = arg;
    job->prov->usage_event(&job->usage, ev);
}

static void hook_body(void *arg, int status, const char *body, size_t len)
{
    struct relay_job *job = arg;
    if (status == 200)
        job->prov->usage_body(&job->usage, body, len);
}

static long long hook_finish(void *arg, int status, int result)
{
    struct relay_job *job = arg;
    UNUSED(status);
    UNUSED(result);
    long long total = usage_total(&job->usage);
    /* Usage seen is usage billed upstream, even if the client left early. */
    if (job->record && job->usage.seen)
        usage_writer_push(job->app->usage_writer, job->key_id, job->account_id, &job->usage);
    free(job);
    return total;
}

static const struct stream_hooks relay_hooks = {hook_event, hook_body, hook_finish};

static int client_fd(const struct reqctx *rq)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Steps 3-5: schedule, build, hand over to the stream module. */
static void relay_dispatch(struct reqctx *rq, const struct api_key *key, const cJSON *body,
                           const char *endpoint, bool record)
{
    struct app *app = reqctx_app(rq);
    struct sched_request sreq = {"claude", json_str(body, "model", NULL)};
    struct account_list *list = NULL;
    struct account *acc = scheduler_pick(app, &sreq, NULL, &list);
    if (!acc) {
        errors_reply(rq, RERR_NO_ACCOUNT, NULL);
        return;
    }
    reqctx_note_account(rq, acc->id);
    const struct provider *prov = provider_find(acc->type);
    struct upstream_req ureq = {0};
    size_t len = 0;
    const char *raw = reqctx_body(rq, &len);
    struct upstream_call call = {rq, endpoint, raw, len};
    prov->build(acc, &call, &ureq);
    struct relay_job *job = xcalloc(1, sizeof(*job));
    *job = (struct relay_job){.app = app, .prov = prov, .record = record};
    snprintf(job->key_id, sizeof(job->key_id), "%s", key->id);
    snprintf(job->account_id, sizeof(job->account_id), "%s", acc->id);
    struct httpc_request hr = {.method = "POST",
                               .url = ureq.url,
                               .headers = (const char *const *)ureq.headers,
                               .body = raw,
                               .body_len = len,
                               .proxy = acc->proxy_url,
                               .connect_timeout_ms = app->cfg->upstream_connect_timeout_ms,
                               .timeout_ms = app->cfg->request_timeout_ms,
                               .watch_fd = client_fd(rq)};
    atomic_fetch_add(&app->stats.relayed, 1);
    stream_start(rq, &hr, &relay_hooks, job);
    upstream_req_release(&ureq);
    accounts_list_release(list);
}

static void relay_forward(struct reqctx *rq, const char *endpoint, bool record)
{
    struct api_key key;
    const cJSON *body = NULL;
    if (!relay_authenticate(rq, &key) || !relay_validate(rq, &body))
        return;
    relay_dispatch(rq, &key, body, endpoint, record);
}

static void h_messages(struct reqctx *rq)
{
    relay_forward(rq, "messages", true);
}

static void h_count_tokens(struct reqctx *rq)
{
    relay_forward(rq, "count_tokens", false);
}

/* Models a Claude pool serves; the list Claude Code and the SDK expect. */
static const struct {
    const char *id;
    const char *name;
    const char *created;
} claude_models[] = {
    {"claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"},
    {"claude-opus-4-20250514", "Claude Opus 4", "2025-05-14T00:00:00Z"},
    {"claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"},
    {"claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-14T00:00:00Z"},
    {"claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"},
    {"claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"},
};

static void h_models(struct reqctx *rq)
{
    struct api_key key;
    if (!relay_authenticate(rq, &key))
        return;
    cJSON *root = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (size_t i = 0; i < ARRAY_SIZE(claude_models); i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "type", "model");
        cJSON_AddStringToObject(m, "id", claude_models[i].id);
        cJSON_AddStringToObject(m, "display_name", claude_models[i].name);
        cJSON_AddStringToObject(m, "created_at", claude_models[i].created);
        cJSON_AddItemToArray(data, m);
    }
    cJSON_AddBoolToObject(root, "has_more", false);
    cJSON_AddStringToObject(root, "first_id", claude_models[0].id);
    cJSON_AddStringToObject(root, "last_id", claude_models[ARRAY_SIZE(claude_models) - 1].id);
    reqctx_reply_json(rq, 200, root);
}

/* Claude Code's telemetry sink: accepted and dropped. */
static void h_event_logging(struct reqctx *rq)
{
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddBoolToObject(ok, "success", true);
    reqctx_reply_json(rq, 200, ok);
}

#define CLAUDE_ROUTES(prefix)                                                                      \
    {"POST", prefix "/v1/messages", h_messages, AUTH_KEY, BODY_LARGE},                             \
        {"POST", prefix "/v1/messages/count_tokens", h_count_tokens, AUTH_KEY, BODY_LARGE},        \
        {"GET", prefix "/v1/models", h_models, AUTH_KEY, BODY_SMALL},                              \
    {                                                                                              \
        "POST", prefix "/claude/v1/messages", h_messages, AUTH_KEY, BODY_LARGE                     \
    }

const struct route relay_routes[] = {
    CLAUDE_ROUTES("/api"),
    CLAUDE_ROUTES("/claude"),
    {"POST", "/v1/messages", h_messages, AUTH_KEY, BODY_LARGE},
    {"POST", "/v1/messages/count_tokens", h_count_tokens, AUTH_KEY, BODY_LARGE},
    {"GET", "/v1/models", h_models, AUTH_KEY, BODY_SMALL},
    {"POST", "/api/event_logging/batch", h_event_logging, AUTH_NONE, BODY_LARGE},
    {"POST", "/api/api/event_logging/batch", h_event_logging, AUTH_NONE, BODY_LARGE},
    {"POST", "/claude/api/event_logging/batch", h_event_logging, AUTH_NONE, BODY_LARGE},
    {0},
};
