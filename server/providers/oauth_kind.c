/*
 * oauth_kind.c - what every OAuth kind shares (see oauth_kind.h): PKCE,
 * the authorize URL, the token request bodies in either encoding, and the
 * token answer's parsing. The kinds themselves are table entries in
 * oauth_kinds.c.
 */
#include "compat.h"
#include "errs.h"
#include "json.h"
#include "oauth_kind.h"
#include "secret.h"
#include "xmalloc.h"

#include <curl/curl.h>
#include <sodium.h>

#define TOKEN_MAX 8192
#define BODY_PAIRS 8

void oauth_pkce_new(const struct oauth_kind *k, char verifier[OAUTH_VERIFIER_MAX],
                    char state[OAUTH_STATE_MAX], char challenge[OAUTH_CHALLENGE_MAX])
{
    if (k->pkce == OAUTH_PKCE_HEX) {
        secret_random_hex(verifier, 64);
        secret_random_hex(state, 32);
    } else {
        secret_random_b64url32(verifier);
        secret_random_b64url32(state);
    }
    secret_sha256_b64url(verifier, challenge);
}

static char *url_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = xstrdup(e ? e : "");
    curl_free(e);
    return out;
}

char *oauth_authorize_url(const struct oauth_kind *k, const struct oauth_endpoints *e,
                          const char *scope, const char *challenge, const char *state)
{
    char *cid = url_escape(e->client_id);
    char *redir = url_escape(e->redirect_uri);
    char *sc = url_escape(scope ? scope : e->scopes);
    char *u = xasprintf("%s?%sclient_id=%s&response_type=code&redirect_uri=%s&scope=%s"
                        "&code_challenge=%s&code_challenge_method=S256&state=%s%s",
                        e->authorize_url, k->authorize_lead, cid, redir, sc, challenge, state,
                        k->authorize_tail);
    free(cid);
    free(redir);
    free(sc);
    return u;
}

/* A token request's parameters, in order; number: a JSON number. */
struct pair {
    const char *name, *value;
    bool number;
};

static char *encode_json(const struct pair *p, size_t n)
{
    cJSON *j = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++) {
        if (p[i].number)
            cJSON_AddNumberToObject(j, p[i].name, strtod(p[i].value, NULL));
        else
            cJSON_AddStringToObject(j, p[i].name, p[i].value);
    }
    char *s = json_print(j);
    cJSON_Delete(j); /* the tree held the secrets too: print is the only copy kept */
    return s;
}

static char *encode_form(const struct pair *p, size_t n)
{
    char *out = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *v = url_escape(p[i].value);
        char *next = xasprintf("%s%s%s=%s", out, i ? "&" : "", p[i].name, v);
        secret_free(v);
        secret_free(out);
        out = next;
    }
    return out;
}

static char *encode(const struct oauth_kind *k, const struct pair *p, size_t n)
{
    return k->encoding == OAUTH_FORM ? encode_form(p, n) : encode_json(p, n);
}

char *oauth_exchange_body(const struct oauth_kind *k, const struct oauth_endpoints *e,
                          const char *code, const char *verifier, const char *state,
                          long long expires_in)
{
    struct pair p[BODY_PAIRS];
    size_t n = 0;
    char num[24];
    p[n++] = (struct pair){"grant_type", "authorization_code", false};
    p[n++] = (struct pair){"client_id", e->client_id, false};
    if (e->client_secret)
        p[n++] = (struct pair){"client_secret", e->client_secret, false};
    p[n++] = (struct pair){"code", code, false};
    p[n++] = (struct pair){"redirect_uri", e->redirect_uri, false};
    p[n++] = (struct pair){"code_verifier", verifier, false};
    if (k->exchange_sends_state)
        p[n++] = (struct pair){"state", state, false};
    if (expires_in > 0) {
        snprintf(num, sizeof(num), "%lld", expires_in);
        p[n++] = (struct pair){"expires_in", num, true};
    }
    return encode(k, p, n);
}

char *oauth_refresh_body(const struct oauth_kind *k, const struct oauth_endpoints *e,
                         const char *refresh_token)
{
    struct pair p[BODY_PAIRS];
    size_t n = 0;
    p[n++] = (struct pair){"grant_type", "refresh_token", false};
    p[n++] = (struct pair){"refresh_token", refresh_token, false};
    p[n++] = (struct pair){"client_id", e->client_id, false};
    if (e->client_secret)
        p[n++] = (struct pair){"client_secret", e->client_secret, false};
    if (k->refresh_scope)
        p[n++] = (struct pair){"scope", k->refresh_scope, false};
    return encode(k, p, n);
}

const char *oauth_content_type(const struct oauth_kind *k)
{
    return k->encoding == OAUTH_FORM ? "Content-Type: application/x-www-form-urlencoded"
                                     : "Content-Type: application/json";
}

static char *dup_token(const cJSON *o, const char *name)
{
    const char *v = json_str(o, name, "");
    return *v && strlen(v) <= TOKEN_MAX ? xstrdup(v) : NULL;
}

/* expires_in as seconds (a number, or digits as Google's libraries may
 * send), else the kind's default; 0 when neither. */
static long long expires_in(const struct oauth_kind *k, const cJSON *j)
{
    const cJSON *e = cJSON_GetObjectItem(j, "expires_in");
    double v = cJSON_IsNumber(e)                        ? e->valuedouble
               : cJSON_IsString(e) && e->valuestring[0] ? strtod(e->valuestring, NULL)
                                                        : (double)k->default_expires_in;
    return v > 0 && v <= 1e9 ? (long long)v : 0;
}

int oauth_tokens_parse(const struct oauth_kind *k, const char *body, size_t len, long long now_ms,
                       struct oauth_tokens *out, char *err, size_t errlen)
{
    cJSON *j = json_parse(body, len, 16, true);
    struct oauth_tokens t = {0};
    long long secs = expires_in(k, j);
    int rc = -ERR_PARSE;
    t.access = dup_token(j, "access_token");
    if (!t.access) {
        snprintf(err, errlen, "the token answer has no access_token");
    } else if (!secs) {
        snprintf(err, errlen, "the token answer has no valid expires_in");
    } else {
        t.refresh = dup_token(j, "refresh_token");
        t.expires_at_ms = (now_ms / 1000 + secs) * 1000;
        t.fields = cJSON_CreateObject();
        if (k->extras)
            k->extras(j, t.fields);
        rc = 0;
    }
    cJSON_Delete(j);
    if (rc != 0)
        oauth_tokens_release(&t);
    else
        *out = t;
    return rc;
}

void oauth_tokens_release(struct oauth_tokens *t)
{
    secret_free(t->access);
    secret_free(t->refresh);
    cJSON_Delete(t->fields);
    memset(t, 0, sizeof(*t));
}

cJSON *oauth_jwt_claims(const char *jwt)
{
    const char *p = jwt ? strchr(jwt, '.') : NULL;
    const char *end = p ? strchr(p + 1, '.') : NULL;
    if (!end || end - p - 1 > TOKEN_MAX)
        return NULL;
    size_t n = (size_t)(end - p - 1), got = 0;
    unsigned char *raw = xmalloc(n + 1);
    cJSON *claims = NULL;
    if (sodium_base642bin(raw, n, p + 1, n, NULL, &got, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
        claims = json_parse((const char *)raw, got, 8, true);
    sodium_memzero(raw, n + 1);
    free(raw);
    if (cJSON_IsObject(claims))
        return claims;
    cJSON_Delete(claims);
    return NULL;
}
