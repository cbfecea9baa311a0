/*
 * jsonseq.h - incremental splitter of a streamed JSON array into its
 * elements ("[{...},\r\n{...}]", as Google's streaming APIs send without
 * alt=sse). Pure: feed bytes in any chunking, get one callback per
 * complete top-level element with its bytes, and the stream offset just
 * past the last complete element (what may be forwarded without cutting
 * one). It only tracks nesting and strings; it does not validate JSON.
 */
#ifndef RELAY_JSONSEQ_H
#define RELAY_JSONSEQ_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* One complete element (NUL-terminated, valid during the call). Return
 * non-zero to stop (jsonseq_feed then returns it). */
typedef int (*jsonseq_fn)(void *arg, const char *elem, size_t len);

struct jsonseq {
    int depth; /* 0 before the array, 1 inside it, more inside an element */
    bool in_str, esc, ended;
    size_t pos;      /* bytes fed so far */
    size_t boundary; /* offset just past the last complete element (or 0) */
    size_t count;    /* complete elements */
    struct buf elem; /* the element being read */
};

/* max: the largest element kept (a larger one makes feed fail). */
void jsonseq_init(struct jsonseq *j, size_t max);
void jsonseq_release(struct jsonseq *j);
/* 0, the callback's non-zero value, -ERR_TOOBIG (an element over max) or
 * -ERR_PARSE (not an array: a byte before '[' that is not whitespace). */
int jsonseq_feed(struct jsonseq *j, const char *data, size_t len, jsonseq_fn cb, void *arg);

#endif
