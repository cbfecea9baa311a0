/*
 * config.c - THE table of environment variables (name, type, default,
 * bounds, help). config.example.env is generated from it
 * (`relay --print-config-example`) and a test diffs the two.
 * Names follow the customer's deployment documents.
 */
#include "compat.h"
#include "conf.h"
#include "config.h"
#include "errs.h"
#include "log.h"
#include "pricing.h"
#include "xmalloc.h"

#define OFF(f) offsetof(struct relay_config, f)
#define BIG 2147483647LL
/* The variables that are only defaults of a runtime setting (server/store/settings.h). */
#define RUNTIME " (the default: the admin settings may override it at runtime)"

static const char *check_secret32(const char *v)
{
    return strlen(v) < 32 ? "must be at least 32 characters" : NULL;
}

static const char *check_log_level(const char *v)
{
    return log_level_parse(v) < 0 ? "expected error, warn, info or debug" : NULL;
}

static const char *check_prefix(const char *v)
{
    if (strlen(v) > 16)
        return "must be at most 16 characters";
    for (; *v; v++)
        if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              *v == '_' || *v == '-'))
            return "may only contain letters, digits, '_' and '-'";
    return NULL;
}

static const char *check_redis_url(const char *v)
{
    if (strncmp(v, "redis://", 8) != 0 && strncmp(v, "rediss://", 9) != 0)
        return "must start with redis:// or rediss://";
    return NULL;
}

static const char *check_http_url(const char *v)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return "must be an http:// or https:// URL";
    return strlen(v) > 2048 ? "must be at most 2048 characters" : NULL;
}

/* A logo URL is also a source in the UI's Content-Security-Policy header:
 * nothing that would end the source or the header. */
const char *config_check_logo_url(const char *v)
{
    const char *bad = check_http_url(v);
    if (bad)
        return bad;
    for (; *v; v++)
        if (*v <= ' ' || *v == ';' || *v == ',' || *v == '\'' || *v == '"' || *v == 127)
            return "may not contain spaces, control characters, ';', ',' or quotes";
    return NULL;
}

static const char *check_web_title(const char *v)
{
    return strlen(v) > 100 ? "must be at most 100 characters" : NULL;
}

static const char *check_usd_per_mtok(const char *v)
{
    long long femto;
    return pricing_parse_usd_per_mtok(v, &femto) != 0
               ? "expected USD per million tokens, e.g. 15 or 0.30 (0 to 1000000)"
               : NULL;
}

/* clang-format off */
static const struct conf_var config_vars[] = {
    {"PORT", CONF_INT, "3000", 1, 65535, OFF(port), 0, "Server",
     "TCP port to listen on", NULL},
    {"HOST", CONF_STR, "0.0.0.0", 0, 0, OFF(host), 0, "Server",
     "Address to bind (0.0.0.0 = all interfaces, 127.0.0.1 = local only)", NULL},
    {"TRUST_PROXY", CONF_BOOL, "false", 0, 0, OFF(trust_proxy), 0, "Server",
     "Take the client address from X-Forwarded-For (behind a reverse proxy)", NULL},
    {"TRUST_PROXY_HOPS", CONF_INT, "1", 1, 16, OFF(trust_proxy_hops), 0, "Server",
     "With TRUST_PROXY: how many proxies of yours are in front; the client is that many "
     "X-Forwarded-For entries from the right", NULL},
    {"HTTP_THREADS", CONF_INT, "2", 1, 64, OFF(http_threads), 0, "Server",
     "libmicrohttpd I/O threads (socket reads and writes only)", NULL},
    {"WORKER_THREADS", CONF_INT, "0", 0, 256, OFF(worker_threads), 0, "Server",
     "Request worker threads (0 = 2 per CPU core, at least 4)", NULL},
    {"MAX_CONNECTIONS", CONF_INT, "10000", 16, 1000000, OFF(max_connections), 0, "Server",
     "Maximum simultaneous client connections", NULL},
    {"MAX_CONNECTIONS_PER_IP", CONF_INT, "256", 0, 1000000, OFF(max_connections_per_ip), 0,
     "Server", "Simultaneous connections from one client address (0 = no cap; not applied "
     "with TRUST_PROXY, where every connection comes from the proxy)", NULL},
    {"REQUEST_HEADER_TIMEOUT", CONF_INT, "30000", 1000, 600000, OFF(request_header_timeout_ms),
     0, "Server", "Idle timeout in ms (whole seconds) while a request's headers and body are "
     "read, and between requests on a kept-alive connection", NULL},
    {"REQUEST_TIMEOUT", CONF_INT, "600000", 1000, 86400000, OFF(request_timeout_ms), 0, "Server",
     "Upstream request timeout in milliseconds (whole transfer)", NULL},
    {"REQUEST_MAX_SIZE_MB", CONF_INT, "100", 1, 1024, OFF(request_max_size_mb), 0, "Server",
     "Largest accepted request body in MiB (larger: 413)", NULL},
    {"REQUEST_BODIES_MAX_MB", CONF_INT, "256", 1, 65536, OFF(request_bodies_max_mb), 0, "Server",
     "Sum of request bodies being received or held at once, all connections, in MiB (over it: "
     "503 and the body is not read further)", NULL},
    {"UPSTREAM_CONNECT_TIMEOUT", CONF_INT, "10000", 100, 600000, OFF(upstream_connect_timeout_ms),
     0, "Server", "Upstream connect timeout in milliseconds", NULL},
    {"SHUTDOWN_GRACE_MS", CONF_INT, "10000", 0, 600000, OFF(shutdown_grace_ms), 0, "Server",
     "On SIGTERM, how long running streams may finish before they are cut", NULL},

    {"MAX_UPSTREAM_ATTEMPTS", CONF_INT, "3", 1, 10, OFF(max_upstream_attempts), 0, "Failover",
     "Accounts one request may try before the first byte reaches the client", NULL},
    {"RATE_LIMIT_CLEANUP_INTERVAL", CONF_INT, "5", 0, 1440, OFF(rate_limit_cleanup_min), 0,
     "Failover", "Minutes between sweeps that record ended cooldowns in Redis (the event, the "
     "mark removed); 0: every second. Scheduling resumes at the end time regardless", NULL},
    {"UPSTREAM_ERROR_RATE_LIMIT_TTL_SECONDS", CONF_INT, "300", 1, 604800,
     OFF(ttl_rate_limit_s), 0, "Failover",
     "429 without a reset header: how long the account cools", NULL},
    {"UPSTREAM_ERROR_MAX_CUSTOM_TTL_SECONDS", CONF_INT, "1800", 1, 604800, OFF(ttl_max_custom_s),
     0, "Failover", "Longest cooldown taken from an upstream's retry-after", NULL},
    {"UPSTREAM_ERROR_OVERLOAD_TTL_SECONDS", CONF_INT, "600", 1, 604800, OFF(ttl_overload_s), 0,
     "Failover", "529 overloaded: how long the account cools", NULL},
    {"UPSTREAM_ERROR_503_TTL_SECONDS", CONF_INT, "60", 1, 604800, OFF(ttl_503_s), 0, "Failover",
     "503 from the upstream: how long the account cools", NULL},
    {"UPSTREAM_ERROR_5XX_TTL_SECONDS", CONF_INT, "300", 1, 604800, OFF(ttl_5xx_s), 0,
     "Failover", "Other 5xx from the upstream: how long the account cools", NULL},
    {"UPSTREAM_ERROR_TIMEOUT_TTL_SECONDS", CONF_INT, "300", 1, 604800, OFF(ttl_timeout_s), 0,
     "Failover", "Connect failure or timeout before the first byte: how long the account cools",
     NULL},
    {"CONCURRENCY_LEASE_SECONDS", CONF_INT, "300", 5, 86400, OFF(concurrency_lease_s), 0,
     "Key policy", "A concurrency slot's lease: renewed while its request runs, freed by "
     "itself this long after a relay died", NULL},
    {"CONCURRENT_REQUEST_QUEUE_ENABLED", CONF_BOOL, "false", 0, 0, OFF(queue_enabled), 0,
     "Key policy", "A request over its key's concurrencyLimit waits for a slot (first come, "
     "first served) instead of getting 429" RUNTIME, NULL},
    {"CONCURRENT_REQUEST_QUEUE_MAX_SIZE", CONF_INT, "3", 1, 10000, OFF(queue_max_size), 0,
     "Key policy", "Requests that may wait per key (at least)", NULL},
    {"CONCURRENT_REQUEST_QUEUE_MAX_SIZE_MULTIPLIER", CONF_INT, "0", 0, 100,
     OFF(queue_max_multiplier), 0, "Key policy",
     "Or concurrencyLimit times this, when larger", NULL},
    {"CONCURRENT_REQUEST_QUEUE_TIMEOUT_MS", CONF_INT, "10000", 100, 600000, OFF(queue_timeout_ms),
     0, "Key policy", "How long a request waits for a slot before 429" RUNTIME, NULL},
    {"CONCURRENT_REQUEST_QUEUE_HEALTH_CHECK", CONF_BOOL, "true", 0, 0, OFF(queue_health_check), 0,
     "Key policy", "Refuse at once (429) when the recent p90 wait exceeds the threshold", NULL},
    {"CONCURRENT_REQUEST_QUEUE_HEALTH_THRESHOLD_PERCENT", CONF_INT, "80", 1, 100,
     OFF(queue_health_percent), 0, "Key policy",
     "The p90 wait, as a percentage of the timeout, above which the queue is overloaded", NULL},
    {"CLAUDE_CONSOLE_BLOCKED_HANDLING_MINUTES", CONF_INT, "0", 0, 10080,
     OFF(console_blocked_min), 0, "Failover",
     "A Console account whose upstream says it is disabled (a 400 naming a disabled "
     "organisation or account): blocked this many minutes; 0: until an admin resets it",
     NULL},
    {"ACCOUNT_EVENTS_MAX", CONF_INT, "10000", 100, 1000000, OFF(account_events_max), 0,
     "Failover", "Entries kept in the account_events stream (account state changes)", NULL},
    {"STICKY_SESSION_TTL_HOURS", CONF_INT, "1", 1, 8760, OFF(sticky_ttl_hours), 0, "Scheduler",
     "How long a session (metadata.user_id, else a hash of the prompt) stays on its account"
     RUNTIME, NULL},
    {"STICKY_SESSION_RENEWAL_THRESHOLD_MINUTES", CONF_INT, "0", 0, 525600,
     OFF(sticky_renewal_min), 0, "Scheduler",
     "Reused with less than this many minutes left, a session's binding is renewed to the full "
     "TTL; 0: never renewed",
     NULL},
    {"STICKY_SESSION_CACHE_SECONDS", CONF_INT, "60", 0, 3600, OFF(sticky_cache_s), 0, "Scheduler",
     "How long this instance trusts a session binding it read or wrote without asking Redis "
     "again (another instance's rebinding is announced at once; never past the binding's TTL); "
     "0: read every time",
     NULL},
    {"USER_MESSAGE_QUEUE_ENABLED", CONF_BOOL, "false", 0, 0, OFF(umq_enabled), 0, "Scheduler",
     "New user turns are sent to each account one at a time, spaced by the delay (an account's "
     "userMessageQueue turns it on for that account alone)" RUNTIME,
     NULL},
    {"USER_MESSAGE_QUEUE_DELAY_MS", CONF_INT, "200", 0, 10000, OFF(umq_delay_ms), 0, "Scheduler",
     "Least time between one user turn's answer and the next user turn on the same account" RUNTIME,
     NULL},
    {"USER_MESSAGE_QUEUE_TIMEOUT_MS", CONF_INT, "60000", 100, 300000, OFF(umq_timeout_ms), 0,
     "Scheduler", "How long a user turn waits for its account before 503 queue_timeout" RUNTIME,
     NULL},
    {"USER_MESSAGE_QUEUE_LOCK_TTL_MS", CONF_INT, "120000", 1000, 3600000, OFF(umq_lock_ttl_ms), 0,
     "Scheduler",
     "Lifetime of an account's user-turn lock: a relay that died holding one blocks the account "
     "this long at most",
     NULL},

    {"JWT_SECRET", CONF_STR, "", 0, 0, OFF(jwt_secret), CONF_SECRET | CONF_REQUIRED, "Security",
     "Secret for admin session tokens, at least 32 characters (openssl rand -hex 64)",
     check_secret32},
    {"ENCRYPTION_KEY", CONF_STR, "", 0, 0, OFF(encryption_key), CONF_SECRET | CONF_REQUIRED,
     "Security", "Key that seals upstream credentials and hashes API keys, at least 32 "
     "characters (openssl rand -hex 32)", check_secret32},
    {"ENCRYPTION_KEY_OLD", CONF_STR, "", 0, 0, OFF(encryption_key_old), CONF_SECRET, "Security",
     "Previous ENCRYPTION_KEY during a rotation: credentials sealed under it still open",
     check_secret32},
    {"API_KEY_PREFIX", CONF_STR, "cr_", 0, 0, OFF(api_key_prefix), 0, "Security",
     "Prefix of relay-issued API keys", check_prefix},
    {"ADMIN_USERNAME", CONF_STR, "", 0, 0, OFF(admin_username), 0, "Security",
     "Admin user name; with ADMIN_PASSWORD it is applied at every start (Render has no disk)",
     NULL},
    {"ADMIN_PASSWORD", CONF_STR, "", 0, 0, OFF(admin_password), CONF_SECRET, "Security",
     "Admin password (at least 8 characters); unset: generated once into data/init.json",
     NULL},
    {"ADMIN_SESSION_TIMEOUT", CONF_INT, "86400000", 60000, 2592000000LL,
     OFF(admin_session_timeout_ms), 0, "Security",
     "Admin session idle lifetime in milliseconds", NULL},
    {"LOGIN_MAX_FAILURES", CONF_INT, "10", 1, 1000, OFF(login_max_failures), 0, "Security",
     "Failed admin logins per user name and client address before delays start (an address "
     "alone gets 4x)", NULL},
    {"LOGIN_LOCKOUT_SECONDS", CONF_INT, "900", 1, 86400, OFF(login_lockout_seconds), 0,
     "Security", "Longest delay between failed logins (the delay doubles from 1 s)", NULL},
    {"PASSWORD_HASH_CONCURRENCY", CONF_INT, "1", 1, 16, OFF(password_hash_concurrency), 0,
     "Security", "Admin password checks (argon2id, 64 MiB each) run at once; more logins at "
     "that moment get 503 with Retry-After: 1", NULL},

    {"REDIS_URL", CONF_STR, "", 0, 0, OFF(redis_url), CONF_SECRET, "Redis",
     "redis://[user:password@]host:port[/db] or rediss:// for TLS; overrides REDIS_HOST etc.",
     check_redis_url},
    {"REDIS_HOST", CONF_STR, "", 0, 0, OFF(redis_host), 0, "Redis",
     "Redis host; empty (and no REDIS_URL) = start a private redis-server under DATA_DIR",
     NULL},
    {"REDIS_PORT", CONF_INT, "6379", 1, 65535, OFF(redis_port), 0, "Redis", "Redis port", NULL},
    {"REDIS_USERNAME", CONF_STR, "", 0, 0, OFF(redis_username), 0, "Redis",
     "Redis ACL user name (optional)", NULL},
    {"REDIS_PASSWORD", CONF_STR, "", 0, 0, OFF(redis_password), CONF_SECRET, "Redis",
     "Redis password", NULL},
    {"REDIS_DB", CONF_INT, "0", 0, 15, OFF(redis_db), 0, "Redis", "Redis database number", NULL},
    {"REDIS_ENABLE_TLS", CONF_BOOL, "false", 0, 0, OFF(redis_enable_tls), 0, "Redis",
     "Connect to Redis over TLS (Upstash needs true)", NULL},
    {"REDIS_TLS_CA_FILE", CONF_STR, "", 0, 0, OFF(redis_tls_ca_file), 0, "Redis",
     "CA bundle for the Redis certificate (default: system CAs)", NULL},
    {"REDIS_TLS_VERIFY", CONF_BOOL, "true", 0, 0, OFF(redis_tls_verify), 0, "Redis",
     "Verify the Redis TLS certificate and host name", NULL},
    {"REDIS_POOL_SIZE", CONF_INT, "0", 0, 512, OFF(redis_pool_size), 0, "Redis",
     "Redis connections (0 = worker threads + 2)", NULL},
    {"REDIS_SERVER_BIN", CONF_STR, "redis-server", 0, 0, OFF(redis_server_bin), 0, "Redis",
     "redis-server binary used for the private instance", NULL},

    {"DATA_DIR", CONF_STR, "data", 0, 0, OFF(data_dir), 0, "Files",
     "Directory for init.json and the private Redis data", NULL},
    {"LOG_DIR", CONF_STR, "logs", 0, 0, OFF(log_dir), 0, "Files",
     "Directory for claude-relay-YYYY-MM-DD.log (empty = stdout only)", NULL},
    {"ADMIN_UI_DIR", CONF_STR, "admin-ui/dist", 0, 0, OFF(admin_ui_dir), 0, "Files",
     "Directory of the built admin web UI (make ui: admin-ui/dist) served at /web", NULL},
    {"WEB_TITLE", CONF_STR, "Claude Relay", 0, 0, OFF(web_title), 0, "Files",
     "Name shown in the admin web UI's header, login page and page title" RUNTIME,
     check_web_title},
    {"WEB_LOGO_URL", CONF_STR, "", 0, 0, OFF(web_logo_url), 0, "Files",
     "Optional logo (http(s) URL) shown next to the title in the admin web UI" RUNTIME,
     config_check_logo_url},

    {"LOG_LEVEL", CONF_STR, "info", 0, 0, OFF(log_level), 0, "Logging and usage",
     "error, warn, info or debug", check_log_level},
    {"TIMEZONE_OFFSET", CONF_INT, "8", -12, 14, OFF(timezone_offset), 0, "Logging and usage",
     "UTC offset in hours for daily statistics and log file dates", NULL},
    {"ENABLE_USAGE_STATISTICS", CONF_BOOL, "true", 0, 0, OFF(enable_usage_statistics), 0,
     "Logging and usage", "Write daily/model/account breakdowns (false: per-key totals only, "
     "fewer Redis writes)", NULL},
    {"TOKEN_USAGE_RETENTION", CONF_INT, "30", 1, 3650, OFF(token_usage_retention_days), 0,
     "Logging and usage", "Days to keep daily usage breakdowns", NULL},
    {"REQUEST_LOG_MAX", CONF_INT, "200", 1, 1000, OFF(request_log_max), 0, "Logging and usage",
     "Recent requests kept per key and per account for the admin request log", NULL},

    {"UNPRICED_MODEL_FALLBACK_INPUT_PER_MTOK", CONF_STR, "3", 0, 0, OFF(unpriced_fallback_input),
     0, "Pricing", "USD per million input tokens for a model missing from the price table "
     "(cache writes 1.25x/2x, reads 0.1x of it)", check_usd_per_mtok},
    {"UNPRICED_MODEL_FALLBACK_OUTPUT_PER_MTOK", CONF_STR, "15", 0, 0,
     OFF(unpriced_fallback_output), 0, "Pricing",
     "USD per million output tokens for a model missing from the price table",
     check_usd_per_mtok},
    {"PRICING_RELOAD_INTERVAL", CONF_INT, "600", 1, 86400, OFF(pricing_reload_interval), 0,
     "Pricing", "Seconds between safety-net checks of the shared price table in Redis (one GET "
     "each); a replacement is announced to every instance at once", NULL},

    {"CLAUDE_API_URL", CONF_STR, "https://api.anthropic.com", 0, 0, OFF(claude_api_url), 0,
     "Claude OAuth", "Anthropic API base URL for Claude subscription (OAuth) accounts",
     check_http_url},
    {"CLAUDE_OAUTH_AUTHORIZE_URL", CONF_STR, "https://claude.ai/oauth/authorize", 0, 0,
     OFF(claude_oauth_authorize_url), 0, "Claude OAuth",
     "Where the admin's browser authorises a Claude account (PKCE)", check_http_url},
    {"CLAUDE_OAUTH_TOKEN_URL", CONF_STR, "https://platform.claude.com/v1/oauth/token", 0, 0,
     OFF(claude_oauth_token_url), 0, "Claude OAuth",
     "Token endpoint: code exchange and token refresh", check_http_url},
    {"CLAUDE_OAUTH_CLIENT_ID", CONF_STR, "9d1c250a-e61b-44d9-88ed-5944d1962f5e", 0, 0,
     OFF(claude_oauth_client_id), 0, "Claude OAuth", "OAuth client id (Claude Code's)", NULL},
    {"CLAUDE_OAUTH_SCOPES", CONF_STR,
     "org:create_api_key user:profile user:inference user:sessions:claude_code "
     "user:mcp_servers user:file_upload", 0, 0, OFF(claude_oauth_scopes), 0, "Claude OAuth",
     "Scopes asked for (space-separated)", NULL},
    {"CLAUDE_OAUTH_REDIRECT_URI", CONF_STR, "https://platform.claude.com/oauth/code/callback", 0,
     0, OFF(claude_oauth_redirect_uri), 0, "Claude OAuth",
     "Redirect URI registered for the client id (shows the code to paste)", check_http_url},
    {"TOKEN_REFRESH_INTERVAL", CONF_INT, "15", 1, 1440, OFF(token_refresh_interval_min), 0,
     "Claude OAuth", "Minutes between checks for OAuth tokens about to expire (and once at "
     "start)", NULL},
    {"TOKEN_REFRESH_LEAD_SECONDS", CONF_INT, "600", 0, 86400, OFF(token_refresh_lead_s), 0,
     "Claude OAuth", "An OAuth token expiring within this many seconds is refreshed", NULL},
    {"CLAUDE_OAUTH_PROFILE_URL", CONF_STR, "https://api.anthropic.com/api/oauth/profile", 0, 0,
     OFF(claude_oauth_profile_url), 0, "Claude OAuth",
     "Profile endpoint: the account's subscription type (max, pro, free), e-mail and ids",
     check_http_url},
    {"CLAUDE_OAUTH_USAGE_URL", CONF_STR, "https://api.anthropic.com/api/oauth/usage", 0, 0,
     OFF(claude_oauth_usage_url), 0, "Claude OAuth",
     "Usage endpoint: 5-hour and 7-day utilisation (GET /admin/claude-accounts/usage)",
     check_http_url},
    {"CLAUDE_PROFILE_RETRY_SECONDS", CONF_INT, "1800", 1, 86400, OFF(claude_profile_retry_s), 0,
     "Claude OAuth", "An account whose profile lookup failed is tried again after this many "
     "seconds (once across all instances)", NULL},
    {"GEMINI_CODE_ASSIST_URL", CONF_STR, "https://cloudcode-pa.googleapis.com", 0, 0,
     OFF(gemini_code_assist_url), 0, "Gemini",
     "Code Assist API base URL for gemini (Google OAuth) accounts: <url>/v1internal:<method>",
     check_http_url},

    {"OPENAI_OAUTH_AUTHORIZE_URL", CONF_STR, "https://auth.openai.com/oauth/authorize", 0, 0,
     OFF(openai_oauth_authorize_url), 0, "OpenAI OAuth",
     "Where the admin's browser authorises a ChatGPT (Codex) account (PKCE)", check_http_url},
    {"OPENAI_OAUTH_TOKEN_URL", CONF_STR, "https://auth.openai.com/oauth/token", 0, 0,
     OFF(openai_oauth_token_url), 0, "OpenAI OAuth",
     "Token endpoint of ChatGPT accounts: code exchange and token refresh", check_http_url},
    {"OPENAI_OAUTH_CLIENT_ID", CONF_STR, "app_EMoamEEZ73f0CkXaXp7hrann", 0, 0,
     OFF(openai_oauth_client_id), 0, "OpenAI OAuth", "OAuth client id (Codex CLI's)", NULL},
    {"OPENAI_OAUTH_REDIRECT_URI", CONF_STR, "http://localhost:1455/auth/callback", 0, 0,
     OFF(openai_oauth_redirect_uri), 0, "OpenAI OAuth",
     "Redirect URI registered for the client id (the browser lands there with the code)",
     check_http_url},
    {"OPENAI_CODEX_API_URL", CONF_STR, "https://chatgpt.com/backend-api/codex", 0, 0,
     OFF(openai_codex_api_url), 0, "OpenAI OAuth",
     "Codex backend of ChatGPT accounts (POST <url>/responses and /responses/compact)",
     check_http_url},

    {"GEMINI_OAUTH_AUTHORIZE_URL", CONF_STR, "https://accounts.google.com/o/oauth2/v2/auth", 0,
     0, OFF(gemini_oauth_authorize_url), 0, "Gemini OAuth",
     "Where the admin's browser authorises a Google (Gemini) account (PKCE, offline access)",
     check_http_url},
    {"GEMINI_OAUTH_TOKEN_URL", CONF_STR, "https://oauth2.googleapis.com/token", 0, 0,
     OFF(gemini_oauth_token_url), 0, "Gemini OAuth",
     "Google token endpoint: code exchange and token refresh", check_http_url},
    {"GEMINI_OAUTH_CLIENT_ID", CONF_STR,
     "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com", 0, 0,
     OFF(gemini_oauth_client_id), 0, "Gemini OAuth", "OAuth client id (Gemini CLI's)", NULL},
    {"GEMINI_OAUTH_CLIENT_SECRET", CONF_STR, "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", 0, 0,
     OFF(gemini_oauth_client_secret), 0, "Gemini OAuth",
     "OAuth client secret (Gemini CLI's public installed-app secret, RFC 8252: not a secret)",
     NULL},
    {"GEMINI_OAUTH_REDIRECT_URI", CONF_STR, "https://codeassist.google.com/authcode", 0, 0,
     OFF(gemini_oauth_redirect_uri), 0, "Gemini OAuth",
     "Redirect URI registered for the client id (shows the code to paste)", check_http_url},
    {"GEMINI_API_URL", CONF_STR, "https://generativelanguage.googleapis.com", 0, 0,
     OFF(gemini_api_url), 0, "Gemini API",
     "Base URL of gemini-api accounts without a baseUrl of their own", check_http_url},
};
/* clang-format on */

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

int config_load(struct relay_config **out, struct buf *errors)
{
    struct relay_config *cfg = xcalloc(1, sizeof(*cfg));
    int rc = conf_dotenv_load(".env", errors);
    if (conf_load(config_vars, ARRAY_SIZE(config_vars), cfg, env_lookup, errors) != 0)
        rc = -ERR_INVAL;
    if (rc == 0 && cfg->admin_password[0] && strlen(cfg->admin_password) < 8) {
        rc = buf_printf(errors, "ADMIN_PASSWORD: must be at least 8 characters\n");
        rc = -ERR_INVAL;
    }
    if (rc != 0) {
        config_free(cfg);
        return -ERR_INVAL;
    }
    *out = cfg;
    return 0;
}

void config_free(struct relay_config *cfg)
{
    if (!cfg)
        return;
    /* Secrets are wiped before their memory is returned. */
    char **secrets[] = {&cfg->jwt_secret,     &cfg->encryption_key, &cfg->encryption_key_old,
                        &cfg->admin_password, &cfg->redis_password, &cfg->redis_url};
    for (size_t i = 0; i < ARRAY_SIZE(secrets); i++)
        if (*secrets[i])
            memset(*secrets[i], 0, strlen(*secrets[i]));
    conf_release(config_vars, ARRAY_SIZE(config_vars), cfg);
    free(cfg);
}

void config_print_example(FILE *f)
{
    conf_print_example(config_vars, ARRAY_SIZE(config_vars), f);
}

bool config_redis_embedded(const struct relay_config *cfg)
{
    return !cfg->redis_url[0] && !cfg->redis_host[0];
}
