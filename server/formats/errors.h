/*
 * errors.h - THE table of relay error codes: HTTP status, default message
 * and the Anthropic error type. The helpers below render the Anthropic shape
 * {"type":"error","error":{"type":...,"message":...}} (format_anthropic
 * and the routes outside any client API use them); other client formats map
 * the status to their own shape.
 */
#ifndef RELAY_ERRORS_H
#define RELAY_ERRORS_H

struct reqctx;
struct cJSON;

/* X(code, http status, anthropic error type, default message) */
#define RELAY_ERRORS(X)                                                                            \
    X(BAD_REQUEST, 400, "invalid_request_error", "Invalid request")                                \
    X(BAD_JSON, 400, "invalid_request_error", "Request body must be a valid JSON object")          \
    X(NO_KEY, 401, "authentication_error", "Missing API key")                                      \
    X(BAD_KEY, 401, "authentication_error", "Invalid API key")                                     \
    X(KEY_DISABLED, 401, "authentication_error", "API key is disabled")                            \
    X(KEY_EXPIRED, 401, "authentication_error", "API key has expired")                             \
    X(FORBIDDEN, 403, "permission_error", "Forbidden")                                             \
    X(NOT_FOUND, 404, "not_found_error", "Not found")                                              \
    X(MODEL_UNSUPPORTED, 404, "not_found_error", "No available account supports the model")        \
    X(METHOD, 405, "invalid_request_error", "Method not allowed")                                  \
    X(TOO_LARGE, 413, "request_too_large", "Request body exceeds the size limit")                  \
    X(RATE_LIMITED, 429, "rate_limit_error", "Rate limit exceeded")                                \
    X(INTERNAL, 500, "api_error", "Internal relay error")                                          \
    X(UPSTREAM_CONNECT, 502, "api_error", "Upstream service unavailable")                          \
    X(UPSTREAM_BROKEN, 502, "api_error", "Upstream connection error")                              \
    X(NO_ACCOUNT, 503, "overloaded_error", "No upstream account is available")                     \
    X(UNAVAILABLE, 503, "api_error", "Service temporarily unavailable")                            \
    X(UPSTREAM_TIMEOUT, 504, "timeout_error", "Upstream timeout")

enum relay_err {
#define RELAY_ERR_ENUM(code, status, type, msg) RERR_##code,
    RELAY_ERRORS(RELAY_ERR_ENUM)
#undef RELAY_ERR_ENUM
        RERR__COUNT
};

int errors_status(enum relay_err e);
const char *errors_type(enum relay_err e);
/* The table's default message. */
const char *errors_message(enum relay_err e);
/* Build the Anthropic error body; msg NULL = the table's message. Caller owns. */
struct cJSON *errors_body(enum relay_err e, const char *msg);
/* Reply to the request with the error (status, JSON body; 401s add
 * x-should-retry: false so Claude Code stops instead of retrying for minutes). */
void errors_reply(struct reqctx *rq, enum relay_err e, const char *msg);
/* Same as errors_reply, as an SSE "event: error" frame (for mid-stream errors). */
char *errors_sse_frame(enum relay_err e, const char *msg);

#endif
