/*
 * accounts.h - upstream accounts of every type: the records in Redis (one
 * schema per provider, see provider.h) and the in-memory snapshot the
 * scheduler reads.
 *
 * The snapshot is an immutable, refcounted list swapped by pointer: the
 * request path takes a reference (no Redis, no lock held while it is used);
 * the maintenance thread, the notify listener and admin writes build a new
 * one. What changes per request - the account's health state, its last use
 * and its in-flight count - lives in a runtime object shared by every
 * snapshot that holds the account, read and written with atomics.
 * Credentials in the snapshot are unsealed plaintext kept only in memory
 * and wiped on free.
 */
#ifndef RELAY_ACCOUNTS_H
#define RELAY_ACCOUNTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "provider.h"

struct app;
struct rds_conn;
struct account_rt;
struct cJSON;

struct account {
    char id[37];
    char name[101];
    const struct provider *prov;
    int priority; /* 1..100, lower is preferred */
    bool schedulable;
    bool active;
    bool usable;         /* every required secret could be unsealed */
    bool user_queue;     /* userMessageQueue: its user turns are serialised (relay/usermsg.h) */
    char *proxy_url;     /* curl proxy URL with credentials, or NULL */
    char **values;       /* one per prov->fields entry (NULL when absent); secrets unsealed */
    struct cJSON **json; /* one per prov->fields entry: FT_JSON values parsed once, else NULL */
    int max_tasks;       /* maxConcurrentTasks: requests in flight across instances; 0 unlimited */
    long long daily_quota_micro; /* dailyQuota in micro-USD; 0: none */
    int quota_reset_min;         /* quotaResetTime, minutes after local midnight */
    struct account_rt *rt;
};

/* An account group (crs-admin-spec 2.3) as the scheduler sees it. */
struct account_group {
    char id[37];
    char name[101];
    size_t n;
    char (*members)[37]; /* account ids, as stored (some may not exist) */
};

struct account_list {
    atomic_int refs;
    size_t n;
    struct account **items;
    size_t ngroups;
    struct account_group *groups;
};

struct accounts;

int accounts_new(struct app *app, struct accounts **out) __attribute__((warn_unused_result));
void accounts_free(struct accounts *accs);
/* Reload every account of every type, with its health state, and every
 * account group with its members, from Redis in two round trips and swap
 * the snapshot in. Thread-safe. 0 or -ERR_REDIS. */
int accounts_refresh(struct accounts *accs, struct rds_conn *c) __attribute__((warn_unused_result));
/* Re-read one account's health state from Redis into the runtime object
 * (another instance changed it). Thread-safe. 0, -ERR_NOTFOUND, -ERR_REDIS. */
int accounts_reload_state(struct accounts *accs, struct rds_conn *c, const char *id)
    __attribute__((warn_unused_result));
/* Take a reference to the current snapshot (never NULL). Thread-safe. */
struct account_list *accounts_snapshot(struct accounts *accs);
void accounts_list_release(struct account_list *list);
/* The account with this id in list, or NULL (borrowed from list). */
struct account *account_list_find(const struct account_list *list, const char *id);
/* The group with this id in list, or NULL (borrowed from list). */
const struct account_group *account_list_group(const struct account_list *list, const char *gid);
/* True when the account id is a member of g. */
bool account_group_has(const struct account_group *g, const char *id);
/* In-flight leases on all accounts (for /health and the tests). */
long long accounts_leases(struct accounts *accs);

/* Seal plain into rec[field] for provider p (bound to the record and field).
 * 0 or -ERR_CRYPTO. */
int account_seal(const struct app *app, const struct provider *p, struct cJSON *rec,
                 const char *field, const char *plain) __attribute__((warn_unused_result));
/* The clear text of a sealed field of rec (caller frees with secret_free),
 * or NULL when absent or not openable. */
char *account_unseal(const struct app *app, const struct provider *p, const struct cJSON *rec,
                     const char *field);
/* The curl proxy URL of rec's proxy (credentials unsealed; caller wipes and
 * frees), or NULL when it has none. */
char *account_proxy_url(const struct app *app, const struct provider *prov,
                        const struct cJSON *rec);
/* A schema field's value (secrets in clear), or NULL. */
const char *account_field(const struct account *a, const char *name);
/* A relay-set boolean of the account's schema (FIELD_READONLY FT_BOOL):
 * true when the record says so or this instance learnt it since
 * (account_learn). Lock-free. */
bool account_flag(const struct account *a, const char *name);
/* Set such a flag in memory at once (every snapshot sharing the account's
 * runtime sees it); the record is the caller's to write
 * (account_state_learn). Lock-free. */
void account_learn(const struct account *a, const char *name);
/* Claim the one write of a relay-set text field (FIELD_READONLY FT_STR,
 * e.g. tempProjectId) of a: true for the first caller on this instance
 * (every snapshot sharing a's runtime sees the claim), false after, or for
 * a field that is no such text. Lock-free. */
bool account_learn_once(const struct account *a, const char *name);
/* An FT_JSON field's parsed value (borrowed from the snapshot, read-only),
 * or NULL when absent or empty. */
const struct cJSON *account_json(const struct account *a, const char *name);

/* Unauthorized or blocked with no end: until an admin resets the account.
 * The same states with an end (a timed block) cool like the others. */
bool account_state_permanent(enum account_state st, long long until_ms);
/* Health state as this instance knows it. A cooling state whose time has
 * passed reads as ACC_ACTIVE. *until_ms (may be NULL) gets its end (0 for
 * permanent states and for ACC_ACTIVE). Lock-free. */
enum account_state account_state(const struct account *a, long long now_ms, long long *until_ms);
/* The state stored, even when its time has passed (for recovery). */
enum account_state account_state_raw(const struct account *a, long long *until_ms);
/* Set the state (reason copied, may be NULL). Thread-safe. */
void account_set_state(const struct account *a, enum account_state st, long long until_ms,
                       const char *reason);
/* The reason of the current state into out. Thread-safe. */
void account_state_reason(const struct account *a, char *out, size_t len);
const char *account_state_name(enum account_state st);
/* Parse a state name; -1 when unknown. */
int account_state_parse(const char *name);

/* End of a live rate limit on one model family of the account (0: none).
 * Lock-free. */
long long account_family_until(const struct account *a, enum model_family f);
void account_set_family_until(const struct account *a, enum model_family f, long long until_ms);

/* The usage window last reported for the account (status "" when none). Thread-safe. */
void account_set_window(const struct account *a, const char *status, long long end_ms);
void account_window(const struct account *a, char *status, size_t len, long long *end_ms);

long long account_last_used(const struct account *a);
void account_touch(const struct account *a, long long now_ms);
/* The other instances read account_last_used only at a snapshot reload, so
 * this instance writes it at most once per every_ms per account: true (and
 * remembered) when the last write is older than that. Lock-free. */
#define ACCOUNT_LAST_USED_SHARE_MS 1000
bool account_last_used_due(const struct account *a, long long used_ms, long long every_ms);
/* In-flight count of this account: take one, give it back (exactly once). */
void account_lease_take(struct accounts *accs, const struct account *a);
void account_lease_release(struct accounts *accs, const struct account *a);
int account_inflight(const struct account *a);
/* The end (wall ms) of the account's daily-quota stop; 0 or a past time:
 * not stopped. Lock-free. */
long long account_quota_until(const struct account *a);
void account_set_quota_until(const struct account *a, long long until_ms);
/* Set account id's quota stop after it was written to its record: ordered
 * with snapshot refreshes, so one that read the record before the write
 * cannot undo it. Thread-safe; may wait for a running refresh. */
void accounts_quota_stop(struct accounts *accs, const char *id, long long until_ms);

#endif
