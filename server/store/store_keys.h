/*
 * store_keys.h - THE place Redis key names are built.
 *
 * Names follow the customer's documented layout (seed 000). Every record
 * hash carries a field "_v" with its format version (STORE_FORMAT_VERSION).
 * Use store_key() to format: it fails loudly on truncation instead of
 * silently writing to the wrong key.
 */
#ifndef RELAY_STORE_KEYS_H
#define RELAY_STORE_KEYS_H

#include <stddef.h>

#define STORE_FORMAT_VERSION "1"
#define STORE_KEY_MAX 256

/* API keys */
#define SK_API_KEY_PREFIX "api_key:"
#define SK_API_KEY SK_API_KEY_PREFIX "%s"     /* hash: key record (no plaintext key) */
#define SK_API_KEY_INDEX "api_key:index"      /* set: all key ids */
#define SK_API_KEY_HASH "api_key_hash:%s"     /* string: keyed hash of the key -> key id */
#define SK_API_KEY_USAGE "api_key_usage:%s"   /* hash: lifetime token/request counters */
#define SK_API_KEY_COST "api_key_cost:%s"     /* hash: totalMicro, day, dayMicro, week, weekMicro */
#define SK_CONCURRENCY "concurrency:%s"       /* zset: request lease -> lease end ms */
#define SK_RATE_LIMIT "rate_limit:%s"         /* hash: window start, requests, tokens, cost; PX */
#define SK_QUEUE_COUNT "concurrency:queue:%s" /* string: requests waiting */
#define SK_QUEUE_STATS "concurrency:queue:stats:%s"      /* hash: entered, success, ... */
#define SK_QUEUE_WAITS "concurrency:queue:wait_times:%s" /* list: wait ms, newest first */
#define SK_QUEUE_WAITS_GLOBAL "concurrency:queue:wait_times:global"
#define SK_USAGE_DONE "usage_done:%s" /* string: request id accounted (idempotency), EX 1 d */

/* Upstream accounts; the prefix is the provider's record_prefix, e.g.
 * "claude_console_account" (seed 000 names one per type). */
#define SK_ACCOUNT_RECORD "%s:%s"   /* hash: account record (prefix, id) */
#define SK_ACCOUNT_INDEX "%s:index" /* set: account ids (prefix) */
/* Per-account limits (account_limits.h): the account's leases are in
 * SK_CONCURRENCY under its id (seed 000: concurrency:{accountId}). */
#define SK_ACCOUNT_DAILY_COST "account_daily_cost:%s:%s" /* string: micro-USD (id, quota day) */
/* Account health (see account_state.h); JSON values with a PX expiry. */
#define SK_RATE_LIMIT_STATE "rate_limit_state:%s"    /* 429 until reset (id) */
#define SK_OVERLOAD "overload:%s"                    /* 529 (id) */
#define SK_TEMP_UNAVAILABLE "temp_unavailable:%s:%s" /* 5xx/timeouts (type, id) */
#define SK_OAUTH_SESSION                                                                           \
    "oauth:%s" /* hash: PKCE session (id): codeVerifier (sealed), state; EX 600 */
/* string: the refresh owner (kind, id), PX; kind = oauth_kind.name (claude, openai, gemini) */
#define SK_TOKEN_REFRESH_LOCK "token_refresh_lock:%s:%s"
#define SK_ACCOUNT_EVENTS "account_events" /* stream: state changes, bounded */
#define SK_NOTIFY_CHANNEL "relay:notify"   /* pub/sub: "account <id>", "accounts" */
/* string: JSON, the runtime settings over their env defaults (settings.h; the original's key) */
#define SK_RELAY_CONFIG "claude_relay_config"
/* Claude OAuth profile lookups (server/claude_profile.c). */
#define SK_PROFILE_RETRY "claude_profile_retry:%s" /* string: lookup retried (id); PX interval */
/* Account groups (crs-admin-spec 2.3): a key binds one with "group:<gid>". */
#define SK_ACCOUNT_GROUPS "account_groups" /* set: group ids */
#define SK_ACCOUNT_LAST_USED                                                                       \
    "account_last_used" /* hash: account id -> last use (ms), every instance's */
#define SK_ACCOUNT_GROUP "account_group:%s"                 /* hash: id, name, platform, ... */
#define SK_ACCOUNT_GROUP_MEMBERS "account_group_members:%s" /* set: account ids (gid) */
/* Sticky sessions: session hash -> account id, EX STICKY_SESSION_TTL_HOURS */
#define SK_STICKY_SESSION "sticky_session:%s"
/* User message queue (relay/usermsg.h): an account's user-turn lock (owner, PX
 * USER_MESSAGE_QUEUE_LOCK_TTL_MS) and its last release (ms epoch, EX 60) */
#define SK_USER_MSG_LOCK "user_msg_queue_lock:%s"
#define SK_USER_MSG_LAST "user_msg_queue_last:%s"

/* Admins and sessions */
#define SK_ADMIN_CREDENTIALS "admin_credentials" /* hash: username, argon2id hash */
#define SK_SESSION "session:%s"                  /* hash: admin session, by token hash */
#define SK_ADMIN_SESSIONS "admin_sessions"       /* set: session keys, to end them all */
/* hash {fails, next}: failed logins by keyed hash of the user name + client address, and by
 * address alone (server/admin/login_throttle.c) */
#define SK_LOGIN_THROTTLE_PAIR "login_throttle:%s:%s"
#define SK_LOGIN_THROTTLE_ADDR "login_throttle_addr:%s"
/* hash: failed key checks of the self-service page from one address (fails, next) */
#define SK_API_STATS_THROTTLE "api_stats_throttle:%s"

/* Usage statistics */
#define SK_USAGE_DAILY "usage:daily:%s:%s:%s"  /* hash: date, key id, model */
#define SK_USAGE_ACCOUNT "usage:account:%s:%s" /* hash: account id, date */
#define SK_USAGE_GLOBAL "usage:global:%s"      /* hash: date */
/* Statistics buckets (usage_stats.c). {period} is a day YYYY-MM-DD, an hour
 * YYYY-MM-DDTHH, a month YYYY-MM (TIMEZONE_OFFSET) or "total". */
#define SK_USAGE_MONTHLY "usage:monthly:%s:%s:%s" /* hash: month, key id, model */
#define SK_USAGE_KEY "usage:key:%s:%s"            /* hash: key id, period */
#define SK_USAGE_MODEL "usage:model:%s:%s"        /* hash: model, period */
#define SK_USAGE_MINUTE "usage:minute:%lld"       /* hash: UTC minute since the epoch */
#define SK_USAGE_INDEX "usage:index:%s:%s"        /* set: period, "keys"/"accounts"/"models" */
#define SK_USAGE_KEY_MODELS "usage:index:%s:key_models:%s"  /* set: period, key id -> models */
#define SK_USAGE_RECORDS "usage:records:%s"                 /* list: key id -> recent requests */
#define SK_USAGE_ACCOUNT_RECORDS "usage:account_records:%s" /* list: account id -> the same */
#define SK_USAGE_RECORDS_ALL "usage:records:all"            /* list: the same, every key */

/* Model prices (shared by every instance; see pricing_sync.h) */
#define SK_MODEL_PRICING "model_pricing"                 /* string: LiteLLM-format JSON table */
#define SK_MODEL_PRICING_VERSION "model_pricing:version" /* string counter: INCR on each change */

/* System */
#define SK_SYSTEM_INFO "system_info" /* hash: last start, version */

/* Format a key name into out (STORE_KEY_MAX bytes). Aborts on truncation:
 * ids are validated before they reach here, so truncation is a bug. */
void store_key(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
