/* fuzz_sse.c - the SSE parser and Anthropic usage extraction: any split of
 * the input must give the same events and the same usage as the whole. */
#include "compat.h"
#include "sse.h"
#include "usage.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
    unsigned long long hash;
    struct usage u;
};

static int on_event(void *arg, const struct sse_event *ev)
{
    struct acc *a = arg;
    for (const char *p = ev->event; *p; p++)
        a->hash = a->hash * 31 + (unsigned char)*p;
    for (size_t i = 0; i < ev->data_len; i++)
        a->hash = a->hash * 131 + (unsigned char)ev->data[i];
    usage_from_anthropic_event(&a->u, ev);
    return 0;
}

static int run(const uint8_t *data, size_t size, size_t split, struct acc *a)
{
    struct sse_parser p;
    memset(a, 0, sizeof(*a));
    sse_init(&p, 1024, on_event, a);
    int rc = sse_feed(&p, (const char *)data, split);
    if (rc == 0)
        rc = sse_feed(&p, (const char *)data + split, size - split);
    sse_release(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acc whole, parts;
    int r1 = run(data, size, size, &whole);
    int r2 = run(data, size, size / 2, &parts);
    if (r1 == 0 && r2 == 0 &&
        (whole.hash != parts.hash || usage_total(&whole.u) != usage_total(&parts.u)))
        abort();
    return 0;
}
