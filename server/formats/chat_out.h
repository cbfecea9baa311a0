/*
 * chat_out.h - building OpenAI chat completion answers (crs-relay-spec
 * 10.1-10.2): the envelope of a completion or a chunk, tool calls, usage
 * and the stream's frames. Shared by every conversion into chat
 * (chat_claude, chat_responses), so the shapes are written once.
 */
#ifndef RELAY_CHAT_OUT_H
#define RELAY_CHAT_OUT_H

#include <stdbool.h>

#include "buf.h"

struct cJSON;

/* Who one answer is: "chatcmpl-<id>", its model and creation time. */
struct chat_out {
    char id[96];
    char model[128];
    long long created;
};

void chat_out_init(struct chat_out *o, const char *id, const char *model, long long created);
/* {id, object: chat.completion | chat.completion.chunk, created, model}. */
struct cJSON *chat_out_envelope(const struct chat_out *o, bool chunk);
/* usage: prompt tokens include the cached ones (given apart as a detail). */
struct cJSON *chat_out_usage(long long prompt, long long completion, long long cached,
                             long long reasoning);
/* A tool call {[index,] id, type: function, function: {name, arguments}};
 * index < 0 leaves it out (a complete answer). */
struct cJSON *chat_out_tool_call(int index, const char *id, const char *name, const char *args);

/* A complete chat.completion with one choice: text (content; null when
 * empty and there are tool calls), calls (an array, taken; left out when
 * empty), finish, usage (taken). */
struct cJSON *chat_out_completion(const struct chat_out *o, const char *text, struct cJSON *calls,
                                  const char *finish, struct cJSON *usage);

/* Stream frames, appended to out; 0 or -ERR_TOOBIG. delta is taken. */
int chat_out_delta(const struct chat_out *o, struct cJSON *delta, const char *finish,
                   struct buf *out) __attribute__((warn_unused_result));
/* A delta carrying one tool call's start (id, name) or arguments piece. */
int chat_out_tool_delta(const struct chat_out *o, struct cJSON *call, struct buf *out)
    __attribute__((warn_unused_result));
/* The usage chunk (stream_options.include_usage; usage taken), then [DONE]. */
int chat_out_usage_chunk(const struct chat_out *o, struct cJSON *usage, struct buf *out)
    __attribute__((warn_unused_result));
int chat_out_done(struct buf *out) __attribute__((warn_unused_result));
/* An error inside a stream, as OpenAI streams carry one: data: {"error":{...}}. */
int chat_out_error(const char *message, const char *type, struct buf *out)
    __attribute__((warn_unused_result));

#endif
