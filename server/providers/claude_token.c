/*
 * claude_token.c - the OAuth token endpoint (see claude_token.h): its
 * headers and body over the shared side call (claude_call.c), the answer's
 * parsing and storing.
 */
#include "compat.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "claude_call.h"
#include "claude_token.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "secret.h"
#include "xmalloc.h"

int claude_token_call(struct app *app, const char *body, const char *proxy, claude_call_fn done,
                      void *arg)
{
    static const char *const headers[] = {
        "Content-Type: application/json",
        "User-Agent: claude-cli/1.0.56 (external, cli)",
        "Accept: application/json, text/plain, */*",
        "Accept-Language: en-US,en;q=0.9",
        "Referer: https://claude.ai/",
        "Origin: https://claude.ai",
        NULL,
    };
    struct claude_call_req req = {
        .method = "POST",
        .url = app->cfg->claude_oauth_token_url,
        .headers = headers,
        .body = body,
        .proxy = proxy,
        .what = "token",
    };
    return claude_call(app, &req, done, arg);
}

static char *dup_str(const cJSON *o, const char *name)
{
    const char *v = json_str(o, name, "");
    return *v ? xstrdup(v) : NULL;
}

int claude_tokens_parse(const char *body, size_t len, long long now_ms, struct claude_tokens *out,
                        char *err, size_t errlen)
{
    cJSON *j = json_parse(body, len, 16, true);
    const cJSON *exp = cJSON_GetObjectItem(j, "expires_in");
    struct claude_tokens t = {0};
    int rc = -ERR_PARSE;
    t.access = dup_str(j, "access_token");
    if (!t.access || strlen(t.access) > 8192) {
        snprintf(err, errlen, "the token answer has no access_token");
    } else if (!cJSON_IsNumber(exp) || exp->valuedouble <= 0 || exp->valuedouble > 1e9) {
        snprintf(err, errlen, "the token answer has no valid expires_in");
    } else {
        t.refresh = dup_str(j, "refresh_token");
        t.expires_at_ms = (now_ms / 1000 + (long long)exp->valuedouble) * 1000;
        snprintf(t.scopes, sizeof(t.scopes), "%s", json_str(j, "scope", ""));
        const cJSON *org = cJSON_GetObjectItem(j, "organization");
        snprintf(t.organization, sizeof(t.organization), "%s",
                 json_str(org, "name", json_str(org, "uuid", "")));
        rc = 0;
    }
    cJSON_Delete(j);
    if (rc != 0)
        claude_tokens_release(&t);
    else
        *out = t;
    return rc;
}

void claude_token_error(const struct claude_call_result *res, char *out, size_t len)
{
    if (res->result != 0 && res->status == 0) {
        snprintf(out, len, "token endpoint unreachable (%s)", err_str(res->result));
        return;
    }
    claude_call_error(res, out, len);
}

int claude_tokens_store(const struct app *app, cJSON *rec, const struct claude_tokens *t)
{
    const struct provider *p = &provider_claude_official;
    char num[24], now[32];
    if (account_seal(app, p, rec, "accessToken", t->access) != 0 ||
        (t->refresh && account_seal(app, p, rec, "refreshToken", t->refresh) != 0))
        return -ERR_CRYPTO;
    snprintf(num, sizeof(num), "%lld", t->expires_at_ms);
    json_set_str(rec, "expiresAt", num);
    json_set_str(rec, "scopes", t->scopes);
    json_set_str(rec, "organization", t->organization);
    admin_iso_now(now);
    json_set_str(rec, "lastRefreshAt", now);
    return 0;
}

void claude_tokens_release(struct claude_tokens *t)
{
    secret_free(t->access);
    secret_free(t->refresh);
    memset(t, 0, sizeof(*t));
}
