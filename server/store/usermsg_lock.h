/*
 * usermsg_lock.h - an account's user-turn lock in Redis (crs-relay-spec 8):
 * SK_USER_MSG_LOCK holds the owner of the turn in flight (PX the lock TTL),
 * SK_USER_MSG_LAST the time of the last release (ms epoch, EX 60). Both are
 * one script call each, so two instances can never both take a turn.
 * Thread-safe (each caller brings its connection); workers only.
 */
#ifndef RELAY_USERMSG_LOCK_H
#define RELAY_USERMSG_LOCK_H

struct rds_conn;

/* The lock is held by someone else: poll with a back-off. */
#define USERMSG_LOCK_HELD (-1)

/* Take account_id's lock for owner when it is free and delay_ms have passed
 * since the last release: SET PX ttl_ms. 0 and *wait_ms: 0 (taken, or
 * owner held it already), > 0 (free, but the delay has that many ms left)
 * or USERMSG_LOCK_HELD. -ERR_REDIS. Commands: EVALSHA + MGET (+ SET). */
int usermsg_lock_acquire(struct rds_conn *c, const char *account_id, const char *owner,
                         long long now_ms, long long delay_ms, long long ttl_ms, long long *wait_ms)
    __attribute__((warn_unused_result));
/* Give the lock back if owner still holds it, and stamp the last release
 * (now_ms, EX 60); a lock that expired and was taken by another is left
 * alone. 0 (released or not ours) or -ERR_REDIS. Commands: EVALSHA + GET
 * (+ DEL + SET). */
int usermsg_lock_release(struct rds_conn *c, const char *account_id, const char *owner,
                         long long now_ms) __attribute__((warn_unused_result));

#endif
