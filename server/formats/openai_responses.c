/*
 * openai_responses.c - the OpenAI Responses API as clients speak it (Codex
 * CLI, the openai SDK's client.responses): routes /openai/responses and
 * /openai/v1/responses (+ /compact), body validation, the error shape
 * {"error":{"message","type","param","code"}} for every relay refusal, and
 * the mid-stream error frames a Responses stream ends with.
 *
 * Served by the "openai" account family; the upstream's bytes pass
 * unchanged (no conversion: the upstream speaks Responses too).
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

/* OpenAI's type and code for each relay error: what its own API answers in
 * the same situation (a bad key is invalid_request_error/invalid_api_key). */
static const struct {
    enum relay_err e;
    const char *type;
    const char *code;
} oai_errors[] = {
    {RERR_BAD_REQUEST, "invalid_request_error", NULL},
    {RERR_BAD_JSON, "invalid_request_error", "invalid_json"},
    {RERR_NO_KEY, "invalid_request_error", "missing_api_key"},
    {RERR_BAD_KEY, "invalid_request_error", "invalid_api_key"},
    {RERR_KEY_DISABLED, "invalid_request_error", "invalid_api_key"},
    {RERR_KEY_EXPIRED, "invalid_request_error", "invalid_api_key"},
    {RERR_FORBIDDEN, "permission_denied", "permission_denied"},
    {RERR_NOT_FOUND, "invalid_request_error", "not_found"},
    {RERR_MODEL_UNSUPPORTED, "invalid_request_error", "model_not_found"},
    {RERR_METHOD, "invalid_request_error", "method_not_allowed"},
    {RERR_TOO_LARGE, "invalid_request_error", "request_too_large"},
    {RERR_RATE_LIMITED, "rate_limit_error", "rate_limit_exceeded"},
    {RERR_NO_ACCOUNT, "server_error", "no_available_account"},
    {RERR_UPSTREAM_TIMEOUT, "server_error", "timeout"},
};

static void oai_kind(enum relay_err e, const char **type, const char **code)
{
    *type = errors_status(e) >= 500 ? "server_error" : "invalid_request_error";
    *code = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(oai_errors); i++)
        if (oai_errors[i].e == e) {
            *type = oai_errors[i].type;
            *code = oai_errors[i].code;
        }
}

/* {"error":{"message","type","param":null,"code"}} onto root (made when NULL). */
static cJSON *oai_error(cJSON *root, const char *message, const char *type, const char *code)
{
    root = root ? root : cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "message", message);
    cJSON_AddStringToObject(err, "type", type);
    cJSON_AddNullToObject(err, "param");
    if (code)
        cJSON_AddStringToObject(err, "code", code);
    else
        cJSON_AddNullToObject(err, "code");
    return root;
}

static cJSON *relay_error_json(enum relay_err e, const char *msg)
{
    const char *type, *code;
    oai_kind(e, &type, &code);
    return oai_error(NULL, msg ? msg : errors_message(e), type, code);
}

static const char *retry_after_for(int status)
{
    return status == 503 || status == 429 ? "1" : NULL;
}

static void oai_reply_error(struct reqctx *rq, enum relay_err e, const char *msg)
{
    int status = errors_status(e);
    const char *ra = retry_after_for(status);
    if (ra)
        reqctx_set_header(rq, "retry-after", ra);
    reqctx_reply_json(rq, status, relay_error_json(e, msg));
}

static void set_json(struct stream_reply *out, int status, cJSON *root)
{
    out->status = status;
    out->body = json_print(root);
    out->len = strlen(out->body);
    out->content_type = "application/json";
    cJSON_Delete(root);
}

static void oai_render_error(enum relay_err e, const char *msg, struct stream_reply *out)
{
    int status = errors_status(e);
    set_json(out, status, relay_error_json(e, msg));
    out->retry_after = retry_after_for(status);
}

static int oai_validate(struct reqctx *rq, const char *endpoint, struct format_request *out,
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
    const cJSON *model = json_get(j, "model");
    if (!cJSON_IsString(model) || !*model->valuestring) {
        *e = RERR_BAD_REQUEST;
        snprintf(msg, len, "Missing required parameter: 'model'.");
        return -ERR_INVAL;
    }
    snprintf(out->model, sizeof(out->model), "%s", model->valuestring);
    out->stream = json_bool(j, "stream", false);
    out->user_turn = false; /* the user message queue is Claude's (usermsg.h) */
    return 0;
}

/* An OpenAI-shaped error body ({"error":{...}}) passes as it is; anything
 * else (a proxy's HTML page, say) is wrapped with the upstream status. */
static bool is_oai_error(const char *body, size_t len)
{
    cJSON *j = json_parse(body, len, 8, true);
    bool ok = cJSON_IsObject(json_get(j, "error"));
    cJSON_Delete(j);
    return ok;
}

static void oai_render_upstream(const struct upstream_answer *ans, struct stream_reply *out)
{
    if (is_oai_error(ans->body, ans->body_len)) {
        out->status = ans->status;
        out->content_type = "application/json";
        out->body = xmalloc(ans->body_len + 1);
        memcpy(out->body, ans->body, ans->body_len);
        out->body[ans->body_len] = '\0';
        out->len = ans->body_len;
        return;
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "Upstream answered %d", ans->status);
    int s = ans->status;
    const char *type = s >= 500   ? "server_error"
                       : s == 429 ? "rate_limit_error"
                                  : "invalid_request_error";
    set_json(out, s, oai_error(NULL, msg, type, NULL));
}

/* A committed Responses stream that breaks: an "error" event (the SDK
 * raises it) then "response.failed" (what Codex reads and retries on). */
static char *oai_error_frame(enum relay_err e, const char *msg)
{
    const char *type, *code;
    oai_kind(e, &type, &code);
    msg = msg ? msg : errors_message(e);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "error");
    cJSON_AddStringToObject(ev, "code", code ? code : type);
    cJSON_AddStringToObject(ev, "message", msg);
    cJSON_AddNullToObject(ev, "param");
    char *err = json_print(ev);
    cJSON_Delete(ev);
    cJSON *failed = cJSON_CreateObject();
    cJSON_AddStringToObject(failed, "type", "response.failed");
    cJSON *resp = cJSON_AddObjectToObject(failed, "response");
    cJSON_AddStringToObject(resp, "status", "failed");
    cJSON *re = cJSON_AddObjectToObject(resp, "error");
    cJSON_AddStringToObject(re, "code", code ? code : type);
    cJSON_AddStringToObject(re, "message", msg);
    char *fail = json_print(failed);
    cJSON_Delete(failed);
    char *frame =
        xasprintf("event: error\ndata: %s\n\nevent: response.failed\ndata: %s\n\n", err, fail);
    free(err);
    free(fail);
    return frame;
}

/* A key-policy refusal: the original's message, type and code, its details
 * beside "error". */
static cJSON *refusal_json(struct refusal *r)
{
    cJSON *root = r->extra;
    r->extra = NULL;
    return oai_error(root, r->message, r->type, r->code);
}

static void oai_reply_refusal(struct reqctx *rq, struct refusal *r)
{
    if (r->retry_after)
        reqctx_set_header(rq, "retry-after", r->retry_after);
    reqctx_reply_json(rq, r->status, refusal_json(r));
}

static void oai_render_refusal(struct refusal *r, struct stream_reply *out)
{
    set_json(out, r->status, refusal_json(r));
    out->retry_after = r->retry_after;
}

const struct client_format format_openai_responses = {
    .name = "openai-responses",
    .family = "openai",
    .service = KEY_SVC_OPENAI,
    .service_name = "OpenAI",
    .session = session_hash_openai,
    .validate = oai_validate,
    .reply_error = oai_reply_error,
    .render_error = oai_render_error,
    .render_upstream = oai_render_upstream,
    .error_frame = oai_error_frame,
    .reply_refusal = oai_reply_refusal,
    .render_refusal = oai_render_refusal,
};

/* ---- routes ---- */

static const struct relay_op op_responses = {&format_openai_responses, "responses", true};
static const struct relay_op op_compact = {&format_openai_responses, "responses/compact", true};

static void h_responses(struct reqctx *rq)
{
    txn_start(rq, &op_responses);
}

static void h_compact(struct reqctx *rq)
{
    txn_start(rq, &op_compact);
}

static bool oai_inline_ok(struct reqctx *rq)
{
    return txn_inline_ok_for(rq, &format_openai_responses);
}

#define RESPONSES_ROUTES(prefix)                                                                   \
    {"POST", prefix "/responses", h_responses, AUTH_KEY, BODY_LARGE, oai_inline_ok},               \
    {                                                                                              \
        "POST", prefix "/responses/compact", h_compact, AUTH_KEY, BODY_LARGE, oai_inline_ok        \
    }

const struct route openai_routes[] = {
    RESPONSES_ROUTES("/openai"),
    RESPONSES_ROUTES("/openai/v1"),
    {0},
};
