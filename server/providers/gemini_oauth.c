/*
 * gemini_oauth.c - Gemini accounts holding Google OAuth tokens (account
 * type "gemini", crs-relay-spec 0, 6.7, 9.2): the Code Assist API
 * GEMINI_CODE_ASSIST_URL/v1internal:<method> with Authorization: Bearer
 * <accessToken>. Gemini CLI in Code Assist mode speaks this API itself
 * (formats/gemini_code_assist.c), so the body passes as sent except its
 * project.
 *
 * DESIGN: the project rule. A Code Assist body names the Google Cloud
 * project it runs in; the client learnt it from whichever account answered
 * its loadCodeAssist, and a later request may land on another account. So
 * the body's project (top-level "project"; loadCodeAssist's and
 * onboardUser's "cloudaicompanionProject" and metadata.duetProject) is set
 * to the serving account's projectId, else its tempProjectId. An account
 * with neither learns one from the first loadCodeAssist answer it gives
 * (cloudaicompanionProject; onboardUser's response.cloudaicompanionProject.id):
 * the learn_body hook reads it off the committed body on the upstream loop,
 * the transaction writes it to the record once (marks_learn_text: one
 * patch on a worker, then the snapshot reload everywhere). No side call,
 * no thread waiting, no Redis per request. Until then such an account
 * passes the client's own project unchanged (the client asks loadCodeAssist
 * first, so on one account that is the account's).
 *
 * DESIGN: the envelope. The standard Gemini endpoints (generateContent,
 * streamGenerateContent, count_tokens; also what the chat conversion
 * sends) are served too: prepare wraps the body as Code Assist takes it
 * ({model, project, user_prompt_id, request}; countTokens {request:
 * {model: "models/<m>", contents}}) with the account's project, and the
 * provider's reshapes/unwrap pair has the transaction unwrap every answer
 * and every stream chunk from {"response": ...} before the client, or a
 * conversion, sees it. A stream keeps the client's framing: ?alt=sse (and
 * any conversion) asks Code Assist for SSE, otherwise for its JSON array,
 * whose elements are unwrapped one by one. Usage is read from the wrapped
 * answer (usage_gemini.c knows both shapes).
 *
 * Token refresh and the PKCE flow are the shared OAuth machinery's (kind
 * oauth_google, oauth_kinds.c; not here). When a token is unusable is the
 * shared rule too (token_expired = token_refresh_dead: past expiresAt,
 * less 10 s, with no refresh token - the scheduler skips it).
 *
 * Reactions (crs-relay-spec 5.5, on the shared judge): 429 cools the
 * account until the answer's RetryInfo retryDelay, else retry-after, else
 * its rateLimitDuration minutes (0: never marked), else RATE_LIMIT_TTL;
 * 401 and 403 cool it for the original's auth TTL (a Google token goes
 * stale and comes back after a refresh: not a permanent mark); 5xx and
 * transport failures a temporary error; other 4xx are the client's.
 */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "gemini_envelope.h"
#include "gemini_oauth.h"
#include "json.h"
#include "oauth_kind.h"
#include "provider.h"
#include "reqctx.h"
#include "token_refresh.h"
#include "upstream_judge.h"
#include "xmalloc.h"

#include <ctype.h>
#include <strings.h>

#define SEC 1000LL
#define AUTH_COOLDOWN_MS (1800LL * SEC) /* crs-relay-spec 5.1: auth_error TTL */
#define RETRY_DELAY_MAX_S (24LL * 3600)
#define PROJECT_MAX 200

static const struct account_field gemini_fields[] = {
    {"accessToken", FT_SECRET, FIELD_REQUIRED, NULL, 0, 8192, NULL},
    {"refreshToken", FT_SECRET, 0, NULL, 0, 8192, NULL},
    {"expiresAt", FT_INT, 0, "0", 0, 253402300799999LL, NULL}, /* ms epoch; 0: unknown */
    {"scopes", FT_STR, 0, "", 0, 1000, NULL},
    {"lastRefreshAt", FT_STR, FIELD_READONLY, "", 0, 40, NULL},
    {"projectId", FT_STR, 0, "", 0, PROJECT_MAX, NULL},
    /* learnt from loadCodeAssist when projectId is empty (the DESIGN note) */
    {"tempProjectId", FT_STR, FIELD_READONLY, "", 0, PROJECT_MAX, NULL},
    {"rateLimitDuration", FT_INT, 0, "60", 0, 43200, NULL}, /* minutes */
};

/* The account's project: projectId, else the learnt tempProjectId; NULL. */
static const char *account_project(const struct account *acc)
{
    const char *p = account_field(acc, "projectId");
    if (p && *p)
        return p;
    p = account_field(acc, "tempProjectId");
    return p && *p ? p : NULL;
}

static bool is_setup_call(const char *endpoint)
{
    return strcmp(endpoint, "v1internal:loadCodeAssist") == 0 ||
           strcmp(endpoint, "v1internal:onboardUser") == 0;
}

/* Answers that may name the account's project: the setup calls and the
 * poll of onboardUser's operation (getOperation, done: true). */
static bool names_project(const char *endpoint)
{
    return is_setup_call(endpoint) || strcmp(endpoint, "v1internal:getOperation") == 0;
}

/* Set body[name] to project when it is absent or another (true: changed). */
static bool set_project(cJSON *obj, const char *name, const char *project)
{
    const cJSON *cur = cJSON_GetObjectItem(obj, name);
    if (cJSON_IsString(cur) && strcmp(cur->valuestring, project) == 0)
        return false;
    cJSON_DeleteItemFromObject(obj, name);
    cJSON_AddStringToObject(obj, name, project);
    return true;
}

/* The body with the account's project (see the DESIGN note); out->body
 * stays NULL (sent as is) when nothing changes. countTokens carries none. */
static void apply_project(const struct account *acc, const struct upstream_call *call,
                          struct upstream_req *out)
{
    const char *project = account_project(acc);
    if (!project || strcmp(call->endpoint, "v1internal:countTokens") == 0 ||
        strcmp(call->endpoint, "v1internal:getOperation") == 0)
        return;
    cJSON *body = json_parse(call->body, call->body_len, JSON_MAX_DEPTH, true);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return;
    }
    bool changed;
    if (is_setup_call(call->endpoint)) {
        changed = set_project(body, "cloudaicompanionProject", project);
        cJSON *meta = cJSON_GetObjectItem(body, "metadata");
        if (cJSON_IsObject(meta) && cJSON_GetObjectItem(meta, "duetProject"))
            changed |= set_project(meta, "duetProject", project);
    } else {
        changed = set_project(body, "project", project);
    }
    if (changed) {
        out->body = json_print(body);
        out->body_len = strlen(out->body);
    }
    cJSON_Delete(body);
}

/* The client's headers Google may see: its identity, nothing that carries
 * the relay key (Authorization, x-goog-api-key) or cookies. */
static bool gemini_client_header(const char *name)
{
    static const char *const allow[] = {"user-agent", "x-goog-api-client", "accept",
                                        "accept-language"};
    for (size_t i = 0; i < ARRAY_SIZE(allow); i++)
        if (strcasecmp(name, allow[i]) == 0)
            return true;
    return false;
}

/* getOperation is GET <base>/v1internal/operations/<id> (the format checked
 * the id), every other method POST <base>/v1internal:<method>. */
static char *gemini_url(const struct upstream_call *call, const char *base)
{
    if (strcmp(call->endpoint, "v1internal:getOperation") == 0)
        return xasprintf("%s/v1internal/operations/%s", base, reqctx_param(call->rq, "op"));
    const char *sse =
        strcmp(call->endpoint, "v1internal:streamGenerateContent") == 0 ? "?alt=sse" : "";
    return xasprintf("%s/%s%s", base, call->endpoint, sse); /* "v1internal:<method>" */
}

/* A standard Gemini endpoint (the gemini format's, the chat conversion's):
 * served through the Code Assist envelope (the DESIGN note on it). */
static bool is_standard(const char *endpoint)
{
    return strcmp(endpoint, "generateContent") == 0 ||
           strcmp(endpoint, "streamGenerateContent") == 0 || strcmp(endpoint, "count_tokens") == 0;
}

/* Code Assist's own methods, and the standard API's through the envelope. */
static bool gemini_serves(const char *endpoint)
{
    return strncmp(endpoint, "v1internal:", 11) == 0 || is_standard(endpoint);
}

/* countTokens answers {totalTokens} unwrapped: only the content calls
 * answer in the envelope. */
static bool gemini_reshapes(const char *endpoint)
{
    return strcmp(endpoint, "generateContent") == 0 ||
           strcmp(endpoint, "streamGenerateContent") == 0;
}

/* The Code Assist method of a standard endpoint. */
static const char *standard_method(const char *endpoint)
{
    return strcmp(endpoint, "count_tokens") == 0 ? "countTokens" : endpoint;
}

/* A stream in the framing the client reads: SSE for ?alt=sse and for a
 * conversion, else the JSON array (the stream's filter unwraps each
 * element of either). */
static bool standard_sse(const struct upstream_call *call)
{
    const char *alt = reqctx_query(call->rq, "alt");
    return call->converted || (alt && strcasecmp(alt, "sse") == 0);
}

/* countTokens takes {request: {model: "models/<m>", contents}}; the
 * client may have sent its contents inside generateContentRequest. */
static cJSON *count_body(cJSON *body, const char *model)
{
    cJSON *inner = cJSON_CreateObject();
    char name[160];
    snprintf(name, sizeof(name), "models/%s", model);
    cJSON_AddStringToObject(inner, "model", name);
    cJSON *gcr = cJSON_GetObjectItem(body, "generateContentRequest");
    cJSON *contents = cJSON_DetachItemFromObject(cJSON_IsObject(gcr) ? gcr : body, "contents");
    cJSON_AddItemToObject(inner, "contents", contents ? contents : cJSON_CreateArray());
    cJSON_Delete(body);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "request", inner);
    return o;
}

/* A standard request as Code Assist takes it: URL and the wrapped body,
 * with the serving account's project (the project rule). */
static int wrap_standard(const struct account *acc, const struct upstream_call *call,
                         const char *base, struct upstream_req *out)
{
    cJSON *body = json_parse(call->body, call->body_len, JSON_MAX_DEPTH, true);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return -ERR_INVAL; /* the format validated it: not reached */
    }
    bool stream = strcmp(call->endpoint, "streamGenerateContent") == 0;
    out->url = xasprintf("%s/v1internal:%s%s", base, standard_method(call->endpoint),
                         stream && standard_sse(call) ? "?alt=sse" : "");
    cJSON *o =
        strcmp(call->endpoint, "count_tokens") == 0
            ? count_body(body, call->model)
            : gemini_envelope_wrap(body, call->model, account_project(acc), reqctx_id(call->rq));
    out->body = json_print(o);
    out->body_len = strlen(out->body);
    cJSON_Delete(o);
    return 0;
}

static int gemini_prepare(const struct account *acc, const struct upstream_call *call,
                          struct upstream_req *out)
{
    const char *token = account_field(acc, "accessToken");
    if (!token || !*token)
        return -ERR_CRYPTO; /* sealed under a key this relay does not have */
    const char *base = reqctx_app(call->rq)->cfg->gemini_code_assist_url;
    bool standard = is_standard(call->endpoint);
    if (standard && wrap_standard(acc, call, base, out) != 0)
        return -ERR_INVAL;
    if (!standard)
        out->url = gemini_url(call, base);
    if (strcmp(call->endpoint, "v1internal:getOperation") == 0)
        out->method = "GET";
    judge_copy_client_headers(call->rq, out, gemini_client_header, NULL);
    upstream_req_add(out, "Content-Type", "application/json");
    if (!reqctx_header(call->rq, "user-agent"))
        upstream_req_add(out, "User-Agent", "claude-relay");
    char *bearer = xasprintf("Bearer %s", token);
    upstream_req_add(out, "Authorization", bearer);
    memset(bearer, 0, strlen(bearer));
    free(bearer);
    if (!standard)
        apply_project(acc, call, out);
    return 0;
}

/* "30s" / "1.5s" (a protobuf Duration in JSON) in seconds, rounded up; 0. */
static long long duration_s(const char *d)
{
    char *end = NULL;
    double s = d ? strtod(d, &end) : 0;
    if (!end || end == d || strcmp(end, "s") != 0 || s <= 0 || s > RETRY_DELAY_MAX_S)
        return 0;
    long long whole = (long long)s;
    return whole + (s > (double)whole ? 1 : 0);
}

/* The google.rpc.RetryInfo of a 429's error.details, in wall-clock ms; 0. */
static long long retry_info_ms(const struct upstream_answer *ans)
{
    cJSON *j = ans->body_len ? json_parse(ans->body, ans->body_len, 8, true) : NULL;
    const cJSON *o = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : j;
    const cJSON *it;
    long long secs = 0;
    cJSON_ArrayForEach(it, json_get(json_get(o, "error"), "details"))
    {
        if (strstr(json_str(it, "@type", ""), "google.rpc.RetryInfo"))
            secs = duration_s(json_str(it, "retryDelay", NULL));
    }
    cJSON_Delete(j);
    return secs > 0 ? ans->now_ms + secs * SEC : 0;
}

/* A 429's end in the upstream's own word: the body's RetryInfo, else
 * retry-after; 0: none (judge_answer_limited falls back to
 * rateLimitDuration). */
static long long upstream_reset_ms(const struct judge *j, const struct upstream_answer *ans)
{
    long long t = retry_info_ms(ans);
    return t ? t : judge_retry_after_ms(ans, j->cfg->ttl_max_custom_s);
}

static void gemini_classify(const struct judge *j, const struct upstream_answer *ans,
                            struct verdict *v)
{
    judge_answer_limited(j, ans, ans->status == 429 ? upstream_reset_ms(j, ans) : 0, v);
    if (ans->status == 401 || ans->status == 403) {
        v->action = VERDICT_RETRY;
        v->mark = ACC_TEMP_ERROR;
        v->until_ms = ans->now_ms + AUTH_COOLDOWN_MS;
    }
}

static bool gemini_keep_header(const char *name)
{
    static const char *const keep[] = {"content-type", "retry-after", "x-cloudaicompanion-trace-id",
                                       "server-timing"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        if (strcasecmp(name, keep[i]) == 0)
            return true;
    return false;
}

/* A project id as Google spells them (letters, digits, - . : _), else none. */
static bool project_ok(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n > PROJECT_MAX)
        return false;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-.:_", *p))
            return false;
    return true;
}

/* loadCodeAssist names the project as a string; onboardUser's operation
 * as response.cloudaicompanionProject.id. */
static const char *answered_project(const cJSON *j)
{
    const cJSON *p = json_get(j, "cloudaicompanionProject");
    if (cJSON_IsString(p))
        return p->valuestring;
    p = json_get(json_get(j, "response"), "cloudaicompanionProject");
    return json_str(p, "id", NULL);
}

bool gemini_answered_project(const char *body, size_t len, char *value, size_t vlen)
{
    cJSON *j = json_parse(body, len, 16, true);
    const char *p = answered_project(j);
    bool ok = project_ok(p) && strlen(p) < vlen;
    if (ok)
        snprintf(value, vlen, "%s", p);
    cJSON_Delete(j);
    return ok;
}

static const char *gemini_learn_body(const struct account *acc, const char *endpoint,
                                     const char *body, size_t len, char *value, size_t vlen)
{
    if (!names_project(endpoint) || account_project(acc))
        return NULL;
    return gemini_answered_project(body, len, value, vlen) ? "tempProjectId" : NULL;
}

const struct provider provider_gemini_oauth = {
    .name = "gemini",
    .family = "gemini",
    .record_prefix = "gemini_account",
    .admin_path = "gemini-accounts",
    .fields = gemini_fields,
    .nfields = ARRAY_SIZE(gemini_fields),
    .prepare = gemini_prepare,
    .classify = gemini_classify,
    .keep_header = gemini_keep_header,
    .usage_event = usage_from_gemini_event,
    .usage_body = usage_from_gemini_body,
    .token_expired = token_refresh_dead, /* the shared expiry rule, not a copy */
    .learn_body = gemini_learn_body,
    .oauth = &oauth_google,
    .serves = gemini_serves,
    .reshapes = gemini_reshapes,
    .unwrap = gemini_envelope_unwrap_text,
};
