/*
 * oauth_kinds.c - THE list of OAuth kinds (see oauth_kind.h): Claude
 * (crs-relay-spec 9.1), OpenAI / ChatGPT (9.3) and Google (9.2), one entry
 * each, with the extras each token answer carries.
 */
#include "compat.h"
#include "claude_profile.h"
#include "config.h"
#include "json.h"
#include "oauth_kind.h"

#define OPENAI_SCOPES "openid profile email offline_access"
#define GOOGLE_SCOPES "https://www.googleapis.com/auth/cloud-platform"
#define DEMAND_LEAD_MS 60000 /* the original: a token expiring within a minute is renewed first */

static void set_str(cJSON *fields, const char *name, const char *v, size_t max)
{
    if (v && *v && strlen(v) <= max)
        json_set_str(fields, name, v);
}

/* ---- Claude ---- */

static void claude_endpoints(const struct relay_config *cfg, struct oauth_endpoints *e)
{
    *e = (struct oauth_endpoints){cfg->claude_oauth_authorize_url, cfg->claude_oauth_token_url,
                                  cfg->claude_oauth_client_id,     NULL,
                                  cfg->claude_oauth_redirect_uri,  cfg->claude_oauth_scopes};
}

/* scope, and the organisation's name (else its uuid). */
static void claude_extras(const cJSON *answer, cJSON *fields)
{
    const cJSON *org = cJSON_GetObjectItem(answer, "organization");
    json_set_str(fields, "scopes", "");
    set_str(fields, "scopes", json_str(answer, "scope", ""), 1000);
    json_set_str(fields, "organization", "");
    set_str(fields, "organization", json_str(org, "name", json_str(org, "uuid", "")), 200);
}

static const char *const claude_headers[] = {
    "User-Agent: claude-cli/1.0.56 (external, cli)",
    "Accept: application/json, text/plain, */*",
    "Accept-Language: en-US,en;q=0.9",
    "Referer: https://claude.ai/",
    "Origin: https://claude.ai",
    NULL,
};

const struct oauth_kind oauth_claude = {
    .name = "claude",
    .label = "Claude",
    .endpoints = claude_endpoints,
    .authorize_lead = "code=true&",
    .authorize_tail = "",
    .pkce = OAUTH_PKCE_B64URL,
    .encoding = OAUTH_JSON,
    .token_headers = claude_headers,
    .exchange_sends_state = true,
    .demand_lead_ms = DEMAND_LEAD_MS,
    .setup_token = true,
    .extras = claude_extras,
    .stored = claude_profile_start, /* the subscription may have changed */
};

/* ---- OpenAI (ChatGPT / Codex) ---- */

static void openai_endpoints(const struct relay_config *cfg, struct oauth_endpoints *e)
{
    *e = (struct oauth_endpoints){cfg->openai_oauth_authorize_url, cfg->openai_oauth_token_url,
                                  cfg->openai_oauth_client_id,     NULL,
                                  cfg->openai_oauth_redirect_uri,  OPENAI_SCOPES};
}

/* The id_token's claims (a refresh may bring none: the stored ones stay):
 * the ChatGPT account id the Codex backend wants, the user id, the plan
 * and the e-mail. */
static void openai_extras(const cJSON *answer, cJSON *fields)
{
    cJSON *claims = oauth_jwt_claims(json_str(answer, "id_token", ""));
    const cJSON *auth = cJSON_GetObjectItem(claims, "https://api.openai.com/auth");
    if (claims) {
        set_str(fields, "accountId", json_str(auth, "chatgpt_account_id", ""), 100);
        set_str(fields, "chatgptUserId",
                json_str(auth, "chatgpt_user_id", json_str(auth, "user_id", "")), 100);
        set_str(fields, "planType", json_str(auth, "chatgpt_plan_type", ""), 40);
        set_str(fields, "email", json_str(claims, "email", ""), 320);
    }
    cJSON_Delete(claims);
}

static const char *const form_headers[] = {"Accept: application/json", NULL};

const struct oauth_kind oauth_openai = {
    .name = "openai",
    .label = "ChatGPT",
    .endpoints = openai_endpoints,
    .authorize_lead = "",
    .authorize_tail = "&id_token_add_organizations=true&codex_cli_simplified_flow=true",
    .pkce = OAUTH_PKCE_HEX,
    .encoding = OAUTH_FORM,
    .token_headers = form_headers,
    .refresh_scope = "openid profile email",
    .default_expires_in = 3600,
    .demand_lead_ms = DEMAND_LEAD_MS,
    .extras = openai_extras,
};

/* ---- Google (Gemini) ---- */

static void google_endpoints(const struct relay_config *cfg, struct oauth_endpoints *e)
{
    *e = (struct oauth_endpoints){cfg->gemini_oauth_authorize_url, cfg->gemini_oauth_token_url,
                                  cfg->gemini_oauth_client_id,     cfg->gemini_oauth_client_secret,
                                  cfg->gemini_oauth_redirect_uri,  GOOGLE_SCOPES};
    if (!e->client_secret[0])
        e->client_secret = NULL;
}

static void google_extras(const cJSON *answer, cJSON *fields)
{
    set_str(fields, "scopes", json_str(answer, "scope", ""), 1000);
}

const struct oauth_kind oauth_google = {
    .name = "gemini",
    .label = "Google",
    .endpoints = google_endpoints,
    .authorize_lead = "access_type=offline&",
    .authorize_tail = "&prompt=select_account",
    .pkce = OAUTH_PKCE_HEX,
    .encoding = OAUTH_FORM,
    .token_headers = form_headers,
    .default_expires_in = 3600,
    .demand_lead_ms = DEMAND_LEAD_MS,
    .extras = google_extras,
};
