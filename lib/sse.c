/*
 * sse.c - incremental SSE parser (see sse.h), WHATWG semantics.
 *
 * state bit 1: the previous chunk ended with '\r' (a following '\n' is the
 * same line end); bit 2: past the stream start (BOM check done).
 */
#include "compat.h"
#include "errs.h"
#include "sse.h"

#define ST_CR 1
#define ST_STARTED 2

void sse_init(struct sse_parser *p, size_t max, sse_event_fn cb, void *arg)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->line, max);
    buf_init(&p->event, max);
    buf_init(&p->data, max);
    buf_init(&p->id, 1024);
    p->cb = cb;
    p->arg = arg;
}

void sse_release(struct sse_parser *p)
{
    buf_release(&p->line);
    buf_release(&p->event);
    buf_release(&p->data);
    buf_release(&p->id);
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

static int dispatch(struct sse_parser *p)
{
    int rc = 0;
    if (p->has_data) {
        size_t len = p->data.len;
        if (len && p->data.data[len - 1] == '\n')
            len--;
        if (p->data.data)
            p->data.data[len] = '\0';
        struct sse_event ev = {p->event.data ? p->event.data : "", p->data.data ? p->data.data : "",
                               len, p->id.data ? p->id.data : ""};
        rc = p->cb ? p->cb(p->arg, &ev) : 0;
    }
    buf_reset(&p->event);
    buf_reset(&p->data);
    p->has_data = 0;
    return rc;
}

static int field(struct sse_parser *p, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t nlen = colon ? (size_t)(colon - line) : len;
    const char *v = colon ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - v);
    if (vlen && *v == ' ')
        v++, vlen--;
    if (nlen == 4 && memcmp(line, "data", 4) == 0) {
        p->has_data = 1;
        if (buf_append(&p->data, v, vlen) || buf_append(&p->data, "\n", 1))
            return -ERR_TOOBIG;
    } else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
        buf_reset(&p->event);
        if (buf_append(&p->event, v, vlen))
            return -ERR_TOOBIG;
    } else if (nlen == 2 && memcmp(line, "id", 2) == 0 && !memchr(v, '\0', vlen)) {
        buf_reset(&p->id);
        if (buf_append(&p->id, v, vlen))
            return -ERR_TOOBIG;
    }
    return 0;
}

static int end_line(struct sse_parser *p)
{
    const char *line = p->line.data ? p->line.data : "";
    size_t len = p->line.len;
    if (!(p->state & ST_STARTED)) {
        p->state |= ST_STARTED;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
            line += 3, len -= 3;
    }
    int rc = 0;
    if (len == 0)
        rc = dispatch(p);
    else if (line[0] != ':')
        rc = field(p, line, len);
    buf_reset(&p->line);
    return rc;
}

int sse_feed(struct sse_parser *p, const char *data, size_t len)
{
    for (size_t i = 0; i < len;) {
        if ((p->state & ST_CR) && data[i] == '\n') {
            p->state &= ~ST_CR;
            i++;
            continue;
        }
        p->state &= ~ST_CR;
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (buf_append(&p->line, data + i, j - i) != 0)
            return -ERR_TOOBIG;
        if (j == len)
            break;
        if (data[j] == '\r')
            p->state |= ST_CR;
        int rc = end_line(p);
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

int sse_encode(struct buf *out, const char *event, const char *data)
{
    if (event && *event && buf_printf(out, "event: %s\n", event))
        return -ERR_TOOBIG;
    const char *p = data ? data : "";
    do {
        size_t n = strcspn(p, "\n");
        if (buf_append(out, "data: ", 6) || buf_append(out, p, n) || buf_append(out, "\n", 1))
            return -ERR_TOOBIG;
        p += n;
        if (*p == '\n')
            p++;
        else
            break;
    } while (1);
    return buf_append(out, "\n", 1) ? -ERR_TOOBIG : 0;
}
