/*
 * clients.h - recognise which client program sent a request (API-key client
 * restriction, the original's allowedClients).
 *
 * Pure functions over facts the caller gathers: the path, a header lookup and
 * the parsed JSON body. No Redis, no allocation, no state; safe from any
 * thread. Each client has a path allow-list and a validator, as in the
 * original, but the validators match what today's clients send
 * (docs/architecture.md "Client recognition"):
 *
 *   claude_code  UA claude-cli/X.Y.Z; on a messages path also the strict
 *                check below (client_is_real_claude_code).
 *   gemini_cli   UA GeminiCLI/X or GeminiCLI-<mode>/X (0.61 says
 *                "GeminiCLI-tui/0.61.0/<model> ..."), on every /gemini/ path.
 *   codex_cli    UA codex_exec/X, codex_cli_rs/X or codex_vscode/X, an
 *                originator header naming the same program, and a session id
 *                header ("session-id" today, "session_id" before) over 20
 *                characters.
 *   droid_cli    UA containing factory-cli/X.Y.Z, or x-factory-client
 *                containing "droid" or "factory-cli".
 *
 * The path is matched case-insensitively against the allow-list, like the
 * original's lower-cased originalUrl. Restrictions are not exempted for
 * count_tokens here: the caller skips them for it (spec section 3 step 4).
 */
#ifndef RELAY_CLIENTS_H
#define RELAY_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

enum client_id {
    CLIENT_UNKNOWN = 0,
    CLIENT_CLAUDE_CODE,
    CLIENT_GEMINI_CLI,
    CLIENT_CODEX_CLI,
    CLIENT_DROID_CLI,
};

/* Case-insensitive header lookup; NULL when absent. */
typedef const char *client_header_fn(const void *ctx, const char *name);

/* Facts of one request, gathered by the caller; all borrowed. The header
 * lookup is a callback so this module needs no reqctx. */
struct client_facts {
    const char *path;         /* request path, no query */
    client_header_fn *header; /* never NULL */
    const void *ctx;          /* passed to header */
    const struct cJSON *body; /* parsed JSON body, or NULL */
};

/* The id of a key's allowedClients name ("claude_code", "gemini_cli",
 * "codex_cli", "droid_cli"; case-sensitive, as stored), or -1 when unknown. */
int client_parse(const char *name);
/* The stored name of id (static), or NULL for CLIENT_UNKNOWN and out of range. */
const char *client_name(enum client_id id);

/* True when the request comes from client id: its path starts with one of the
 * client's allowed prefixes and the client's validator accepts it. False for
 * an unknown id. */
bool client_matches(enum client_id id, const struct client_facts *f);
/* True when any of the n ids matches (the key's allowedClients); unknown ids
 * are skipped. False when n is 0: the caller decides what "no list" means. */
bool client_allowed(const enum client_id *ids, size_t n, const struct client_facts *f);

/* The strict "this is really Claude Code" check (spec section 3 step 6, for a
 * key restricted to claude_code alone; section 6.1). No path allow-list.
 * Always: a user-agent claude-cli/X.Y.Z. On a path containing "messages" also:
 * non-empty x-app, anthropic-beta and anthropic-version headers; body.model a
 * string; a valid metadata.user_id (see client_session_id); and body.system an
 * array of which at least one text block begins with one of Claude Code's own
 * system-prompt prefixes ("You are Claude Code, Anthropic's official CLI for
 * Claude." for the TUI, its "..., running within the Claude Agent SDK." form,
 * and "You are a Claude agent, built on Anthropic's Claude Agent SDK." that
 * today's -p mode sends in system[1] after the x-anthropic-billing-header
 * line). Runs of whitespace count as one space on both sides.
 *
 * Differs from the original, which scored every block by Dice (bigram)
 * similarity against ~30 templates: here it is an exact prefix match after
 * that normalisation, at least one block, and only the identity openings
 * count. Other blocks (the billing header, the long instructions, a user's
 * appended prompt) are allowed but prove nothing: any client can copy a
 * billing line, and an upstream accepts Claude Code credentials only with an
 * identity opening. */
bool client_is_real_claude_code(const struct client_facts *f);

/* The session uuid in the body's metadata.user_id, for sticky sessions (spec
 * section 4.1). Accepted forms: the JSON string today's Claude Code sends,
 * {"device_id":"<64 hex>","account_uuid":"<uuid or empty>","session_id":"<uuid>"}
 * (other members ignored), and the older
 * "user_<64 hex>_account_<uuid or empty>_session_<uuid>". Copies the 36-char
 * uuid as sent plus a NUL into out (len >= 37). Returns 0, -ERR_NOTFOUND when
 * there is no valid user_id, -ERR_TOOBIG when len is too small; out is written
 * only on success. */
int client_session_id(const struct client_facts *f, char *out, size_t len)
    __attribute__((warn_unused_result));

#endif
