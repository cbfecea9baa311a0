/*
 * chat_in.h - reading OpenAI chat completions requests: what every
 * conversion out of chat checks the same way (tools, tool_choice, n) and
 * the error naming the field. Shared by chat_claude, chat_responses and chat_gemini.
 */
#ifndef RELAY_CHAT_IN_H
#define RELAY_CHAT_IN_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Write the refusal into err; returns -ERR_INVAL. */
int chat_in_fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One checked tool: its name, description ("" when none), parameters
 * (NULL when none) and strict (NULL when not given). */
struct chat_tool {
    const char *name;
    const char *description;
    const struct cJSON *parameters;
    const struct cJSON *strict;
};

/* The body's tools, each checked ({type: function, function: {name, ...}})
 * and turned into the target's shape by fn, as an array in *out (NULL when
 * the body has no tools). 0, or -ERR_INVAL with err naming the tool. */
int chat_in_tools(const struct cJSON *chat, struct cJSON *(*fn)(const struct chat_tool *t),
                  struct cJSON **out, char *err, size_t len) __attribute__((warn_unused_result));

enum chat_choice { CHOICE_UNSET = 0, CHOICE_AUTO, CHOICE_NONE, CHOICE_REQUIRED, CHOICE_NAMED };

/* tool_choice: which, and the name for CHOICE_NAMED (borrowed from chat).
 * 0 or -ERR_INVAL with err. */
int chat_in_tool_choice(const struct cJSON *chat, enum chat_choice *which, const char **name,
                        char *err, size_t len) __attribute__((warn_unused_result));

/* A data:<media type>;base64,<data> URL: true with its media type
 * (malloc'd, the caller frees) and its data (borrowed from url); false
 * (nothing written) when url is not one. */
bool chat_in_data_url(const char *url, char **media_type, const char **data);

/* n must be absent or 1. 0 or -ERR_INVAL with err. */
int chat_in_one_choice(const struct cJSON *chat, char *err, size_t len)
    __attribute__((warn_unused_result));

#endif
