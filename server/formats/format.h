/*
 * format.h - a client API the relay speaks: Anthropic Messages
 * (anthropic.c) and OpenAI Responses (openai_responses.c); OpenAI chat and
 * Gemini plug in here as one file each. A format owns its routes, the
 * validation of its request bodies, its error shape (replies, in-stream
 * error frames, key-policy refusals, the front door's early refusals), the
 * service a key needs for it, its sticky-session source and its model
 * list, so a refused request looks to each client like its own API
 * refusing it. The request transaction (relay/txn.h) calls these hooks;
 * none of them touches Redis or blocks.
 *
 * Output conversion (another API's answers re-encoded for this client) is a
 * filter slot that arrives with the first format that needs one; today
 * each format is served by upstreams of its own API (its family), whose
 * bytes reach the client unchanged.
 */
#ifndef RELAY_FORMAT_H
#define RELAY_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "provider.h"
#include "stream.h"

struct reqctx;
struct client_facts;

/* What intake learnt from a valid body. */
struct format_request {
    char model[96];
    bool stream;
    bool user_turn; /* a new prompt from the user, not a tool result (relay/usermsg.h) */
};

/* A refusal by key policy, described once and rendered by each format in
 * its own shape (the original's statuses, types, codes and extra fields). */
struct refusal {
    int status;
    const char *type; /* error type, e.g. "rate_limit_error", "insufficient_quota" */
    const char *code; /* machine-readable code, or NULL */
    char message[256];
    struct cJSON *extra;     /* members beside "error" (taken), or NULL */
    const char *retry_after; /* seconds, or NULL */
};

struct client_format {
    const char *name;         /* "anthropic", "openai-responses" */
    const char *family;       /* the account pool that serves it: "claude", "openai" */
    unsigned service;         /* the key permission it needs (KEY_SVC_*, store/key_policy.h) */
    const char *service_name; /* in the permission refusal: "Claude", "OpenAI" */
    /* The request's sticky-session hash (relay/session_hash.h): 0, or
     * -ERR_NOTFOUND when it has none. Pure. */
    int (*session)(const struct client_facts *f, char *out, size_t len);
    /* Check the body for an endpoint. 0, or -ERR_INVAL with the client's
     * message in msg (and *e the error to answer with). */
    int (*validate)(struct reqctx *rq, const char *endpoint, struct format_request *out,
                    enum relay_err *e, char *msg, size_t len);
    /* Reply to rq with a relay error in this API's shape (before a stream). */
    void (*reply_error)(struct reqctx *rq, enum relay_err e, const char *msg);
    /* The same error as a reply the stream sends. */
    void (*render_error)(enum relay_err e, const char *msg, struct stream_reply *out);
    /* An upstream's error answer, as this API's error (status kept). */
    void (*render_upstream)(const struct upstream_answer *ans, struct stream_reply *out);
    /* The in-stream error frame ending a committed event stream (malloc'd). */
    char *(*error_frame)(enum relay_err e, const char *msg);
    /* Reply to rq with a key-policy refusal (takes r->extra). */
    void (*reply_refusal)(struct reqctx *rq, struct refusal *r);
    /* The same refusal as a reply the stream sends (takes r->extra). */
    void (*render_refusal)(struct refusal *r, struct stream_reply *out);
};

/* A relay route: which format, which upstream endpoint, whether usage is
 * recorded (count_tokens is not billed). */
struct relay_op {
    const struct client_format *fmt;
    const char *endpoint;
    bool record_usage;
};

extern const struct client_format format_anthropic;
extern const struct client_format format_openai_responses;
/* Only reply_error: Google-shaped refusals of the /gemini routes (google_errors.c). */
extern const struct client_format format_google_errors;

/* The format whose error shape the relay's own refusals take on path (a
 * bad key format, a body over the limit, an unknown route, overload, before
 * any handler runs): by path prefix ("/openai/" → OpenAI), else Anthropic.
 * Pure. */
const struct client_format *format_for_path(const char *path);

/* True when an Anthropic Messages body is a new user turn: its last message
 * has role "user" and its content is a string, or an array without a
 * tool_result (or tool_use_result) block. Pure; body may be NULL. */
bool anthropic_is_user_turn(const struct cJSON *body);

#endif
