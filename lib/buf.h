/*
 * buf.h - growable byte buffer with a mandatory maximum size.
 *
 * Like curl's dynbuf: every append is checked against max and fails with
 * -ERR_TOOBIG instead of growing without bound. The data is always followed
 * by a NUL byte (not counted in len), so text can be used as a C string.
 * A struct buf is embedded by value; buf_release() frees its storage.
 */
#ifndef RELAY_BUF_H
#define RELAY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Forget the contents, keep the storage. */
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t len) __attribute__((warn_unused_result));
int buf_append_str(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)))
__attribute__((warn_unused_result));
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Hand the storage to the caller (free() it); the buf is left empty. */
char *buf_take(struct buf *b, size_t *len);

#endif
