/*
 * usage_gemini.c - usage extraction from Gemini API answers (see usage.h):
 * usageMetadata {promptTokenCount, candidatesTokenCount,
 * cachedContentTokenCount, thoughtsTokenCount} of a generateContent body,
 * or of each chunk of a stream (SSE data or a streamed JSON array's
 * element), where the last chunk's counts are the request's.
 */
#include "compat.h"
#include "json.h"
#include "usage.h"

/* A negative or absurd count is a broken upstream: 0 (as usage.c). */
static long long tokens(const cJSON *obj, const char *name)
{
    long long v = json_int(obj, name, 0);
    return v < 0 || v > (1LL << 40) ? 0 : v;
}

/* One response (or chunk): its model and usage. Every chunk of a stream
 * reports the running totals, so the values are set, not added. Google
 * counts cached tokens inside promptTokenCount (each token is priced
 * once: the cached ones as cache reads) and thoughts outside
 * candidatesTokenCount (they are output, billed as such; reasoning shows
 * them). */
static void read_response(struct usage *u, const cJSON *resp)
{
    const char *model = json_str(resp, "modelVersion", NULL);
    if (model && *model && !u->model[0])
        snprintf(u->model, sizeof(u->model), "%s", model);
    const cJSON *m = json_get(resp, "usageMetadata");
    if (!cJSON_IsObject(m))
        return;
    long long prompt = tokens(m, "promptTokenCount");
    long long cached = tokens(m, "cachedContentTokenCount");
    long long thoughts = tokens(m, "thoughtsTokenCount");
    if (cached > prompt)
        cached = prompt;
    u->seen = true;
    u->input = prompt - cached;
    u->cache_read = cached;
    u->output = tokens(m, "candidatesTokenCount") + thoughts;
    u->reasoning = thoughts;
}

void usage_from_gemini_event(struct usage *u, const struct sse_event *ev)
{
    if (!ev->data_len || !memmem(ev->data, ev->data_len, "usageMetadata", 13))
        return; /* a chunk without counts: not parsed */
    cJSON *j = json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true);
    if (cJSON_IsObject(j))
        read_response(u, j);
    cJSON_Delete(j);
}

void usage_from_gemini_body(struct usage *u, const char *body, size_t len)
{
    cJSON *j = json_parse(body, len, JSON_MAX_DEPTH, true);
    const cJSON *it;
    const cJSON *arr = cJSON_IsArray(j) ? j : NULL; /* a streamed array read whole */
    if (cJSON_IsObject(j))
        read_response(u, j);
    cJSON_ArrayForEach(it, arr) read_response(u, it);
    cJSON_Delete(j);
}
