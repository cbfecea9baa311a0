/*
 * chat_claude.h - OpenAI chat completions <-> Claude Messages (crs-relay-spec
 * 10.1), pure: no I/O, no state but the stream filter's own.
 *
 * Request: an OpenAI chat body becomes a Claude Messages body (system and
 * developer messages joined into `system`, text and image parts, tool
 * definitions, tool calls and tool results, stop sequences, tool choice).
 * Response: a complete Claude message becomes a chat completion; a Claude
 * event stream becomes chat completion chunks, fed event by event.
 *
 * Dropped or approximated (docs/architecture.md "Format conversion"):
 * response_format, logprobs, logit_bias, seed, presence/frequency
 * penalties, reasoning_effort and audio are dropped; n > 1 is refused;
 * temperature above 1 is clamped to 1 (Claude's range); a missing
 * max_tokens becomes CHAT_DEFAULT_MAX_TOKENS; system messages lose their
 * position (they all go to `system`, in order); thinking blocks are not
 * returned.
 */
#ifndef RELAY_CHAT_CLAUDE_H
#define RELAY_CHAT_CLAUDE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct cJSON;
struct sse_event;

#define CHAT_DEFAULT_MAX_TOKENS 4096

/* The Claude Messages body for the chat body (the model copied as is). 0,
 * or -ERR_INVAL with err naming the offending field ("messages[2].role
 * ..."); *out is the caller's (cJSON_Delete). */
int chat_to_claude(const struct cJSON *chat, struct cJSON **out, char *err, size_t len)
    __attribute__((warn_unused_result));

/* The chat completion for a complete Claude message; the caller owns it. */
struct cJSON *claude_to_chat(const struct cJSON *msg, const char *model, long long created);

/* The finish_reason for a Claude stop_reason ("stop" for unknown ones). */
const char *chat_finish_reason(const char *stop_reason);

/* Claude's event stream in, chat completion chunks out. */
struct chat_stream;
struct chat_stream *chat_stream_new(const char *model, long long created, bool include_usage);
/* One Claude event: append what the client gets (SSE "data:" frames, the
 * final "data: [DONE]" after message_stop) to out. 0, or -ERR_TOOBIG when
 * out is full. */
int chat_stream_event(struct chat_stream *s, const struct sse_event *ev, struct buf *out)
    __attribute__((warn_unused_result));
/* True once the stream ended (message_stop or an error was relayed). */
bool chat_stream_done(const struct chat_stream *s);
void chat_stream_free(struct chat_stream *s);

#endif
