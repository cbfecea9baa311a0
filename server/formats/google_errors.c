/*
 * google_errors.c - Google's error shape {"error":{"code","message",
 * "status"}} for the /gemini routes' own refusals (format.h
 * format_google_errors). Only reply_error is filled: the /gemini usage and
 * key-info routes answer before any upstream is involved.
 * MERGE: once a full Gemini client format exists, it replaces this one in
 * formats.c and key_info.c.
 */
#include "compat.h"
#include "errors.h"
#include "format.h"
#include "json.h"
#include "key_policy.h"
#include "reqctx.h"

static const char *google_status(int http)
{
    switch (http) {
    case 400:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 413:
        return "INVALID_ARGUMENT";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 503:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        return "INTERNAL";
    }
}

static void google_reply_error(struct reqctx *rq, enum relay_err e, const char *msg)
{
    int status = errors_status(e);
    cJSON *root = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddNumberToObject(err, "code", status);
    cJSON_AddStringToObject(err, "message", msg ? msg : errors_message(e));
    cJSON_AddStringToObject(err, "status", google_status(status));
    reqctx_reply_json(rq, status, root);
}

const struct client_format format_google_errors = {
    .name = "gemini",
    .family = "gemini",
    .service = KEY_SVC_GEMINI,
    .service_name = "Gemini",
    .reply_error = google_reply_error,
};
