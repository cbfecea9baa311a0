/* fuzz_request.c - a client request body as the relay takes it: the bounded
 * JSON parse with the duplicate-member refusal (reqctx_json, lib/json.c) and
 * the Anthropic format's validation (model, messages, stream). */
#include "compat.h"
#include "app.h"
#include "config.h"
#include "errors.h"
#include "format.h"
#include "log.h"
#include "reqctx_int.h"

#include <sodium.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct relay_config cfg;
    static struct app app = {.cfg = &cfg};
    static bool ready;
    if (!ready) {
        ready = sodium_init() >= 0;
        log_set_level(LOG_ERROR); /* no access line per input */
    }
    struct reqctx *rq = reqctx_new(&app, NULL, "POST", "/v1/messages", 1024 * 1024);
    if (buf_append(&rq->body, data, size) == 0) {
        struct format_request req = {{0}, false};
        enum relay_err e = RERR_BAD_REQUEST;
        char msg[160];
        if (format_anthropic.validate(rq, "messages", &req, &e, msg, sizeof(msg)) == 0 &&
            (!reqctx_json(rq) || strnlen(req.model, sizeof(req.model)) == sizeof(req.model)))
            abort(); /* accepted without a JSON object, or an unterminated model */
    }
    reqctx_unref(rq);
    return 0;
}
