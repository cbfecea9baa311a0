/* registry.c - THE list of upstream providers (see provider.h). */
#include "compat.h"
#include "provider.h"
#include "xmalloc.h"

#include <strings.h>

static const struct provider *const providers[] = {
    &provider_claude_console,
    &provider_claude_official,
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
    memset(r, 0, sizeof(*r));
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
