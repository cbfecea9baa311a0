/*
 * chat_responses.c - OpenAI chat completions <-> Responses (see
 * chat_responses.h). The chat side's shapes come from chat_out.
 */
#include "compat.h"
#include "chat_in.h"
#include "chat_out.h"
#include "chat_responses.h"
#include "errs.h"
#include "json.h"
#include "sse.h"
#include "xmalloc.h"

#include <stdarg.h>

/* ---- request: chat -> Responses ---- */

struct rconv {
    cJSON *input;
    char *err;
    size_t errlen;
};

#define fail(c, ...) chat_in_fail((c)->err, (c)->errlen, __VA_ARGS__)

static cJSON *part(const char *type, const char *key, const char *value)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", type);
    cJSON_AddStringToObject(p, key, value);
    return p;
}

static cJSON *message_item(const char *role)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddArrayToObject(m, "content");
    return m;
}

/* The parts of one chat content (string or array) into item's content:
 * text as text_type, images as input_image (user messages only). */
static int add_parts(struct rconv *c, cJSON *item, const cJSON *content, const char *text_type,
                     bool images, int i)
{
    cJSON *arr = cJSON_GetObjectItem(item, "content");
    if (cJSON_IsString(content)) {
        cJSON_AddItemToArray(arr, part(text_type, "text", content->valuestring));
        return 0;
    }
    if (!content || cJSON_IsNull(content))
        return 0;
    if (!cJSON_IsArray(content))
        return fail(c, "messages[%d].content must be a string or an array of parts", i);
    int k = 0;
    for (const cJSON *p = content->child; p; p = p->next, k++) {
        const char *type = json_str(p, "type", "");
        const cJSON *iu = json_get(p, "image_url");
        const char *url = cJSON_IsString(iu) ? iu->valuestring : json_str(iu, "url", "");
        if (strcmp(type, "text") == 0)
            cJSON_AddItemToArray(arr, part(text_type, "text", json_str(p, "text", "")));
        else if (images && strcmp(type, "image_url") == 0 && *url)
            cJSON_AddItemToArray(arr, part("input_image", "image_url", url));
        else
            return fail(c, "messages[%d].content[%d].type '%.40s' is not supported here", i, k,
                        type);
    }
    return 0;
}

static int add_function_calls(struct rconv *c, const cJSON *calls, int i)
{
    int k = 0;
    for (const cJSON *tc = calls ? calls->child : NULL; tc; tc = tc->next, k++) {
        const cJSON *fn = json_get(tc, "function");
        if (!*json_str(tc, "id", "") || !*json_str(fn, "name", ""))
            return fail(c, "messages[%d].tool_calls[%d] needs an id and a function name", i, k);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "type", "function_call");
        cJSON_AddStringToObject(f, "call_id", json_str(tc, "id", ""));
        cJSON_AddStringToObject(f, "name", json_str(fn, "name", ""));
        cJSON_AddStringToObject(f, "arguments", json_str(fn, "arguments", "{}"));
        cJSON_AddItemToArray(c->input, f);
    }
    return 0;
}

static int add_function_output(struct rconv *c, const cJSON *m, int i)
{
    const char *id = json_str(m, "tool_call_id", "");
    if (!*id)
        return fail(c, "messages[%d].tool_call_id is required for a tool message", i);
    struct buf text;
    buf_init(&text, 16u << 20);
    const cJSON *content = json_get(m, "content");
    if (cJSON_IsString(content) && buf_printf(&text, "%s", content->valuestring) != 0)
        return fail(c, "messages[%d].content is too long", i);
    for (const cJSON *p = cJSON_IsArray(content) ? content->child : NULL; p; p = p->next)
        if (buf_printf(&text, "%s", json_str(p, "text", "")) != 0)
            break;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "function_call_output");
    cJSON_AddStringToObject(o, "call_id", id);
    cJSON_AddStringToObject(o, "output", text.data ? text.data : "");
    buf_release(&text);
    cJSON_AddItemToArray(c->input, o);
    return 0;
}

/* One chat message as input items (a message item, and function calls). */
static int add_item(struct rconv *c, const cJSON *m, int i)
{
    const char *role = json_str(m, "role", "");
    const cJSON *content = json_get(m, "content");
    if (strcmp(role, "tool") == 0)
        return add_function_output(c, m, i);
    bool system = strcmp(role, "system") == 0 || strcmp(role, "developer") == 0;
    bool user = strcmp(role, "user") == 0, assistant = strcmp(role, "assistant") == 0;
    if (!system && !user && !assistant)
        return fail(c,
                    "messages[%d].role '%.20s' is not supported (system, developer, user, "
                    "assistant, tool)",
                    i, role);
    cJSON *item = message_item(system ? "developer" : role);
    int rc = add_parts(c, item, content, assistant ? "output_text" : "input_text", user, i);
    if (rc == 0 && cJSON_GetArraySize(cJSON_GetObjectItem(item, "content")))
        cJSON_AddItemToArray(c->input, item);
    else
        cJSON_Delete(item);
    return rc ? rc : assistant ? add_function_calls(c, json_get(m, "tool_calls"), i) : 0;
}

static int convert_input(struct rconv *c, const cJSON *msgs)
{
    if (!cJSON_IsArray(msgs) || !msgs->child)
        return fail(c, "messages must be a non-empty array");
    int i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        int rc =
            cJSON_IsObject(m) ? add_item(c, m, i) : fail(c, "messages[%d] must be an object", i);
        if (rc)
            return rc;
    }
    return 0;
}

static cJSON *tool_def(const struct chat_tool *t)
{
    cJSON *rt = cJSON_CreateObject();
    cJSON_AddStringToObject(rt, "type", "function");
    cJSON_AddStringToObject(rt, "name", t->name);
    if (*t->description)
        cJSON_AddStringToObject(rt, "description", t->description);
    if (t->parameters)
        cJSON_AddItemToObject(rt, "parameters", cJSON_Duplicate(t->parameters, true));
    if (t->strict)
        cJSON_AddBoolToObject(rt, "strict", cJSON_IsTrue(t->strict));
    return rt;
}

static int convert_tools(struct rconv *c, const cJSON *chat, cJSON *out)
{
    cJSON *arr = NULL;
    int rc = chat_in_tools(chat, tool_def, &arr, c->err, c->errlen);
    if (arr)
        cJSON_AddItemToObject(out, "tools", arr);
    return rc;
}

/* tool_choice by chat_in's enum (CHOICE_NAMED: {type: function, name}). */
static const char *const responses_choice[] = {
    [CHOICE_AUTO] = "auto", [CHOICE_NONE] = "none", [CHOICE_REQUIRED] = "required"};

static int convert_tool_choice(struct rconv *c, const cJSON *chat, cJSON *out)
{
    enum chat_choice which;
    const char *name;
    int rc = chat_in_tool_choice(chat, &which, &name, c->err, c->errlen);
    if (rc == 0 && which == CHOICE_NAMED) {
        cJSON *o = cJSON_AddObjectToObject(out, "tool_choice");
        cJSON_AddStringToObject(o, "type", "function");
        cJSON_AddStringToObject(o, "name", name);
    } else if (rc == 0 && which != CHOICE_UNSET) {
        cJSON_AddStringToObject(out, "tool_choice", responses_choice[which]);
    }
    const cJSON *ptc = json_get(chat, "parallel_tool_calls");
    if (rc == 0 && cJSON_IsBool(ptc))
        cJSON_AddBoolToObject(out, "parallel_tool_calls", cJSON_IsTrue(ptc));
    return rc;
}

/* response_format -> text.format (json_object, or json_schema flattened). */
static void convert_format(const cJSON *chat, cJSON *out)
{
    const cJSON *rf = json_get(chat, "response_format");
    const char *type = json_str(rf, "type", "");
    if (strcmp(type, "json_object") != 0 && strcmp(type, "json_schema") != 0)
        return;
    cJSON *f = cJSON_AddObjectToObject(cJSON_AddObjectToObject(out, "text"), "format");
    cJSON_AddStringToObject(f, "type", type);
    const cJSON *js = json_get(rf, "json_schema");
    for (const cJSON *m = cJSON_IsObject(js) ? js->child : NULL; m; m = m->next)
        cJSON_AddItemToObject(f, m->string, cJSON_Duplicate(m, true));
}

static void convert_scalars(const cJSON *chat, cJSON *out)
{
    cJSON_AddStringToObject(out, "model", json_str(chat, "model", ""));
    long long max = json_int(chat, "max_completion_tokens", json_int(chat, "max_tokens", 0));
    if (max > 0)
        cJSON_AddNumberToObject(out, "max_output_tokens", (double)max);
    static const char *const numbers[] = {"temperature", "top_p"};
    for (size_t i = 0; i < ARRAY_SIZE(numbers); i++)
        if (cJSON_IsNumber(json_get(chat, numbers[i])))
            cJSON_AddNumberToObject(out, numbers[i], json_get(chat, numbers[i])->valuedouble);
    if (*json_str(chat, "reasoning_effort", ""))
        cJSON_AddStringToObject(cJSON_AddObjectToObject(out, "reasoning"), "effort",
                                json_str(chat, "reasoning_effort", ""));
    if (*json_str(chat, "user", ""))
        cJSON_AddStringToObject(out, "user", json_str(chat, "user", ""));
    cJSON_AddBoolToObject(out, "stream", cJSON_IsTrue(json_get(chat, "stream")));
    cJSON_AddBoolToObject(out, "store", false);
}

int chat_to_responses(const cJSON *chat, cJSON **out, char *err, size_t len)
{
    struct rconv c = {cJSON_CreateArray(), err, len};
    cJSON *o = cJSON_CreateObject();
    *out = NULL;
    int rc = !cJSON_IsObject(chat) ? fail(&c, "the body must be a JSON object")
                                   : chat_in_one_choice(chat, err, len);
    if (rc == 0)
        rc = convert_input(&c, json_get(chat, "messages"));
    if (rc == 0)
        rc = convert_tools(&c, chat, o);
    if (rc == 0)
        rc = convert_tool_choice(&c, chat, o);
    if (rc == 0) {
        convert_scalars(chat, o);
        convert_format(chat, o);
        cJSON_AddItemToObject(o, "input", c.input);
        *out = o;
        return 0;
    }
    cJSON_Delete(o);
    cJSON_Delete(c.input);
    return rc;
}

/* ---- response: Responses -> chat ---- */

static cJSON *usage_of(const cJSON *u)
{
    return chat_out_usage(json_int(u, "input_tokens", 0), json_int(u, "output_tokens", 0),
                          json_int(json_get(u, "input_tokens_details"), "cached_tokens", 0),
                          json_int(json_get(u, "output_tokens_details"), "reasoning_tokens", 0));
}

/* completed → stop (tool_calls when it called one); incomplete → why. */
static const char *finish_of(const cJSON *resp, bool tools)
{
    const char *why = json_str(json_get(resp, "incomplete_details"), "reason", "");
    if (strcmp(json_str(resp, "status", ""), "incomplete") == 0)
        return strcmp(why, "content_filter") == 0 ? "content_filter" : "length";
    return tools ? "tool_calls" : "stop";
}

static void add_output_text(struct buf *text, const cJSON *item)
{
    const cJSON *content = json_get(item, "content");
    for (const cJSON *p = content ? content->child : NULL; p; p = p->next) {
        const char *t = json_str(p, "text", "");
        if (strcmp(json_str(p, "type", ""), "output_text") == 0 &&
            buf_append(text, t, strlen(t)) != 0)
            return;
    }
}

cJSON *responses_to_chat(const cJSON *resp, const char *model, long long created)
{
    struct chat_out id = {0};
    chat_out_init(&id, json_str(resp, "id", ""), model, created);
    struct buf text;
    buf_init(&text, 64u << 20);
    cJSON *calls = cJSON_CreateArray();
    const cJSON *output = json_get(resp, "output");
    for (const cJSON *it = output ? output->child : NULL; it; it = it->next) {
        const char *type = json_str(it, "type", "");
        if (strcmp(type, "message") == 0)
            add_output_text(&text, it);
        else if (strcmp(type, "function_call") == 0)
            cJSON_AddItemToArray(calls, chat_out_tool_call(-1, json_str(it, "call_id", ""),
                                                           json_str(it, "name", ""),
                                                           json_str(it, "arguments", "{}")));
    }
    const char *finish = finish_of(resp, cJSON_GetArraySize(calls) > 0);
    cJSON *o = chat_out_completion(&id, text.data ? text.data : "", calls, finish,
                                   usage_of(json_get(resp, "usage")));
    buf_release(&text);
    return o;
}

/* ---- stream: Responses events -> chat chunks ---- */

struct chat_rstream {
    struct chat_out id;
    bool include_usage;
    bool done;
    int tools;         /* function calls started */
    int item_tool[64]; /* output index -> tool call index + 1 (0: not a call) */
};

struct chat_rstream *chat_rstream_new(const char *model, long long created, bool include_usage)
{
    struct chat_rstream *s = xcalloc(1, sizeof(*s));
    chat_out_init(&s->id, "", model, created);
    s->include_usage = include_usage;
    return s;
}

void chat_rstream_free(struct chat_rstream *s)
{
    free(s);
}

bool chat_rstream_done(const struct chat_rstream *s)
{
    return s->done;
}

static int on_created(struct chat_rstream *s, const cJSON *ev, struct buf *out)
{
    snprintf(s->id.id, sizeof(s->id.id), "%s", json_str(json_get(ev, "response"), "id", ""));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "role", "assistant");
    cJSON_AddStringToObject(d, "content", "");
    return chat_out_delta(&s->id, d, NULL, out);
}

static int on_text_delta(struct chat_rstream *s, const cJSON *ev, struct buf *out)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "content", json_str(ev, "delta", ""));
    return chat_out_delta(&s->id, d, NULL, out);
}

static int on_item_added(struct chat_rstream *s, const cJSON *ev, struct buf *out)
{
    const cJSON *item = json_get(ev, "item");
    long long idx = json_int(ev, "output_index", -1);
    if (strcmp(json_str(item, "type", ""), "function_call") != 0 || idx < 0 ||
        idx >= (long long)ARRAY_SIZE(s->item_tool))
        return 0;
    s->item_tool[idx] = ++s->tools;
    return chat_out_tool_delta(&s->id,
                               chat_out_tool_call(s->tools - 1, json_str(item, "call_id", ""),
                                                  json_str(item, "name", ""), ""),
                               out);
}

static int on_args_delta(struct chat_rstream *s, const cJSON *ev, struct buf *out)
{
    long long idx = json_int(ev, "output_index", -1);
    if (idx < 0 || idx >= (long long)ARRAY_SIZE(s->item_tool) || !s->item_tool[idx])
        return 0;
    return chat_out_tool_delta(
        &s->id, chat_out_tool_call(s->item_tool[idx] - 1, NULL, NULL, json_str(ev, "delta", "")),
        out);
}

/* response.completed / response.incomplete: the finish, the usage, [DONE]. */
static int on_end(struct chat_rstream *s, const cJSON *ev, struct buf *out)
{
    const cJSON *resp = json_get(ev, "response");
    int rc = chat_out_delta(&s->id, cJSON_CreateObject(), finish_of(resp, s->tools > 0), out);
    if (rc == 0 && s->include_usage)
        rc = chat_out_usage_chunk(&s->id, usage_of(json_get(resp, "usage")), out);
    s->done = true;
    return rc ? rc : chat_out_done(out);
}

static int on_failed(struct chat_rstream *s, const cJSON *ev, struct buf *out)
{
    const cJSON *e = json_get(json_get(ev, "response"), "error");
    if (!e)
        e = ev; /* an `error` event carries message and code itself */
    s->done = true;
    return chat_out_error(json_str(e, "message", NULL), json_str(e, "code", NULL), out);
}

int chat_rstream_event(struct chat_rstream *s, const struct sse_event *ev, struct buf *out)
{
    if (s->done)
        return 0;
    cJSON *j = json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true);
    const char *type = *ev->event ? ev->event : json_str(j, "type", "");
    int rc = 0;
    if (strcmp(type, "response.created") == 0)
        rc = on_created(s, j, out);
    else if (strcmp(type, "response.output_text.delta") == 0)
        rc = on_text_delta(s, j, out);
    else if (strcmp(type, "response.output_item.added") == 0)
        rc = on_item_added(s, j, out);
    else if (strcmp(type, "response.function_call_arguments.delta") == 0)
        rc = on_args_delta(s, j, out);
    else if (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete"))
        rc = on_end(s, j, out);
    else if (!strcmp(type, "response.failed") || !strcmp(type, "error"))
        rc = on_failed(s, j, out);
    cJSON_Delete(j);
    return rc;
}
