/*
 * sse.h - incremental Server-Sent Events parser (and frame encoder).
 *
 * Pure and allocation-bounded: feed bytes in any chunking, get one callback
 * per complete event (after its blank line). Handles \n, \r\n and \r line
 * ends, "event:", "data:" (multi-line data joined with \n), "id:", comment
 * lines (": ..."), and a leading UTF-8 BOM. A line or event larger than the
 * configured maximum is an error (-ERR_TOOBIG) and the parser must be reset.
 * Fuzzed by test/fuzz/fuzz_sse.c.
 */
#ifndef RELAY_SSE_H
#define RELAY_SSE_H

#include <stddef.h>

#include "buf.h"

struct sse_event {
    const char *event; /* "" when the event had no event: line ("message" semantics) */
    const char *data;  /* joined data lines, NUL-terminated */
    size_t data_len;
    const char *id; /* "" when absent */
};

/* Return non-zero to stop parsing (sse_feed then returns that value). */
typedef int (*sse_event_fn)(void *arg, const struct sse_event *ev);

struct sse_parser {
    struct buf line;  /* current partial line */
    struct buf event; /* current event name */
    struct buf data;  /* current data */
    struct buf id;
    int state; /* internal: pending CR, BOM check */
    int has_data;
    sse_event_fn cb;
    void *arg;
};

/* max bounds each of line, data and event. */
void sse_init(struct sse_parser *p, size_t max, sse_event_fn cb, void *arg);
void sse_release(struct sse_parser *p);
void sse_reset(struct sse_parser *p);
/* Feed bytes; returns 0, -ERR_TOOBIG, or the callback's non-zero value. */
int sse_feed(struct sse_parser *p, const char *data, size_t len);
/* Encode "event: <event>\ndata: <data>\n\n" (multi-line data split) into out. */
int sse_encode(struct buf *out, const char *event, const char *data);

#endif
