/*
 * google_errors.c - Google's error shape (see google_errors.h). The names
 * are google.rpc.Code's, mapped from HTTP statuses as Google's own HTTP
 * gateway maps them (google/rpc/code.proto).
 */
#include "compat.h"
#include "google_errors.h"
#include "json.h"
#include "reqctx.h"
#include "xmalloc.h"

static const struct {
    int http;
    const char *name;
} rpc_codes[] = {
    {400, "INVALID_ARGUMENT"}, {401, "UNAUTHENTICATED"},    {403, "PERMISSION_DENIED"},
    {404, "NOT_FOUND"},        {405, "UNIMPLEMENTED"},      {409, "ABORTED"},
    {413, "INVALID_ARGUMENT"}, {429, "RESOURCE_EXHAUSTED"}, {499, "CANCELLED"},
    {500, "INTERNAL"},         {501, "UNIMPLEMENTED"},      {502, "UNAVAILABLE"},
    {503, "UNAVAILABLE"},      {504, "DEADLINE_EXCEEDED"},
};

const char *google_status_name(int http_status)
{
    for (size_t i = 0; i < ARRAY_SIZE(rpc_codes); i++)
        if (rpc_codes[i].http == http_status)
            return rpc_codes[i].name;
    return http_status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
}

cJSON *google_error(cJSON *root, int http_status, const char *message)
{
    root = root ? root : cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddNumberToObject(err, "code", http_status);
    cJSON_AddStringToObject(err, "message", message ? message : "");
    cJSON_AddStringToObject(err, "status", google_status_name(http_status));
    return root;
}

bool google_is_error(const char *body, size_t len)
{
    cJSON *j = len ? json_parse(body, len, 8, true) : NULL;
    const cJSON *o = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : j;
    bool ok = cJSON_IsObject(json_get(o, "error"));
    cJSON_Delete(j);
    return ok;
}

static cJSON *relay_error_json(enum relay_err e, const char *msg)
{
    return google_error(NULL, errors_status(e), msg ? msg : errors_message(e));
}

char *google_err_text(enum relay_err e, const char *msg)
{
    cJSON *j = relay_error_json(e, msg);
    char *s = json_print(j);
    cJSON_Delete(j);
    return s;
}

void google_err_reply(struct reqctx *rq, enum relay_err e, const char *msg)
{
    int status = errors_status(e);
    const char *ra = format_retry_after(status);
    if (ra)
        reqctx_set_header(rq, "retry-after", ra);
    reqctx_reply_json(rq, status, relay_error_json(e, msg));
}

void google_err_render(enum relay_err e, const char *msg, struct stream_reply *out)
{
    int status = errors_status(e);
    format_reply_json(out, status, relay_error_json(e, msg));
    out->retry_after = format_retry_after(status);
}

void google_err_render_upstream(const struct upstream_answer *ans, struct stream_reply *out)
{
    if (google_is_error(ans->body, ans->body_len)) {
        format_reply_copy(out, ans->status, ans->body, ans->body_len);
        out->retry_after = format_retry_after(ans->status);
        return;
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "Upstream answered %d", ans->status);
    format_reply_json(out, ans->status, google_error(NULL, ans->status, msg));
}

char *google_err_sse_frame(enum relay_err e, const char *msg)
{
    char *err = google_err_text(e, msg);
    char *frame = xasprintf("data: %s\n\n", err);
    free(err);
    return frame;
}

static cJSON *refusal_json(struct refusal *r)
{
    cJSON *root = r->extra;
    r->extra = NULL;
    return google_error(root, r->status, r->message);
}

void google_err_reply_refusal(struct reqctx *rq, struct refusal *r)
{
    if (r->retry_after)
        reqctx_set_header(rq, "retry-after", r->retry_after);
    reqctx_reply_json(rq, r->status, refusal_json(r));
}

void google_err_render_refusal(struct refusal *r, struct stream_reply *out)
{
    format_reply_json(out, r->status, refusal_json(r));
    out->retry_after = r->retry_after;
}
