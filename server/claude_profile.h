/*
 * claude_profile.h - the profile of a Claude subscription account
 * (crs-relay-spec 9.1): GET CLAUDE_OAUTH_PROFILE_URL with the account's
 * token after the code exchange and after each token refresh, when the
 * account's scopes include user:profile; its subscription type, e-mail and
 * ids are stored as read-only record fields (claude_official.c). A failed
 * lookup never stops anything: the maintenance thread tries again, once per
 * CLAUDE_PROFILE_RETRY_SECONDS across instances.
 */
#ifndef RELAY_CLAUDE_PROFILE_H
#define RELAY_CLAUDE_PROFILE_H

struct app;
struct cJSON;
struct rds_conn;
struct claude_profile;

/* After a lookup: rc 0 and p (borrowed) once the record was patched, or
 * -ERR_* with err (text, never a token). Runs on a worker, or, under
 * overload, on the upstream loop (then rc is -ERR_BUSY). */
typedef void (*claude_profile_fn)(void *arg, int rc, const struct claude_profile *p,
                                  const char *err);

/* Look the profile of account id up with token (plain; copied) through proxy
 * (curl URL or NULL) and store it; done (may be NULL) gets the outcome.
 * Returns at once. 0, or -ERR_CLOSED when the upstream loop has stopped
 * (done never runs). Any thread. */
int claude_profile_fetch(struct app *app, const char *id, const char *token, const char *proxy,
                         claude_profile_fn done, void *arg) __attribute__((warn_unused_result));

/* After rec (a claude-official record, tokens sealed) was saved by the code
 * exchange or a refresh: start its lookup when its scopes include
 * user:profile (fire and forget; failures are retried by maintenance). */
void claude_profile_start(struct app *app, const struct cJSON *rec);

/* Maintenance: accounts of the snapshot with the profile scope and no
 * subscriptionType yet are looked up again - each only by the instance that
 * takes `claude_profile_retry:{id}` (SET NX PX the retry interval). No
 * Redis when no account is due. */
void claude_profile_due(struct app *app, struct rds_conn *c);

#endif
