/*
 * txn_convert.c - the transaction's output-conversion slot (convert.h):
 * at intake the row for the request's (client format, family) and the
 * upstream body it converts to; at commit a stream filter or a body
 * transform for the stream's hooks. Without a row every call here is a
 * no-op and the upstream's bytes pass unchanged.
 *
 * Usage is never read here: the provider reads it from the upstream's own
 * events and body (the stream's on_event / on_body run before the filter).
 *
 * Before a row, the serving account's provider may unwrap its answer
 * (provider.h, the envelope pair: Code Assist's {"response": ...}). That
 * follows the account, not the request: the same request may fail over
 * from an account that answers plainly to one that wraps, so it is
 * decided again at each commit.
 */
#include "compat.h"
#include "accounts.h"
#include "convert.h"
#include "errs.h"
#include "provider.h"
#include "sse.h"
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
    if (t->req.stream && t->conv->stream_endpoint)
        t->endpoint = t->conv->stream_endpoint;
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
    const struct provider *p = t->acc->prov;
    t->unwrap = p->reshapes && p->unwrap && p->reshapes(t->endpoint);
    t->elems = 0;
    if (!t->conv)
        return t->unwrap;
    conversion_stream_free(t->cs);
    t->created = (long long)time(NULL);
    t->cs = conversion_stream_new(t->conv, t->req.model, t->created, t->req.include_usage);
    return true;
}

/* An unwrapped event the client gets without a row: an SSE frame, or the
 * next element of the JSON array it asked for (the upstream's closing
 * bracket ends it, stream.c). */
static int pass_event(struct txn *t, const struct sse_event *ev, struct buf *out)
{
    if (!t->op->fmt->json_stream)
        return sse_encode(out, *ev->event ? ev->event : NULL, ev->data);
    int rc = buf_append_str(out, t->elems++ ? ",\r\n" : "[");
    return rc ? rc : buf_append(out, ev->data, ev->data_len);
}

int txn_convert_event(struct txn *t, const struct sse_event *ev, struct buf *out)
{
    if (!ev) /* the upstream ended: complete only after its last event */
        return !t->cs || conversion_stream_complete(t->cs) ? 0 : -ERR_IO;
    size_t len = 0;
    char *inner = t->unwrap ? t->acc->prov->unwrap(ev->data, ev->data_len, &len) : NULL;
    struct sse_event in = *ev;
    if (inner) {
        in.data = inner;
        in.data_len = len;
    }
    int rc = t->cs ? conversion_stream_event(t->cs, &in, out) : pass_event(t, &in, out);
    free(inner);
    return rc;
}

char *txn_convert_body(struct txn *t, const char *body, size_t len, size_t *out_len)
{
    size_t n = 0;
    char *inner = t->unwrap ? t->acc->prov->unwrap(body, len, &n) : NULL;
    if (!t->conv) {
        *out_len = n;
        return inner;
    }
    char *ans = conversion_answer(t->conv, inner ? inner : body, inner ? n : len, t->req.model,
                                  t->created, out_len);
    free(inner);
    return ans;
}

void txn_convert_release(struct txn *t)
{
    conversion_stream_free(t->cs);
    t->cs = NULL;
    free(t->conv_body);
    t->conv_body = NULL;
}
