/*
 * admission.c - a key's stateful limits in one script call (see .h).
 *
 * DESIGN: every check reads before anything is taken, and what an admitted
 * request holds (its lease, its count in the window) is taken last, in the
 * same script: a refusal leaves nothing behind, and two relays on one Redis
 * cannot both take the last slot. Costs are added later, by the accounting
 * script (usage.c), when they are known.
 */
#include "compat.h"
#include "admission.h"
#include "admin_util.h"
#include "app.h"
#include "errs.h"
#include "keys.h"
#include "log.h"
#include "rds.h"
#include "store.h"
#include "usage.h"
#include "xmalloc.h"

#include <time.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL

/* KEYS: concurrency, rate_limit, api_key_cost, api_key. ARGV: see admit_argv. */
static const char admit_lua[] =
    "local now=tonumber(ARGV[1])\n"
    "local act=0\n"
    "if ARGV[15]~='0' and redis.call('HGET',KEYS[4],'isActivated')=='false' then\n"
    "  redis.call('HSET',KEYS[4],'isActivated','true','activatedAt',ARGV[16],"
    "'expiresAt',ARGV[17])\n"
    "  act=1\n"
    "end\n"
    "local cl=tonumber(ARGV[4])\n"
    "if cl>0 then\n"
    "  redis.call('ZREMRANGEBYSCORE',KEYS[1],'-inf',now)\n"
    "  local n=redis.call('ZCARD',KEYS[1])\n"
    "  if n>=cl then return {1,n,cl,0,act,0} end\n"
    "end\n"
    "local w=tonumber(ARGV[5])\n"
    "local fresh=true\n"
    "if w>0 then\n"
    "  local st=redis.call('HMGET',KEYS[2],'start','requests','tokens','cost')\n"
    "  local s=tonumber(st[1])\n"
    "  if s and now-s<w then\n"
    "    fresh=false\n"
    "    local rl,tl,kl=tonumber(ARGV[6]),tonumber(ARGV[7]),tonumber(ARGV[8])\n"
    "    local rq,tk,co=tonumber(st[2]) or 0,tonumber(st[3]) or 0,tonumber(st[4]) or 0\n"
    "    if rl>0 and rq>=rl then return {2,rq,rl,s+w,act,0} end\n"
    "    if tl>0 and tk>=tl then return {3,tk,tl,s+w,act,0} end\n"
    "    if tl==0 and kl>0 and co>=kl then return {4,co,kl,s+w,act,0} end\n"
    "  end\n"
    "end\n"
    "local dl,tt,wl=tonumber(ARGV[9]),tonumber(ARGV[10]),tonumber(ARGV[11])\n"
    "if dl>0 or tt>0 or wl>0 then\n"
    "  local c=redis.call('HMGET',KEYS[3],'totalMicro','day','dayMicro','week','weekMicro')\n"
    "  local d=(c[2]==ARGV[12]) and (tonumber(c[3]) or 0) or 0\n"
    "  if dl>0 and d>=dl then return {5,d,dl,0,act,0} end\n"
    "  local t=tonumber(c[1]) or 0\n"
    "  if tt>0 and t>=tt then return {6,t,tt,0,act,0} end\n"
    "  local x=(c[4]==ARGV[13]) and (tonumber(c[5]) or 0) or 0\n"
    "  if wl>0 and ARGV[14]=='1' and x>=wl then return {7,x,wl,0,act,0} end\n"
    "end\n"
    "local leased=0\n"
    "if cl>0 then\n"
    "  redis.call('ZADD',KEYS[1],ARGV[3],ARGV[2])\n"
    "  redis.call('PEXPIRE',KEYS[1],tonumber(ARGV[3])-now+60000)\n"
    "  leased=1\n"
    "end\n"
    "if w>0 and fresh then\n"
    "  redis.call('HSET',KEYS[2],'start',now,'requests',1,'tokens',0,'cost',0)\n"
    "  redis.call('PEXPIRE',KEYS[2],w)\n"
    "elseif w>0 then\n"
    "  redis.call('HINCRBY',KEYS[2],'requests',1)\n"
    "end\n"
    "return {0,0,0,0,act,leased}\n";

static long long local_midnight_after(long long now_ms, int tz_min)
{
    long long local = now_ms + (long long)tz_min * 60000;
    return (local / DAY_MS + 1) * DAY_MS - (long long)tz_min * 60000;
}

/* The start of the key's week: the latest (week_day, week_hour) in local
 * time at or before now. 1970-01-01 was a Thursday (ISO day 4). */
static long long week_start(const struct api_key *k, int tz_min, long long now_ms)
{
    long long local = now_ms + (long long)tz_min * 60000;
    long long day = local / DAY_MS;
    int iso = (int)((day + 3) % 7) + 1; /* 1 = Monday */
    long long start =
        (day - ((iso - k->pol.week_day + 7) % 7)) * DAY_MS + k->pol.week_hour * HOUR_MS;
    if (start > local)
        start -= 7 * DAY_MS;
    return start - (long long)tz_min * 60000;
}

void admission_periods(const struct api_key *k, int tz_offset_min, long long now_ms,
                       struct admit_request *r)
{
    char iso[32];
    usage_dates(tz_offset_min, (time_t)(now_ms / 1000), r->day, iso);
    long long ws = week_start(k, tz_offset_min, now_ms);
    time_t local = (time_t)((ws + (long long)tz_offset_min * 60000) / 1000);
    struct tm tm;
    gmtime_r(&local, &tm);
    strftime(r->week, sizeof(r->week), "%Y-%m-%dT%H", &tm);
    r->week_end_ms = ws + 7 * DAY_MS;
    r->day_end_ms = local_midnight_after(now_ms, tz_offset_min);
}

struct admit_argv {
    char keys[4][STORE_KEY_MAX];
    char num[14][24];
    char at[32], exp[32];
};

static void fill_argv(const struct api_key *k, const struct admit_request *r, struct admit_argv *a)
{
    const struct key_policy *p = &k->pol;
    store_key(a->keys[0], SK_CONCURRENCY, k->id);
    store_key(a->keys[1], SK_RATE_LIMIT, k->id);
    store_key(a->keys[2], SK_API_KEY_COST, k->id);
    store_key(a->keys[3], SK_API_KEY, k->id);
    long long v[] = {r->now_ms,      r->now_ms + r->lease_ms, p->concurrency,
                     p->window_ms,   p->window_requests,      p->window_tokens,
                     p->window_cost, p->daily_cost,           p->total_cost,
                     p->weekly_cost, r->claude_family,        p->activation ? p->activation_ms : 0};
    for (size_t i = 0; i < ARRAY_SIZE(v); i++)
        snprintf(a->num[i], sizeof(a->num[i]), "%lld", v[i]);
    admin_iso_from_ms(r->now_ms, a->at);
    admin_iso_from_ms(r->now_ms + (p->activation ? p->activation_ms : 0), a->exp);
}

static int read_result(const redisReply *rep, struct admit_result *out, long long exp_ms)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 6) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            log_warn("admission", "script failed: %s", rep->str);
        return -ERR_REDIS;
    }
    long long v[6];
    for (int i = 0; i < 6; i++)
        v[i] = rds_reply_int(rep->element[i], 0);
    *out = (struct admit_result){.code = (enum admit_code)v[0],
                                 .current = v[1],
                                 .limit = v[2],
                                 .reset_ms = v[3],
                                 .activated_ms = v[4] ? exp_ms : 0,
                                 .leased = (int)v[5]};
    return 0;
}

int admission_run(struct app *app, struct rds_conn *c, const struct api_key *k,
                  const struct admit_request *r, struct admit_result *out)
{
    UNUSED(app);
    struct admit_argv a = {0};
    fill_argv(k, r, &a);
    const char *argv[] = {a.keys[0], a.keys[1], a.keys[2], a.keys[3], a.num[0],  r->lease, a.num[1],
                          a.num[2],  a.num[3],  a.num[4],  a.num[5],  a.num[6],  a.num[7], a.num[8],
                          a.num[9],  r->day,    r->week,   a.num[10], a.num[11], a.at,     a.exp};
    redisReply *rep = rds_script(c, admit_lua, 4, (int)ARRAY_SIZE(argv), argv, NULL);
    int rc = read_result(rep, out, r->now_ms + k->pol.activation_ms);
    if (rep)
        freeReplyObject(rep);
    if (rc == 0 && (out->code == ADMIT_DAILY_COST))
        out->reset_ms = r->day_end_ms;
    if (rc == 0 && (out->code == ADMIT_WEEKLY_COST))
        out->reset_ms = r->week_end_ms;
    return rc;
}

int admission_release(struct rds_conn *c, const char *key_id, const char *lease)
{
    char key[STORE_KEY_MAX];
    store_key(key, SK_CONCURRENCY, key_id);
    redisReply *r = rds_command(c, "ZREM %s %s", key, lease);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    return rc;
}

int admission_renew(struct rds_conn *c, int n, const char *const *key_ids,
                    const char *const *leases, long long end_ms)
{
    char end[24], key[STORE_KEY_MAX];
    snprintf(end, sizeof(end), "%lld", end_ms);
    for (int i = 0; i < n; i++) {
        store_key(key, SK_CONCURRENCY, key_ids[i]);
        if (rds_append(c, "ZADD %s XX %s %s", key, end, leases[i]) != 0)
            return -ERR_REDIS;
    }
    redisReply **rep = xcalloc((size_t)n + 1, sizeof(*rep));
    int rc = n ? rds_flush_replies(c, n, rep) : 0;
    for (int i = 0; i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    free(rep);
    return rc == 0 ? 0 : -ERR_REDIS;
}
