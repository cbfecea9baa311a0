/* gemini_api.h - the gemini-api provider's URL rule, for its tests. */
#ifndef RELAY_GEMINI_API_H
#define RELAY_GEMINI_API_H

#include <stdbool.h>

/* The upstream URL of a call (crs-relay-spec 6.7, see gemini_api.c): base a
 * template with {model} / {action}, or ending in /models, or any other base;
 * endpoint "generateContent", "streamGenerateContent" or "count_tokens"
 * (countTokens upstream); sse adds alt=sse. Caller frees. */
char *gemini_api_url(const char *base, const char *model, const char *endpoint, bool sse);

#endif
