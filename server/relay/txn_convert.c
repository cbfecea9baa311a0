/*
 * txn_convert.c - the transaction's output-conversion slot (convert.h):
 * at intake the row for the request's (client format, family) and the
 * upstream body it converts to; at commit a stream filter or a body
 * transform for the stream's hooks. Without a row every call here is a
 * no-op and the upstream's bytes pass unchanged.
 *
 * Usage is never read here: the provider reads it from the upstream's own
 * events and body (the stream's on_event / on_body run before the filter).
 */
#include "compat.h"
#include "convert.h"
#include "errs.h"
#include "reqctx.h"
#include "txn_int.h"
#include "xmalloc.h"

#include <time.h>

bool txn_convert_request(struct txn *t)
{
    char msg[200];
    t->endpoint = t->op->endpoint;
    t->conv = conversion_find(t->op->fmt->name, t->req.family);
    if (!t->conv)
        return true;
    if (t->conv->endpoint)
        t->endpoint = t->conv->endpoint;
    if (conversion_request(t->conv, reqctx_json(t->rq), &t->conv_body, &t->conv_len, msg,
                           sizeof(msg)) == 0)
        return true;
    txn_fail(t, RERR_BAD_REQUEST, msg);
    return false;
}

const char *txn_body(const struct txn *t, size_t *len)
{
    if (t->conv_body) {
        *len = t->conv_len;
        return t->conv_body;
    }
    return reqctx_body(t->rq, len);
}

bool txn_convert_begin(struct txn *t)
{
    if (!t->conv)
        return false;
    conversion_stream_free(t->cs);
    t->created = (long long)time(NULL);
    t->cs = conversion_stream_new(t->conv, t->req.model, t->created, t->req.include_usage);
    return true;
}

int txn_convert_event(struct txn *t, const struct sse_event *ev, struct buf *out)
{
    if (!ev) /* the upstream ended: complete only after its last event */
        return conversion_stream_complete(t->cs) ? 0 : -ERR_IO;
    return conversion_stream_event(t->cs, ev, out);
}

char *txn_convert_body(struct txn *t, const char *body, size_t len, size_t *out_len)
{
    return conversion_answer(t->conv, body, len, t->req.model, t->created, out_len);
}

void txn_convert_release(struct txn *t)
{
    conversion_stream_free(t->cs);
    t->cs = NULL;
    free(t->conv_body);
    t->conv_body = NULL;
}
