/*
 * settings.h - the switches an admin may change at runtime, on every
 * instance at once: the concurrent request queue, the user message queue,
 * the sticky session TTL and the UI's branding.
 *
 * Each has an environment default (config.c). Redis STRING
 * `claude_relay_config` (the original's key, JSON, SK_RELAY_CONFIG) holds
 * the overrides under the original's field names where it has them; an
 * absent or null field means the environment default. Fields this relay does
 * not know (the original's other switches) are kept as they are.
 *
 * The values are read once at start (settings_reload), again when another
 * instance announces "settings" on the notify channel, and with the 10-minute
 * safety-net reload: the request path reads them from memory and sends Redis
 * nothing. Numbers and switches are atomics (one value each: a request may
 * see a new switch with the old timeout for an instant, never a torn value);
 * strings are copied out under a mutex.
 */
#ifndef RELAY_SETTINGS_H
#define RELAY_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;
struct rds_conn;
struct relay_config;
struct settings;

/* The fields, in the order of the admin API's output. */
enum setting {
    SETTING_QUEUE_ENABLED = 0, /* concurrentRequestQueueEnabled */
    SETTING_QUEUE_TIMEOUT_MS,  /* concurrentRequestQueueTimeoutMs */
    SETTING_UMQ_ENABLED,       /* userMessageQueueEnabled */
    SETTING_UMQ_DELAY_MS,      /* userMessageQueueDelayMs */
    SETTING_UMQ_TIMEOUT_MS,    /* userMessageQueueTimeoutMs */
    SETTING_STICKY_TTL_HOURS,  /* stickySessionTtlHours */
    SETTING_WEB_TITLE,         /* webTitle (string) */
    SETTING_WEB_LOGO_URL,      /* webLogoUrl (string) */
    SETTING_COUNT
};

/* Longest string value plus its NUL: WEB_LOGO_URL may be 2048 characters (config.c). */
#define SETTINGS_STR_MAX 2056

/* The environment's values in force; the caller owns the result
 * (settings_free). cfg must outlive it. */
struct settings *settings_new(const struct relay_config *cfg);
/* NULL is a no-op. No other thread may use s any more. */
void settings_free(struct settings *s);

/* The effective number (a switch: 0 or 1) of a number or switch field.
 * Lock-free, no I/O: the request path's read. */
long long settings_int(const struct settings *s, enum setting f);
static inline bool settings_on(const struct settings *s, enum setting f)
{
    return settings_int(s, f) != 0;
}
/* The effective string of a string field, copied into out (truncated to
 * len). Thread-safe (a short mutex), no I/O. */
void settings_str(struct settings *s, enum setting f, char *out, size_t len);

/* One GET of claude_relay_config, then the values in force are replaced
 * (stored fields that do not validate are logged and take their default).
 * Returns 0 (also when the key is absent: every default) or -ERR_REDIS
 * (nothing changes). Thread-safe. */
int settings_reload(struct settings *s, struct rds_conn *c) __attribute__((warn_unused_result));

/* Does changes (a JSON object: field -> value or null) name only fields of
 * ours, each with a valid value? 0, or -ERR_INVAL with "<field>: <reason>"
 * in err. Pure (reads s's environment defaults only). */
int settings_validate(const struct settings *s, const struct cJSON *changes, char *err,
                      size_t errlen) __attribute__((warn_unused_result));
/* Apply an admin change: changes is a JSON object of fields to set (null:
 * back to the environment default). Every field is validated first: an
 * unknown or invalid one gives -ERR_INVAL with "<field>: <reason>" in err and
 * nothing is written. Then GET, merge, SET the key and PUBLISH "settings" so
 * the other instances reload, and apply locally. Returns 0, -ERR_INVAL, or
 * -ERR_REDIS (err says so; the values in force are unchanged). Thread-safe;
 * two admins writing at the same instant: the last SET wins whole. */
int settings_update(struct settings *s, struct rds_conn *c, const struct cJSON *changes,
                    const char *notice, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* {<field>: effective value, ...}; defaults: the environment's values. The
 * caller owns the object. */
struct cJSON *settings_json(struct settings *s, bool defaults);
/* [names of the fields overridden in Redis]; the caller owns the array. */
struct cJSON *settings_overridden_json(struct settings *s);

#endif
