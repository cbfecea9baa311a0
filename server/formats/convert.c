/*
 * convert.c - THE table of format conversions (convert.h) and the glue
 * that runs a row: a new conversion (chat <-> Gemini, the Gemini
 * `response` envelope) is one row here plus its pure module.
 *
 * Legacy completions ride on the chat rows: `prompt` becomes one user
 * message before the chat conversion, and the chat answer (or each chat
 * chunk) becomes a text_completion after it.
 */
#include "compat.h"
#include "chat_claude.h"
#include "chat_responses.h"
#include "convert.h"
#include "errs.h"
#include "json.h"
#include "sse.h"
#include "xmalloc.h"

#define CONV_FRAMES_MAX (8 * 1024 * 1024) /* one event's chat frames, before legacy rewrite */

static void *claude_open(const char *model, long long created, bool include_usage)
{
    return chat_stream_new(model, created, include_usage);
}
static int claude_event(void *s, const struct sse_event *ev, struct buf *out)
{
    return chat_stream_event(s, ev, out);
}
static void claude_close(void *s)
{
    chat_stream_free(s);
}
static bool claude_done(const void *s)
{
    return chat_stream_done(s);
}
static void *responses_open(const char *model, long long created, bool include_usage)
{
    return chat_rstream_new(model, created, include_usage);
}
static int responses_event(void *s, const struct sse_event *ev, struct buf *out)
{
    return chat_rstream_event(s, ev, out);
}
static void responses_close(void *s)
{
    chat_rstream_free(s);
}
static bool responses_done(const void *s)
{
    return chat_rstream_done(s);
}

#define CHAT_CLAUDE                                                                                \
    "messages", chat_to_claude, claude_to_chat, claude_open, claude_event, claude_close, claude_done
#define CHAT_RESPONSES                                                                             \
    "responses", chat_to_responses, responses_to_chat, responses_open, responses_event,            \
        responses_close, responses_done

static const struct conversion conversions[] = {
    {"openai-chat", "claude", CHAT_CLAUDE, false},
    {"openai-chat", "openai", CHAT_RESPONSES, false},
    {"openai-completions", "claude", CHAT_CLAUDE, true},
    {"openai-completions", "openai", CHAT_RESPONSES, true},
};

const struct conversion *conversion_find(const char *client, const char *family)
{
    for (size_t i = 0; client && family && i < ARRAY_SIZE(conversions); i++)
        if (strcmp(conversions[i].client, client) == 0 &&
            strcmp(conversions[i].family, family) == 0)
            return &conversions[i];
    return NULL;
}

int conversion_request(const struct conversion *c, const cJSON *body, char **out, size_t *len,
                       char *err, size_t errlen)
{
    cJSON *chat = NULL, *up = NULL;
    int rc = 0;
    if (c->legacy && (rc = legacy_to_chat(body, &chat, err, errlen)) != 0)
        goto out;
    if (c->request)
        rc = c->request(chat ? chat : body, &up, err, errlen);
    else
        up = cJSON_Duplicate(chat ? chat : body, true);
    if (rc != 0)
        goto out;
    *out = json_print(up);
    *len = strlen(*out);
out:
    cJSON_Delete(chat);
    cJSON_Delete(up);
    return rc;
}

char *conversion_answer(const struct conversion *c, const char *body, size_t len, const char *model,
                        long long created, size_t *out_len)
{
    cJSON *up = json_parse(body, len, JSON_MAX_DEPTH, true);
    if (!cJSON_IsObject(up)) {
        cJSON_Delete(up);
        return NULL;
    }
    cJSON *chat = c->answer ? c->answer(up, model, created) : cJSON_Duplicate(up, true);
    cJSON *client = c->legacy ? legacy_from_chat(chat) : NULL;
    char *text = json_print(client ? client : chat);
    cJSON_Delete(up);
    cJSON_Delete(chat);
    cJSON_Delete(client);
    *out_len = strlen(text);
    return text;
}

/* ---- streams ---- */

struct conv_stream {
    const struct conversion *c;
    void *inner;
    struct buf chat; /* legacy: the chat frames of one event, rewritten at once */
};

struct conv_stream *conversion_stream_new(const struct conversion *c, const char *model,
                                          long long created, bool include_usage)
{
    struct conv_stream *s = xcalloc(1, sizeof(*s));
    s->c = c;
    s->inner = c->open ? c->open(model, created, include_usage) : NULL;
    buf_init(&s->chat, CONV_FRAMES_MAX);
    return s;
}

/* An unconverted event, re-encoded as it came. */
static int pass_event(const struct sse_event *ev, struct buf *out)
{
    return sse_encode(out, *ev->event ? ev->event : NULL, ev->data);
}

int conversion_stream_event(struct conv_stream *s, const struct sse_event *ev, struct buf *out)
{
    if (!s->c->event)
        return pass_event(ev, out);
    if (!s->c->legacy)
        return s->c->event(s->inner, ev, out);
    buf_reset(&s->chat);
    int rc = s->c->event(s->inner, ev, &s->chat);
    if (rc == 0 && s->chat.len)
        rc = legacy_frames(s->chat.data, s->chat.len, out);
    return rc;
}

bool conversion_stream_complete(const struct conv_stream *s)
{
    return !s->c->done || s->c->done(s->inner);
}

void conversion_stream_free(struct conv_stream *s)
{
    if (!s)
        return;
    if (s->inner)
        s->c->close(s->inner);
    buf_release(&s->chat);
    free(s);
}

/* ---- legacy completions ---- */

/* The prompt as one text: a string, or an array holding one string. */
static const char *prompt_text(const cJSON *p)
{
    if (cJSON_IsString(p))
        return p->valuestring;
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(p->child))
        return p->child->valuestring;
    return NULL;
}

int legacy_to_chat(const cJSON *body, cJSON **out, char *err, size_t len)
{
    const char *prompt = prompt_text(json_get(body, "prompt"));
    if (!prompt) {
        snprintf(err, len, "prompt: must be a string (or an array of one string)");
        return -ERR_INVAL;
    }
    cJSON *chat = cJSON_CreateObject();
    for (const cJSON *f = body ? body->child : NULL; f; f = f->next)
        if (strcmp(f->string, "prompt") != 0 && strcmp(f->string, "messages") != 0)
            cJSON_AddItemToObject(chat, f->string, cJSON_Duplicate(f, true));
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", prompt);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(chat, "messages"), m);
    *out = chat;
    return 0;
}

/* {id, object, created, model} of a chat answer or chunk, as legacy's. */
static cJSON *legacy_envelope(const cJSON *chat)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", json_str(chat, "id", ""));
    cJSON_AddStringToObject(o, "object", "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)json_int(chat, "created", 0));
    cJSON_AddStringToObject(o, "model", json_str(chat, "model", ""));
    return o;
}

static void add_choice(cJSON *o, const char *text, const cJSON *finish)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "text", text);
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON_AddNullToObject(c, "logprobs");
    if (cJSON_IsString(finish))
        cJSON_AddStringToObject(c, "finish_reason", finish->valuestring);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), c);
}

cJSON *legacy_from_chat(const cJSON *chat)
{
    cJSON *o = legacy_envelope(chat);
    const cJSON *choice = cJSON_GetArrayItem(json_get(chat, "choices"), 0);
    const cJSON *content = json_get(json_get(choice, "message"), "content");
    add_choice(o, cJSON_IsString(content) ? content->valuestring : "",
               json_get(choice, "finish_reason"));
    const cJSON *usage = json_get(chat, "usage");
    if (usage)
        cJSON_AddItemToObject(o, "usage", cJSON_Duplicate(usage, true));
    return o;
}

/* One chat chunk as a legacy one; NULL when it carries nothing for a
 * legacy client (the role chunk, tool calls). */
static cJSON *legacy_chunk(const cJSON *chunk)
{
    const cJSON *choices = json_get(chunk, "choices");
    const cJSON *choice = cJSON_GetArrayItem(choices, 0);
    const cJSON *text = json_get(json_get(choice, "delta"), "content");
    const cJSON *finish = json_get(choice, "finish_reason");
    const cJSON *usage = json_get(chunk, "usage");
    bool has_text = cJSON_IsString(text) && *text->valuestring;
    if (!has_text && !cJSON_IsString(finish) && !usage)
        return NULL;
    cJSON *o = legacy_envelope(chunk);
    if (choice)
        add_choice(o, has_text ? text->valuestring : "", finish);
    else
        cJSON_AddArrayToObject(o, "choices");
    if (usage)
        cJSON_AddItemToObject(o, "usage", cJSON_Duplicate(usage, true));
    return o;
}

/* One "data: ..." frame: a chunk rewritten, anything else ([DONE], an
 * error) as it is. */
static int legacy_frame(const char *data, size_t len, struct buf *out)
{
    cJSON *j = json_parse(data, len, JSON_MAX_DEPTH, true);
    if (!cJSON_IsObject(j) || !json_get(j, "choices")) {
        cJSON_Delete(j);
        return buf_printf(out, "data: %.*s\n\n", (int)len, data);
    }
    cJSON *o = legacy_chunk(j);
    cJSON_Delete(j);
    if (!o)
        return 0;
    char *text = json_print(o);
    cJSON_Delete(o);
    int rc = buf_printf(out, "data: %s\n\n", text);
    free(text);
    return rc;
}

int legacy_frames(const char *chat, size_t len, struct buf *out)
{
    const char *p = chat, *end = chat + len;
    while (p < end) {
        const char *stop = memmem(p, (size_t)(end - p), "\n\n", 2);
        const char *next = stop ? stop + 2 : end;
        stop = stop ? stop : end;
        if ((size_t)(stop - p) > 6 && strncmp(p, "data: ", 6) == 0) {
            int rc = legacy_frame(p + 6, (size_t)(stop - p - 6), out);
            if (rc != 0)
                return rc;
        }
        p = next;
    }
    return 0;
}
