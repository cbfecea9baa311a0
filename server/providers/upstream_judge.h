/*
 * upstream_judge.h - what every HTTP upstream's judge shares, whatever API
 * it speaks (Anthropic, OpenAI, ...): the status → account-state rules
 * (crs-relay-spec 5.1), retry-after parsing, a bounded look into an error
 * body, and copying the client's allowed headers. Each provider adds its
 * own reset headers and quirks on top. Pure functions; the TTLs come from
 * the configuration.
 */
#ifndef RELAY_UPSTREAM_JUDGE_H
#define RELAY_UPSTREAM_JUDGE_H

#include <stdbool.h>

#include "provider.h"

/* Judge an answer: 2xx ok; 429 rate-limited until reset_ms (0: the
 * configured TTL); 529 overloaded; 401 unauthorized and 403 blocked (until
 * an admin reset); other 5xx, connect failures and timeouts before the
 * first byte a temporary error; every other status is the client's own
 * error. The reason is "<status>[: <error.message>]" (both APIs put the
 * message there). v is overwritten. */
void judge_answer(const struct judge *j, const struct upstream_answer *ans, long long reset_ms,
                  struct verdict *v);
/* judge_answer for an account type with a rateLimitDuration field
 * (minutes): a 429 ends at upstream_ms (the upstream's own word, in
 * wall-clock ms; 0: none), else after rateLimitDuration, else the relay's
 * TTL; rateLimitDuration 0 never marks (the request moves on, the account
 * stays active). */
void judge_answer_limited(const struct judge *j, const struct upstream_answer *ans,
                          long long upstream_ms, struct verdict *v);
/* True when s is a non-empty run of decimal digits (a header's seconds). */
bool judge_all_digits(const char *s);
/* When retry-after (delta-seconds or an HTTP date) says to come back, in
 * wall-clock ms, capped at max_custom_s from now; 0 when it does not say. */
long long judge_retry_after_ms(const struct upstream_answer *ans, long long max_custom_s);
/* When an OpenAI-style error body says the limit ends (the Codex backend
 * and compatible upstreams: error.resets_in_seconds, else error.resets_at
 * in epoch seconds), in wall-clock ms; 0 when it does not say or names a
 * time more than a week away. */
long long judge_body_reset_ms(const struct upstream_answer *ans);
/* The same from an error object already parsed (NULL: 0). */
long long judge_error_reset_ms(const struct cJSON *error, long long now_ms);
/* The first of phrases (NULL-terminated) the answer's body contains,
 * case-insensitive, or NULL. */
const char *judge_body_mentions(const struct upstream_answer *ans, const char *const *phrases);
/* The response headers of an OpenAI-style upstream a client may see:
 * content-type, x-request-id, retry-after, openai-*, x-ratelimit-*. */
bool judge_keep_openai_header(const char *name);
/* Copy the client's headers that allow() accepts (minus those its
 * Connection header names, and the names in skip: NULL-terminated,
 * case-insensitive, may be NULL) into out. */
void judge_copy_client_headers(const struct reqctx *rq, struct upstream_req *out,
                               bool (*allow)(const char *name), const char *const *skip);

#endif
