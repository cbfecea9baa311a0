/*
 * rds_io.c - the transport under rds: a non-blocking TCP or unix socket,
 * optionally wrapped in TLS by OpenSSL, because hiredis 0.14 cannot do TLS.
 *
 * DESIGN: every socket is non-blocking and every wait is a poll() bounded by
 * the caller's deadline. rds_io_recv/rds_io_send never wait themselves: they
 * move what they can and say which poll event would unblock them. That lets
 * rds.c drain SSL_read until WANT_READ before it polls, which matters because
 * decrypted bytes held inside OpenSSL (SSL_pending) do not make the fd
 * readable.
 *
 * TLS: TLS >= 1.2. With tls_verify the chain is checked against tls_ca_file
 * or the system default paths, and the host name (or IP literal) against the
 * certificate; OpenSSL verifies nothing unless told to. SNI is sent only for
 * DNS names (RFC 6066 forbids IP literals); SSL_set1_host alone sends no SNI.
 * Each connection has its own SSL_CTX: reconnects are rare, and it keeps
 * rds_connect free of shared state.
 *
 * SIGPIPE: send() uses MSG_NOSIGNAL, but OpenSSL's socket BIO uses write(),
 * so a process using TLS must ignore SIGPIPE (rds.h).
 */
#include "compat.h"
#include "errs.h"
#include "rds_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int rds_io_wait(const struct rds_io *io, short ev, long long deadline)
{
    for (;;) {
        long long left = deadline - clock_mono_ms();
        if (left <= 0)
            return -ERR_TIMEOUT;
        struct pollfd p = {.fd = io->fd, .events = ev};
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return 0; /* POLLERR/POLLHUP too: the next transfer reports it */
        if (n == 0)
            return -ERR_TIMEOUT;
        if (errno != EINTR)
            return -ERR_IO;
    }
}

/* Finish a non-blocking connect: 0 or an errno value. */
static int wait_connected(int fd, long long deadline)
{
    struct rds_io tmp = {.fd = fd};
    int rc = rds_io_wait(&tmp, POLLOUT, deadline);
    if (rc == -ERR_TIMEOUT)
        return ETIMEDOUT;
    if (rc != 0)
        return errno;
    int err = 0;
    socklen_t elen = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return errno;
    return err;
}

/* A connected non-blocking socket, or -1 with *sys_err set. */
static int connect_addr(const struct sockaddr *sa, socklen_t len, long long deadline, int *sys_err)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *sys_err = errno;
        return -1;
    }
    int err = 0;
    if (connect(fd, sa, len) != 0) {
        err = errno;
        if (err == EINPROGRESS)
            err = wait_connected(fd, deadline);
    }
    if (err != 0) {
        close(fd);
        *sys_err = err;
        return -1;
    }
    return fd;
}

static int sys_fail(int sys_err, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", strerror(sys_err));
    return sys_err == ETIMEDOUT ? -ERR_TIMEOUT : -ERR_IO;
}

/* Try each address getaddrinfo gives (IPv6 and IPv4) until one connects. */
static int connect_tcp(const struct rds_opts *o, long long deadline, int *fd_out, char *err,
                       size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", o->port > 0 ? o->port : RDS_DEFAULT_PORT);
    int gai = getaddrinfo(o->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", o->host, gai_strerror(gai));
        return -ERR_IO;
    }
    int fd = -1, sys_err = ETIMEDOUT;
    for (struct addrinfo *ai = res; ai && fd < 0 && clock_mono_ms() < deadline; ai = ai->ai_next)
        fd = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline, &sys_err);
    freeaddrinfo(res);
    if (fd < 0)
        return sys_fail(sys_err, err, errlen);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    *fd_out = fd;
    return 0;
}

static int connect_unix(const char *path, long long deadline, int *fd_out, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "unix socket path too long");
        return -ERR_INVAL;
    }
    memcpy(sa.sun_path, path, n + 1);
    int sys_err = 0;
    int fd = connect_addr((const struct sockaddr *)&sa, sizeof(sa), deadline, &sys_err);
    if (fd < 0)
        return sys_fail(sys_err, err, errlen);
    *fd_out = fd;
    return 0;
}

static bool is_ip_literal(const char *host)
{
    unsigned char b[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* The most specific OpenSSL reason on this thread's queue, then clear it. */
static const char *ssl_reason(const char *dflt)
{
    unsigned long e = ERR_peek_last_error();
    const char *s = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return s ? s : dflt;
}

static SSL_CTX *tls_ctx_new(const struct rds_opts *o, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS setup failed: %s", ssl_reason("SSL_CTX_new"));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!o->tls_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = o->tls_ca_file ? SSL_CTX_load_verify_locations(ctx, o->tls_ca_file, NULL)
                            : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(err, errlen, "cannot load TLS CA certificates from %s: %s",
                 o->tls_ca_file ? o->tls_ca_file : "the system default paths",
                 ssl_reason("unknown error"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* SNI for DNS names; the expected name or IP when verifying. */
static int tls_names(SSL *ssl, const struct rds_opts *o)
{
    bool ip = is_ip_literal(o->host);
    /* OpenSSL's macro casts the name to void *: hand it a non-const view. */
    union {
        const char *c;
        char *m;
    } host = {o->host};
    if (!ip && SSL_set_tlsext_host_name(ssl, host.m) != 1)
        return -1;
    if (!o->tls_verify)
        return 0;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, o->host) : SSL_set1_host(ssl, o->host);
    return ok == 1 ? 0 : -1;
}

static int tls_fail(const struct rds_io *io, bool verify, int ssl_err, int sys_err, char *err,
                    size_t errlen)
{
    long v = verify ? SSL_get_verify_result(io->ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(err, errlen, "TLS handshake: certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
    else if (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        snprintf(err, errlen, "TLS handshake: %s",
                 sys_err ? strerror(sys_err) : "connection closed by the server");
    else
        snprintf(err, errlen, "TLS handshake: %s", ssl_reason("unknown error"));
    ERR_clear_error();
    return -ERR_CRYPTO;
}

static int tls_handshake(struct rds_io *io, bool verify, long long deadline, char *err,
                         size_t errlen)
{
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_connect(io->ssl);
        int sys_err = errno;
        if (r == 1)
            return 0;
        int e = SSL_get_error(io->ssl, r);
        short ev = (short)(e == SSL_ERROR_WANT_READ    ? POLLIN
                           : e == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                       : 0);
        if (ev == 0)
            return tls_fail(io, verify, e, sys_err, err, errlen);
        int rc = rds_io_wait(io, ev, deadline);
        if (rc != 0) {
            snprintf(err, errlen, "TLS handshake: %s",
                     rc == -ERR_TIMEOUT ? "timed out" : "poll error");
            return rc;
        }
    }
}

static int tls_open(struct rds_io *io, const struct rds_opts *o, long long deadline, char *err,
                    size_t errlen)
{
    io->ctx = tls_ctx_new(o, err, errlen);
    if (!io->ctx)
        return -ERR_CRYPTO;
    io->ssl = SSL_new(io->ctx);
    if (!io->ssl || SSL_set_fd(io->ssl, io->fd) != 1 || tls_names(io->ssl, o) != 0) {
        snprintf(err, errlen, "TLS setup failed: %s", ssl_reason("SSL_new"));
        return -ERR_CRYPTO;
    }
    SSL_set_connect_state(io->ssl);
    return tls_handshake(io, o->tls_verify, deadline, err, errlen);
}

int rds_io_open(struct rds_io *io, const struct rds_opts *o, long long deadline, char *err,
                size_t errlen)
{
    int rc;
    *io = (struct rds_io){.fd = -1};
    if (o->unix_path && *o->unix_path) {
        rc = connect_unix(o->unix_path, deadline, &io->fd, err, errlen);
    } else if (o->host && *o->host) {
        rc = connect_tcp(o, deadline, &io->fd, err, errlen);
        if (rc == 0 && o->tls)
            rc = tls_open(io, o, deadline, err, errlen);
    } else {
        snprintf(err, errlen, "no Redis host or unix socket configured");
        rc = -ERR_INVAL;
    }
    if (rc != 0)
        rds_io_close(io);
    return rc;
}

void rds_io_close(struct rds_io *io)
{
    if (io->ssl)
        SSL_free(io->ssl);
    if (io->ctx)
        SSL_CTX_free(io->ctx);
    if (io->fd >= 0)
        close(io->fd);
    *io = (struct rds_io){.fd = -1};
}

/* One SSL_read (rbuf set) or SSL_write (wbuf set); see rds_io_recv. */
static int tls_xfer(struct rds_io *io, char *rbuf, const char *wbuf, size_t len, short *wait_ev)
{
    int n = len > INT_MAX ? INT_MAX : (int)len;
    ERR_clear_error();
    int r = rbuf ? SSL_read(io->ssl, rbuf, n) : SSL_write(io->ssl, wbuf, n);
    if (r > 0)
        return r;
    switch (SSL_get_error(io->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        *wait_ev = POLLIN;
        return 0;
    case SSL_ERROR_WANT_WRITE:
        *wait_ev = POLLOUT;
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return -ERR_CLOSED;
    default:
        ERR_clear_error();
        return -ERR_IO;
    }
}

int rds_io_recv(struct rds_io *io, char *buf, size_t cap, short *wait_ev)
{
    if (io->fd < 0 || cap == 0)
        return -ERR_IO;
    if (io->ssl)
        return tls_xfer(io, buf, NULL, cap, wait_ev);
    for (;;) {
        ssize_t n = recv(io->fd, buf, cap > INT_MAX ? INT_MAX : cap, 0);
        if (n > 0)
            return (int)n;
        if (n == 0)
            return -ERR_CLOSED;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *wait_ev = POLLIN;
            return 0;
        }
        if (errno != EINTR)
            return -ERR_IO;
    }
}

int rds_io_send(struct rds_io *io, const char *buf, size_t len, short *wait_ev)
{
    if (io->fd < 0 || len == 0)
        return -ERR_IO;
    if (io->ssl)
        return tls_xfer(io, NULL, buf, len, wait_ev);
    for (;;) {
        ssize_t n = send(io->fd, buf, len > INT_MAX ? INT_MAX : len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *wait_ev = POLLOUT;
            return 0;
        }
        if (errno != EINTR)
            return -ERR_IO;
    }
}

bool rds_io_idle_ok(struct rds_io *io)
{
    if (io->fd < 0 || (io->ssl && SSL_pending(io->ssl) > 0))
        return false;
    struct pollfd p = {.fd = io->fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    if (n <= 0)
        return n == 0 || errno == EINTR;
    if (p.revents & (POLLERR | POLLNVAL))
        return false;
    char b[512];
    if (!io->ssl) {
        /* Readable while idle: EOF (0), or bytes nobody asked for. */
        ssize_t r = recv(io->fd, b, 1, MSG_PEEK | MSG_DONTWAIT);
        return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
    /* TLS: session tickets and key updates are fine; data or EOF is not. */
    short ev = 0;
    return tls_xfer(io, b, NULL, sizeof(b), &ev) == 0;
}
