/*
 * usage_gemini.c - usage extraction from Gemini answers (see usage.h):
 * usageMetadata {promptTokenCount, candidatesTokenCount,
 * cachedContentTokenCount, thoughtsTokenCount} of a response, bare (the
 * standard API) or inside Code Assist's {"response":{...}} envelope. Each
 * streamed chunk carries the running totals, so values are set, not added.
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

static void read_response(struct usage *u, const cJSON *resp)
{
    const cJSON *inner = json_get(resp, "response");
    if (cJSON_IsObject(inner)) /* Code Assist's envelope */
        resp = inner;
    const char *model = json_str(resp, "modelVersion", NULL);
    if (model && *model && !u->model[0])
        snprintf(u->model, sizeof(u->model), "%s", model);
    const cJSON *m = json_get(resp, "usageMetadata");
    if (!cJSON_IsObject(m))
        return;
    long long prompt = tokens(m, "promptTokenCount");
    long long cached = tokens(m, "cachedContentTokenCount");
    if (cached > prompt) /* cached tokens are part of the prompt: never more */
        cached = prompt;
    long long thoughts = tokens(m, "thoughtsTokenCount");
    u->seen = true;
    u->input = prompt - cached;
    u->cache_read = cached;
    u->output = tokens(m, "candidatesTokenCount") + thoughts;
    u->reasoning = thoughts;
}

void usage_from_gemini_event(struct usage *u, const struct sse_event *ev)
{
    /* data_len, not strstr: a streamed JSON array's element is not NUL-terminated */
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
    if (cJSON_IsArray(j)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, j) read_response(u, it);
    } else if (cJSON_IsObject(j)) {
        read_response(u, j);
    }
    cJSON_Delete(j);
}
