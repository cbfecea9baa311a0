/*
 * rds.h - Redis client: our own socket (TCP, unix, or TLS via OpenSSL) with
 * hiredis used only for the RESP protocol (formatter and reader), because
 * Debian's hiredis 0.14 has no TLS. Blocking calls with timeouts, a small
 * connection pool with reconnect back-off, pipelining, and EVALSHA with an
 * automatic EVAL fallback. Prefix rds_ because hiredis owns redis*.
 *
 * The process must ignore SIGPIPE (OpenSSL writes with plain write()).
 */
#ifndef RELAY_RDS_H
#define RELAY_RDS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis.h>

struct rds_opts {
    const char *host;
    int port;
    const char *unix_path; /* used instead of host:port when set */
    const char *password;
    const char *username; /* ACL user, may be NULL */
    int db;
    bool tls;
    bool tls_verify; /* verify certificate and host name */
    const char *tls_ca_file;
    int connect_timeout_ms;
    int command_timeout_ms;
};

struct rds_conn;
struct rds_pool;

/* Parse redis://[user[:password]@]host[:port][/db] or rediss:// (tls on,
 * verify on). Strings point into *storage (one malloc'd block; caller frees).
 * -ERR_INVAL and no writes on a bad URL. */
int rds_opts_from_url(struct rds_opts *o, const char *url, char **storage);

/* Connect, AUTH, SELECT. errbuf gets a readable reason on failure. */
int rds_connect(const struct rds_opts *o, struct rds_conn **out, char *errbuf, size_t errlen);
void rds_close(struct rds_conn *c);
bool rds_is_broken(const struct rds_conn *c);

/* One command; the reply (caller freeReplyObject) or NULL on I/O or
 * protocol error, which also marks the connection broken. Error replies
 * (REDIS_REPLY_ERROR) are returned, not NULL. */
redisReply *rds_command(struct rds_conn *c, const char *fmt, ...);
redisReply *rds_command_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens);

/* Pipelining: buffer commands, then send them in one write and read n replies.
 * On failure every replies[i] is NULL and the connection is broken. */
int rds_append(struct rds_conn *c, const char *fmt, ...);
int rds_append_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens);
int rds_flush_replies(struct rds_conn *c, int n, redisReply **replies);

/* EVALSHA sha numkeys args...; on NOSCRIPT, EVAL lua instead (survives
 * SCRIPT FLUSH and restarts). argv = keys then args; lens may be NULL. */
redisReply *rds_evalsha(struct rds_conn *c, const char *sha, const char *lua, int nkeys, int argc,
                        const char **argv, const size_t *lens);

/* Pool. rds_pool_new connects one connection to validate the settings. */
int rds_pool_new(const struct rds_opts *o, int size, struct rds_pool **out, char *errbuf,
                 size_t errlen);
/* Check a connection out (reconnecting if needed). NULL when none is free
 * within wait_ms, or Redis is unreachable (back-off: fail fast). Thread-safe. */
struct rds_conn *rds_pool_get(struct rds_pool *p, int wait_ms);
/* Check it back in; a broken connection is closed. Thread-safe. */
void rds_pool_put(struct rds_pool *p, struct rds_conn *c);
/* PING through the pool; latency in ms. 0 or -ERR_REDIS. Thread-safe. */
int rds_pool_ping(struct rds_pool *p, double *latency_ms);
/* Close everything; no connection may be checked out. */
void rds_pool_free(struct rds_pool *p);

bool rds_reply_ok(const redisReply *r);
long long rds_reply_int(const redisReply *r, long long dflt);
const char *rds_reply_str(const redisReply *r);

#endif
