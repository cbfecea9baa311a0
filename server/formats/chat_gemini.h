/*
 * chat_gemini.h - OpenAI chat completions <-> the Gemini API
 * (generateContent / streamGenerateContent; crs-relay-spec 10.2, the
 * `gemini-` branch), pure: no I/O, no state but the stream filter's own.
 *
 * Request: system and developer messages become `systemInstruction`, user
 * and assistant turns `contents` (roles user / model), assistant tool calls
 * `functionCall` parts, tool messages `functionResponse` parts (the name
 * found through tool_call_id), data-URL images `inlineData`; tools become
 * `functionDeclarations` (parametersJsonSchema), tool_choice
 * `toolConfig.functionCallingConfig`, and max tokens, temperature, top_p,
 * stop, seed, penalties, reasoning_effort and response_format go to
 * `generationConfig`. The model travels in the URL and the stream in the
 * endpoint, so neither is in the body.
 * Response: a Gemini answer (or a Code Assist one, `{"response": ...}`:
 * unwrapped, gemini_envelope.h) becomes a chat completion; a Gemini SSE
 * stream becomes chat chunks, fed event by event. Pure but for one thing:
 * an answer without a responseId gets a random id (its tool call ids are
 * built on it, and a client sends them back).
 *
 * Dropped or approximated: docs/architecture.md "Format conversion".
 */
#ifndef RELAY_CHAT_GEMINI_H
#define RELAY_CHAT_GEMINI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct cJSON;
struct sse_event;

/* The Gemini request body for the chat body. 0, or -ERR_INVAL with err
 * naming the offending field; *out is the caller's (cJSON_Delete). */
int chat_to_gemini(const struct cJSON *chat, struct cJSON **out, char *err, size_t len)
    __attribute__((warn_unused_result));

/* The chat completion for a complete Gemini answer (enveloped or not); the
 * caller owns it. */
struct cJSON *gemini_to_chat(const struct cJSON *answer, const char *model, long long created);

/* The finish_reason for a Gemini finishReason; STOP with tool calls is
 * "tool_calls", unknown reasons "stop". */
const char *gemini_finish_reason(const char *reason, bool tools);

/* Gemini SSE chunks in, chat completion chunks out (as chat_claude.h's
 * stream): the role first, text deltas, each functionCall as one whole
 * tool call delta, then at the chunk with a finishReason the finish, the
 * usage chunk (include_usage) and [DONE]. An error chunk becomes the
 * chat stream's error frame. */
struct chat_gstream;
struct chat_gstream *chat_gstream_new(const char *model, long long created, bool include_usage);
int chat_gstream_event(struct chat_gstream *s, const struct sse_event *ev, struct buf *out)
    __attribute__((warn_unused_result));
/* True once a finishReason or an error was seen. */
bool chat_gstream_done(const struct chat_gstream *s);
void chat_gstream_free(struct chat_gstream *s);

#endif
