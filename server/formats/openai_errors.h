/*
 * openai_errors.h - the OpenAI error shape {"error":{"message","type",
 * "param","code"}} for every relay refusal, shared by the OpenAI client
 * formats (openai_responses.c, openai_chat.c) so it is written once: the
 * type and code for each relay error, replies before a stream, the
 * stream's replies, key-policy refusals and upstream errors.
 */
#ifndef RELAY_OPENAI_ERRORS_H
#define RELAY_OPENAI_ERRORS_H

#include "format.h"

struct cJSON;

/* OpenAI's type and code (NULL: none) for a relay error. */
void openai_err_kind(enum relay_err e, const char **type, const char **code);
/* {"error":{"message","type","param":null,"code"}} onto root (made when
 * NULL); returns root. */
struct cJSON *openai_err_json(struct cJSON *root, const char *message, const char *type,
                              const char *code);

/* The client_format hooks, in OpenAI's shape (format.h). */
void openai_err_reply(struct reqctx *rq, enum relay_err e, const char *msg);
void openai_err_render(enum relay_err e, const char *msg, struct stream_reply *out);
/* An OpenAI error body passes as the upstream wrote it; an Anthropic one
 * ({"type":"error","error":{"type","message"}}, a chat request served by a
 * Claude account) is re-shaped with its message and type; anything else is
 * wrapped. The status is kept. */
void openai_err_render_upstream(const struct upstream_answer *ans, struct stream_reply *out);
void openai_err_reply_refusal(struct reqctx *rq, struct refusal *r);
void openai_err_render_refusal(struct refusal *r, struct stream_reply *out);

#endif
