/*
 * account_state.h - account health in Redis, shared by every relay
 * instance on one Redis (crs-relay-spec 5; key names from seed 000):
 *
 *   rate_limit_state:{id}            429, until the upstream's reset (PX)
 *   rate_limit_state:{id}:{family}   429 on one model family's limit (opus, sonnet)
 *   overload:{id}                    529, for a TTL (PX)
 *   temp_unavailable:{type}:{id}     5xx / connect / timeout, for a TTL (PX)
 *   <record> status, statusReason    unauthorized / blocked: until an admin reset
 *
 * Values are JSON {status, reason, until, since} (ms). Every change is one
 * script call that also appends to the bounded stream `account_events`
 * (time, account, type, from, to, reason, until) and publishes the account
 * id on the notify channel, so other instances re-read it at once.
 */
#ifndef RELAY_ACCOUNT_STATE_H
#define RELAY_ACCOUNT_STATE_H

#include <hiredis.h>

#include "provider.h"

struct app;
struct rds_conn;
struct account;

struct account_health {
    enum account_state state;
    long long until_ms; /* 0 for permanent states */
    char reason[160];
    long long family_until[MF_COUNT]; /* live model-family limits; [MF_ANY] unused */
};

/* Commands account_state_append_reads appends: 3 states, then the families. */
#define ACCOUNT_STATE_READS (3 + MF_COUNT - 1)

/* Append the reads of one account's cooling marks to c's pipeline (no I/O). */
int account_state_append_reads(struct rds_conn *c, const struct provider *p, const char *id)
    __attribute__((warn_unused_result));
/* Decode the record's status / statusReason fields (may be NULL) and the
 * ACCOUNT_STATE_READS replies into h: the most severe state wins. */
void account_state_decode(const char *status, const char *reason,
                          redisReply *const r[ACCOUNT_STATE_READS], struct account_health *h);

/* Record a state change decided by a verdict (from: the state before). One
 * round trip. 0, -ERR_NOTFOUND (account gone), -ERR_REDIS. */
int account_state_mark(struct app *app, struct rds_conn *c, const struct account *a,
                       enum account_state from, const struct verdict *v, long long now_ms)
    __attribute__((warn_unused_result));
/* Write a relay-set flag (account_learn) to the record as "true" and tell
 * the other instances to reload their snapshots. One round trip; nothing
 * when the record is gone. 0, -ERR_REDIS. */
int account_state_learn(struct app *app, struct rds_conn *c, const struct account *a,
                        const char *field) __attribute__((warn_unused_result));
/* An admin clears every mark of the account (reset-status). One round trip. */
int account_state_reset(struct app *app, struct rds_conn *c, const struct provider *p,
                        const char *id, const char *by) __attribute__((warn_unused_result));
/* A cooling state whose time passed: the first instance to see it removes
 * the mark and appends the recovery event (atomic: exactly one event).
 * 0 (done or nothing to do), -ERR_REDIS. */
int account_state_recover(struct app *app, struct rds_conn *c, const struct account *a,
                          enum account_state st, long long now_ms)
    __attribute__((warn_unused_result));

#endif
