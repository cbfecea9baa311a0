/*
 * marks.h - what an upstream answer teaches about its account, applied from
 * the request path: a health state (cooling, unauthorized, blocked) or a
 * relay-set flag of its schema (e.g. countTokensUnavailable). Either takes
 * effect in this instance's memory at once, so concurrent requests see it;
 * Redis - and through relay:notify every other instance - gets it from a
 * worker job, never from the upstream loop that judged the answer.
 */
#ifndef RELAY_MARKS_H
#define RELAY_MARKS_H

#include "provider.h"

struct app;
struct account;

/* Apply v's mark to acc (borrowed; the job keeps its own snapshot
 * reference). Nothing when the account is already so marked, at least as
 * long. Thread-safe. */
void marks_state(struct app *app, const struct account *acc, const struct verdict *v,
                 long long now_ms);
/* Set the flag field (a static name) of acc's schema; nothing when set
 * already. Thread-safe. */
void marks_learn(struct app *app, const struct account *acc, const char *field);
/* Write the text field (a static name; FIELD_READONLY FT_STR) of acc's
 * record once: the first call per account and instance queues one record
 * patch on a worker (which reloads the snapshot and tells the others);
 * later ones do nothing. Thread-safe. */
void marks_learn_text(struct app *app, const struct account *acc, const char *field,
                      const char *value);

#endif
