/*
 * settings.c - runtime switches over their environment defaults (see
 * settings.h).
 *
 * DESIGN: one table of fields {name, kind, bounds, offset of the env
 * default in struct relay_config}. A load builds a complete set of values
 * off to the side (struct values) and installs it at once; a stored field
 * that does not validate (written by hand, or by the original with another
 * range) keeps its default and is logged, so a bad value can never reach the
 * request path.
 *
 * LOCKING: s->mu guards str and overridden (admin and UI readers copy the
 * strings out under it). num[] are atomics written under mu and read without
 * it. Leaf lock: nothing else is taken while it is held, and no I/O.
 */
#include "compat.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "rds.h"
#include "settings.h"
#include "store_keys.h"
#include "xmalloc.h"

#include <pthread.h>
#include <stdatomic.h>

#define OFF(f) offsetof(struct relay_config, f)
#define STORED_MAX (64 * 1024) /* the original's fields and ours fit many times over */

enum kind { K_BOOL = 0, K_INT, K_STR };

static const struct field {
    const char *name;
    enum kind kind;
    long long min, max; /* numbers: the range; strings: the length in characters */
    size_t cfg_off;     /* the environment default in struct relay_config */
} fields[SETTING_COUNT] = {
    [SETTING_QUEUE_ENABLED] = {"concurrentRequestQueueEnabled", K_BOOL, 0, 1, OFF(queue_enabled)},
    [SETTING_QUEUE_TIMEOUT_MS] = {"concurrentRequestQueueTimeoutMs", K_INT, 5000, 300000,
                                  OFF(queue_timeout_ms)},
    [SETTING_UMQ_ENABLED] = {"userMessageQueueEnabled", K_BOOL, 0, 1, OFF(umq_enabled)},
    [SETTING_UMQ_DELAY_MS] = {"userMessageQueueDelayMs", K_INT, 0, 10000, OFF(umq_delay_ms)},
    [SETTING_UMQ_TIMEOUT_MS] = {"userMessageQueueTimeoutMs", K_INT, 1000, 300000,
                                OFF(umq_timeout_ms)},
    [SETTING_STICKY_TTL_HOURS] = {"stickySessionTtlHours", K_INT, 1, 8760, OFF(sticky_ttl_hours)},
    [SETTING_WEB_TITLE] = {"webTitle", K_STR, 1, 100, OFF(web_title)},
    [SETTING_WEB_LOGO_URL] = {"webLogoUrl", K_STR, 0, 500, OFF(web_logo_url)},
};

struct values {
    long long num[SETTING_COUNT];
    char str[SETTING_COUNT][SETTINGS_STR_MAX];
    unsigned overridden; /* bit i: field i comes from Redis */
};

struct settings {
    const struct relay_config *cfg;
    atomic_llong num[SETTING_COUNT];
    pthread_mutex_t mu; /* guards: str, overridden */
    char str[SETTING_COUNT][SETTINGS_STR_MAX];
    unsigned overridden;
};

static void defaults(const struct relay_config *cfg, struct values *v)
{
    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const char *p = (const char *)cfg + fields[i].cfg_off;
        if (fields[i].kind == K_BOOL)
            v->num[i] = *(const bool *)p;
        else if (fields[i].kind == K_INT)
            v->num[i] = *(const long long *)p;
        else
            snprintf(v->str[i], SETTINGS_STR_MAX, "%s", *(char *const *)p);
    }
}

static void install(struct settings *s, const struct values *v)
{
    pthread_mutex_lock(&s->mu);
    memcpy(s->str, v->str, sizeof(s->str));
    s->overridden = v->overridden;
    for (size_t i = 0; i < SETTING_COUNT; i++)
        atomic_store(&s->num[i], v->num[i]);
    pthread_mutex_unlock(&s->mu);
}

struct settings *settings_new(const struct relay_config *cfg)
{
    struct settings *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    pthread_mutex_init(&s->mu, NULL);
    struct values *v = xmalloc(sizeof(*v));
    defaults(cfg, v);
    install(s, v);
    free(v);
    return s;
}

void settings_free(struct settings *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

long long settings_int(const struct settings *s, enum setting f)
{
    return atomic_load(&s->num[f]);
}

void settings_str(struct settings *s, enum setting f, char *out, size_t len)
{
    pthread_mutex_lock(&s->mu);
    snprintf(out, len, "%s", s->str[f]);
    pthread_mutex_unlock(&s->mu);
}

/* ---- validation ---- */

static int find_field(const char *name)
{
    for (int i = 0; i < SETTING_COUNT; i++)
        if (strcmp(fields[i].name, name) == 0)
            return i;
    return -1;
}

/* UTF-8 characters (continuation bytes not counted); no control characters. */
static const char *check_text(const char *v, long long min, long long max)
{
    long long n = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return "may not contain control characters";
        n += (*p & 0xc0) != 0x80;
    }
    return n < min || n > max || strlen(v) >= SETTINGS_STR_MAX ? "has the wrong length" : NULL;
}

static const char *check_str(enum setting f, const char *v)
{
    const char *bad = check_text(v, fields[f].min, fields[f].max);
    if (bad)
        return f == SETTING_WEB_TITLE ? "must be 1 to 100 characters, no control characters"
                                      : "must be at most 500 characters";
    return f == SETTING_WEB_LOGO_URL && *v ? config_check_logo_url(v) : NULL;
}

static bool is_whole_in(const cJSON *item, long long min, long long max)
{
    if (!cJSON_IsNumber(item) || item->valuedouble < (double)min || item->valuedouble > (double)max)
        return false;
    return item->valuedouble == (double)(long long)item->valuedouble;
}

/* Validate item as field f's value into v->num / v->str. 0, or -ERR_INVAL
 * with "<name>: <reason>" in err. */
static int parse_field(enum setting f, const cJSON *item, struct values *v, char *err,
                       size_t errlen)
{
    const struct field *d = &fields[f];
    const char *bad = NULL;
    char range[64];
    if (d->kind == K_BOOL && !cJSON_IsBool(item)) {
        bad = "must be true or false";
    } else if (d->kind == K_INT && !is_whole_in(item, d->min, d->max)) {
        snprintf(range, sizeof(range), "must be a whole number from %lld to %lld", d->min, d->max);
        bad = range;
    } else if (d->kind == K_STR) {
        bad = cJSON_IsString(item) ? check_str(f, item->valuestring) : "must be a string";
    }
    if (bad) {
        snprintf(err, errlen, "%s: %s", d->name, bad);
        return -ERR_INVAL;
    }
    if (d->kind == K_STR)
        snprintf(v->str[f], SETTINGS_STR_MAX, "%s", item->valuestring);
    else
        v->num[f] = d->kind == K_BOOL ? cJSON_IsTrue(item) : (long long)item->valuedouble;
    return 0;
}

/* The values a stored object gives: each valid field of ours overrides its
 * default; an invalid one is logged and keeps it. */
static void from_stored(const struct settings *s, const cJSON *obj, struct values *v)
{
    char err[160];
    defaults(s->cfg, v);
    for (int i = 0; i < SETTING_COUNT; i++) {
        const cJSON *item = json_get(obj, fields[i].name);
        if (!item || cJSON_IsNull(item))
            continue;
        if (parse_field((enum setting)i, item, v, err, sizeof(err)) == 0)
            v->overridden |= 1u << i;
        else
            log_warn("settings", "%s in Redis ignored (the default applies): %s", SK_RELAY_CONFIG,
                     err);
    }
}

/* ---- Redis ---- */

/* The stored object (an empty one when absent or unreadable as an object);
 * -ERR_REDIS when Redis did not answer. The caller owns *out. */
static int read_stored(struct rds_conn *c, cJSON **out)
{
    redisReply *r = rds_command(c, "GET %s", SK_RELAY_CONFIG);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r)
            freeReplyObject(r);
        return -ERR_REDIS;
    }
    cJSON *obj = NULL;
    if (r->type == REDIS_REPLY_STRING && r->len <= STORED_MAX) {
        obj = json_parse(r->str, r->len, 8, true);
        if (!cJSON_IsObject(obj))
            log_warn("settings", "%s in Redis is not a JSON object; the defaults apply",
                     SK_RELAY_CONFIG);
    }
    freeReplyObject(r);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        obj = cJSON_CreateObject();
    }
    *out = obj;
    return 0;
}

int settings_reload(struct settings *s, struct rds_conn *c)
{
    cJSON *obj = NULL;
    int rc = read_stored(c, &obj);
    if (rc != 0)
        return rc;
    struct values *v = xmalloc(sizeof(*v));
    from_stored(s, obj, v);
    install(s, v);
    free(v);
    cJSON_Delete(obj);
    return 0;
}

int settings_validate(const struct settings *s, const cJSON *changes, char *err, size_t errlen)
{
    if (!cJSON_IsObject(changes)) {
        snprintf(err, errlen, "body: must be a JSON object");
        return -ERR_INVAL;
    }
    struct values *scratch = xmalloc(sizeof(*scratch));
    defaults(s->cfg, scratch);
    int rc = 0;
    for (const cJSON *it = changes->child; it && rc == 0; it = it->next) {
        int f = find_field(it->string);
        if (f < 0) {
            snprintf(err, errlen, "%.64s: not a setting of this relay", it->string);
            rc = -ERR_INVAL;
        } else if (!cJSON_IsNull(it)) {
            rc = parse_field((enum setting)f, it, scratch, err, errlen);
        }
    }
    free(scratch);
    return rc;
}

static void merge(cJSON *stored, const cJSON *changes)
{
    for (const cJSON *it = changes->child; it; it = it->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(stored, it->string);
        if (!cJSON_IsNull(it))
            cJSON_AddItemToObject(stored, it->string, cJSON_Duplicate(it, true));
    }
}

/* SET the object and PUBLISH the notice in one round trip. */
static int store(struct rds_conn *c, const cJSON *obj, const char *notice)
{
    char *json = json_print(obj);
    redisReply *r[2] = {NULL, NULL};
    int rc = -ERR_REDIS;
    if (rds_append(c, "SET %s %s", SK_RELAY_CONFIG, json) == 0 &&
        rds_append(c, "PUBLISH %s %s", SK_NOTIFY_CHANNEL, notice) == 0 &&
        rds_flush_replies(c, 2, r) == 0 && rds_reply_ok(r[0]))
        rc = 0;
    for (int i = 0; i < 2; i++)
        if (r[i])
            freeReplyObject(r[i]);
    free(json);
    return rc;
}

int settings_update(struct settings *s, struct rds_conn *c, const cJSON *changes,
                    const char *notice, char *err, size_t errlen)
{
    cJSON *stored = NULL;
    int rc = settings_validate(s, changes, err, errlen);
    if (rc != 0)
        goto out;
    rc = read_stored(c, &stored);
    if (rc == 0) {
        merge(stored, changes);
        rc = store(c, stored, notice);
    }
    if (rc != 0) {
        snprintf(err, errlen, "Redis is unavailable; nothing was changed");
        goto out;
    }
    struct values *v = xmalloc(sizeof(*v));
    from_stored(s, stored, v);
    install(s, v);
    free(v);
out:
    cJSON_Delete(stored);
    return rc;
}

/* ---- output ---- */

static cJSON *to_json(const struct values *v)
{
    cJSON *d = cJSON_CreateObject();
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (fields[i].kind == K_BOOL)
            cJSON_AddBoolToObject(d, fields[i].name, v->num[i] != 0);
        else if (fields[i].kind == K_INT)
            cJSON_AddNumberToObject(d, fields[i].name, (double)v->num[i]);
        else
            cJSON_AddStringToObject(d, fields[i].name, v->str[i]);
    }
    return d;
}

cJSON *settings_json(struct settings *s, bool want_defaults)
{
    struct values *v = xmalloc(sizeof(*v));
    if (want_defaults) {
        defaults(s->cfg, v);
    } else {
        pthread_mutex_lock(&s->mu);
        memcpy(v->str, s->str, sizeof(v->str));
        for (size_t i = 0; i < SETTING_COUNT; i++)
            v->num[i] = atomic_load(&s->num[i]);
        pthread_mutex_unlock(&s->mu);
    }
    cJSON *d = to_json(v);
    free(v);
    return d;
}

cJSON *settings_overridden_json(struct settings *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned mask = s->overridden;
    pthread_mutex_unlock(&s->mu);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < SETTING_COUNT; i++)
        if (mask & (1u << i))
            cJSON_AddItemToArray(a, cJSON_CreateString(fields[i].name));
    return a;
}
