/* jsonseq.c - streamed JSON array splitter (see jsonseq.h). */
#include "compat.h"
#include "errs.h"
#include "jsonseq.h"

void jsonseq_init(struct jsonseq *j, size_t max)
{
    memset(j, 0, sizeof(*j));
    buf_init(&j->elem, max);
}

void jsonseq_release(struct jsonseq *j)
{
    buf_release(&j->elem);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Inside a string: only its end matters. */
static void in_string(struct jsonseq *j, char c)
{
    if (j->esc)
        j->esc = false;
    else if (c == '\\')
        j->esc = true;
    else if (c == '"')
        j->in_str = false;
}

static int keep(struct jsonseq *j, char c)
{
    return buf_append(&j->elem, &c, 1) != 0 ? -ERR_TOOBIG : 0;
}

/* Before the array: whitespace, then '['. */
static int opening(struct jsonseq *j, char c)
{
    if (c == '[')
        j->depth = 1;
    return c == '[' || is_space(c) ? 0 : -ERR_PARSE;
}

/* Nesting outside strings. */
static void nesting(struct jsonseq *j, char c)
{
    if (c == '"')
        j->in_str = true;
    else if (c == '{' || c == '[')
        j->depth++;
    else if ((c == '}' || c == ']') && --j->depth == 0)
        j->ended = true;
}

/* Byte c (elements are objects or arrays; a scalar element is skipped).
 * 1 when it closed an element, 0, or -ERR_*. */
static int step(struct jsonseq *j, char c)
{
    bool inside = j->depth >= 2; /* within an element before this byte */
    if (j->depth == 0)
        return opening(j, c);
    if (j->in_str)
        in_string(j, c);
    else
        nesting(j, c);
    if ((inside || j->depth >= 2) && keep(j, c) != 0)
        return -ERR_TOOBIG;
    return inside && j->depth == 1 ? 1 : 0;
}

/* An element closed at the byte just fed. */
static int emit(struct jsonseq *j, jsonseq_fn cb, void *arg)
{
    char nul = '\0';
    j->boundary = j->pos;
    j->count++;
    int rc = 0;
    if (buf_append(&j->elem, &nul, 1) == 0)
        rc = cb ? cb(arg, j->elem.data, j->elem.len - 1) : 0;
    buf_reset(&j->elem);
    return rc;
}

int jsonseq_feed(struct jsonseq *j, const char *data, size_t len, jsonseq_fn cb, void *arg)
{
    for (size_t i = 0; i < len && !j->ended; i++) {
        int rc = step(j, data[i]);
        j->pos++;
        if (rc < 0)
            return rc;
        if (rc == 1 && (rc = emit(j, cb, arg)) != 0)
            return rc;
    }
    return 0;
}
