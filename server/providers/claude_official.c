/*
 * claude_official.c - Claude subscription accounts (crs-relay-spec 0.1, 6.1):
 * an OAuth access token used as `Authorization: Bearer`, with the
 * `oauth-2025-04-20` beta the API requires for such tokens. The tokens come
 * from the PKCE flow (server/admin/claude_oauth_admin.c) and are renewed
 * before they expire by server/store/token_refresh.c; the body is forwarded
 * byte for byte and the client's allowed headers kept, as for Console.
 *
 * DESIGN: what the spec's original does beyond this (system prompt rewrite,
 * tool-name obfuscation, stored Claude Code headers) is not done: the relay
 * forwards what the client sent.
 */
#include "compat.h"
#include "accounts.h"
#include "anthropic_upstream.h"
#include "app.h"
#include "buf.h"
#include "config.h"
#include "errs.h"
#include "hdrfilter.h"
#include "provider.h"
#include "reqctx.h"
#include "xmalloc.h"

#include <strings.h>

#define DEFAULT_VERSION "2023-06-01"
#define DEFAULT_UA "claude-cli/1.0.119 (external, cli)"
#define OAUTH_BETA "oauth-2025-04-20"
#define BETA_MAX 2048

static const struct account_field official_fields[] = {
    {"accessToken", FT_SECRET, FIELD_REQUIRED, NULL, 0, 8192, NULL},
    {"refreshToken", FT_SECRET, 0, NULL, 0, 8192, NULL},
    {"expiresAt", FT_INT, 0, "0", 0, 253402300799999LL, NULL}, /* ms epoch; 0: unknown */
    {"scopes", FT_STR, 0, "", 0, 1000, NULL},
    {"organization", FT_STR, FIELD_READONLY, "", 0, 200, NULL}, /* from the token answer */
    {"lastRefreshAt", FT_STR, FIELD_READONLY, "", 0, 40, NULL},
};

static char *official_url(const char *base, const char *endpoint)
{
    if (strcmp(endpoint, "count_tokens") == 0)
        return xasprintf("%s/v1/messages/count_tokens?beta=true", base);
    return xasprintf("%s/v1/messages?beta=true", base);
}

/* Add token (length n) to the comma-separated list in b unless present. */
static void beta_add(struct buf *b, const char *token, size_t n)
{
    if (n == 0 || n > 200)
        return;
    char one[201];
    snprintf(one, sizeof(one), "%.*s", (int)n, token);
    if (hdrfilter_in_token_list(b->data, one))
        return;
    if (b->len && buf_append(b, ",", 1) != 0)
        return;
    if (buf_append(b, one, n) != 0)
        return; /* past BETA_MAX: the rest is dropped */
}

/* The client's anthropic-beta list, deduplicated, with the OAuth beta. */
static void add_beta(const struct reqctx *rq, struct upstream_req *out)
{
    struct buf b;
    buf_init(&b, BETA_MAX);
    const char *p = reqctx_header(rq, "anthropic-beta");
    while (p && *p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        beta_add(&b, p, t);
        p += n;
    }
    beta_add(&b, OAUTH_BETA, strlen(OAUTH_BETA));
    upstream_req_add(out, "anthropic-beta", b.data ? b.data : OAUTH_BETA);
    buf_release(&b);
}

static int official_prepare(const struct account *acc, const struct upstream_call *call,
                            struct upstream_req *out)
{
    static const char *const skip[] = {"anthropic-beta", NULL};
    const struct reqctx *rq = call->rq;
    const char *token = account_field(acc, "accessToken");
    if (!token || !*token)
        return -ERR_CRYPTO; /* sealed under a key this relay does not have */
    out->url = official_url(reqctx_app(rq)->cfg->claude_api_url, call->endpoint);
    anthropic_copy_client_headers(rq, out, skip);
    upstream_req_add(out, "Content-Type", "application/json");
    if (!reqctx_header(rq, "anthropic-version"))
        upstream_req_add(out, "anthropic-version", DEFAULT_VERSION);
    if (!reqctx_header(rq, "user-agent"))
        upstream_req_add(out, "User-Agent", DEFAULT_UA);
    add_beta(rq, out);
    char *bearer = xasprintf("Bearer %s", token);
    upstream_req_add(out, "Authorization", bearer);
    memset(bearer, 0, strlen(bearer));
    free(bearer);
    return 0;
}

const struct provider provider_claude_official = {
    .name = "claude-official",
    .family = "claude",
    .record_prefix = "claude_account",
    .admin_path = "claude-accounts",
    .fields = official_fields,
    .nfields = ARRAY_SIZE(official_fields),
    .prepare = official_prepare,
    .classify = anthropic_classify,
    .keep_header = anthropic_keep_header,
    .usage_event = usage_from_anthropic_event,
    .usage_body = usage_from_anthropic_body,
};
