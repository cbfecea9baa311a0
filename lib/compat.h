/*
 * compat.h - project-wide includes and bans.
 *
 * Every .c file in lib/ and server/ includes this first. It poisons the
 * unbounded string functions (curl/haproxy bans) so they cannot creep back.
 */
#ifndef RELAY_COMPAT_H
#define RELAY_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void)(x))
#define WUR __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Invariant check: a broken invariant is a bug, so die loudly. */
#define BUG_ON(cond)                                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            fprintf(stderr, "BUG: %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#ifndef RELAY_NO_POISON
#pragma GCC poison sprintf strcpy strcat strtok atoi gets
#endif

#endif
