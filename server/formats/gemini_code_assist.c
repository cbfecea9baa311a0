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
 * listExperiments, retrieveUserQuota, fetchAdminControls,
 * recordCodeAssistMetrics, and GET /gemini/v1internal/operations/<id>:
 * getOperation, which the CLI polls every 5 s while onboardUser's
 * long-running operation is not done) are forwarded, not billed. The key
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

/* An operation id as Google's LRO names spell them, else none. */
static bool operation_ok(const char *op)
{
    size_t n = op ? strlen(op) : 0;
    return n > 0 && n <= 200 &&
           strspn(op, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") == n;
}

static int gca_validate(struct reqctx *rq, const char *endpoint, struct format_request *out,
                        enum relay_err *e, char *msg, size_t len)
{
    size_t blen = 0;
    if (strcmp(endpoint, "v1internal:getOperation") == 0) { /* a GET: no body, the id in the path */
        out->model[0] = '\0';
        out->stream = out->user_turn = false;
        if (operation_ok(reqctx_param(rq, "op")))
            return 0;
        return refuse(e, msg, len, "Invalid request: bad operation name");
    }
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
    .reply_error = google_err_reply,
    .render_error = google_err_render,
    .render_upstream = google_err_render_upstream,
    .error_frame = google_err_sse_frame,
    .reply_refusal = google_err_reply_refusal,
    .render_refusal = google_err_render_refusal,
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
GCA_OP(fetchAdminControls, false)
GCA_OP(recordCodeAssistMetrics, false)
GCA_OP(getOperation, false)

static bool gca_inline_ok(struct reqctx *rq)
{
    return txn_inline_ok_for(rq, &format_gemini_code_assist);
}

#define GCA_ROUTE(name)                                                                            \
    {                                                                                              \
        "POST", "/gemini/v1internal:" #name, h_##name, AUTH_KEY, BODY_LARGE, gca_inline_ok         \
    }

const struct route gemini_code_assist_routes[] = {
    GCA_ROUTE(generateContent),
    GCA_ROUTE(streamGenerateContent),
    GCA_ROUTE(countTokens),
    GCA_ROUTE(loadCodeAssist),
    GCA_ROUTE(onboardUser),
    GCA_ROUTE(listExperiments),
    GCA_ROUTE(retrieveUserQuota),
    GCA_ROUTE(fetchAdminControls),
    GCA_ROUTE(recordCodeAssistMetrics),
    {"GET", "/gemini/v1internal/operations/:op", h_getOperation, AUTH_KEY, BODY_SMALL,
     gca_inline_ok},
    {0},
};
