/*
 * claude_console.c - Claude Console accounts: an Anthropic-compatible base
 * URL plus an API key (crs-relay-spec 6.2). The body is forwarded byte for
 * byte; the client's allowed headers are kept; the account's key replaces
 * the client's (x-api-key for sk-ant- keys, Bearer otherwise).
 */
#include "compat.h"
#include "accounts.h"
#include "anthropic_upstream.h"
#include "errs.h"
#include "provider.h"
#include "reqctx.h"
#include "xmalloc.h"

#define DEFAULT_VERSION "2023-06-01"

static const struct account_field console_fields[] = {
    {"apiUrl", FT_URL, FIELD_REQUIRED, NULL, 0, 2048},
    {"apiKey", FT_SECRET, FIELD_REQUIRED, NULL, 0, 4096},
    {"userAgent", FT_STR, 0, "", 0, 512},
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
    return 0;
}

const struct provider provider_claude_console = {
    .name = "claude-console",
    .family = "claude",
    .record_prefix = "claude_console_account",
    .admin_path = "claude-console-accounts",
    .fields = console_fields,
    .nfields = ARRAY_SIZE(console_fields),
    .prepare = console_prepare,
    .classify = anthropic_classify,
    .keep_header = anthropic_keep_header,
    .usage_event = usage_from_anthropic_event,
    .usage_body = usage_from_anthropic_body,
};
