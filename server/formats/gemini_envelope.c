/* gemini_envelope.c - the Code Assist {"response": ...} envelope (see gemini_envelope.h). */
#include "compat.h"
#include "errs.h"
#include "gemini_envelope.h"
#include "json.h"
#include "sse.h"
#include "xmalloc.h"

cJSON *gemini_envelope_wrap(cJSON *request, const char *model, const char *project,
                            const char *prompt_id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model ? model : "");
    if (project && *project)
        cJSON_AddStringToObject(o, "project", project);
    cJSON_AddStringToObject(o, "user_prompt_id", prompt_id ? prompt_id : "");
    cJSON_AddItemToObject(o, "request", request ? request : cJSON_CreateObject());
    return o;
}

const cJSON *gemini_envelope_unwrap(const cJSON *j)
{
    const cJSON *inner = json_get(j, "response");
    return cJSON_IsObject(inner) && !json_get(j, "candidates") ? inner : j;
}

char *gemini_envelope_unwrap_text(const char *data, size_t len, size_t *out_len)
{
    /* Only a text naming "response" can be wrapped: the others pass
     * without being parsed. */
    if (!len || !memmem(data, len, "\"response\"", 10))
        return NULL;
    cJSON *j = json_parse(data, len, JSON_MAX_DEPTH, true);
    const cJSON *inner = gemini_envelope_unwrap(j);
    char *text = j && inner != j ? json_print(inner) : NULL;
    cJSON_Delete(j);
    if (text)
        *out_len = strlen(text);
    return text;
}

cJSON *gemini_envelope_answer(const cJSON *up, const char *model, long long created)
{
    (void)model;
    (void)created;
    return cJSON_Duplicate(gemini_envelope_unwrap(up), true);
}

int gemini_envelope_event(void *s, const struct sse_event *ev, struct buf *out)
{
    (void)s;
    /* Only an event naming "response" can be wrapped: the others pass
     * without being parsed. */
    cJSON *j = memmem(ev->data, ev->data_len, "\"response\"", 10)
                   ? json_parse(ev->data, ev->data_len, JSON_MAX_DEPTH, true)
                   : NULL;
    const cJSON *inner = gemini_envelope_unwrap(j);
    int rc;
    if (j && inner != j) {
        char *text = json_print(inner);
        rc = buf_printf(out, "data: %s\n\n", text);
        free(text);
    } else {
        rc = sse_encode(out, *ev->event ? ev->event : NULL, ev->data);
    }
    cJSON_Delete(j);
    return rc;
}
