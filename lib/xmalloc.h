/*
 * xmalloc.h - allocation that never returns NULL.
 *
 * Out of memory aborts the process (tmux, Redis zmalloc): input size limits,
 * not NULL checks, are what protect us. All returned memory is owned by the
 * caller and released with free().
 */
#ifndef RELAY_XMALLOC_H
#define RELAY_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formatted allocation; never NULL. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
