/*
 * claude_console.c - Claude Console accounts: an Anthropic-compatible base
 * URL plus an API key (crs-relay-spec 6.2). The body is forwarded byte for
 * byte, except its "model" when the account's supportedModels maps it; the
 * client's allowed headers are kept; the account's key replaces the
 * client's (x-api-key for sk-ant- keys, Bearer otherwise).
 *
 * Reactions (crs-relay-spec 5.4) are the shared Anthropic ones, plus: a 429
 * without a reset header cools the account for its rateLimitDuration
 * minutes (0: a 429 never marks it), and a 400 saying the account or its
 * organisation is disabled blocks it and moves the request on.
 */
#include "compat.h"
#include "accounts.h"
#include "anthropic_upstream.h"
#include "config.h"
#include "errs.h"
#include "models.h"
#include "provider.h"
#include "reqctx.h"
#include "xmalloc.h"

#define DEFAULT_VERSION "2023-06-01"
#define MINUTE_MS 60000LL

static const struct account_field console_fields[] = {
    {"apiUrl", FT_URL, FIELD_REQUIRED, NULL, 0, 2048, NULL},
    {"apiKey", FT_SECRET, FIELD_REQUIRED, NULL, 0, 4096, NULL},
    {"userAgent", FT_STR, 0, "", 0, 512, NULL},
    {"supportedModels", FT_JSON, 0, "[]", 0, 16384, models_check},
    {"rateLimitDuration", FT_INT, 0, "60", 0, 43200, NULL},                /* minutes */
    {"countTokensUnavailable", FT_BOOL, FIELD_READONLY, NULL, 0, 0, NULL}, /* learnt: a 404 */
};

/* What a count_tokens call gets from an account without the endpoint. */
#define NO_COUNT_TOKENS "{\"input_tokens\":0}"

/* A 400 with one of these is the account's fault, not the request's. */
static const char *const blocked_phrases[] = {
    "organization has been disabled",
    "account has been disabled",
    "account is disabled",
    "no account supporting",
    "account not found",
    "invalid account",
    "too many active sessions",
    NULL,
};

static char *console_url(const char *base, const char *endpoint)
{
    size_t len = strlen(base);
    const char *suffix = "/v1/messages";
    size_t slen = strlen(suffix);
    /* A base that already ends in /v1/messages is used as the messages URL. */
    if (len >= slen && strcmp(base + len - slen, suffix) == 0)
        len -= slen;
    if (strcmp(endpoint, "count_tokens") == 0)
        return xasprintf("%.*s/v1/messages/count_tokens", (int)len, base);
    return xasprintf("%.*s/v1/messages", (int)len, base);
}

static void add_credential(struct upstream_req *out, const char *key)
{
    if (strncmp(key, "sk-ant-", 7) == 0) {
        upstream_req_add(out, "x-api-key", key);
        return;
    }
    char *bearer = xasprintf("Bearer %s", key);
    upstream_req_add(out, "Authorization", bearer);
    memset(bearer, 0, strlen(bearer));
    free(bearer);
}

static int console_prepare(const struct account *acc, const struct upstream_call *call,
                           struct upstream_req *out)
{
    const struct reqctx *rq = call->rq;
    const char *ua = account_field(acc, "userAgent");
    const char *key = account_field(acc, "apiKey");
    if (strcmp(call->endpoint, "count_tokens") == 0 &&
        account_flag(acc, "countTokensUnavailable")) {
        out->local_status = 200; /* the original's answer: counting is optional for clients */
        out->local_body = xstrdup(NO_COUNT_TOKENS);
        return 0;
    }
    if (!key || !*key)
        return -ERR_CRYPTO; /* sealed under a key this relay does not have */
    out->url = console_url(account_field(acc, "apiUrl"), call->endpoint);
    static const char *const skip_ua[] = {"user-agent", NULL};
    anthropic_copy_client_headers(rq, out, ua && *ua ? skip_ua : NULL);
    upstream_req_add(out, "Content-Type", "application/json");
    if (!reqctx_header(rq, "anthropic-version"))
        upstream_req_add(out, "anthropic-version", DEFAULT_VERSION);
    if (ua && *ua)
        upstream_req_add(out, "User-Agent", ua);
    else if (!reqctx_header(rq, "user-agent"))
        upstream_req_add(out, "User-Agent", "claude-relay");
    add_credential(out, key);
    return upstream_req_set_model(acc, call, out);
}

static bool console_supports(const struct account *acc, const char *model)
{
    return models_match(account_json(acc, "supportedModels"), model, NULL);
}

static const char *console_map(const struct account *acc, const char *model)
{
    const char *to = NULL;
    models_match(account_json(acc, "supportedModels"), model, &to);
    return to;
}

/* 429: the upstream's reset wins; else the account's rateLimitDuration (a
 * record without one: the relay's TTL); 0 never marks, the request still
 * moves on. */
static void console_rate_limited(const struct judge *j, const struct upstream_answer *ans,
                                 struct verdict *v)
{
    const char *d = account_field(j->acc, "rateLimitDuration");
    if (!d || !*d)
        return;
    long long min = strtoll(d, NULL, 10);
    if (min <= 0) {
        v->mark = ACC_ACTIVE;
        v->until_ms = 0;
    } else if (!anthropic_reset_ms(ans, j->cfg->ttl_max_custom_s)) {
        v->until_ms = ans->now_ms + min * MINUTE_MS;
    }
}

/* 400 naming a disabled account: blocked until an admin reset, or for
 * CLAUDE_CONSOLE_BLOCKED_HANDLING_MINUTES when set. */
static void console_blocked(const struct judge *j, const struct upstream_answer *ans,
                            struct verdict *v)
{
    const char *hit = anthropic_body_mentions(ans, blocked_phrases);
    if (!hit)
        return;
    long long min = j->cfg->console_blocked_min;
    v->action = VERDICT_RETRY;
    v->mark = ACC_BLOCKED;
    v->until_ms = min > 0 ? ans->now_ms + min * MINUTE_MS : 0;
    if (!strchr(v->reason, ':')) /* no error message to show: the phrase found */
        snprintf(v->reason, sizeof(v->reason), "400: %s", hit);
}

static void console_classify(const struct judge *j, const struct upstream_answer *ans,
                             struct verdict *v)
{
    anthropic_classify(j, ans, v);
    if (ans->status == 429)
        console_rate_limited(j, ans, v);
    else if (ans->status == 400)
        console_blocked(j, ans, v);
    else if (ans->status == 404 && strcmp(j->endpoint, "count_tokens") == 0)
        v->learn = "countTokensUnavailable"; /* this one passes; later ones are answered here */
}

const struct provider provider_claude_console = {
    .name = "claude-console",
    .family = "claude",
    .record_prefix = "claude_console_account",
    .admin_path = "claude-console-accounts",
    .fields = console_fields,
    .nfields = ARRAY_SIZE(console_fields),
    .prepare = console_prepare,
    .supports_model = console_supports,
    .map_model = console_map,
    .classify = console_classify,
    .keep_header = anthropic_keep_header,
    .usage_event = usage_from_anthropic_event,
    .usage_body = usage_from_anthropic_body,
};
