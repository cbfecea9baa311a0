/*
 * chat_claude.c - OpenAI chat completions <-> Claude Messages (see
 * chat_claude.h). Table-driven where the two APIs name the same thing
 * differently (stop reasons, tool choice); the rest is one small function
 * per message part.
 */
#include "compat.h"
#include "chat_claude.h"
#include "chat_in.h"
#include "chat_out.h"
#include "errs.h"
#include "json.h"
#include "sse.h"
#include "xmalloc.h"

#include <stdarg.h>

/* ---- shared tables ---- */

static const struct {
    const char *claude, *chat;
} stop_reasons[] = {
    {"end_turn", "stop"},
    {"stop_sequence", "stop"},
    {"max_tokens", "length"},
    {"tool_use", "tool_calls"},
    {"pause_turn", "stop"},
    {"refusal", "content_filter"},
    {"model_context_window_exceeded", "length"},
};

const char *chat_finish_reason(const char *stop_reason)
{
    for (size_t i = 0; stop_reason && i < ARRAY_SIZE(stop_reasons); i++)
        if (strcmp(stop_reasons[i].claude, stop_reason) == 0)
            return stop_reasons[i].chat;
    return "stop";
}

/* tool_choice by chat_in's enum (CHOICE_NAMED: "tool" with the name). */
static const char *const claude_choice[] = {[CHOICE_AUTO] = "auto",
                                            [CHOICE_NONE] = "none",
                                            [CHOICE_REQUIRED] = "any",
                                            [CHOICE_NAMED] = "tool"};

/* ---- request: chat -> Claude ---- */

struct conv {
    cJSON *msgs;       /* Claude messages being built */
    struct buf system; /* system and developer texts, joined */
    char *err;
    size_t errlen;
};

#define fail(c, ...) chat_in_fail((c)->err, (c)->errlen, __VA_ARGS__)

/* Claude wants user and assistant turns to alternate. */
static void add_block(void *arg, const char *role, cJSON *item)
{
    struct conv *c = arg;
    chat_in_append_turn(c->msgs, role, "content", item);
}

static cJSON *text_block(const char *text)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "text");
    cJSON_AddStringToObject(b, "text", text);
    return b;
}

/* data:<media type>;base64,<data> -> a base64 source; http(s) -> a URL source. */
static cJSON *image_block(void *arg, const char *url, int i, int k)
{
    struct conv *c = arg;
    cJSON *src = cJSON_CreateObject();
    char *mt = NULL;
    const char *data = NULL;
    if (chat_in_data_url(url, &mt, &data)) {
        cJSON_AddStringToObject(src, "type", "base64");
        cJSON_AddStringToObject(src, "media_type", mt);
        free(mt);
        cJSON_AddStringToObject(src, "data", data);
    } else if (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) {
        cJSON_AddStringToObject(src, "type", "url");
        cJSON_AddStringToObject(src, "url", url);
    } else {
        cJSON_Delete(src);
        fail(c,
             "messages[%d].content[%d].image_url.url must be a data: URL (base64) or an "
             "http(s) URL",
             i, k);
        return NULL;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "image");
    cJSON_AddItemToObject(b, "source", src);
    return b;
}

static const struct chat_part_ops claude_parts = {text_block, image_block, add_block};

/* A message's content (a string or an array of parts) as blocks of role. */
static int add_content(struct conv *c, const char *role, const cJSON *content, int i)
{
    return chat_in_parts(content, i, role, &claude_parts, c, c->err, c->errlen);
}

/* System and developer texts go to `system`, in order. */
static int system_text(void *arg, const char *text)
{
    struct conv *c = arg;
    return buf_printf(&c->system, "%s%s", c->system.len ? "\n\n" : "", text) == 0
               ? 0
               : fail(c, "the system messages are too long");
}

static void tool_use(void *c, const cJSON *tc, int k, cJSON *input)
{
    UNUSED(k);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "tool_use");
    cJSON_AddStringToObject(b, "id", json_str(tc, "id", ""));
    cJSON_AddStringToObject(b, "name", json_str(json_get(tc, "function"), "name", ""));
    cJSON_AddItemToObject(b, "input", input);
    add_block(c, "assistant", b);
}

/* A tool message: the result of one call, in the next user turn. */
static int add_tool_result(struct conv *c, const cJSON *m, int i)
{
    const char *id = json_str(m, "tool_call_id", "");
    if (!*id)
        return fail(c, "messages[%d].tool_call_id is required for a tool message", i);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "tool_result");
    cJSON_AddStringToObject(b, "tool_use_id", id);
    const cJSON *content = json_get(m, "content");
    if (cJSON_IsString(content)) {
        cJSON_AddStringToObject(b, "content", content->valuestring);
    } else if (cJSON_IsArray(content)) {
        cJSON *arr = cJSON_AddArrayToObject(b, "content");
        for (const cJSON *p = content->child; p; p = p->next)
            cJSON_AddItemToArray(arr, text_block(json_str(p, "text", "")));
    }
    add_block(c, "user", b);
    return 0;
}

/* The chat_roles callbacks (chat_in.h) on the conversion's state. */
static int on_system(void *c, const cJSON *content, int i)
{
    struct conv *cv = c;
    return chat_in_system_texts(content, i, system_text, cv, cv->err, cv->errlen);
}

static int on_user(void *c, const cJSON *content, int i)
{
    return add_content(c, "user", content, i);
}

static int on_assistant(void *c, const cJSON *m, int i)
{
    int rc = add_content(c, "assistant", json_get(m, "content"), i);
    struct conv *cv = c;
    return rc ? rc : chat_in_calls(json_get(m, "tool_calls"), i, tool_use, cv, cv->err, cv->errlen);
}

static int on_tool(void *c, const cJSON *m, int i)
{
    return add_tool_result(c, m, i);
}

static int convert_messages(struct conv *c, const cJSON *msgs)
{
    static const struct chat_roles roles = {on_system, on_user, on_assistant, on_tool};
    int rc = chat_in_messages(msgs, &roles, c, c->err, c->errlen);
    if (rc)
        return rc;
    if (!cJSON_GetArraySize(c->msgs))
        return fail(c, "messages: no user or assistant content");
    return 0;
}

static cJSON *tool_def(const struct chat_tool *t)
{
    cJSON *ct = cJSON_CreateObject();
    cJSON_AddStringToObject(ct, "name", t->name);
    if (*t->description)
        cJSON_AddStringToObject(ct, "description", t->description);
    cJSON *schema = t->parameters ? cJSON_Duplicate(t->parameters, true) : cJSON_CreateObject();
    if (!t->parameters)
        cJSON_AddStringToObject(schema, "type", "object");
    cJSON_AddItemToObject(ct, "input_schema", schema);
    return ct;
}

static int convert_tools(struct conv *c, const cJSON *chat, cJSON *out)
{
    cJSON *arr = NULL;
    int rc = chat_in_tools(chat, tool_def, &arr, c->err, c->errlen);
    if (arr)
        cJSON_AddItemToObject(out, "tools", arr);
    return rc;
}

static int convert_tool_choice(struct conv *c, const cJSON *chat, cJSON *out)
{
    enum chat_choice which;
    const char *name;
    int rc = chat_in_tool_choice(chat, &which, &name, c->err, c->errlen);
    bool serial = cJSON_IsFalse(json_get(chat, "parallel_tool_calls"));
    if (rc || (which == CHOICE_UNSET && !serial))
        return rc;
    cJSON *o = cJSON_AddObjectToObject(out, "tool_choice");
    cJSON_AddStringToObject(o, "type", which == CHOICE_UNSET ? "auto" : claude_choice[which]);
    if (which == CHOICE_NAMED)
        cJSON_AddStringToObject(o, "name", name);
    if (serial)
        cJSON_AddBoolToObject(o, "disable_parallel_tool_use", true);
    return 0;
}

/* A number field copied (temperature clamped to Claude's 0..1). */
static void copy_number(const cJSON *chat, cJSON *out, const char *name, double max)
{
    const cJSON *v = json_get(chat, name);
    if (cJSON_IsNumber(v))
        cJSON_AddNumberToObject(out, name, v->valuedouble > max ? max : v->valuedouble);
}

/* model, max_tokens, temperature, top_p, stop, stream, user. */
static int convert_scalars(struct conv *c, const cJSON *chat, cJSON *out)
{
    if (chat_in_one_choice(chat, c->err, c->errlen) != 0)
        return -ERR_INVAL;
    cJSON_AddStringToObject(out, "model", json_str(chat, "model", ""));
    long long max = json_int(chat, "max_completion_tokens", json_int(chat, "max_tokens", 0));
    cJSON_AddNumberToObject(out, "max_tokens", (double)(max > 0 ? max : CHAT_DEFAULT_MAX_TOKENS));
    copy_number(chat, out, "temperature", 1);
    copy_number(chat, out, "top_p", 1);
    cJSON *stop = chat_in_stop(chat);
    if (stop)
        cJSON_AddItemToObject(out, "stop_sequences", stop);
    if (cJSON_IsTrue(json_get(chat, "stream")))
        cJSON_AddBoolToObject(out, "stream", true);
    if (*json_str(chat, "user", ""))
        cJSON_AddStringToObject(cJSON_AddObjectToObject(out, "metadata"), "user_id",
                                json_str(chat, "user", ""));
    return 0;
}

int chat_to_claude(const cJSON *chat, cJSON **out, char *err, size_t len)
{
    struct conv c = {cJSON_CreateArray(), {0}, err, len};
    buf_init(&c.system, 4u << 20);
    cJSON *o = cJSON_CreateObject();
    *out = NULL;
    int rc = cJSON_IsObject(chat) ? 0 : fail(&c, "the body must be a JSON object");
    if (rc == 0)
        rc = convert_scalars(&c, chat, o);
    if (rc == 0)
        rc = convert_messages(&c, json_get(chat, "messages"));
    if (rc == 0)
        rc = convert_tools(&c, chat, o);
    if (rc == 0)
        rc = convert_tool_choice(&c, chat, o);
    if (rc == 0 && c.system.len)
        cJSON_AddStringToObject(o, "system", c.system.data);
    if (rc == 0) {
        cJSON_AddItemToObject(o, "messages", c.msgs);
        c.msgs = NULL;
        *out = o;
        o = NULL;
    }
    cJSON_Delete(o);
    cJSON_Delete(c.msgs);
    buf_release(&c.system);
    return rc;
}

/* ---- response: Claude -> chat ---- */

/* OpenAI counts every prompt token in prompt_tokens; cached ones are a detail. */
static cJSON *usage_of(const cJSON *u)
{
    long long cread = json_int(u, "cache_read_input_tokens", 0);
    long long prompt =
        json_int(u, "input_tokens", 0) + cread + json_int(u, "cache_creation_input_tokens", 0);
    return chat_out_usage(prompt, json_int(u, "output_tokens", 0), cread, 0);
}

static cJSON *tool_call_of(const cJSON *block, int index)
{
    const cJSON *input = json_get(block, "input");
    char *args = input ? json_print(input) : xstrdup("{}");
    cJSON *tc =
        chat_out_tool_call(index, json_str(block, "id", ""), json_str(block, "name", ""), args);
    free(args);
    return tc;
}

cJSON *claude_to_chat(const cJSON *msg, const char *model, long long created)
{
    struct chat_out id = {0};
    chat_out_init(&id, json_str(msg, "id", ""), model, created);
    struct buf text;
    buf_init(&text, 64u << 20);
    cJSON *calls = cJSON_CreateArray();
    const cJSON *content = json_get(msg, "content");
    for (const cJSON *b = content ? content->child : NULL; b; b = b->next) {
        const char *type = json_str(b, "type", ""), *t = json_str(b, "text", "");
        if (strcmp(type, "text") == 0 && buf_append(&text, t, strlen(t)) != 0)
            break; /* over 64 MiB of text: what fits */
        if (strcmp(type, "tool_use") == 0)
            cJSON_AddItemToArray(calls, tool_call_of(b, -1));
    }
    cJSON *o = chat_out_completion(&id, text.data ? text.data : "", calls,
                                   chat_finish_reason(json_str(msg, "stop_reason", NULL)),
                                   usage_of(json_get(msg, "usage")));
    buf_release(&text);
    return o;
}

/* ---- stream: Claude events -> chat chunks ---- */

struct chat_stream {
    struct chat_out id;
    bool include_usage;
    bool done;
    int tools;          /* tool calls started */
    int block_tool[64]; /* content block index -> tool call index + 1 (0: not a tool) */
    const char *finish; /* from message_delta */
    cJSON *usage;       /* Claude usage so far (message_start, then message_delta) */
};

struct chat_stream *chat_stream_new(const char *model, long long created, bool include_usage)
{
    struct chat_stream *s = xcalloc(1, sizeof(*s));
    chat_out_init(&s->id, "", model, created);
    s->include_usage = include_usage;
    s->usage = cJSON_CreateObject();
    return s;
}

void chat_stream_free(struct chat_stream *s)
{
    if (!s)
        return;
    cJSON_Delete(s->usage);
    free(s);
}

bool chat_stream_done(const struct chat_stream *s)
{
    return s->done;
}

/* Claude's usage fields as they come: message_start's, then message_delta's. */
static void merge_usage(struct chat_stream *s, const cJSON *u)
{
    for (const cJSON *f = u ? u->child : NULL; f; f = f->next)
        if (cJSON_IsNumber(f)) {
            cJSON_DeleteItemFromObject(s->usage, f->string);
            cJSON_AddNumberToObject(s->usage, f->string, f->valuedouble);
        }
}

static int on_message_start(struct chat_stream *s, const cJSON *ev, struct buf *out)
{
    const cJSON *m = json_get(ev, "message");
    snprintf(s->id.id, sizeof(s->id.id), "%s", json_str(m, "id", ""));
    merge_usage(s, json_get(m, "usage"));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "role", "assistant");
    cJSON_AddStringToObject(d, "content", "");
    return chat_out_delta(&s->id, d, NULL, out);
}

/* The tool call index of content block idx, or -1 when it is not a tool. */
static int tool_of(const struct chat_stream *s, long long idx)
{
    return idx >= 0 && idx < (long long)ARRAY_SIZE(s->block_tool) ? s->block_tool[idx] - 1 : -1;
}

static int on_block_start(struct chat_stream *s, const cJSON *ev, struct buf *out)
{
    const cJSON *b = json_get(ev, "content_block");
    long long idx = json_int(ev, "index", -1);
    if (strcmp(json_str(b, "type", ""), "tool_use") != 0 || idx < 0 ||
        idx >= (long long)ARRAY_SIZE(s->block_tool))
        return 0;
    s->block_tool[idx] = ++s->tools;
    /* The start carries no arguments: they come as deltas. */
    return chat_out_tool_delta(
        &s->id,
        chat_out_tool_call(s->tools - 1, json_str(b, "id", ""), json_str(b, "name", ""), ""), out);
}

static int on_block_delta(struct chat_stream *s, const cJSON *ev, struct buf *out)
{
    const cJSON *d = json_get(ev, "delta");
    const char *type = json_str(d, "type", "");
    int tool = tool_of(s, json_int(ev, "index", -1));
    if (strcmp(type, "text_delta") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "content", json_str(d, "text", ""));
        return chat_out_delta(&s->id, o, NULL, out);
    }
    if (strcmp(type, "input_json_delta") != 0 || tool < 0)
        return 0; /* thinking and signatures are not part of a chat answer */
    return chat_out_tool_delta(
        &s->id, chat_out_tool_call(tool, NULL, NULL, json_str(d, "partial_json", "")), out);
}

static int on_message_stop(struct chat_stream *s, struct buf *out)
{
    int rc = chat_out_delta(&s->id, cJSON_CreateObject(), s->finish ? s->finish : "stop", out);
    if (rc == 0 && s->include_usage)
        rc = chat_out_usage_chunk(&s->id, usage_of(s->usage), out);
    s->done = true;
    return rc ? rc : chat_out_done(out);
}

int chat_stream_event(struct chat_stream *s, const struct sse_event *ev, struct buf *out)
{
    if (s->done)
        return 0;
    cJSON *j = json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true);
    const char *type = *ev->event ? ev->event : json_str(j, "type", "");
    int rc = 0;
    if (strcmp(type, "message_start") == 0) {
        rc = on_message_start(s, j, out);
    } else if (strcmp(type, "content_block_start") == 0) {
        rc = on_block_start(s, j, out);
    } else if (strcmp(type, "content_block_delta") == 0) {
        rc = on_block_delta(s, j, out);
    } else if (strcmp(type, "message_delta") == 0) {
        s->finish = chat_finish_reason(json_str(json_get(j, "delta"), "stop_reason", NULL));
        merge_usage(s, json_get(j, "usage"));
    } else if (strcmp(type, "message_stop") == 0) {
        rc = on_message_stop(s, out);
    } else if (strcmp(type, "error") == 0) {
        const cJSON *e = json_get(j, "error");
        s->done = true;
        rc = chat_out_error(json_str(e, "message", NULL), json_str(e, "type", NULL), out);
    }
    cJSON_Delete(j);
    return rc;
}
