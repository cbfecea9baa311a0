/* errors.c - the relay error table rendered as HTTP replies (errors.h). */
#include "compat.h"
#include "buf.h"
#include "errors.h"
#include "json.h"
#include "reqctx.h"
#include "sse.h"
#include "xmalloc.h"

static const struct {
    int status;
    const char *type;
    const char *msg;
} error_table[] = {
#define RELAY_ERR_ROW(code, status, type, msg) {status, type, msg},
    RELAY_ERRORS(RELAY_ERR_ROW)
#undef RELAY_ERR_ROW
};

int errors_status(enum relay_err e)
{
    return error_table[e].status;
}

const char *errors_type(enum relay_err e)
{
    return error_table[e].type;
}

const char *errors_message(enum relay_err e)
{
    return error_table[e].msg;
}

struct cJSON *errors_body(enum relay_err e, const char *msg)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "error");
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "type", error_table[e].type);
    cJSON_AddStringToObject(err, "message", msg ? msg : error_table[e].msg);
    return root;
}

void errors_reply(struct reqctx *rq, enum relay_err e, const char *msg)
{
    if (error_table[e].status == 401)
        reqctx_set_header(rq, "x-should-retry", "false");
    if (error_table[e].status == 503 || error_table[e].status == 429)
        reqctx_set_header(rq, "retry-after", "1");
    reqctx_reply_json(rq, error_table[e].status, errors_body(e, msg));
}

char *errors_sse_frame(enum relay_err e, const char *msg)
{
    cJSON *body = errors_body(e, msg);
    char *data = json_print(body);
    cJSON_Delete(body);
    struct buf b;
    buf_init(&b, 64 * 1024);
    if (sse_encode(&b, "error", data) != 0)
        buf_reset(&b);
    free(data);
    return buf_take(&b, NULL);
}
