/*
 * anthropic.c - the Anthropic Messages API as clients speak it (Claude
 * Code, the Anthropic SDKs): routes, body validation, the error shape
 * {"type":"error","error":{"type","message"}} and the model list.
 */
#include "compat.h"
#include "errs.h"
#include "format.h"
#include "json.h"
#include "keys.h"
#include "reqctx.h"
#include "router.h"
#include "session_hash.h"
#include "txn.h"
#include "xmalloc.h"

#include <time.h>

static bool is_tool_result(const cJSON *block)
{
    const char *type = json_str(block, "type", "");
    return strcmp(type, "tool_result") == 0 || strcmp(type, "tool_use_result") == 0;
}

bool anthropic_is_user_turn(const cJSON *body)
{
    const cJSON *msgs = json_get(body, "messages");
    int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : 0;
    const cJSON *last = n ? cJSON_GetArrayItem(msgs, n - 1) : NULL;
    if (!cJSON_IsObject(last) || strcmp(json_str(last, "role", ""), "user") != 0)
        return false;
    const cJSON *content = json_get(last, "content"), *block;
    if (!cJSON_IsArray(content))
        return true; /* a string prompt */
    cJSON_ArrayForEach(block, content)
    {
        if (is_tool_result(block))
            return false;
    }
    return true;
}

static int anthropic_validate(struct reqctx *rq, const char *endpoint, struct format_request *out,
                              enum relay_err *e, char *msg, size_t len)
{
    size_t blen = 0;
    UNUSED(endpoint);
    reqctx_body(rq, &blen);
    const cJSON *j = reqctx_json(rq);
    if (blen == 0 || !cJSON_IsObject(j)) {
        *e = RERR_BAD_JSON;
        snprintf(msg, len, "%s", blen ? errors_message(RERR_BAD_JSON) : "Request body is empty");
        return -ERR_INVAL;
    }
    if (!cJSON_IsArray(json_get(j, "messages"))) {
        *e = RERR_BAD_REQUEST;
        snprintf(msg, len, "messages: field required (must be an array)");
        return -ERR_INVAL;
    }
    snprintf(out->model, sizeof(out->model), "%s", json_str(j, "model", ""));
    out->stream = json_bool(j, "stream", false);
    out->user_turn = anthropic_is_user_turn(j); /* the same parse, read once more */
    return 0;
}

static char *error_text(enum relay_err e, const char *msg)
{
    cJSON *body = errors_body(e, msg);
    char *text = json_print(body);
    cJSON_Delete(body);
    return text;
}

static void anthropic_render_error(enum relay_err e, const char *msg, struct stream_reply *out)
{
    int status = errors_status(e);
    out->status = status;
    out->body = error_text(e, msg);
    out->len = strlen(out->body);
    out->content_type = "application/json";
    out->should_retry = status == 401 ? "false" : status >= 500 || status == 429 ? "true" : NULL;
    out->retry_after = status == 503 || status == 429 ? "1" : NULL;
}

/* An Anthropic-shaped error body is passed as it is; anything else (an
 * HTML error page from a proxy, say) is wrapped with the upstream status. */
static bool is_anthropic_error(const char *body, size_t len)
{
    cJSON *j = json_parse(body, len, 8, true);
    bool ok =
        j && strcmp(json_str(j, "type", ""), "error") == 0 && cJSON_IsObject(json_get(j, "error"));
    cJSON_Delete(j);
    return ok;
}

static const char *type_for_status(int status)
{
    if (status == 401)
        return "authentication_error";
    if (status == 403)
        return "permission_error";
    if (status == 404)
        return "not_found_error";
    if (status == 429)
        return "rate_limit_error";
    if (status == 529 || status == 503)
        return "overloaded_error";
    return status >= 500 ? "api_error" : "invalid_request_error";
}

static void anthropic_render_upstream(const struct upstream_answer *ans, struct stream_reply *out)
{
    out->status = ans->status;
    out->content_type = "application/json";
    if (is_anthropic_error(ans->body, ans->body_len)) {
        format_reply_copy(out, ans->status, ans->body, ans->body_len);
    } else {
        char msg[64];
        snprintf(msg, sizeof(msg), "Upstream answered %d", ans->status);
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "type", "error");
        cJSON *err = cJSON_AddObjectToObject(root, "error");
        cJSON_AddStringToObject(err, "type", type_for_status(ans->status));
        cJSON_AddStringToObject(err, "message", msg);
        out->body = json_print(root);
        out->len = strlen(out->body);
        cJSON_Delete(root);
    }
    const char *sr = upstream_header(ans, "x-should-retry");
    bool retryable = ans->status == 429 || ans->status >= 500;
    out->should_retry = sr          ? (strcmp(sr, "true") == 0 ? "true" : "false")
                        : retryable ? "true"
                                    : NULL;
}

static char *anthropic_error_frame(enum relay_err e, const char *msg)
{
    return errors_sse_frame(e, msg);
}

/* {"type":"error","error":{"type","message"[,"code"]}, ...extra}: the
 * Anthropic shape, with the original's details beside it. */
static cJSON *refusal_json(struct refusal *r)
{
    cJSON *root = r->extra ? r->extra : cJSON_CreateObject();
    r->extra = NULL;
    cJSON_AddStringToObject(root, "type", "error");
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "type", r->type);
    cJSON_AddStringToObject(err, "message", r->message);
    if (r->code)
        cJSON_AddStringToObject(err, "code", r->code);
    return root;
}

static void anthropic_reply_refusal(struct reqctx *rq, struct refusal *r)
{
    if (r->retry_after)
        reqctx_set_header(rq, "retry-after", r->retry_after);
    if (r->status == 402 || r->status == 403) /* retrying will not help */
        reqctx_set_header(rq, "x-should-retry", "false");
    reqctx_reply_json(rq, r->status, refusal_json(r));
}

static void anthropic_render_refusal(struct refusal *r, struct stream_reply *out)
{
    cJSON *root = refusal_json(r);
    out->status = r->status;
    out->body = json_print(root);
    out->len = strlen(out->body);
    out->content_type = "application/json";
    out->retry_after = r->retry_after;
    out->should_retry = r->status == 402 || r->status == 403 ? "false" : NULL;
    cJSON_Delete(root);
}

const struct client_format format_anthropic = {
    .name = "anthropic",
    .family = "claude",
    .service = KEY_SVC_CLAUDE,
    .service_name = "Claude",
    .session = session_hash,
    .validate = anthropic_validate,
    .reply_error = errors_reply,
    .render_error = anthropic_render_error,
    .render_upstream = anthropic_render_upstream,
    .error_frame = anthropic_error_frame,
    .reply_refusal = anthropic_reply_refusal,
    .render_refusal = anthropic_render_refusal,
};

/* ---- routes ---- */

static const struct relay_op op_messages = {&format_anthropic, "messages", true};
static const struct relay_op op_count_tokens = {&format_anthropic, "count_tokens", false};

static void h_messages(struct reqctx *rq)
{
    txn_start(rq, &op_messages);
}

static void h_count_tokens(struct reqctx *rq)
{
    txn_start(rq, &op_count_tokens);
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

size_t anthropic_model_count(void)
{
    return ARRAY_SIZE(claude_models);
}

const char *anthropic_model_at(size_t i, long long *created)
{
    struct tm tm = {0};
    strptime(claude_models[i].created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *created = (long long)timegm(&tm);
    return claude_models[i].id;
}

static cJSON *models_json(const struct api_key *k)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (size_t i = 0; i < ARRAY_SIZE(claude_models); i++) {
        if (key_policy_model_denied(&k->pol, claude_models[i].id))
            continue; /* a key's deny-list hides the model, as the original */
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "type", "model");
        cJSON_AddStringToObject(m, "id", claude_models[i].id);
        cJSON_AddStringToObject(m, "display_name", claude_models[i].name);
        cJSON_AddStringToObject(m, "created_at", claude_models[i].created);
        cJSON_AddItemToArray(data, m);
    }
    cJSON_AddBoolToObject(root, "has_more", false);
    int n = cJSON_GetArraySize(data);
    cJSON *first = cJSON_GetArrayItem(data, 0), *last = cJSON_GetArrayItem(data, n - 1);
    cJSON_AddItemToObject(root, "first_id",
                          first ? cJSON_CreateString(json_str(first, "id", ""))
                                : cJSON_CreateNull());
    cJSON_AddItemToObject(root, "last_id",
                          last ? cJSON_CreateString(json_str(last, "id", "")) : cJSON_CreateNull());
    return root;
}

static void h_models(struct reqctx *rq)
{
    struct api_key *k = txn_key_only(rq, &format_anthropic);
    if (k)
        reqctx_reply_json(rq, 200, models_json(k));
    keys_unref(k);
}

/* Claude Code's telemetry sink: accepted and dropped. */
static void h_event_logging(struct reqctx *rq)
{
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddBoolToObject(ok, "success", true);
    reqctx_reply_json(rq, 200, ok);
}

#define CLAUDE_ROUTES(prefix)                                                                      \
    {"POST", prefix "/v1/messages", h_messages, AUTH_KEY, BODY_LARGE, txn_inline_ok},              \
        {"POST",       prefix "/v1/messages/count_tokens", h_count_tokens, AUTH_KEY, BODY_LARGE,   \
         txn_inline_ok},                                                                           \
        {"GET", prefix "/v1/models", h_models, AUTH_KEY, BODY_SMALL, NULL},                        \
    {                                                                                              \
        "POST", prefix "/claude/v1/messages", h_messages, AUTH_KEY, BODY_LARGE, txn_inline_ok      \
    }

const struct route relay_routes[] = {
    CLAUDE_ROUTES("/api"),
    CLAUDE_ROUTES("/claude"),
    {"POST", "/v1/messages", h_messages, AUTH_KEY, BODY_LARGE, txn_inline_ok},
    {"POST", "/v1/messages/count_tokens", h_count_tokens, AUTH_KEY, BODY_LARGE, txn_inline_ok},
    {"GET", "/v1/models", h_models, AUTH_KEY, BODY_SMALL, NULL},
    {"POST", "/api/event_logging/batch", h_event_logging, AUTH_NONE, BODY_TINY, NULL},
    {"POST", "/api/api/event_logging/batch", h_event_logging, AUTH_NONE, BODY_TINY, NULL},
    {"POST", "/claude/api/event_logging/batch", h_event_logging, AUTH_NONE, BODY_TINY, NULL},
    {0},
};
