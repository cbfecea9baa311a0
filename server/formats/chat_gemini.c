/*
 * chat_gemini.c - OpenAI chat completions <-> the Gemini API (see
 * chat_gemini.h). The chat side's checks come from chat_in, its answers
 * from chat_out; the tables below are where the two APIs name the same
 * thing differently (finish reasons, tool choice, reasoning effort).
 */
#include "compat.h"
#include "chat_gemini.h"
#include "chat_in.h"
#include "chat_out.h"
#include "errs.h"
#include "gemini_envelope.h"
#include "json.h"
#include "secret.h"
#include "sse.h"
#include "xmalloc.h"

/* Gemini 3 refuses a replayed functionCall without its thought signature;
 * a chat history has none, and this is the value Google documents for a
 * history that did not come from Gemini (ai.google.dev thought-signatures). */
#define GEMINI_SKIP_SIGNATURE "skip_thought_signature_validator"
#define GEMINI_TEXT_MAX (64u << 20)

/* ---- tables ---- */

static const struct {
    const char *gemini, *chat;
} finish_reasons[] = {
    {"STOP", "stop"},
    {"MAX_TOKENS", "length"},
    {"SAFETY", "content_filter"},
    {"RECITATION", "content_filter"},
    {"BLOCKLIST", "content_filter"},
    {"PROHIBITED_CONTENT", "content_filter"},
    {"SPII", "content_filter"},
    {"IMAGE_SAFETY", "content_filter"},
};

const char *gemini_finish_reason(const char *reason, bool tools)
{
    for (size_t i = 0; reason && i < ARRAY_SIZE(finish_reasons); i++)
        if (strcmp(finish_reasons[i].gemini, reason) == 0)
            return tools && i == 0 ? "tool_calls" : finish_reasons[i].chat;
    return tools ? "tool_calls" : "stop";
}

/* functionCallingConfig.mode by chat_in's enum (CHOICE_NAMED: ANY with
 * allowedFunctionNames). */
static const char *const gemini_mode[] = {[CHOICE_AUTO] = "AUTO",
                                          [CHOICE_NONE] = "NONE",
                                          [CHOICE_REQUIRED] = "ANY",
                                          [CHOICE_NAMED] = "ANY"};

/* reasoning_effort: a thinkingBudget (Gemini 2.x, the budgets of Google's
 * own OpenAI compatibility layer) or a thinkingLevel (Gemini 3). */
static const struct {
    const char *effort;
    int budget;
    const char *level;
} efforts[] = {
    {"none", 0, "low"},       {"minimal", 1024, "low"}, {"low", 1024, "low"},
    {"medium", 8192, "high"}, {"high", 24576, "high"},
};

/* ---- request: chat -> Gemini ---- */

struct gconv {
    cJSON *contents;
    cJSON *system; /* systemInstruction.parts, NULL until one */
    const cJSON *msgs;
    char *err;
    size_t errlen;
};

#define fail(c, ...) chat_in_fail((c)->err, (c)->errlen, __VA_ARGS__)

/* Parallel function responses belong in one user turn. */
static void add_part(void *arg, const char *role, cJSON *item)
{
    struct gconv *c = arg;
    chat_in_append_turn(c->contents, role, "parts", item);
}

static cJSON *text_part(const char *text)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "text", text);
    return p;
}

/* data:<type>;base64,<data> -> inlineData. Gemini fetches no URLs for us
 * (fileData wants an uploaded file's URI), so an http(s) URL is refused. */
static cJSON *image_part(void *arg, const char *url, int i, int k)
{
    struct gconv *c = arg;
    char *mt = NULL;
    const char *data = NULL;
    if (!chat_in_data_url(url, &mt, &data)) {
        bool web = strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0;
        fail(c, "messages[%d].content[%d].image_url.url %s", i, k,
             web ? "is an http(s) URL: Gemini takes images inline only, send a data: URL "
                   "(base64)"
                 : "must be a data: URL (base64)");
        return NULL;
    }
    cJSON *p = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(p, "inlineData");
    cJSON_AddStringToObject(d, "mimeType", mt);
    cJSON_AddStringToObject(d, "data", data);
    free(mt);
    return p;
}

static const struct chat_part_ops gemini_parts = {text_part, image_part, add_part};

/* A message's content (a string or an array of parts) as parts of role. */
static int add_content(struct gconv *c, const char *role, const cJSON *content, int i)
{
    return chat_in_parts(content, i, role, &gemini_parts, c, c->err, c->errlen);
}

/* System and developer texts: systemInstruction parts, in order. */
static int system_text(void *arg, const char *text)
{
    struct gconv *c = arg;
    if (!c->system)
        c->system = cJSON_CreateArray();
    cJSON_AddItemToArray(c->system, text_part(text));
    return 0;
}

static void function_call(void *c, const cJSON *tc, int k, cJSON *args)
{
    cJSON *p = cJSON_CreateObject(), *call = cJSON_AddObjectToObject(p, "functionCall");
    cJSON_AddStringToObject(call, "name", json_str(json_get(tc, "function"), "name", ""));
    cJSON_AddItemToObject(call, "args", args);
    if (k == 0) /* Google: only a step's first call carries the signature */
        cJSON_AddStringToObject(p, "thoughtSignature", GEMINI_SKIP_SIGNATURE);
    add_part(c, "model", p);
}

/* The function name of the call id answered by message i: Gemini pairs a
 * response with its call by name, the chat API by id. */
static const char *call_name(const struct gconv *c, const char *id, int i)
{
    const char *name = NULL;
    int at = 0;
    for (const cJSON *m = c->msgs->child; m && at < i; m = m->next, at++) {
        const cJSON *calls = json_get(m, "tool_calls");
        for (const cJSON *tc = cJSON_IsArray(calls) ? calls->child : NULL; tc; tc = tc->next)
            if (strcmp(json_str(tc, "id", ""), id) == 0)
                name = json_str(json_get(tc, "function"), "name", NULL);
    }
    return name;
}

/* A tool message's content as the function's response object: JSON object
 * text as it is, anything else as {"output": text} (Google's convention). */
static cJSON *response_of(const cJSON *content)
{
    struct buf text;
    buf_init(&text, GEMINI_TEXT_MAX);
    if (cJSON_IsString(content) && buf_printf(&text, "%s", content->valuestring) != 0)
        buf_reset(&text); /* over the cap */
    for (const cJSON *p = cJSON_IsArray(content) ? content->child : NULL; p; p = p->next)
        if (buf_printf(&text, "%s", json_str(p, "text", "")) != 0)
            break; /* over the cap: what fits */
    const char *t = text.data ? text.data : "";
    cJSON *obj = *t == '{' ? json_parse(t, strlen(t), JSON_MAX_DEPTH, true) : NULL;
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "output", t);
    }
    buf_release(&text);
    return obj;
}

static int add_response(struct gconv *c, const cJSON *m, int i)
{
    const char *id = json_str(m, "tool_call_id", "");
    if (!*id)
        return fail(c, "messages[%d].tool_call_id is required for a tool message", i);
    const char *name = call_name(c, id, i);
    if (!name || !*name)
        return fail(c,
                    "messages[%d].tool_call_id '%.64s' answers no earlier assistant tool call "
                    "(Gemini needs the function's name)",
                    i, id);
    cJSON *p = cJSON_CreateObject(), *fr = cJSON_AddObjectToObject(p, "functionResponse");
    cJSON_AddStringToObject(fr, "name", name);
    cJSON_AddItemToObject(fr, "response", response_of(json_get(m, "content")));
    add_part(c, "user", p);
    return 0;
}

/* The chat_roles callbacks (chat_in.h) on the conversion's state. */
static int on_system(void *c, const cJSON *content, int i)
{
    struct gconv *g = c;
    return chat_in_system_texts(content, i, system_text, g, g->err, g->errlen);
}

static int on_user(void *c, const cJSON *content, int i)
{
    return add_content(c, "user", content, i);
}

static int on_assistant(void *c, const cJSON *m, int i)
{
    int rc = add_content(c, "model", json_get(m, "content"), i);
    struct gconv *g = c;
    return rc ? rc
              : chat_in_calls(json_get(m, "tool_calls"), i, function_call, g, g->err, g->errlen);
}

static int on_tool(void *c, const cJSON *m, int i)
{
    return add_response(c, m, i);
}

static int convert_messages(struct gconv *c)
{
    static const struct chat_roles roles = {on_system, on_user, on_assistant, on_tool};
    int rc = chat_in_messages(c->msgs, &roles, c, c->err, c->errlen);
    if (rc)
        return rc;
    if (!cJSON_GetArraySize(c->contents))
        return fail(c, "messages: no user or assistant content");
    return 0;
}

static cJSON *tool_def(const struct chat_tool *t)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", t->name);
    if (*t->description)
        cJSON_AddStringToObject(d, "description", t->description);
    if (t->parameters) /* JSON Schema as it is: responseSchema's OpenAPI subset is narrower */
        cJSON_AddItemToObject(d, "parametersJsonSchema", cJSON_Duplicate(t->parameters, true));
    return d;
}

/* tools -> [{functionDeclarations}], tool_choice -> toolConfig. */
static int convert_tools(struct gconv *c, const cJSON *chat, cJSON *out)
{
    cJSON *decls = NULL;
    enum chat_choice which;
    const char *name;
    int rc = chat_in_tools(chat, tool_def, &decls, c->err, c->errlen);
    if (rc == 0)
        rc = chat_in_tool_choice(chat, &which, &name, c->err, c->errlen);
    if (rc != 0) {
        cJSON_Delete(decls);
        return rc;
    }
    if (decls) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddItemToObject(t, "functionDeclarations", decls);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(out, "tools"), t);
    }
    if (which == CHOICE_UNSET)
        return 0;
    cJSON *fcc = cJSON_AddObjectToObject(cJSON_AddObjectToObject(out, "toolConfig"),
                                         "functionCallingConfig");
    cJSON_AddStringToObject(fcc, "mode", gemini_mode[which]);
    if (which == CHOICE_NAMED)
        cJSON_AddItemToArray(cJSON_AddArrayToObject(fcc, "allowedFunctionNames"),
                             cJSON_CreateString(name));
    return 0;
}

static void copy_numbers(const cJSON *chat, cJSON *gc)
{
    static const struct {
        const char *chat, *gemini;
    } numbers[] = {{"temperature", "temperature"},
                   {"top_p", "topP"},
                   {"seed", "seed"},
                   {"presence_penalty", "presencePenalty"},
                   {"frequency_penalty", "frequencyPenalty"}};
    long long max = json_int(chat, "max_completion_tokens", json_int(chat, "max_tokens", 0));
    if (max > 0)
        cJSON_AddNumberToObject(gc, "maxOutputTokens", (double)max);
    for (size_t i = 0; i < ARRAY_SIZE(numbers); i++) {
        const cJSON *v = json_get(chat, numbers[i].chat);
        if (cJSON_IsNumber(v))
            cJSON_AddNumberToObject(gc, numbers[i].gemini, v->valuedouble);
    }
}

static int convert_effort(struct gconv *c, const cJSON *chat, cJSON *gc)
{
    const cJSON *e = json_get(chat, "reasoning_effort");
    if (!e || cJSON_IsNull(e))
        return 0;
    bool v3 = strncmp(json_str(chat, "model", ""), "gemini-3", 8) == 0;
    for (size_t i = 0; cJSON_IsString(e) && i < ARRAY_SIZE(efforts); i++) {
        if (strcmp(efforts[i].effort, e->valuestring) != 0)
            continue;
        cJSON *tc = cJSON_AddObjectToObject(gc, "thinkingConfig");
        if (v3)
            cJSON_AddStringToObject(tc, "thinkingLevel", efforts[i].level);
        else
            cJSON_AddNumberToObject(tc, "thinkingBudget", efforts[i].budget);
        return 0;
    }
    return fail(c, "reasoning_effort must be none, minimal, low, medium or high");
}

/* response_format: json_object -> JSON out; json_schema -> JSON out under
 * the schema (responseJsonSchema: the chat API's schemas are JSON Schema,
 * with the additionalProperties that responseSchema refuses). */
static int convert_format(struct gconv *c, const cJSON *chat, cJSON *gc)
{
    const cJSON *rf = json_get(chat, "response_format");
    const char *type = json_str(rf, "type", "");
    if (!rf || cJSON_IsNull(rf) || strcmp(type, "text") == 0)
        return 0;
    const cJSON *schema = json_get(json_get(rf, "json_schema"), "schema");
    if (strcmp(type, "json_schema") == 0 && !cJSON_IsObject(schema))
        return fail(c, "response_format.json_schema.schema must be an object");
    if (strcmp(type, "json_schema") != 0 && strcmp(type, "json_object") != 0)
        return fail(c, "response_format.type must be text, json_object or json_schema");
    cJSON_AddStringToObject(gc, "responseMimeType", "application/json");
    if (schema)
        cJSON_AddItemToObject(gc, "responseJsonSchema", cJSON_Duplicate(schema, true));
    return 0;
}

static int convert_config(struct gconv *c, const cJSON *chat, cJSON *out)
{
    cJSON *gc = cJSON_CreateObject();
    copy_numbers(chat, gc);
    cJSON *stop = chat_in_stop(chat);
    if (stop)
        cJSON_AddItemToObject(gc, "stopSequences", stop);
    int rc = convert_effort(c, chat, gc);
    if (rc == 0)
        rc = convert_format(c, chat, gc);
    if (rc == 0 && gc->child) {
        cJSON_AddItemToObject(out, "generationConfig", gc);
        return 0;
    }
    cJSON_Delete(gc);
    return rc;
}

int chat_to_gemini(const cJSON *chat, cJSON **out, char *err, size_t len)
{
    struct gconv c = {cJSON_CreateArray(), NULL, json_get(chat, "messages"), err, len};
    cJSON *o = cJSON_CreateObject();
    *out = NULL;
    int rc = !cJSON_IsObject(chat) ? fail(&c, "the body must be a JSON object")
                                   : chat_in_one_choice(chat, err, len);
    if (rc == 0)
        rc = convert_messages(&c);
    if (rc == 0)
        rc = convert_tools(&c, chat, o);
    if (rc == 0)
        rc = convert_config(&c, chat, o);
    if (rc == 0) {
        if (c.system)
            cJSON_AddItemToObject(cJSON_AddObjectToObject(o, "systemInstruction"), "parts",
                                  c.system);
        cJSON_AddItemToObject(o, "contents", c.contents);
        *out = o;
        return 0;
    }
    cJSON_Delete(o);
    cJSON_Delete(c.contents);
    cJSON_Delete(c.system);
    return rc;
}

/* ---- response: Gemini -> chat ---- */

/* prompt counts cached and tool-use prompt tokens; completion counts the
 * thoughts, as OpenAI's completion_tokens counts reasoning. */
static cJSON *usage_of(const cJSON *u)
{
    long long thoughts = json_int(u, "thoughtsTokenCount", 0);
    return chat_out_usage(json_int(u, "promptTokenCount", 0) +
                              json_int(u, "toolUsePromptTokenCount", 0),
                          json_int(u, "candidatesTokenCount", 0) + thoughts,
                          json_int(u, "cachedContentTokenCount", 0), thoughts);
}

/* The answer's id: Gemini's responseId, else a random one (the tool call
 * ids below are built on it and must not repeat in a conversation). */
static void answer_id(const cJSON *a, char *out, size_t len)
{
    const char *rid = json_str(a, "responseId", "");
    if (*rid && strlen(rid) < len)
        snprintf(out, len, "%s", rid);
    else
        secret_random_hex(out, 12); /* both callers have room for 24 hex */
}

/* A functionCall part as a chat tool call: Gemini's id when it gives one,
 * else call_<responseId>_<n>, unique in the conversation as the client
 * needs it to be (it sends it back as tool_call_id). */
static cJSON *tool_call_of(const cJSON *fc, int index, const char *rid, int n)
{
    char gen[160];
    const char *id = json_str(fc, "id", "");
    if (!*id) {
        snprintf(gen, sizeof(gen), "call_%s_%d", rid, n);
        id = gen;
    }
    const cJSON *args = json_get(fc, "args");
    char *text = cJSON_IsObject(args) ? json_print(args) : xstrdup("{}");
    cJSON *tc = chat_out_tool_call(index, id, json_str(fc, "name", ""), text);
    free(text);
    return tc;
}

/* A text part the client sees: not a thought summary. */
static const char *visible_text(const cJSON *part)
{
    const cJSON *t = json_get(part, "text");
    return cJSON_IsString(t) && !cJSON_IsTrue(json_get(part, "thought")) ? t->valuestring : NULL;
}

/* The finish of a candidate; a prompt blocked before any candidate is a
 * content filter. */
static const char *finish_of(const cJSON *answer, const cJSON *cand, bool tools)
{
    if (!cand && json_get(json_get(answer, "promptFeedback"), "blockReason"))
        return "content_filter";
    return gemini_finish_reason(json_str(cand, "finishReason", NULL), tools);
}

cJSON *gemini_to_chat(const cJSON *answer, const char *model, long long created)
{
    const cJSON *a = gemini_envelope_unwrap(answer);
    char rid[80];
    answer_id(a, rid, sizeof(rid));
    struct chat_out id = {0};
    chat_out_init(&id, rid, model, created);
    struct buf text;
    buf_init(&text, GEMINI_TEXT_MAX);
    cJSON *calls = cJSON_CreateArray();
    const cJSON *cand = cJSON_GetArrayItem(json_get(a, "candidates"), 0);
    const cJSON *parts = json_get(json_get(cand, "content"), "parts");
    for (const cJSON *p = cJSON_IsArray(parts) ? parts->child : NULL; p; p = p->next) {
        const char *t = visible_text(p);
        const cJSON *fc = json_get(p, "functionCall");
        if (t && buf_append(&text, t, strlen(t)) != 0)
            break; /* over 64 MiB of text: what fits */
        if (cJSON_IsObject(fc))
            cJSON_AddItemToArray(calls, tool_call_of(fc, -1, rid, cJSON_GetArraySize(calls)));
    }
    const char *finish = finish_of(a, cand, cJSON_GetArraySize(calls) > 0);
    cJSON *o = chat_out_completion(&id, text.data ? text.data : "", calls, finish,
                                   usage_of(json_get(a, "usageMetadata")));
    buf_release(&text);
    return o;
}

/* ---- stream: Gemini chunks -> chat chunks ---- */

struct chat_gstream {
    struct chat_out id;
    bool include_usage;
    bool started;
    bool done;
    int tools;    /* tool calls sent */
    cJSON *usage; /* the last usageMetadata seen */
};

struct chat_gstream *chat_gstream_new(const char *model, long long created, bool include_usage)
{
    struct chat_gstream *s = xcalloc(1, sizeof(*s));
    chat_out_init(&s->id, "", model, created);
    s->include_usage = include_usage;
    return s;
}

void chat_gstream_free(struct chat_gstream *s)
{
    if (!s)
        return;
    cJSON_Delete(s->usage);
    free(s);
}

bool chat_gstream_done(const struct chat_gstream *s)
{
    return s->done;
}

/* The first chunk names the answer and opens it with the role. */
static int on_start(struct chat_gstream *s, const cJSON *chunk, struct buf *out)
{
    s->started = true;
    answer_id(chunk, s->id.id, sizeof(s->id.id));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "role", "assistant");
    cJSON_AddStringToObject(d, "content", "");
    return chat_out_delta(&s->id, d, NULL, out);
}

static int on_part(struct chat_gstream *s, const cJSON *part, struct buf *out)
{
    const char *t = visible_text(part);
    const cJSON *fc = json_get(part, "functionCall");
    if (t && *t) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "content", t);
        return chat_out_delta(&s->id, d, NULL, out);
    }
    if (!cJSON_IsObject(fc))
        return 0; /* thoughts, signatures and empty texts are not part of a chat answer */
    s->tools++;
    return chat_out_tool_delta(&s->id, tool_call_of(fc, s->tools - 1, s->id.id, s->tools - 1), out);
}

static int on_finish(struct chat_gstream *s, const char *reason, struct buf *out)
{
    int rc =
        chat_out_delta(&s->id, cJSON_CreateObject(), gemini_finish_reason(reason, s->tools), out);
    if (rc == 0 && s->include_usage)
        rc = chat_out_usage_chunk(&s->id, usage_of(s->usage), out);
    s->done = true;
    return rc ? rc : chat_out_done(out);
}

static int on_chunk(struct chat_gstream *s, const cJSON *chunk, struct buf *out)
{
    const cJSON *err = json_get(chunk, "error");
    if (cJSON_IsObject(err)) {
        s->done = true;
        return chat_out_error(json_str(err, "message", NULL), json_str(err, "status", NULL), out);
    }
    int rc = s->started ? 0 : on_start(s, chunk, out);
    const cJSON *um = json_get(chunk, "usageMetadata");
    if (cJSON_IsObject(um)) {
        cJSON_Delete(s->usage);
        s->usage = cJSON_Duplicate(um, true);
    }
    const cJSON *cand = cJSON_GetArrayItem(json_get(chunk, "candidates"), 0);
    const cJSON *parts = json_get(json_get(cand, "content"), "parts");
    for (const cJSON *p = cJSON_IsArray(parts) ? parts->child : NULL; p && rc == 0; p = p->next)
        rc = on_part(s, p, out);
    const char *reason = json_str(cand, "finishReason", NULL);
    if (rc == 0 && !cand && json_get(json_get(chunk, "promptFeedback"), "blockReason"))
        reason = "SAFETY";
    return rc == 0 && reason ? on_finish(s, reason, out) : rc;
}

int chat_gstream_event(struct chat_gstream *s, const struct sse_event *ev, struct buf *out)
{
    if (s->done)
        return 0;
    cJSON *j = json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true);
    const cJSON *chunk = gemini_envelope_unwrap(j);
    int rc = cJSON_IsObject(chunk) ? on_chunk(s, chunk, out) : 0;
    cJSON_Delete(j);
    return rc;
}
