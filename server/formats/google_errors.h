/*
 * google_errors.h - Google's error shape, as every Google API answers a
 * refusal: {"error":{"code":<http status>,"message":"...","status":"<RPC
 * code name>"}} (google.rpc.Status over HTTP). The Code Assist format
 * (gemini_code_assist.c) renders every relay refusal this way; kept in one
 * small module so the standard Gemini format can share it.
 */
#ifndef RELAY_GOOGLE_ERRORS_H
#define RELAY_GOOGLE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* The google.rpc.Code name Google's APIs answer with an HTTP status:
 * 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
 * NOT_FOUND, 429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE, 504
 * DEADLINE_EXCEEDED, ... Pure; a static string. */
const char *google_status_name(int http_status);
/* {"error":{"code","message","status"}} added to root (made when NULL);
 * returns root. The caller owns it. */
struct cJSON *google_error(struct cJSON *root, int http_status, const char *message);
/* True when body is a Google error object ({"error":{...}}, or a JSON
 * array whose first element is one, as a streamed JSON array answers). */
bool google_is_error(const char *body, size_t len);

#endif
