/*
 * txn.h - the request transaction: one relayed request's whole life.
 *
 * A transaction owns the request (a reference on its reqctx), the client
 * format, the key, its leases, the attempt list, the chosen account and
 * provider, and the usage. It runs explicit steps; each returns NEXT, WAIT
 * (resumed later by an event - the upstream's answer, a worker job) or DONE:
 *
 *   step          thread          may wait for         may go back to
 *   intake        worker          -                    -
 *   authenticate  worker (Redis)  -                    -
 *   admit         worker          -                    -
 *   schedule      worker          -                    -
 *   user turn     worker (Redis)  a timer (usermsg.h)  -
 *   prepare       worker          -                    -
 *   attempt       worker          the upstream answer  -
 *   decide        upstream loop   -                    schedule (retry, via a worker job)
 *   relay         upstream loop   bytes                -
 *   finish        any (once)      -                    -
 *
 * A waiting transaction holds no thread. The upstream loop never touches
 * Redis: decide sets an account's state in memory at once and leaves the
 * Redis write to a worker job. finish is the one exit: it records usage
 * once and releases every lease exactly once, on every path (success,
 * client abort, upstream error, timeout, shutdown).
 */
#ifndef RELAY_TXN_H
#define RELAY_TXN_H

#include <stdbool.h>
#include <stddef.h>

struct reqctx;
struct relay_op;
struct client_format;
struct app;

/* Run a relay request (route handler, worker thread). The handler returns
 * at once; the transaction goes on by itself. */
void txn_start(struct reqctx *rq, const struct relay_op *op);
struct api_key;
/* Only the key check, for the routes that read about the key (the model
 * list, key-info): a new reference when the key may be used (keys_unref
 * it), else NULL after the error was replied in fmt's shape. Never
 * activates a key. */
struct api_key *txn_key_only(struct reqctx *rq, const struct client_format *fmt);
/* True when rq's transaction would send Redis nothing and never wait until
 * its upstream attempt: its key is cached, usable and has no stateful
 * limits, and it carries no sticky session (whose binding lives in Redis).
 * A user turn the user message queue holds moves to a worker before its
 * account's turn is taken (reqctx_inline).
 * The I/O thread may then run it (route.inline_ok). */
bool txn_inline_ok(struct reqctx *rq);
/* The same for a route of client format fmt (txn_inline_ok: Anthropic):
 * the format says whether the request carries a sticky session. */
bool txn_inline_ok_for(struct reqctx *rq, const struct client_format *fmt);
/* An admin's account test (txn_test.c): what the admin's body asked for. */
#define TXN_TEST_MODEL_MAX 200   /* characters */
#define TXN_TEST_PROMPT_MAX 2000 /* characters */
#define TXN_TEST_TOKENS_MAX 1024
#define TXN_TEST_TOKENS_DEFAULT 16
#define TXN_TEST_TEXT_MAX 500 /* characters of the answer's text in the reply */
struct txn_test_params {
    const char *model;  /* NULL or "": the account's first supportedModels entry, else the
                         * type's default */
    const char *prompt; /* NULL or "": "Hello" */
    int max_tokens;     /* 1..TXN_TEST_TOKENS_MAX */
};
struct provider;
/* POST /admin/<type>-accounts/:id/test (admin handler, worker): one small
 * request through exactly the account id of type p, on this pipeline with
 * the account pinned and no key - nothing billed, counted or logged to a
 * key, no failover, no shared slot; the provider's judgement applies (a 401
 * marks the account as a real request would); a paused account may be
 * tested. The reply comes later, always 200: {success, data: {ok, status,
 * latencyMs, model, text, error, accountId, type}}. 0, or -ERR_NOTFOUND
 * (no such account in the snapshot: nothing replied, the caller answers). */
int txn_test_start(struct reqctx *rq, const struct provider *p, const char *id,
                   const struct txn_test_params *tp) __attribute__((warn_unused_result));
/* The text of a test's 2xx answer body in any native shape - Messages,
 * Responses (JSON, or with sse its output_text deltas), Gemini and Code
 * Assist's {response} - at most TXN_TEST_TEXT_MAX characters and tlen - 1
 * bytes, cut before a UTF-8 code point, into text; error (NUL-terminated,
 * "" when none) what the answer reports instead (not JSON, an error event).
 * Pure. */
void txn_test_summary(const char *body, size_t len, bool sse, char *text, size_t tlen, char *error,
                      size_t elen);
/* Transactions alive now (for /health and the tests). */
long long txn_live(struct app *app);

#endif
