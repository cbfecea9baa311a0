/* harness.c - runs unit tests and prints "N passed, N failed" (see harness.h). */
#include "harness.h"

#include <stdlib.h>

int harness_failed_checks;

int harness_main(int argc, char **argv, const struct test *tests, size_t ntests)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < ntests; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                wanted |= strcmp(argv[a], tests[i].name) == 0;
            if (!wanted)
                continue;
        }
        int before = harness_failed_checks;
        tests[i].fn();
        if (harness_failed_checks == before) {
            passed++;
            printf("ok   %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
