/*
 * session_hash.h - the sticky-session key of an Anthropic Messages request
 * (crs-relay-spec 4.1), as the original computes it:
 *
 *   1. the session uuid of metadata.user_id (client_session_id), verbatim;
 *   2. else the text of the system parts marked cache_control ephemeral,
 *      plus - when a message carries an ephemeral cache_control (a content
 *      part, or a string content with a message-level one) - the text of the
 *      first message that has text; sha256, first 32 hex characters;
 *   3. else the system text (a string, or every part's text);
 *   4. else the first message's text (a string, or its text parts);
 *   5. else none: the request is not sticky.
 *
 * Pure: no Redis, no state; safe from any thread.
 */
#ifndef RELAY_SESSION_HASH_H
#define RELAY_SESSION_HASH_H

#include <stddef.h>

struct client_facts;

#define SESSION_HASH_MAX 65

/* The session hash into out (len >= SESSION_HASH_MAX). 0, or -ERR_NOTFOUND
 * when the request has none; out is written only on success. */
int session_hash(const struct client_facts *f, char *out, size_t len)
    __attribute__((warn_unused_result));

/* The session hash of an OpenAI (Responses) request, as the original:
 * sha256 (first 32 hex characters) of the first present of the headers
 * session_id, session-id (Codex CLI 0.169 sends this one), x-session-id,
 * then the body's session_id, conversation_id, prompt_cache_key (Codex sends
 * its session uuid there too). -ERR_NOTFOUND when none is present. */
int session_hash_openai(const struct client_facts *f, char *out, size_t len)
    __attribute__((warn_unused_result));

#endif
