/* registry.c - THE list of upstream providers (see provider.h). */
#include "compat.h"
#include "accounts.h"
#include "errs.h"
#include "json.h"
#include "provider.h"
#include "xmalloc.h"

#include <strings.h>

/* One per line (a trailing comment keeps clang-format from packing them):
 * a merge then adds a line instead of reflowing the table. */
static const struct provider *const providers[] = {
    &provider_claude_console,   /* claude-console */
    &provider_claude_official,  /* claude-official */
    &provider_openai_responses, /* openai-responses */
    &provider_openai,           /* openai (ChatGPT / Codex OAuth) */
    &provider_gemini_oauth,     /* gemini (Google OAuth, Code Assist) */
    &provider_gemini_api,       /* gemini-api */
};

size_t provider_count(void)
{
    return ARRAY_SIZE(providers);
}

const struct provider *provider_at(size_t i)
{
    return i < ARRAY_SIZE(providers) ? providers[i] : NULL;
}

const struct provider *provider_find(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(providers); i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

const struct provider *provider_by_admin_path(const char *segment)
{
    for (size_t i = 0; segment && i < ARRAY_SIZE(providers); i++)
        if (strcmp(providers[i]->admin_path, segment) == 0)
            return providers[i];
    return NULL;
}

const struct account_field *provider_field(const struct provider *p, const char *name)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (strcmp(p->fields[i].name, name) == 0)
            return &p->fields[i];
    return NULL;
}

const char *upstream_header(const struct upstream_answer *a, const char *name)
{
    for (size_t i = 0; i < a->nheaders; i++)
        if (strcasecmp(a->headers[i].name, name) == 0)
            return a->headers[i].value;
    return NULL;
}

void upstream_req_add(struct upstream_req *r, const char *name, const char *value)
{
    if (r->nheaders + 2 > r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->headers = xrealloc(r->headers, r->cap * sizeof(char *));
    }
    r->headers[r->nheaders++] = xasprintf("%s: %s", name, value);
    r->headers[r->nheaders] = NULL;
}

void upstream_req_release(struct upstream_req *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        /* Header lines may carry the account's credential. */
        memset(r->headers[i], 0, strlen(r->headers[i]));
        free(r->headers[i]);
    }
    free(r->headers);
    free(r->url);
    free(r->body);
    free(r->local_body);
    memset(r, 0, sizeof(*r));
}

/* A body whose "model" key is spelt with escapes: cJSON read it, so the
 * whole body is printed again (rare; no byte-for-byte promise then). */
static int reprint_with_model(const struct upstream_call *call, const char *model,
                              struct upstream_req *out)
{
    cJSON *j = json_parse(call->body, call->body_len, JSON_MAX_DEPTH, true);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -ERR_PARSE;
    }
    json_set_str(j, "model", model);
    out->body = json_print(j);
    out->body_len = strlen(out->body);
    cJSON_Delete(j);
    return 0;
}

int upstream_req_set_model(const struct account *acc, const struct upstream_call *call,
                           struct upstream_req *out)
{
    const char *to = acc->prov->map_model && call->model && *call->model
                         ? acc->prov->map_model(acc, call->model)
                         : NULL;
    if (!to || strcmp(to, call->model) == 0)
        return 0;
    cJSON *s = cJSON_CreateString(to);
    char *quoted = json_print(s);
    cJSON_Delete(s);
    free(out->body);
    out->body = NULL;
    int rc = json_replace_member(call->body, call->body_len, "model", quoted, &out->body,
                                 &out->body_len);
    free(quoted);
    return rc == -ERR_NOTFOUND ? reprint_with_model(call, to, out) : rc;
}

static const char *const family_names[MF_COUNT] = {"", "opus", "sonnet"};

enum model_family model_family_of(const char *name)
{
    for (int f = MF_COUNT - 1; name && f > MF_ANY; f--)
        if (strcasestr(name, family_names[f]))
            return (enum model_family)f;
    return MF_ANY;
}

const char *model_family_name(enum model_family f)
{
    return (unsigned)f < MF_COUNT ? family_names[f] : "";
}
