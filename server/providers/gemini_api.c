/*
 * gemini_api.c - Gemini API accounts: an API key plus a base URL
 * (crs-relay-spec 6.7, account type "gemini-api", family "gemini").
 *
 * URL (6.7): a baseUrl holding {model} / {action} is a template; one ending
 * in /models gets /<model>:<action>; any other /v1beta/models/<model>:<action>.
 * No baseUrl: GEMINI_API_URL. A stream keeps the client's framing: alt=sse
 * when it asked for SSE, else Gemini's streamed JSON array. The key travels
 * in x-goog-api-key, never in the URL (the original's ?key= put it in
 * every proxy's and upstream's access log).
 *
 * Body: as sent, except functionResponse.id, which the original strips
 * because the API refuses it where it does not know the field (a 400
 * "Unknown name \"id\""), and which Gemini CLI sends; the body is re-printed
 * only when one is there.
 *
 * Reactions (5.5) on the shared judge: 429 rate limited until retry-after,
 * else the body's RetryInfo retryDelay, else rateLimitDuration minutes (0:
 * never marked), else RATE_LIMIT_TTL; 401 unauthorized, 403 blocked, and a
 * 400 API_KEY_INVALID (Google's answer to a bad key) unauthorized too; 5xx
 * and transport failures a temporary error; other 4xx are the client's.
 */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "gemini_api.h"
#include "hdrfilter.h"
#include "json.h"
#include "models.h"
#include "provider.h"
#include "reqctx.h"
#include "upstream_judge.h"
#include "xmalloc.h"

#include <strings.h>

#define SEC 1000LL
#define DELAY_MAX_S (7LL * 24 * 3600) /* a retryDelay further out is not believed */

static const struct account_field gemini_api_fields[] = {
    {"apiKey", FT_SECRET, FIELD_REQUIRED, NULL, 0, 4096, NULL},
    {"baseUrl", FT_URL, 0, "", 0, 2048, NULL},
    {"supportedModels", FT_JSON, 0, "[]", 0, 16384, models_check},
    {"rateLimitDuration", FT_INT, 0, "60", 0, 43200, NULL}, /* minutes */
};

/* The upstream method of a relay endpoint. */
static const char *gemini_action(const char *endpoint)
{
    return strcmp(endpoint, "count_tokens") == 0 ? "countTokens" : endpoint;
}

/* Replace every "{name}" in tmpl by value. */
static char *fill(const char *tmpl, const char *name, const char *value)
{
    const char *at = strstr(tmpl, name);
    if (!at)
        return xstrdup(tmpl);
    char *rest = fill(at + strlen(name), name, value);
    char *s = xasprintf("%.*s%s%s", (int)(at - tmpl), tmpl, value, rest);
    free(rest);
    return s;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

char *gemini_api_url(const char *base, const char *model, const char *endpoint, bool sse)
{
    const char *action = gemini_action(endpoint);
    const char *query = sse ? "?alt=sse" : "";
    if (strstr(base, "{model}") || strstr(base, "{action}")) {
        char *m = fill(base, "{model}", model);
        char *url = fill(m, "{action}", action);
        free(m);
        char *out =
            sse ? xasprintf("%s%s%s", url, strchr(url, '?') ? "&" : "?", "alt=sse") : xstrdup(url);
        free(url);
        return out;
    }
    if (ends_with(base, "/models"))
        return xasprintf("%s/%s:%s%s", base, model, action, query);
    return xasprintf("%s/v1beta/models/%s:%s%s", base, model, action, query);
}

/* Drop functionResponse.id from every part; true when one was there. */
static bool strip_response_ids(cJSON *body)
{
    bool found = false;
    const cJSON *content, *part;
    cJSON_ArrayForEach(content, cJSON_GetObjectItemCaseSensitive(body, "contents"))
    {
        cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(content, "parts"))
        {
            cJSON *fr = cJSON_GetObjectItemCaseSensitive(part, "functionResponse");
            if (cJSON_IsObject(fr) && cJSON_GetObjectItemCaseSensitive(fr, "id")) {
                cJSON_DeleteItemFromObjectCaseSensitive(fr, "id");
                found = true;
            }
        }
    }
    return found;
}

/* A copy of the body without functionResponse ids, only when it has some
 * (the parsed body is shared: the copy is changed, never it). */
static void shape_body(const struct upstream_call *call, struct upstream_req *out)
{
    if (!memmem(call->body, call->body_len, "functionResponse", 16))
        return;
    cJSON *j = json_parse(call->body, call->body_len, JSON_MAX_DEPTH, true);
    if (cJSON_IsObject(j) && strip_response_ids(j)) {
        out->body = json_print(j);
        out->body_len = strlen(out->body);
    }
    cJSON_Delete(j);
}

static bool gemini_header_ok(const char *name)
{
    static const char *const allow[] = {"accept", "accept-language", "user-agent",
                                        "x-goog-api-client", "x-server-timeout"};
    if (hdrfilter_hop_by_hop(name))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(allow); i++)
        if (strcasecmp(name, allow[i]) == 0)
            return true;
    return false;
}

static const char *gemini_api_map(const struct account *acc, const char *model)
{
    const char *to = NULL;
    models_match(account_json(acc, "supportedModels"), model, &to);
    return to;
}

static int gemini_api_prepare(const struct account *acc, const struct upstream_call *call,
                              struct upstream_req *out)
{
    const char *key = account_field(acc, "apiKey");
    if (!key || !*key)
        return -ERR_CRYPTO; /* sealed under a key this relay does not have */
    const char *base = account_field(acc, "baseUrl");
    if (!base || !*base)
        base = reqctx_app(call->rq)->cfg->gemini_api_url;
    const char *to = call->model[0] ? gemini_api_map(acc, call->model) : NULL;
    const char *alt = reqctx_query(call->rq, "alt");
    bool sse = strcmp(call->endpoint, "streamGenerateContent") == 0 &&
               (call->converted || (alt && strcasecmp(alt, "sse") == 0));
    out->url = gemini_api_url(base, to ? to : call->model, call->endpoint, sse);
    judge_copy_client_headers(call->rq, out, gemini_header_ok, NULL);
    upstream_req_add(out, "Content-Type", "application/json");
    upstream_req_add(out, "x-goog-api-key", key);
    shape_body(call, out);
    return 0;
}

static bool gemini_api_supports(const struct account *acc, const char *model)
{
    return models_match(account_json(acc, "supportedModels"), model, NULL);
}

/* error.details[].retryDelay ("32s") of a 429 body, in wall-clock ms; 0: none. */
static long long retry_delay_ms(const struct upstream_answer *ans)
{
    cJSON *j = ans->body_len ? json_parse(ans->body, ans->body_len, 8, true) : NULL;
    const cJSON *d;
    long long secs = 0;
    cJSON_ArrayForEach(d, json_get(json_get(j, "error"), "details"))
    {
        const char *delay = json_str(d, "retryDelay", NULL);
        if (delay && !secs)
            secs = strtoll(delay, NULL, 10);
    }
    cJSON_Delete(j);
    return secs > 0 && secs <= DELAY_MAX_S ? ans->now_ms + secs * SEC : 0;
}

/* A 429's end in the upstream's own word: retry-after, else the body's
 * RetryInfo; 0: none (judge_answer_limited falls back to
 * rateLimitDuration). */
static long long upstream_reset_ms(const struct judge *j, const struct upstream_answer *ans)
{
    long long t = judge_retry_after_ms(ans, j->cfg->ttl_max_custom_s);
    return t ? t : retry_delay_ms(ans);
}

static void gemini_api_classify(const struct judge *j, const struct upstream_answer *ans,
                                struct verdict *v)
{
    static const char *const bad_key[] = {"API_KEY_INVALID", "API key not valid", NULL};
    judge_answer_limited(j, ans, ans->status == 429 ? upstream_reset_ms(j, ans) : 0, v);
    if (ans->status == 400 && judge_body_mentions(ans, bad_key)) {
        v->action = VERDICT_RETRY; /* the account's key, not the client's request */
        v->mark = ACC_UNAUTHORIZED;
        v->until_ms = 0;
    }
}

static bool gemini_api_keep_header(const char *name)
{
    static const char *const keep[] = {"content-type", "retry-after", "x-request-id"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        if (strcasecmp(name, keep[i]) == 0)
            return true;
    return false;
}

/* The standard Gemini API only: Code Assist (v1internal:*) needs OAuth. */
static bool gemini_api_serves(const char *endpoint)
{
    static const char *const standard[] = {"generateContent", "streamGenerateContent",
                                           "count_tokens"};
    for (size_t i = 0; i < ARRAY_SIZE(standard); i++)
        if (strcmp(endpoint, standard[i]) == 0)
            return true;
    return false;
}

const struct provider provider_gemini_api = {
    .name = "gemini-api",
    .family = "gemini",
    .record_prefix = "gemini_api_account",
    .admin_path = "gemini-api-accounts",
    .fields = gemini_api_fields,
    .nfields = ARRAY_SIZE(gemini_api_fields),
    .prepare = gemini_api_prepare,
    .supports_model = gemini_api_supports,
    .map_model = gemini_api_map,
    .classify = gemini_api_classify,
    .keep_header = gemini_api_keep_header,
    .usage_event = usage_from_gemini_event,
    .usage_body = usage_from_gemini_body,
    .serves = gemini_api_serves,
};
