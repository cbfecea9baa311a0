/*
 * json.c - bounded cJSON parsing and typed getters (see json.h).
 * json_depth() scans the text first so cJSON's recursion never goes past
 * the cap, whatever the input.
 */
#include "compat.h"
#include "json.h"
#include "xmalloc.h"

#include <ctype.h>
#include <math.h>

int json_depth(const char *data, size_t len)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

cJSON *json_parse(const char *data, size_t len, int max_depth, bool require_container)
{
    if (!data || json_depth(data, len) > max_depth)
        return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(data, len, &end, false);
    if (!j)
        return NULL;
    for (const char *p = end; p && p < data + len; p++) {
        if (!isspace((unsigned char)*p) && *p != '\0') {
            cJSON_Delete(j);
            return NULL;
        }
    }
    if (require_container && !cJSON_IsObject(j) && !cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

const cJSON *json_get(const cJSON *obj, const char *name)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

const char *json_str(const cJSON *obj, const char *name, const char *dflt)
{
    const cJSON *v = json_get(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}

long long json_int(const cJSON *obj, const char *name, long long dflt)
{
    const cJSON *v = json_get(obj, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble > 9.2e18 ||
        v->valuedouble < -9.2e18)
        return dflt;
    return (long long)v->valuedouble;
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
    char *s = cJSON_PrintUnformatted(item);
    if (!s)
        return xstrdup("null");
    /* cJSON allocates with its own hooks (malloc by default): hand back as is. */
    return s;
}
