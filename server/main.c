/*
 * main.c - glue only: configuration, start the subsystems, wait for a
 * signal, stop them in reverse order.
 *
 * Threads: main (signals, then shutdown), HTTP_THREADS libmicrohttpd I/O
 * threads, WORKER_THREADS request workers, one upstream event loop (libcurl
 * multi), one maintenance thread, one notify listener (Redis pub/sub). The
 * count is fixed at start.
 */
#include "compat.h"
#include "clock.h"
#include "accounts.h"
#include "app.h"
#include "auth.h"
#include "config.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "key_cache.h"
#include "sticky_cache.h"
#include "leases.h"
#include "maintenance.h"
#include "queue.h"
#include "notify.h"
#include "pricing_sync.h"
#include "rds.h"
#include "redis_embed.h"
#include "secret.h"
#include "settings.h"
#include "stream.h"
#include "token_refresh.h"
#include "tpool.h"
#include "usage_stats.h"
#include "usage_writer.h"
#include "version.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct runtime {
    struct relay_config *cfg;
    struct redis_embed *embed;
    struct app app;
    struct httpd *httpd;
    struct maint *maint;
};

static void usage_exit(int code)
{
    printf("usage: relay [--version | --print-config-example | --check-config]\n"
           "Configuration comes from the environment and ./.env; see config.example.env.\n");
    exit(code);
}

static struct relay_config *load_config(void)
{
    struct buf errs;
    buf_init(&errs, 16 * 1024);
    struct relay_config *cfg = NULL;
    if (config_load(&cfg, &errs) != 0) {
        if (strstr(errs.data, "JWT_SECRET: is not set") ||
            strstr(errs.data, "ENCRYPTION_KEY: is not set"))
            fprintf(stderr, "Error: JWT_SECRET or ENCRYPTION_KEY is not set\n");
        fprintf(stderr, "Invalid configuration:\n%s", errs.data);
        buf_release(&errs);
        exit(1);
    }
    buf_release(&errs);
    return cfg;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* two fds per stream: client + upstream */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int redis_opts(struct runtime *rt, struct rds_opts *o, char **storage, char *err,
                      size_t errlen)
{
    const struct relay_config *cfg = rt->cfg;
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 5000;
    o->command_timeout_ms = 5000;
    o->tls_verify = cfg->redis_tls_verify;
    if (config_redis_embedded(cfg)) {
        if (redis_embed_start(cfg, &rt->embed, err, errlen) != 0)
            return -1;
        o->unix_path = redis_embed_socket(rt->embed);
        return 0;
    }
    if (cfg->redis_url[0] && rds_opts_from_url(o, cfg->redis_url, storage) != 0) {
        snprintf(err, errlen, "REDIS_URL is not a valid redis:// or rediss:// URL");
        return -1;
    }
    if (!cfg->redis_url[0]) {
        o->host = cfg->redis_host;
        o->port = (int)cfg->redis_port;
        o->password = cfg->redis_password[0] ? cfg->redis_password : NULL;
        o->username = cfg->redis_username[0] ? cfg->redis_username : NULL;
        o->db = (int)cfg->redis_db;
        o->tls = cfg->redis_enable_tls;
    }
    o->tls_verify = cfg->redis_tls_verify;
    o->connect_timeout_ms = 5000;
    o->command_timeout_ms = 5000;
    o->tls_ca_file = cfg->redis_tls_ca_file[0] ? cfg->redis_tls_ca_file : NULL;
    return 0;
}

static int worker_count(const struct relay_config *cfg)
{
    if (cfg->worker_threads > 0)
        return (int)cfg->worker_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN) * 2;
    return n < 4 ? 4 : (int)n;
}

static void start_redis(struct runtime *rt, int workers)
{
    struct rds_opts o;
    char *storage = NULL, err[256] = "";
    int size = rt->cfg->redis_pool_size > 0 ? (int)rt->cfg->redis_pool_size : workers + 2;
    if (redis_opts(rt, &o, &storage, err, sizeof(err)) != 0 ||
        rds_pool_new(&o, size, &rt->app.redis, err, sizeof(err)) != 0) {
        const char *where = o.unix_path ? o.unix_path : o.host ? o.host : "?";
        log_error("main", "Redis connection failed: %s:%d: %s", where, o.unix_path ? 0 : o.port,
                  err);
        fprintf(stderr, "Error: Redis connection failed: %s:%d: %s\n", where,
                o.unix_path ? 0 : o.port, err);
        redis_embed_stop(rt->embed);
        exit(1);
    }
    free(storage);
    log_info("main", "redis connected (%s)", o.unix_path ? "private instance" : "external");
}

/* Fatal start-up error: on stderr (what an operator or a supervisor sees) and in the log. */
static void die(const char *msg)
{
    log_error("main", "%s", msg);
    fprintf(stderr, "Error: %s\n", msg);
    exit(1);
}

/* The in-memory snapshots the request path reads: accounts, runtime
 * settings and prices. */
static void load_snapshots(struct app *app)
{
    struct rds_conn *c = rds_pool_get(app->redis, 5000);
    if (!c || accounts_refresh(app->accounts, c) != 0)
        log_warn("main", "could not load the accounts yet; the maintenance thread retries");
    if (!c || settings_reload(app->settings, c) != 0)
        log_warn("main",
                 "could not read %s yet: the environment's settings apply until the "
                 "maintenance thread reads it",
                 "claude_relay_config");
    if (pricing_sync_new(app->cfg, c, &app->pricing) != 0) {
        log_error("main", "cannot load the price table");
        exit(1);
    }
    rds_pool_put(app->redis, c);
}

static void start_all(struct runtime *rt)
{
    struct app *app = &rt->app;
    int workers = worker_count(rt->cfg);
    char err[256];
    int listen_fd = -1;
    /* First: a relay that cannot have its port must not touch Redis or files. */
    if (httpd_listen(rt->cfg, &listen_fd, err, sizeof(err)) != 0)
        die(err);
    app->cfg = rt->cfg;
    app->version = RELAY_VERSION;
    app->started_at = time(NULL);
    app->tz_offset_min = (int)rt->cfg->timezone_offset * 60;
    app->usage_stats = usage_stats_new();
    app->keys = key_cache_new();
    app->sticky = sticky_cache_new();
    app->leases = leases_new();
    app->queue = queue_new(app);
    app->refresh = token_refresh_new(app);
    app->usage_writer = usage_writer_new(app);
    app->settings = settings_new(rt->cfg);
    start_redis(rt, workers);
    if (secret_box_new(rt->cfg->encryption_key, &app->box) != 0 ||
        secret_box_new(rt->cfg->jwt_secret, &app->session_box) != 0 ||
        (rt->cfg->encryption_key_old[0] &&
         secret_box_add_old(app->box, rt->cfg->encryption_key_old) != 0) ||
        tpool_new(workers, 4096, "worker", &app->workers) != 0 || httpc_new(&app->httpc) != 0 ||
        accounts_new(app, &app->accounts) != 0) {
        log_error("main", "cannot start the core subsystems");
        exit(1);
    }
    httpc_set_round_end(app->httpc, stream_wake_batch, NULL);
    secret_random_hex(app->instance_id, 8);
    load_snapshots(app);
    if (auth_bootstrap(app) != 0) {
        log_error("main", "admin initialisation failed");
        exit(1);
    }
    /* The listener before the first request: handlers read app->notify. */
    if (notify_start(app, &app->notify) != 0)
        exit(1);
    if (httpd_start(app, listen_fd, &rt->httpd, err, sizeof(err)) != 0)
        die(err);
    if (maint_start(app, &rt->maint) != 0)
        exit(1);
    log_info("main", "starting the relay service on http://%s:%lld (workers=%d http_threads=%lld)",
             rt->cfg->host, rt->cfg->port, workers, rt->cfg->http_threads);
}

/* Reverse order. Streams get SHUTDOWN_GRACE_MS to finish before they are cut. */
static void stop_all(struct runtime *rt)
{
    struct app *app = &rt->app;
    log_info("main", "shutting down: no new connections, %ld requests in flight",
             httpd_inflight(rt->httpd));
    httpd_quiesce(rt->httpd);
    long long until = clock_mono_ms() + rt->cfg->shutdown_grace_ms;
    while (httpd_inflight(rt->httpd) > 0 && clock_mono_ms() < until) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    maint_stop(rt->maint);
    notify_stop(app->notify);
    app->notify = NULL;        /* jobs still draining ask notify_connected(): it answers false */
    tpool_drain(app->workers); /* no handler may start a transfer after this */
    stream_shutdown_all();     /* nor a retry: attempts are refused from now on */
    httpc_stop(app->httpc);    /* cancels what still runs; usage jobs get queued */
    tpool_free(app->workers);  /* runs them: usage is flushed before exit */
    token_refresh_free(app->refresh); /* every waiter was woken by its job */
    app->refresh = NULL;
    httpc_free(app->httpc);
    httpd_stop(rt->httpd);
    usage_writer_free(app->usage_writer); /* what no worker wrote */
    struct rds_conn *c = rds_pool_get(app->redis, 2000);
    if (c) { /* the last breakdowns */
        usage_stats_flush(app->usage_stats, app, c);
        rds_pool_put(app->redis, c);
    }
    usage_stats_free(app->usage_stats);
    accounts_free(app->accounts);
    key_cache_free(app->keys);
    sticky_cache_free(app->sticky);
    leases_free(app->leases);
    queue_free(app->queue);
    pricing_sync_free(app->pricing);
    settings_free(app->settings);
    rds_pool_free(app->redis);
    redis_embed_stop(rt->embed);
    secret_box_free(app->box);
    secret_box_free(app->session_box);
    log_info("main", "stopped");
    config_free(rt->cfg);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("claude-relay %s\n", RELAY_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--print-config-example") == 0) {
        config_print_example(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--check-config") != 0)
        usage_exit(argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2);
    signal(SIGPIPE, SIG_IGN);
    /* glibc raises its trim threshold after each large free (up to 64 MB),
     * and malloc_trim cannot shrink a thread arena's top: after a burst of
     * streams the free tops of the busy threads' arenas stayed resident
     * (~10 MB idle). A fixed 128 KiB (glibc's own default) lets a free give them back. */
    mallopt(M_TRIM_THRESHOLD, 128 << 10);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits this */
    if (secret_global_init() != 0)
        return 1;
    log_info("main", "starting claude-relay %s", RELAY_VERSION);
    struct runtime rt = {.cfg = load_config()};
    if (argc > 1) {
        printf("configuration ok\n");
        config_free(rt.cfg);
        return 0;
    }
    log_open(rt.cfg->log_dir, (enum log_level)log_level_parse(rt.cfg->log_level),
             (int)rt.cfg->timezone_offset * 60);
    log_info("main", "environment ready");
    raise_fd_limit();
    start_all(&rt);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("main", "received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_all(&rt);
    log_close();
    return 0;
}
