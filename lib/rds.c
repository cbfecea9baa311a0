/*
 * rds.c - Redis connections: RESP over the rds_io transport (see rds.h).
 *
 * DESIGN: hiredis only formats commands (redis*FormatCommand*) and parses
 * replies (redisReader); the socket is ours (rds_io.c). A command is
 * "append to the output buffer, flush it, read N replies", so single
 * commands and pipelines share one path. A deadline of command_timeout_ms
 * covers each flush. Reading drains the transport until it would block
 * (for TLS, until SSL_read says WANT_READ) and polls only when nothing was
 * read, so bytes buffered inside OpenSSL are never stranded.
 * Any transport, timeout or reader error breaks the connection for good:
 * the stream position is unknown, so replies could be paired with the wrong
 * commands. The socket is closed at once; rds_close frees the rest.
 */
#include "compat.h"
#include "buf.h"
#include "errs.h"
#include "log.h"
#include "rds_int.h"

#include <pthread.h>
#include "xmalloc.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>

#define RDS_OUT_MAX ((size_t)64 * 1024 * 1024) /* unsent commands per connection */
#define RDS_OUT_KEEP ((size_t)64 * 1024)       /* output buffer kept between commands */
#define RDS_IN_MAX ((size_t)520 * 1024 * 1024) /* unparsed input: 512 MiB bulk + framing */
#define RDS_READ_CHUNK 16384
/* Elements one array reply may declare. hiredis 0.14 allocates the element
 * vector as soon as it reads the "*<n>" header: without this, 12 bytes from
 * the server ("*999999999\r\n") cost 8 GB (found by test/fuzz/fuzz_rds.c). */
#define RDS_ARRAY_MAX (1 << 20)

struct rds_conn {
    struct rds_io io;
    redisReader *reader;
    struct buf out; /* formatted commands not yet sent */
    int pending;    /* number of commands in out */
    int timeout_ms;
    int fail_rc; /* why it broke (-ERR_x), 0 while healthy */
};

static void out_reset(struct rds_conn *c)
{
    if (c->out.cap > RDS_OUT_KEEP) {
        buf_release(&c->out);
        buf_init(&c->out, RDS_OUT_MAX);
    } else {
        buf_reset(&c->out);
    }
    c->pending = 0;
}

/* A single command must not pick up the replies of an abandoned pipeline. */
static void drop_stale(struct rds_conn *c)
{
    if (c->pending == 0)
        return;
    log_warn("rds", "dropping %d appended commands that were never flushed", c->pending);
    out_reset(c);
}

void rds_conn_drop_pipeline(struct rds_conn *c)
{
    drop_stale(c);
}

static void conn_break(struct rds_conn *c, int rc)
{
    if (!c->fail_rc)
        c->fail_rc = rc ? rc : -ERR_IO;
    out_reset(c);
    rds_io_close(&c->io);
}

bool rds_is_broken(const struct rds_conn *c)
{
    return c->fail_rc != 0;
}

bool rds_conn_idle_ok(struct rds_conn *c)
{
    if (c->fail_rc)
        return false;
    drop_stale(c);
    if (rds_io_idle_ok(&c->io))
        return true;
    conn_break(c, -ERR_CLOSED);
    return false;
}

/* Send the whole output buffer, then empty it. */
static int send_all(struct rds_conn *c, long long deadline)
{
    size_t off = 0;
    int rc = 0;
    while (rc == 0 && off < c->out.len) {
        short ev = POLLOUT;
        int n = rds_io_send(&c->io, c->out.data + off, c->out.len - off, &ev);
        if (n > 0)
            off += (size_t)n;
        else
            rc = n < 0 ? n : rds_io_wait(&c->io, ev, deadline);
    }
    out_reset(c);
    return rc;
}

static redisReplyObjectFunctions reader_fns; /* hiredis' defaults, createArray bounded */
static void *(*default_create_array)(const redisReadTask *, int);
static pthread_once_t reader_fns_once = PTHREAD_ONCE_INIT;

static void *bounded_create_array(const redisReadTask *task, int elements)
{
    return elements > RDS_ARRAY_MAX ? NULL : default_create_array(task, elements);
}

static void reader_fns_init(void)
{
    redisReader *r = redisReaderCreate();
    reader_fns = *r->fn;
    redisReaderFree(r);
    default_create_array = reader_fns.createArray;
    reader_fns.createArray = bounded_create_array;
}

/* A reader whose array replies are bounded (NULL from createArray makes
 * hiredis report a reader error, and the connection is dropped). */
static redisReader *reader_new(void)
{
    pthread_once(&reader_fns_once, reader_fns_init);
    return redisReaderCreateWithFunctions(&reader_fns);
}

static int reader_feed(redisReader *r, const char *data, size_t n)
{
    if (redisReaderFeed(r, data, n) != REDIS_OK)
        return -ERR_PARSE;
    return r->len - r->pos > RDS_IN_MAX ? -ERR_TOOBIG : 0;
}

/* Feed the reader everything readable now; wait only if nothing was. */
static int fill(struct rds_conn *c, long long deadline)
{
    char chunk[RDS_READ_CHUNK];
    bool got = false;
    for (;;) {
        short ev = POLLIN;
        int n = rds_io_recv(&c->io, chunk, sizeof(chunk), &ev);
        if (n < 0)
            return n;
        if (n > 0) {
            int rc = reader_feed(c->reader, chunk, (size_t)n);
            if (rc != 0)
                return rc;
            got = true;
            continue;
        }
        if (got)
            return 0;
        int rc = rds_io_wait(&c->io, ev, deadline);
        if (rc != 0)
            return rc;
    }
}

static int read_reply(struct rds_conn *c, long long deadline, redisReply **out)
{
    for (;;) {
        void *r = NULL;
        if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
            log_warn("rds", "protocol error, dropping the connection: %s", c->reader->errstr);
            return -ERR_PARSE;
        }
        if (r) {
            *out = r;
            return 0;
        }
        int rc = fill(c, deadline);
        if (rc != 0)
            return rc;
    }
}

int rds_replies_from_bytes(const char *data, size_t len, size_t chunk, rds_reply_fn fn, void *arg)
{
    redisReader *rd = reader_new();
    int rc = 0, n = 0;
    for (size_t off = 0; rc == 0 && off < len; off += chunk) {
        rc = reader_feed(rd, data + off, len - off < chunk ? len - off : chunk);
        void *r = NULL;
        while (rc == 0 && redisReaderGetReply(rd, &r) == REDIS_OK && r) {
            fn(arg, r);
            freeReplyObject(r);
            r = NULL;
            n++;
        }
        if (rc == 0 && rd->err)
            rc = -ERR_PARSE;
    }
    redisReaderFree(rd);
    return rc ? rc : n;
}

int rds_read_push(struct rds_conn *c, int timeout_ms, redisReply **out)
{
    if (c->fail_rc)
        return c->fail_rc;
    redisReply *r = NULL;
    int rc = read_reply(c, clock_mono_ms() + timeout_ms, &r);
    if (rc == -ERR_TIMEOUT)
        return rc; /* nothing came: a partial reply stays in the reader */
    if (rc != 0) {
        conn_break(c, rc);
        return rc;
    }
    *out = r;
    return 0;
}

int rds_flush_replies(struct rds_conn *c, int n, redisReply **replies)
{
    for (int i = 0; i < n; i++)
        replies[i] = NULL;
    if (c->fail_rc) {
        out_reset(c);
        return c->fail_rc;
    }
    if (n != c->pending) {
        log_warn("rds", "flush of %d replies after %d appended commands; dropped", n, c->pending);
        out_reset(c);
        return -ERR_INVAL;
    }
    long long deadline = clock_mono_ms() + c->timeout_ms;
    int rc = send_all(c, deadline);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = read_reply(c, deadline, &replies[i]);
    if (rc == 0)
        return 0;
    conn_break(c, rc);
    for (int i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
    return rc;
}

/* Take ownership of a formatted command (len < 0: formatting failed). */
static int append_cmd(struct rds_conn *c, char *cmd, int len)
{
    int rc = len < 0 ? -ERR_INVAL : buf_append(&c->out, cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (rc != 0) {
        out_reset(c);
        return rc;
    }
    c->pending++;
    return 0;
}

static int append_fmt(struct rds_conn *c, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    return append_cmd(c, len < 0 ? NULL : cmd, len);
}

int rds_append(struct rds_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = append_fmt(c, fmt, ap);
    va_end(ap);
    return rc;
}

int rds_append_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL;
    int len = argc > 0 ? redisFormatCommandArgv(&cmd, argc, argv, lens) : -1;
    return append_cmd(c, len < 0 ? NULL : cmd, len);
}

static redisReply *roundtrip(struct rds_conn *c)
{
    redisReply *r = NULL;
    return rds_flush_replies(c, 1, &r) == 0 ? r : NULL;
}

redisReply *rds_commandv(struct rds_conn *c, const char *fmt, va_list ap)
{
    if (c->fail_rc)
        return NULL;
    drop_stale(c);
    return append_fmt(c, fmt, ap) == 0 ? roundtrip(c) : NULL;
}

redisReply *rds_command(struct rds_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = rds_commandv(c, fmt, ap);
    va_end(ap);
    return r;
}

redisReply *rds_command_argv(struct rds_conn *c, int argc, const char **argv, const size_t *lens)
{
    if (c->fail_rc)
        return NULL;
    drop_stale(c);
    return rds_append_argv(c, argc, argv, lens) == 0 ? roundtrip(c) : NULL;
}

/* verb body nkeys argv... as one argv command. */
static redisReply *eval_with(struct rds_conn *c, const char *verb, const char *body, int nkeys,
                             int argc, const char **argv, const size_t *lens)
{
    const char **av = xcalloc((size_t)argc + 3, sizeof(*av));
    size_t *lv = xcalloc((size_t)argc + 3, sizeof(*lv));
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

static bool is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

redisReply *rds_evalsha(struct rds_conn *c, const char *sha, const char *lua, int nkeys, int argc,
                        const char **argv, const size_t *lens)
{
    if (!sha || nkeys < 0 || argc < nkeys || (argc > 0 && !argv))
        return NULL;
    redisReply *r = eval_with(c, "EVALSHA", sha, nkeys, argc, argv, lens);
    if (lua && is_noscript(r)) {
        freeReplyObject(r);
        r = eval_with(c, "EVAL", lua, nkeys, argc, argv, lens);
    }
    return r;
}

void rds_script_sha(const char *lua, char sha_out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(lua, strlen(lua), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < 20; i++)
        snprintf(sha_out + 2 * i, 3, "%02x", i < n ? md[i] : 0);
}

redisReply *rds_script(struct rds_conn *c, const char *lua, int nkeys, int argc, const char **argv,
                       const size_t *lens)
{
    char sha[41];
    rds_script_sha(lua, sha);
    return rds_evalsha(c, sha, lua, nkeys, argc, argv, lens);
}

int rds_script_load(struct rds_conn *c, const char *lua, char sha_out[41])
{
    const char *argv[] = {"SCRIPT", "LOAD", lua};
    redisReply *r = rds_command_argv(c, 3, argv, NULL);
    int rc = -ERR_IO;
    if (!r)
        goto out;
    rc = -ERR_REDIS;
    if (r->type == REDIS_REPLY_ERROR)
        log_warn("rds", "SCRIPT LOAD failed: %s", r->str);
    if (r->type != REDIS_REPLY_STRING || r->len != 40)
        goto out;
    memcpy(sha_out, r->str, 40);
    sha_out[40] = '\0';
    rc = 0;
out:
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Turn a handshake reply into 0 or an error with Redis's own text. */
static int handshake_result(struct rds_conn *c, redisReply *r, int err_code, char *err,
                            size_t errlen)
{
    int rc = 0;
    if (!r) {
        rc = c->fail_rc ? c->fail_rc : -ERR_IO;
        snprintf(err, errlen, "%s during the handshake",
                 rc == -ERR_TIMEOUT ? "timed out" : "connection lost");
    } else if (r->type == REDIS_REPLY_ERROR) {
        bool auth = strncmp(r->str, "NOAUTH", 6) == 0 || strncmp(r->str, "WRONGPASS", 9) == 0;
        rc = auth ? -ERR_DENIED : err_code;
        snprintf(err, errlen, "%s", r->str);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

static int handshake(struct rds_conn *c, const struct rds_opts *o, char *err, size_t errlen)
{
    if (o->password && *o->password) {
        const char *argv[3] = {"AUTH"};
        int argc = 1;
        if (o->username && *o->username)
            argv[argc++] = o->username;
        argv[argc++] = o->password;
        redisReply *r = rds_command_argv(c, argc, argv, NULL);
        int rc = handshake_result(c, r, -ERR_DENIED, err, errlen);
        if (rc != 0)
            return rc;
    }
    /* PING when there is nothing to select: a missing password shows here. */
    redisReply *r = o->db ? rds_command(c, "SELECT %d", o->db) : rds_command(c, "PING");
    return handshake_result(c, r, -ERR_REDIS, err, errlen);
}

static int ms_or_default(int ms)
{
    return ms > 0 ? ms : RDS_DEFAULT_TIMEOUT_MS;
}

int rds_connect(const struct rds_opts *o, struct rds_conn **out, char *errbuf, size_t errlen)
{
    if (!errbuf)
        errlen = 0;
    if (errlen)
        errbuf[0] = '\0';
    long long deadline = clock_mono_ms() + ms_or_default(o->connect_timeout_ms);
    struct rds_conn *c = xcalloc(1, sizeof(*c));
    c->io.fd = -1;
    c->timeout_ms = ms_or_default(o->command_timeout_ms);
    buf_init(&c->out, RDS_OUT_MAX);
    c->reader = reader_new();
    BUG_ON(!c->reader); /* only on OOM, which xmalloc treats as fatal too */
    int rc = rds_io_open(&c->io, o, deadline, errbuf, errlen);
    if (rc == 0)
        rc = handshake(c, o, errbuf, errlen);
    if (rc != 0)
        goto out;
    *out = c;
    c = NULL;
out:
    rds_close(c);
    return rc;
}

void rds_close(struct rds_conn *c)
{
    if (!c)
        return;
    rds_io_close(&c->io);
    if (c->reader)
        redisReaderFree(c->reader);
    buf_release(&c->out);
    free(c);
}

bool rds_reply_ok(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
}

long long rds_reply_int(const redisReply *r, long long dflt)
{
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0)
        return dflt;
    const char *s = r->str;
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
        return dflt;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno == 0 && end == s + r->len ? v : dflt;
}

const char *rds_reply_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
}
