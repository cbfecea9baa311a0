/*
 * clients.c - client recognition (see clients.h).
 *
 * DESIGN: one table indexed by enum client_id holds each client's stored
 * name, path allow-list and validator; everything else is a small matcher
 * over borrowed strings. Nothing is copied or allocated: metadata.user_id's
 * JSON form is read by a flat scanner in place instead of a second cJSON
 * parse, because it sits on every Claude request's path and holds only a few
 * string members.
 */
#include "compat.h"
#include "clients.h"
#include "errs.h"
#include "json.h"

#include <strings.h>

#define DEVICE_ID_LEN 64
#define UUID_LEN 36
/* The original's strict Codex rule: a session id header longer than this. */
#define CODEX_SESSION_MIN 20

/* ---- character and string helpers ---- */

struct span {
    const char *p;
    size_t n;
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *skip_ws(const char *s)
{
    while (is_ws(*s))
        s++;
    return s;
}

static bool span_is_hex(struct span s, size_t want)
{
    if (s.n != want)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (!is_hex(s.p[i]))
            return false;
    return true;
}

/* 8-4-4-4-12 hex digits, any case. */
static bool span_is_uuid(struct span s)
{
    if (s.n != UUID_LEN)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s.p[i] != '-' : !is_hex(s.p[i]))
            return false;
    }
    return true;
}

static bool span_eq(struct span s, const char *lit)
{
    return s.p && strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* After `parts` dot-separated digit groups at s ("2.1.330" for 3), or NULL. */
static const char *skip_version(const char *s, int parts)
{
    for (int i = 0; i < parts; i++) {
        if (i > 0 && *s++ != '.')
            return NULL;
        if (!is_digit(*s))
            return NULL;
        while (is_digit(*s))
            s++;
    }
    return s;
}

/* True when s, after leading whitespace, begins with prefix, where a run of
 * whitespace on either side equals a run on the other (the original's
 * whitespace-collapsing normalisation, without a copy). */
static bool ws_prefix(const char *s, const char *prefix)
{
    s = skip_ws(s);
    prefix = skip_ws(prefix);
    while (*prefix) {
        if (is_ws(*prefix)) {
            if (!is_ws(*s))
                return false;
            s = skip_ws(s);
            prefix = skip_ws(prefix);
            continue;
        }
        if (*s++ != *prefix++)
            return false;
    }
    return true;
}

static const char *hdr(const struct client_facts *f, const char *name)
{
    return f->header(f->ctx, name);
}

static bool hdr_set(const struct client_facts *f, const char *name)
{
    const char *v = hdr(f, name);
    return v && *v;
}

/* ---- metadata.user_id ---- */

struct user_id {
    struct span device, account, session;
};

static const struct {
    const char *key;
    size_t off;
} user_id_members[] = {
    {"device_id", offsetof(struct user_id, device)},
    {"account_uuid", offsetof(struct user_id, account)},
    {"session_id", offsetof(struct user_id, session)},
};

/* A JSON string at *pp: its raw bytes between the quotes, escapes left as
 * sent (a value holding one fails the hex/uuid checks anyway). */
static bool scan_string(const char **pp, struct span *out)
{
    const char *p = *pp;
    if (*p != '"')
        return false;
    const char *start = ++p;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        p++;
    }
    if (*p != '"')
        return false;
    *out = (struct span){start, (size_t)(p - start)};
    *pp = p + 1;
    return true;
}

/* A string, or a number / true / false / null (span left empty), so that a
 * future scalar member does not make today's parser refuse the id. Nested
 * values are refused. */
static bool scan_value(const char **pp, struct span *out)
{
    if (**pp == '"')
        return scan_string(pp, out);
    const char *p = *pp;
    while ((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '.' || *p == '-' || *p == '+' ||
           *p == 'E')
        p++;
    if (p == *pp)
        return false;
    *out = (struct span){NULL, 0};
    *pp = p;
    return true;
}

static void user_id_assign(struct user_id *u, struct span key, struct span val)
{
    for (size_t i = 0; i < ARRAY_SIZE(user_id_members); i++)
        if (span_eq(key, user_id_members[i].key))
            *(struct span *)((char *)u + user_id_members[i].off) = val;
}

/* {"device_id":"..","account_uuid":"..","session_id":".."}: a flat object. */
static bool parse_json_user_id(const char *s, struct user_id *u)
{
    const char *p = skip_ws(s + 1);
    for (;;) {
        struct span key, val;
        if (!scan_string(&p, &key))
            return false;
        p = skip_ws(p);
        if (*p != ':')
            return false;
        p = skip_ws(p + 1);
        if (!scan_value(&p, &val))
            return false;
        user_id_assign(u, key, val);
        p = skip_ws(p);
        if (*p == '}')
            return *skip_ws(p + 1) == '\0';
        if (*p != ',')
            return false;
        p = skip_ws(p + 1);
    }
}

/* user_<64 hex>_account_<account>_session_<session>; the account part ends at
 * the first "_session_" (the original's lazy match). */
static bool parse_legacy_user_id(const char *s, struct user_id *u)
{
    static const char user[] = "user_", account[] = "_account_", session[] = "_session_";
    if (strncmp(s, user, sizeof(user) - 1) != 0)
        return false;
    s += sizeof(user) - 1;
    if (strnlen(s, DEVICE_ID_LEN) < DEVICE_ID_LEN)
        return false;
    u->device = (struct span){s, DEVICE_ID_LEN};
    s += DEVICE_ID_LEN;
    if (strncmp(s, account, sizeof(account) - 1) != 0)
        return false;
    s += sizeof(account) - 1;
    const char *sess = strstr(s, session);
    if (!sess)
        return false;
    u->account = (struct span){s, (size_t)(sess - s)};
    sess += sizeof(session) - 1;
    u->session = (struct span){sess, strlen(sess)};
    return true;
}

/* The body's metadata.user_id, parsed and valid in either form. */
static bool user_id_get(const cJSON *body, struct user_id *u)
{
    const char *s = json_str(json_get(body, "metadata"), "user_id", NULL);
    if (!s)
        return false;
    memset(u, 0, sizeof(*u));
    const char *json = skip_ws(s);
    bool parsed = *json == '{' ? parse_json_user_id(json, u) : parse_legacy_user_id(s, u);
    return parsed && span_is_hex(u->device, DEVICE_ID_LEN) &&
           (u->account.n == 0 || span_is_uuid(u->account)) && span_is_uuid(u->session);
}

int client_session_id(const struct client_facts *f, char *out, size_t len)
{
    struct user_id u;
    if (!user_id_get(f->body, &u))
        return -ERR_NOTFOUND;
    if (len < u.session.n + 1)
        return -ERR_TOOBIG;
    memcpy(out, u.session.p, u.session.n);
    out[u.session.n] = '\0';
    return 0;
}

/* ---- Claude Code ---- */

/* Claude Code's own list of system-prompt openings (its CLI_SYSPROMPT_PREFIXES):
 * the TUI, the Agent SDK with the Claude Code preset, and the Agent SDK
 * identity that `claude -p` sends today. */
static const char *const claude_code_prompts[] = {
    "You are Claude Code, Anthropic's official CLI for Claude.",
    ("You are Claude Code, Anthropic's official CLI for Claude, running within the Claude Agent "
     "SDK."),
    "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
};

/* Headers Claude Code always sends to a messages path; any value will do. */
static const char *const claude_code_headers[] = {"x-app", "anthropic-beta", "anthropic-version"};

static bool ua_is_claude_cli(const char *ua)
{
    return has_prefix_ci(ua, "claude-cli/") && skip_version(ua + strlen("claude-cli/"), 3);
}

static bool is_claude_code_prompt(const char *text)
{
    for (size_t i = 0; i < ARRAY_SIZE(claude_code_prompts); i++)
        if (ws_prefix(text, claude_code_prompts[i]))
            return true;
    return false;
}

static bool has_claude_code_system(const cJSON *body)
{
    const cJSON *system = json_get(body, "system");
    const cJSON *block;
    if (!cJSON_IsArray(system))
        return false;
    cJSON_ArrayForEach(block, system)
    {
        const char *text = json_str(block, "text", NULL);
        if (text && is_claude_code_prompt(text))
            return true;
    }
    return false;
}

static bool claude_code_messages_ok(const struct client_facts *f)
{
    struct user_id u;
    for (size_t i = 0; i < ARRAY_SIZE(claude_code_headers); i++)
        if (!hdr_set(f, claude_code_headers[i]))
            return false;
    return cJSON_IsString(json_get(f->body, "model")) && user_id_get(f->body, &u) &&
           has_claude_code_system(f->body);
}

bool client_is_real_claude_code(const struct client_facts *f)
{
    if (!ua_is_claude_cli(hdr(f, "user-agent")))
        return false;
    /* The original checks only the UA off the messages paths (models, usage,
     * event logging): those carry no prompt to judge. */
    if (!f->path || !strcasestr(f->path, "messages"))
        return true;
    return claude_code_messages_ok(f);
}

/* ---- Gemini CLI, Codex CLI, Droid ---- */

/* GeminiCLI/0.1.5 (older) or GeminiCLI-tui/0.61.0/<model> (0.61); a 'v'
 * before the version is allowed, as in the original's ^GeminiCLI/v?[\d.]+. */
static bool gemini_cli_ok(const struct client_facts *f)
{
    const char *ua = hdr(f, "user-agent");
    if (!has_prefix_ci(ua, "GeminiCLI"))
        return false;
    ua += strlen("GeminiCLI");
    if (*ua == '-') {
        const char *mode = ++ua;
        while (*ua && *ua != '/' && !is_ws(*ua))
            ua++;
        if (ua == mode)
            return false;
    }
    if (*ua++ != '/')
        return false;
    if (*ua == 'v' || *ua == 'V')
        ua++;
    return is_digit(*ua);
}

/* The programs Codex names itself as, in user-agent and originator. */
static const char *const codex_programs[] = {"codex_exec", "codex_cli_rs", "codex_vscode"};

static const char *codex_program(const char *ua)
{
    for (size_t i = 0; i < ARRAY_SIZE(codex_programs); i++) {
        size_t n = strlen(codex_programs[i]);
        if (has_prefix_ci(ua, codex_programs[i]) && ua[n] == '/' && is_digit(ua[n + 1]))
            return codex_programs[i];
    }
    return NULL;
}

/* The original's strict rule (which never ran there, spec section 14 item 10)
 * minus its body check: today's Codex sends no top-level instructions. */
static bool codex_cli_ok(const struct client_facts *f)
{
    const char *program = codex_program(hdr(f, "user-agent"));
    const char *originator = hdr(f, "originator");
    const char *session = hdr(f, "session-id");
    if (!session)
        session = hdr(f, "session_id");
    return program && originator && strcasecmp(originator, program) == 0 && session &&
           strlen(session) > CODEX_SESSION_MIN;
}

static bool droid_cli_ok(const struct client_facts *f)
{
    const char *ua = hdr(f, "user-agent");
    const char *client = hdr(f, "x-factory-client");
    const char *at = ua ? strcasestr(ua, "factory-cli/") : NULL;
    if (at && skip_version(at + strlen("factory-cli/"), 3))
        return true;
    return client && (strcasestr(client, "droid") || strcasestr(client, "factory-cli"));
}

/* ---- the table ---- */

/* The original's allow-lists (clientDefinitions.js), unchanged: so a
 * claude_code key is refused on the /api/claude/v1/messages alias, as there. */
static const char *const claude_code_paths[] = {
    "/api/v1/messages",    "/api/v1/models",
    "/api/v1/me",          "/api/v1/usage",
    "/api/v1/key-info",    "/api/v1/organizations",
    "/claude/v1/messages", "/claude/v1/models",
    "/antigravity/api/",   "/gemini-cli/api/",
    "/api/event_logging",  "/v1/messages",
    "/v1/models",          "/v1/me",
    "/v1/usage",           "/v1/key-info",
    "/v1/organizations",   NULL,
};
static const char *const gemini_cli_paths[] = {"/gemini/", NULL};
static const char *const codex_cli_paths[] = {"/openai/responses", "/openai/v1/responses",
                                              "/azure/", NULL};
static const char *const droid_cli_paths[] = {"/droid/", NULL};

struct client_def {
    const char *name;
    const char *const *paths; /* NULL-terminated prefixes */
    bool (*accepts)(const struct client_facts *f);
};

static const struct client_def client_defs[] = {
    [CLIENT_UNKNOWN] = {NULL, NULL, NULL},
    [CLIENT_CLAUDE_CODE] = {"claude_code", claude_code_paths, client_is_real_claude_code},
    [CLIENT_GEMINI_CLI] = {"gemini_cli", gemini_cli_paths, gemini_cli_ok},
    [CLIENT_CODEX_CLI] = {"codex_cli", codex_cli_paths, codex_cli_ok},
    [CLIENT_DROID_CLI] = {"droid_cli", droid_cli_paths, droid_cli_ok},
};

int client_parse(const char *name)
{
    for (size_t i = 1; name && i < ARRAY_SIZE(client_defs); i++)
        if (strcmp(name, client_defs[i].name) == 0)
            return (int)i;
    return -1;
}

const char *client_name(enum client_id id)
{
    return (size_t)id < ARRAY_SIZE(client_defs) ? client_defs[id].name : NULL;
}

static bool path_allowed(const char *const *paths, const char *path)
{
    for (size_t i = 0; paths[i]; i++)
        if (has_prefix_ci(path, paths[i]))
            return true;
    return false;
}

bool client_matches(enum client_id id, const struct client_facts *f)
{
    if (id == CLIENT_UNKNOWN || (size_t)id >= ARRAY_SIZE(client_defs))
        return false;
    const struct client_def *d = &client_defs[id];
    return path_allowed(d->paths, f->path) && d->accepts(f);
}

bool client_allowed(const enum client_id *ids, size_t n, const struct client_facts *f)
{
    for (size_t i = 0; i < n; i++)
        if (client_matches(ids[i], f))
            return true;
    return false;
}
