/* chat_out.c - OpenAI chat completion answers and chunks (see chat_out.h). */
#include "compat.h"
#include "chat_out.h"
#include "json.h"
#include "xmalloc.h"

void chat_out_init(struct chat_out *o, const char *id, const char *model, long long created)
{
    snprintf(o->id, sizeof(o->id), "%s", id ? id : "");
    snprintf(o->model, sizeof(o->model), "%s", model ? model : "");
    o->created = created;
}

cJSON *chat_out_envelope(const struct chat_out *o, bool chunk)
{
    cJSON *e = cJSON_CreateObject();
    char *cid = xasprintf("chatcmpl-%s", o->id);
    cJSON_AddStringToObject(e, "id", cid);
    free(cid);
    cJSON_AddStringToObject(e, "object", chunk ? "chat.completion.chunk" : "chat.completion");
    cJSON_AddNumberToObject(e, "created", (double)o->created);
    cJSON_AddStringToObject(e, "model", o->model);
    return e;
}

cJSON *chat_out_usage(long long prompt, long long completion, long long cached, long long reasoning)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt + completion));
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "prompt_tokens_details"), "cached_tokens",
                            (double)cached);
    if (reasoning > 0)
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "completion_tokens_details"),
                                "reasoning_tokens", (double)reasoning);
    return u;
}

cJSON *chat_out_tool_call(int index, const char *id, const char *name, const char *args)
{
    cJSON *tc = cJSON_CreateObject();
    if (index >= 0)
        cJSON_AddNumberToObject(tc, "index", index);
    if (id) {
        cJSON_AddStringToObject(tc, "id", id);
        cJSON_AddStringToObject(tc, "type", "function");
    }
    cJSON *fn = cJSON_AddObjectToObject(tc, "function");
    if (name)
        cJSON_AddStringToObject(fn, "name", name);
    cJSON_AddStringToObject(fn, "arguments", args ? args : "");
    return tc;
}

cJSON *chat_out_completion(const struct chat_out *o, const char *text, cJSON *calls,
                           const char *finish, cJSON *usage)
{
    cJSON *e = chat_out_envelope(o, false), *choice = cJSON_CreateObject();
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON *m = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    bool tools = cJSON_GetArraySize(calls) > 0;
    if (*text || !tools)
        cJSON_AddStringToObject(m, "content", text);
    else
        cJSON_AddNullToObject(m, "content");
    if (tools)
        cJSON_AddItemToObject(m, "tool_calls", calls);
    else
        cJSON_Delete(calls);
    cJSON_AddStringToObject(choice, "finish_reason", finish);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "choices"), choice);
    cJSON_AddItemToObject(e, "usage", usage);
    return e;
}

static int emit(struct buf *out, cJSON *frame)
{
    char *text = json_print(frame);
    cJSON_Delete(frame);
    int rc = buf_printf(out, "data: %s\n\n", text);
    free(text);
    return rc;
}

int chat_out_delta(const struct chat_out *o, cJSON *delta, const char *finish, struct buf *out)
{
    cJSON *e = chat_out_envelope(o, true);
    cJSON *choice = cJSON_CreateObject();
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON_AddItemToObject(choice, "delta", delta);
    if (finish)
        cJSON_AddStringToObject(choice, "finish_reason", finish);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "choices"), choice);
    return emit(out, e);
}

int chat_out_tool_delta(const struct chat_out *o, cJSON *call, struct buf *out)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(d, "tool_calls"), call);
    return chat_out_delta(o, d, NULL, out);
}

int chat_out_usage_chunk(const struct chat_out *o, cJSON *usage, struct buf *out)
{
    cJSON *e = chat_out_envelope(o, true);
    cJSON_AddArrayToObject(e, "choices");
    cJSON_AddItemToObject(e, "usage", usage);
    return emit(out, e);
}

int chat_out_done(struct buf *out)
{
    return buf_printf(out, "data: [DONE]\n\n");
}

int chat_out_error(const char *message, const char *type, struct buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", message ? message : "upstream error");
    cJSON_AddStringToObject(e, "type", type ? type : "api_error");
    cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    return emit(out, o);
}
