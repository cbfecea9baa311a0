/*
 * openai_responses.c - the OpenAI Responses API as clients speak it (Codex
 * CLI, the openai SDK's client.responses): routes /openai/responses and
 * /openai/v1/responses (+ /compact), body validation, the error shape
 * {"error":{"message","type","param","code"}} for every relay refusal
 * (openai_errors.c, shared with chat completions), and
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
#include "openai_errors.h"
#include "reqctx.h"
#include "router.h"
#include "session_hash.h"
#include "txn.h"
#include "xmalloc.h"

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

/* A committed Responses stream that breaks: an "error" event (the SDK
 * raises it) then "response.failed" (what Codex reads and retries on). */
static char *oai_error_frame(enum relay_err e, const char *msg)
{
    const char *type, *code;
    openai_err_kind(e, &type, &code);
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

const struct client_format format_openai_responses = {
    .name = "openai-responses",
    .family = "openai",
    .service = KEY_SVC_OPENAI,
    .service_name = "OpenAI",
    .session = session_hash_openai,
    .validate = oai_validate,
    .reply_error = openai_err_reply,
    .render_error = openai_err_render,
    .render_upstream = openai_err_render_upstream,
    .error_frame = oai_error_frame,
    .reply_refusal = openai_err_reply_refusal,
    .render_refusal = openai_err_render_refusal,
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
