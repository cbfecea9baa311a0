/*
 * provider.h - the upstream provider interface (curl's Curl_ssl style
 * vtable). One file per account type exports `const struct provider
 * provider_<name>`; providers/registry.c is the only list. Adding a provider
 * is that file plus one registry line: its account schema drives the admin
 * CRUD (/admin/<admin_path>), the Redis record and the snapshot; its hooks
 * turn a relay call into an upstream request for one account and judge the
 * upstream's answer.
 *
 * Every hook is pure with respect to shared state: no Redis, no locks, no
 * blocking; prepare runs on a worker, classify and the usage hooks on the
 * upstream loop thread.
 */
#ifndef RELAY_PROVIDER_H
#define RELAY_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include "httpc.h"
#include "sse.h"
#include "usage.h"

struct account;
struct reqctx;
struct relay_config;
struct cJSON;
struct oauth_kind;

/* ---- the account schema ---- */

enum field_type {
    FT_STR = 0,    /* text up to max characters */
    FT_URL = 1,    /* http:// or https:// URL, trailing slashes dropped */
    FT_SECRET = 2, /* sealed at rest, never returned (a preview is), unsealed in the snapshot */
    FT_INT = 3,    /* integer in [min, max] */
    FT_BOOL = 4,
    FT_JSON = 5, /* a JSON value, checked by the field's check hook, stored as compact text of
                  * at most max bytes; the admin view and the snapshot get it parsed */
    FT_USD = 6,  /* money: a number of USD (at most 6 decimals) in [min, max], stored as text */
    FT_HHMM = 7, /* a time of day "HH:mm" */
};

#define FIELD_REQUIRED 1u /* must be given at creation */
#define FIELD_READONLY 2u /* set by the relay only; an admin body naming it is refused (400) */

struct account_field {
    const char *name; /* JSON / Redis field name, as the original system's */
    enum field_type type;
    unsigned flags;
    const char *dflt; /* stored when absent at creation (NULL: nothing) */
    long long min, max;
    /* FT_JSON: 0, or -ERR_INVAL with msg completing "<name>..." (" must be ..."). */
    int (*check)(const struct cJSON *v, char *msg, size_t len);
};

/* ---- a call and its upstream request ---- */

/* What the relay wants sent: the client's request, already validated. */
struct upstream_call {
    const struct reqctx *rq;
    const char *endpoint; /* "messages", "count_tokens", "responses", "responses/compact" */
    const char *body;
    size_t body_len;
    const char *model; /* the client's model ("" when none) */
    /* The body is a conversion's (convert.h): answer in the framing its
     * filter reads (SSE for a stream), whatever the client's query says. */
    bool converted;
};

/* What prepare builds; owned, released by upstream_req_release. body NULL
 * means the call's body is sent unchanged (no copy). A local_status means
 * prepare answered by itself: no upstream call, the client gets
 * local_status and the JSON local_body. */
struct upstream_req {
    const char *method; /* static; NULL: POST (Code Assist's getOperation is a GET) */
    char *url;
    char **headers; /* "Name: value", NULL-terminated */
    size_t nheaders, cap;
    char *body;
    size_t body_len;
    int local_status;
    char *local_body;
};

/* ---- judging an answer before any byte of it reaches the client ---- */

/* An upstream attempt's answer. For a 2xx it is judged on its headers;
 * anything else after its (bounded, buffered) body arrived. */
struct upstream_answer {
    int status; /* HTTP status; 0 when none arrived */
    int result; /* 0, or the transfer error (-ERR_UPSTREAM, -ERR_TIMEOUT, -ERR_IO, -ERR_CLOSED) */
    const struct httpc_header *headers;
    size_t nheaders;
    const char *body; /* "" for 2xx answers */
    size_t body_len;
    long long now_ms; /* wall clock */
};

/* Account states, most severe last; names in account_state_name(). */
enum account_state {
    ACC_ACTIVE = 0,
    ACC_TEMP_ERROR = 1,   /* 5xx, connect errors, timeouts: cools for a TTL */
    ACC_OVERLOADED = 2,   /* 529: cools for a TTL */
    ACC_RATE_LIMITED = 3, /* 429: cools until the upstream's reset */
    ACC_UNAUTHORIZED = 4, /* 401: until an admin resets it */
    ACC_BLOCKED = 5,      /* 403 / disabled organisation: until an admin resets it */
};

/* Model families a subscription limits on their own (Claude's weekly Opus
 * and Sonnet limits). MF_ANY: the whole account. */
enum model_family { MF_ANY = 0, MF_OPUS = 1, MF_SONNET = 2, MF_COUNT = 3 };

/* The family a model name (or a limit's name, "seven_day_opus") belongs
 * to; MF_ANY when none. */
enum model_family model_family_of(const char *name);
const char *model_family_name(enum model_family f); /* "opus", "sonnet"; "" for MF_ANY */

enum verdict_action {
    VERDICT_OK = 0,    /* pass the answer to the client */
    VERDICT_RETRY = 1, /* try another account (before the first byte only) */
    VERDICT_FAIL = 2,  /* the client's own error: pass it, never retry */
};

struct verdict {
    enum verdict_action action;
    enum account_state mark;  /* ACC_ACTIVE: leave the account as it is */
    long long until_ms;       /* end of a cooling mark (wall clock ms); 0 for a permanent
                               * unauthorized / blocked (until an admin reset) */
    enum model_family family; /* a rate limit on this family only; MF_ANY: the account */
    char reason[160];
    /* A usage window the upstream reported on a success (e.g. Claude's
     * 5-hour window): its status ("" = none reported) and end. */
    char window[24];
    long long window_end_ms;
    /* A relay-set flag of the account's schema (FIELD_READONLY FT_BOOL) the
     * answer taught us, e.g. "countTokensUnavailable"; NULL: none. The
     * transaction sets it (account_learn) and writes it to the record. */
    const char *learn;
};

/* What an answer is judged against: the relay's TTLs, the account (its own
 * overrides win) and the endpoint called. */
struct judge {
    const struct relay_config *cfg;
    const struct account *acc;
    const char *endpoint;
};

struct provider {
    const char *name;          /* account type, e.g. "claude-console" */
    const char *family;        /* client API family it serves, e.g. "claude" */
    const char *record_prefix; /* Redis record "<prefix>:{id}", index "<prefix>:index" */
    const char *admin_path;    /* path segment under /admin/, e.g. "claude-console-accounts" */
    const struct account_field *fields;
    size_t nfields;
    /* URL, headers and (optionally) body for one attempt. 0 or -ERR_*. */
    int (*prepare)(const struct account *acc, const struct upstream_call *call,
                   struct upstream_req *out);
    /* Can acc serve model (never NULL or "")? The scheduler skips it when not
     * ("model not supported"). NULL hook: every model. */
    bool (*supports_model)(const struct account *acc, const char *model);
    /* The model acc sends upstream for the client's model, borrowed from
     * the snapshot, or NULL: the same. prepare applies it to the body
     * (upstream_req_set_model); usage falls back to it. NULL hook: never. */
    const char *(*map_model)(const struct account *acc, const char *model);
    /* The account's reaction to an answer. */
    void (*classify)(const struct judge *j, const struct upstream_answer *ans, struct verdict *v);
    /* A committed 2xx answer (headers only, body ""): the usage window it
     * reports and any mark it calls for (v is zeroed with action OK
     * first). NULL: nothing to learn from successes. */
    void (*observe)(const struct account *acc, const struct upstream_answer *ans,
                    struct verdict *v);
    /* An event of a committed stream that calls for a mark (v is zeroed
     * with action OK first; the mark is applied as the stream goes on),
     * e.g. the Codex backend's mid-stream usage_limit_reached. Upstream
     * loop, every event: cheap unless the event is an error. NULL: none. */
    void (*observe_event)(const struct account *acc, const struct sse_event *ev, long long now_ms,
                          struct verdict *v);
    /* Upstream response headers the client may see. */
    bool (*keep_header)(const char *name);
    void (*usage_event)(struct usage *u, const struct sse_event *ev);
    void (*usage_body)(struct usage *u, const char *body, size_t len);
    /* True when acc's credential has expired and cannot be renewed (an
     * OAuth token past expiresAt without a refresh token): the scheduler
     * skips it ("token expired"). NULL: never. The seam for the shared
     * OAuth refresh: an expired token with a refresh token is its to renew. */
    bool (*token_expired)(const struct account *acc, long long now_ms);
    /* A committed 2xx JSON body for endpoint teaches a relay-set text field
     * of the schema (FIELD_READONLY FT_STR, e.g. Code Assist's
     * tempProjectId): its name (static), the value in value; NULL: nothing.
     * The transaction writes it once (marks_learn_text). NULL hook: never.
     * Pure (upstream loop). */
    const char *(*learn_body)(const struct account *acc, const char *endpoint, const char *body,
                              size_t len, char *value, size_t vlen);
    /* An OAuth account type's kind (oauth_kind.h): its records hold
     * accessToken, refreshToken (FT_SECRET) and expiresAt (FT_INT, ms), the
     * admin PKCE flow and the token refresh serve it. NULL: not OAuth. */
    const struct oauth_kind *oauth;
    /* Can this account type serve a relay endpoint of its family ("messages",
     * "generateContent", a Code Assist "v1internal:..." method)? The scheduler
     * skips it when not ("endpoint not served"). */
    bool (*serves)(const char *endpoint); /* NULL: every endpoint of the family */
    /* The envelope pair: an endpoint this account type serves in another
     * shape than the client's API (Code Assist takes a standard Gemini
     * request wrapped in {model, project, request}). prepare wraps the
     * request; reshapes says the answer must be unwrapped, and unwrap gives
     * one committed event's data, or a committed JSON body, as the client's
     * API has it (malloc'd, *out_len), or NULL: as it came. The transaction
     * unwraps before any conversion and before the client sees a byte;
     * usage is read from the wrapped answer. Pure (upstream loop). NULL
     * hooks: answers pass as they come. */
    bool (*reshapes)(const char *endpoint);
    char *(*unwrap)(const char *data, size_t len, size_t *out_len);
};

/* Find a provider by account type / by admin path segment; NULL when unknown. */
const struct provider *provider_find(const char *name);
const struct provider *provider_by_admin_path(const char *segment);
/* The registry, for iteration: provider_at(i) for i < provider_count(). */
size_t provider_count(void);
const struct provider *provider_at(size_t i);
/* The schema entry for name, or NULL. */
const struct account_field *provider_field(const struct provider *p, const char *name);

void upstream_req_add(struct upstream_req *r, const char *name, const char *value);
/* When acc's provider maps call->model to another model, out->body becomes
 * the call's body with only its top-level "model" replaced (every other byte
 * kept). 0 (nothing to do, or done). */
int upstream_req_set_model(const struct account *acc, const struct upstream_call *call,
                           struct upstream_req *out);
/* Wipes header lines (they may carry the credential) and frees everything. */
void upstream_req_release(struct upstream_req *r);

/* A response header value (case-insensitive), or NULL. */
const char *upstream_header(const struct upstream_answer *a, const char *name);

extern const struct provider provider_claude_console;
extern const struct provider provider_claude_official;
extern const struct provider provider_openai_responses;
extern const struct provider provider_gemini_oauth;
extern const struct provider provider_openai;
extern const struct provider provider_gemini_api;

#endif
