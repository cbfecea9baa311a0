/*
 * google_errors.c - Google's error shape (see google_errors.h). The names
 * are google.rpc.Code's, mapped from HTTP statuses as Google's own HTTP
 * gateway maps them (google/rpc/code.proto).
 */
#include "compat.h"
#include "google_errors.h"
#include "json.h"

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
