/*
 * login_throttle.c - failed-login delays in Redis (login_throttle.h).
 *
 * DESIGN: the old scheme was a counter per address checked with GET and
 * raised with INCR after the (slow) password check: parallel attempts all
 * passed the GET (13 got through instead of 10), and ten failures locked
 * the address - and so the right password, and behind a proxy everyone -
 * out for 900 s. Now one script checks and counts both records atomically
 * and answers with the time to wait; a record is a hash {fails, next}
 * (next: ms since the epoch before which no attempt is allowed). The user
 * name is keyed-hashed into the key name: it is attacker text of any length.
 */
#include "compat.h"
#include "clock.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "login_throttle.h"
#include "rds.h"
#include "reqctx.h"
#include "secret.h"
#include "store_keys.h"

#include <time.h>

#define ADDR_BUDGET_FACTOR 4 /* an address may fail this many times a pair's budget */
#define RECORD_TTL_FACTOR 4  /* records are forgotten 4 longest-delays after the last attempt */

/* KEYS: 1 pair, 2 address. ARGV: 1 now ms, 2 pair budget, 3 address budget,
 * 4 longest delay ms, 5 record TTL s. Returns 0 (attempt counted) or the ms
 * to wait (nothing counted). */
static const char throttle_lua[] =
    "local now=tonumber(ARGV[1])\n"
    "local wait=0\n"
    "for i=1,2 do\n"
    "  local nx=tonumber(redis.call('HGET',KEYS[i],'next') or '0')\n"
    "  if nx-now>wait then wait=nx-now end\n"
    "end\n"
    "if wait>0 then return wait end\n"
    "for i=1,2 do\n"
    "  local n=redis.call('HINCRBY',KEYS[i],'fails',1)\n"
    "  local budget=tonumber(ARGV[i+1])\n"
    "  if n>=budget then\n"
    "    local d=math.min(tonumber(ARGV[4]),1000*2^math.min(n-budget,40))\n"
    "    redis.call('HSET',KEYS[i],'next',string.format('%d',now+d))\n"
    "  end\n"
    "  redis.call('EXPIRE',KEYS[i],ARGV[5])\n"
    "end\n"
    "return 0\n";

static void pair_key(struct reqctx *rq, const char *username, char out[STORE_KEY_MAX])
{
    char h[SECRET_HASH_HEX + 1];
    const char *ip = reqctx_client_ip(rq)[0] ? reqctx_client_ip(rq) : "unknown";
    secret_keyed_hash(reqctx_app(rq)->session_box, "login-user", username, h);
    store_key(out, SK_LOGIN_THROTTLE_PAIR, h, ip);
}

int login_throttle_begin(struct reqctx *rq, struct rds_conn *c, const char *username,
                         long long *wait_ms)
{
    const struct relay_config *cfg = reqctx_app(rq)->cfg;
    char pair[STORE_KEY_MAX], addr[STORE_KEY_MAX], now[24], budget[24], abudget[24], cap[24],
        ttl[24];
    pair_key(rq, username, pair);
    store_key(addr, SK_LOGIN_THROTTLE_ADDR,
              reqctx_client_ip(rq)[0] ? reqctx_client_ip(rq) : "unknown");
    snprintf(now, sizeof(now), "%lld", clock_wall_ms());
    snprintf(budget, sizeof(budget), "%lld", cfg->login_max_failures);
    snprintf(abudget, sizeof(abudget), "%lld", cfg->login_max_failures * ADDR_BUDGET_FACTOR);
    snprintf(cap, sizeof(cap), "%lld", cfg->login_lockout_seconds * 1000);
    snprintf(ttl, sizeof(ttl), "%lld", cfg->login_lockout_seconds * RECORD_TTL_FACTOR);
    const char *argv[] = {pair, addr, now, budget, abudget, cap, ttl};
    redisReply *r = rds_script(c, throttle_lua, 2, (int)ARRAY_SIZE(argv), argv, NULL);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (rc == 0)
        *wait_ms = r->integer;
    if (r)
        freeReplyObject(r);
    return rc;
}

void login_throttle_clear(struct reqctx *rq, struct rds_conn *c, const char *username)
{
    char pair[STORE_KEY_MAX];
    pair_key(rq, username, pair);
    redisReply *r = rds_command(c, "DEL %s", pair);
    if (r)
        freeReplyObject(r);
}
