/*
 * notify.c - the listener for other instances' changes (see notify.h).
 * LOCKING: none shared; `stop` and `connected` are atomics. The listener
 * owns its subscriber connection; reloads use pool connections.
 */
#include "compat.h"
#include "accounts.h"
#include "app.h"
#include "errs.h"
#include "key_cache.h"
#include "sticky_cache.h"
#include "log.h"
#include "notify.h"
#include "pricing_sync.h"
#include "queue.h"
#include "rds.h"
#include "settings.h"
#include "store_keys.h"
#include "xmalloc.h"

#include <pthread.h>
#include <time.h>

#define WAIT_MS 1000         /* how often the thread looks at `stop` */
#define BACKOFF_MAX_MS 30000 /* between reconnects during an outage */

struct notify {
    struct app *app;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool connected;
};

void notify_payload(const struct app *app, const char *what, char *out, size_t len)
{
    snprintf(out, len, "%s %s", what, app->instance_id);
}

void notify_publish(const struct app *app, struct rds_conn *c, const char *what)
{
    char payload[128];
    notify_payload(app, what, payload, sizeof(payload));
    redisReply *r = rds_command(c, "PUBLISH %s %s", SK_NOTIFY_CHANNEL, payload);
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_warn("notify", "could not tell the other instances about %s", what);
    if (r)
        freeReplyObject(r);
}

bool notify_connected(const struct notify *n)
{
    return n && atomic_load(&n->connected);
}

static void with_pool_conn(struct app *app, const char *what, const char *id)
{
    struct rds_conn *c = rds_pool_get(app->redis, 3000);
    int rc = -ERR_REDIS;
    if (c && strcmp(what, "the price table") == 0)
        rc = pricing_sync_check(app->pricing, c) == -ERR_REDIS ? -ERR_REDIS : 0;
    else if (c && strcmp(what, "the settings") == 0)
        rc = settings_reload(app->settings, c);
    else if (c)
        rc = id ? accounts_reload_state(app->accounts, c, id) : accounts_refresh(app->accounts, c);
    rds_pool_put(app->redis, c);
    if (rc != 0 && rc != -ERR_NOTFOUND)
        log_warn("notify", "could not re-read %s after a change elsewhere", what);
}

/* "account <id> <instance>", "key <id> <instance>", "sticky <hash> <instance>",
 * "accounts <instance>", "pricing <instance>" or "settings <instance>". */
static void on_message(struct notify *n, const char *payload)
{
    char kind[16] = "", id[64] = "", from[64] = "";
    int k = sscanf(payload, "%15s %63s %63s", kind, id, from);
    if (k >= 2 && strcmp(kind, "accounts") == 0 && strcmp(id, n->app->instance_id) != 0)
        with_pool_conn(n->app, "the accounts", NULL);
    else if (k >= 2 && strcmp(kind, "pricing") == 0 && strcmp(id, n->app->instance_id) != 0)
        with_pool_conn(n->app, "the price table", NULL);
    else if (k >= 2 && strcmp(kind, "settings") == 0 && strcmp(id, n->app->instance_id) != 0)
        with_pool_conn(n->app, "the settings", NULL);
    else if (k == 3 && strcmp(kind, "account") == 0 && strcmp(from, n->app->instance_id) != 0)
        with_pool_conn(n->app, "an account state", id);
    else if (k == 3 && strcmp(kind, "key") == 0 && strcmp(from, n->app->instance_id) != 0)
        key_cache_forget(n->app->keys, id); /* read again at its next use */
    else if (k == 3 && strcmp(kind, "sticky") == 0 && strcmp(from, n->app->instance_id) != 0)
        sticky_cache_forget(n->app->sticky, id); /* bound elsewhere: read at its next use */
    else if (k >= 2 && strcmp(kind, "slot") == 0)
        queue_kick(n->app->queue, id); /* a slot came back: the head of the line looks */
}

static bool is_message(const redisReply *r)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
           r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "message") &&
           r->element[2]->type == REDIS_REPLY_STRING;
}

static struct rds_conn *subscribe(struct notify *n)
{
    char err[256] = "";
    struct rds_conn *c = NULL;
    if (rds_pool_dial(n->app->redis, &c, err, sizeof(err)) != 0)
        return NULL;
    redisReply *r = rds_command(c, "SUBSCRIBE %s", SK_NOTIFY_CHANNEL);
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        rds_close(c);
        return NULL;
    }
    return c;
}

static void nap(struct notify *n, long long ms)
{
    for (long long t = 0; t < ms && !atomic_load(&n->stop); t += 100) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Read messages until the connection breaks or we are stopped. */
static void listen_on(struct notify *n, struct rds_conn *c)
{
    while (!atomic_load(&n->stop)) {
        redisReply *r = NULL;
        int rc = rds_read_push(c, WAIT_MS, &r);
        if (rc == -ERR_TIMEOUT)
            continue;
        if (rc != 0)
            return;
        if (is_message(r))
            on_message(n, r->element[2]->str);
        freeReplyObject(r);
    }
}

static void *notify_main(void *arg)
{
    struct notify *n = arg;
    long long backoff = 100;
    while (!atomic_load(&n->stop)) {
        struct rds_conn *c = subscribe(n);
        if (!c) {
            nap(n, backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        backoff = 100;
        sticky_cache_clear(n->app->sticky); /* rebinds we may have missed, before trusting it */
        atomic_store(&n->connected, true);
        with_pool_conn(n->app, "the accounts", NULL); /* what changed while we were away */
        with_pool_conn(n->app, "the settings", NULL);
        listen_on(n, c);
        atomic_store(&n->connected, false);
        rds_close(c);
        if (!atomic_load(&n->stop))
            log_warn("notify", "lost the Redis subscription; reconnecting");
    }
    return NULL;
}

int notify_start(struct app *app, struct notify **out)
{
    struct notify *n = xcalloc(1, sizeof(*n));
    n->app = app;
    if (pthread_create(&n->thread, NULL, notify_main, n) != 0) {
        free(n);
        return -ERR_IO;
    }
    pthread_setname_np(n->thread, "notify");
    *out = n;
    return 0;
}

void notify_stop(struct notify *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, true);
    pthread_join(n->thread, NULL);
    free(n);
}
