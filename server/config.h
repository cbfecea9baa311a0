/*
 * config.h - the relay's configuration, parsed once from the environment
 * (and .env) by the table in config.c. After config_load() the struct is
 * read-only and shared by every thread.
 */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "buf.h"

struct relay_config {
    /* server */
    long long port;
    char *host;
    bool trust_proxy;
    long long trust_proxy_hops;
    long long http_threads;
    long long worker_threads;
    long long max_connections;
    long long max_connections_per_ip;
    long long request_header_timeout_ms;
    long long request_timeout_ms;
    long long request_max_size_mb;
    long long request_bodies_max_mb;
    long long upstream_connect_timeout_ms;
    long long shutdown_grace_ms;
    /* failover and account health */
    long long max_upstream_attempts;
    long long ttl_rate_limit_s;
    long long ttl_max_custom_s;
    long long ttl_overload_s;
    long long ttl_503_s;
    long long ttl_5xx_s;
    long long ttl_timeout_s;
    long long account_events_max;
    long long console_blocked_min;
    /* scheduler */
    long long sticky_ttl_hours;
    long long sticky_renewal_min;
    long long sticky_cache_s;
    bool umq_enabled; /* the user message queue (relay/usermsg.h) */
    long long umq_delay_ms;
    long long umq_timeout_ms;
    long long umq_lock_ttl_ms;
    /* key policy */
    long long concurrency_lease_s;
    bool queue_enabled;
    long long queue_max_size;
    long long queue_max_multiplier;
    long long queue_timeout_ms;
    bool queue_health_check;
    long long queue_health_percent;
    /* security */
    char *jwt_secret;
    char *encryption_key;
    char *encryption_key_old;
    char *api_key_prefix;
    char *admin_username;
    char *admin_password;
    long long admin_session_timeout_ms;
    long long login_max_failures;
    long long login_lockout_seconds;
    long long password_hash_concurrency;
    /* redis */
    char *redis_url;
    char *redis_host;
    long long redis_port;
    char *redis_username;
    char *redis_password;
    long long redis_db;
    bool redis_enable_tls;
    char *redis_tls_ca_file;
    bool redis_tls_verify;
    long long redis_pool_size;
    char *redis_server_bin;
    /* files */
    char *data_dir;
    char *log_dir;
    char *admin_ui_dir;
    char *web_title;    /* WEB_TITLE: the UI's name (header, login, <title>) */
    char *web_logo_url; /* WEB_LOGO_URL: "" = none */
    /* logging, usage */
    char *log_level;
    long long timezone_offset;
    bool enable_usage_statistics;
    long long token_usage_retention_days;
    long long request_log_max; /* REQUEST_LOG_MAX: entries per key / account log */
    /* pricing */
    char *unpriced_fallback_input; /* USD per MTok, decimal text (pricing_parse_usd_per_mtok) */
    char *unpriced_fallback_output;
    long long pricing_reload_interval; /* seconds */
    /* Claude subscription (OAuth) accounts */
    char *claude_api_url;
    char *claude_oauth_authorize_url;
    char *claude_oauth_token_url;
    char *claude_oauth_client_id;
    char *claude_oauth_scopes;
    char *claude_oauth_redirect_uri;
    long long token_refresh_interval_min;
    long long rate_limit_cleanup_min; /* 0: every second */
    long long token_refresh_lead_s;
    char *claude_oauth_profile_url;
    char *claude_oauth_usage_url;
    long long claude_profile_retry_s;
    /* Gemini (Google OAuth) accounts */
    char *gemini_code_assist_url;
    /* ChatGPT / Codex OAuth (openai) accounts */
    char *openai_oauth_authorize_url;
    char *openai_oauth_token_url;
    char *openai_oauth_client_id;
    char *openai_oauth_redirect_uri;
    char *openai_codex_api_url;
    /* Google OAuth (gemini) accounts */
    char *gemini_oauth_authorize_url;
    char *gemini_oauth_token_url;
    char *gemini_oauth_client_id;
    char *gemini_oauth_client_secret;
    char *gemini_oauth_redirect_uri;
    /* Gemini API (gemini-api) accounts */
    char *gemini_api_url; /* the baseUrl of an account without one */
};

/* Load .env (if present in the working directory, without overriding the
 * environment), then parse every variable. On error returns -ERR_INVAL with
 * one line per problem in errors; *out is written only on success. */
int config_load(struct relay_config **out, struct buf *errors) __attribute__((warn_unused_result));
void config_free(struct relay_config *cfg);
/* Write config.example.env from the table. */
void config_print_example(FILE *f);
/* True when no external Redis is configured (REDIS_URL and REDIS_HOST empty). */
bool config_redis_embedded(const struct relay_config *cfg);
/* NULL when v is a logo URL WEB_LOGO_URL may hold (http(s), nothing that
 * ends a Content-Security-Policy source), else the reason. Pure. */
const char *config_check_logo_url(const char *v);

#endif
