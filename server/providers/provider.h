/*
 * provider.h - the upstream provider adapter interface (curl's Curl_ssl
 * style vtable). One file per provider exports `const struct provider
 * provider_<name>`; providers/registry.c is the only list. A provider turns
 * a relay call into an upstream HTTP request for one account, and reads
 * usage out of the upstream's answer.
 */
#ifndef RELAY_PROVIDER_H
#define RELAY_PROVIDER_H

#include <stddef.h>

#include "sse.h"
#include "usage.h"

struct account;
struct reqctx;

/* What the relay wants sent (the client's request, already validated). */
struct upstream_call {
    const struct reqctx *rq;
    const char *endpoint; /* "messages" or "count_tokens" */
    const char *body;
    size_t body_len;
};

/* What a provider builds: owned strings, released by upstream_req_release. */
struct upstream_req {
    char *url;
    char **headers; /* "Name: value", NULL-terminated */
    size_t nheaders, cap;
};

struct provider {
    const char *name;   /* account type, e.g. "claude-console" */
    const char *family; /* client API family it serves, e.g. "claude" */
    int (*build)(const struct account *acc, const struct upstream_call *call,
                 struct upstream_req *out);
    void (*usage_event)(struct usage *u, const struct sse_event *ev);
    void (*usage_body)(struct usage *u, const char *body, size_t len);
};

/* Find a provider by account type; NULL when unknown. */
const struct provider *provider_find(const char *name);
void upstream_req_add(struct upstream_req *r, const char *name, const char *value);
void upstream_req_release(struct upstream_req *r);

extern const struct provider provider_claude_console;

#endif
