/* fuzz_json.c - bounded JSON parsing, typed getters and body usage. */
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
    struct usage u = {0};
    usage_from_anthropic_body(&u, (const char *)data, size);
    return 0;
}
