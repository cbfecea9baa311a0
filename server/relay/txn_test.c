/*
 * txn_test.c - an admin's account test (POST /admin/<type>-accounts/:id/test):
 * one small request through exactly that account, on the relay's own
 * request transaction (txn.c), summed up as the admin's JSON.
 *
 * DESIGN: the transaction starts at its prepare step with the account
 * pinned and no key: the account's own prepare (URL, auth header, proxy,
 * its upstream model), the token refresh wait of an expiring OAuth token,
 * the upstream loop (no thread waits) and the provider's judgement (a 401
 * marks the account unauthorized as a real request would) all run as for a
 * relayed request. What differs: no key means no admission, no usage, no
 * statistics, no request log (finish accounts only for a key); no shared
 * concurrency slot and no user turn; no failover (a pinned account has no
 * next one); the answer is collected (stream_collect: at most
 * TXN_TEST_BODY_MAX bytes, TXN_TEST_TIMEOUT_MS in all) and replied as
 * {success, data: {ok, status, latencyMs, model, text, error, accountId,
 * type}}, 200 even when the upstream failed. A paused or unschedulable
 * account may be tested: testing before enabling is the point.
 *
 * The upstream request is the account type's native one (Claude Messages,
 * OpenAI Responses - streamed for the Codex backend, which takes only
 * streams - Gemini generateContent, wrapped by the Code Assist provider's
 * prepare). The admin's request lends the provider its headers through the
 * providers' allow-lists, which never pass credentials (cookie,
 * authorization, x-admin-*).
 */
#include "compat.h"
#include "clock.h"
#include "accounts.h"
#include "app.h"
#include "errs.h"
#include "format.h"
#include "gemini.h"
#include "json.h"
#include "log.h"
#include "reqctx.h"
#include "sse.h"
#include "stream.h"
#include "txn.h"
#include "txn_int.h"
#include "xmalloc.h"

#include <stdatomic.h>

#define TEXT_MAX TXN_TEST_TEXT_MAX
#define ERROR_MAX 300 /* characters of an error message */

struct txn_test {
    struct buf text; /* the answer's text, bounded */
    char error[ERROR_MAX + 1];
};

/* The transaction's format hooks are never reached for a test: txn_fail
 * and the decide hook answer through this file (t->test). */
static const struct relay_op test_op = {&format_anthropic, "messages", false};

static const struct {
    const char *family;
    const char *model;
} default_models[] = {
    {"claude", "claude-sonnet-4-5-20250929"},
    {"openai", "gpt-5"},
    {"gemini", "gemini-2.5-flash"},
};

void txn_test_free(struct txn_test *x)
{
    if (!x)
        return;
    buf_release(&x->text);
    free(x);
}

/* ---- the request ---- */

/* The account's first supportedModels entry, else its family's default. */
static const char *default_model(const struct account *a)
{
    const cJSON *spec = account_json(a, "supportedModels");
    const cJSON *first = spec ? spec->child : NULL;
    if (cJSON_IsString(first) && first->valuestring[0])
        return first->valuestring;
    if (first && first->string && first->string[0])
        return first->string;
    for (size_t i = 0; i < ARRAY_SIZE(default_models); i++)
        if (strcmp(default_models[i].family, a->prov->family) == 0)
            return default_models[i].model;
    return "";
}

static cJSON *user_text(const char *role, const char *part_key, const char *text)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON *parts = cJSON_AddArrayToObject(m, part_key);
    cJSON *p = cJSON_CreateObject();
    if (strcmp(part_key, "content") == 0)
        cJSON_AddStringToObject(p, "type", "input_text");
    cJSON_AddStringToObject(p, "text", text);
    cJSON_AddItemToArray(parts, p);
    return m;
}

/* The native body and endpoint of the account's type (owned, printed). */
static char *native_body(const struct account *a, const struct txn_test_params *tp,
                         const char **endpoint)
{
    const struct provider *p = a->prov;
    cJSON *o = cJSON_CreateObject();
    if (strcmp(p->family, "gemini") == 0) {
        *endpoint = "generateContent";
        cJSON *contents = cJSON_AddArrayToObject(o, "contents");
        cJSON_AddItemToArray(contents, user_text("user", "parts", tp->prompt));
        cJSON *gc = cJSON_AddObjectToObject(o, "generationConfig");
        cJSON_AddNumberToObject(gc, "maxOutputTokens", tp->max_tokens);
    } else if (strcmp(p->family, "openai") == 0) {
        *endpoint = "responses";
        bool codex = strcmp(p->name, "openai") == 0; /* its backend serves streams only */
        cJSON_AddStringToObject(o, "model", tp->model);
        cJSON *input = cJSON_AddArrayToObject(o, "input");
        cJSON_AddItemToArray(input, user_text("user", "content", tp->prompt));
        if (!codex)
            cJSON_AddNumberToObject(o, "max_output_tokens", tp->max_tokens);
        cJSON_AddBoolToObject(o, "stream", codex);
    } else {
        *endpoint = "messages";
        cJSON_AddStringToObject(o, "model", tp->model);
        cJSON_AddNumberToObject(o, "max_tokens", tp->max_tokens);
        cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", tp->prompt);
        cJSON_AddItemToArray(msgs, m);
        cJSON_AddBoolToObject(o, "stream", false);
    }
    char *s = json_print(o);
    cJSON_Delete(o);
    return s;
}

/* ---- the answer ---- */

/* As much of s as fits: the reply shows its first TEXT_MAX characters. */
static void add_text(struct txn_test *x, const char *s)
{
    size_t room = x->text.max - x->text.len, n = s ? strlen(s) : 0;
    if (buf_append(&x->text, s, n < room ? n : room) != 0)
        return; /* not reached: bounded by room */
}

static void text_of_parts(struct txn_test *x, const cJSON *parts, const char *type)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, parts)
    {
        if (!type || strcmp(json_str(it, "type", ""), type) == 0)
            add_text(x, json_str(it, "text", ""));
    }
}

/* The text of a JSON answer in any of the native shapes: Messages
 * (content[].text), Responses (output[].content[] output_text), Gemini
 * (candidates[0].content.parts[].text, Code Assist's inside "response"). */
static void text_of_json(struct txn_test *x, const cJSON *j)
{
    const cJSON *inner = json_get(j, "response");
    if (cJSON_IsObject(inner) && json_get(inner, "candidates"))
        j = inner;
    const cJSON *cand = cJSON_GetArrayItem(json_get(j, "candidates"), 0);
    if (cand) {
        text_of_parts(x, json_get(json_get(cand, "content"), "parts"), NULL);
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, json_get(j, "output"))
    {
        if (strcmp(json_str(it, "type", ""), "message") == 0)
            text_of_parts(x, json_get(it, "content"), "output_text");
    }
    text_of_parts(x, json_get(j, "content"), "text");
}

/* An error's message from {error: {message}}, {error: "..."} or {message}. */
static bool error_of_json(struct txn_test *x, const cJSON *j)
{
    const cJSON *e = json_get(j, "error");
    const char *m = cJSON_IsString(e) ? e->valuestring : json_str(e, "message", "");
    if (!*m)
        m = json_str(j, "message", "");
    if (!*m)
        return false;
    snprintf(x->error, sizeof(x->error), "%s", m);
    return true;
}

/* One event of a streamed answer (the Codex backend's): text deltas, and
 * an error event or a failed response. */
static int on_event(void *arg, const struct sse_event *ev)
{
    struct txn_test *x = arg;
    cJSON *j = json_parse(ev->data, ev->data_len, 16, true);
    const char *type = json_str(j, "type", ev->event);
    if (strcmp(type, "response.output_text.delta") == 0)
        add_text(x, json_str(j, "delta", ""));
    else if (strcmp(type, "content_block_delta") == 0)
        add_text(x, json_str(json_get(j, "delta"), "text", ""));
    else if ((strcmp(type, "error") == 0 || strcmp(type, "response.failed") == 0) &&
             !x->error[0]) /* the first error names it */
        if (!error_of_json(x, j) && !error_of_json(x, json_get(j, "response")))
            snprintf(x->error, sizeof(x->error), "%s", type);
    cJSON_Delete(j);
    return 0;
}

static bool is_event_stream(const struct upstream_answer *ans)
{
    const char *ct = upstream_header(ans, "content-type");
    return ct && strstr(ct, "text/event-stream");
}

/* A 2xx answer's text (and an error it reports inside). */
static void read_success(struct txn_test *x, const char *body, size_t len, bool sse)
{
    if (sse) {
        struct sse_parser sp;
        sse_init(&sp, TXN_TEST_BODY_MAX, on_event, x);
        if (sse_feed(&sp, body, len) == 0)
            sse_feed(&sp, "\n\n", 2); /* a last event without its blank line */
        sse_release(&sp);
        return;
    }
    cJSON *j = json_parse(body, len, 32, true);
    if (!j)
        snprintf(x->error, sizeof(x->error), "the answer is not JSON");
    text_of_json(x, j);
    cJSON_Delete(j);
}

static void read_failure(struct txn_test *x, const struct upstream_answer *ans,
                         const struct verdict *v)
{
    if (ans->result == -ERR_TIMEOUT) {
        snprintf(x->error, sizeof(x->error), "timeout");
        return;
    }
    if (ans->result == -ERR_TOOBIG) {
        snprintf(x->error, sizeof(x->error), "the answer is larger than %d KiB",
                 TXN_TEST_BODY_MAX / 1024);
        return;
    }
    cJSON *j = ans->body_len ? json_parse(ans->body, ans->body_len, 16, true) : NULL;
    bool named = error_of_json(x, j);
    cJSON_Delete(j);
    if (!named)
        snprintf(x->error, sizeof(x->error), "%s",
                 v && v->reason[0] ? v->reason
                 : ans->status     ? "upstream error"
                                   : err_str(ans->result));
}

/* At most TEXT_MAX characters (UTF-8 code points) of s and fewer than max
 * bytes, cut before a code point. */
static size_t text_cut(const char *s, size_t len, size_t max)
{
    size_t i = 0, chars = 0;
    while (i < len && chars < TEXT_MAX) {
        size_t next = i + 1;
        while (next < len && ((unsigned char)s[next] & 0xC0) == 0x80)
            next++;
        if (next >= max)
            break;
        i = next;
        chars++;
    }
    return i;
}

/* The collected text, cut, into out (NUL-terminated). */
static void copy_text(const struct txn_test *x, char *out, size_t max)
{
    const char *s = x->text.data ? x->text.data : "";
    if (!max)
        return;
    size_t n = text_cut(s, x->text.len, max);
    memcpy(out, s, n);
    out[n] = '\0';
}

void txn_test_summary(const char *body, size_t len, bool sse, char *text, size_t tlen, char *error,
                      size_t elen)
{
    struct txn_test x = {.error = ""};
    buf_init(&x.text, 4 * TEXT_MAX);
    read_success(&x, body, len, sse);
    copy_text(&x, text, tlen);
    snprintf(error, elen, "%s", x.error);
    buf_release(&x.text);
}

/* {success: true, data: {...}}; status 0 when no upstream answered. */
static cJSON *result_json(const struct txn *t, bool ok, int status)
{
    const struct txn_test *x = t->test;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "success", true);
    cJSON *d = cJSON_AddObjectToObject(root, "data");
    cJSON_AddBoolToObject(d, "ok", ok);
    cJSON_AddNumberToObject(d, "status", status);
    cJSON_AddNumberToObject(d, "latencyMs", t->natt ? (double)t->att[0].ms : 0);
    cJSON_AddStringToObject(d, "model", t->req.model);
    char text[4 * TEXT_MAX + 1];
    copy_text(x, text, sizeof(text));
    cJSON_AddStringToObject(d, "text", text);
    if (!ok)
        cJSON_AddStringToObject(d, "error", x->error[0] ? x->error : "failed");
    cJSON_AddStringToObject(d, "accountId", t->acc->id);
    cJSON_AddStringToObject(d, "type", t->acc->prov->name);
    log_info("admin", "account test: account=%s type=%s ok=%d upstream=%d ms=%ld", t->acc->id,
             t->acc->prov->name, ok, status, t->natt ? t->att[0].ms : 0L);
    return root;
}

void txn_test_answer(struct txn *t, const struct upstream_answer *ans, const struct verdict *v,
                     struct stream_reply *rep)
{
    struct txn_test *x = t->test;
    bool ok = !ans->result && ans->status >= 200 && ans->status < 300;
    if (ok)
        read_success(x, ans->body, ans->body_len, is_event_stream(ans));
    else
        read_failure(x, ans, v);
    ok = ok && !x->error[0];
    format_reply_json(rep, 200, result_json(t, ok, ans->result ? 0 : ans->status));
}

void txn_test_fail(struct txn *t, enum relay_err e, const char *msg)
{
    struct txn_test *x = t->test;
    const char *m = e == RERR_UPSTREAM_TIMEOUT ? "timeout" : msg ? msg : errors_message(e);
    snprintf(x->error, sizeof(x->error), "%s", m);
    cJSON *root = result_json(t, false, 0);
    if (!t->st) {
        reqctx_reply_json(t->rq, 200, root);
        return;
    }
    struct stream_reply rep = {0};
    format_reply_json(&rep, 200, root);
    stream_reply(t->st, &rep);
}

/* ---- the entry point ---- */

/* An answer without any upstream call (a model the account refuses). */
static void answer_now(struct txn *t, const char *msg)
{
    txn_fail(t, RERR_BAD_REQUEST, msg);
    txn_finish(t);
}

static struct txn *test_txn(struct reqctx *rq, struct account_list *snap, struct account *a)
{
    struct txn *t = xcalloc(1, sizeof(*t));
    t->app = reqctx_app(rq);
    t->rq = reqctx_ref(rq);
    t->op = &test_op;
    t->client_fd = reqctx_client_fd(rq);
    t->t0_ms = clock_mono_ms();
    t->snap = snap;
    t->acc = a;
    t->test = xcalloc(1, sizeof(*t->test));
    buf_init(&t->test->text, 4 * TEXT_MAX); /* bytes enough for TEXT_MAX code points */
    atomic_fetch_add(&t->app->stats.transactions, 1);
    reqctx_note_account(rq, a->id);
    return t;
}

int txn_test_start(struct reqctx *rq, const struct provider *p, const char *id,
                   const struct txn_test_params *tp)
{
    struct account_list *snap = accounts_snapshot(reqctx_app(rq)->accounts);
    struct account *a = id ? account_list_find(snap, id) : NULL;
    if (!a || a->prov != p) {
        accounts_list_release(snap);
        return -ERR_NOTFOUND;
    }
    struct txn *t = test_txn(rq, snap, a);
    struct txn_test_params q = *tp;
    q.model = q.model && *q.model ? q.model : default_model(a);
    q.prompt = q.prompt && *q.prompt ? q.prompt : "Hello";
    snprintf(t->req.model, sizeof(t->req.model), "%s", q.model);
    reqctx_note_model(rq, t->req.model);
    log_info("admin", "%s account %s tested by %s", p->name, a->id, reqctx_admin(rq));
    if (strlen(q.model) >= sizeof(t->req.model) ||
        (strcmp(p->family, "gemini") == 0 && !gemini_model_ok(q.model, sizeof(t->req.model)))) {
        answer_now(t, "The model name cannot be sent to this account type");
        return 0;
    }
    if (p->supports_model && *q.model && !p->supports_model(a, q.model)) {
        answer_now(t, "The account does not support this model (supportedModels)");
        return 0;
    }
    t->conv_body = native_body(a, &q, &t->endpoint);
    t->conv_len = strlen(t->conv_body);
    t->step = TS_PREPARE;
    txn_run(t);
    return 0;
}
