/*
 * account_groups.h - account groups (crs-admin-spec 2.3): a named set of
 * accounts of one platform that a key binds with "group:<gid>" in its
 * claudeConsoleAccountId; the scheduler then picks only among the members.
 *
 * Records: SK_ACCOUNT_GROUPS (ids), SK_ACCOUNT_GROUP (id, name, platform,
 * description, createdAt, updatedAt), SK_ACCOUNT_GROUP_MEMBERS (account
 * ids). Every write publishes "accounts" and refreshes this instance's
 * snapshot, which carries the membership (accounts.h): the request path
 * never reads a group from Redis. Called from admin handlers (workers).
 */
#ifndef RELAY_ACCOUNT_GROUPS_H
#define RELAY_ACCOUNT_GROUPS_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct rds_conn;
struct cJSON;

/* Every group as an array of {id, name, platform, description, createdAt,
 * updatedAt, memberCount}, oldest first. Caller deletes. 0 or -ERR_REDIS. */
int account_groups_list(struct rds_conn *c, struct cJSON **out) __attribute__((warn_unused_result));
/* One group (strings) with memberCount. 0, -ERR_NOTFOUND, -ERR_REDIS. */
int account_groups_load(struct rds_conn *c, const char *gid, struct cJSON **out)
    __attribute__((warn_unused_result));
/* Create (gid NULL) or update group gid from an admin body: name (1..100),
 * description (0..500), platform ("claude"; required at create, immutable
 * after). Other fields are refused. 0 and *out (the record as saved, caller
 * deletes), -ERR_INVAL with msg naming the field, -ERR_NOTFOUND, -ERR_REDIS. */
int account_groups_write(struct app *app, struct rds_conn *c, const char *gid,
                         const struct cJSON *body, struct cJSON **out, char *msg, size_t len)
    __attribute__((warn_unused_result));
/* Delete a group without members that no key binds. 0, -ERR_NOTFOUND,
 * -ERR_INVAL (msg says why), -ERR_REDIS. */
int account_groups_delete(struct app *app, struct rds_conn *c, const char *gid, char *msg,
                          size_t len) __attribute__((warn_unused_result));
/* Add (add true) or remove an account of the group's platform. 0,
 * -ERR_NOTFOUND (no group), -ERR_INVAL (msg: no such account), -ERR_REDIS. */
int account_groups_member(struct app *app, struct rds_conn *c, const char *gid,
                          const char *account_id, bool add, char *msg, size_t len)
    __attribute__((warn_unused_result));
/* The group's member ids as an array of strings. 0, -ERR_NOTFOUND, -ERR_REDIS. */
int account_groups_members(struct rds_conn *c, const char *gid, struct cJSON **out)
    __attribute__((warn_unused_result));

#endif
