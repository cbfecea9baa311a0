/*
 * app.h - the process context handed to every handler: configuration and
 * the long-lived subsystems. Built by main.c before serving, torn down after;
 * the pointers never change while requests run. Each subsystem does its own
 * locking (see docs/architecture.md for the lock order).
 */
#ifndef RELAY_APP_H
#define RELAY_APP_H

#include <stdatomic.h>
#include <time.h>

struct relay_config;
struct rds_pool;
struct secret_box;
struct httpc;
struct tpool;
struct accounts;
struct usage_stats;
struct usage_writer;
struct notify;
struct key_cache;
struct sticky_cache;
struct leases;
struct queue;
struct pricing_sync;
struct token_refresh;
struct settings;

struct app_stats {
    atomic_ullong requests;          /* every HTTP request */
    atomic_ullong errors;            /* responses >= 500 */
    atomic_ullong relayed;           /* upstream transfers started */
    atomic_ullong active_streams;    /* streams currently open to clients */
    atomic_llong transactions;       /* relay transactions alive */
    atomic_ullong failovers;         /* attempts retried on another account */
    atomic_llong user_turns_waiting; /* transactions on a timer for an account's user turn */
    atomic_llong connections;        /* client connections open (owner: httpd) */
    atomic_llong body_bytes;         /* request body bytes buffered, all requests (owner: httpd) */
};

struct app {
    const struct relay_config *cfg;
    struct rds_pool *redis;
    struct secret_box *box;         /* ENCRYPTION_KEY: credentials, API-key hashes */
    struct secret_box *session_box; /* JWT_SECRET: admin session token hashes */
    struct httpc *httpc;
    struct tpool *workers;
    struct accounts *accounts;
    struct usage_stats *usage_stats;
    struct usage_writer *usage_writer; /* per-key totals, group commit */
    struct notify *notify;             /* other instances' changes */
    struct key_cache *keys;            /* recently used API keys */
    struct sticky_cache *sticky;       /* recently used sticky-session bindings */
    struct leases *leases;             /* concurrency leases held by running requests */
    struct queue *queue;               /* requests waiting for a concurrency slot */
    char instance_id[17];              /* random, per process: skips our own notices */
    struct pricing_sync *pricing;      /* current price table (pricing_sync_snapshot) */
    struct token_refresh *refresh;     /* requests waiting for an OAuth token refresh */
    struct settings *settings;         /* runtime switches over cfg (settings.h) */
    struct app_stats stats;
    time_t started_at;
    const char *version;
    int tz_offset_min; /* TIMEZONE_OFFSET in minutes */
};

#endif
