/*
 * oauth_kind.h - one OAuth account kind as a table entry (crs-relay-spec
 * 9.1 Claude, 9.2 Google, 9.3 OpenAI). Every OAuth provider points at its
 * kind (provider.oauth); the machinery is shared: ONE admin PKCE flow
 * (server/admin/oauth_admin.c: generate-auth-url, exchange-code), ONE token
 * call (oauth_token.h), ONE refresh job and ONE on-demand wait
 * (server/token_refresh.c, lock `token_refresh_lock:<name>:{id}`).
 *
 * A kind says what differs: its endpoints and client (from the config),
 * the authorize URL's extra parameters, the PKCE spelling, the token
 * request's encoding (JSON for Claude, a form for OpenAI and Google) and
 * extra parameters, and how the token answer's extras become record fields.
 *
 * The functions here are pure (no Redis, no I/O): any thread.
 */
#ifndef RELAY_OAUTH_KIND_H
#define RELAY_OAUTH_KIND_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct cJSON;
struct relay_config;

/* The kind's endpoints and client, borrowed from the configuration. */
struct oauth_endpoints {
    const char *authorize_url;
    const char *token_url;
    const char *client_id;
    const char *client_secret; /* NULL: a public client (no secret sent) */
    const char *redirect_uri;
    const char *scopes; /* space-separated */
};

enum oauth_encoding {
    OAUTH_JSON = 0, /* application/json (Claude) */
    OAUTH_FORM = 1, /* application/x-www-form-urlencoded (OpenAI, Google) */
};

enum oauth_pkce {
    OAUTH_PKCE_B64URL = 0, /* verifier and state: 32 random bytes base64url (43 characters) */
    OAUTH_PKCE_HEX = 1,    /* verifier 64 random bytes hex (128), state 32 bytes hex (64) */
};

#define OAUTH_VERIFIER_MAX 129
#define OAUTH_STATE_MAX 65
#define OAUTH_CHALLENGE_MAX 44

struct oauth_kind {
    const char *name;  /* "claude", "openai", "gemini": the lock's and the log's name */
    const char *label; /* "Claude", "ChatGPT", "Google": for the admin's instructions */
    void (*endpoints)(const struct relay_config *cfg, struct oauth_endpoints *out);
    const char *authorize_lead; /* query parameters before client_id ("code=true&"), or "" */
    const char *authorize_tail; /* after state ("&prompt=select_account"), or "" */
    enum oauth_pkce pkce;
    enum oauth_encoding encoding;
    const char *const *token_headers; /* besides Content-Type; NULL-terminated, or NULL */
    bool exchange_sends_state;        /* the code exchange carries state (Claude) */
    const char *refresh_scope;        /* scope sent with a refresh (OpenAI), or NULL */
    long long default_expires_in;     /* seconds when the answer has none; 0: it must say */
    long long demand_lead_ms;         /* a request waits for a refresh this close to expiry */
    bool setup_token;                 /* Claude's long-lived inference-only token flow */
    /* Record fields (strings) from a 2xx token answer's extras into fields
     * (a JSON object), e.g. scopes, organization, the id_token's claims. */
    void (*extras)(const struct cJSON *answer, struct cJSON *fields);
    /* After an account's tokens were saved (exchange or refresh), or NULL:
     * Claude looks the subscription up. Worker thread. */
    void (*stored)(struct app *app, const struct cJSON *rec);
};

extern const struct oauth_kind oauth_claude;
extern const struct oauth_kind oauth_openai;
extern const struct oauth_kind oauth_google;

/* A new PKCE verifier, its S256 challenge and a state, in the kind's
 * spelling. The verifier is secret: the caller wipes it. */
void oauth_pkce_new(const struct oauth_kind *k, char verifier[OAUTH_VERIFIER_MAX],
                    char state[OAUTH_STATE_MAX], char challenge[OAUTH_CHALLENGE_MAX]);

/* The URL the admin's browser opens (caller frees). scope NULL: the kind's. */
char *oauth_authorize_url(const struct oauth_kind *k, const struct oauth_endpoints *e,
                          const char *scope, const char *challenge, const char *state);

/* The token request bodies, in the kind's encoding (caller wipes and frees:
 * they hold a code, a verifier or a refresh token). expires_in 0: not asked. */
char *oauth_exchange_body(const struct oauth_kind *k, const struct oauth_endpoints *e,
                          const char *code, const char *verifier, const char *state,
                          long long expires_in);
char *oauth_refresh_body(const struct oauth_kind *k, const struct oauth_endpoints *e,
                         const char *refresh_token);
/* "Content-Type: ..." of the kind's token requests. */
const char *oauth_content_type(const struct oauth_kind *k);

struct oauth_tokens {
    char *access;  /* owned; wiped by oauth_tokens_release */
    char *refresh; /* owned, NULL when the answer had none (the stored one is kept) */
    long long expires_at_ms;
    struct cJSON *fields; /* owned: the kind's extras, record field -> string */
};

/* Parse a 2xx token answer. 0, or -ERR_PARSE with what was wrong in err. */
int oauth_tokens_parse(const struct oauth_kind *k, const char *body, size_t len, long long now_ms,
                       struct oauth_tokens *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void oauth_tokens_release(struct oauth_tokens *t);

/* The claims object of a JWT's payload (the signature is not checked: the
 * token came straight from the token endpoint over TLS), or NULL. Caller
 * deletes. */
struct cJSON *oauth_jwt_claims(const char *jwt);

#endif
