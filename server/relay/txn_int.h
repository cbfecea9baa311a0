/*
 * txn_int.h - the request transaction's inside, shared by the files that
 * implement it (txn.c: steps, finish and stream hooks; txn_sticky.c:
 * sticky sessions; txn_waits.c: the waits for a token refresh and for an
 * account's user turn). Nothing outside server/relay/txn*.c includes it;
 * txn.h is the interface.
 */
#ifndef RELAY_TXN_INT_H
#define RELAY_TXN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "format.h"
#include "provider.h"
#include "scheduler.h"
#include "session_hash.h"
#include "usage.h"
#include "usermsg.h"

struct account;
struct account_list;
struct api_key;
struct app;
struct lease;
struct reqctx;
struct stream;
struct refusal;
struct conversion;
struct conv_stream;
struct buf;
struct sse_event;
struct txn_test;

#define REDIS_WAIT_MS 3000
#define TXN_TEST_TIMEOUT_MS 30000     /* an account test's whole upstream call */
#define TXN_TEST_BODY_MAX (64 * 1024) /* the most of its answer read */
#define ATTEMPTS_CAP SCHED_TRIED_MAX
#define ACCOUNTS_FULL_MSG                                                                          \
    "All available accounts have reached their concurrency limit. Please try again later."

enum txn_step {
    TS_INTAKE = 0,
    TS_AUTHENTICATE = 1,
    TS_ADMIT = 2,
    TS_SCHEDULE = 3,
    TS_USER_TURN = 4, /* the account's user-turn lock (usermsg.h); may wait on a timer */
    TS_PREPARE = 5,
    TS_ATTEMPT = 6,
    TS_DECIDE = 7, /* upstream loop: stream hooks */
    TS_RELAY = 8,  /* upstream loop: committed bytes flow */
};

/* STEP_GOTO: the step set t->step to the one to run next (a way back). */
enum step_rc { STEP_NEXT = 0, STEP_WAIT = 1, STEP_DONE = 2, STEP_GOTO = 3 };

struct attempt {
    char account[9]; /* id prefix, enough to grep */
    int status;      /* HTTP status, or 0 for a transport failure */
    long ms;
};

/* The last failed answer, to answer with when no account is left. */
struct last_answer {
    int status;
    int result;
    char *body;
    size_t len;
    char should_retry[8];
    char retry_after[32];
};

struct txn {
    struct app *app;
    struct reqctx *rq;
    const struct relay_op *op;
    struct stream *st;
    enum txn_step step;
    struct format_request req;
    struct api_key *key;
    struct lease *lease;   /* the key's concurrency slot, when it has a limit */
    char lease_member[48]; /* its member in concurrency:{keyId} */
    struct account_list *snap;
    struct account *acc;
    struct lease *acc_lease; /* a slot of an account with maxConcurrentTasks */
    char acc_lease_id[37];   /* that account: its concurrency:{id} holds acc_member */
    char acc_member[48];
    int full; /* accounts that refused this request at their concurrency limit */
    struct upstream_req ureq;
    bool leased;
    bool refresh_waited; /* waited once for an account's token refresh */
    int client_fd;
    struct sched_tried tried;
    struct usermsg_turn turn; /* the account's user-turn lock, when the queue applies */
    bool on_io;               /* steps run on the I/O thread: no Redis before a worker hop */
    bool turn_waiting;        /* on a timer for the turn: counted in stats.user_turns_waiting */
    char session[SESSION_HASH_MAX]; /* sticky-session hash; "" = not sticky */
    char sticky[37];                /* the account the session is bound to; "" = none */
    bool sticky_read;               /* the binding was looked up (first schedule) */
    struct attempt att[ATTEMPTS_CAP];
    int natt;
    long long att_t0;
    long long t0_ms;    /* monotonic: the transaction began */
    long long first_ms; /* monotonic: the answer's first event or body; 0: none yet */
    struct usage usage;
    char up_model[96]; /* the model the account was sent, when it maps the client's */
    struct last_answer last;
    /* the conversion slot (txn_convert.c): NULL conv = bytes unchanged */
    const char *endpoint; /* the upstream endpoint: the route's, or the conversion's */
    const struct conversion *conv;
    struct conv_stream *cs; /* the committed stream's filter state */
    char *conv_body;        /* the converted request body */
    size_t conv_len;
    long long created; /* the converted answer's creation time (unix s) */
    bool unwrap;       /* the committed answer is the provider's to unwrap (provider.h) */
    size_t elems;      /* unwrapped elements of a JSON-array stream so far */
    /* An admin's account test (txn_test.c): no key, the account pinned, no
     * failover, the answer summed up in the admin's JSON; NULL: a relay. */
    struct txn_test *test;
};

/* ---- txn.c ---- */

/* An error in the client's shape (a plain reply, or the stream's). */
void txn_fail(struct txn *t, enum relay_err e, const char *msg);
/* A policy refusal in the client's shape. */
void txn_refuse(struct txn *t, struct refusal *r);
/* The one exit: usage once, every lease once, the reply sent. */
void txn_finish(struct txn *t);
/* Run steps from t->step until one waits or the transaction is done. */
void txn_run(struct txn *t);
/* A worker job that runs the steps (tpool_fn). */
void txn_resume_job(void *arg);
/* What the scheduler is asked for this request at now_ms. */
struct sched_request txn_sched_req(const struct txn *t, long long now_ms);
/* Keep the client's connection until the transaction answers (the stream
 * exists from now on). */
void txn_keep_connection(struct txn *t);

/* ---- txn_sticky.c ---- */

/* The session's binding, looked up once; false on the I/O thread when
 * Redis is needed (hand over to a worker). */
bool txn_sticky_lookup(struct txn *t);
bool txn_sticky_bind_needed(const struct txn *t, const struct account *a);
/* Bind (or rebind) the session to a: Redis, one round trip. */
void txn_sticky_bind(struct txn *t, const struct account *a);
/* True when rq has no session or its binding is cached here. */
bool txn_session_local(struct reqctx *rq, const struct client_format *fmt);

/* ---- txn_convert.c ---- */

/* Intake: the conversion for the request's format and family and the
 * body it sends upstream; false when the body cannot be converted (the
 * 400 naming the field was sent). */
bool txn_convert_request(struct txn *t);
/* The body the upstream gets: the converted one, else the client's. */
const char *txn_body(const struct txn *t, size_t *len);
/* At commit: true (and a fresh filter state) when the answer is converted. */
bool txn_convert_begin(struct txn *t);
/* The stream's filter and body transform (stream.h). */
int txn_convert_event(struct txn *t, const struct sse_event *ev, struct buf *out);
char *txn_convert_body(struct txn *t, const char *body, size_t len, size_t *out_len);
void txn_convert_release(struct txn *t);

/* ---- txn_test.c ---- */

/* A test's error before or instead of an upstream answer, as its JSON. */
void txn_test_fail(struct txn *t, enum relay_err e, const char *msg);
/* A test's upstream answer (judged: v) as its JSON reply (upstream loop). */
void txn_test_answer(struct txn *t, const struct upstream_answer *ans, const struct verdict *v,
                     struct stream_reply *rep);
void txn_test_free(struct txn_test *x);

/* ---- txn_waits.c ---- */

/* Hand the transaction to a worker now (delay_ms 0) or on a timer. */
enum step_rc txn_hand_over(struct txn *t, long delay_ms);
/* An OAuth token about to expire: true when the transaction now waits for
 * its refresh (no thread held). */
bool txn_wait_for_token(struct txn *t);
/* The user turn step (usermsg.h). */
enum step_rc txn_step_user_turn(struct txn *t);

#endif
