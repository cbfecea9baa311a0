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
 * Output conversion (another API's answers re-encoded for this client) is
 * the slot in convert.h, chosen per request by (format, the family its
 * validation picked): OpenAI chat completions are served by Claude and
 * OpenAI accounts through it. A pair without a conversion passes the
 * upstream's bytes unchanged.
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
    /* The account pool that serves this request and the key permission it
     * needs; validate may set them (chat: by model prefix), else the
     * format's own (family, service, service_name) apply. */
    const char *family;
    unsigned service;
    const char *service_name;
    bool include_usage; /* chat: stream_options.include_usage */
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
    const char *family;       /* the account pool that serves it by default: "claude", "openai" */
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
    /* Its 2xx streams are not SSE but a streamed JSON array (Gemini without
     * alt=sse): committed at their headers, forwarded element by element
     * (stream_json_array); error_frame then makes the closing element. */
    bool json_stream;
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
extern const struct client_format format_openai_chat;        /* chat completions */
extern const struct client_format format_openai_completions; /* legacy completions */
extern const struct client_format format_gemini_code_assist;
extern const struct client_format format_gemini;

/* The format whose error shape the relay's own refusals take on path (a
 * bad key format, a body over the limit, an unknown route, overload, before
 * any handler runs): by path prefix ("/openai/" → OpenAI, "/gemini/" → Gemini), else Anthropic.
 * Pure. */
const struct client_format *format_for_path(const char *path);

/* Helpers the error shapes share (formats.c). A reply the stream sends:
 * root printed as its JSON body (root freed). */
void format_reply_json(struct stream_reply *out, int status, struct cJSON *root);
/* The same with body copied as it is (an upstream's own error body). */
void format_reply_copy(struct stream_reply *out, int status, const char *body, size_t len);
/* The retry-after a relay refusal of this status carries: "1" for 429 and
 * 503 (clients back off briefly, then retry), else NULL. Pure. */
const char *format_retry_after(int status);

/* The Claude model list (anthropic.c), for the other formats' model
 * lists: the i-th id (i < anthropic_model_count()) and its release time
 * (unix seconds). */
size_t anthropic_model_count(void);
const char *anthropic_model_at(size_t i, long long *created);
/* The Gemini model list (gemini_models.c), likewise: the i-th id. */
size_t gemini_model_count(void);
const char *gemini_model_at(size_t i);

/* True when an Anthropic Messages body is a new user turn: its last message
 * has role "user" and its content is a string, or an array without a
 * tool_result (or tool_use_result) block. Pure; body may be NULL. */
bool anthropic_is_user_turn(const struct cJSON *body);

#endif
