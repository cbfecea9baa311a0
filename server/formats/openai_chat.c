/*
 * openai_chat.c - OpenAI chat completions (and legacy completions) as
 * clients speak them (the openai SDK's client.chat.completions, most
 * OpenAI-compatible tools): routes, body validation, the OpenAI error
 * shape (openai_errors.c, shared with Responses) and the mid-stream error
 * a chat stream carries (data: {"error":{...}}).
 *
 * No account speaks chat: the pool is picked per request by the model
 * (crs-relay-spec 10.2) and the answer converted (convert.h): claude-* and
 * any other model -> the Claude pool (chat <-> Messages), gpt-* -> the
 * OpenAI pool (chat <-> Responses), gemini-* -> the Gemini pool (chat <->
 * Gemini; Code Assist accounts wrap the body, gemini_envelope.h). The
 * /openai/claude routes always take the Claude pool, the /openai/gemini
 * routes the Gemini pool (any model name: the account decides).
 *
 * DESIGN: a key's model restriction on /openai/gemini. The original reads
 * the key's restricted models as an allow-list on this route alone (and
 * as a deny-list everywhere else); here the one rule of every route
 * applies (policy.c: the list denies), so one key field never means two
 * opposite things. The model lists hide denied names the same way.
 */
#include "compat.h"
#include "chat_out.h"
#include "errs.h"
#include "format.h"
#include "gemini.h"
#include "json.h"
#include "keys.h"
#include "openai_errors.h"
#include "reqctx.h"
#include "router.h"
#include "session_hash.h"
#include "txn.h"
#include "xmalloc.h"

#include <strings.h>

/* The pool a model goes to: the route's, or by the model's prefix. */
static void pick_family(const char *endpoint, const char *model, struct format_request *out)
{
    static const struct {
        const char *prefix, *family, *name;
        unsigned service;
    } pools[] = {{"gpt-", "openai", "OpenAI", KEY_SVC_OPENAI},
                 {"gemini-", "gemini", "Gemini", KEY_SVC_GEMINI}};
    bool unified = strncmp(endpoint, "claude/", 7) != 0;
    bool gemini = strncmp(endpoint, "gemini/", 7) == 0;
    out->family = "claude";
    out->service = KEY_SVC_CLAUDE;
    out->service_name = "Claude";
    for (size_t i = 0; unified && i < ARRAY_SIZE(pools); i++)
        if ((gemini && strcmp(pools[i].family, "gemini") == 0) ||
            (!gemini && strncasecmp(model, pools[i].prefix, strlen(pools[i].prefix)) == 0)) {
            out->family = pools[i].family;
            out->service = pools[i].service;
            out->service_name = pools[i].name;
        }
}

/* The body's own fields: messages (chat) or prompt (legacy), stream. */
static int check_fields(const cJSON *j, bool legacy, char *msg, size_t len)
{
    const cJSON *m = json_get(j, legacy ? "prompt" : "messages");
    if (!m) {
        snprintf(msg, len, "Missing required parameter: '%s'.", legacy ? "prompt" : "messages");
        return -ERR_INVAL;
    }
    if (!legacy && (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0)) {
        snprintf(msg, len, "Invalid 'messages': expected a non-empty array.");
        return -ERR_INVAL;
    }
    const cJSON *s = json_get(j, "stream");
    if (s && !cJSON_IsBool(s) && !cJSON_IsNull(s)) {
        snprintf(msg, len, "Invalid type for 'stream': expected a boolean.");
        return -ERR_INVAL;
    }
    return 0;
}

static int validate(struct reqctx *rq, const char *endpoint, bool legacy,
                    struct format_request *out, enum relay_err *e, char *msg, size_t len)
{
    size_t blen = 0;
    reqctx_body(rq, &blen);
    const cJSON *j = reqctx_json(rq);
    if (blen == 0 || !cJSON_IsObject(j)) {
        *e = RERR_BAD_JSON;
        snprintf(msg, len, "%s", blen ? errors_message(RERR_BAD_JSON) : "Request body is empty");
        return -ERR_INVAL;
    }
    *e = RERR_BAD_REQUEST;
    const cJSON *model = json_get(j, "model");
    if (!cJSON_IsString(model) || !*model->valuestring) {
        snprintf(msg, len, "Missing required parameter: 'model'.");
        return -ERR_INVAL;
    }
    if (check_fields(j, legacy, msg, len) != 0)
        return -ERR_INVAL;
    pick_family(endpoint, model->valuestring, out);
    if (strcmp(out->family, "gemini") == 0 &&
        !gemini_model_ok(model->valuestring, sizeof(out->model))) {
        /* a gemini-api account puts the model in its URL (gemini.h) */
        snprintf(msg, len, "Invalid 'model': letters, digits, '.', '-' and '_' only.");
        return -ERR_INVAL;
    }
    snprintf(out->model, sizeof(out->model), "%s", model->valuestring);
    out->stream = json_bool(j, "stream", false);
    out->include_usage = json_bool(json_get(j, "stream_options"), "include_usage", false);
    out->user_turn = false; /* the user message queue is for Claude Code's turns */
    return 0;
}

static int chat_validate(struct reqctx *rq, const char *endpoint, struct format_request *out,
                         enum relay_err *e, char *msg, size_t len)
{
    return validate(rq, endpoint, false, out, e, msg, len);
}

static int legacy_validate(struct reqctx *rq, const char *endpoint, struct format_request *out,
                           enum relay_err *e, char *msg, size_t len)
{
    return validate(rq, endpoint, true, out, e, msg, len);
}

/* A committed chat stream that breaks: the error chunk OpenAI streams
 * carry (the SDK raises it as an APIError). */
static char *chat_error_frame(enum relay_err e, const char *msg)
{
    const char *type, *code;
    openai_err_kind(e, &type, &code);
    struct buf out;
    buf_init(&out, 4096);
    if (chat_out_error(msg ? msg : errors_message(e), type, &out) != 0) {
        buf_release(&out);
        return xstrdup("data: {\"error\":{\"message\":\"upstream error\"}}\n\n");
    }
    return buf_take(&out, NULL);
}

#define CHAT_FORMAT(fmt_name, validate_fn)                                                         \
    {                                                                                              \
        .name = fmt_name, .family = "claude", .service = KEY_SVC_CLAUDE, .service_name = "Claude", \
        .session = session_hash_openai, .validate = validate_fn, .reply_error = openai_err_reply,  \
        .render_error = openai_err_render, .render_upstream = openai_err_render_upstream,          \
        .error_frame = chat_error_frame, .reply_refusal = openai_err_reply_refusal,                \
        .render_refusal = openai_err_render_refusal,                                               \
    }

const struct client_format format_openai_chat = CHAT_FORMAT("openai-chat", chat_validate);
const struct client_format format_openai_completions =
    CHAT_FORMAT("openai-completions", legacy_validate);

/* ---- routes ---- */

static const struct relay_op op_chat = {&format_openai_chat, "chat/completions", true};
static const struct relay_op op_chat_claude = {&format_openai_chat, "claude/chat/completions",
                                               true};
static const struct relay_op op_chat_gemini = {&format_openai_chat, "gemini/chat/completions",
                                               true};
static const struct relay_op op_legacy = {&format_openai_completions, "completions", true};
static const struct relay_op op_legacy_claude = {&format_openai_completions, "claude/completions",
                                                 true};

static void h_chat(struct reqctx *rq)
{
    txn_start(rq, &op_chat);
}

static void h_chat_claude(struct reqctx *rq)
{
    txn_start(rq, &op_chat_claude);
}

static void h_chat_gemini(struct reqctx *rq)
{
    txn_start(rq, &op_chat_gemini);
}

static void h_legacy(struct reqctx *rq)
{
    txn_start(rq, &op_legacy);
}

static void h_legacy_claude(struct reqctx *rq)
{
    txn_start(rq, &op_legacy_claude);
}

static bool chat_inline_ok(struct reqctx *rq)
{
    return txn_inline_ok_for(rq, &format_openai_chat);
}

/* The Claude models as OpenAI lists them ({id, object: model, created,
 * owned_by}), the key's deny-list applied. */
static cJSON *model_json(const char *id, long long created, const char *owner)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)created);
    cJSON_AddStringToObject(m, "owned_by", owner);
    return m;
}

/* A model list of one pool: the route's (its models' ids and times). */
struct model_list {
    size_t (*count)(void);
    const char *(*at)(size_t i, long long *created);
    const char *owner;
    unsigned service; /* the permission the list needs; 0: any key */
};

static const char *gemini_at(size_t i, long long *created)
{
    *created = 0; /* the static Gemini list carries no release times */
    return gemini_model_at(i);
}

static const struct model_list claude_list = {anthropic_model_count, anthropic_model_at,
                                              "anthropic", 0};
static const struct model_list gemini_list = {gemini_model_count, gemini_at, "google",
                                              KEY_SVC_GEMINI};

/* The key, when it may list l's models; else the refusal was sent. */
static struct api_key *list_key(struct reqctx *rq, const struct model_list *l)
{
    struct api_key *k = txn_key_only(rq, &format_openai_chat);
    if (k && l->service && k->pol.services && !(k->pol.services & l->service)) {
        openai_err_reply(rq, RERR_FORBIDDEN,
                         "This API key does not have permission to access Gemini");
        keys_unref(k);
        return NULL;
    }
    return k;
}

static void models_of(struct reqctx *rq, const struct model_list *l)
{
    struct api_key *k = list_key(rq, l);
    if (!k)
        return;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (size_t i = 0; i < l->count(); i++) {
        long long created;
        const char *id = l->at(i, &created);
        if (!key_policy_model_denied(&k->pol, id))
            cJSON_AddItemToArray(data, model_json(id, created, l->owner));
    }
    reqctx_reply_json(rq, 200, root);
    keys_unref(k);
}

static void model_of(struct reqctx *rq, const struct model_list *l)
{
    struct api_key *k = list_key(rq, l);
    if (!k)
        return;
    const char *want = reqctx_param(rq, "model");
    for (size_t i = 0; want && i < l->count(); i++) {
        long long created;
        const char *id = l->at(i, &created);
        if (strcmp(id, want) == 0 && !key_policy_model_denied(&k->pol, id)) {
            reqctx_reply_json(rq, 200, model_json(id, created, l->owner));
            keys_unref(k);
            return;
        }
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "The model '%s' does not exist", want ? want : "");
    openai_err_reply(rq, RERR_MODEL_UNSUPPORTED, msg);
    keys_unref(k);
}

static void h_models(struct reqctx *rq)
{
    models_of(rq, &claude_list);
}

static void h_model(struct reqctx *rq)
{
    model_of(rq, &claude_list);
}

static void h_gemini_models(struct reqctx *rq)
{
    models_of(rq, &gemini_list);
}

static void h_gemini_model(struct reqctx *rq)
{
    model_of(rq, &gemini_list);
}

#define CHAT_ROUTE(path, fn)                                                                       \
    {                                                                                              \
        "POST", path, fn, AUTH_KEY, BODY_LARGE, chat_inline_ok                                     \
    }

const struct route openai_chat_routes[] = {
    CHAT_ROUTE("/openai/v1/chat/completions", h_chat),
    CHAT_ROUTE("/api/v1/chat/completions", h_chat),
    CHAT_ROUTE("/openai/claude/v1/chat/completions", h_chat_claude),
    CHAT_ROUTE("/openai/v1/completions", h_legacy),
    CHAT_ROUTE("/api/v1/completions", h_legacy),
    CHAT_ROUTE("/openai/claude/v1/completions", h_legacy_claude),
    {"GET", "/openai/claude/v1/models", h_models, AUTH_KEY, BODY_SMALL, NULL},
    {"GET", "/openai/claude/v1/models/:model", h_model, AUTH_KEY, BODY_SMALL, NULL},
    CHAT_ROUTE("/openai/gemini/v1/chat/completions", h_chat_gemini),
    {"GET", "/openai/gemini/v1/models", h_gemini_models, AUTH_KEY, BODY_SMALL, NULL},
    {"GET", "/openai/gemini/models", h_gemini_models, AUTH_KEY, BODY_SMALL, NULL},
    {"GET", "/openai/gemini/v1/models/:model", h_gemini_model, AUTH_KEY, BODY_SMALL, NULL},
    {0},
};
