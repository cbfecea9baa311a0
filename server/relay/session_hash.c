/* session_hash.c - sticky-session keys (see session_hash.h). */
#include "compat.h"
#include "buf.h"
#include "clients.h"
#include "errs.h"
#include "secret.h"
#include "session_hash.h"

#include "json.h"

#define HASHED_HEX 32        /* sha256 hex characters kept */
#define TEXT_MAX (64u << 20) /* bounded by the request body already */

/* Members of an array only (cJSON_ArrayForEach would walk an object's too). */
static const cJSON *array_or_null(const cJSON *x)
{
    return cJSON_IsArray(x) ? x : NULL;
}

static bool is_ephemeral(const cJSON *o)
{
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(o, "cache_control");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cc, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, "ephemeral") == 0;
}

static void add_text(struct buf *b, const cJSON *part)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (cJSON_IsString(t) && buf_append_str(b, t->valuestring) != 0)
        buf_reset(b); /* over the bound: cannot happen for a body within limits */
}

/* A message's text: its string content, or its type "text" parts. */
static void message_text(struct buf *b, const cJSON *msg)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content"), *p;
    if (cJSON_IsString(c) && buf_append_str(b, c->valuestring) != 0)
        buf_reset(b);
    cJSON_ArrayForEach(p, array_or_null(c))
    {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (cJSON_IsString(ty) && strcmp(ty->valuestring, "text") == 0)
            add_text(b, p);
    }
}

static bool message_cached(const cJSON *msg)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content"), *p;
    if (cJSON_IsString(c))
        return is_ephemeral(msg);
    cJSON_ArrayForEach(p, array_or_null(c))
    {
        if (is_ephemeral(p))
            return true;
    }
    return false;
}

/* Does any message carry an ephemeral cache_control? */
static bool any_cached(const cJSON *messages)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, array_or_null(messages))
    {
        if (message_cached(m))
            return true;
    }
    return false;
}

/* The first message that has text (the original's choice, not the cached one). */
static void first_text(struct buf *b, const cJSON *messages)
{
    const cJSON *m;
    size_t before = b->len;
    cJSON_ArrayForEach(m, array_or_null(messages))
    {
        message_text(b, m);
        if (b->len > before)
            return;
    }
}

/* Step 2: the cached prefix. */
static void cached_text(struct buf *b, const cJSON *system, const cJSON *messages)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, array_or_null(system))
    {
        if (is_ephemeral(p))
            add_text(b, p);
    }
    if (any_cached(messages))
        first_text(b, messages);
}

/* Steps 3 and 4: the system text, else the first message's. */
static void plain_text(struct buf *b, const cJSON *system, const cJSON *messages)
{
    const cJSON *p;
    if (cJSON_IsString(system) && buf_append_str(b, system->valuestring) != 0)
        buf_reset(b);
    cJSON_ArrayForEach(p, array_or_null(system)) add_text(b, p);
    if (b->len == 0 && cJSON_IsArray(messages) && cJSON_GetArraySize(messages) > 0)
        message_text(b, cJSON_GetArrayItem(messages, 0));
}

int session_hash(const struct client_facts *f, char *out, size_t len)
{
    char sid[64], hex[65];
    if (len < SESSION_HASH_MAX)
        return -ERR_TOOBIG;
    if (client_session_id(f, sid, sizeof(sid)) == 0) {
        snprintf(out, len, "%s", sid);
        return 0;
    }
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(f->body, "system");
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(f->body, "messages");
    struct buf b;
    buf_init(&b, TEXT_MAX);
    cached_text(&b, system, messages);
    if (b.len == 0)
        plain_text(&b, system, messages);
    int rc = b.len ? 0 : -ERR_NOTFOUND;
    if (rc == 0) {
        secret_sha256_hex(b.data, b.len, hex);
        snprintf(out, len, "%.*s", HASHED_HEX, hex);
    }
    buf_release(&b);
    return rc;
}

static const char *openai_session_source(const struct client_facts *f)
{
    static const char *const headers[] = {"session_id", "session-id", "x-session-id"};
    static const char *const fields[] = {"session_id", "conversation_id", "prompt_cache_key"};
    for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
        const char *v = f->header(f->ctx, headers[i]);
        if (v && *v)
            return v;
    }
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->body, fields[i]);
        if (cJSON_IsString(v) && *v->valuestring)
            return v->valuestring;
    }
    return NULL;
}

int session_hash_openai(const struct client_facts *f, char *out, size_t len)
{
    char hex[65];
    if (len < SESSION_HASH_MAX)
        return -ERR_TOOBIG;
    const char *src = openai_session_source(f);
    if (!src)
        return -ERR_NOTFOUND;
    secret_sha256_hex(src, strlen(src), hex);
    snprintf(out, len, "%.*s", HASHED_HEX, hex);
    return 0;
}
