/*
 * usermsg.h - the user message queue (USER_MESSAGE_QUEUE_*, off by default;
 * crs-relay-spec 8): new user turns are sent to an upstream account one at
 * a time, each at least USER_MESSAGE_QUEUE_DELAY_MS after the previous
 * one's answer, to keep the account under its message rate.
 *
 * A user turn (format_request.user_turn: the last message is the user's
 * and carries no tool result; Gemini: the last content is the user's and
 * answers no function call) on the messages endpoint (Gemini's
 * generateContent / streamGenerateContent) queues on an account
 * when USER_MESSAGE_QUEUE_ENABLED is on or the account's userMessageQueue
 * is. Tool-result continuations and count_tokens never queue: they are
 * part of a turn already under way, or not a message at all.
 *
 * The transaction takes the account's turn after the schedule step and
 * before the attempt (usermsg_try, one script call on a worker). When the
 * turn is not free it waits on a timer - a delayed job on the worker pool,
 * the concurrency queue's mechanism - holding no thread, and tries again
 * after the delay that is left, or after a back-off of 50 ms growing by 1.5
 * to 500 ms (jitter +-15 %) while another request holds the turn, until
 * USER_MESSAGE_QUEUE_TIMEOUT_MS. The turn is given back (usermsg_release,
 * a worker job) as soon as the upstream answered: at a stream's 2xx
 * headers, a JSON answer's complete body, or a failed attempt before the
 * next account is tried; finish gives back whatever is still held.
 *
 * Nothing clears locks at start: with several instances on one Redis a
 * starting relay would delete another's live turn. A lock left by a relay
 * that died ends with its TTL (USER_MESSAGE_QUEUE_LOCK_TTL_MS).
 */
#ifndef RELAY_USERMSG_H
#define RELAY_USERMSG_H

#include <stdbool.h>

#include "usermsg_lock.h"

struct app;
struct account;
struct relay_config;
struct refusal;

#define USERMSG_BACKOFF_FIRST_MS 50
#define USERMSG_BACKOFF_MAX_MS 500

/* One request's turn on one account; embedded in the transaction, zeroed. */
struct usermsg_turn {
    char account[37];     /* the account waited for or held; "" before the first try */
    char owner[48];       /* <instance>-<request id>: the lock's value */
    long long since_ms;   /* monotonic: when the wait on this account began */
    long long backoff_ms; /* the next poll while the turn is held elsewhere */
    bool held;
};

/* Does a request (endpoint, user_turn) queue on account a, with the relay's
 * queue switch queue_on (settings: userMessageQueueEnabled)? Pure. */
bool usermsg_applies(bool queue_on, const struct account *a, const char *endpoint, bool user_turn);
/* Try to take a's turn for owner (a worker: one script call). 0 with
 * *retry_ms 0 (held: u->held) or > 0 (try again after that many ms);
 * -ERR_TIMEOUT once the wait on a exceeded the timeout; -ERR_REDIS. A new
 * account starts a new wait. */
int usermsg_try(struct app *app, struct usermsg_turn *u, const struct account *a, const char *owner,
                long *retry_ms) __attribute__((warn_unused_result));
/* The next poll after a try that did not get the turn: wait_ms > 0 is the
 * delay left, USERMSG_LOCK_HELD the back-off (advanced in u; jitter from
 * rnd in [0, 1000]); never past the timeout (left_ms), at least 1. Pure. */
long usermsg_next_poll(struct usermsg_turn *u, long long wait_ms, long long left_ms, unsigned rnd);
/* Give the turn back if held: a worker job (any thread, no Redis here).
 * Exactly once: u->held is cleared. */
void usermsg_release(struct app *app, struct usermsg_turn *u);
/* The refusal for a failed wait: -ERR_TIMEOUT 503 queue_timeout (the
 * caller adds x-user-message-queue-error), else 500 queue_backend_error. */
void usermsg_refusal(int rc, struct refusal *r);

#endif
