/*
 * harness.h - a tiny unit-test harness.
 *
 * A test file defines TEST(name) functions and lists them in a
 * `static const struct test tests[]` passed to harness_main(). CHECK()
 * records a failure and continues; REQUIRE() also returns from the test.
 * The last line printed is "N passed, N failed", counting assertions' tests.
 */
#ifndef RELAY_TEST_HARNESS_H
#define RELAY_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

struct test {
    const char *name;
    void (*fn)(void);
};

extern int harness_failed_checks;

#define TEST(name) static void name(void)
#define T(name) {#name, name}

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
            harness_failed_checks++;                                                      \
        }                                                                                 \
    } while (0)

#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);  \
            harness_failed_checks++;                                                      \
            return;                                                                       \
        }                                                                                 \
    } while (0)

static inline int harness_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}
#define CHECK_STR(a, b) CHECK(harness_streq((a), (b)))
#define CHECK_INT(a, b)                                                                   \
    do {                                                                                  \
        long long _a = (long long)(a), _b = (long long)(b);                               \
        if (_a != _b) {                                                                   \
            fprintf(stderr, "  %s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #a, _a, _b); \
            harness_failed_checks++;                                                      \
        }                                                                                 \
    } while (0)

/* Runs every test (or those named in argv), prints the summary, returns the exit code. */
int harness_main(int argc, char **argv, const struct test *tests, size_t ntests);

#endif
