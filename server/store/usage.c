/*
 * usage.c - usage extraction and the exact per-key counters (see usage.h).
 *
 * DESIGN: the original system spent ~331 Redis commands per request. Here
 * the per-key totals (what limits and billing need, exact and at once) are
 * one EVALSHA doing HMGET + HSET; the daily/model/account/global breakdowns
 * are summed in memory by usage_stats.c and flushed every few seconds.
 */
#include "compat.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "store_keys.h"
#include "usage.h"
#include "xmalloc.h"

#define QUOTA_TTL "172800" /* s: an account's day counter outlives its day */

#include <time.h>

/* A token count from the upstream: a negative (or absurd) value is a broken
 * or hostile upstream and would subtract from a key's totals, so it counts
 * as 0. The cap (2^40) is far above any real response. */
static long long tokens(const cJSON *obj, const char *name)
{
    long long v = json_int(obj, name, 0);
    return v < 0 || v > (1LL << 40) ? 0 : v;
}

static void read_usage_obj(struct usage *u, const cJSON *us, bool from_delta)
{
    if (!cJSON_IsObject(us))
        return;
    u->seen = true;
    const cJSON *cc = json_get(us, "cache_creation");
    long long in = tokens(us, "input_tokens");
    long long cc_total = tokens(us, "cache_creation_input_tokens");
    long long cr = tokens(us, "cache_read_input_tokens");
    if (from_delta) {
        /* Some Anthropic-compatible upstreams report input only at the end. */
        if (in > 0 && u->input == 0)
            u->input = in;
        if (cc_total > 0 && u->cache_create == 0)
            u->cache_create = cc_total;
        if (cr > 0 && u->cache_read == 0)
            u->cache_read = cr;
        u->output = u->output_done + tokens(us, "output_tokens");
        return;
    }
    u->input += in;
    u->cache_create += cc_total;
    u->cache_read += cr;
    u->eph_5m += tokens(cc, "ephemeral_5m_input_tokens");
    u->eph_1h += tokens(cc, "ephemeral_1h_input_tokens");
    u->output_done = u->output;
    u->output += tokens(us, "output_tokens");
}

static void set_model(struct usage *u, const char *model)
{
    if (model && *model && !u->model[0])
        snprintf(u->model, sizeof(u->model), "%s", model);
}

void usage_from_anthropic_event(struct usage *u, const struct sse_event *ev)
{
    bool start = strcmp(ev->event, "message_start") == 0;
    bool delta = strcmp(ev->event, "message_delta") == 0;
    if (!ev->event[0]) /* unnamed events: look at the type without parsing everything */
        start = strstr(ev->data, "\"message_start\"") != NULL,
        delta = strstr(ev->data, "\"message_delta\"") != NULL;
    if (!start && !delta)
        return;
    cJSON *j = json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true);
    if (!j)
        return;
    if (start) {
        const cJSON *msg = json_get(j, "message");
        set_model(u, json_str(msg, "model", NULL));
        read_usage_obj(u, json_get(msg, "usage"), false);
    } else {
        read_usage_obj(u, json_get(j, "usage"), true);
    }
    cJSON_Delete(j);
}

void usage_from_anthropic_body(struct usage *u, const char *body, size_t len)
{
    cJSON *j = json_parse(body, len, JSON_MAX_DEPTH, true);
    if (!j)
        return;
    set_model(u, json_str(j, "model", NULL));
    read_usage_obj(u, json_get(j, "usage"), false);
    cJSON_Delete(j);
}

long long usage_total(const struct usage *u)
{
    return u->input + u->output + u->cache_create + u->cache_read;
}

/* KEYS: 1 api_key_usage, 2 api_key_cost, 3 rate_limit, 4 concurrency,
 * 5 usage_done, 6 concurrency:queue, 7 the account's concurrency, 8 the
 * account's day cost, 9 account_last_used. ARGV: 1..6 counters, 7 now (ISO), 8 cost (micro-USD),
 * 9 unpriced, 10 weekly, 11 window, 12 lease, 13 seen, 14 day, 15 week,
 * 16 channel, 17 "slot <keyId>", 18 account lease, 19 account quota ('1':
 * count its day), 20 the day counter's TTL (s), 21 the account id ('' :
 * none), 22 its last use (ms; '0': not now), for every instance's LRU. The leases go back first
 * and always (waiters, if any, are told at once); the rest once per
 * request id. Returns the account's cost of the day after this request
 * when counted now, else -1.
 * Read-add-write of each hash: 2 commands whatever the number of fields. */
static const char usage_lua[] =
    "if ARGV[12]~='' then\n"
    "  redis.call('ZREM',KEYS[4],ARGV[12])\n"
    "  if tonumber(redis.call('GET',KEYS[6]) or '0')>0 then "
    "redis.call('PUBLISH',ARGV[16],ARGV[17]) end\n"
    "end\n"
    "if ARGV[18]~='' then redis.call('ZREM',KEYS[7],ARGV[18]) end\n"
    "if ARGV[13]=='0' then return -1 end\n"
    "if not redis.call('SET',KEYS[5],'1','NX','EX',3600) then return -1 end\n"
    "local n={'requests','inputTokens','outputTokens','cacheCreateTokens','cacheReadTokens',"
    "'ephemeral5mTokens','ephemeral1hTokens','allTokens'}\n"
    "local all=tonumber(ARGV[1])+tonumber(ARGV[2])+tonumber(ARGV[3])+tonumber(ARGV[4])\n"
    "local add={1,ARGV[1],ARGV[2],ARGV[3],ARGV[4],ARGV[5],ARGV[6],all}\n"
    "local cur=redis.call('HMGET',KEYS[1],unpack(n))\n"
    "local out={}\n"
    "for i=1,#n do out[#out+1]=n[i] out[#out+1]=(tonumber(cur[i]) or 0)+tonumber(add[i]) end\n"
    "out[#out+1]='lastUsedAt' out[#out+1]=ARGV[7]\n"
    "redis.call('HSET',KEYS[1],unpack(out))\n"
    "if ARGV[21]~='' and ARGV[22]~='0' then redis.call('HSET',KEYS[9],ARGV[21],ARGV[22]) end\n"
    "local cost=tonumber(ARGV[8])\n"
    "local c=redis.call('HMGET',KEYS[2],'totalMicro','day','dayMicro','week','weekMicro',"
    "'unpricedRequests')\n"
    "local day=(c[2]==ARGV[14]) and (tonumber(c[3]) or 0) or 0\n"
    "local wk=(c[4]==ARGV[15]) and (tonumber(c[5]) or 0) or 0\n"
    "if ARGV[10]=='1' then wk=wk+cost end\n"
    "redis.call('HSET',KEYS[2],'totalMicro',(tonumber(c[1]) or 0)+cost,'day',ARGV[14],"
    "'dayMicro',day+cost,'week',ARGV[15],'weekMicro',wk,'unpricedRequests',"
    "(tonumber(c[6]) or 0)+tonumber(ARGV[9]))\n"
    "if ARGV[11]=='1' and redis.call('EXISTS',KEYS[3])==1 then\n"
    "  redis.call('HINCRBY',KEYS[3],'tokens',all)\n"
    "  redis.call('HINCRBY',KEYS[3],'cost',cost)\n"
    "end\n"
    "local acct=-1\n"
    "if ARGV[19]=='1' and cost>0 then\n"
    "  acct=redis.call('INCRBY',KEYS[8],cost)\n"
    "  if acct==cost then redis.call('EXPIRE',KEYS[8],ARGV[20]) end\n"
    "end\n"
    "return acct\n";

void usage_dates(int tz_offset_min, time_t now, char date[16], char iso[32])
{
    time_t local = now + (time_t)tz_offset_min * 60;
    struct tm tm;
    gmtime_r(&local, &tm);
    strftime(date, 16, "%Y-%m-%d", &tm);
    gmtime_r(&now, &tm);
    strftime(iso, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The script's arguments for one request. */
struct usage_args {
    char keys[9][STORE_KEY_MAX];
    char nums[10][24];
    char slot[64];
};

#define USAGE_NKEY 9
#define USAGE_NKEYS "9" /* USAGE_NKEY, as EVALSHA wants it */
#define USAGE_ARGC 31   /* keys and arguments, after "EVALSHA sha 9" */

static void usage_args(struct usage_args *x, const struct accounting *a)
{
    const struct usage *u = &a->u;
    store_key(x->keys[0], SK_API_KEY_USAGE, a->key_id);
    store_key(x->keys[1], SK_API_KEY_COST, a->key_id);
    store_key(x->keys[2], SK_RATE_LIMIT, a->key_id);
    store_key(x->keys[3], SK_CONCURRENCY, a->key_id);
    store_key(x->keys[4], SK_USAGE_DONE, a->request_id);
    store_key(x->keys[5], SK_QUEUE_COUNT, a->key_id);
    store_key(x->keys[6], SK_CONCURRENCY, a->account_id);
    store_key(x->keys[7], SK_ACCOUNT_DAILY_COST, a->account_id, a->quota_day);
    store_key(x->keys[8], SK_ACCOUNT_LAST_USED);
    snprintf(x->slot, sizeof(x->slot), "slot %s", a->key_id);
    long long vals[] = {u->input,  u->output, u->cache_create, u->cache_read, u->eph_5m,
                        u->eph_1h, a->cost,   a->unpriced,     u->seen,       a->used_ms};
    for (size_t i = 0; i < ARRAY_SIZE(vals); i++)
        snprintf(x->nums[i], sizeof(x->nums[i]), "%lld", vals[i]);
}

static void usage_argv(const struct usage_args *x, const struct accounting *a, const char *iso,
                       const char *argv[USAGE_ARGC])
{
    const char *v[USAGE_ARGC] = {x->keys[0],
                                 x->keys[1],
                                 x->keys[2],
                                 x->keys[3],
                                 x->keys[4],
                                 x->keys[5],
                                 x->keys[6],
                                 x->keys[7],
                                 x->keys[8], /* KEYS */
                                 x->nums[0],
                                 x->nums[1],
                                 x->nums[2],
                                 x->nums[3],
                                 x->nums[4],
                                 x->nums[5], /* counters */
                                 iso,
                                 x->nums[6],
                                 x->nums[7],
                                 a->weekly ? "1" : "0",
                                 a->window ? "1" : "0",
                                 a->lease,
                                 x->nums[8],
                                 a->day,
                                 a->week,
                                 SK_NOTIFY_CHANNEL,
                                 x->slot,
                                 a->acc_lease,
                                 a->quota_micro > 0 ? "1" : "0",
                                 QUOTA_TTL,
                                 a->account_id,
                                 x->nums[9]};
    memcpy(argv, v, sizeof(v));
}

/* Error replies that only mean "not now": the usage is kept and retried. */
static bool is_transient_error(const redisReply *r)
{
    static const char *const prefixes[] = {"LOADING",  "BUSY",        "MASTERDOWN", "READONLY",
                                           "TRYAGAIN", "CLUSTERDOWN", "OOM"};
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
        if (strncmp(r->str, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* 0 written; -ERR_IO no answer or a passing refusal (retry); -ERR_REDIS refused for good. */
static int check_reply(const redisReply *r, const char *key_id, long long *val)
{
    if (r && r->type == REDIS_REPLY_INTEGER) {
        *val = r->integer;
        return 0;
    }
    bool err = r && r->type == REDIS_REPLY_ERROR;
    log_warn("usage", "recording usage for key %s failed: %s", key_id, err ? r->str : "no reply");
    return err && !is_transient_error(r) ? -ERR_REDIS : -ERR_IO;
}

/* One request on its own (EVAL when the script cache lost it). */
static int usage_record(struct app *app, struct rds_conn *c, const struct accounting *a,
                        long long *val)
{
    char date[16], iso[32];
    struct usage_args x = {0};
    const char *argv[USAGE_ARGC];
    usage_dates(app->tz_offset_min, time(NULL), date, iso);
    usage_args(&x, a);
    usage_argv(&x, a, iso, argv);
    redisReply *r = rds_script(c, usage_lua, USAGE_NKEY, USAGE_ARGC, argv, NULL);
    int rc = check_reply(r, a->key_id, val);
    if (r)
        freeReplyObject(r);
    return rc;
}

static bool is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* One usage's outcome from its pipelined reply, or on its own: after
 * NOSCRIPT (EVAL loads the script again), or when sent != 0 - either
 * nothing was sent (append failed), or the flush broke the connection and
 * these calls fail at once. A request is never counted twice: the script
 * remembers its id. */
static int settle_one(struct app *app, struct rds_conn *c, int sent, const redisReply *r,
                      const struct accounting *a, long long *val)
{
    if (sent != 0 || is_noscript(r))
        return usage_record(app, c, a, val);
    return check_reply(r, a->key_id, val);
}

int usage_record_many(struct app *app, struct rds_conn *c, int n,
                      const struct accounting *const as[], int res[], long long day_cost[])
{
    if (n <= 0)
        return 0;
    char sha[41], date[16], iso[32];
    rds_script_sha(usage_lua, sha);
    usage_dates(app->tz_offset_min, time(NULL), date, iso);
    struct usage_args *x = xcalloc((size_t)n, sizeof(*x));
    redisReply **replies = xcalloc((size_t)n, sizeof(*replies));
    int failed = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *argv[USAGE_ARGC + 3] = {"EVALSHA", sha, USAGE_NKEYS};
        usage_args(&x[i], as[i]);
        usage_argv(&x[i], as[i], iso, argv + 3);
        rc = rds_append_argv(c, USAGE_ARGC + 3, argv, NULL);
    }
    if (rc == 0)
        rc = rds_flush_replies(c, n, replies);
    for (int i = 0; i < n; i++) {
        long long val = -1;
        res[i] = settle_one(app, c, rc, replies[i], as[i], &val);
        if (day_cost)
            day_cost[i] = res[i] == 0 && as[i]->quota_micro > 0 ? val : -1;
        failed += res[i] != 0;
        if (replies[i])
            freeReplyObject(replies[i]);
    }
    free(replies);
    free(x);
    return failed ? -ERR_IO : 0;
}
