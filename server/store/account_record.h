/*
 * account_record.h - an account's Redis record, driven by its provider's
 * schema (provider.h): the fields every type shares (name, description,
 * priority, schedulable, isActive, proxy) plus the provider's own. Admin
 * input is checked against the schema - a field it does not know is
 * refused, naming the field - secrets are sealed at once, and the admin
 * view never contains them.
 */
#ifndef RELAY_ACCOUNT_RECORD_H
#define RELAY_ACCOUNT_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "provider.h"

struct app;
struct rds_conn;
struct cJSON;
struct account_list;

/* A new record (strings) with a fresh id and the defaults. Caller deletes. */
struct cJSON *account_record_new(const struct provider *p);
/* Apply an admin body to rec. 0, or -ERR_INVAL with msg naming the field
 * ("unsupported field: x", "priority must be ..."). */
int account_record_apply(const struct app *app, const struct provider *p, struct cJSON *rec,
                         const struct cJSON *body, bool create, char *msg, size_t len)
    __attribute__((warn_unused_result));
/* The admin view: typed, no secrets, with status / statusReason /
 * statusUntil (ISO, UTC) as this instance knows them. Caller deletes. */
struct cJSON *account_record_render(const struct provider *p, const struct cJSON *rec,
                                    const struct account_list *snap);
/* Write rec, index it, tell the other instances and refresh the snapshot. */
int account_record_save(struct app *app, struct rds_conn *c, const struct provider *p,
                        struct cJSON *rec) __attribute__((warn_unused_result));
/* Set some fields of an existing record (kv: n/2 name, value pairs, n <= 32)
 * without rewriting the rest - fields the relay learns on its own must not
 * overwrite a concurrent save of the whole record - then tell the other
 * instances and refresh the snapshot, as account_record_save. 0,
 * -ERR_NOTFOUND (no such record: nothing written), -ERR_INVAL or -ERR_REDIS. */
int account_record_patch(struct app *app, struct rds_conn *c, const struct provider *p,
                         const char *id, const char *const *kv, size_t n)
    __attribute__((warn_unused_result));
/* 0 and *out (caller deletes), -ERR_NOTFOUND or -ERR_REDIS. */
int account_record_load(struct rds_conn *c, const struct provider *p, const char *id,
                        struct cJSON **out) __attribute__((warn_unused_result));
/* rec's admin view with the health state this instance knows now (the
 * current snapshot's). The caller owns it. */
struct cJSON *account_record_view(struct app *app, const struct provider *p,
                                  const struct cJSON *rec);
/* The admin view of account id, read from Redis (one HGETALL). 0,
 * -ERR_NOTFOUND, -ERR_REDIS. */
int account_record_view_load(struct app *app, struct rds_conn *c, const struct provider *p,
                             const char *id, struct cJSON **out)
    __attribute__((warn_unused_result));
/* Every record of the type as an array (caller deletes). */
int account_record_list(struct rds_conn *c, const struct provider *p, struct cJSON **out)
    __attribute__((warn_unused_result));
/* Delete the record, its index entry and its health marks. */
int account_record_delete(struct app *app, struct rds_conn *c, const struct provider *p,
                          const char *id) __attribute__((warn_unused_result));

#endif
