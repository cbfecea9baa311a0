/* test_buf.c - lib/buf: the cap holds, consume shifts, printf stays bounded. */
#include "compat.h"
#include "buf.h"
#include "errs.h"
#include "harness.h"

TEST(append_stops_at_cap)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK_INT(buf_append(&b, "12345678", 8), 0);
    CHECK_INT(buf_append(&b, "9", 1), -ERR_TOOBIG);
    CHECK_INT((int)b.len, 8);
    buf_consume(&b, 3);
    CHECK_STR(b.data, "45678");
    buf_release(&b);
}

TEST(printf_bounded_and_terminated)
{
    struct buf b;
    buf_init(&b, 16);
    CHECK_INT(buf_printf(&b, "%s-%d", "ab", 42), 0);
    CHECK_STR(b.data, "ab-42");
    CHECK(buf_printf(&b, "%s", "this is far more than sixteen bytes") != 0);
    CHECK_STR(b.data, "ab-42");
    buf_reset(&b);
    CHECK_INT((int)b.len, 0);
    buf_release(&b);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {T(append_stops_at_cap), T(printf_bounded_and_terminated)};
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
