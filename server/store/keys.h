/*
 * keys.h - relay-issued API keys: creation, storage, lookup, admin CRUD.
 *
 * A key is API_KEY_PREFIX + 64 hex chars from the OS CSPRNG, shown once at
 * creation. Redis stores only its keyed hash (secret_keyed_hash, domain
 * "api-key") in SK_API_KEY_HASH -> id, and the record in SK_API_KEY.
 */
#ifndef RELAY_KEYS_H
#define RELAY_KEYS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "key_policy.h"

struct app;
struct rds_conn;

/* A key as the request path sees it: immutable once looked up, shared by
 * the key cache and the requests using it (keys_ref / keys_unref). */
struct api_key {
    atomic_int refs;
    char id[37];
    char name[101];
    bool active;
    bool deleted;
    long long expires_at_ms; /* 0 = never */
    struct key_policy pol;
};

enum key_check {
    KEY_OK = 0,
    KEY_DISABLED = 1, /* isActive false or deleted */
    KEY_EXPIRED = 2,
};

/* The keyed hash of a plaintext key under the current ENCRYPTION_KEY (the
 * key cache's index). false when the plaintext is not a well-formed key. */
bool keys_hash(struct app *app, const char *plaintext, char out[65]);
/* Look a plaintext key up (one Redis round trip): 0 and *out (a new
 * reference) for any key on record, disabled or expired ones too
 * (keys_admit judges those); -ERR_NOTFOUND for a malformed or unknown key;
 * -ERR_REDIS. The plaintext is compared through its keyed hash only; it is
 * never logged. Thread-safe (c is the caller's connection). */
int keys_lookup(struct app *app, struct rds_conn *c, const char *plaintext, struct api_key **out)
    __attribute__((warn_unused_result));
struct api_key *keys_ref(struct api_key *k);
void keys_unref(struct api_key *k);
/* Is k shaped like a key this relay issues: prefix + 64 lowercase hex
 * digits? Pure, no Redis: the front door uses it to refuse a request
 * before reading its body. */
bool keys_format_ok(const char *prefix, const char *k);
/* May the key be used at now_ms? Pure. */
enum key_check keys_admit(const struct api_key *k, long long now_ms);

struct cJSON;

/* ---- the records behind the admin API ---- */

/* Create a key from an admin body (validated). On success *item is the typed
 * record (caller deletes) and *plaintext the key, shown once (secret_free it).
 * -ERR_INVAL with a message in msg, or -ERR_REDIS. */
int keys_create(struct app *app, struct rds_conn *c, const struct cJSON *body, struct cJSON **item,
                char **plaintext, char *msg, size_t len);

/* A new secret for key id (same id, record and usage); the old secret
 * stops working at once. *plaintext as keys_create. */
int keys_regenerate(struct app *app, struct rds_conn *c, const char *id, struct cJSON **item,
                    char **plaintext) __attribute__((warn_unused_result));
/* One key as the admin API shows it (typed, with usage; never the key or
 * its hash). 0 and *out (caller deletes), -ERR_NOTFOUND, -ERR_REDIS. */
int keys_load_item(struct rds_conn *c, const char *id, struct cJSON **out)
    __attribute__((warn_unused_result));
/* Every key item, deleted or not per want_deleted, as an array. */
int keys_load_all(struct rds_conn *c, bool want_deleted, struct cJSON **out)
    __attribute__((warn_unused_result));

enum keys_change {
    KEYS_UPDATE = 0,      /* apply an admin body */
    KEYS_SOFT_DELETE = 1, /* stops working at once, restorable */
    KEYS_RESTORE = 2,
};
/* Change a key (by: the admin, for the record). 0, -ERR_NOTFOUND, or
 * -ERR_INVAL with msg naming the field, or -ERR_REDIS. */
int keys_change(struct app *app, struct rds_conn *c, const char *id, enum keys_change what,
                const struct cJSON *body, const char *by, char *msg, size_t len)
    __attribute__((warn_unused_result));
/* Remove a soft-deleted key and its usage for good (-ERR_INVAL if not deleted). */
int keys_delete_permanent(struct app *app, struct rds_conn *c, const char *id)
    __attribute__((warn_unused_result));

#endif
