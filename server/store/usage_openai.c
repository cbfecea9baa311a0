/*
 * usage_openai.c - usage extraction from OpenAI Responses answers (see
 * usage.h): the response object's usage {input_tokens, output_tokens,
 * input_tokens_details.cached_tokens, output_tokens_details.reasoning_tokens},
 * in the JSON body or in the stream's closing response.completed event.
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

/* One response object: its model and usage. A response reports its usage
 * once, at its end, so the values are set, not added. */
static void read_response(struct usage *u, const cJSON *resp)
{
    const char *model = json_str(resp, "model", NULL);
    if (model && *model && !u->model[0])
        snprintf(u->model, sizeof(u->model), "%s", model);
    const cJSON *us = json_get(resp, "usage");
    if (!cJSON_IsObject(us))
        return;
    long long in = tokens(us, "input_tokens");
    long long cached = tokens(json_get(us, "input_tokens_details"), "cached_tokens");
    if (cached > in) /* cached tokens are part of the input: never more */
        cached = in;
    u->seen = true;
    u->input = in - cached;
    u->cache_read = cached;
    u->output = tokens(us, "output_tokens");
    u->reasoning = tokens(json_get(us, "output_tokens_details"), "reasoning_tokens");
}

static bool is_final(const char *type)
{
    return strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0 ||
           strcmp(type, "response.failed") == 0;
}

void usage_from_responses_event(struct usage *u, const struct sse_event *ev)
{
    if (ev->event[0] ? !is_final(ev->event)
                     : !strstr(ev->data, "\"response.completed\"") &&
                           !strstr(ev->data, "\"response.incomplete\""))
        return; /* the deltas: not parsed */
    cJSON *j = json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true);
    if (j && is_final(json_str(j, "type", "")))
        read_response(u, json_get(j, "response"));
    cJSON_Delete(j);
}

void usage_from_responses_body(struct usage *u, const char *body, size_t len)
{
    cJSON *j = json_parse(body, len, JSON_MAX_DEPTH, true);
    if (cJSON_IsObject(j))
        read_response(u, j);
    cJSON_Delete(j);
}
