/* gemini.h - what gemini.c and gemini_models.c share (the Gemini format). */
#ifndef RELAY_GEMINI_H
#define RELAY_GEMINI_H

#include <stdbool.h>
#include <stddef.h>

struct reqctx;

/* GET .../models: the models the relay's Gemini accounts serve. */
void gemini_h_models(struct reqctx *rq);
/* GET .../models/<model>: one of them, or 404. */
void gemini_h_model(struct reqctx *rq);
/* Reply with Google's error shape {"error":{"code","message","status"}}. */
void gemini_reply_status(struct reqctx *rq, int status, const char *message);

/* A model name that may stand in an upstream URL path (gemini-api
 * accounts put it there: .../models/<model>:<method>): 1 to max-1
 * characters of [A-Za-z0-9._-]. The route's segment is percent-decoded, so
 * "%2F..%2F" or "%3F" would otherwise reach the account's URL; a name too
 * long for the request's buffer would be cut silently. Pure. */
bool gemini_model_ok(const char *model, size_t max);

#endif
