/*
 * chat_responses.h - OpenAI chat completions <-> OpenAI Responses (crs-relay-spec
 * 10.2: chat requests for gpt-* models served by Responses upstreams), pure.
 *
 * Request: messages become input items (system and developer messages
 * developer items, text and images input parts, assistant text output
 * parts, tool calls function_call items, tool results function_call_output
 * items), tools flattened, max tokens, reasoning effort, response_format as
 * text.format. Response: output messages and function calls back into a
 * chat completion; the Responses event stream into chat chunks.
 *
 * Dropped or approximated (docs/architecture.md "Format conversion"): stop
 * (Responses has none), logprobs, logit_bias, seed, penalties and audio are
 * dropped; n > 1 is refused; reasoning items are not returned; `store` is
 * always false.
 */
#ifndef RELAY_CHAT_RESPONSES_H
#define RELAY_CHAT_RESPONSES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct cJSON;
struct sse_event;

/* The Responses body for the chat body. 0, or -ERR_INVAL with err naming the
 * offending field; *out is the caller's. */
int chat_to_responses(const struct cJSON *chat, struct cJSON **out, char *err, size_t len)
    __attribute__((warn_unused_result));

/* The chat completion for a complete Responses object; the caller owns it. */
struct cJSON *responses_to_chat(const struct cJSON *resp, const char *model, long long created);

/* Responses events in, chat chunks out (as chat_claude.h's stream). */
struct chat_rstream;
struct chat_rstream *chat_rstream_new(const char *model, long long created, bool include_usage);
int chat_rstream_event(struct chat_rstream *s, const struct sse_event *ev, struct buf *out)
    __attribute__((warn_unused_result));
bool chat_rstream_done(const struct chat_rstream *s);
void chat_rstream_free(struct chat_rstream *s);

#endif
