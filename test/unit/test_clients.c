/* test_clients.c - client recognition: the recorded requests of today's clients
 * (docs: /work/shared/reference/client-wire-facts.md, 2026-11-22) match, the
 * SDKs' and curl's do not; path allow-lists; the strict Claude Code check;
 * both metadata.user_id forms. */
#include "compat.h"
#include "clients.h"
#include "errs.h"
#include "harness.h"

#include <cJSON.h>
#include <strings.h>

#define DEVICE "2f547aaeb189045860416c9b6d03983491567f72b0eae8c38d70571f74a65cc6"
#define SESSION "b94ef88d-537d-4d47-b8f5-5a651ebb5fe3"
#define ACCOUNT "99427235-9379-4eb6-8f3b-ad1b5ed864ea"
#define CC_UID_JSON                                                                                \
    "{\"device_id\":\"" DEVICE "\",\"account_uuid\":\"\",\"session_id\":\"" SESSION "\"}"
#define CC_UID_LEGACY "user_" DEVICE "_account__session_" SESSION

/* ---- request fixtures ---- */

/* Header pairs, NULL-terminated; a lookup can drop one name or override one. */
struct hctx {
    const char *const *h;
    const char *omit;
    const char *set_name, *set_value;
};

static const char *lookup(const void *ctx, const char *name)
{
    const struct hctx *c = ctx;
    if (c->omit && strcasecmp(c->omit, name) == 0)
        return NULL;
    if (c->set_name && strcasecmp(c->set_name, name) == 0)
        return c->set_value;
    for (size_t i = 0; c->h[i]; i += 2)
        if (strcasecmp(c->h[i], name) == 0)
            return c->h[i + 1];
    return NULL;
}

/* claude -p, Claude Code 2.1.330, ANTHROPIC_AUTH_TOKEN. */
static const char *const cc_headers[] = {
    "user-agent",
    "claude-cli/2.1.330 (external, sdk-cli)",
    "x-app",
    "cli",
    "anthropic-version",
    "2023-06-01",
    "anthropic-beta",
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,"
    "thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24",
    "anthropic-dangerous-direct-browser-access",
    "true",
    "x-claude-code-session-id",
    SESSION,
    "x-stainless-package-version",
    "0.128.0",
    "x-stainless-runtime",
    "node",
    "x-stainless-runtime-version",
    "v26.12.1",
    "x-stainless-retry-count",
    "0",
    "x-stainless-timeout",
    "600",
    "accept-encoding",
    "gzip, deflate, br, zstd",
    "authorization",
    "Bearer cr_0123",
    NULL,
};

static const char cc_body[] =
    "{\"model\":\"claude-opus-5-5\",\"max_tokens\":128000,\"stream\":true,"
    "\"thinking\":{\"type\":\"adaptive\",\"display\":\"omitted\"},"
    "\"output_config\":{\"effort\":\"medium\"},"
    "\"context_management\":{\"edits\":[{\"type\":\"clear_thinking_20251015\",\"keep\":\"all\"}]},"
    "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: "
    "cc_version=2.1.330.e4b; cc_entrypoint=sdk-cli;\"},"
    "{\"type\":\"text\",\"text\":\"You are a Claude agent, built on Anthropic's Claude Agent "
    "SDK.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
    "\"messages\":[{\"role\":\"system\",\"content\":\"<env>\"},{\"role\":\"user\",\"content\":"
    "[{\"type\":\"text\",\"text\":\"say hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],"
    "\"tools\":[{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\"}}],"
    "\"metadata\":{\"user_id\":\"{\\\"device_id\\\":\\\"" DEVICE "\\\",\\\"account_uuid\\\":"
    "\\\"\\\",\\\"session_id\\\":\\\"" SESSION "\\\"}\"}}";

/* @anthropic-ai/sdk 1.12.0, stream helper. */
static const char *const anthropic_sdk_headers[] = {
    "user-agent",
    "Anthropic/JS 1.12.0",
    "anthropic-version",
    "2026-10-21",
    "authorization",
    "Bearer cr_0123",
    "x-stainless-helper-method",
    "stream",
    NULL,
};

/* codex exec, Codex CLI 0.169.0. */
static const char *const codex_headers[] = {
    "authorization",
    "Bearer cr_0123",
    "originator",
    "codex_exec",
    "user-agent",
    "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)",
    "session-id",
    SESSION,
    "thread-id",
    SESSION,
    "x-client-request-id",
    SESSION,
    "x-codex-window-id",
    SESSION ":0",
    "x-codex-beta-features",
    "remote_compaction_v2",
    "accept",
    "text/event-stream",
    NULL,
};

static const char codex_body[] =
    "{\"model\":\"gpt-5.5\",\"stream\":true,\"input\":[{\"type\":\"message\",\"role\":"
    "\"developer\",\"content\":[{\"type\":\"input_text\",\"text\":\"You are a coding agent "
    "running in the Codex CLI\"}]}],\"tool_choice\":\"auto\",\"parallel_tool_calls\":true,"
    "\"store\":false,\"prompt_cache_key\":\"" SESSION "\"}";

static const char *const openai_sdk_headers[] = {
    "authorization", "Bearer cr_0123", "user-agent", "OpenAI/JS 7.57.0", NULL,
};

/* gemini -p, Gemini CLI 0.61.0, API-key mode. */
static const char *const gemini_headers[] = {
    "x-goog-api-key",
    "cr_0123",
    "user-agent",
    "GeminiCLI-tui/0.61.0/gemini-3.8-flash (linux; x64; terminal)",
    "x-goog-api-client",
    "google-genai-sdk/1.30.0 gl-node/v20.20.2",
    NULL,
};

/* Gemini CLI 0.61.0, Code Assist mode. */
static const char *const gemini_gca_headers[] = {
    "authorization",
    "Bearer cr_0123",
    "user-agent",
    "GeminiCLI-tui/0.61.0/gemini-3.8-flash (linux; x64; terminal) google-api-nodejs-client/10.9.0",
    "x-goog-api-client",
    "gl-node/20.20.2",
    NULL,
};

static const char *const genai_sdk_headers[] = {
    "x-goog-api-key",
    "cr_0123",
    "x-server-timeout",
    "600",
    "user-agent",
    "google-genai-sdk/3.1.0 gl-node/v20.20.2",
    NULL,
};

static const char *const curl_headers[] = {
    "user-agent", "curl/7.88.1", "x-api-key", "cr_0123", "accept", "*/*", NULL,
};

static const char *const droid_headers[] = {
    "user-agent", "factory-cli/0.32.1", "x-factory-client", "cli", NULL,
};

/* A request under test: headers, path and body, with optional changes. */
struct req {
    const char *const *h;
    const char *path;
    const char *body;    /* JSON text or NULL */
    const char *omit;    /* header to drop */
    const char *hname;   /* header to set */
    const char *hvalue;  /* its value */
    const char *user_id; /* replaces metadata.user_id */
    const char *system;  /* JSON replacing body.system */
};

static cJSON *req_body(const struct req *r)
{
    cJSON *body = r->body ? cJSON_Parse(r->body) : NULL;
    if (r->body && !body) {
        fprintf(stderr, "  fixture body does not parse\n");
        harness_failed_checks++;
    }
    if (body && r->user_id)
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(body, "metadata"), "user_id",
                                  cJSON_CreateString(r->user_id));
    if (body && r->system)
        cJSON_ReplaceItemInObject(body, "system", cJSON_Parse(r->system));
    return body;
}

enum check_kind { CK_MATCHES, CK_REAL_CC };

static bool run(const struct req *r, enum check_kind kind, enum client_id id)
{
    struct hctx c = {r->h, r->omit, r->hname, r->hvalue};
    cJSON *body = req_body(r);
    struct client_facts f = {r->path, lookup, &c, body};
    bool ok = kind == CK_MATCHES ? client_matches(id, &f) : client_is_real_claude_code(&f);
    cJSON_Delete(body);
    return ok;
}

static bool matches(enum client_id id, const struct req *r)
{
    return run(r, CK_MATCHES, id);
}

static bool real_cc(const struct req *r)
{
    return run(r, CK_REAL_CC, CLIENT_UNKNOWN);
}

static const struct req cc_req = {.h = cc_headers, .path = "/api/v1/messages", .body = cc_body};

/* ---- names ---- */

TEST(names_round_trip)
{
    static const char *const names[] = {"claude_code", "gemini_cli", "codex_cli", "droid_cli"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        int id = client_parse(names[i]);
        REQUIRE(id > 0);
        CHECK_STR(client_name((enum client_id)id), names[i]);
    }
    CHECK_INT(client_parse("claude_code"), CLIENT_CLAUDE_CODE);
    CHECK_INT(client_parse("codex_cli"), CLIENT_CODEX_CLI);
}

TEST(unknown_names)
{
    static const char *const bad[] = {"",       "claude-code", "CLAUDE_CODE", "claude_code ",
                                      "cursor", "gemini",      "codex"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        CHECK_INT(client_parse(bad[i]), -1);
    CHECK_INT(client_parse(NULL), -1);
    CHECK(client_name(CLIENT_UNKNOWN) == NULL);
    CHECK(client_name((enum client_id)99) == NULL);
    CHECK(!matches(CLIENT_UNKNOWN, &cc_req));
    CHECK(!matches((enum client_id)99, &cc_req));
}

/* ---- Claude Code ---- */

TEST(claude_code_p_mode_matches)
{
    static const char *const paths[] = {"/api/v1/messages", "/claude/v1/messages", "/v1/messages",
                                        "/API/V1/Messages"};
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        struct req r = cc_req;
        r.path = paths[i];
        CHECK(matches(CLIENT_CLAUDE_CODE, &r));
        CHECK(real_cc(&r));
    }
    /* The key in x-api-key (ANTHROPIC_API_KEY) changes nothing. */
    struct req r = cc_req;
    r.omit = "authorization";
    r.hname = "x-api-key";
    r.hvalue = "cr_0123";
    CHECK(matches(CLIENT_CLAUDE_CODE, &r));
}

TEST(claude_code_path_allow_list)
{
    static const char *const yes[] = {"/api/v1/models",    "/v1/models",
                                      "/api/v1/me",        "/api/event_logging/batch",
                                      "/claude/v1/models", "/api/v1/organizations/o1/usage",
                                      "/api/v1/key-info"};
    static const char *const no[] = {"/gemini/v1beta/models/m:generateContent",
                                     "/openai/responses",
                                     "/droid/claude/v1/messages",
                                     "/openai/claude/v1/chat/completions",
                                     "/api/claude/v1/messages",
                                     "/v2/messages",
                                     "",
                                     "/"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        struct req r = {.h = cc_headers, .path = yes[i]};
        CHECK(matches(CLIENT_CLAUDE_CODE, &r));
    }
    for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
        struct req r = cc_req;
        r.path = no[i];
        CHECK(!matches(CLIENT_CLAUDE_CODE, &r));
    }
    struct req r = cc_req;
    r.path = NULL;
    CHECK(!matches(CLIENT_CLAUDE_CODE, &r));
}

TEST(claude_code_off_messages_needs_only_the_ua)
{
    struct req r = {.h = cc_headers, .path = "/api/v1/models", .omit = "x-app"};
    CHECK(real_cc(&r));
    r.hname = "user-agent";
    r.hvalue = "Anthropic/JS 1.12.0";
    CHECK(!real_cc(&r));
    CHECK(!matches(CLIENT_CLAUDE_CODE, &r));
}

TEST(claude_code_prompt_forms)
{
    static const char *const systems[] = {
        /* The TUI. */
        "[{\"type\":\"text\",\"text\":\"You are Claude Code, Anthropic's official CLI for "
        "Claude.\"},{\"type\":\"text\",\"text\":\"\\nYou are an interactive CLI tool\"}]",
        /* Agent SDK with the claude_code preset. */
        "[{\"type\":\"text\",\"text\":\"You are Claude Code, Anthropic's official CLI for "
        "Claude, running within the Claude Agent SDK.\"}]",
        /* Whitespace differs; text after the opening is free. */
        "[{\"type\":\"text\",\"text\":\"  You are a Claude agent,\\n built on  Anthropic's\\t"
        "Claude Agent SDK.\\n\\nYou are an agent for Claude Code\"}]",
        /* An identity block after other blocks still counts. */
        "[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cc_version=2.1.330.e4b; "
        "cc_entrypoint=cli;\"},{\"type\":\"text\",\"text\":\"extra\"},{\"type\":\"text\","
        "\"text\":\"You are Claude Code, Anthropic's official CLI for Claude.\"}]",
    };
    for (size_t i = 0; i < ARRAY_SIZE(systems); i++) {
        struct req r = cc_req;
        r.system = systems[i];
        if (!real_cc(&r)) {
            fprintf(stderr, "  system form %zu refused\n", i);
            harness_failed_checks++;
        }
    }
}

static const struct {
    const char *why;
    struct req r;
} cc_fakes[] = {
    {"Anthropic SDK UA",
     {.h = cc_headers,
      .path = "/api/v1/messages",
      .body = cc_body,
      .hname = "user-agent",
      .hvalue = "Anthropic/JS 1.12.0"}},
    {"curl UA",
     {.h = cc_headers,
      .path = "/v1/messages",
      .body = cc_body,
      .hname = "user-agent",
      .hvalue = "curl/7.88.1"}},
    {"UA without x.y.z",
     {.h = cc_headers,
      .path = "/v1/messages",
      .body = cc_body,
      .hname = "user-agent",
      .hvalue = "claude-cli/2.1 (external, cli)"}},
    {"no UA", {.h = cc_headers, .path = "/v1/messages", .body = cc_body, .omit = "user-agent"}},
    {"no x-app", {.h = cc_headers, .path = "/v1/messages", .body = cc_body, .omit = "x-app"}},
    {"empty x-app",
     {.h = cc_headers, .path = "/v1/messages", .body = cc_body, .hname = "x-app", .hvalue = ""}},
    {"no anthropic-beta",
     {.h = cc_headers, .path = "/v1/messages", .body = cc_body, .omit = "anthropic-beta"}},
    {"no anthropic-version",
     {.h = cc_headers, .path = "/v1/messages", .body = cc_body, .omit = "anthropic-version"}},
    {"no body", {.h = cc_headers, .path = "/v1/messages"}},
    {"user_id not a user id",
     {.h = cc_headers, .path = "/v1/messages", .body = cc_body, .user_id = "user-1234"}},
    {"SDK system prompt",
     {.h = cc_headers,
      .path = "/v1/messages",
      .body = cc_body,
      .system = "[{\"type\":\"text\",\"text\":\"You are a helpful assistant.\"}]"}},
    {"billing header alone",
     {.h = cc_headers,
      .path = "/v1/messages",
      .body = cc_body,
      .system = "[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: "
                "cc_version=2.1.330.e4b; cc_entrypoint=sdk-cli;\"}]"}},
    {"identity not at the start",
     {.h = cc_headers,
      .path = "/v1/messages",
      .body = cc_body,
      .system = "[{\"type\":\"text\",\"text\":\"Note: You are Claude Code, Anthropic's official "
                "CLI for Claude.\"}]"}},
    {"near miss",
     {.h = cc_headers,
      .path = "/v1/messages",
      .body = cc_body,
      .system = "[{\"type\":\"text\",\"text\":\"You are Claude Code, Anthropic's official CLI for "
                "Claude\"}]"}},
    {"system as a string",
     {.h = cc_headers,
      .path = "/v1/messages",
      .body = cc_body,
      .system = "\"You are Claude Code, Anthropic's official CLI for Claude.\""}},
    {"empty system", {.h = cc_headers, .path = "/v1/messages", .body = cc_body, .system = "[]"}},
};

TEST(claude_code_fakes_refused)
{
    for (size_t i = 0; i < ARRAY_SIZE(cc_fakes); i++) {
        if (real_cc(&cc_fakes[i].r) || matches(CLIENT_CLAUDE_CODE, &cc_fakes[i].r)) {
            fprintf(stderr, "  accepted: %s\n", cc_fakes[i].why);
            harness_failed_checks++;
        }
    }
}

TEST(claude_code_needs_a_model_string)
{
    static const char body[] =
        "{\"model\":5,\"system\":[{\"type\":\"text\",\"text\":\"You are Claude Code, "
        "Anthropic's official CLI for Claude.\"}],\"metadata\":{\"user_id\":\"" CC_UID_LEGACY
        "\"}}";
    struct req r = {.h = cc_headers, .path = "/v1/messages", .body = body};
    CHECK(!real_cc(&r));
}

/* ---- metadata.user_id ---- */

static const char *const uid_good[] = {
    CC_UID_JSON,
    "{\"device_id\":\"" DEVICE "\",\"account_uuid\":\"" ACCOUNT "\",\"session_id\":\"" SESSION
    "\"}",
    " { \"session_id\" : \"" SESSION "\" , \"device_id\":\"" DEVICE "\" } ",
    "{\"device_id\":\"" DEVICE "\",\"session_id\":\"" SESSION "\"}",
    "{\"device_id\":\"" DEVICE "\",\"account_uuid\":\"\",\"session_id\":\"" SESSION
    "\",\"seq\":3,\"beta\":true,\"note\":\"a \\\"quoted\\\" word\"}",
    CC_UID_LEGACY,
    "user_" DEVICE "_account_" ACCOUNT "_session_" SESSION,
    "user_" DEVICE "_account__session_"
    "B94EF88D-537D-4D47-B8F5-5A651EBB5FE3",
};

static const char *const uid_bad[] = {
    "",
    "{}",
    "{\"device_id\":\"" DEVICE "\",\"account_uuid\":\"\"}",
    "{\"account_uuid\":\"\",\"session_id\":\"" SESSION "\"}",
    "{\"device_id\":\"" DEVICE "0\",\"session_id\":\"" SESSION "\"}",
    "{\"device_id\":\"" DEVICE "\",\"session_id\":\"" SESSION "\"} x",
    "{\"device_id\":\"" DEVICE "\",\"session_id\":\"" SESSION "\"",
    "{\"device_id\":\"" DEVICE "\",\"session_id\":\"not-a-uuid\"}",
    "{\"device_id\":\"" DEVICE "\",\"account_uuid\":\"acct\",\"session_id\":\"" SESSION "\"}",
    "{\"device_id\":\"" DEVICE "\",\"session_id\":\"" SESSION "\",\"x\":{\"y\":1}}",
    "{\"device_id\":\"" DEVICE "\",\"session_id\":"
    "123"
    "}",
    "{\"device_id\":\"" DEVICE "\" \"session_id\":\"" SESSION "\"}",
    "{\"device_id\":\"" DEVICE "\",\"session_id\":\"" SESSION "\\",
    "user_" DEVICE "_account__session_",
    "user_" DEVICE "_session_" SESSION,
    "user_" DEVICE "_account_" ACCOUNT,
    "user_abc_account__session_" SESSION,
    "user_" DEVICE "_account_someone_session_" SESSION,
    "user_" DEVICE "_account__session_" SESSION "x",
    "usr_" DEVICE "_account__session_" SESSION,
    "user_"
    "2f547aaeb189045860416c9b6d03983491567f72b0eae8c38d70571f74a65ccg"
    "_account__session_" SESSION,
};

TEST(user_id_forms)
{
    for (size_t i = 0; i < ARRAY_SIZE(uid_good); i++) {
        struct req r = cc_req;
        r.user_id = uid_good[i];
        if (!real_cc(&r)) {
            fprintf(stderr, "  refused good user_id %zu: %s\n", i, uid_good[i]);
            harness_failed_checks++;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(uid_bad); i++) {
        struct req r = cc_req;
        r.user_id = uid_bad[i];
        if (real_cc(&r)) {
            fprintf(stderr, "  accepted bad user_id %zu: %s\n", i, uid_bad[i]);
            harness_failed_checks++;
        }
    }
}

TEST(user_id_must_be_a_string)
{
    static const char body[] =
        "{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":\"You are Claude Code, "
        "Anthropic's official CLI for "
        "Claude.\"}],\"metadata\":{\"user_id\":{\"device_id\":\"" DEVICE
        "\",\"session_id\":\"" SESSION "\"}}}";
    struct req r = {.h = cc_headers, .path = "/v1/messages", .body = body};
    CHECK(!real_cc(&r));
}

static int session_of(const char *user_id, char *out, size_t len)
{
    struct req r = cc_req;
    r.user_id = user_id;
    struct hctx c = {r.h, NULL, NULL, NULL};
    cJSON *body = req_body(&r);
    struct client_facts f = {r.path, lookup, &c, body};
    int rc = client_session_id(&f, out, len);
    cJSON_Delete(body);
    return rc;
}

TEST(session_id_both_forms)
{
    char out[37];
    CHECK_INT(session_of(CC_UID_JSON, out, sizeof(out)), 0);
    CHECK_STR(out, SESSION);
    memset(out, 0, sizeof(out));
    CHECK_INT(session_of(CC_UID_LEGACY, out, sizeof(out)), 0);
    CHECK_STR(out, SESSION);
    CHECK_INT(session_of("user_" DEVICE "_account_" ACCOUNT "_session_" SESSION, out, sizeof(out)),
              0);
    CHECK_STR(out, SESSION);
}

TEST(session_id_errors_leave_out_alone)
{
    char out[37] = "untouched";
    CHECK_INT(session_of(CC_UID_JSON, out, 36), -ERR_TOOBIG);
    CHECK_STR(out, "untouched");
    CHECK_INT(session_of("user-1234", out, sizeof(out)), -ERR_NOTFOUND);
    CHECK_STR(out, "untouched");
    struct hctx c = {.h = cc_headers};
    struct client_facts f = {"/v1/messages", lookup, &c, NULL};
    CHECK_INT(client_session_id(&f, out, sizeof(out)), -ERR_NOTFOUND);
    cJSON *no_meta = cJSON_Parse("{\"model\":\"m\"}");
    f.body = no_meta;
    CHECK_INT(client_session_id(&f, out, sizeof(out)), -ERR_NOTFOUND);
    cJSON_Delete(no_meta);
    CHECK_STR(out, "untouched");
}

/* ---- Gemini CLI ---- */

TEST(gemini_cli_matches)
{
    static const struct req yes[] = {
        {.h = gemini_headers,
         .path = "/gemini/v1beta/models/gemini-3.5-flash-lite:generateContent"},
        {.h = gemini_headers,
         .path = "/gemini/v1beta/models/gemini-3.8-flash:streamGenerateContent"},
        {.h = gemini_gca_headers, .path = "/gemini/v1internal:loadCodeAssist"},
        {.h = gemini_gca_headers, .path = "/gemini/v1internal:streamGenerateContent"},
        /* Older and other spellings the original accepted. */
        {.h = gemini_headers,
         .path = "/gemini/v1beta/models/m:generateContent",
         .hname = "user-agent",
         .hvalue = "GeminiCLI/0.1.5 (linux; x64)"},
        {.h = gemini_headers,
         .path = "/gemini/v1beta/models/m:generateContent",
         .hname = "user-agent",
         .hvalue = "geminicli/v0.1.5"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
        CHECK(matches(CLIENT_GEMINI_CLI, &yes[i]));
}

TEST(gemini_cli_refuses_others)
{
    static const char *const uas[] = {"google-genai-sdk/3.1.0 gl-node/v20.20.2",
                                      "curl/7.88.1",
                                      "GeminiCLI-/0.61.0",
                                      "GeminiCLI-tui",
                                      "GeminiCLIx/1.0",
                                      "GeminiCLI/abc",
                                      "my GeminiCLI/1.0",
                                      ""};
    for (size_t i = 0; i < ARRAY_SIZE(uas); i++) {
        struct req r = {.h = genai_sdk_headers,
                        .path = "/gemini/v1/models/gemini-3.8-flash:generateContent",
                        .hname = "user-agent",
                        .hvalue = uas[i]};
        CHECK(!matches(CLIENT_GEMINI_CLI, &r));
    }
    /* Unlike the original, off the generateContent paths too. */
    struct req models = {.h = genai_sdk_headers, .path = "/gemini/v1beta/models"};
    CHECK(!matches(CLIENT_GEMINI_CLI, &models));
    struct req no_ua = {
        .h = genai_sdk_headers, .path = "/gemini/v1beta/models", .omit = "user-agent"};
    CHECK(!matches(CLIENT_GEMINI_CLI, &no_ua));
    /* The CLI's own UA on another family's path. */
    struct req wrong_path = {.h = gemini_headers, .path = "/v1beta/models/m:generateContent"};
    CHECK(!matches(CLIENT_GEMINI_CLI, &wrong_path));
    wrong_path.path = "/api/v1/messages";
    CHECK(!matches(CLIENT_GEMINI_CLI, &wrong_path));
}

/* ---- Codex CLI ---- */

TEST(codex_cli_matches)
{
    static const char *const paths[] = {"/openai/responses", "/openai/v1/responses",
                                        "/openai/responses/compact", "/azure/responses"};
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        struct req r = {.h = codex_headers, .path = paths[i], .body = codex_body};
        CHECK(matches(CLIENT_CODEX_CLI, &r));
    }
}

TEST(codex_cli_older_forms)
{
    /* codex_cli_rs sent session_id with an underscore. */
    static const char *const rs[] = {
        "originator", "codex_cli_rs", "user-agent", "codex_cli_rs/0.20.0 (Mac OS 15.5.0; arm64)",
        "session_id", SESSION,        NULL,
    };
    static const char *const vscode[] = {
        "originator", "codex_vscode", "user-agent", "codex_vscode/0.35.0 (Windows 10; x86_64)",
        "session-id", SESSION,        NULL,
    };
    struct req r = {.h = rs, .path = "/openai/responses", .body = codex_body};
    CHECK(matches(CLIENT_CODEX_CLI, &r));
    r.h = vscode;
    CHECK(matches(CLIENT_CODEX_CLI, &r));
}

static const struct {
    const char *why;
    struct req r;
} codex_fakes[] = {
    {"OpenAI SDK", {.h = openai_sdk_headers, .path = "/openai/v1/responses", .body = codex_body}},
    {"curl", {.h = curl_headers, .path = "/openai/responses", .body = codex_body}},
    {"SDK UA on Codex headers",
     {.h = codex_headers,
      .path = "/openai/responses",
      .body = codex_body,
      .hname = "user-agent",
      .hvalue = "OpenAI/JS 7.57.0"}},
    {"UA without version",
     {.h = codex_headers,
      .path = "/openai/responses",
      .body = codex_body,
      .hname = "user-agent",
      .hvalue = "codex_exec/"}},
    {"no originator",
     {.h = codex_headers, .path = "/openai/responses", .body = codex_body, .omit = "originator"}},
    {"other originator",
     {.h = codex_headers,
      .path = "/openai/responses",
      .body = codex_body,
      .hname = "originator",
      .hvalue = "codex_cli_rs"}},
    {"no session id",
     {.h = codex_headers, .path = "/openai/responses", .body = codex_body, .omit = "session-id"}},
    {"short session id",
     {.h = codex_headers,
      .path = "/openai/responses",
      .body = codex_body,
      .hname = "session-id",
      .hvalue = "abc"}},
    {"chat path", {.h = codex_headers, .path = "/openai/v1/chat/completions", .body = codex_body}},
    {"bare /v1 path", {.h = codex_headers, .path = "/v1/responses", .body = codex_body}},
    {"droid path", {.h = codex_headers, .path = "/droid/openai/v1/responses", .body = codex_body}},
};

TEST(codex_cli_refuses_others)
{
    for (size_t i = 0; i < ARRAY_SIZE(codex_fakes); i++) {
        if (matches(CLIENT_CODEX_CLI, &codex_fakes[i].r)) {
            fprintf(stderr, "  accepted: %s\n", codex_fakes[i].why);
            harness_failed_checks++;
        }
    }
}

/* ---- Droid ---- */

TEST(droid_cli)
{
    struct req r = {.h = droid_headers, .path = "/droid/claude/v1/messages"};
    CHECK(matches(CLIENT_DROID_CLI, &r));
    r.path = "/droid/openai/v1/responses";
    CHECK(matches(CLIENT_DROID_CLI, &r));
    r.path = "/v1/messages";
    CHECK(!matches(CLIENT_DROID_CLI, &r));
    r.path = "/droid/comm/v1/chat/completions";
    r.hname = "user-agent";
    r.hvalue = "Mozilla/5.0 factory-cli/1.2.3";
    CHECK(matches(CLIENT_DROID_CLI, &r));
    r.hvalue = "factory-cli/1.2";
    CHECK(!matches(CLIENT_DROID_CLI, &r)); /* x-factory-client "cli" alone is not enough */
    r.omit = "user-agent";
    r.hname = "x-factory-client";
    r.hvalue = "droid";
    CHECK(matches(CLIENT_DROID_CLI, &r));
    r.hvalue = "factory-cli";
    CHECK(matches(CLIENT_DROID_CLI, &r));
    r.h = curl_headers;
    r.omit = NULL;
    r.hname = NULL;
    CHECK(!matches(CLIENT_DROID_CLI, &r));
}

/* ---- across clients ---- */

TEST(sdks_and_curl_match_no_client)
{
    static const struct req sdk[] = {
        {.h = anthropic_sdk_headers, .path = "/api/v1/messages", .body = cc_body},
        {.h = anthropic_sdk_headers, .path = "/api/v1/models"},
        {.h = openai_sdk_headers, .path = "/openai/responses", .body = codex_body},
        {.h = genai_sdk_headers, .path = "/gemini/v1/models/m:generateContent"},
        {.h = curl_headers, .path = "/api/v1/messages", .body = cc_body},
        {.h = curl_headers, .path = "/gemini/v1beta/models/m:streamGenerateContent"},
        {.h = curl_headers, .path = "/droid/claude/v1/messages", .body = cc_body},
    };
    for (size_t i = 0; i < ARRAY_SIZE(sdk); i++)
        for (int id = CLIENT_CLAUDE_CODE; id <= CLIENT_DROID_CLI; id++)
            if (matches((enum client_id)id, &sdk[i])) {
                fprintf(stderr, "  SDK request %zu matched %s\n", i,
                        client_name((enum client_id)id));
                harness_failed_checks++;
            }
}

TEST(each_client_matches_only_itself)
{
    static const struct {
        enum client_id id;
        struct req r;
    } real[] = {
        {CLIENT_CLAUDE_CODE, {.h = cc_headers, .path = "/api/v1/messages", .body = cc_body}},
        {CLIENT_GEMINI_CLI,
         {.h = gemini_headers, .path = "/gemini/v1beta/models/m:streamGenerateContent"}},
        {CLIENT_CODEX_CLI, {.h = codex_headers, .path = "/openai/responses", .body = codex_body}},
        {CLIENT_DROID_CLI, {.h = droid_headers, .path = "/droid/claude/v1/messages"}},
    };
    for (size_t i = 0; i < ARRAY_SIZE(real); i++)
        for (int id = CLIENT_CLAUDE_CODE; id <= CLIENT_DROID_CLI; id++)
            CHECK(matches((enum client_id)id, &real[i].r) == ((enum client_id)id == real[i].id));
}

static bool allowed(const enum client_id *ids, size_t n, const struct req *r)
{
    struct hctx c = {r->h, NULL, NULL, NULL};
    cJSON *body = req_body(r);
    struct client_facts f = {r->path, lookup, &c, body};
    bool ok = client_allowed(ids, n, &f);
    cJSON_Delete(body);
    return ok;
}

TEST(allowed_lists)
{
    static const enum client_id cli_pair[] = {CLIENT_GEMINI_CLI, CLIENT_CODEX_CLI};
    static const enum client_id with_unknown[] = {CLIENT_UNKNOWN, (enum client_id)42,
                                                  CLIENT_CLAUDE_CODE};
    struct req codex = {.h = codex_headers, .path = "/openai/responses", .body = codex_body};
    CHECK(allowed(cli_pair, ARRAY_SIZE(cli_pair), &codex));
    CHECK(!allowed(cli_pair, ARRAY_SIZE(cli_pair), &cc_req));
    CHECK(!allowed(cli_pair, 0, &codex));
    CHECK(allowed(with_unknown, ARRAY_SIZE(with_unknown), &cc_req));
    CHECK(!allowed(with_unknown, ARRAY_SIZE(with_unknown), &codex));
}

static const struct test tests[] = {
    T(names_round_trip),
    T(unknown_names),
    T(claude_code_p_mode_matches),
    T(claude_code_path_allow_list),
    T(claude_code_off_messages_needs_only_the_ua),
    T(claude_code_prompt_forms),
    T(claude_code_fakes_refused),
    T(claude_code_needs_a_model_string),
    T(user_id_forms),
    T(user_id_must_be_a_string),
    T(session_id_both_forms),
    T(session_id_errors_leave_out_alone),
    T(gemini_cli_matches),
    T(gemini_cli_refuses_others),
    T(codex_cli_matches),
    T(codex_cli_older_forms),
    T(codex_cli_refuses_others),
    T(droid_cli),
    T(sdks_and_curl_match_no_client),
    T(each_client_matches_only_itself),
    T(allowed_lists),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
