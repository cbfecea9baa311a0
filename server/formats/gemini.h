/* gemini.h - what gemini.c and gemini_models.c share (the Gemini format). */
#ifndef RELAY_GEMINI_H
#define RELAY_GEMINI_H

struct reqctx;

/* GET .../models: the models the relay's Gemini accounts serve. */
void gemini_h_models(struct reqctx *rq);
/* GET .../models/<model>: one of them, or 404. */
void gemini_h_model(struct reqctx *rq);
/* Reply with Google's error shape {"error":{"code","message","status"}}. */
void gemini_reply_status(struct reqctx *rq, int status, const char *message);

#endif
