/* fuzz_json.c - bounded JSON parsing, typed getters, body usage and the model splice. */
#include "compat.h"
#include "json.h"
#include "usage.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = json_parse((const char *)data, size, JSON_MAX_DEPTH, false);
    if (j) {
        (void)json_str(j, "model", NULL);
        (void)json_int(j, "max_tokens", 0);
        (void)json_bool(j, "stream", false);
        char *s = json_print(j);
        free(s);
        cJSON_Delete(j);
    }
    char *out = NULL;
    size_t n = 0;
    if (json_replace_member((const char *)data, size, "model", "\"m\"", &out, &n) == 0)
        free(out); /* any text: never reads past size */
    struct usage u = {0};
    usage_from_anthropic_body(&u, (const char *)data, size);
    return 0;
}
