/* formats.c - THE list of client formats by path prefix (format.h): which
 * error shape a route's early refusals take. A new format is one line. */
#include "compat.h"
#include "format.h"
#include "json.h"
#include "xmalloc.h"

#include <strings.h>

static const struct {
    const char *prefix;
    const struct client_format *fmt;
} by_prefix[] = {
    {"/openai/", &format_openai_responses},
    {"/api/v1/chat/", &format_openai_chat},
    {"/api/v1/completions", &format_openai_completions},
    {"/gemini/v1internal:", &format_gemini_code_assist},
    {"/gemini/", &format_gemini},
};

const struct client_format *format_for_path(const char *path)
{
    for (size_t i = 0; path && i < ARRAY_SIZE(by_prefix); i++)
        if (strncasecmp(path, by_prefix[i].prefix, strlen(by_prefix[i].prefix)) == 0)
            return by_prefix[i].fmt;
    return &format_anthropic;
}

void format_reply_json(struct stream_reply *out, int status, cJSON *root)
{
    out->status = status;
    out->body = json_print(root);
    out->len = strlen(out->body);
    out->content_type = "application/json";
    cJSON_Delete(root);
}

void format_reply_copy(struct stream_reply *out, int status, const char *body, size_t len)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = xmalloc(len + 1);
    memcpy(out->body, body, len);
    out->body[len] = '\0';
    out->len = len;
}

const char *format_retry_after(int status)
{
    return status == 503 || status == 429 ? "1" : NULL;
}
