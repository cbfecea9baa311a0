/*
 * token_refresh.h - renew Claude OAuth tokens before they expire (a
 * maintenance job). One instance at a time per account: a Redis lock
 * `token_refresh_lock:claude:{id}` holding this attempt's owner token
 * (SET NX PX, released only while still ours). The token POST runs on the
 * upstream loop; its answer is handled on a worker.
 */
#ifndef RELAY_TOKEN_REFRESH_H
#define RELAY_TOKEN_REFRESH_H

struct app;
struct rds_conn;

/* Start a refresh for every claude-official account whose token expires
 * within TOKEN_REFRESH_LEAD_SECONDS and whose lock this instance takes.
 * Returns at once (no upstream wait). Maintenance thread. */
void token_refresh_due(struct app *app, struct rds_conn *c);

#endif
