/*
 * token_refresh.h - renew OAuth tokens (every OAuth kind, oauth_kind.h)
 * before they expire (a maintenance job) or on demand. One instance at a
 * time per account: a Redis lock `token_refresh_lock:<kind>:{id}` holding
 * this attempt's owner token
 * (SET NX PX, released only while still ours). The token POST runs on the
 * upstream loop; its answer is handled on a worker.
 */
#ifndef RELAY_TOKEN_REFRESH_H
#define RELAY_TOKEN_REFRESH_H

#include <stdbool.h>

struct app;
struct rds_conn;
struct account;
struct token_refresh;

typedef void (*token_refresh_wake_fn)(void *arg);
/* rc 0 (refreshed) or -ERR_*, with the upstream's refusal or what failed in err. */
typedef void (*token_refresh_done_fn)(void *arg, int rc, const char *err);

/* Start a refresh for every OAuth account whose token expires
 * within TOKEN_REFRESH_LEAD_SECONDS and whose lock this instance takes.
 * Returns at once (no upstream wait). Maintenance thread. */
void token_refresh_due(struct app *app, struct rds_conn *c);

/* Refresh a's token now, due or not (an admin asked): done runs once on a
 * worker with the outcome. 0 (started), -ERR_BUSY (another refresh of it
 * runs: done never runs), -ERR_INVAL (no refresh token), -ERR_CLOSED.
 * Worker thread (uses c). */
int token_refresh_now(struct app *app, struct rds_conn *c, const struct account *a,
                      token_refresh_done_fn done, void *arg) __attribute__((warn_unused_result));

/* The waiters of on-demand refreshes (app->refresh). free wakes any left. */
struct token_refresh *token_refresh_new(struct app *app);
void token_refresh_free(struct token_refresh *tr);
/* True when a's token (an OAuth kind's, refreshable) expires within its
 * kind's demand lead (a minute): a request should wait for its refresh before using it. Pure. */
bool token_refresh_stale(const struct account *a, long long now_ms);
/* True when a's token (an OAuth kind's) has expired. Pure. */
bool token_refresh_expired(const struct account *a, long long now_ms);
/* Wait for a's token to be renewed: wake(arg) runs once, on a worker (or
 * at shutdown on the thread tearing down), when this instance's refresh
 * ended, when the snapshot holds a fresh token, or after a bounded wait -
 * whatever the outcome; the caller re-reads the snapshot. Never blocks:
 * the refresh itself starts on a worker. 0, or -ERR_BUSY when no worker
 * can take it (wake never runs: go on with the token as it is). */
int token_refresh_demand(struct app *app, const struct account *a, token_refresh_wake_fn wake,
                         void *arg) __attribute__((warn_unused_result));

#endif
