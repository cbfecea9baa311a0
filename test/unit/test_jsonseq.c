/* test_jsonseq.c - the streamed JSON array splitter (lib/jsonseq.c): the
 * same elements and boundaries whatever the chunking, strings holding
 * brackets and escapes, a cut stream, a non-array, an element over the
 * limit. */
#include "compat.h"
#include "errs.h"
#include "harness.h"
#include "jsonseq.h"

#include <stdlib.h>

#define MAX_ELEMS 8

struct seen {
    size_t n;
    char elems[MAX_ELEMS][256];
};

static int on_elem(void *arg, const char *elem, size_t len)
{
    struct seen *s = arg;
    if (s->n < MAX_ELEMS)
        snprintf(s->elems[s->n], sizeof(s->elems[0]), "%.*s", (int)len, elem);
    s->n++;
    return 0;
}

/* Google's framing: "[{..}\n,\r\n{..}\n]", with brackets and quotes in strings. */
static const char stream_text[] = "[{\"a\":\"x]}\\\"[\",\"b\":[1,{\"c\":2}]}\n,\r\n"
                                  "{\"text\":\"{not nested\"}\n,\r\n[3,4]\n]";
static const char *const want[] = {"{\"a\":\"x]}\\\"[\",\"b\":[1,{\"c\":2}]}",
                                   "{\"text\":\"{not nested\"}", "[3,4]"};

/* Feed text in chunks of step bytes (random 1..7 when 0). */
static int feed_chunks(struct jsonseq *j, const char *text, size_t len, size_t step, struct seen *s)
{
    for (size_t off = 0; off < len;) {
        size_t n = step ? step : 1 + (size_t)rand() % 7;
        if (n > len - off)
            n = len - off;
        int rc = jsonseq_feed(j, text + off, n, on_elem, s);
        if (rc != 0)
            return rc;
        off += n;
    }
    return 0;
}

TEST(elements_whatever_the_chunking)
{
    srand(7);
    for (size_t step = 0; step <= strlen(stream_text); step++) {
        for (int round = 0; round < (step ? 1 : 50); round++) {
            struct jsonseq j;
            struct seen s = {0};
            jsonseq_init(&j, 1024);
            CHECK_INT(feed_chunks(&j, stream_text, strlen(stream_text), step, &s), 0);
            CHECK_INT(s.n, 3);
            for (size_t i = 0; i < 3; i++)
                CHECK_STR(s.elems[i], want[i]);
            CHECK_INT(j.count, 3);
            CHECK(j.ended);
            /* just past "[3,4]": what may be forwarded before the closing bracket */
            CHECK_INT(j.boundary, strlen(stream_text) - 2);
            jsonseq_release(&j);
        }
    }
}

TEST(boundary_stops_before_a_partial_element)
{
    struct jsonseq j;
    struct seen s = {0};
    jsonseq_init(&j, 1024);
    const char *part = "[{\"a\":1}\n,\r\n{\"b\":";
    CHECK_INT(jsonseq_feed(&j, part, strlen(part), on_elem, &s), 0);
    CHECK_INT(s.n, 1);
    CHECK_INT(j.boundary, strlen("[{\"a\":1}"));
    CHECK(!j.ended);
    jsonseq_release(&j);
}

TEST(refusals)
{
    struct jsonseq j;
    jsonseq_init(&j, 16);
    CHECK_INT(jsonseq_feed(&j, " \r\n{\"a\":1}", 10, on_elem, NULL), -ERR_PARSE);
    jsonseq_release(&j);
    jsonseq_init(&j, 16);
    const char *big = "[{\"text\":\"0123456789abcdef\"}]";
    CHECK_INT(jsonseq_feed(&j, big, strlen(big), on_elem, NULL), -ERR_TOOBIG);
    jsonseq_release(&j);
    jsonseq_init(&j, 16);
    CHECK_INT(jsonseq_feed(&j, "[]", 2, on_elem, NULL), 0); /* an empty array */
    CHECK(j.ended);
    CHECK_INT(j.count, 0);
    jsonseq_release(&j);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(elements_whatever_the_chunking),
        T(boundary_stops_before_a_partial_element),
        T(refusals),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
