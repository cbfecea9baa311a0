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

/* KEYS: 1 api_key_usage. ARGV: 1..6 counters, 7 now (ISO). Read-add-write
 * in one script: 2 commands inside, whatever the number of counters. */
static const char usage_lua[] =
    "local n={'requests','inputTokens','outputTokens','cacheCreateTokens','cacheReadTokens',"
    "'ephemeral5mTokens','ephemeral1hTokens','allTokens'}\n"
    "local all=tonumber(ARGV[1])+tonumber(ARGV[2])+tonumber(ARGV[3])+tonumber(ARGV[4])\n"
    "local add={1,ARGV[1],ARGV[2],ARGV[3],ARGV[4],ARGV[5],ARGV[6],all}\n"
    "local cur=redis.call('HMGET',KEYS[1],unpack(n))\n"
    "local out={}\n"
    "for i=1,#n do out[#out+1]=n[i] out[#out+1]=(tonumber(cur[i]) or 0)+tonumber(add[i]) end\n"
    "out[#out+1]='lastUsedAt' out[#out+1]=ARGV[7]\n"
    "redis.call('HSET',KEYS[1],unpack(out))\n"
    "return all\n";

void usage_dates(int tz_offset_min, time_t now, char date[16], char iso[32])
{
    time_t local = now + (time_t)tz_offset_min * 60;
    struct tm tm;
    gmtime_r(&local, &tm);
    strftime(date, 16, "%Y-%m-%d", &tm);
    gmtime_r(&now, &tm);
    strftime(iso, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The script's arguments for one usage: key, six counters, time stamp. */
struct usage_args {
    char key[STORE_KEY_MAX];
    char nums[6][24];
};

static void usage_args(struct usage_args *a, const char *key_id, const struct usage *u)
{
    store_key(a->key, SK_API_KEY_USAGE, key_id);
    long long vals[] = {u->input, u->output, u->cache_create, u->cache_read, u->eph_5m, u->eph_1h};
    for (size_t i = 0; i < ARRAY_SIZE(vals); i++)
        snprintf(a->nums[i], sizeof(a->nums[i]), "%lld", vals[i]);
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
static int check_reply(const redisReply *r, const char *key_id)
{
    if (r && r->type == REDIS_REPLY_INTEGER)
        return 0;
    bool err = r && r->type == REDIS_REPLY_ERROR;
    log_warn("usage", "recording usage for key %s failed: %s", key_id, err ? r->str : "no reply");
    return err && !is_transient_error(r) ? -ERR_REDIS : -ERR_IO;
}

/* One usage on its own (EVAL when the script cache lost it). */
static int usage_record(struct app *app, struct rds_conn *c, const char *key_id,
                        const struct usage *u)
{
    char date[16], iso[32];
    struct usage_args a;
    usage_dates(app->tz_offset_min, time(NULL), date, iso);
    usage_args(&a, key_id, u);
    const char *argv[] = {a.key,     a.nums[0], a.nums[1], a.nums[2],
                          a.nums[3], a.nums[4], a.nums[5], iso};
    redisReply *r = rds_script(c, usage_lua, 1, (int)ARRAY_SIZE(argv), argv, NULL);
    int rc = check_reply(r, key_id);
    if (r)
        freeReplyObject(r);
    return rc;
}

static bool is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

int usage_record_many(struct app *app, struct rds_conn *c, int n, const char *const key_ids[],
                      const struct usage *const us[], int res[])
{
    if (n <= 0)
        return 0;
    char sha[41], date[16], iso[32];
    rds_script_sha(usage_lua, sha);
    usage_dates(app->tz_offset_min, time(NULL), date, iso);
    struct usage_args *a = xcalloc((size_t)n, sizeof(*a));
    redisReply **replies = xcalloc((size_t)n, sizeof(*replies));
    int failed = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        usage_args(&a[i], key_ids[i], us[i]);
        const char *argv[] = {"EVALSHA",    sha,          "1",          a[i].key,
                              a[i].nums[0], a[i].nums[1], a[i].nums[2], a[i].nums[3],
                              a[i].nums[4], a[i].nums[5], iso};
        rc = rds_append_argv(c, (int)ARRAY_SIZE(argv), argv, NULL);
    }
    if (rc == 0)
        rc = rds_flush_replies(c, n, replies);
    for (int i = 0; i < n; i++) {
        /* On its own: after NOSCRIPT (EVAL loads the script again), or when
         * rc != 0 - either nothing was sent (append failed), or the flush
         * broke the connection and these calls fail at once: a usage is
         * never counted twice. */
        if (rc != 0 || is_noscript(replies[i]))
            res[i] = usage_record(app, c, key_ids[i], us[i]);
        else
            res[i] = check_reply(replies[i], key_ids[i]);
        failed += res[i] != 0;
        if (replies[i])
            freeReplyObject(replies[i]);
    }
    free(replies);
    free(a);
    return failed ? -ERR_IO : 0;
}
