/*
 * sse.c - incremental Server-Sent Events parser and frame encoder (see sse.h).
 *
 * DESIGN: WHATWG "event stream interpretation". Bytes are cut into lines at
 * \n, \r\n or \r; the current partial line lives in p->line until its end
 * arrives, so any chunking gives the same events. A \r that ends one chunk
 * followed by a \n that starts the next is ONE line end: the \r ends the line
 * at once and ST_CR remembers to swallow the \n. The UTF-8 BOM is stripped
 * from the first line of the stream only (ST_STARTED).
 *
 * Fields: "data" appends value + "\n" (the last \n is dropped at dispatch),
 * "event" sets the event type, "id" sets the last event id (ignored when it
 * holds a NUL; it persists across events), anything else is ignored. A blank
 * line dispatches when a data line was seen, then clears data and event type.
 *
 * Bounds: p->line, p->event, p->data and p->id all share max, so a peer
 * cannot make the parser hold more than about 4 * max bytes.
 */
#include "compat.h"
#include "errs.h"
#include "sse.h"

#define ST_CR 1      /* the last byte seen was a \r line end */
#define ST_STARTED 2 /* the first line has been seen (BOM check done) */

static const char bom[] = "\xEF\xBB\xBF";

void sse_init(struct sse_parser *p, size_t max, sse_event_fn cb, void *arg)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->line, max);
    buf_init(&p->event, max);
    buf_init(&p->data, max);
    buf_init(&p->id, max);
    p->cb = cb;
    p->arg = arg;
}

void sse_release(struct sse_parser *p)
{
    buf_release(&p->line);
    buf_release(&p->event);
    buf_release(&p->data);
    buf_release(&p->id);
    p->state = 0;
    p->has_data = 0;
}

void sse_reset(struct sse_parser *p)
{
    buf_reset(&p->line);
    buf_reset(&p->event);
    buf_reset(&p->data);
    buf_reset(&p->id);
    p->state = 0;
    p->has_data = 0;
}

/* Blank line: hand the event to the callback (if a data line was seen), then
 * start a new event. The id persists (it is the stream's last event id). */
static int dispatch(struct sse_parser *p)
{
    int rc = 0;
    if (p->has_data) {
        size_t len = p->data.len;
        if (len && p->data.data[len - 1] == '\n')
            p->data.data[--len] = '\0'; /* data.len is reset below anyway */
        struct sse_event ev = {
            .event = p->event.len ? p->event.data : "",
            .data = len ? p->data.data : "",
            .data_len = len,
            .id = p->id.len ? p->id.data : "",
        };
        if (p->cb)
            rc = p->cb(p->arg, &ev);
    }
    buf_reset(&p->event);
    buf_reset(&p->data);
    p->has_data = 0;
    return rc;
}

/* Replace b's contents with v[0..vlen). */
static int set_buf(struct buf *b, const char *v, size_t vlen)
{
    buf_reset(b);
    return buf_append(b, v, vlen) ? -ERR_TOOBIG : 0;
}

/* One non-blank, non-comment line: "name[: value]". */
static int field(struct sse_parser *p, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t nlen = colon ? (size_t)(colon - line) : len;
    const char *v = colon ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - v);
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    if (nlen == 4 && memcmp(line, "data", 4) == 0) {
        p->has_data = 1;
        if (buf_append(&p->data, v, vlen) || buf_append(&p->data, "\n", 1))
            return -ERR_TOOBIG;
        return 0;
    }
    if (nlen == 5 && memcmp(line, "event", 5) == 0)
        return set_buf(&p->event, v, vlen);
    if (nlen == 2 && memcmp(line, "id", 2) == 0 && !memchr(v, '\0', vlen))
        return set_buf(&p->id, v, vlen);
    return 0; /* "retry" and unknown fields are ignored */
}

/* The line in p->line is complete. */
static int end_line(struct sse_parser *p)
{
    const char *line = p->line.len ? p->line.data : "";
    size_t len = p->line.len;
    if (!(p->state & ST_STARTED)) {
        p->state |= ST_STARTED;
        if (len >= 3 && memcmp(line, bom, 3) == 0) {
            line += 3;
            len -= 3;
        }
    }
    int rc = 0;
    if (len == 0)
        rc = dispatch(p);
    else if (line[0] != ':')
        rc = field(p, line, len);
    buf_reset(&p->line);
    return rc;
}

/* Bytes before the first \r or \n in d[0..n) (n when none). */
static size_t strcspn_n(const char *d, size_t n)
{
    size_t j = 0;
    while (j < n && d[j] != '\n' && d[j] != '\r')
        j++;
    return j;
}

/* Past the line end at data[j] (\r, \n or \r\n); a \r last in the chunk
 * leaves ST_CR so that a \n starting the next chunk is skipped. */
static size_t past_eol(struct sse_parser *p, const char *data, size_t j, size_t len)
{
    size_t i = j + 1;
    if (data[j] != '\r')
        return i;
    if (i == len)
        p->state |= ST_CR;
    else if (data[i] == '\n')
        i++;
    return i;
}

int sse_feed(struct sse_parser *p, const char *data, size_t len)
{
    if (len == 0)
        return 0; /* keep a pending CR for the next chunk */
    size_t i = 0;
    if ((p->state & ST_CR) && data[0] == '\n')
        i = 1; /* second half of a \r\n split across chunks */
    p->state &= ~ST_CR;
    while (i < len) {
        size_t j = i + strcspn_n(data + i, len - i);
        if (buf_append(&p->line, data + i, j - i) != 0)
            return -ERR_TOOBIG;
        if (j == len)
            break;
        i = past_eol(p, data, j, len);
        int rc = end_line(p);
        if (rc)
            return rc;
    }
    return 0;
}

/* Length of the line at s and of its terminator (0 at the end of s). */
static size_t line_span(const char *s, size_t *eol)
{
    size_t n = strcspn(s, "\r\n");
    if (s[n] == '\0')
        *eol = 0;
    else if (s[n] == '\r' && s[n + 1] == '\n')
        *eol = 2;
    else
        *eol = 1;
    return n;
}

static int encode_frame(struct buf *out, const char *event, const char *data)
{
    if (event && *event && buf_printf(out, "event: %s\n", event))
        return -ERR_TOOBIG;
    const char *s = data ? data : "";
    for (;;) {
        size_t eol, n = line_span(s, &eol);
        if (buf_append(out, "data: ", 6) || buf_append(out, s, n) || buf_append(out, "\n", 1))
            return -ERR_TOOBIG;
        if (!eol)
            break;
        s += n + eol;
    }
    return buf_append(out, "\n", 1) ? -ERR_TOOBIG : 0;
}

int sse_encode(struct buf *out, const char *event, const char *data)
{
    /* An event name with a line break would split the frame. */
    if (event && strpbrk(event, "\r\n"))
        return -ERR_INVAL;
    size_t mark = out->len;
    int rc = encode_frame(out, event, data);
    if (rc != 0) {
        out->len = mark; /* no half frame on the wire */
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}
