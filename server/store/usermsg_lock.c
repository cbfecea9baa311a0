/* usermsg_lock.c - the user-turn lock scripts (see usermsg_lock.h). */
#include "compat.h"
#include "errs.h"
#include "rds.h"
#include "store.h"
#include "usermsg_lock.h"

/* KEYS: lock, last. ARGV: owner, now ms, delay ms, ttl ms. A last release
 * stamped in the future (another instance's clock runs ahead) waits at most
 * the delay. */
static const char acquire_lua[] = "local v=redis.call('MGET',KEYS[1],KEYS[2])\n"
                                  "if v[1] then if v[1]==ARGV[1] then return 0 end return -1 end\n"
                                  "local last=tonumber(v[2])\n"
                                  "local delay=tonumber(ARGV[3])\n"
                                  "if last then\n"
                                  "  local left=delay-(tonumber(ARGV[2])-last)\n"
                                  "  if left>delay then left=delay end\n"
                                  "  if left>0 then return left end\n"
                                  "end\n"
                                  "redis.call('SET',KEYS[1],ARGV[1],'PX',ARGV[4])\n"
                                  "return 0\n";

/* KEYS: lock, last. ARGV: owner, now ms. */
static const char release_lua[] = "if redis.call('GET',KEYS[1])==ARGV[1] then\n"
                                  "  redis.call('DEL',KEYS[1])\n"
                                  "  redis.call('SET',KEYS[2],ARGV[2],'EX',60)\n"
                                  "  return 1\n"
                                  "end\n"
                                  "return 0\n";

static int run(struct rds_conn *c, const char *lua, const char *account_id, int argc,
               const char **args, long long *out)
{
    char lock[STORE_KEY_MAX], last[STORE_KEY_MAX];
    store_key(lock, SK_USER_MSG_LOCK, account_id);
    store_key(last, SK_USER_MSG_LAST, account_id);
    const char *argv[6] = {lock, last};
    for (int i = 0; i < argc && i < 4; i++)
        argv[2 + i] = args[i];
    redisReply *r = rds_script(c, lua, 2, 2 + argc, argv, NULL);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (rc == 0)
        *out = r->integer;
    if (r)
        freeReplyObject(r);
    return rc;
}

int usermsg_lock_acquire(struct rds_conn *c, const char *account_id, const char *owner,
                         long long now_ms, long long delay_ms, long long ttl_ms, long long *wait_ms)
{
    char now[24], delay[24], ttl[24];
    snprintf(now, sizeof(now), "%lld", now_ms);
    snprintf(delay, sizeof(delay), "%lld", delay_ms);
    snprintf(ttl, sizeof(ttl), "%lld", ttl_ms);
    const char *args[] = {owner, now, delay, ttl};
    return run(c, acquire_lua, account_id, 4, args, wait_ms);
}

int usermsg_lock_release(struct rds_conn *c, const char *account_id, const char *owner,
                         long long now_ms)
{
    char now[24];
    long long released;
    snprintf(now, sizeof(now), "%lld", now_ms);
    const char *args[] = {owner, now};
    return run(c, release_lua, account_id, 2, args, &released);
}
