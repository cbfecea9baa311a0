/* chat_in.c - checks shared by the conversions out of chat (see chat_in.h). */
#include "compat.h"
#include "chat_in.h"
#include "errs.h"
#include "json.h"
#include "xmalloc.h"

#include <stdarg.h>

int chat_in_fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -ERR_INVAL;
}

int chat_in_tools(const cJSON *chat, cJSON *(*fn)(const struct chat_tool *t), cJSON **out,
                  char *err, size_t len)
{
    const cJSON *tools = json_get(chat, "tools");
    *out = NULL;
    if (!tools)
        return 0;
    if (!cJSON_IsArray(tools))
        return chat_in_fail(err, len, "tools must be an array");
    cJSON *arr = cJSON_CreateArray();
    int k = 0;
    for (const cJSON *t = tools->child; t; t = t->next, k++) {
        const cJSON *f = json_get(t, "function");
        if (strcmp(json_str(t, "type", ""), "function") != 0 || !*json_str(f, "name", "")) {
            cJSON_Delete(arr);
            return chat_in_fail(err, len,
                                "tools[%d] must be {type: \"function\", function: {name, ...}}", k);
        }
        const cJSON *params = json_get(f, "parameters");
        const cJSON *strict = json_get(f, "strict");
        struct chat_tool ct = {json_str(f, "name", ""), json_str(f, "description", ""),
                               cJSON_IsObject(params) ? params : NULL,
                               cJSON_IsBool(strict) ? strict : NULL};
        cJSON_AddItemToArray(arr, fn(&ct));
    }
    *out = arr;
    return 0;
}

int chat_in_tool_choice(const cJSON *chat, enum chat_choice *which, const char **name, char *err,
                        size_t len)
{
    static const struct {
        const char *name;
        enum chat_choice which;
    } words[] = {{"auto", CHOICE_AUTO}, {"none", CHOICE_NONE}, {"required", CHOICE_REQUIRED}};
    const cJSON *tc = json_get(chat, "tool_choice");
    *which = CHOICE_UNSET;
    *name = json_str(json_get(tc, "function"), "name", "");
    for (size_t i = 0; cJSON_IsString(tc) && i < ARRAY_SIZE(words); i++)
        if (strcmp(tc->valuestring, words[i].name) == 0)
            *which = words[i].which;
    if (*which == CHOICE_UNSET && cJSON_IsObject(tc) && **name)
        *which = CHOICE_NAMED;
    if (tc && *which == CHOICE_UNSET)
        return chat_in_fail(err, len,
                            "tool_choice must be auto, none, required or {type: "
                            "\"function\", function: {name}}");
    return 0;
}

int chat_in_one_choice(const cJSON *chat, char *err, size_t len)
{
    const cJSON *n = json_get(chat, "n");
    if (n && (!cJSON_IsNumber(n) || n->valuedouble != 1))
        return chat_in_fail(err, len, "n: only 1 choice is supported");
    return 0;
}

bool chat_in_data_url(const char *url, char **media_type, const char **data)
{
    const char *comma = strchr(url, ',');
    if (strncmp(url, "data:", 5) != 0 || !comma || comma - url <= 12 ||
        strncmp(comma - 7, ";base64", 7) != 0)
        return false;
    *media_type = xstrndup(url + 5, (size_t)(comma - 7 - (url + 5)));
    *data = comma + 1;
    return true;
}

/* One element of a content array as ops' part (NULL after a refusal). */
static cJSON *one_part(const cJSON *part, int i, int k, const struct chat_part_ops *ops, void *ctx,
                       char *err, size_t len)
{
    const char *type = json_str(part, "type", "");
    if (strcmp(type, "text") == 0 && cJSON_IsString(json_get(part, "text")))
        return ops->text(json_str(part, "text", ""));
    if (strcmp(type, "image_url") == 0) {
        const cJSON *iu = json_get(part, "image_url");
        return ops->image(ctx, cJSON_IsString(iu) ? iu->valuestring : json_str(iu, "url", ""), i,
                          k);
    }
    chat_in_fail(err, len,
                 "messages[%d].content[%d].type '%.40s' is not supported here (text, image_url)", i,
                 k, type);
    return NULL;
}

int chat_in_parts(const cJSON *content, int i, const char *role, const struct chat_part_ops *ops,
                  void *ctx, char *err, size_t len)
{
    if (cJSON_IsString(content)) {
        if (*content->valuestring)
            ops->add(ctx, role, ops->text(content->valuestring));
        return 0;
    }
    if (!content || cJSON_IsNull(content))
        return 0;
    if (!cJSON_IsArray(content))
        return chat_in_fail(err, len, "messages[%d].content must be a string or an array of parts",
                            i);
    int k = 0;
    for (const cJSON *p = content->child; p; p = p->next, k++) {
        cJSON *made = one_part(p, i, k, ops, ctx, err, len);
        if (!made)
            return -ERR_INVAL;
        ops->add(ctx, role, made);
    }
    return 0;
}

int chat_in_system_texts(const cJSON *content, int i, int (*fn)(void *ctx, const char *text),
                         void *ctx, char *err, size_t len)
{
    if (cJSON_IsString(content))
        return fn(ctx, content->valuestring);
    if (!cJSON_IsArray(content))
        return chat_in_fail(err, len,
                            "messages[%d].content must be a string or an array of text parts", i);
    for (const cJSON *p = content->child; p; p = p->next) {
        if (!cJSON_IsString(json_get(p, "text")))
            return chat_in_fail(err, len,
                                "messages[%d].content: a system message takes text parts only", i);
        int rc = fn(ctx, json_str(p, "text", ""));
        if (rc)
            return rc;
    }
    return 0;
}

int chat_in_calls(const cJSON *calls, int i,
                  void (*fn)(void *ctx, const cJSON *tool_call, int k, cJSON *args), void *ctx,
                  char *err, size_t len)
{
    int k = 0;
    for (const cJSON *tc = calls ? calls->child : NULL; tc; tc = tc->next, k++) {
        cJSON *args = NULL;
        int rc = chat_in_call_args(tc, i, k, &args, err, len);
        if (rc)
            return rc;
        fn(ctx, tc, k, args);
    }
    return 0;
}

int chat_in_call_args(const cJSON *tc, int i, int k, cJSON **out, char *err, size_t len)
{
    const cJSON *fn = json_get(tc, "function");
    const char *args = json_str(fn, "arguments", "");
    cJSON *obj = NULL;
    if (*json_str(fn, "name", "") && *json_str(tc, "id", ""))
        obj = *args ? json_parse(args, strlen(args), JSON_MAX_DEPTH, true) : cJSON_CreateObject();
    if (cJSON_IsObject(obj)) {
        *out = obj;
        return 0;
    }
    cJSON_Delete(obj);
    return chat_in_fail(err, len,
                        "messages[%d].tool_calls[%d] needs an id, a function name and JSON "
                        "object arguments",
                        i, k);
}

cJSON *chat_in_stop(const cJSON *chat)
{
    const cJSON *stop = json_get(chat, "stop");
    if (!cJSON_IsString(stop) && !cJSON_IsArray(stop))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    if (cJSON_IsString(stop))
        cJSON_AddItemToArray(arr, cJSON_CreateString(stop->valuestring));
    for (const cJSON *s = cJSON_IsArray(stop) ? stop->child : NULL; s; s = s->next)
        if (cJSON_IsString(s))
            cJSON_AddItemToArray(arr, cJSON_CreateString(s->valuestring));
    return arr;
}

void chat_in_append_turn(cJSON *turns, const char *role, const char *key, cJSON *item)
{
    cJSON *last = cJSON_GetArrayItem(turns, cJSON_GetArraySize(turns) - 1);
    if (!last || strcmp(json_str(last, "role", ""), role) != 0) {
        last = cJSON_CreateObject();
        cJSON_AddStringToObject(last, "role", role);
        cJSON_AddArrayToObject(last, key);
        cJSON_AddItemToArray(turns, last);
    }
    cJSON_AddItemToArray(cJSON_GetObjectItem(last, key), item);
}

static int in_message(const cJSON *m, int i, const struct chat_roles *r, void *ctx, char *err,
                      size_t len)
{
    const char *role = json_str(m, "role", "");
    const cJSON *content = json_get(m, "content");
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return r->system(ctx, content, i);
    if (strcmp(role, "user") == 0)
        return r->user(ctx, content, i);
    if (strcmp(role, "assistant") == 0)
        return r->assistant(ctx, m, i);
    if (strcmp(role, "tool") == 0)
        return r->tool(ctx, m, i);
    return chat_in_fail(err, len,
                        "messages[%d].role '%.20s' is not supported (system, developer, user, "
                        "assistant, tool)",
                        i, role);
}

int chat_in_messages(const cJSON *msgs, const struct chat_roles *r, void *ctx, char *err,
                     size_t len)
{
    if (!cJSON_IsArray(msgs) || !msgs->child)
        return chat_in_fail(err, len, "messages must be a non-empty array");
    int i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        int rc = cJSON_IsObject(m) ? in_message(m, i, r, ctx, err, len)
                                   : chat_in_fail(err, len, "messages[%d] must be an object", i);
        if (rc)
            return rc;
    }
    return 0;
}
