/*
 * openai_codex.c - ChatGPT (Codex) OAuth accounts, account type "openai"
 * (crs-relay-spec 0, 6.5, 5.5, 9.3): the access token of a ChatGPT sign-in
 * calls the Codex backend's Responses endpoint (OPENAI_CODEX_API_URL
 * /responses, /responses/compact). The tokens come from the shared PKCE
 * flow (server/admin/oauth_admin.c, kind oauth_openai) and are renewed by
 * server/token_refresh.c; the id_token's claims (ChatGPT account id, user
 * id, plan, e-mail) are read-only fields.
 *
 * Request (spec 6.5): only the client's version, openai-beta and session
 * id headers go on (Codex 0.169 spells it session-id; the backend's
 * name is session_id), with Authorization: Bearer, chatgpt-account-id
 * (accountId, else chatgptUserId, else the account's id), an accept for the
 * stream or JSON, and the body with store=false (compact: store removed).
 *
 * Reactions (spec 5.5), on the shared judge: a 429 (usage_limit_reached)
 * cools the account until error.resets_in_seconds (or resets_at, else
 * retry-after, else 60 minutes) and the request moves on; 401 and 402
 * (payment required) mark it unauthorized; 5xx and transport failures a
 * temporary error. A success's x-codex-primary-* headers are the account's
 * usage window (memory only, shown in the admin view as sessionWindow).
 */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "oauth_kind.h"
#include "provider.h"
#include "reqctx.h"
#include "upstream_judge.h"
#include "xmalloc.h"

#include <strings.h>

#define SEC 1000LL
#define DEFAULT_LIMIT_MS (60LL * 60 * SEC) /* the original's default when the 429 says nothing */
#define WINDOW_MAX_S (31LL * 24 * 3600)

static const struct account_field codex_fields[] = {
    {"accessToken", FT_SECRET, FIELD_REQUIRED, NULL, 0, 8192, NULL},
    {"refreshToken", FT_SECRET, 0, NULL, 0, 8192, NULL},
    {"expiresAt", FT_INT, 0, "0", 0, 253402300799999LL, NULL}, /* ms epoch; 0: unknown */
    /* From the id_token (oauth_kinds.c openai_extras). */
    {"accountId", FT_STR, FIELD_READONLY, "", 0, 100, NULL}, /* chatgpt_account_id */
    {"chatgptUserId", FT_STR, FIELD_READONLY, "", 0, 100, NULL},
    {"planType", FT_STR, FIELD_READONLY, "", 0, 40, NULL},
    {"email", FT_STR, FIELD_READONLY, "", 0, 320, NULL},
    {"lastRefreshAt", FT_STR, FIELD_READONLY, "", 0, 40, NULL},
};

/* The body the backend wants: store=false (the compact endpoint takes no
 * store at all). Reprinted: the change is a member that may be absent.
 * *stream: the body asks for a stream (the Accept to send). */
static int codex_body(const struct upstream_call *call, bool compact, struct upstream_req *out,
                      bool *stream)
{
    cJSON *j = json_parse(call->body, call->body_len, JSON_MAX_DEPTH, true);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -ERR_PARSE;
    }
    *stream = cJSON_IsTrue(cJSON_GetObjectItem(j, "stream"));
    cJSON_DeleteItemFromObject(j, "store");
    if (!compact)
        cJSON_AddFalseToObject(j, "store");
    out->body = json_print(j);
    out->body_len = strlen(out->body);
    cJSON_Delete(j);
    return 0;
}

/* The client's headers the backend takes (spec 6.5), under its names. */
static void codex_client_headers(const struct reqctx *rq, struct upstream_req *out)
{
    static const char *const pass[] = {"version", "openai-beta"};
    for (size_t i = 0; i < ARRAY_SIZE(pass); i++) {
        const char *v = reqctx_header(rq, pass[i]);
        if (v)
            upstream_req_add(out, pass[i], v);
    }
    const char *sid = reqctx_header(rq, "session_id");
    if (!sid)
        sid = reqctx_header(rq, "session-id");
    if (sid)
        upstream_req_add(out, "session_id", sid);
}

static const char *chatgpt_account(const struct account *acc)
{
    const char *id = account_field(acc, "accountId");
    if (!id || !*id)
        id = account_field(acc, "chatgptUserId");
    return id && *id ? id : acc->id;
}

static int codex_prepare(const struct account *acc, const struct upstream_call *call,
                         struct upstream_req *out)
{
    const char *token = account_field(acc, "accessToken");
    if (!token || !*token)
        return -ERR_CRYPTO; /* sealed under a key this relay does not have */
    bool compact = strcmp(call->endpoint, "responses/compact") == 0, stream = false;
    /* Accept follows the body sent (an admin's account test has its own). */
    int rc = codex_body(call, compact, out, &stream);
    if (rc != 0)
        return rc;
    out->url = xasprintf("%s/%s", reqctx_app(call->rq)->cfg->openai_codex_api_url,
                         compact ? "responses/compact" : "responses");
    codex_client_headers(call->rq, out);
    upstream_req_add(out, "Content-Type", "application/json");
    upstream_req_add(out, "Accept", stream ? "text/event-stream" : "application/json");
    upstream_req_add(out, "chatgpt-account-id", chatgpt_account(acc));
    char *bearer = xasprintf("Bearer %s", token);
    upstream_req_add(out, "Authorization", bearer);
    memset(bearer, 0, strlen(bearer));
    free(bearer);
    return 0;
}

static void codex_classify(const struct judge *j, const struct upstream_answer *ans,
                           struct verdict *v)
{
    long long until = 0;
    if (ans->status == 429) {
        until = judge_body_reset_ms(ans);
        if (!until)
            until = judge_retry_after_ms(ans, j->cfg->ttl_max_custom_s);
        if (!until)
            until = ans->now_ms + DEFAULT_LIMIT_MS;
    }
    judge_answer(j, ans, until, v);
    if (ans->status != 402)
        return;
    v->action = VERDICT_RETRY; /* the account's subscription, not the client's request */
    v->mark = ACC_UNAUTHORIZED;
    v->until_ms = 0;
    snprintf(v->reason, sizeof(v->reason),
             "402: payment required (the ChatGPT plan may have "
             "lapsed)");
}

/* The primary usage window of a success (x-codex-primary-used-percent and
 * -reset-after-seconds), kept in memory as the account's window. */
static void codex_observe(const struct account *acc, const struct upstream_answer *ans,
                          struct verdict *v)
{
    const char *used = upstream_header(ans, "x-codex-primary-used-percent");
    const char *reset = upstream_header(ans, "x-codex-primary-reset-after-seconds");
    (void)acc;
    if (!used || !*used || strlen(used) > 8)
        return;
    long long secs = judge_all_digits(reset) && strlen(reset) < 10 ? strtoll(reset, NULL, 10) : 0;
    snprintf(v->window, sizeof(v->window), "%.8s%% used", used);
    v->window_end_ms = secs > 0 && secs <= WINDOW_MAX_S ? ans->now_ms + secs * SEC : 0;
}

/* A committed stream's error event whose error says usage_limit_reached
 * (crs-relay-spec 5.5): the account is rate limited until the reset it
 * names (else 60 minutes), for the next requests; this one, already
 * committed, gets the events as they came. A response.failed naming it
 * marks only with a reset of its own. */
static void codex_observe_event(const struct account *acc, const struct sse_event *ev,
                                long long now_ms, struct verdict *v)
{
    (void)acc;
    if (!strstr(ev->data, "usage_limit_reached"))
        return; /* every delta: one substring scan, no parse */
    cJSON *j = json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true);
    const cJSON *e = json_get(j, "error");
    bool failed = !e; /* the response.failed that follows the error event */
    if (failed)
        e = json_get(json_get(j, "response"), "error");
    const char *what = json_str(e, "type", json_str(e, "code", ""));
    long long until = judge_error_reset_ms(e, now_ms);
    /* A response.failed without a reset must not stretch the error event's. */
    if (strcmp(what, "usage_limit_reached") == 0 && (until || !failed)) {
        v->mark = ACC_RATE_LIMITED;
        v->until_ms = until ? until : now_ms + DEFAULT_LIMIT_MS;
        snprintf(v->reason, sizeof(v->reason), "usage_limit_reached (mid-stream): %.100s",
                 json_str(e, "message", ""));
    }
    cJSON_Delete(j);
}

/* OpenAI's, and the Codex usage headers (Codex CLI shows them). */
static bool codex_keep_header(const char *name)
{
    return judge_keep_openai_header(name) || strncasecmp(name, "x-codex-", 8) == 0;
}

const struct provider provider_openai = {
    .name = "openai",
    .family = "openai",
    .record_prefix = "openai_account",
    .admin_path = "openai-accounts",
    .fields = codex_fields,
    .nfields = ARRAY_SIZE(codex_fields),
    .prepare = codex_prepare,
    .classify = codex_classify,
    .observe = codex_observe,
    .observe_event = codex_observe_event,
    .keep_header = codex_keep_header,
    .usage_event = usage_from_responses_event,
    .usage_body = usage_from_responses_body,
    .oauth = &oauth_openai,
};
