/* models.c - model support and mapping of an account (see models.h). */
#include "compat.h"
#include "errs.h"
#include "json.h"
#include "models.h"

#include <strings.h>

static bool has_icase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

bool models_claude_like(const char *model)
{
    static const char *const families[] = {"claude", "sonnet", "opus", "haiku"};
    if (!model)
        return false;
    if (strncasecmp(model, "claude-", 7) == 0)
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(families); i++)
        if (has_icase(model, families[i]))
            return true;
    return false;
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MODELS_NAME_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int models_check(const struct cJSON *v, char *msg, size_t len)
{
    bool list = cJSON_IsArray(v);
    if (!list && !cJSON_IsObject(v)) {
        snprintf(msg, len,
                 " must be an array of model names or an object mapping model names "
                 "to upstream model names");
        return -ERR_INVAL;
    }
    if (cJSON_GetArraySize(v) > MODELS_MAX) {
        snprintf(msg, len, " must have at most %d entries", MODELS_MAX);
        return -ERR_INVAL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || !name_ok(it->valuestring) || (!list && !name_ok(it->string))) {
            snprintf(msg, len, " entries must be model names of 1 to %d printable characters",
                     MODELS_NAME_MAX);
            return -ERR_INVAL;
        }
    }
    return 0;
}

static const cJSON *mapping_of(const cJSON *spec, const char *model)
{
    const cJSON *hit = cJSON_GetObjectItemCaseSensitive(spec, model);
    return hit ? hit : cJSON_GetObjectItem(spec, model); /* exact first, then any case */
}

bool models_match(const struct cJSON *spec, const char *model, const char **upstream)
{
    if (upstream)
        *upstream = NULL;
    if (!spec || cJSON_GetArraySize(spec) == 0)
        return true;
    if (!model)
        return false;
    if (cJSON_IsObject(spec)) {
        const cJSON *to = mapping_of(spec, model);
        if (upstream && cJSON_IsString(to))
            *upstream = to->valuestring;
        return to != NULL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, spec)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, model) == 0)
            return true;
    }
    return false;
}
