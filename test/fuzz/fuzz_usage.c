/* fuzz_usage.c - usage extraction from Anthropic SSE events (any event name,
 * any data) and from whole JSON bodies (server/store/usage.c). Counts must
 * stay non-negative whatever the input says. */
#include "compat.h"
#include "sse.h"
#include "usage.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"message_start", "message_delta", "content_block_delta",
                                    "error", "message"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    struct usage u = {0};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct sse_event ev = {.event = names[i], .data = copy, .data_len = size, .id = ""};
        usage_from_anthropic_event(&u, &ev);
    }
    usage_from_anthropic_body(&u, copy, size);
    if (usage_total(&u) < 0)
        abort();
    free(copy);
    return 0;
}
