/*
 * gemini_envelope.h - the Gemini Code Assist envelope (crs-relay-spec 6.7):
 * Code Assist (`v1internal:generateContent` / `:streamGenerateContent`)
 * takes the standard Gemini body wrapped as {model, project,
 * user_prompt_id, request: {...}} and answers every JSON body and every
 * stream chunk as {"response": {...standard answer...}}. Pure functions,
 * shaped as the conversion slot's hooks (convert.h) so a row can carry
 * them: a standard-format client served by a Code Assist account gets the
 * inner answer.
 *
 * Unwrapping is tolerant: a standard answer never has a top-level
 * `response` (its fields are candidates, promptFeedback, usageMetadata,
 * modelVersion, responseId), so anything without the envelope passes as
 * it is, and one row serves both kinds of Gemini account.
 */
#ifndef RELAY_GEMINI_ENVELOPE_H
#define RELAY_GEMINI_ENVELOPE_H

#include <stdbool.h>

#include "buf.h"

struct cJSON;
struct sse_event;

/* The standard request in a Code Assist envelope: {model, project (left
 * out when NULL or ""), user_prompt_id, request}. request is taken; the
 * result is the caller's. */
struct cJSON *gemini_envelope_wrap(struct cJSON *request, const char *model, const char *project,
                                   const char *prompt_id);

/* The answer inside {"response": X} (X, borrowed from j), else j itself. */
const struct cJSON *gemini_envelope_unwrap(const struct cJSON *j);

/* The text form for a provider's unwrap hook (provider.h): the inner
 * answer of one JSON text (an event's data, a body) as compact JSON
 * (malloc'd, *out_len), or NULL when it has no envelope (pass it as is). */
char *gemini_envelope_unwrap_text(const char *data, size_t len, size_t *out_len);

/* Row hooks. The answer: the inner answer, a copy the caller owns (model
 * and created unused). The stream: one event in, the inner chunk out as
 * `data: <json>\n\n` (an event without the envelope re-encoded as it
 * came); 0 or -ERR_TOOBIG. The stream keeps no state (open gives NULL). */
struct cJSON *gemini_envelope_answer(const struct cJSON *up, const char *model, long long created);
int gemini_envelope_event(void *s, const struct sse_event *ev, struct buf *out)
    __attribute__((warn_unused_result));

#endif
