/*
 * rds.c - Redis connections over our own socket (see rds.h).
 *
 * DESIGN: sockets are non-blocking; every wait is a poll() bounded by the
 * command deadline, so a dead server costs at most command_timeout_ms.
 * With TLS, SSL_read is drained until WANT_READ before polling again:
 * OpenSSL may hold decrypted bytes the fd does not show (platform notes).
 */
#include "compat.h"
#include "buf.h"
#include "errs.h"
#include "rds.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (64 * 1024 * 1024)

struct rds_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    redisReader *reader;
    struct buf out;
    int timeout_ms;
    bool broken;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, long long deadline)
{
    long long left = deadline - now_ms();
    if (left <= 0)
        return -ERR_TIMEOUT;
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, (int)left);
    if (n == 0)
        return -ERR_TIMEOUT;
    return n < 0 && errno != EINTR ? -ERR_IO : 0;
}

static int connect_addr(const struct sockaddr *sa, socklen_t len, long long deadline)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) != 0 && errno != EINPROGRESS)
        goto fail;
    if (wait_fd(fd, POLLOUT, deadline) != 0)
        goto fail;
    int err = 0;
    socklen_t elen = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
        errno = err ? err : errno;
        goto fail;
    }
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static int connect_tcp(const struct rds_opts *o, long long deadline, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", o->port);
    int rc = getaddrinfo(o->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve host: %s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline);
    if (fd < 0)
        snprintf(err, errlen, "%s", errno ? strerror(errno) : "connect timed out");
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
    return fd;
}

static int connect_unix(const char *path, long long deadline, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "unix socket path too long");
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = connect_addr((struct sockaddr *)&sa, sizeof(sa), deadline);
    if (fd < 0)
        snprintf(err, errlen, "%s", strerror(errno));
    return fd;
}

static bool is_ip_literal(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

static void ssl_err(char *err, size_t errlen, const char *what, SSL *ssl)
{
    unsigned long e = ERR_get_error();
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(err, errlen, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(v));
    else
        snprintf(err, errlen, "%s: %s", what, e ? ERR_reason_error_string(e) : "handshake failed");
    ERR_clear_error();
}

static int tls_setup(struct rds_conn *c, const struct rds_opts *o, char *err, size_t errlen)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return -1;
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (o->tls_verify) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        int ok = o->tls_ca_file ? SSL_CTX_load_verify_locations(c->ctx, o->tls_ca_file, NULL)
                                : SSL_CTX_set_default_verify_paths(c->ctx);
        if (ok != 1) {
            snprintf(err, errlen, "cannot load CA certificates");
            return -1;
        }
    }
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (o->host && !is_ip_literal(o->host))
        SSL_set_tlsext_host_name(c->ssl, o->host); /* SNI: routing fronts need it */
    if (o->tls_verify && o->host)
        SSL_set1_host(c->ssl, o->host);
    return 0;
}

static int tls_handshake(struct rds_conn *c, long long deadline, char *err, size_t errlen)
{
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev || wait_fd(c->fd, ev, deadline) != 0) {
            ssl_err(err, errlen, "TLS handshake", c->ssl);
            return -1;
        }
    }
}

/* Write everything or fail. */
static int io_write(struct rds_conn *c, const char *data, size_t len, long long deadline)
{
    while (len) {
        ssize_t n;
        short ev = POLLOUT;
        if (c->ssl) {
            int r = SSL_write(c->ssl, data, (int)len);
            n = r;
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    return -ERR_IO;
                ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                n = 0;
            }
        } else {
            n = send(c->fd, data, len, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -ERR_IO;
            n = n < 0 ? 0 : n;
        }
        data += n;
        len -= (size_t)n;
        if (len && n == 0 && wait_fd(c->fd, ev, deadline) != 0)
            return -ERR_TIMEOUT;
    }
    return 0;
}

/* Read what is available (waiting if nothing is) and feed the reader. */
static int io_read(struct rds_conn *c, long long deadline)
{
    char buf[16384];
    for (;;) {
        ssize_t n;
        short ev = POLLIN;
        if (c->ssl) {
            int r = SSL_read(c->ssl, buf, sizeof(buf));
            n = r;
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    return -ERR_CLOSED;
                ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                n = -1;
            }
        } else {
            n = recv(c->fd, buf, sizeof(buf), 0);
            if (n == 0)
                return -ERR_CLOSED;
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -ERR_IO;
        }
        if (n > 0)
            return redisReaderFeed(c->reader, buf, (size_t)n) == REDIS_OK ? 0 : -ERR_PARSE;
        if (wait_fd(c->fd, ev, deadline) != 0)
            return -ERR_TIMEOUT;
    }
}

static redisReply *read_reply(struct rds_conn *c, long long deadline)
{
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK)
            break;
        if (reply)
            return reply;
        if (io_read(c, deadline) != 0)
            break;
    }
    c->broken = true;
    return NULL;
}

static int flush_out(struct rds_conn *c, long long deadline)
{
    int rc = io_write(c, c->out.data, c->out.len, deadline);
    buf_reset(&c->out);
    if (rc)
        c->broken = true;
    return rc;
}

int rds_append_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0)
        return -ERR_INVAL;
    int rc = buf_append(&c->out, cmd, (size_t)len);
    free(cmd);
    return rc;
}

static int vappend(struct rds_conn *c, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    if (len < 0)
        return -ERR_INVAL;
    int rc = buf_append(&c->out, cmd, (size_t)len);
    free(cmd);
    return rc;
}

int rds_append(struct rds_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vappend(c, fmt, ap);
    va_end(ap);
    return rc;
}

int rds_flush_replies(struct rds_conn *c, int n, redisReply **replies)
{
    long long deadline = now_ms() + c->timeout_ms;
    memset(replies, 0, sizeof(*replies) * (size_t)n);
    if (c->broken || flush_out(c, deadline) != 0)
        return -ERR_IO;
    for (int i = 0; i < n; i++) {
        replies[i] = read_reply(c, deadline);
        if (!replies[i]) {
            for (int j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            return -ERR_IO;
        }
    }
    return 0;
}

static redisReply *roundtrip(struct rds_conn *c)
{
    redisReply *r = NULL;
    return rds_flush_replies(c, 1, &r) == 0 ? r : NULL;
}

redisReply *rds_command(struct rds_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vappend(c, fmt, ap);
    va_end(ap);
    return rc ? NULL : roundtrip(c);
}

redisReply *rds_command_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens)
{
    return rds_append_argv(c, argc, argv, lens) ? NULL : roundtrip(c);
}

static redisReply *eval_with(struct rds_conn *c, const char *verb, const char *body, int nkeys,
                             int argc, const char **argv, const size_t *lens)
{
    const char **av = xcalloc((size_t)argc + 3, sizeof(char *));
    size_t *lv = xcalloc((size_t)argc + 3, sizeof(size_t));
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[0] = verb, av[1] = body, av[2] = nk;
    lv[0] = strlen(verb), lv[1] = strlen(body), lv[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        lv[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    redisReply *r = rds_command_argv(c, argc + 3, av, lv);
    free(av);
    free(lv);
    return r;
}

redisReply *rds_evalsha(struct rds_conn *c, const char *sha, const char *lua, int nkeys, int argc,
                        const char **argv, const size_t *lens)
{
    redisReply *r = eval_with(c, "EVALSHA", sha, nkeys, argc, argv, lens);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = eval_with(c, "EVAL", lua, nkeys, argc, argv, lens);
    }
    return r;
}

static int handshake_cmds(struct rds_conn *c, const struct rds_opts *o, char *err, size_t errlen)
{
    redisReply *r = NULL;
    if (o->password && *o->password) {
        r = o->username && *o->username
                ? rds_command(c, "AUTH %s %s", o->username, o->password)
                : rds_command(c, "AUTH %s", o->password);
        if (!r || r->type == REDIS_REPLY_ERROR)
            goto fail;
        freeReplyObject(r);
    }
    r = o->db ? rds_command(c, "SELECT %d", o->db) : rds_command(c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR)
        goto fail;
    freeReplyObject(r);
    return 0;
fail:
    snprintf(err, errlen, "%s", r && r->str ? r->str : "connection lost during handshake");
    if (r)
        freeReplyObject(r);
    return -1;
}

int rds_connect(const struct rds_opts *o, struct rds_conn **out, char *err, size_t errlen)
{
    long long deadline = now_ms() + (o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000);
    struct rds_conn *c = xcalloc(1, sizeof(*c));
    c->timeout_ms = o->command_timeout_ms > 0 ? o->command_timeout_ms : 5000;
    buf_init(&c->out, OUT_MAX);
    c->reader = redisReaderCreate();
    c->fd = o->unix_path ? connect_unix(o->unix_path, deadline, err, errlen)
                         : connect_tcp(o, deadline, err, errlen);
    if (c->fd < 0)
        goto fail;
    if (o->tls && !o->unix_path &&
        (tls_setup(c, o, err, errlen) != 0 || tls_handshake(c, deadline, err, errlen) != 0))
        goto fail;
    if (handshake_cmds(c, o, err, errlen) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    rds_close(c);
    return -ERR_REDIS;
}

void rds_close(struct rds_conn *c)
{
    if (!c)
        return;
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    if (c->reader)
        redisReaderFree(c->reader);
    buf_release(&c->out);
    free(c);
}

bool rds_is_broken(const struct rds_conn *c)
{
    return c->broken;
}

bool rds_reply_ok(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
}

long long rds_reply_int(const redisReply *r, long long dflt)
{
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r && r->type == REDIS_REPLY_STRING) {
        char *end = NULL;
        long long v = strtoll(r->str, &end, 10);
        return end && *end == '\0' && end != r->str ? v : dflt;
    }
    return dflt;
}

const char *rds_reply_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
}
