/*
 * test_rds.c - lib/rds against real redis-server processes: URL parsing,
 * AUTH and SELECT, binary-safe argv, pipelines, EVALSHA with the NOSCRIPT
 * fallback, 1 MiB values, timeouts and error texts, the pool (threads,
 * restart with back-off), unix sockets and TLS (a throwaway CA made with the
 * openssl CLI). Every server is started here on a free loopback port, in a
 * temporary directory, and killed and reaped at the end.
 */
#include "compat.h"
#include "errs.h"
#include "harness.h"
#include "log.h"
#include "rds.h"
#include "rds_int.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PASSWORD "s3cret pass"         /* a space: AUTH must go as argv */
#define POOL_PASSWORD "pool-pw-9f3c1a" /* must never appear in the log */
#define BIG_LEN (1024 * 1024)

struct srv {
    pid_t pid;
    int port; /* the TCP port, or the TLS port for the TLS server */
    const char *name;
};

/* Test-process state: set up once, torn down after harness_main. */
static char tmpdir[64];
static char redis_bin[512], openssl_bin[512];
static struct srv main_srv = {.name = "main"};       /* requirepass, unix socket */
static struct srv restart_srv = {.name = "restart"}; /* killed and restarted */
static struct srv tls_srv = {.name = "tls"};         /* TLS only */
static bool have_certs, have_127_0_0_2;

/* ---- processes ---- */

static bool find_bin(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, outlen, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    out[0] = '\0';
    return false;
}

static pid_t spawn(const char *bin, char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    signal(SIGPIPE, SIG_DFL);
    int fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    execv(bin, argv);
    _exit(127);
}

static int run(const char *bin, char *const argv[])
{
    int st = 0;
    pid_t pid = spawn(bin, argv, NULL);
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the port accepts (true) or the child dies / 10 s pass. */
static bool wait_accepting(const struct srv *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)s->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 1000; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return true;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
            return false;
        sleep_ms(10);
    }
    return false;
}

static void srv_stop(struct srv *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, sig);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* Start redis-server with the common flags plus extra (NULL-terminated). */
static bool srv_start(struct srv *s, const char *const *extra)
{
    char port[16], log_path[128];
    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(log_path, sizeof(log_path), "%s/%s.log", tmpdir, s->name);
    const char *argv[40] = {redis_bin, "--save",      "",  "--appendonly", "no", "--dir",
                            tmpdir,    "--daemonize", "no"};
    size_t n = 9;
    bool tls = false, bind = false;
    for (size_t i = 0; extra[i] && n < ARRAY_SIZE(argv) - 5; i++) {
        tls |= strcmp(extra[i], "--tls-port") == 0;
        bind |= strcmp(extra[i], "--bind") == 0;
        argv[n++] = extra[i];
    }
    if (!tls) {
        argv[n++] = "--port";
        argv[n++] = port;
    }
    if (!bind) {
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
    }
    argv[n] = NULL;
    s->pid = spawn(redis_bin, (char *const *)(uintptr_t)argv, log_path);
    if (s->pid > 0 && wait_accepting(s))
        return true;
    fprintf(stderr, "  note: redis-server (%s) did not start; see %s\n", s->name, log_path);
    srv_stop(s, SIGKILL);
    return false;
}

static bool need_redis(void)
{
    if (redis_bin[0])
        return true;
    fprintf(stderr, "  note: redis-server is not in PATH (apt-get install redis-server)\n");
    return false;
}

static void unix_path(char *out, size_t len)
{
    snprintf(out, len, "%s/redis.sock", tmpdir);
}

static bool need_main(void)
{
    if (main_srv.pid > 0)
        return true;
    if (!need_redis())
        return false;
    char sock[128];
    unix_path(sock, sizeof(sock));
    /* "-::1": also listen on the IPv6 loopback when the host has one */
    /* clang-format off */
    const char *extra[] = {"--requirepass", PASSWORD,
        "--unixsocket", sock, "--unixsocketperm", "700",
        "--bind", "127.0.0.1", "-::1", NULL};
    /* clang-format on */
    main_srv.port = free_port();
    return srv_start(&main_srv, extra);
}

static bool restart_start(void)
{
    const char *extra[] = {"--requirepass", POOL_PASSWORD, NULL};
    return srv_start(&restart_srv, extra);
}

/* ---- helpers ---- */

static void main_opts(struct rds_opts *o)
{
    rds_opts_init(o);
    o->host = "127.0.0.1";
    o->port = main_srv.port;
    o->password = PASSWORD;
    o->connect_timeout_ms = 2000;
    o->command_timeout_ms = 2000;
}

static struct rds_conn *main_conn(int db)
{
    struct rds_opts o;
    struct rds_conn *c = NULL;
    char err[256] = "";
    main_opts(&o);
    o.db = db;
    if (rds_connect(&o, &c, err, sizeof(err)) != 0)
        fprintf(stderr, "  connect failed: %s\n", err);
    return c;
}

static bool reply_is(redisReply *r, int type, const char *str)
{
    bool ok = r && r->type == type && (!str || (r->str && strcmp(r->str, str) == 0));
    if (r)
        freeReplyObject(r);
    return ok;
}

static bool ping(struct rds_conn *c)
{
    return reply_is(rds_command(c, "PING"), REDIS_REPLY_STATUS, "PONG");
}

static long long client_id(struct rds_conn *c)
{
    redisReply *r = rds_command(c, "CLIENT ID");
    long long id = rds_reply_int(r, -1);
    if (r)
        freeReplyObject(r);
    return id;
}

/* ---- URL parsing ---- */

TEST(url_parse_good)
{
    struct rds_opts o;
    char *st = NULL;
    rds_opts_init(&o);
    o.connect_timeout_ms = 1234;
    REQUIRE(rds_opts_from_url(&o, "redis://localhost", &st) == 0);
    CHECK_STR(o.host, "localhost");
    CHECK_INT(o.port, 6379);
    CHECK_INT(o.db, 0);
    CHECK(!o.tls && !o.username && !o.password);
    CHECK_INT(o.connect_timeout_ms, 1234);
    free(st);

    o.tls_verify = false;
    REQUIRE(rds_opts_from_url(&o, "rediss://us%65r:p%40ss%3Aw%2Fd%25@redis.example.com:6380/3",
                              &st) == 0);
    CHECK_STR(o.username, "user");
    CHECK_STR(o.password, "p@ss:w/d%");
    CHECK_STR(o.host, "redis.example.com");
    CHECK_INT(o.port, 6380);
    CHECK_INT(o.db, 3);
    CHECK(o.tls && o.tls_verify);
    free(st);
}

TEST(url_parse_user_ipv6)
{
    struct rds_opts o;
    char *st = NULL;
    rds_opts_init(&o);
    REQUIRE(rds_opts_from_url(&o, "redis://:only-pass@127.0.0.1:7000/", &st) == 0);
    CHECK(o.username == NULL && !o.tls);
    CHECK_STR(o.password, "only-pass");
    CHECK_INT(o.port, 7000);
    free(st);

    REQUIRE(rds_opts_from_url(&o, "REDIS://u:p@ss@[::1]:6390/15", &st) == 0);
    CHECK_STR(o.host, "::1");
    CHECK_STR(o.username, "u");
    CHECK_STR(o.password, "p@ss");
    CHECK_INT(o.port, 6390);
    CHECK_INT(o.db, 15);
    free(st);

    REQUIRE(rds_opts_from_url(&o, "redis://acl-user@h/0", &st) == 0);
    CHECK_STR(o.username, "acl-user");
    CHECK(o.password == NULL);
    free(st);
}

TEST(url_parse_bad)
{
    static const char *const bad[] = {
        "",
        "http://h",
        "redis://",
        "redis//h",
        "redis://:1",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:x",
        "redis://h:",
        "redis://h:+1",
        "redis://h/x",
        "redis://h/1x",
        "redis://h/-1",
        "redis://h/1?x=1",
        "redis://h/1/2",
        "redis://[::1",
        "redis://[]:1",
        "redis://::1",
        "redis://u:%zz@h",
        "redis://u:%4@h",
        "redis://u:%00@h",
        "redis://h/0/",
        "redis://h h",
        "redis://u:p@",
        "rediss://h:99999999999",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct rds_opts o, before;
        rds_opts_init(&o);
        o.host = "unchanged";
        before = o;
        char *st = (char *)(uintptr_t)0x1;
        int rc = rds_opts_from_url(&o, bad[i], &st);
        if (rc != -ERR_INVAL)
            fprintf(stderr, "  accepted bad URL \"%s\"\n", bad[i]);
        CHECK_INT(rc, -ERR_INVAL);
        CHECK(memcmp(&o, &before, sizeof(o)) == 0);
        CHECK(st == (char *)(uintptr_t)0x1);
    }
    struct rds_opts o;
    char *st = NULL;
    rds_opts_init(&o);
    CHECK_INT(rds_opts_from_url(&o, NULL, &st), -ERR_INVAL);
}

/* ---- connecting ---- */

TEST(connect_refused)
{
    struct rds_opts o;
    rds_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = free_port();
    struct rds_conn *c = (struct rds_conn *)(uintptr_t)0x1;
    char err[256] = "";
    CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_IO);
    CHECK(strstr(err, "Connection refused") != NULL);
    CHECK(c == (struct rds_conn *)(uintptr_t)0x1);
    o.host = NULL;
    CHECK_INT(rds_connect(&o, &c, NULL, 0), -ERR_INVAL);
}

TEST(connect_auth)
{
    REQUIRE(need_main());
    struct rds_opts o;
    struct rds_conn *c = NULL;
    char err[256] = "";
    main_opts(&o);
    o.password = NULL;
    CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_DENIED);
    CHECK(strstr(err, "NOAUTH") != NULL);
    o.password = "wrong-password-123";
    CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_DENIED);
    CHECK(strstr(err, "WRONGPASS") != NULL);
    CHECK(strstr(err, "wrong-password-123") == NULL);
    o.password = PASSWORD;
    REQUIRE(rds_connect(&o, &c, err, sizeof(err)) == 0);
    CHECK(ping(c));
    CHECK(!rds_is_broken(c));
    rds_close(c);
    o.username = "default"; /* ACL form: AUTH user pass */
    REQUIRE(rds_connect(&o, &c, err, sizeof(err)) == 0);
    CHECK(ping(c));
    rds_close(c);
}

TEST(select_db)
{
    REQUIRE(need_main());
    struct rds_conn *c3 = main_conn(3), *c0 = main_conn(0);
    REQUIRE(c3 && c0);
    CHECK(reply_is(rds_command(c3, "SET sel:k in-db-3"), REDIS_REPLY_STATUS, "OK"));
    CHECK(reply_is(rds_command(c0, "GET sel:k"), REDIS_REPLY_NIL, NULL));
    CHECK(reply_is(rds_command(c3, "GET sel:k"), REDIS_REPLY_STRING, "in-db-3"));
    CHECK(reply_is(rds_command(c3, "DEL sel:k"), REDIS_REPLY_INTEGER, NULL));
    rds_close(c3);
    rds_close(c0);

    struct rds_opts o;
    struct rds_conn *c = NULL;
    char err[256] = "";
    main_opts(&o);
    o.db = 99999;
    CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_REDIS);
    CHECK(strstr(err, "DB index") != NULL);
}

TEST(binary_argv_round_trip)
{
    REQUIRE(need_main());
    struct rds_conn *c = main_conn(0);
    REQUIRE(c);
    static const char key[] = "bin:\0k\r\n";
    static const char val[] = "a\0b\r\nc\0\r\n$3\r\n*1\r\n";
    size_t klen = sizeof(key) - 1, vlen = sizeof(val) - 1;
    const char *set[] = {"SET", key, val};
    size_t set_len[] = {3, klen, vlen};
    CHECK(reply_is(rds_command_argv(c, 3, set, set_len), REDIS_REPLY_STATUS, "OK"));
    const char *get[] = {"GET", key};
    size_t get_len[] = {3, klen};
    redisReply *r = rds_command_argv(c, 2, get, get_len);
    REQUIRE(r && r->type == REDIS_REPLY_STRING);
    CHECK(r->len == vlen && memcmp(r->str, val, vlen) == 0);
    freeReplyObject(r);
    r = rds_command(c, "GET %b", key, klen); /* the fmt path, %b */
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == vlen && memcmp(r->str, val, vlen) == 0);
    if (r)
        freeReplyObject(r);
    CHECK(reply_is(rds_command(c, "DEL %b", key, klen), REDIS_REPLY_INTEGER, NULL));
    rds_close(c);
}

static void check_pipeline_replies(redisReply **rep)
{
    for (int i = 0; i < 5; i++)
        CHECK(rds_reply_ok(rep[i]));
    for (int i = 5; i < 8; i++) {
        char want[8];
        snprintf(want, sizeof(want), "%d", i - 5);
        CHECK_STR(rds_reply_str(rep[i]), want);
        CHECK_INT(rds_reply_int(rep[i], -1), i - 5);
    }
    CHECK_INT(rds_reply_int(rep[8], -1), 1); /* INCR of "0" */
    CHECK(rep[9] && rep[9]->type == REDIS_REPLY_ERROR && strncmp(rep[9]->str, "WRONGTYPE", 9) == 0);
}

TEST(pipeline_ten)
{
    REQUIRE(need_main());
    struct rds_conn *c = main_conn(0);
    REQUIRE(c);
    for (int i = 0; i < 5; i++)
        CHECK_INT(rds_append(c, "SET pipe:%d %d", i, i), 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(rds_append(c, "GET pipe:%d", i), 0);
    CHECK_INT(rds_append(c, "INCR pipe:0"), 0);
    const char *hset[] = {"HSET", "pipe:1", "f", "v"}; /* pipe:1 is a string: error reply */
    CHECK_INT(rds_append_argv(c, 4, hset, NULL), 0);
    redisReply *rep[10];
    REQUIRE(rds_flush_replies(c, 10, rep) == 0);
    check_pipeline_replies(rep);
    for (int i = 0; i < 10; i++)
        freeReplyObject(rep[i]);
    CHECK(!rds_is_broken(c)); /* an error reply is not a transport failure */

    CHECK_INT(rds_append(c, "PING"), 0); /* n must match what was appended */
    CHECK_INT(rds_append(c, "PING"), 0);
    CHECK_INT(rds_flush_replies(c, 1, rep), -ERR_INVAL);
    CHECK(rep[0] == NULL && !rds_is_broken(c));
    CHECK_INT(rds_append(c, "SET pipe:x 1"), 0); /* a failed append drops the lot */
    CHECK_INT(rds_append_argv(c, 0, NULL, NULL), -ERR_INVAL);
    CHECK_INT(rds_flush_replies(c, 0, rep), 0);
    CHECK_INT(rds_append(c, "SET pipe:x 1"), 0); /* abandoned: the next command drops it */
    CHECK(ping(c));
    CHECK(reply_is(rds_command(c, "EXISTS pipe:x"), REDIS_REPLY_INTEGER, NULL));
    CHECK(reply_is(rds_command(c, "DEL pipe:0 pipe:1 pipe:2 pipe:3 pipe:4"), REDIS_REPLY_INTEGER,
                   NULL));
    rds_close(c);
}

static long long eval_count(struct rds_conn *c, const char *sha, const char *lua)
{
    const char *argv[] = {"ev:cnt", "arg1"};
    redisReply *r = rds_evalsha(c, sha, lua, 1, 2, argv, NULL);
    long long n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        harness_streq(rds_reply_str(r->element[0]), "ev:cnt") &&
        harness_streq(rds_reply_str(r->element[1]), "arg1"))
        n = rds_reply_int(r->element[2], -1);
    else if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
        n = -2;
    if (r)
        freeReplyObject(r);
    return n;
}

TEST(evalsha_noscript_fallback)
{
    REQUIRE(need_main());
    static const char lua[] = "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}";
    struct rds_conn *c = main_conn(0);
    REQUIRE(c);
    char sha[41] = "", bad_sha[41] = "untouched";
    CHECK(reply_is(rds_command(c, "DEL ev:cnt"), REDIS_REPLY_INTEGER, NULL));
    REQUIRE(rds_script_load(c, lua, sha) == 0);
    CHECK_INT(strlen(sha), 40);
    CHECK_INT(eval_count(c, sha, lua), 1);
    CHECK(reply_is(rds_command(c, "SCRIPT FLUSH"), REDIS_REPLY_STATUS, "OK"));
    CHECK_INT(eval_count(c, sha, lua), 2);  /* NOSCRIPT -> EVAL */
    CHECK_INT(eval_count(c, sha, NULL), 3); /* EVAL cached it again */
    CHECK(reply_is(rds_command(c, "SCRIPT FLUSH"), REDIS_REPLY_STATUS, "OK"));
    CHECK_INT(eval_count(c, sha, NULL), -2); /* no fallback without the text */
    CHECK_INT(rds_script_load(c, "this is not lua", bad_sha), -ERR_REDIS);
    CHECK_STR(bad_sha, "untouched");
    CHECK(rds_evalsha(c, sha, lua, 3, 2, NULL, NULL) == NULL); /* nkeys > argc */
    CHECK(!rds_is_broken(c));
    CHECK(reply_is(rds_command(c, "DEL ev:cnt"), REDIS_REPLY_INTEGER, NULL));
    rds_close(c);
}

static void big_round_trip(struct rds_conn *c)
{
    char *big = xmalloc(BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        big[i] = (char)(i * 31 + 7 + (i >> 12));
    CHECK(reply_is(rds_command(c, "SET big:v %b", big, (size_t)BIG_LEN), REDIS_REPLY_STATUS, "OK"));
    redisReply *r = rds_command(c, "GET big:v");
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == BIG_LEN &&
          memcmp(r->str, big, BIG_LEN) == 0);
    if (r)
        freeReplyObject(r);
    CHECK(reply_is(rds_command(c, "DEL big:v"), REDIS_REPLY_INTEGER, NULL));
    free(big);
}

TEST(big_value_round_trip)
{
    REQUIRE(need_main());
    struct rds_conn *c = main_conn(0);
    REQUIRE(c);
    big_round_trip(c);
    CHECK(!rds_is_broken(c));
    rds_close(c);
}

TEST(command_timeout_breaks)
{
    REQUIRE(need_main());
    struct rds_opts o;
    struct rds_conn *c = NULL;
    main_opts(&o);
    o.command_timeout_ms = 200;
    REQUIRE(rds_connect(&o, &c, NULL, 0) == 0);
    long long t0 = now_ms();
    redisReply *r = rds_command(c, "BLPOP tmo:none 2");
    long long took = now_ms() - t0;
    CHECK(r == NULL);
    if (r)
        freeReplyObject(r);
    CHECK(rds_is_broken(c));
    CHECK(took >= 150 && took < 1500);
    CHECK(rds_command(c, "PING") == NULL); /* broken for good */
    redisReply *rep[1];
    CHECK_INT(rds_append(c, "PING"), 0);
    CHECK(rds_flush_replies(c, 1, rep) == -ERR_TIMEOUT && rep[0] == NULL);
    rds_close(c);
}

static bool ipv6_loopback_usable(void)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

TEST(connect_by_name_and_ipv6)
{
    REQUIRE(need_main());
    struct rds_opts o;
    struct rds_conn *c = NULL;
    char err[256] = "", url[128], *st = NULL;
    main_opts(&o);
    o.host = "localhost"; /* getaddrinfo may give ::1 and 127.0.0.1 */
    REQUIRE(rds_connect(&o, &c, err, sizeof(err)) == 0);
    CHECK(ping(c));
    rds_close(c);
    if (!ipv6_loopback_usable()) {
        fprintf(stderr, "  note: no IPv6 loopback here; [::1] not tested\n");
        return;
    }
    snprintf(url, sizeof(url), "redis://:s3cret%%20pass@[::1]:%d/1", main_srv.port);
    rds_opts_init(&o);
    REQUIRE(rds_opts_from_url(&o, url, &st) == 0);
    c = NULL;
    if (rds_connect(&o, &c, err, sizeof(err)) != 0)
        fprintf(stderr, "  [::1] connect: %s\n", err);
    CHECK(c != NULL);
    if (c)
        CHECK(ping(c));
    rds_close(c);
    free(st);
}

TEST(unix_socket)
{
    REQUIRE(need_main());
    char sock[128];
    unix_path(sock, sizeof(sock));
    struct rds_opts o;
    struct rds_conn *c = NULL;
    char err[256] = "";
    main_opts(&o);
    o.unix_path = sock;
    o.host = NULL;
    REQUIRE(rds_connect(&o, &c, err, sizeof(err)) == 0);
    CHECK(ping(c));
    rds_close(c);
    o.unix_path = "/nonexistent/redis.sock";
    CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_IO);
    CHECK(strstr(err, "No such file") != NULL);
}

TEST(reply_helpers)
{
    redisReply s42 = {.type = REDIS_REPLY_STRING, .str = (char *)(uintptr_t) "42", .len = 2};
    redisReply neg = {.type = REDIS_REPLY_STRING, .str = (char *)(uintptr_t) "-7", .len = 2};
    redisReply junk = {.type = REDIS_REPLY_STRING, .str = (char *)(uintptr_t) " 4x", .len = 3};
    redisReply ok = {.type = REDIS_REPLY_STATUS, .str = (char *)(uintptr_t) "OK", .len = 2};
    redisReply okish = {.type = REDIS_REPLY_STRING, .str = (char *)(uintptr_t) "OK", .len = 2};
    redisReply num = {.type = REDIS_REPLY_INTEGER, .integer = 123};
    CHECK_INT(rds_reply_int(&s42, -1), 42);
    CHECK_INT(rds_reply_int(&neg, -1), -7);
    CHECK_INT(rds_reply_int(&junk, -1), -1);
    CHECK_INT(rds_reply_int(&num, -1), 123);
    CHECK_INT(rds_reply_int(NULL, 9), 9);
    CHECK(rds_reply_ok(&ok) && !rds_reply_ok(&okish) && !rds_reply_ok(NULL));
    CHECK_STR(rds_reply_str(&ok), "OK");
    CHECK(rds_reply_str(&num) == NULL && rds_reply_str(NULL) == NULL);
}

/* ---- pool ---- */

struct worker {
    struct rds_pool *pool;
    int n, ok;
};

static void *incr_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        struct rds_conn *c = rds_pool_get(w->pool, 5000);
        if (!c)
            continue;
        redisReply *r = rds_command(c, "INCR pool:ctr");
        w->ok += r && r->type == REDIS_REPLY_INTEGER;
        if (r)
            freeReplyObject(r);
        rds_pool_put(w->pool, c);
    }
    return NULL;
}

TEST(pool_threads)
{
    REQUIRE(need_main());
    struct rds_opts o;
    struct rds_pool *p = NULL;
    char err[256] = "";
    main_opts(&o);
    REQUIRE(rds_pool_new(&o, 3, &p, err, sizeof(err)) == 0); /* fewer slots than threads */
    struct rds_conn *c = rds_pool_get(p, 1000);
    REQUIRE(c);
    CHECK(reply_is(rds_command(c, "DEL pool:ctr"), REDIS_REPLY_INTEGER, NULL));
    rds_pool_put(p, c);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.pool = p, .n = 200};
        CHECK_INT(pthread_create(&th[i], NULL, incr_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(w[i].ok, 200);
    }
    c = rds_pool_get(p, 1000);
    REQUIRE(c);
    redisReply *r = rds_command(c, "GET pool:ctr");
    CHECK_INT(rds_reply_int(r, -1), 800);
    if (r)
        freeReplyObject(r);
    rds_pool_put(p, c);
    double ms = -1;
    CHECK_INT(rds_pool_ping(p, &ms), 0);
    CHECK(ms >= 0 && ms < 1000);
    rds_pool_free(p);
}

TEST(pool_checkout_wait_and_reuse)
{
    REQUIRE(need_main());
    struct rds_opts o;
    struct rds_pool *p = NULL;
    char err[256] = "";
    main_opts(&o);
    CHECK_INT(rds_pool_new(&o, 0, &p, err, sizeof(err)), -ERR_INVAL);
    REQUIRE(rds_pool_new(&o, 1, &p, err, sizeof(err)) == 0);
    struct rds_conn *c = rds_pool_get(p, 0);
    REQUIRE(c);
    long long id = client_id(c);
    long long t0 = now_ms();
    CHECK(rds_pool_get(p, 150) == NULL); /* the only slot is out */
    long long took = now_ms() - t0;
    CHECK(took >= 140 && took < 1000);
    CHECK_INT(rds_append(c, "PING"), 0); /* left unsent: put drops it */
    rds_pool_put(p, c);
    c = rds_pool_get(p, 0);
    REQUIRE(c);
    CHECK_INT(client_id(c), id); /* the same connection, still healthy */
    CHECK(ping(c));
    rds_pool_put(p, c);
    rds_pool_free(p);

    o.port = free_port();
    CHECK_INT(rds_pool_new(&o, 2, &p, err, sizeof(err)), -ERR_IO);
    CHECK(strstr(err, "Connection refused") != NULL);
}

static int capture_stdout(const char *path)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    return saved;
}

static void restore_stdout(int saved)
{
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
}

static void slurp(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static struct rds_conn *get_within(struct rds_pool *p, int total_ms)
{
    long long until = now_ms() + total_ms;
    struct rds_conn *c = NULL;
    while (!c && now_ms() < until) {
        c = rds_pool_get(p, 100);
        if (!c)
            sleep_ms(20);
    }
    return c;
}

static void pool_restart_body(struct rds_pool *p)
{
    struct rds_conn *c = rds_pool_get(p, 1000);
    REQUIRE(c);
    CHECK(reply_is(rds_command(c, "SET rs:k 1"), REDIS_REPLY_STATUS, "OK"));
    rds_pool_put(p, c);
    srv_stop(&restart_srv, SIGKILL);
    sleep_ms(20);                        /* let the FIN reach the idle connection */
    CHECK(rds_pool_get(p, 100) == NULL); /* dead idle conn noticed, reconnect refused */
    long long t0 = now_ms();
    CHECK(rds_pool_get(p, 100) == NULL); /* back-off: fails fast */
    CHECK(now_ms() - t0 < 40);
    CHECK(rds_pool_ping(p, NULL) != 0);
    sleep_ms(300); /* a few back-off rounds, each a failed attempt */
    CHECK(rds_pool_get(p, 100) == NULL);
    REQUIRE(restart_start());
    c = get_within(p, 5000);
    REQUIRE(c);
    CHECK(ping(c));
    CHECK(reply_is(rds_command(c, "GET rs:k"), REDIS_REPLY_NIL, NULL)); /* a new server */
    rds_pool_put(p, c);
    double ms = -1;
    CHECK_INT(rds_pool_ping(p, &ms), 0);
}

TEST(pool_reconnect_after_restart)
{
    REQUIRE(need_redis());
    restart_srv.port = free_port();
    REQUIRE(restart_start());
    struct rds_opts o;
    struct rds_pool *p = NULL;
    char err[256] = "", logtext[16384], cap_path[128];
    rds_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = restart_srv.port;
    o.password = POOL_PASSWORD;
    REQUIRE(rds_pool_new(&o, 2, &p, err, sizeof(err)) == 0);
    snprintf(cap_path, sizeof(cap_path), "%s/pool-log.txt", tmpdir);
    int saved = capture_stdout(cap_path);
    pool_restart_body(p);
    restore_stdout(saved);
    rds_pool_free(p);
    slurp(cap_path, logtext, sizeof(logtext));
    char where[64];
    snprintf(where, sizeof(where), "addr=127.0.0.1:%d", restart_srv.port);
    CHECK(strstr(logtext, where) != NULL);
    CHECK(strstr(logtext, "WARN rds redis unreachable") != NULL);
    CHECK(strstr(logtext, "still unreachable") == NULL); /* one warning per outage */
    CHECK(strstr(logtext, "restored") != NULL);
    CHECK(strstr(logtext, POOL_PASSWORD) == NULL);
}

/* ---- TLS ---- */

static void tmp_file(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmpdir, name);
}

static bool make_certs(void)
{
    char ca_key[128], ca_crt[128], key[128], csr[128], crt[128], ext[128];
    tmp_file(ca_key, sizeof(ca_key), "ca.key");
    tmp_file(ca_crt, sizeof(ca_crt), "ca.crt");
    tmp_file(key, sizeof(key), "server.key");
    tmp_file(csr, sizeof(csr), "server.csr");
    tmp_file(crt, sizeof(crt), "server.crt");
    tmp_file(ext, sizeof(ext), "ext.cnf");
    FILE *f = fopen(ext, "w");
    if (!f)
        return false;
    fputs("subjectAltName=DNS:localhost,IP:127.0.0.1\n", f);
    fclose(f);
    /* These read best as command lines. */
    /* clang-format off */
    const char *ca[] = {openssl_bin, "req", "-x509", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key,
        "-out", ca_crt, "-days", "2", "-subj", "/CN=rds test CA", NULL};
    const char *req[] = {openssl_bin, "req", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=localhost", NULL};
    const char *sign[] = {openssl_bin, "x509", "-req", "-in", csr,
        "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext, NULL};
    /* clang-format on */
    return run(openssl_bin, (char *const *)(uintptr_t)ca) == 0 &&
           run(openssl_bin, (char *const *)(uintptr_t)req) == 0 &&
           run(openssl_bin, (char *const *)(uintptr_t)sign) == 0;
}

/* Can we bind 127.0.0.2 (for the name-mismatch check)? */
static bool loopback2_usable(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static bool need_tls(void)
{
    if (tls_srv.pid > 0)
        return true;
    if (!need_redis())
        return false;
    if (!openssl_bin[0] || !(have_certs = make_certs())) {
        fprintf(stderr, "  note: could not make certificates with the openssl CLI\n");
        return false;
    }
    char port[16], crt[128], key[128], ca[128];
    tls_srv.port = free_port();
    snprintf(port, sizeof(port), "%d", tls_srv.port);
    tmp_file(crt, sizeof(crt), "server.crt");
    tmp_file(key, sizeof(key), "server.key");
    tmp_file(ca, sizeof(ca), "ca.crt");
    have_127_0_0_2 = loopback2_usable();
    /* clang-format off */
    const char *extra[] = {"--port", "0", "--tls-port", port,
        "--tls-cert-file", crt, "--tls-key-file", key, "--tls-ca-cert-file", ca,
        "--tls-auth-clients", "no", "--requirepass", PASSWORD,
        "--bind", "127.0.0.1", have_127_0_0_2 ? "127.0.0.2" : NULL, NULL};
    /* clang-format on */
    return srv_start(&tls_srv, extra);
}

static void tls_opts(struct rds_opts *o, const char *host, const char *ca)
{
    main_opts(o);
    o->host = host;
    o->port = tls_srv.port;
    o->tls = true;
    o->tls_ca_file = ca;
}

static void tls_pipeline(struct rds_conn *c)
{
    for (int i = 0; i < 10; i++)
        CHECK_INT(rds_append(c, "ECHO tls-%d", i), 0);
    redisReply *rep[10];
    REQUIRE(rds_flush_replies(c, 10, rep) == 0);
    for (int i = 0; i < 10; i++) {
        char want[16];
        snprintf(want, sizeof(want), "tls-%d", i);
        CHECK_STR(rds_reply_str(rep[i]), want);
        freeReplyObject(rep[i]);
    }
}

TEST(tls_verified_with_ca)
{
    REQUIRE(need_tls());
    char ca[128], err[256] = "";
    tmp_file(ca, sizeof(ca), "ca.crt");
    struct rds_opts o;
    struct rds_conn *c = NULL;
    tls_opts(&o, "localhost", ca); /* DNS name: SNI + host name check */
    if (rds_connect(&o, &c, err, sizeof(err)) != 0)
        fprintf(stderr, "  tls connect: %s\n", err);
    REQUIRE(c);
    CHECK(ping(c));
    big_round_trip(c);
    tls_pipeline(c);
    CHECK(!rds_is_broken(c));
    rds_close(c);
    tls_opts(&o, "127.0.0.1", ca); /* IP literal: IP SAN check, no SNI */
    REQUIRE(rds_connect(&o, &c, err, sizeof(err)) == 0);
    CHECK(ping(c));
    rds_close(c);
}

TEST(tls_verify_failures)
{
    REQUIRE(need_tls());
    char ca[128], err[256] = "";
    tmp_file(ca, sizeof(ca), "ca.crt");
    struct rds_opts o;
    struct rds_conn *c = NULL;
    tls_opts(&o, "localhost", NULL); /* system CAs do not know our CA */
    CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_CRYPTO);
    CHECK(strstr(err, "TLS handshake: certificate verify failed") != NULL);
    fprintf(stderr, "  (expected) %s\n", err);
    if (have_127_0_0_2) {
        tls_opts(&o, "127.0.0.2", ca); /* right CA, wrong address */
        CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_CRYPTO);
        CHECK(strstr(err, "mismatch") != NULL);
        fprintf(stderr, "  (expected) %s\n", err);
    }
    tls_opts(&o, "localhost", "/nonexistent/ca.pem");
    CHECK_INT(rds_connect(&o, &c, err, sizeof(err)), -ERR_CRYPTO);
    CHECK(strstr(err, "cannot load TLS CA") != NULL);
    tls_opts(&o, "127.0.0.1", NULL);
    o.tls = false; /* plaintext to a TLS port */
    o.command_timeout_ms = 1000;
    CHECK(rds_connect(&o, &c, err, sizeof(err)) != 0);
}

TEST(tls_no_verify_and_url)
{
    REQUIRE(need_tls());
    char ca[128], err[256] = "", url[128];
    tmp_file(ca, sizeof(ca), "ca.crt");
    struct rds_opts o;
    struct rds_conn *c = NULL;
    tls_opts(&o, "localhost", NULL);
    o.tls_verify = false; /* self-signed / tests */
    REQUIRE(rds_connect(&o, &c, err, sizeof(err)) == 0);
    CHECK(ping(c));
    rds_close(c);

    char *st = NULL;
    snprintf(url, sizeof(url), "rediss://:s3cret%%20pass@localhost:%d/2", tls_srv.port);
    rds_opts_init(&o);
    REQUIRE(rds_opts_from_url(&o, url, &st) == 0);
    o.tls_ca_file = ca;
    CHECK(o.tls && o.tls_verify && o.db == 2);
    CHECK(rds_connect(&o, &c, err, sizeof(err)) == 0);
    if (c)
        CHECK(ping(c));
    rds_close(c);
    free(st);
}

TEST(tls_pool_keeps_idle_connection)
{
    REQUIRE(need_tls());
    char ca[128], err[256] = "";
    tmp_file(ca, sizeof(ca), "ca.crt");
    struct rds_opts o;
    struct rds_pool *p = NULL;
    tls_opts(&o, "localhost", ca);
    REQUIRE(rds_pool_new(&o, 1, &p, err, sizeof(err)) == 0);
    struct rds_conn *c = rds_pool_get(p, 0);
    REQUIRE(c);
    long long id = client_id(c);
    rds_pool_put(p, c);
    sleep_ms(50); /* let any TLS 1.3 session tickets arrive */
    c = rds_pool_get(p, 0);
    REQUIRE(c);
    CHECK(id > 0 && client_id(c) == id); /* tickets are not mistaken for a dead peer */
    rds_pool_put(p, c);
    rds_pool_free(p);
}

/* ---- setup ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    UNUSED(st), UNUSED(flag), UNUSED(ftw);
    return remove(path);
}

static void teardown(void)
{
    srv_stop(&main_srv, SIGTERM);
    srv_stop(&restart_srv, SIGTERM);
    srv_stop(&tls_srv, SIGTERM);
    if (tmpdir[0] && !getenv("TEST_RDS_KEEP"))
        nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void count_reply(void *arg, redisReply *r)
{
    (void)r;
    ++*(int *)arg;
}

/* fuzz_rds found it: "*<huge>" made hiredis allocate the element vector at once. */
TEST(reader_bounds_array_headers)
{
    int n = 0;
    const char huge[] = "*999999999\r\n";
    CHECK_INT(rds_replies_from_bytes(huge, strlen(huge), 3, count_reply, &n), -ERR_PARSE);
    CHECK_INT(n, 0);
    const char ok[] = "*2\r\n$1\r\na\r\n:7\r\n+OK\r\n";
    CHECK_INT(rds_replies_from_bytes(ok, strlen(ok), 1, count_reply, &n), 2);
    CHECK_INT(n, 2);
    const char bad[] = "+OK\r\n?what\r\n";
    CHECK_INT(rds_replies_from_bytes(bad, strlen(bad), 64, count_reply, &n), -ERR_PARSE);
}

static const struct test tests[] = {
    T(reader_bounds_array_headers),
    T(url_parse_good),
    T(url_parse_user_ipv6),
    T(url_parse_bad),
    T(reply_helpers),
    T(connect_refused),
    T(connect_auth),
    T(select_db),
    T(binary_argv_round_trip),
    T(pipeline_ten),
    T(evalsha_noscript_fallback),
    T(big_value_round_trip),
    T(command_timeout_breaks),
    T(connect_by_name_and_ipv6),
    T(unix_socket),
    T(pool_threads),
    T(pool_checkout_wait_and_reuse),
    T(pool_reconnect_after_restart),
    T(tls_verified_with_ca),
    T(tls_verify_failures),
    T(tls_no_verify_and_url),
    T(tls_pool_keeps_idle_connection),
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* required for TLS (rds.h) */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_rds.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    find_bin("redis-server", redis_bin, sizeof(redis_bin));
    find_bin("openssl", openssl_bin, sizeof(openssl_bin));
    int rc = harness_main(argc, argv, tests, ARRAY_SIZE(tests));
    teardown();
    return rc;
}
