/*
 * rds.h - Redis client: our own socket (TCP, unix or TLS via OpenSSL), with
 * hiredis used only for RESP (the command formatter and the reply reader),
 * because Debian's hiredis 0.14 has no TLS. Blocking calls bounded by
 * timeouts, pipelining, EVALSHA with an EVAL fallback, and a small
 * thread-safe connection pool with reconnect back-off. Prefix rds_ because
 * hiredis owns redis*.
 *
 * Threads: a struct rds_conn is used by one thread at a time (check it out
 * of a pool, or own it). A struct rds_pool may be shared by all threads.
 *
 * SIGPIPE: plain sockets write with send(MSG_NOSIGNAL), but OpenSSL's socket
 * BIO writes with write(), so a process that uses TLS must ignore SIGPIPE
 * (main does signal(SIGPIPE, SIG_IGN)); otherwise a server that goes away
 * kills the process.
 *
 * Protocol: RESP2 only (hiredis 0.14): never send HELLO 3. Replies nested
 * deeper than 7 levels are a protocol error.
 *
 * Errors: functions returning int give 0 or -ERR_x (errs.h). Functions
 * returning a redisReply give NULL on a transport or protocol failure, and
 * then the connection is broken for good (rds_is_broken); an error reply
 * from Redis (type REDIS_REPLY_ERROR) is a reply, not a failure.
 */
#ifndef RELAY_RDS_H
#define RELAY_RDS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <hiredis.h>

#define RDS_DEFAULT_PORT 6379
#define RDS_DEFAULT_TIMEOUT_MS 5000

/* Connection settings. Strings are borrowed: they must outlive every call
 * that is given the struct (rds_pool_new copies them). */
struct rds_opts {
    const char *host;      /* name, IPv4 or IPv6 literal (no brackets) */
    int port;              /* <= 0 means 6379 */
    const char *unix_path; /* used instead of host:port when set; no TLS */
    const char *password;  /* NULL or "": no AUTH */
    const char *username;  /* ACL user (AUTH user pass); may be NULL */
    int db;                /* SELECT db when != 0 */
    bool tls;
    bool tls_verify;         /* check the chain and the host name (default true) */
    const char *tls_ca_file; /* PEM bundle; NULL: the system default paths */
    int connect_timeout_ms;  /* TCP connect + TLS handshake; <= 0 means 5000 */
    int command_timeout_ms;  /* each command or pipeline flush; <= 0 means 5000 */
};

struct rds_conn;
struct rds_pool;

/* Fill o with the defaults: everything zero/NULL except port 6379,
 * tls_verify true and both timeouts 5000 ms. */
void rds_opts_init(struct rds_opts *o);

/* Parse redis://[user[:password]@]host[:port][/db] or rediss:// into o.
 * host may be a bracketed IPv6 literal; user and password are
 * percent-decoded (%00 is refused). rediss:// sets tls and tls_verify;
 * redis:// clears tls. host, port, username, password, db and tls are
 * always written (absent parts become NULL / 6379 / 0); other fields keep
 * their values. The strings point into *storage_out, one malloc'd block the
 * caller frees after the last use of o.
 * Returns 0, or -ERR_INVAL for a malformed URL, and then neither o nor
 * *storage_out is written. Thread-safe (no shared state). */
int rds_opts_from_url(struct rds_opts *o, const char *url, char **storage_out)
    __attribute__((warn_unused_result));

/* Connect, do the TLS handshake, AUTH (password, or username + password)
 * and SELECT db (PING when db is 0, so a missing password shows up here).
 * On success *out is a new connection owned by the caller (rds_close).
 * On failure *out is not written and errbuf (may be NULL) gets a readable
 * reason such as "Connection refused", "WRONGPASS invalid username-password
 * pair..." or "TLS handshake: certificate verify failed: self-signed
 * certificate in certificate chain". It never contains the password.
 * Errors: -ERR_INVAL bad options; -ERR_IO resolve/connect/lost connection;
 * -ERR_TIMEOUT; -ERR_CRYPTO TLS setup, handshake or certificate failure;
 * -ERR_DENIED AUTH refused or NOAUTH; -ERR_REDIS SELECT refused.
 * Blocks up to connect_timeout_ms plus command_timeout_ms per handshake
 * command (name resolution itself is not bounded). Thread-safe. */
int rds_connect(const struct rds_opts *o, struct rds_conn **out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The functions below that take a struct rds_conn are not thread-safe for
 * that connection: only the thread that owns it (or has it checked out)
 * may call them, and none of them touch shared state. */

/* Close the socket and free the connection (NULL is a no-op). Any buffered,
 * unsent pipeline commands are dropped. */
void rds_close(struct rds_conn *c);

/* True once a transport, timeout or protocol error has happened; such a
 * connection only fails from then on and should be closed (rds_pool_put
 * does that). */
bool rds_is_broken(const struct rds_conn *c);

/* Send one command and wait for its reply (up to command_timeout_ms).
 * fmt is hiredis syntax: %s is a C string argument, %b a binary one
 * (pointer, size_t length), %% a percent sign; words split on spaces.
 * Returns the reply, owned by the caller (freeReplyObject); it may be an
 * error reply. NULL when the connection is or becomes broken (I/O error,
 * timeout, reader error), or when fmt cannot be formatted (then the
 * connection stays usable). Commands left appended but never flushed are
 * dropped first, with a warning. */
redisReply *rds_command(struct rds_conn *c, const char *fmt, ...);
/* rds_command with a va_list. */
redisReply *rds_commandv(struct rds_conn *c, const char *fmt, va_list ap);
/* rds_command with an argument vector: argv[i] has lens[i] bytes and may
 * hold any bytes ("\0", "\r\n"); lens NULL means strlen of each. */
redisReply *rds_command_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens);

/* Pipelining. rds_append / rds_append_argv format a command into the
 * connection's output buffer (no I/O). Returns 0; -ERR_INVAL when the
 * command cannot be formatted or -ERR_TOOBIG past 64 MiB buffered, and
 * then every command appended so far is dropped too (so an `a && b &&
 * flush` chain that stops early leaves nothing behind). */
int rds_append(struct rds_conn *c, const char *fmt, ...) __attribute__((warn_unused_result));
int rds_append_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens)
    __attribute__((warn_unused_result));
/* Send every appended command in one write and read their n replies into
 * replies[0..n), owned by the caller (freeReplyObject each). n must equal
 * the number of commands appended. Each reply may be an error reply.
 * Returns 0; -ERR_INVAL when n does not match (the commands are dropped,
 * nothing is sent, the connection stays usable); -ERR_IO / -ERR_TIMEOUT /
 * -ERR_PARSE / -ERR_CLOSED / -ERR_TOOBIG (more than 520 MiB of unparsed
 * reply) on failure, and then the connection is broken (if it already was,
 * its original error is returned and nothing is sent).
 * On any failure every replies[i] is NULL. One command_timeout_ms covers
 * the whole exchange. */
int rds_flush_replies(struct rds_conn *c, int n, redisReply **replies)
    __attribute__((warn_unused_result));

/* Wait up to timeout_ms for one reply nobody asked for (a pub/sub message
 * after SUBSCRIBE). 0 and *out (caller frees); -ERR_TIMEOUT when none came,
 * and the connection stays usable; any other error breaks it. */
int rds_read_push(struct rds_conn *c, int timeout_ms, redisReply **out)
    __attribute__((warn_unused_result));

/* SCRIPT LOAD lua; on success writes the 40-hex SHA1 and a NUL to sha_out.
 * Returns 0; -ERR_REDIS on an error reply (e.g. a compile error) or an
 * unexpected reply; -ERR_IO when the connection broke. */
int rds_script_load(struct rds_conn *c, const char *lua, char sha_out[41])
    __attribute__((warn_unused_result));

/* EVALSHA sha nkeys argv...; when Redis answers NOSCRIPT (after SCRIPT
 * FLUSH, a restart or a fail-over) and lua is not NULL, runs EVAL lua
 * instead, which also caches the script again. argv holds the nkeys keys
 * then the other arguments (argc in all); lens NULL means strlen of each.
 * Returns the reply like rds_command (caller frees); NULL also when
 * nkeys/argc are out of range (0 <= nkeys <= argc). */
redisReply *rds_evalsha(struct rds_conn *c, const char *sha, const char *lua, int nkeys, int argc,
                        const char **argv, const size_t *lens);
/* SHA1 of a script as Redis names it (40 hex + NUL). */
void rds_script_sha(const char *lua, char sha_out[41]);
/* rds_evalsha with the SHA computed here (about a microsecond for a short
 * script): callers keep only the script text. */
redisReply *rds_script(struct rds_conn *c, const char *lua, int nkeys, int argc, const char **argv,
                       const size_t *lens);

/* Create a pool of up to size connections (size >= 1). One connection is
 * made now to validate the settings: on failure returns its error code
 * (as rds_connect, or -ERR_INVAL for size < 1) with the reason in errbuf,
 * and *out is not written. The others connect lazily on checkout. The
 * strings in o are copied. The caller owns *out (rds_pool_free). */
int rds_pool_new(const struct rds_opts *o, int size, struct rds_pool **out, char *errbuf,
                 size_t errlen) __attribute__((warn_unused_result));

/* Check a connection out for the calling thread's exclusive use; give it
 * back with rds_pool_put. Waits up to wait_ms (<= 0: no wait) for a free
 * slot. An idle connection that the server closed is replaced, and an
 * empty slot is (re)connected. After a failed connect the pool backs off
 * (50 ms doubling to 2 s): during back-off, or while another thread is
 * already retrying, checkouts that need a new connection fail fast. The
 * first failure of an outage is logged as a warning (host:port, never the
 * password), repeats at most every 30 s, and recovery at info level.
 * Returns NULL on timeout or when no connection could be made.
 * Thread-safe. */
struct rds_conn *rds_pool_get(struct rds_pool *p, int wait_ms);

/* A new connection with the pool's settings, outside the pool, owned by
 * the caller (rds_close): for a long-lived subscriber. As rds_connect. */
int rds_pool_dial(struct rds_pool *p, struct rds_conn **out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Check c back in (NULL is a no-op). A broken connection is closed and its
 * slot emptied; unsent appended commands are dropped. c must come from
 * rds_pool_get on this pool (anything else is a BUG). Thread-safe. */
void rds_pool_put(struct rds_pool *p, struct rds_conn *c);

/* Health check: check out (waiting up to 1 s), PING, check
 * in. On success writes the PING round trip in ms to *latency_ms (may be
 * NULL) and returns 0; -ERR_IO when no connection could be had or it
 * broke; -ERR_REDIS when PING got an error reply. Thread-safe. */
int rds_pool_ping(struct rds_pool *p, double *latency_ms) __attribute__((warn_unused_result));

/* Close every connection and free the pool (NULL is a no-op). No
 * connection may be checked out (BUG otherwise) and no thread may be
 * using the pool. */
void rds_pool_free(struct rds_pool *p);

/* Reply helpers; all accept NULL. */
/* True for the status reply "OK". */
bool rds_reply_ok(const redisReply *r);
/* An integer reply, or a string reply that is a whole base-10 integer;
 * dflt otherwise. */
long long rds_reply_int(const redisReply *r, long long dflt);
/* The text of a string or status reply (borrowed from r); NULL otherwise. */
const char *rds_reply_str(const redisReply *r);

#endif
