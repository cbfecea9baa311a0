/* sticky.c - sticky-session bindings (see sticky.h). */
#include "compat.h"
#include "errs.h"
#include "rds.h"
#include "store.h"
#include "sticky.h"

#define HASH_MAX 64

/* A session uuid or a hex digest: nothing else reaches a key name. */
static bool hash_ok(const char *h)
{
    size_t n = strlen(h);
    return n > 0 && n <= HASH_MAX && strspn(h, "0123456789abcdefABCDEF-") == n;
}

static void renew(struct rds_conn *c, const char *key, const redisReply *ttl, long long ttl_s,
                  long long renew_s)
{
    if (ttl->type != REDIS_REPLY_INTEGER || ttl->integer < 0 || ttl->integer >= renew_s)
        return;
    redisReply *r = rds_command(c, "EXPIRE %s %lld", key, ttl_s);
    if (r)
        freeReplyObject(r);
}

int sticky_get(struct rds_conn *c, const char *hash, long long ttl_s, long long renew_s, char *out,
               size_t len)
{
    char key[STORE_KEY_MAX];
    if (!hash_ok(hash))
        return -ERR_NOTFOUND;
    store_key(key, SK_STICKY_SESSION, hash);
    redisReply *r[2] = {0};
    int n = renew_s > 0 ? 2 : 1, rc = -ERR_REDIS;
    if (rds_append(c, "GET %s", key) == 0 && (n == 1 || rds_append(c, "TTL %s", key) == 0) &&
        rds_flush_replies(c, n, r) == 0)
        rc = r[0]->type == REDIS_REPLY_STRING && r[0]->len < len ? 0 : -ERR_NOTFOUND;
    if (rc == 0) {
        snprintf(out, len, "%s", r[0]->str);
        if (n == 2)
            renew(c, key, r[1], ttl_s, renew_s);
    }
    for (int i = 0; i < 2; i++)
        if (r[i])
            freeReplyObject(r[i]);
    return rc;
}

int sticky_set(struct rds_conn *c, const char *hash, const char *account_id, long long ttl_s)
{
    char key[STORE_KEY_MAX];
    if (!hash_ok(hash))
        return 0; /* never bound, never read */
    store_key(key, SK_STICKY_SESSION, hash);
    redisReply *r = rds_command(c, "SET %s %s EX %lld", key, account_id, ttl_s);
    int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    return rc;
}
