/*
 * openai_errors.c - the OpenAI error shape for the OpenAI client formats
 * (see openai_errors.h).
 */
#include "compat.h"
#include "errs.h"
#include "json.h"
#include "openai_errors.h"
#include "reqctx.h"
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

void openai_err_kind(enum relay_err e, const char **type, const char **code)
{
    *type = errors_status(e) >= 500 ? "server_error" : "invalid_request_error";
    *code = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(oai_errors); i++)
        if (oai_errors[i].e == e) {
            *type = oai_errors[i].type;
            *code = oai_errors[i].code;
        }
}

cJSON *openai_err_json(cJSON *root, const char *message, const char *type, const char *code)
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
    openai_err_kind(e, &type, &code);
    return openai_err_json(NULL, msg ? msg : errors_message(e), type, code);
}

void openai_err_reply(struct reqctx *rq, enum relay_err e, const char *msg)
{
    int status = errors_status(e);
    const char *ra = format_retry_after(status);
    if (ra)
        reqctx_set_header(rq, "retry-after", ra);
    reqctx_reply_json(rq, status, relay_error_json(e, msg));
}

void openai_err_render(enum relay_err e, const char *msg, struct stream_reply *out)
{
    int status = errors_status(e);
    format_reply_json(out, status, relay_error_json(e, msg));
    out->retry_after = format_retry_after(status);
}

static const char *type_for_status(int s)
{
    return s >= 500 ? "server_error" : s == 429 ? "rate_limit_error" : "invalid_request_error";
}

/* An Anthropic error ({"type":"error","error":{type, message}}) as OpenAI's. */
static cJSON *from_anthropic(const cJSON *j, int status)
{
    const cJSON *e = json_get(j, "error");
    const char *msg = json_str(e, "message", "");
    return openai_err_json(NULL, *msg ? msg : "Upstream error",
                           json_str(e, "type", type_for_status(status)), NULL);
}

void openai_err_render_upstream(const struct upstream_answer *ans, struct stream_reply *out)
{
    cJSON *j = json_parse(ans->body, ans->body_len, 8, true);
    bool oai = cJSON_IsObject(json_get(j, "error"));
    bool anthropic = oai && strcmp(json_str(j, "type", ""), "error") == 0;
    if (anthropic) {
        format_reply_json(out, ans->status, from_anthropic(j, ans->status));
    } else if (oai) {
        format_reply_copy(out, ans->status, ans->body, ans->body_len);
    } else {
        char msg[64];
        snprintf(msg, sizeof(msg), "Upstream answered %d", ans->status);
        format_reply_json(out, ans->status,
                          openai_err_json(NULL, msg, type_for_status(ans->status), NULL));
    }
    cJSON_Delete(j);
}

/* A key-policy refusal: the original's message, type and code, its details
 * beside "error". */
static cJSON *refusal_json(struct refusal *r)
{
    cJSON *root = r->extra;
    r->extra = NULL;
    return openai_err_json(root, r->message, r->type, r->code);
}

void openai_err_reply_refusal(struct reqctx *rq, struct refusal *r)
{
    if (r->retry_after)
        reqctx_set_header(rq, "retry-after", r->retry_after);
    reqctx_reply_json(rq, r->status, refusal_json(r));
}

void openai_err_render_refusal(struct refusal *r, struct stream_reply *out)
{
    format_reply_json(out, r->status, refusal_json(r));
    out->retry_after = r->retry_after;
}
