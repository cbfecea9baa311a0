/*
 * openai_responses.c - OpenAI Responses accounts: any OpenAI-compatible
 * Responses upstream, an API key plus a base URL (crs-relay-spec 6.5,
 * account type "openai-responses"). The body is forwarded byte for byte
 * (except its "model" when supportedModels maps it); the client's allowed
 * headers are kept (hdrfilter_openai: never its Authorization); the
 * account's key goes as Authorization: Bearer.
 *
 * URL: a baseApi ending in /responses is the endpoint itself; one whose
 * last segment is an API version (v1, v1beta, v4, ...) gets /responses;
 * any other gets /v1/responses. The compact endpoint adds /compact.
 *
 * Reactions (crs-relay-spec 5.5), on the shared judge (upstream_judge.h):
 * a 429 cools the account until error.resets_in_seconds, else retry-after,
 * else its rateLimitDuration minutes (0: a 429 never marks it), else the
 * relay's TTL; 401 unauthorized, 403 blocked; 5xx and transport failures a
 * temporary error.
 */
#include "compat.h"
#include "accounts.h"
#include "config.h"
#include "errs.h"
#include "hdrfilter.h"
#include "json.h"
#include "models.h"
#include "provider.h"
#include "reqctx.h"
#include "upstream_judge.h"
#include "xmalloc.h"

#include <ctype.h>
#include <strings.h>

static const struct account_field responses_fields[] = {
    {"baseApi", FT_URL, FIELD_REQUIRED, NULL, 0, 2048, NULL},
    {"apiKey", FT_SECRET, FIELD_REQUIRED, NULL, 0, 4096, NULL},
    {"userAgent", FT_STR, 0, "", 0, 512, NULL},
    {"supportedModels", FT_JSON, 0, "[]", 0, 16384, models_check},
    {"rateLimitDuration", FT_INT, 0, "60", 0, 43200, NULL}, /* minutes */
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/* Is the last path segment of base an API version ("v1", "v1beta")? Only
 * the path counts: in https://v1.example.com the host is no version. */
static bool ends_in_version(const char *base, size_t len)
{
    const char *host = strstr(base, "://");
    const char *path = host ? memchr(host + 3, '/', len - (size_t)(host + 3 - base)) : base;
    const char *slash = path ? memrchr(path, '/', len - (size_t)(path - base)) : NULL;
    return slash && (slash[1] == 'v' || slash[1] == 'V') && isdigit((unsigned char)slash[2]);
}

static char *responses_url(const char *base, const char *endpoint)
{
    size_t len = strlen(base);
    const char *compact = strcmp(endpoint, "responses/compact") == 0 ? "/compact" : "";
    if (ends_with(base, len, "/responses"))
        return xasprintf("%s%s", base, compact);
    if (ends_in_version(base, len))
        return xasprintf("%s/responses%s", base, compact);
    return xasprintf("%s/v1/responses%s", base, compact);
}

static int responses_prepare(const struct account *acc, const struct upstream_call *call,
                             struct upstream_req *out)
{
    const char *ua = account_field(acc, "userAgent");
    const char *key = account_field(acc, "apiKey");
    if (!key || !*key)
        return -ERR_CRYPTO; /* sealed under a key this relay does not have */
    out->url = responses_url(account_field(acc, "baseApi"), call->endpoint);
    static const char *const skip_ua[] = {"user-agent", NULL};
    judge_copy_client_headers(call->rq, out, hdrfilter_openai, ua && *ua ? skip_ua : NULL);
    upstream_req_add(out, "Content-Type", "application/json");
    if (ua && *ua)
        upstream_req_add(out, "User-Agent", ua);
    else if (!reqctx_header(call->rq, "user-agent"))
        upstream_req_add(out, "User-Agent", "claude-relay");
    char *bearer = xasprintf("Bearer %s", key);
    upstream_req_add(out, "Authorization", bearer);
    memset(bearer, 0, strlen(bearer));
    free(bearer);
    return upstream_req_set_model(acc, call, out);
}

static bool responses_supports(const struct account *acc, const char *model)
{
    return models_match(account_json(acc, "supportedModels"), model, NULL);
}

static const char *responses_map(const struct account *acc, const char *model)
{
    const char *to = NULL;
    models_match(account_json(acc, "supportedModels"), model, &to);
    return to;
}

/* A 429's end in the upstream's own word: the body's resets_in_seconds /
 * resets_at, else retry-after; 0: none (judge_answer_limited falls back to
 * rateLimitDuration). */
static long long upstream_reset_ms(const struct judge *j, const struct upstream_answer *ans)
{
    long long t = judge_body_reset_ms(ans);
    return t ? t : judge_retry_after_ms(ans, j->cfg->ttl_max_custom_s);
}

static void responses_classify(const struct judge *j, const struct upstream_answer *ans,
                               struct verdict *v)
{
    judge_answer_limited(j, ans, ans->status == 429 ? upstream_reset_ms(j, ans) : 0, v);
}

const struct provider provider_openai_responses = {
    .name = "openai-responses",
    .family = "openai",
    .record_prefix = "openai_responses_account",
    .admin_path = "openai-responses-accounts",
    .fields = responses_fields,
    .nfields = ARRAY_SIZE(responses_fields),
    .prepare = responses_prepare,
    .supports_model = responses_supports,
    .map_model = responses_map,
    .classify = responses_classify,
    .keep_header = judge_keep_openai_header,
    .usage_event = usage_from_responses_event,
    .usage_body = usage_from_responses_body,
};
