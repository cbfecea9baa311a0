/*
 * account_state.c - account health marks in Redis (see account_state.h).
 *
 * DESIGN: a cooling mark is a key with an expiry a minute (60000 ms in
 * mark_lua) past its end, so
 * Redis forgets it by itself; the grace lets the first instance that sees
 * the time pass append the one recovery event (recover_lua is atomic: one
 * instance wins). Permanent states live in the record, where an admin
 * reset clears them; a timed block (CLAUDE_CONSOLE_BLOCKED_HANDLING_MINUTES)
 * is a cooling mark in the temp_unavailable key whose JSON names its state.
 * Each change is one EVALSHA: SET/HSET, XADD, PUBLISH.
 */
#include "compat.h"
#include "account_limits.h"
#include "account_state.h"
#include "accounts.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "rds.h"
#include "store.h"

/* KEYS: state key, record, events. ARGV: id, type, from, to, reason, until,
 * now, permanent, maxlen, channel, payload. */
static const char mark_lua[] =
    "if redis.call('EXISTS',KEYS[2])==0 then return 0 end\n"
    "if ARGV[8]=='1' then\n"
    "  redis.call('HSET',KEYS[2],'status',ARGV[4],'statusReason',ARGV[5],'statusSince',ARGV[7])\n"
    "else\n"
    "  local ttl=tonumber(ARGV[6])-tonumber(ARGV[7])+60000\n"
    "  redis.call('SET',KEYS[1],cjson.encode({status=ARGV[4],reason=ARGV[5],"
    "['until']=tonumber(ARGV[6]),since=tonumber(ARGV[7])}),'PX',ttl)\n"
    "end\n"
    "redis.call('XADD',KEYS[3],'MAXLEN','~',ARGV[9],'*','time',ARGV[7],'account',ARGV[1],"
    "'type',ARGV[2],'from',ARGV[3],'to',ARGV[4],'reason',ARGV[5],'until',ARGV[6])\n"
    "redis.call('PUBLISH',ARGV[10],ARGV[11])\n"
    "return 1\n";

/* KEYS: state key, events. ARGV: id, type, from, now, maxlen, channel,
 * payload. */
static const char recover_lua[] =
    "local v=redis.call('GET',KEYS[1])\n"
    "if not v then return 0 end\n"
    "local s=cjson.decode(v)\n"
    "if tonumber(s['until'] or 0)>tonumber(ARGV[4]) then return 0 end\n"
    "redis.call('DEL',KEYS[1])\n"
    "redis.call('XADD',KEYS[2],'MAXLEN','~',ARGV[5],'*','time',ARGV[4],'account',ARGV[1],"
    "'type',ARGV[2],'from',ARGV[3],'to','active','reason','cooldown over','until','0')\n"
    "redis.call('PUBLISH',ARGV[6],ARGV[7])\n"
    "return 1\n";

/* KEYS: record, the state keys and the account's day cost (all deleted),
 * events (last). ARGV: id, type, from, now, maxlen, channel, by, payload.
 * A daily-quota stop ends too, and the day's count starts again. */
static const char reset_lua[] =
    "if redis.call('EXISTS',KEYS[1])==0 then return 0 end\n"
    "for i=2,#KEYS-1 do redis.call('DEL',KEYS[i]) end\n"
    "redis.call('HSET',KEYS[1],'status','active','statusReason','','statusSince',ARGV[4],"
    "'quotaStoppedAt','','quotaStoppedUntil','')\n"
    "redis.call('XADD',KEYS[#KEYS],'MAXLEN','~',ARGV[5],'*','time',ARGV[4],'account',ARGV[1],"
    "'type',ARGV[2],'from',ARGV[3],'to','active','reason','reset by '..ARGV[7],'until','0')\n"
    "redis.call('PUBLISH',ARGV[6],ARGV[8])\n"
    "return 1\n";

/* KEYS: record. ARGV: field, channel, payload. */
static const char learn_lua[] = "if redis.call('EXISTS',KEYS[1])==0 then return 0 end\n"
                                "redis.call('HSET',KEYS[1],ARGV[1],'true')\n"
                                "redis.call('PUBLISH',ARGV[2],ARGV[3])\n"
                                "return 1\n";

/* The cooling states, in the order of their reads. */
static const enum account_state cooling[] = {ACC_TEMP_ERROR, ACC_OVERLOADED, ACC_RATE_LIMITED};

static void state_key(char out[STORE_KEY_MAX], enum account_state st, const struct provider *p,
                      const char *id)
{
    if (st == ACC_RATE_LIMITED)
        store_key(out, SK_RATE_LIMIT_STATE, id);
    else if (st == ACC_OVERLOADED)
        store_key(out, SK_OVERLOAD, id);
    else /* temp_error, and a timed unauthorized / blocked */
        store_key(out, SK_TEMP_UNAVAILABLE, p->name, id);
}

#define NCOOLING ARRAY_SIZE(cooling)

/* rate_limit_state:{id}:{family} */
static void family_key(char out[STORE_KEY_MAX], const char *id, enum model_family f)
{
    char base[STORE_KEY_MAX];
    store_key(base, SK_RATE_LIMIT_STATE, id);
    snprintf(out, STORE_KEY_MAX, "%.*s:%s", STORE_KEY_MAX - 12, base, model_family_name(f));
}

/* The i-th read's key (the cooling states, then the model families). */
static void read_key(char out[STORE_KEY_MAX], size_t i, const struct provider *p, const char *id)
{
    if (i < NCOOLING)
        state_key(out, cooling[i], p, id);
    else
        family_key(out, id, (enum model_family)(i - NCOOLING + 1));
}

int account_state_append_reads(struct rds_conn *c, const struct provider *p, const char *id)
{
    for (size_t i = 0; i < ACCOUNT_STATE_READS; i++) {
        char key[STORE_KEY_MAX];
        read_key(key, i, p, id);
        if (rds_append(c, "GET %s", key) != 0)
            return -ERR_REDIS;
    }
    return 0;
}

/* One cooling mark; *st is the key's state unless the mark names another
 * (a timed block lives in the temp_unavailable key). */
static bool decode_mark(const redisReply *r, enum account_state *st, long long *until, char *reason,
                        size_t len)
{
    const char *s = rds_reply_str(r);
    cJSON *j = s ? json_parse(s, strlen(s), 4, true) : NULL;
    if (!j)
        return false;
    *until = json_int(j, "until", 0);
    int named = account_state_parse(json_str(j, "status", NULL));
    if (named > ACC_ACTIVE && *until > 0)
        *st = (enum account_state)named;
    snprintf(reason, len, "%s", json_str(j, "reason", ""));
    cJSON_Delete(j);
    return true;
}

void account_state_decode(const char *status, const char *reason,
                          redisReply *const r[ACCOUNT_STATE_READS], struct account_health *h)
{
    memset(h, 0, sizeof(*h));
    long long now = (long long)time(NULL) * 1000;
    for (int f = MF_ANY + 1; f < MF_COUNT; f++) {
        long long until = 0;
        enum account_state st = ACC_RATE_LIMITED;
        char why[sizeof(h->reason)];
        if (decode_mark(r[NCOOLING + f - 1], &st, &until, why, sizeof(why)) && until > now)
            h->family_until[f] = until;
    }
    int perm = account_state_parse(status);
    if (perm == ACC_UNAUTHORIZED || perm == ACC_BLOCKED) {
        h->state = (enum account_state)perm;
        snprintf(h->reason, sizeof(h->reason), "%s", reason ? reason : "");
        return;
    }
    bool live_found = false;
    for (int i = (int)NCOOLING - 1; i >= 0; i--) { /* most severe first */
        long long until = 0;
        enum account_state st = cooling[i];
        char why[sizeof(h->reason)];
        if (!decode_mark(r[i], &st, &until, why, sizeof(why)))
            continue;
        bool live = until > now;
        if (h->state != ACC_ACTIVE && (live_found || !live))
            continue; /* keep the more severe (or the live) one */
        h->state = st;
        h->until_ms = until;
        snprintf(h->reason, sizeof(h->reason), "%s", why);
        live_found = live;
    }
}

static int run(struct rds_conn *c, const char *lua, int nkeys, int argc, const char **argv)
{
    redisReply *r = rds_script(c, lua, nkeys, argc, argv, NULL);
    int rc = !r || r->type != REDIS_REPLY_INTEGER ? -ERR_REDIS
             : r->integer == 1                    ? 0
                                                  : -ERR_NOTFOUND;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_warn("accounts", "state script failed: %s", r->str);
    if (r)
        freeReplyObject(r);
    return rc;
}

int account_state_mark(struct app *app, struct rds_conn *c, const struct account *a,
                       enum account_state from, const struct verdict *v, long long now_ms)
{
    char skey[STORE_KEY_MAX], rkey[STORE_KEY_MAX], until[24], now[24], maxlen[24];
    bool permanent = account_state_permanent(v->mark, v->until_ms);
    if (v->family != MF_ANY && v->mark == ACC_RATE_LIMITED)
        family_key(skey, a->id, v->family);
    else
        state_key(skey, permanent ? ACC_TEMP_ERROR : v->mark, a->prov, a->id);
    store_key(rkey, SK_ACCOUNT_RECORD, a->prov->record_prefix, a->id);
    snprintf(until, sizeof(until), "%lld", permanent ? 0 : v->until_ms);
    snprintf(now, sizeof(now), "%lld", now_ms);
    snprintf(maxlen, sizeof(maxlen), "%lld", app->cfg->account_events_max);
    char what[64], payload[128];
    snprintf(what, sizeof(what), "account %s", a->id);
    notify_payload(app, what, payload, sizeof(payload));
    const char *argv[] = {skey,
                          rkey,
                          SK_ACCOUNT_EVENTS,
                          a->id,
                          a->prov->name,
                          account_state_name(from),
                          account_state_name(v->mark),
                          v->reason,
                          until,
                          now,
                          permanent ? "1" : "0",
                          maxlen,
                          SK_NOTIFY_CHANNEL,
                          payload};
    return run(c, mark_lua, 3, (int)ARRAY_SIZE(argv), argv);
}

int account_state_learn(struct app *app, struct rds_conn *c, const struct account *a,
                        const char *field)
{
    char rkey[STORE_KEY_MAX], payload[128];
    store_key(rkey, SK_ACCOUNT_RECORD, a->prov->record_prefix, a->id);
    notify_payload(app, "accounts", payload, sizeof(payload));
    const char *argv[] = {rkey, field, SK_NOTIFY_CHANNEL, payload};
    int rc = run(c, learn_lua, 1, (int)ARRAY_SIZE(argv), argv);
    return rc == -ERR_NOTFOUND ? 0 : rc;
}

int account_state_recover(struct app *app, struct rds_conn *c, const struct account *a,
                          enum account_state st, long long now_ms)
{
    char skey[STORE_KEY_MAX], now[24], maxlen[24];
    state_key(skey, st, a->prov, a->id);
    snprintf(now, sizeof(now), "%lld", now_ms);
    snprintf(maxlen, sizeof(maxlen), "%lld", app->cfg->account_events_max);
    char what[64], payload[128];
    snprintf(what, sizeof(what), "account %s", a->id);
    notify_payload(app, what, payload, sizeof(payload));
    const char *argv[] = {skey,          SK_ACCOUNT_EVENTS,      a->id,
                          a->prov->name, account_state_name(st), now,
                          maxlen,        SK_NOTIFY_CHANNEL,      payload};
    int rc = run(c, recover_lua, 2, (int)ARRAY_SIZE(argv), argv);
    return rc == -ERR_NOTFOUND ? 0 : rc;
}

/* The account's day-cost counter of today (account_limits.h). */
static void day_cost_key(const struct app *app, const struct account *a, const char *id,
                         long long now_ms, char out[STORE_KEY_MAX])
{
    char day[QUOTA_DAY_MAX];
    long long next;
    account_quota_day(now_ms, app->tz_offset_min, a ? a->quota_reset_min : 0, day, &next);
    store_key(out, SK_ACCOUNT_DAILY_COST, id, day);
}

int account_state_reset(struct app *app, struct rds_conn *c, const struct provider *p,
                        const char *id, const char *by)
{
    char rkey[STORE_KEY_MAX], k[ACCOUNT_STATE_READS][STORE_KEY_MAX], dkey[STORE_KEY_MAX], now[24],
        maxlen[24];
    long long now_ms = (long long)time(NULL) * 1000;
    store_key(rkey, SK_ACCOUNT_RECORD, p->record_prefix, id);
    for (size_t i = 0; i < ACCOUNT_STATE_READS; i++)
        read_key(k[i], i, p, id);
    snprintf(now, sizeof(now), "%lld", now_ms);
    snprintf(maxlen, sizeof(maxlen), "%lld", app->cfg->account_events_max);
    struct account_list *l = accounts_snapshot(app->accounts);
    const struct account *a = account_list_find(l, id);
    day_cost_key(app, a, id, now_ms, dkey);
    const char *from = account_state_name(a ? account_state_raw(a, NULL) : ACC_ACTIVE);
    char what[64], payload[128];
    snprintf(what, sizeof(what), "account %s", id);
    notify_payload(app, what, payload, sizeof(payload));
    const char *argv[3 + ACCOUNT_STATE_READS + 8];
    size_t n = 0;
    argv[n++] = rkey;
    for (size_t i = 0; i < ACCOUNT_STATE_READS; i++)
        argv[n++] = k[i];
    argv[n++] = dkey;
    argv[n++] = SK_ACCOUNT_EVENTS;
    const char *rest[] = {id,     p->name, from, now, maxlen, SK_NOTIFY_CHANNEL, by ? by : "admin",
                          payload};
    for (size_t i = 0; i < ARRAY_SIZE(rest); i++)
        argv[n++] = rest[i];
    int rc = run(c, reset_lua, 3 + ACCOUNT_STATE_READS, (int)n, argv);
    if (rc == 0 && a) {
        account_set_state(a, ACC_ACTIVE, 0, NULL);
        account_set_quota_until(a, 0);
        for (int f = MF_ANY + 1; f < MF_COUNT; f++)
            account_set_family_until(a, (enum model_family)f, 0);
    }
    accounts_list_release(l);
    return rc;
}
