/*
 * json.c - bounded cJSON parsing, typed getters and printing (see json.h).
 *
 * DESIGN: cJSON parses recursively and only stops at its own compile-time
 * CJSON_NESTING_LIMIT (1000), so json_parse first measures the nesting with
 * json_depth(), a linear text scan that knows strings and escapes, and never
 * hands cJSON a text nested deeper than max_depth.
 *
 * cJSON is given a private NUL-terminated copy of the len bytes. Its
 * "length" API still peeks one byte past the end on some truncated inputs
 * (e.g. `{"a":1,` in 1.7.15 before CVE-2023-53154 was patched), and callers
 * hand us slices of larger buffers (an SSE data line, a request body). The
 * copy also keeps require_null_terminated out of the picture: an embedded NUL
 * is trailing garbage here, not the end of the text. After the value only
 * JSON whitespace (space, tab, CR, LF) may follow.
 *
 * Thread-safety: cJSON_ParseWithLengthOpts writes a process-wide "last error"
 * (cJSON_GetErrorPtr) that we never read; everything else is per call.
 */
#include "compat.h"
#include "errs.h"
#include "json.h"
#include "xmalloc.h"

#include <limits.h>
#include <math.h>

/* 2^63 as a double (exact): the first value that does not fit long long. */
#define JSON_LL_LIMIT 9223372036854775808.0

/* Index of the byte that ends the string whose opening quote is at i - 1. */
static size_t skip_string(const char *data, size_t i, size_t len)
{
    for (; i < len; i++) {
        if (data[i] == '\\')
            i++; /* the escaped byte cannot end the string */
        else if (data[i] == '"')
            return i;
    }
    return len;
}

int json_depth(const char *data, size_t len)
{
    int depth = 0, max = 0;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '"') {
            i = skip_string(data, i + 1, len);
        } else if (c == '[' || c == '{') {
            if (depth == INT_MAX)
                return INT_MAX; /* only a > 2 GiB text gets here */
            if (++depth > max)
                max = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--; /* stray closers are cJSON's to reject, not credit */
        }
    }
    return max;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse the NUL-terminated copy; NULL on error or trailing garbage. */
static cJSON *parse_copy(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j)
        return NULL;
    for (const char *p = end; p < text + len; p++) {
        if (!is_json_space(*p)) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

cJSON *json_parse(const char *data, size_t len, int max_depth, bool require_container)
{
    if (!data || len == 0 || json_depth(data, len) > max_depth)
        return NULL;
    char *copy = xmalloc(len + 1);
    memcpy(copy, data, len);
    copy[len] = '\0';
    cJSON *j = parse_copy(copy, len);
    free(copy);
    if (j && require_container && !cJSON_IsObject(j) && !cJSON_IsArray(j)) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One object's own member names: sorted, so a repeat sits next to its twin. */
static bool object_repeats(const cJSON *obj)
{
    size_t n = 0, i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n < 2)
        return false;
    const char **names = xcalloc(n, sizeof(*names));
    for (const cJSON *c = obj->child; c; c = c->next)
        names[i++] = c->string ? c->string : "";
    qsort(names, n, sizeof(*names), cmp_names);
    bool dup = false;
    for (i = 1; i < n && !dup; i++)
        dup = strcmp(names[i - 1], names[i]) == 0;
    free(names);
    return dup;
}

bool json_has_duplicate_keys(const cJSON *item)
{
    if (!item)
        return false;
    if (cJSON_IsObject(item) && object_repeats(item))
        return true;
    for (const cJSON *c = item->child; c; c = c->next)
        if (json_has_duplicate_keys(c))
            return true;
    return false;
}

const cJSON *json_get(const cJSON *obj, const char *name)
{
    return cJSON_IsObject(obj) && name ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

const char *json_str(const cJSON *obj, const char *name, const char *dflt)
{
    const cJSON *v = json_get(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}

long long json_int(const cJSON *obj, const char *name, long long dflt)
{
    const cJSON *v = json_get(obj, name);
    if (!cJSON_IsNumber(v))
        return dflt;
    double d = v->valuedouble;
    /* NaN fails both comparisons; +-inf and |d| >= 2^63 fail one. */
    if (!(d >= -JSON_LL_LIMIT && d < JSON_LL_LIMIT))
        return dflt;
    return (long long)d; /* fractions truncate toward zero */
}

double json_num(const cJSON *obj, const char *name, double dflt)
{
    const cJSON *v = json_get(obj, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : dflt;
}

bool json_bool(const cJSON *obj, const char *name, bool dflt)
{
    const cJSON *v = json_get(obj, name);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

char *json_print(const cJSON *item)
{
    /* cJSON allocates with its hooks, malloc by default (we never change
     * them), so the caller's free() matches. */
    char *s = item ? cJSON_PrintUnformatted(item) : NULL;
    return s ? s : xstrdup("null");
}

void json_set_str(cJSON *obj, const char *name, const char *value)
{
    cJSON_DeleteItemFromObject(obj, name);
    cJSON_AddStringToObject(obj, name, value);
}

/* ---- splicing one member's value ---- */

static size_t skip_space(const char *s, size_t i, size_t len)
{
    while (i < len && is_json_space(s[i]))
        i++;
    return i;
}

/* One past the bracket closing the container that opens at s[i], or 0. */
static size_t container_end(const char *s, size_t i, size_t len)
{
    int depth = 0;
    for (; i < len; i++) {
        if (s[i] == '"')
            i = skip_string(s, i + 1, len);
        else if (s[i] == '{' || s[i] == '[')
            depth++;
        else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
            return i + 1;
    }
    return 0;
}

/* One past the end of the value that starts at s[i], or 0 when the text
 * ends first. Containers are matched by bracket depth outside strings; the
 * value's own validity was cJSON's to judge. */
static size_t value_end(const char *s, size_t i, size_t len)
{
    if (i >= len)
        return 0;
    if (s[i] == '{' || s[i] == '[')
        return container_end(s, i, len);
    if (s[i] == '"') {
        size_t e = skip_string(s, i + 1, len);
        return e < len ? e + 1 : 0;
    }
    while (i < len && !is_json_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']')
        i++;
    return i;
}

static int splice(const char *text, size_t len, size_t from, size_t to, const char *value,
                  char **out, size_t *out_len)
{
    size_t vlen = strlen(value), n = from + vlen + (len - to);
    char *o = xmalloc(n + 1);
    memcpy(o, text, from);
    memcpy(o + from, value, vlen);
    memcpy(o + from + vlen, text + to, len - to);
    o[n] = '\0';
    *out = o;
    *out_len = n;
    return 0;
}

int json_replace_member(const char *text, size_t len, const char *name, const char *value,
                        char **out, size_t *out_len)
{
    size_t nlen = strlen(name), i = skip_space(text, 0, len);
    if (i >= len || text[i] != '{')
        return -ERR_PARSE;
    for (i = skip_space(text, i + 1, len); i < len && text[i] == '"';) {
        size_t kend = skip_string(text, i + 1, len);
        bool match = kend - i - 1 == nlen && memcmp(text + i + 1, name, nlen) == 0;
        size_t colon = skip_space(text, kend + 1, len);
        if (kend >= len || colon >= len || text[colon] != ':')
            return -ERR_PARSE;
        size_t vstart = skip_space(text, colon + 1, len), vend = value_end(text, vstart, len);
        if (!vend)
            return -ERR_PARSE;
        if (match)
            return splice(text, len, vstart, vend, value, out, out_len);
        i = skip_space(text, vend, len);
        if (i >= len || text[i] != ',')
            break;
        i = skip_space(text, i + 1, len);
    }
    return -ERR_NOTFOUND;
}
