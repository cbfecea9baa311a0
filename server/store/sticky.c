/* sticky.c - sticky-session bindings (see sticky.h). */
#include "compat.h"
#include "errs.h"
#include "rds.h"
#include "store.h"
#include "store_keys.h"
#include "sticky.h"

#define HASH_MAX 64

/* A session uuid or a hex digest: nothing else reaches a key name. */
static bool hash_ok(const char *h)
{
    size_t n = strlen(h);
    return n > 0 && n <= HASH_MAX && strspn(h, "0123456789abcdefABCDEF-") == n;
}

/* EXPIRE when less than renew_s is left; the time left after it. */
static long long renew(struct rds_conn *c, const char *key, long long left_ms, long long ttl_s,
                       long long renew_s)
{
    if (renew_s <= 0 || left_ms < 0 || left_ms >= renew_s * 1000)
        return left_ms;
    redisReply *r = rds_command(c, "EXPIRE %s %lld", key, ttl_s);
    bool ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    return ok ? ttl_s * 1000 : left_ms;
}

int sticky_get(struct rds_conn *c, const char *hash, long long ttl_s, long long renew_s, char *out,
               size_t len, long long *left_ms)
{
    char key[STORE_KEY_MAX];
    if (!hash_ok(hash))
        return -ERR_NOTFOUND;
    store_key(key, SK_STICKY_SESSION, hash);
    redisReply *r[2] = {0};
    int rc = -ERR_REDIS;
    if (rds_append(c, "GET %s", key) == 0 && rds_append(c, "PTTL %s", key) == 0 &&
        rds_flush_replies(c, 2, r) == 0)
        rc = r[0]->type == REDIS_REPLY_STRING && r[0]->len < len &&
                     !(r[1]->type == REDIS_REPLY_INTEGER && r[1]->integer == -2)
                 ? 0
                 : -ERR_NOTFOUND; /* PTTL -2: it expired between the two commands */
    if (rc == 0) {
        snprintf(out, len, "%s", r[0]->str);
        long long left = r[1]->type == REDIS_REPLY_INTEGER ? r[1]->integer : -1;
        *left_ms = renew(c, key, left, ttl_s, renew_s);
    }
    for (int i = 0; i < 2; i++)
        if (r[i])
            freeReplyObject(r[i]);
    return rc;
}

int sticky_set(struct rds_conn *c, const char *hash, const char *account_id, long long ttl_s,
               const char *notice)
{
    char key[STORE_KEY_MAX];
    if (!hash_ok(hash))
        return 0; /* never bound, never read */
    store_key(key, SK_STICKY_SESSION, hash);
    redisReply *r[2] = {0};
    int n = notice ? 2 : 1, rc = -ERR_REDIS;
    if (rds_append(c, "SET %s %s EX %lld", key, account_id, ttl_s) == 0 &&
        (!notice || rds_append(c, "PUBLISH %s %s", SK_NOTIFY_CHANNEL, notice) == 0) &&
        rds_flush_replies(c, n, r) == 0)
        rc = r[0]->type == REDIS_REPLY_STATUS ? 0 : -ERR_REDIS;
    for (int i = 0; i < 2; i++)
        if (r[i])
            freeReplyObject(r[i]);
    return rc;
}
