/*
 * rds_int.h - internals shared by the rds_*.c files; not for other modules.
 *
 * rds_io.c is the transport (a non-blocking TCP/unix socket, optionally
 * wrapped in OpenSSL); rds.c speaks RESP over it; rds_pool.c and rds_url.c
 * only use the public API plus the two connection hooks below.
 */
#ifndef RELAY_RDS_INT_H
#define RELAY_RDS_INT_H

#include "clock.h"
#include "rds.h"

#include <openssl/ssl.h>

/* A connected transport. fd < 0 means none. */
struct rds_io {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

/* Connect to o (TCP or unix, then the TLS handshake when o->tls) before
 * deadline (clock_mono_ms). On failure io is left closed, err gets the
 * reason, and the result is -ERR_INVAL / -ERR_IO / -ERR_TIMEOUT /
 * -ERR_CRYPTO. */
int rds_io_open(struct rds_io *io, const struct rds_opts *o, long long deadline, char *err,
                size_t errlen);
void rds_io_close(struct rds_io *io);

/* Non-blocking transfer. Return > 0 bytes moved, 0 when it would block
 * (*wait_ev then says what to poll for: TLS may need POLLIN to write or
 * POLLOUT to read), or -ERR_CLOSED / -ERR_IO. */
int rds_io_recv(struct rds_io *io, char *buf, size_t cap, short *wait_ev);
int rds_io_send(struct rds_io *io, const char *buf, size_t len, short *wait_ev);

/* poll() for ev until deadline: 0, -ERR_TIMEOUT or -ERR_IO. */
int rds_io_wait(const struct rds_io *io, short ev, long long deadline);

/* For an idle transport (no reply outstanding): false when the peer closed
 * it or sent something unasked for. Consumes TLS post-handshake messages
 * such as session tickets. Never blocks. */
bool rds_io_idle_ok(struct rds_io *io);

/* Pool hooks (rds.c). rds_conn_idle_ok marks a dead idle connection broken
 * and returns false. rds_conn_drop_pipeline forgets unsent appends. */
bool rds_conn_idle_ok(struct rds_conn *c);
void rds_conn_drop_pipeline(struct rds_conn *c);

/* Test hook (test/fuzz/fuzz_rds.c): the reply path of a connection over bytes
 * in memory - fed to a hiredis reader `chunk` bytes at a time with the same
 * limits as a socket read, each complete reply handed to fn (borrowed, freed
 * after fn). Returns the number of replies, or -ERR_PARSE / -ERR_TOOBIG. */
typedef void (*rds_reply_fn)(void *arg, redisReply *r);
int rds_replies_from_bytes(const char *data, size_t len, size_t chunk, rds_reply_fn fn, void *arg);

#endif
