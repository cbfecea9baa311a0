/*
 * login_throttle.h - growing delays between failed admin logins, by
 * (username, client address) and by address, checked and counted in one
 * Redis script.
 *
 * Every attempt is counted as a failure when it starts (so parallel
 * attempts cannot slip past the limit between a check and a count) and a
 * successful login clears its (username, address) record. The first
 * LOGIN_MAX_FAILURES attempts of a pair go through at once; after that each
 * one opens the next only after a delay that doubles from 1 s up to
 * LOGIN_LOCKOUT_SECONDS. An address has 4x the budget across all user names.
 * The right password is never refused for longer than the current delay,
 * and failures from another address never delay it at all.
 */
#ifndef RELAY_LOGIN_THROTTLE_H
#define RELAY_LOGIN_THROTTLE_H

struct reqctx;
struct rds_conn;

/* Before verifying a password for username: 0 and *wait_ms = 0 when the
 * attempt may go ahead (it is now counted), or 0 and *wait_ms > 0 (nothing
 * counted: refuse with 429, Retry-After). -ERR_REDIS when Redis failed. */
int login_throttle_begin(struct reqctx *rq, struct rds_conn *c, const char *username,
                         long long *wait_ms) __attribute__((warn_unused_result));
/* After a successful login: forget the (username, address) failures. */
void login_throttle_clear(struct reqctx *rq, struct rds_conn *c, const char *username);

#endif
