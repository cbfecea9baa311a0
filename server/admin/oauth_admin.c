/*
 * oauth_admin.c - the PKCE flow that adds an OAuth account, one handler set
 * for every OAuth provider (provider.oauth, oauth_kind.h: Claude
 * crs-relay-spec 9.1, OpenAI 9.3, Google 9.2), found by the path's
 * /admin/<admin_path>/ segment:
 *
 *   POST /admin/<type>-accounts/generate-auth-url  -> {authUrl, sessionId, instructions}
 *   POST /admin/<type>-accounts/exchange-code      {sessionId, authorizationCode | callbackUrl,
 *                                                   name, ...account fields} -> the new account
 *   POST /admin/<type>-accounts/:accountId/refresh  renew the token now
 *   POST /admin/claude-accounts/generate-setup-token-url, exchange-setup-token-code
 *        the same for a long-lived inference-only token (scope user:inference,
 *        one year, no refresh token; kinds with setup_token only)
 *
 * The session (verifier sealed, state, the account type) lives in Redis
 * `oauth:{sessionId}` for 600 s, so any instance can finish the flow. The code exchange is an
 * upstream call: the handler defers its reply (reqctx_defer), the token POST
 * runs on the upstream loop, and a worker creates the account and answers.
 * The tokens never travel back to the browser.
 */
#include "compat.h"
#include "account_record.h"
#include "accounts.h"
#include "admin_util.h"
#include "app.h"
#include "oauth_token.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "secret.h"
#include "store.h"
#include "store_keys.h"
#include "token_refresh.h"
#include "xmalloc.h"

#include <sodium.h>
#include <time.h>

#define SESSION_TTL_S 600
#define CODE_MAX 512
#define SETUP_TOKEN_LIFETIME_S 31536000 /* what Claude Code's setup-token asks for */

/* The two flows differ only in scope and token lifetime (crs-relay-spec 9.1). */
struct flow {
    const char *kind;  /* stored in the session: a code is exchanged by the flow that made it */
    const char *scope; /* NULL: CLAUDE_OAUTH_SCOPES */
    long expires_in;   /* asked of the token endpoint; 0: its default */
};

static const struct flow oauth_flow = {"oauth", NULL, 0};
static const struct flow setup_flow = {"setup-token", "user:inference", SETUP_TOKEN_LIFETIME_S};

static void bad_request(struct reqctx *rq, const char *msg)
{
    admin_error(rq, 400, "Bad request", msg);
}

/* The OAuth provider whose admin path the request is under, or NULL. */
static const struct provider *path_provider(const struct reqctx *rq)
{
    static const char prefix[] = "/admin/";
    const char *path = reqctx_path(rq);
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
        return NULL;
    char seg[64];
    snprintf(seg, sizeof(seg), "%.*s", (int)strcspn(path + sizeof(prefix) - 1, "/?"),
             path + sizeof(prefix) - 1);
    const struct provider *p = provider_by_admin_path(seg);
    return p && p->oauth ? p : NULL;
}

static void session_ad(char *ad, size_t len, const char *sid)
{
    snprintf(ad, len, "oauth:%s:codeVerifier", sid); /* binds the blob to its session */
}

/* oauth:{sid} = {codeVerifier (sealed), state, codeChallenge, kind, platform, createdAt,
 * expiresAt}, EX 600. */
static int session_save(struct app *app, struct rds_conn *c, const char *sid,
                        const struct provider *p, const struct flow *f, const char *verifier,
                        const char *state, const char *challenge)
{
    char key[STORE_KEY_MAX], ad[128], created[24], expires[24], *blob = NULL;
    session_ad(ad, sizeof(ad), sid);
    if (secret_seal(app->box, ad, verifier, strlen(verifier), &blob) != 0)
        return -ERR_CRYPTO;
    long long now = (long long)time(NULL) * 1000;
    snprintf(created, sizeof(created), "%lld", now);
    snprintf(expires, sizeof(expires), "%lld", now + SESSION_TTL_S * 1000LL);
    store_key(key, SK_OAUTH_SESSION, sid);
    redisReply *r[2] = {0};
    int rc = -ERR_REDIS;
    if (rds_append(c,
                   "HSET %s codeVerifier %s state %s codeChallenge %s kind %s platform %s "
                   "createdAt %s expiresAt %s",
                   key, blob, state, challenge, f->kind, p->name, created, expires) == 0 &&
        rds_append(c, "EXPIRE %s %d", key, SESSION_TTL_S) == 0 && rds_flush_replies(c, 2, r) == 0)
        rc = 0;
    for (int i = 0; i < 2; i++)
        if (r[i])
            freeReplyObject(r[i]);
    free(blob);
    return rc;
}

/* The body may be empty or {proxy: null}: the account's proxy is given to exchange-code. */
static bool auth_body_ok(struct reqctx *rq)
{
    size_t len = 0;
    reqctx_body(rq, &len);
    const cJSON *body = reqctx_json(rq), *it;
    if (len && !cJSON_IsObject(body)) {
        bad_request(rq, "Request body must be a JSON object");
        return false;
    }
    cJSON_ArrayForEach(it, body)
    {
        char msg[160];
        if (strcmp(it->string, "proxy") == 0 && cJSON_IsNull(it))
            continue;
        snprintf(msg, sizeof(msg), "%.60s%s", it->string,
                 strcmp(it->string, "proxy") == 0
                     ? ": give the account's proxy to exchange-code (it carries the token request)"
                     : ": unsupported field");
        bad_request(rq, msg);
        return false;
    }
    return true;
}

static void generate(struct reqctx *rq, const struct provider *p, const struct flow *f)
{
    struct app *app = reqctx_app(rq);
    const struct oauth_kind *k = p->oauth;
    struct rds_conn *c = auth_body_ok(rq) ? admin_conn(rq) : NULL;
    if (!c)
        return;
    char sid[37], verifier[OAUTH_VERIFIER_MAX], state[OAUTH_STATE_MAX];
    char challenge[OAUTH_CHALLENGE_MAX];
    secret_uuid(sid);
    oauth_pkce_new(k, verifier, state, challenge);
    int rc = session_save(app, c, sid, p, f, verifier, state, challenge);
    sodium_memzero(verifier, sizeof(verifier));
    admin_conn_put(rq, c);
    if (rc != 0) {
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
        return;
    }
    struct oauth_endpoints e;
    k->endpoints(app->cfg, &e);
    char *url = oauth_authorize_url(k, &e, f->scope, challenge, state);
    char *howto = xasprintf("1. Open the URL and sign in to %s. 2. Approve the access. "
                            "3. Copy the code shown (or the whole callback URL) and submit it "
                            "with the sessionId to the matching exchange endpoint within 10 "
                            "minutes.",
                            k->label);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "authUrl", url);
    cJSON_AddStringToObject(d, "sessionId", sid);
    cJSON_AddStringToObject(d, "instructions", howto);
    free(url);
    free(howto);
    /* a prefix only: the whole id is half of what completes an exchange */
    log_info("admin", "%s %s session %.8s... started by %s", p->name, f->kind, sid,
             reqctx_admin(rq));
    admin_ok(rq, "data", d);
}

/* Only an OAuth provider's path routes here, and only a setup-token kind's
 * setup routes: anything else is a 404 as for an unknown route. */
static const struct provider *flow_provider(struct reqctx *rq, const struct flow *f)
{
    const struct provider *p = path_provider(rq);
    if (!p || (f == &setup_flow && !p->oauth->setup_token)) {
        admin_error(rq, 404, "Not found", "Route not found");
        return NULL;
    }
    return p;
}

static void h_generate(struct reqctx *rq)
{
    const struct provider *p = flow_provider(rq, &oauth_flow);
    if (p)
        generate(rq, p, &oauth_flow);
}

static void h_generate_setup(struct reqctx *rq)
{
    const struct provider *p = flow_provider(rq, &setup_flow);
    if (p)
        generate(rq, p, &setup_flow);
}

/* ---- exchange-code ---- */

struct exchange {
    struct reqctx *rq;
    struct app *app;
    const struct provider *prov;
    cJSON *rec;  /* the account to be, still without its tokens */
    char *token; /* the token request body (code, verifier): wiped */
    char *proxy; /* curl proxy URL with credentials, or NULL: wiped */
    char sid[37];
};

/* Google's codes carry a slash ("4/0Ab..."): allowed, nothing else new. */
static bool code_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 10 && n <= CODE_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/") == n;
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %XX decoded in place: a callback URL (or a code copied from one) spells
 * Google's "4/0Ab..." as "4%2F0Ab...". A bad escape stays as it is (and
 * code_ok refuses it). */
static void pct_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi = *r == '%' ? hex_val(r[1]) : -1, lo = hi >= 0 ? hex_val(r[2]) : -1;
        if (lo >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* The value of query (or fragment) parameter name in url into out ("" when absent). */
static void url_param(const char *url, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *p = strpbrk(url, "?#"); p && *p; p = strpbrk(p + 1, "&#")) {
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=') {
            snprintf(out, len, "%.*s", (int)strcspn(p + 2 + n, "&#"), p + 2 + n);
            return;
        }
    }
}

/* The code (and the state, when it came along) from the pasted text or the
 * callback URL. 0, or 400 sent. */
static int pasted_code(struct reqctx *rq, const cJSON *body, char *code, char *state, size_t len)
{
    const char *pasted = json_str(body, "authorizationCode", "");
    const char *cb = json_str(body, "callbackUrl", "");
    state[0] = '\0';
    if (*cb) {
        url_param(cb, "code", code, len);
        url_param(cb, "state", state, len);
    } else {
        size_t n = strcspn(pasted, "#&");
        snprintf(code, len, "%.*s", (int)n, pasted);
        if (pasted[n] == '#')
            snprintf(state, len, "%.*s", (int)strcspn(pasted + n + 1, "&"), pasted + n + 1);
    }
    pct_decode(code);
    if (code_ok(code))
        return 0;
    bad_request(rq,
                *cb ? "callbackUrl has no valid code parameter"
                    : "authorizationCode is required (the code, code#state, or give callbackUrl)");
    return -ERR_INVAL;
}

/* The new account's record from the body's account fields. NULL after a 400. */
static cJSON *exchange_record(struct reqctx *rq, const struct provider *p, const cJSON *body)
{
    static const char *const flow[] = {"sessionId", "authorizationCode", "callbackUrl"};
    static const char *const tokens[] = {"accessToken", "refreshToken", "expiresAt", "scopes"};
    cJSON *fields = cJSON_Duplicate(body, true);
    for (size_t i = 0; i < ARRAY_SIZE(flow); i++)
        cJSON_DeleteItemFromObject(fields, flow[i]);
    char msg[200] = "";
    for (size_t i = 0; i < ARRAY_SIZE(tokens) && !*msg; i++)
        if (cJSON_GetObjectItem(fields, tokens[i]))
            snprintf(msg, sizeof(msg), "%s: set by the code exchange, not accepted", tokens[i]);
    cJSON *rec = account_record_new(p);
    if (!*msg &&
        account_record_apply(reqctx_app(rq), p, rec, fields, false, msg, sizeof(msg)) == 0 &&
        !*json_str(rec, "name", ""))
        snprintf(msg, sizeof(msg), "name is required");
    cJSON_Delete(fields);
    if (!*msg)
        return rec;
    cJSON_Delete(rec);
    bad_request(rq, msg);
    return NULL;
}

/* The session's verifier (caller frees with secret_free) if the session exists
 * and state (when given) is its state; an empty state gets the session's.
 * NULL after a 400 / 503. */
static char *session_verifier(struct reqctx *rq, const struct provider *p, const struct flow *f,
                              const char *sid, char *state, size_t len)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return NULL;
    char key[STORE_KEY_MAX], ad[128];
    cJSON *s = NULL;
    store_key(key, SK_OAUTH_SESSION, sid);
    int rc = store_hgetall(c, key, &s);
    admin_conn_put(rq, c);
    char *verifier = NULL;
    session_ad(ad, sizeof(ad), sid);
    if (rc == -ERR_NOTFOUND)
        bad_request(rq, "sessionId: unknown or expired OAuth session (generate a new URL)");
    else if (rc != 0)
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
    else if (strcmp(json_str(s, "platform", provider_claude_official.name), p->name) != 0)
        bad_request(rq, "sessionId: made for another account type's flow");
    else if (strcmp(json_str(s, "kind", oauth_flow.kind), f->kind) != 0)
        bad_request(rq, f == &setup_flow ? "sessionId: made by generate-auth-url; use exchange-code"
                                         : "sessionId: made by generate-setup-token-url; use "
                                           "exchange-setup-token-code");
    else if (*state && !secret_equal(state, json_str(s, "state", "")))
        bad_request(rq, "state does not match the OAuth session");
    else if (secret_open(reqctx_app(rq)->box, ad, json_str(s, "codeVerifier", ""), &verifier,
                         NULL) != 0)
        admin_error(rq, 500, "Internal error", "The OAuth session cannot be opened");
    else if (!*state)
        snprintf(state, len, "%s", json_str(s, "state", ""));
    cJSON_Delete(s);
    return verifier;
}

static char *token_body(const struct relay_config *cfg, const struct oauth_kind *k,
                        const struct flow *f, const char *code, const char *verifier,
                        const char *state)
{
    struct oauth_endpoints e;
    k->endpoints(cfg, &e);
    return oauth_exchange_body(k, &e, code, verifier, state, f->expires_in);
}

static void exchange_free(struct exchange *ex)
{
    cJSON_Delete(ex->rec);
    secret_free(ex->token);
    secret_free(ex->proxy);
    free(ex);
}

/* The reply, then the connection resumes; ex is freed. */
static void exchange_end(struct exchange *ex)
{
    struct reqctx *rq = ex->rq;
    exchange_free(ex);
    reqctx_resume(rq);
}

static void exchange_fail(struct exchange *ex, int status, const char *msg)
{
    admin_error(ex->rq, status, status == 503 ? "Service unavailable" : "Token exchange failed",
                msg);
    exchange_end(ex);
}

/* Worker: the token answer arrived; create the account. */
static int exchange_save(struct exchange *ex, const struct oauth_tokens *t)
{
    const struct provider *p = ex->prov;
    struct rds_conn *c = rds_pool_get(ex->app->redis, 1000);
    if (!c)
        return -ERR_REDIS;
    char key[STORE_KEY_MAX];
    int rc = oauth_tokens_store(ex->app, p, ex->rec, t);
    if (rc == 0)
        rc = account_record_save(ex->app, c, p, ex->rec);
    if (rc == 0 && p->oauth->stored)
        p->oauth->stored(ex->app, ex->rec); /* e.g. the profile: its answer patches the record */
    store_key(key, SK_OAUTH_SESSION, ex->sid);
    redisReply *r = rc == 0 ? rds_command(c, "DEL %s", key) : NULL; /* one exchange per session */
    if (r)
        freeReplyObject(r);
    rds_pool_put(ex->app->redis, c);
    return rc;
}

static void exchange_done(void *arg, const struct claude_call_result *res)
{
    struct exchange *ex = arg;
    char err[300];
    struct oauth_tokens t = {0};
    if (!res->on_worker)
        return exchange_fail(ex, 503, "The relay is overloaded");
    if (res->result != 0 || res->status < 200 || res->status > 299) {
        oauth_token_error(res, err, sizeof(err));
        return exchange_fail(ex, 502, err);
    }
    if (oauth_tokens_parse(ex->prov->oauth, res->body, res->len, (long long)time(NULL) * 1000, &t,
                           err, sizeof(err)) != 0)
        return exchange_fail(ex, 502, err);
    int rc = exchange_save(ex, &t);
    oauth_tokens_release(&t);
    if (rc != 0)
        return exchange_fail(ex, rc == -ERR_REDIS ? 503 : 500, "The account could not be saved");
    cJSON *view = account_record_view(ex->app, ex->prov, ex->rec);
    log_info("admin", "%s account %s created by the OAuth exchange of %s", ex->prov->name,
             json_str(ex->rec, "id", ""), reqctx_admin(ex->rq));
    admin_ok(ex->rq, "data", view);
    exchange_end(ex);
}

/* Runs after the handler returned (reqctx_defer): from here ex owns rq. */
static void exchange_start(void *arg)
{
    struct exchange *ex = arg;
    if (oauth_token_call(ex->app, ex->prov->oauth, ex->token, ex->proxy, exchange_done, ex) != 0)
        exchange_fail(ex, 503, "The relay is shutting down");
}

static void exchange(struct reqctx *rq, const struct provider *p, const struct flow *f)
{
    const cJSON *body = reqctx_json(rq);
    const char *sid = json_str(body, "sessionId", "");
    char code[CODE_MAX + 1], state[CODE_MAX + 1];
    if (!cJSON_IsObject(body))
        return bad_request(rq, "Request body must be a JSON object");
    if (!admin_is_uuid(sid))
        return bad_request(rq, "sessionId is required (from generate-auth-url)");
    if (pasted_code(rq, body, code, state, sizeof(code)) != 0)
        return;
    cJSON *rec = exchange_record(rq, p, body);
    char *verifier = rec ? session_verifier(rq, p, f, sid, state, sizeof(state)) : NULL;
    if (!verifier) {
        cJSON_Delete(rec);
        return;
    }
    struct exchange *ex = xcalloc(1, sizeof(*ex));
    ex->rq = rq;
    ex->app = reqctx_app(rq);
    ex->prov = p;
    ex->rec = rec;
    ex->token = token_body(ex->app->cfg, p->oauth, f, code, verifier, state);
    ex->proxy = account_proxy_url(ex->app, p, rec);
    snprintf(ex->sid, sizeof(ex->sid), "%s", sid);
    secret_free(verifier);
    reqctx_defer(rq, exchange_start, ex);
}

static void h_exchange(struct reqctx *rq)
{
    const struct provider *p = flow_provider(rq, &oauth_flow);
    if (p)
        exchange(rq, p, &oauth_flow);
}

static void h_exchange_setup(struct reqctx *rq)
{
    const struct provider *p = flow_provider(rq, &setup_flow);
    if (p)
        exchange(rq, p, &setup_flow);
}

/* ---- POST /admin/claude-accounts/:accountId/refresh ---- */

struct manual {
    struct reqctx *rq;
    struct app *app;
    const struct provider *prov;
    char id[37];
};

/* Worker: the forced refresh ended; answer with the new view or the error. */
static void manual_done(void *arg, int rc, const char *err)
{
    struct manual *m = arg;
    cJSON *view = NULL;
    struct rds_conn *c = rc == 0 ? rds_pool_get(m->app->redis, 1000) : NULL;
    if (c && account_record_view_load(m->app, c, m->prov, m->id, &view) == 0) {
        admin_ok(m->rq, "data", view);
    } else if (rc == 0 || rc == -ERR_REDIS) {
        admin_error(m->rq, 503, "Service unavailable", "Redis is unavailable");
    } else {
        admin_error(m->rq, 502, "Token refresh failed", err);
    }
    if (c)
        rds_pool_put(m->app->redis, c);
    struct reqctx *rq = m->rq;
    free(m);
    reqctx_resume(rq);
}

static void manual_start(void *arg)
{
    struct manual *m = arg;
    struct rds_conn *c = rds_pool_get(m->app->redis, 1000);
    struct account_list *snap = accounts_snapshot(m->app->accounts);
    const struct account *a = account_list_find(snap, m->id);
    int rc = a && c ? token_refresh_now(m->app, c, a, manual_done, m) : -ERR_REDIS;
    accounts_list_release(snap);
    if (c)
        rds_pool_put(m->app->redis, c);
    if (rc == 0)
        return; /* manual_done answers */
    if (rc == -ERR_BUSY)
        admin_error(m->rq, 409, "Conflict", "A refresh of this account is running; try again");
    else if (rc == -ERR_REDIS)
        admin_error(m->rq, 503, "Service unavailable", "Redis is unavailable");
    else
        admin_error(m->rq, 503, "Service unavailable", "The relay is shutting down");
    struct reqctx *rq = m->rq;
    free(m);
    reqctx_resume(rq);
}

/* An admin renews the account's token now, due or not (single-flight with
 * every other refresh of it, through the same lock). */
static void h_refresh(struct reqctx *rq)
{
    const struct provider *p = flow_provider(rq, &oauth_flow);
    if (!p)
        return;
    const char *id = reqctx_param(rq, "accountId");
    struct account_list *snap = accounts_snapshot(reqctx_app(rq)->accounts);
    const struct account *a = admin_is_uuid(id) ? account_list_find(snap, id) : NULL;
    bool found = a && a->prov == p;
    const char *rt = found ? account_field(a, "refreshToken") : NULL;
    bool has_rt = rt && *rt;
    accounts_list_release(snap);
    if (!found)
        return admin_error(rq, 404, "Not found", "Account not found");
    if (!has_rt)
        return bad_request(rq, "refreshToken: the account has none (a setup token cannot be "
                               "refreshed)");
    struct manual *m = xcalloc(1, sizeof(*m));
    m->rq = rq;
    m->app = reqctx_app(rq);
    m->prov = p;
    snprintf(m->id, sizeof(m->id), "%s", id);
    reqctx_defer(rq, manual_start, m);
}

/* One line set per OAuth provider's admin path; the handlers are shared. */
#define OAUTH_ROUTES(base)                                                                         \
    {"POST", base "/generate-auth-url", h_generate, AUTH_ADMIN, BODY_SMALL, NULL},                 \
        {"POST", base "/exchange-code", h_exchange, AUTH_ADMIN, BODY_SMALL, NULL},                 \
    {                                                                                              \
        "POST", base "/:accountId/refresh", h_refresh, AUTH_ADMIN, BODY_SMALL, NULL                \
    }

const struct route oauth_routes[] = {
    OAUTH_ROUTES("/admin/claude-accounts"),
    {"POST", "/admin/claude-accounts/generate-setup-token-url", h_generate_setup, AUTH_ADMIN,
     BODY_SMALL, NULL},
    {"POST", "/admin/claude-accounts/exchange-setup-token-code", h_exchange_setup, AUTH_ADMIN,
     BODY_SMALL, NULL},
    OAUTH_ROUTES("/admin/openai-accounts"),
    OAUTH_ROUTES("/admin/gemini-accounts"),
    {0},
};
