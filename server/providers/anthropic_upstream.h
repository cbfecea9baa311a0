/*
 * anthropic_upstream.h - what every Anthropic-compatible upstream shares
 * (Claude Console keys, Claude OAuth accounts): how its answers
 * are judged (crs-relay-spec 5.1, 5.4) and which of its response headers a
 * client may see. Pure functions; the TTLs come from the configuration.
 */
#ifndef RELAY_ANTHROPIC_UPSTREAM_H
#define RELAY_ANTHROPIC_UPSTREAM_H

#include <stdbool.h>

#include "provider.h"

/* Judge an answer: 2xx ok; 429 rate-limited until the upstream's reset
 * (anthropic-ratelimit-unified-reset, then retry-after, else the configured
 * TTL); 529 overloaded; 401 unauthorized and 403 blocked (until an admin
 * reset); other 5xx, connect failures and timeouts before the first byte a
 * temporary error; every other status is the client's own error. */
void anthropic_classify(const struct judge *j, const struct upstream_answer *ans,
                        struct verdict *v);
/* The first of phrases (NULL-terminated) the answer's body contains,
 * case-insensitive, or NULL. */
const char *anthropic_body_mentions(const struct upstream_answer *ans, const char *const *phrases);
/* Copy the client's headers an Anthropic upstream may see (hdrfilter_claude,
 * minus those its Connection header names) into out, except the names in
 * skip (NULL-terminated, case-insensitive; may be NULL). */
void anthropic_copy_client_headers(const struct reqctx *rq, struct upstream_req *out,
                                   const char *const *skip);
/* Response headers passed to the client. */
bool anthropic_keep_header(const char *name);
/* When the upstream says the limit resets, in wall-clock ms; 0 when it does
 * not say. retry-after is capped at max_custom_s. */
long long anthropic_reset_ms(const struct upstream_answer *ans, long long max_custom_s);

#endif
