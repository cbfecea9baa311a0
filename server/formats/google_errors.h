/*
 * google_errors.h - Google's error shape, as every Google API answers a
 * refusal: {"error":{"code":<http status>,"message":"...","status":"<RPC
 * code name>"}} (google.rpc.Status over HTTP). THE one module both Gemini
 * formats render their refusals with: the Code Assist API
 * (gemini_code_assist.c) and the standard Gemini API (gemini.c), so a
 * status has one name and a broken SSE stream one last frame. The standard
 * format's JSON-array stream ends with google_err_text as its last element
 * (its own framing).
 */
#ifndef RELAY_GOOGLE_ERRORS_H
#define RELAY_GOOGLE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "format.h"

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

/* A relay error as Google's error object, printed (malloc'd); msg NULL:
 * the table's message. */
char *google_err_text(enum relay_err e, const char *msg);

/* The client_format hooks, in Google's shape (format.h). */
void google_err_reply(struct reqctx *rq, enum relay_err e, const char *msg);
void google_err_render(enum relay_err e, const char *msg, struct stream_reply *out);
/* A Google error body passes as the upstream wrote it, with its status;
 * anything else (a proxy's HTML page) is wrapped. */
void google_err_render_upstream(const struct upstream_answer *ans, struct stream_reply *out);
/* A committed SSE stream that breaks: one more data frame holding the
 * error object (what Google's streams themselves send; Gemini CLI raises
 * it). */
char *google_err_sse_frame(enum relay_err e, const char *msg);
void google_err_reply_refusal(struct reqctx *rq, struct refusal *r);
void google_err_render_refusal(struct refusal *r, struct stream_reply *out);

#endif
