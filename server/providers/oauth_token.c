/*
 * oauth_token.c - the token endpoint of every OAuth kind (see
 * oauth_token.h): its headers over the shared side call (claude_call.c)
 * and the answer's storing.
 */
#include "compat.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "oauth_token.h"
#include "xmalloc.h"

#define HEADERS_MAX 12

int oauth_token_call(struct app *app, const struct oauth_kind *k, const char *body,
                     const char *proxy, claude_call_fn done, void *arg)
{
    const char *headers[HEADERS_MAX];
    size_t n = 0;
    struct oauth_endpoints e;
    k->endpoints(app->cfg, &e);
    headers[n++] = oauth_content_type(k);
    for (size_t i = 0; k->token_headers && k->token_headers[i] && n < HEADERS_MAX - 1; i++)
        headers[n++] = k->token_headers[i];
    headers[n] = NULL;
    struct claude_call_req req = {
        .method = "POST",
        .url = e.token_url,
        .headers = headers,
        .body = body,
        .proxy = proxy,
        .what = "token",
    };
    return claude_call(app, &req, done, arg);
}

void oauth_token_error(const struct claude_call_result *res, char *out, size_t len)
{
    if (res->result != 0 && res->status == 0) {
        snprintf(out, len, "token endpoint unreachable (%s)", err_str(res->result));
        return;
    }
    claude_call_error(res, out, len);
}

int oauth_tokens_store(const struct app *app, const struct provider *p, cJSON *rec,
                       const struct oauth_tokens *t)
{
    char num[24], now[32];
    if (account_seal(app, p, rec, "accessToken", t->access) != 0 ||
        (t->refresh && account_seal(app, p, rec, "refreshToken", t->refresh) != 0))
        return -ERR_CRYPTO;
    snprintf(num, sizeof(num), "%lld", t->expires_at_ms);
    json_set_str(rec, "expiresAt", num);
    const cJSON *f;
    cJSON_ArrayForEach(f, t->fields)
    {
        if (cJSON_IsString(f) && provider_field(p, f->string))
            json_set_str(rec, f->string, f->valuestring);
    }
    admin_iso_now(now);
    json_set_str(rec, "lastRefreshAt", now);
    return 0;
}
