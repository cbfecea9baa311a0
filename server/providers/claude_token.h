/*
 * claude_token.h - Claude's OAuth token endpoint (crs-relay-spec 9.1), shared
 * by the PKCE code exchange (admin) and the token refresh (maintenance):
 * the request, made through the shared side call (claude_call.h: lib/httpc,
 * no thread held while it runs), and the answer, parsed and written into an
 * account record.
 */
#ifndef RELAY_CLAUDE_TOKEN_H
#define RELAY_CLAUDE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "claude_call.h"

struct app;
struct cJSON;

/* POST body (JSON) to CLAUDE_OAUTH_TOKEN_URL with Claude Code's headers,
 * 30 s timeout, through proxy (curl URL or NULL). done runs on a worker (or,
 * when the pool refuses the job, on the upstream loop with on_worker false).
 * 0, or -ERR_CLOSED when the upstream loop has stopped (done never runs). */
int claude_token_call(struct app *app, const char *body, const char *proxy, claude_call_fn done,
                      void *arg) __attribute__((warn_unused_result));

struct claude_tokens {
    char *access;  /* owned; wiped by claude_tokens_release */
    char *refresh; /* owned, NULL when the answer had none */
    long long expires_at_ms;
    char scopes[1001];
    char organization[201];
};

/* Parse a 2xx token answer. 0, or -ERR_PARSE with what was wrong in err. */
int claude_tokens_parse(const char *body, size_t len, long long now_ms, struct claude_tokens *out,
                        char *err, size_t errlen) __attribute__((warn_unused_result));
/* An error answer as "<status> <error>: <error_description>" (bounded; no
 * tokens ever appear in such answers' fields used here). */
void claude_token_error(const struct claude_call_result *res, char *out, size_t len);
/* Seal the tokens into rec (claude-official record) and set expiresAt,
 * scopes, organization and lastRefreshAt. A missing refresh token keeps
 * the stored one. 0 or -ERR_CRYPTO. */
int claude_tokens_store(const struct app *app, struct cJSON *rec, const struct claude_tokens *t)
    __attribute__((warn_unused_result));
void claude_tokens_release(struct claude_tokens *t);

#endif
