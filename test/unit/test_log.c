/* test_log.c - lib/log: control bytes are escaped at the sink, so one call
 * is always one line (no forged lines from request paths or headers). */
#include "compat.h"
#include "harness.h"
#include "log.h"

#include <stdlib.h>
#include <unistd.h>

TEST(escape_control_bytes)
{
    char out[64];
    const char in[] = "a\nb\rc\td\x1b[31m\x7f\x01z";
    size_t n = log_escape(out, sizeof(out), in, sizeof(in) - 1);
    CHECK_STR(out, "a\\x0ab\\x0dc\\x09d\\x1b[31m\\x7f\\x01z");
    CHECK_INT(n, strlen(out));
    /* UTF-8 and backslashes pass unchanged. */
    log_escape(out, sizeof(out), "caf\xc3\xa9 \\n", 8);
    CHECK_STR(out, "caf\xc3\xa9 \\n");
}

TEST(escape_never_splits_or_overflows)
{
    char out[6];
    CHECK_INT(log_escape(out, sizeof(out), "ab\ncd", 5), 2); /* "ab" + no room for \x0a */
    CHECK_STR(out, "ab");
    CHECK_INT(log_escape(out, sizeof(out), "\n", 1), 4);
    CHECK_STR(out, "\\x0a");
    CHECK_INT(log_escape(out, 1, "abc", 3), 0);
    CHECK_STR(out, "");
    /* An embedded NUL is a control byte too: the rest is not lost silently. */
    CHECK_INT(log_escape(out, sizeof(out), "a\0b", 3), 5);
    CHECK_STR(out, "a\\x00");
}

/* The file sink: a forged line in a message stays inside its own line. */
TEST(log_file_one_line_per_call)
{
    char dir[] = "/tmp/test_log_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    REQUIRE(log_open(dir, LOG_INFO, 0) == 0);
    log_info("access", "GET %s status=404", "/nope\n2026-01-01T00:00:00.000Z INFO forged x=1");
    log_close();
    char cmd[256], line[1024];
    snprintf(cmd, sizeof(cmd), "cat %s/claude-relay-*.log", dir);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    int lines = 0;
    bool forged = false;
    while (fgets(line, sizeof(line), p)) {
        lines++;
        forged |= strncmp(line, "2026-01-01T00", 13) == 0;
    }
    pclose(p);
    CHECK_INT(lines, 1);
    CHECK(!forged);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {T(escape_control_bytes),
                                        T(escape_never_splits_or_overflows),
                                        T(log_file_one_line_per_call)};
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
