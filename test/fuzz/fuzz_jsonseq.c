/* fuzz_jsonseq.c - the streamed JSON array splitter and Gemini usage
 * extraction: any split of the input must give the same elements, the same
 * boundary and the same usage as the whole. */
#include "compat.h"
#include "jsonseq.h"
#include "usage.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
    unsigned long long hash;
    struct usage u;
};

static int on_elem(void *arg, const char *elem, size_t len)
{
    struct acc *a = arg;
    for (size_t i = 0; i < len; i++)
        a->hash = a->hash * 131 + (unsigned char)elem[i];
    struct sse_event ev = {"", elem, len, ""};
    usage_from_gemini_event(&a->u, &ev);
    return 0;
}

static int run(const uint8_t *data, size_t size, size_t split, struct acc *a, size_t *boundary)
{
    struct jsonseq j;
    memset(a, 0, sizeof(*a));
    jsonseq_init(&j, 1024);
    int rc = jsonseq_feed(&j, (const char *)data, split, on_elem, a);
    if (rc == 0)
        rc = jsonseq_feed(&j, (const char *)data + split, size - split, on_elem, a);
    *boundary = j.boundary;
    jsonseq_release(&j);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acc whole, parts;
    size_t b1, b2;
    int r1 = run(data, size, size, &whole, &b1);
    int r2 = run(data, size, size / 2, &parts, &b2);
    if (r1 != r2 || (r1 == 0 && (whole.hash != parts.hash || b1 != b2 ||
                                 usage_total(&whole.u) != usage_total(&parts.u))))
        abort();
    return 0;
}
