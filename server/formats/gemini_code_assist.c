/*
 * gemini_code_assist.c - the Gemini Code Assist API as Gemini CLI speaks it
 * in Code Assist mode (CODE_ASSIST_ENDPOINT=https://host/gemini,
 * GOOGLE_GENAI_USE_GCA=true, GOOGLE_CLOUD_ACCESS_TOKEN=<cr_ key>): the
 * routes POST /gemini/v1internal:<method>, the envelope validation
 * {model, project?, user_prompt_id?, request:{contents, ...}}, Google's
 * error shape for every relay refusal (google_errors.h) and its in-stream
 * error frame.
 *
 * Served by the "gemini" family's OAuth accounts, whose upstream speaks
 * this API too: the answers pass raw. generateContent and
 * streamGenerateContent are billed (usage from response.usageMetadata);
 * countTokens and the setup calls (loadCodeAssist, onboardUser,
 * listExperiments, retrieveUserQuota) are forwarded, not billed. The key
 * comes as Authorization: Bearer (Gemini CLI sends its access token so).
 * Sticky sessions follow request.session_id (the CLI's session, stable
 * across its prompts).
 */
#include "compat.h"
#include "clients.h"
#include "errs.h"
#include "format.h"
#include "google_errors.h"
#include "json.h"
#include "keys.h"
#include "reqctx.h"
#include "router.h"
#include "secret.h"
#include "session_hash.h"
#include "txn.h"
#include "xmalloc.h"

#include <strings.h>

#define SESSION_HEX 32

static cJSON *relay_error_json(enum relay_err e, const char *msg)
{
    return google_error(NULL, errors_status(e), msg ? msg : errors_message(e));
}

static void set_json(struct stream_reply *out, int status, cJSON *root)
{
    out->status = status;
    out->body = json_print(root);
    out->len = strlen(out->body);
    out->content_type = "application/json";
    cJSON_Delete(root);
}

static const char *retry_after_for(int status)
{
    return status == 503 || status == 429 ? "1" : NULL;
}

static void gca_reply_error(struct reqctx *rq, enum relay_err e, const char *msg)
{
    const char *ra = retry_after_for(errors_status(e));
    if (ra)
        reqctx_set_header(rq, "retry-after", ra);
    reqctx_reply_json(rq, errors_status(e), relay_error_json(e, msg));
}

static void gca_render_error(enum relay_err e, const char *msg, struct stream_reply *out)
{
    set_json(out, errors_status(e), relay_error_json(e, msg));
    out->retry_after = retry_after_for(errors_status(e));
}

/* Gemini CLI reads Google's error objects (status, message, details): one
 * passes as the upstream wrote it, with its status; anything else (a
 * proxy's HTML page) is wrapped. */
static void gca_render_upstream(const struct upstream_answer *ans, struct stream_reply *out)
{
    if (google_is_error(ans->body, ans->body_len)) {
        out->status = ans->status;
        out->content_type = "application/json";
        out->body = xmalloc(ans->body_len + 1);
        memcpy(out->body, ans->body, ans->body_len);
        out->body[ans->body_len] = '\0';
        out->len = ans->body_len;
        return;
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "Upstream answered %d", ans->status);
    set_json(out, ans->status, google_error(NULL, ans->status, msg));
}

/* A committed stream that breaks: one more data frame holding Google's
 * error object (what the Code Assist stream itself sends on failure). */
static char *gca_error_frame(enum relay_err e, const char *msg)
{
    cJSON *j = relay_error_json(e, msg);
    char *data = json_print(j);
    cJSON_Delete(j);
    char *frame = xasprintf("data: %s\n\n", data);
    free(data);
    return frame;
}

static cJSON *refusal_json(struct refusal *r)
{
    cJSON *root = r->extra;
    r->extra = NULL;
    return google_error(root, r->status, r->message);
}

static void gca_reply_refusal(struct reqctx *rq, struct refusal *r)
{
    if (r->retry_after)
        reqctx_set_header(rq, "retry-after", r->retry_after);
    reqctx_reply_json(rq, r->status, refusal_json(r));
}

static void gca_render_refusal(struct refusal *r, struct stream_reply *out)
{
    set_json(out, r->status, refusal_json(r));
    out->retry_after = r->retry_after;
}

/* ---- validation ---- */

static bool is_generate(const char *endpoint)
{
    return strcmp(endpoint, "v1internal:generateContent") == 0 ||
           strcmp(endpoint, "v1internal:streamGenerateContent") == 0;
}

static int refuse(enum relay_err *e, char *msg, size_t len, const char *why)
{
    *e = RERR_BAD_REQUEST;
    snprintf(msg, len, "%s", why);
    return -ERR_INVAL;
}

/* An optional member that must be a string when given. */
static bool string_or_absent(const cJSON *j, const char *name)
{
    const cJSON *v = json_get(j, name);
    return !v || cJSON_IsString(v);
}

/* The model a countTokens body names: request.model ("models/<m>"), bare. */
static const char *count_model(const cJSON *j)
{
    const char *m = json_str(json_get(j, "request"), "model", "");
    return strncmp(m, "models/", 7) == 0 ? m + 7 : m;
}

/* The envelope of the content calls: {model, project?, user_prompt_id?,
 * request:{contents:[...]}}; countTokens {request:{model?, contents}}. */
static int check_content(const cJSON *j, const char *endpoint, struct format_request *out,
                         enum relay_err *e, char *msg, size_t len)
{
    const cJSON *req = json_get(j, "request");
    if (!cJSON_IsObject(req))
        return refuse(e, msg, len, "Invalid request: 'request' must be an object");
    if (!cJSON_IsArray(json_get(req, "contents")))
        return refuse(e, msg, len, "Invalid request: 'request.contents' must be an array");
    if (!string_or_absent(j, "project") || !string_or_absent(j, "user_prompt_id"))
        return refuse(e, msg, len, "Invalid request: 'project' and 'user_prompt_id' are strings");
    const char *model = is_generate(endpoint) ? json_str(j, "model", "") : count_model(j);
    if (is_generate(endpoint) && !*model)
        return refuse(e, msg, len, "Invalid request: 'model' is required");
    snprintf(out->model, sizeof(out->model), "%s", model);
    return 0;
}

static int gca_validate(struct reqctx *rq, const char *endpoint, struct format_request *out,
                        enum relay_err *e, char *msg, size_t len)
{
    size_t blen = 0;
    reqctx_body(rq, &blen);
    const cJSON *j = reqctx_json(rq);
    if (blen == 0 || !cJSON_IsObject(j)) {
        *e = RERR_BAD_JSON;
        snprintf(msg, len, "%s", blen ? "Invalid JSON payload received." : "Request body is empty");
        return -ERR_INVAL;
    }
    out->model[0] = '\0';
    out->stream = strcmp(endpoint, "v1internal:streamGenerateContent") == 0;
    out->user_turn = false; /* the user message queue is Claude's (usermsg.h) */
    if (is_generate(endpoint) || strcmp(endpoint, "v1internal:countTokens") == 0)
        return check_content(j, endpoint, out, e, msg, len);
    return 0; /* the setup calls: any object, forwarded */
}

/* request.session_id (Gemini CLI's session: its first prompt's id, kept
 * for the session) hashed, 32 hex; none for the setup calls. */
static int gca_session(const struct client_facts *f, char *out, size_t len)
{
    char hex[65];
    if (len < SESSION_HASH_MAX)
        return -ERR_TOOBIG;
    const char *sid = json_str(json_get(f->body, "request"), "session_id", "");
    if (!*sid)
        return -ERR_NOTFOUND;
    char *src = xasprintf("gemini-code-assist:%s", sid);
    secret_sha256_hex(src, strlen(src), hex);
    free(src);
    snprintf(out, len, "%.*s", SESSION_HEX, hex);
    return 0;
}

const struct client_format format_gemini_code_assist = {
    .name = "gemini-code-assist",
    .family = "gemini",
    .service = KEY_SVC_GEMINI,
    .service_name = "Gemini",
    .session = gca_session,
    .validate = gca_validate,
    .reply_error = gca_reply_error,
    .render_error = gca_render_error,
    .render_upstream = gca_render_upstream,
    .error_frame = gca_error_frame,
    .reply_refusal = gca_reply_refusal,
    .render_refusal = gca_render_refusal,
};

/* ---- routes ---- */

#define GCA_OP(name, billed)                                                                       \
    /* the endpoint names the method in full: the standard API has its own                         \
     * generateContent, and the scheduler tells them apart (serves) */                             \
    static const struct relay_op op_##name = {&format_gemini_code_assist, "v1internal:" #name,     \
                                              billed};                                             \
    static void h_##name(struct reqctx *rq)                                                        \
    {                                                                                              \
        txn_start(rq, &op_##name);                                                                 \
    }

GCA_OP(generateContent, true)
GCA_OP(streamGenerateContent, true)
GCA_OP(countTokens, false)
GCA_OP(loadCodeAssist, false)
GCA_OP(onboardUser, false)
GCA_OP(listExperiments, false)
GCA_OP(retrieveUserQuota, false)

static bool gca_inline_ok(struct reqctx *rq)
{
    return txn_inline_ok_for(rq, &format_gemini_code_assist);
}

#define GCA_ROUTE(name)                                                                            \
    {                                                                                              \
        "POST", "/gemini/v1internal:" #name, h_##name, AUTH_KEY, BODY_LARGE, gca_inline_ok         \
    }

const struct route gemini_code_assist_routes[] = {
    GCA_ROUTE(generateContent),   GCA_ROUTE(streamGenerateContent),
    GCA_ROUTE(countTokens),       GCA_ROUTE(loadCodeAssist),
    GCA_ROUTE(onboardUser),       GCA_ROUTE(listExperiments),
    GCA_ROUTE(retrieveUserQuota), {0},
};
