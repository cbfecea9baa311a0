/*
 * gemini.c - the standard Gemini API as clients speak it (Gemini CLI in
 * API-key mode, @google/genai): POST /gemini/{v1beta,v1}/models/<model>:
 * generateContent | streamGenerateContent | countTokens, and the model
 * lists; body validation; Google's error shape for every relay refusal
 * and the mid-stream error a Gemini stream ends with (google_errors.h,
 * shared with the Code Assist format; the JSON-array ending is this
 * format's own).
 *
 * Served by the "gemini" account family: gemini-api accounts (the upstream
 * speaks the same API, its bytes pass unchanged) and gemini OAuth accounts
 * (Code Assist: the provider wraps the request, the transaction unwraps
 * the answer - provider.h, the envelope pair). A stream keeps the
 * client's framing: ?alt=sse is SSE; without it Gemini streams one JSON
 * array, forwarded element by element (relay_op.json_stream).
 *
 * The key: x-goog-api-key (what both clients send), also ?key= (the Google
 * SDKs may), also x-api-key / Authorization: Bearer. The access log has the
 * path only, never the query.
 */
#include "compat.h"
#include "errs.h"
#include "format.h"
#include "gemini.h"
#include "google_errors.h"
#include "json.h"
#include "keys.h"
#include "reqctx.h"
#include "router.h"
#include "secret.h"
#include "session_hash.h"
#include "txn.h"
#include "buf.h"
#include "clients.h"
#include "xmalloc.h"

#include <strings.h>

#define SESSION_HEX 32

bool gemini_model_ok(const char *model, size_t max)
{
    static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    size_t n = strlen(model);
    return n > 0 && n < max && strspn(model, safe) == n;
}

/* The model of the route: "<model>:<action>" in the path's last segment,
 * into out (cut at len); returns its whole length, so a cut is seen. */
static size_t route_model(struct reqctx *rq, char *out, size_t len)
{
    const char *spec = reqctx_param(rq, "spec");
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    size_t n = colon ? (size_t)(colon - spec) : 0;
    snprintf(out, len, "%.*s", (int)n, spec ? spec : "");
    return n;
}

/* A new prompt from the user (for the user message queue, usermsg.h): the
 * last content is the user's and answers no function call. */
static bool is_user_turn(const cJSON *contents)
{
    const cJSON *last = cJSON_GetArrayItem(contents, cJSON_GetArraySize(contents) - 1);
    const cJSON *part;
    if (strcmp(json_str(last, "role", "user"), "user") != 0)
        return false;
    cJSON_ArrayForEach(part, json_get(last, "parts"))
    {
        if (json_get(part, "functionResponse"))
            return false;
    }
    return true;
}

static int g_validate(struct reqctx *rq, const char *endpoint, struct format_request *out,
                      enum relay_err *e, char *msg, size_t len)
{
    size_t blen = 0;
    reqctx_body(rq, &blen);
    const cJSON *j = reqctx_json(rq);
    *e = RERR_BAD_REQUEST;
    if (blen == 0 || !cJSON_IsObject(j)) {
        snprintf(msg, len, "%s", blen ? errors_message(RERR_BAD_JSON) : "Request body is empty");
        return -ERR_INVAL;
    }
    bool counting = strcmp(endpoint, "count_tokens") == 0;
    if (!cJSON_IsArray(json_get(j, "contents")) &&
        !(counting && cJSON_IsObject(json_get(j, "generateContentRequest")))) {
        snprintf(msg, len, "Contents array is required (contents)");
        return -ERR_INVAL;
    }
    size_t mlen = route_model(rq, out->model, sizeof(out->model));
    if (!out->model[0]) {
        snprintf(msg, len, "The model is missing from the path (models/<model>:<method>)");
        return -ERR_INVAL;
    }
    if (mlen >= sizeof(out->model) || !gemini_model_ok(out->model, sizeof(out->model))) {
        snprintf(msg, len, "Invalid model name in the path (letters, digits, '.', '-', '_')");
        return -ERR_INVAL;
    }
    out->stream = strcmp(endpoint, "streamGenerateContent") == 0;
    out->user_turn = !counting && is_user_turn(json_get(j, "contents"));
    return 0;
}

/* A streamed JSON array that breaks: the error object as its last element
 * (the stream adds the separator and the closing bracket). */
static char *g_error_element(enum relay_err e, const char *msg)
{
    return google_err_text(e, msg);
}

static void add_parts_text(struct buf *b, const cJSON *content)
{
    const cJSON *part;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(content, "parts"))
    {
        const char *t = json_str(part, "text", NULL);
        if (t && buf_append_str(b, t) != 0)
            buf_reset(b); /* over the bound: cannot happen for a body within limits */
    }
}

/* Gemini clients send no session id (client-wire-facts): what stays the
 * same across a conversation's turns is its system instruction and its
 * first content (Gemini CLI's opening context). sha256 of both, 32 hex. */
static int g_session(const struct client_facts *f, char *out, size_t len)
{
    char hex[65];
    if (len < SESSION_HASH_MAX)
        return -ERR_TOOBIG;
    const cJSON *sys = json_get(f->body, "systemInstruction");
    const cJSON *contents = json_get(f->body, "contents");
    struct buf b;
    buf_init(&b, (size_t)64 << 20);
    if (cJSON_IsString(sys) && buf_append_str(&b, sys->valuestring) != 0)
        buf_reset(&b);
    add_parts_text(&b, sys);
    if (cJSON_IsArray(contents))
        add_parts_text(&b, cJSON_GetArrayItem(contents, 0));
    int rc = b.len ? 0 : -ERR_NOTFOUND;
    if (rc == 0) {
        secret_sha256_hex(b.data, b.len, hex);
        snprintf(out, len, "%.*s", SESSION_HEX, hex);
    }
    buf_release(&b);
    return rc;
}

#define GEMINI_FORMAT_COMMON                                                                       \
    .family = "gemini", .service = KEY_SVC_GEMINI, .service_name = "Gemini", .session = g_session, \
    .validate = g_validate, .reply_error = google_err_reply, .render_error = google_err_render,    \
    .render_upstream = google_err_render_upstream, .reply_refusal = google_err_reply_refusal,      \
    .render_refusal = google_err_render_refusal

const struct client_format format_gemini = {
    .name = "gemini",
    GEMINI_FORMAT_COMMON,
    .error_frame = google_err_sse_frame,
};

/* The same API when its stream is a JSON array (no alt=sse): only the
 * mid-stream error differs. */
static const struct client_format format_gemini_array = {
    .name = "gemini",
    GEMINI_FORMAT_COMMON,
    .error_frame = g_error_element,
    .json_stream = true,
};

/* ---- routes ---- */

static const struct relay_op op_generate = {&format_gemini, "generateContent", true};
static const struct relay_op op_stream_sse = {&format_gemini, "streamGenerateContent", true};
static const struct relay_op op_stream_array = {&format_gemini_array, "streamGenerateContent",
                                                true};
static const struct relay_op op_count = {&format_gemini, "count_tokens", false};

static bool wants_sse(struct reqctx *rq)
{
    const char *alt = reqctx_query(rq, "alt");
    return alt && strcasecmp(alt, "sse") == 0;
}

/* POST .../models/<model>:<method>: the method picks the operation. */
static void h_call(struct reqctx *rq)
{
    const char *spec = reqctx_param(rq, "spec");
    const char *m = spec ? strrchr(spec, ':') : NULL;
    m = m ? m + 1 : "";
    if (strcmp(m, "generateContent") == 0)
        txn_start(rq, &op_generate);
    else if (strcmp(m, "streamGenerateContent") == 0)
        txn_start(rq, wants_sse(rq) ? &op_stream_sse : &op_stream_array);
    else if (strcmp(m, "countTokens") == 0)
        txn_start(rq, &op_count);
    else
        google_err_reply(rq, RERR_NOT_FOUND,
                         "Method not found (generateContent, "
                         "streamGenerateContent, countTokens)");
}

static bool g_inline_ok(struct reqctx *rq)
{
    return txn_inline_ok_for(rq, &format_gemini);
}

#define GEMINI_ROUTES(prefix)                                                                      \
    {"POST", prefix "/models/:spec", h_call, AUTH_KEY, BODY_LARGE, g_inline_ok},                   \
        {"GET", prefix "/models", gemini_h_models, AUTH_KEY, BODY_SMALL, NULL},                    \
    {                                                                                              \
        "GET", prefix "/models/:model", gemini_h_model, AUTH_KEY, BODY_SMALL, NULL                 \
    }

const struct route gemini_routes[] = {
    GEMINI_ROUTES("/gemini/v1beta"),
    GEMINI_ROUTES("/gemini/v1"),
    {"GET", "/gemini/models", gemini_h_models, AUTH_KEY, BODY_SMALL, NULL},
    {0},
};
