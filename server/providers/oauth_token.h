/*
 * oauth_token.h - the token endpoint of every OAuth kind (oauth_kind.h),
 * shared by the PKCE code exchange (admin) and the token refresh
 * (maintenance, on demand): the POST, made through the shared side call
 * (claude_call.h: lib/httpc, no thread held while it runs), and the
 * parsed answer written into an account record.
 */
#ifndef RELAY_OAUTH_TOKEN_H
#define RELAY_OAUTH_TOKEN_H

#include "claude_call.h"
#include "oauth_kind.h"

struct app;
struct cJSON;
struct provider;

/* POST body (in k's encoding) to k's token URL with k's headers, 30 s
 * timeout, through proxy (curl URL or NULL). done runs on a worker (or,
 * when the pool refuses the job, on the upstream loop with on_worker
 * false). 0, or -ERR_CLOSED when the upstream loop has stopped (done never
 * runs). Any thread. */
int oauth_token_call(struct app *app, const struct oauth_kind *k, const char *body,
                     const char *proxy, claude_call_fn done, void *arg)
    __attribute__((warn_unused_result));
/* A failed call as "<status> <error>: <error_description>" or "token
 * endpoint unreachable (...)" (bounded; never the body itself). */
void oauth_token_error(const struct claude_call_result *res, char *out, size_t len);
/* Seal the tokens into rec (a record of OAuth provider p: accessToken,
 * refreshToken) and set expiresAt, lastRefreshAt and the kind's extras. A
 * missing refresh token keeps the stored one. 0 or -ERR_CRYPTO. */
int oauth_tokens_store(const struct app *app, const struct provider *p, struct cJSON *rec,
                       const struct oauth_tokens *t) __attribute__((warn_unused_result));

#endif
