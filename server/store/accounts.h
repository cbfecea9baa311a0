/*
 * accounts.h - upstream accounts: admin CRUD and the in-memory snapshot the
 * scheduler reads.
 *
 * The snapshot is an immutable, refcounted list swapped by pointer: the
 * request path takes a reference (no Redis, no lock held while it is used),
 * the maintenance thread and admin writes build a new one. Credentials in the
 * snapshot are unsealed plaintext kept only in memory and wiped on free.
 */
#ifndef RELAY_ACCOUNTS_H
#define RELAY_ACCOUNTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct app;
struct rds_conn;

struct account {
    char id[37];
    char name[101];
    const char *type; /* provider name, e.g. "claude-console" */
    char *api_url;    /* base URL, no trailing slash */
    char *api_key;    /* unsealed credential */
    char *proxy_url;  /* curl proxy URL with credentials, or NULL */
    char *user_agent; /* override, or NULL */
    int priority;     /* 1..100, lower is preferred */
    bool schedulable;
    bool active;
    atomic_llong last_used_ms; /* scheduler LRU; shared across snapshots via the store */
};

struct account_list {
    atomic_int refs;
    size_t n;
    struct account **items;
};

struct accounts;

int accounts_new(struct app *app, struct accounts **out) __attribute__((warn_unused_result));
void accounts_free(struct accounts *accs);
/* Reload every account from Redis and swap the snapshot in. Thread-safe. */
int accounts_refresh(struct accounts *accs, struct rds_conn *c);
/* Take a reference to the current snapshot (never NULL). Thread-safe. */
struct account_list *accounts_snapshot(struct accounts *accs);
void accounts_list_release(struct account_list *list);

#endif
