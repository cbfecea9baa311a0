/* test_clientaddr.c - server/http/clientaddr: the address a trusted proxy
 * appended wins over whatever the client wrote to the left of it. */
#include "compat.h"
#include "clientaddr.h"
#include "errs.h"
#include "harness.h"

static const char *pick(const char *const *v, size_t n, int hops)
{
    static char out[64];
    if (clientaddr_from_xff(v, n, hops, out, sizeof(out)) != 0)
        return "(none)";
    return out;
}

TEST(rightmost_by_default)
{
    const char *one[] = {"1.2.3.4, 10.0.0.7"};
    CHECK_STR(pick(one, 1, 1), "10.0.0.7");
    CHECK_STR(pick(one, 1, 2), "1.2.3.4");
    CHECK_STR(pick(one, 1, 5), "1.2.3.4"); /* shorter than the hops: leftmost */
    const char *single[] = {"  203.0.113.9  "};
    CHECK_STR(pick(single, 1, 1), "203.0.113.9");
}

TEST(several_headers_are_one_list)
{
    const char *v[] = {"6.6.6.6, 7.7.7.7", "198.51.100.1"};
    CHECK_STR(pick(v, 2, 1), "198.51.100.1");
    CHECK_STR(pick(v, 2, 2), "7.7.7.7");
    CHECK_STR(pick(v, 2, 3), "6.6.6.6");
}

TEST(empty_entries_skipped_garbage_refused)
{
    const char *v[] = {"5.5.5.5,, ,"};
    CHECK_STR(pick(v, 1, 1), "5.5.5.5");
    const char *bad[] = {"5.5.5.5, not-an-ip"};
    CHECK_STR(pick(bad, 1, 1), "(none)"); /* the caller keeps the socket address */
    const char *nl[] = {"5.5.5.5, 1.2.3.4\nINFO forged"};
    CHECK_STR(pick(nl, 1, 1), "(none)");
    const char *none[] = {""};
    CHECK_STR(pick(none, 1, 1), "(none)");
    CHECK_STR(pick(NULL, 0, 1), "(none)");
    const char *longv[] = {
        "1.1.1.1, 1111111111111111111111111111111111111111111111111111111111111111"};
    CHECK_STR(pick(longv, 1, 1), "(none)");
}

TEST(ipv6_normalised)
{
    const char *v[] = {"1.2.3.4, 2001:DB8:0:0::1"};
    CHECK_STR(pick(v, 1, 1), "2001:db8::1");
    char small[4];
    CHECK_INT(clientaddr_from_xff(v, 1, 1, small, sizeof(small)), -ERR_NOTFOUND);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {T(rightmost_by_default), T(several_headers_are_one_list),
                                        T(empty_entries_skipped_garbage_refused),
                                        T(ipv6_normalised)};
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
