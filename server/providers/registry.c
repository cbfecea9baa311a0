/* registry.c - THE list of upstream providers (see provider.h). */
#include "compat.h"
#include "provider.h"
#include "xmalloc.h"

static const struct provider *const providers[] = {
    &provider_claude_console,
};

const struct provider *provider_find(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(providers); i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
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
    memset(r, 0, sizeof(*r));
}
