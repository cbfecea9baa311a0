/*
 * chat_in.h - reading OpenAI chat completions requests: what every
 * conversion out of chat reads the same way (content parts, tool calls and
 * their arguments, tools, tool_choice, stop, n, data URLs), the error
 * naming the field, and the turn merging the targets share. Used by
 * chat_claude, chat_responses and chat_gemini.
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

/* What a conversion makes of a message's content parts, on its own state
 * ctx: a text part; an image part from its URL (NULL after writing the
 * refusal with chat_in_fail: not every target takes every URL); add puts
 * a made part into role's turn (taken). */
struct chat_part_ops {
    struct cJSON *(*text)(const char *text);
    struct cJSON *(*image)(void *ctx, const char *url, int i, int k);
    void (*add)(void *ctx, const char *role, struct cJSON *part);
};

/* Each part of messages[i].content as ops' part of role: a non-empty
 * string as one text, an array element by element (text and image_url),
 * null or absent as none. 0, or -ERR_INVAL with err naming the part. */
int chat_in_parts(const struct cJSON *content, int i, const char *role,
                  const struct chat_part_ops *ops, void *ctx, char *err, size_t len)
    __attribute__((warn_unused_result));

/* The texts of a system (or developer) message's content, a string or an
 * array of text parts, in order to fn. 0, fn's error, or -ERR_INVAL with
 * err. */
int chat_in_system_texts(const struct cJSON *content, int i, int (*fn)(void *ctx, const char *text),
                         void *ctx, char *err, size_t len) __attribute__((warn_unused_result));

/* Each of messages[i].tool_calls (absent: none) to fn with its checked
 * arguments (chat_in_call_args; taken by fn). 0, or -ERR_INVAL with err. */
int chat_in_calls(const struct cJSON *calls, int i,
                  void (*fn)(void *ctx, const struct cJSON *tool_call, int k, struct cJSON *args),
                  void *ctx, char *err, size_t len) __attribute__((warn_unused_result));

/* messages[i].tool_calls[k]'s function arguments as a JSON object in
 * *out ("" is {}; the caller's). 0, or -ERR_INVAL with err when the call
 * lacks an id or a function name or its arguments are not an object. */
int chat_in_call_args(const struct cJSON *tool_call, int i, int k, struct cJSON **out, char *err,
                      size_t len) __attribute__((warn_unused_result));

/* stop (a string or an array of strings) as a new array of strings, or
 * NULL when the body has none. */
struct cJSON *chat_in_stop(const struct cJSON *chat);

/* Append item to the last turn of turns (an array of {role, <key>: [...]})
 * when that turn has role, else to a new one: the targets want user and
 * assistant turns to alternate. item is taken. */
void chat_in_append_turn(struct cJSON *turns, const char *role, const char *key,
                         struct cJSON *item);

/* What a conversion does with each role of a chat message, on its own
 * state ctx: system (also developer) and user get messages[i].content,
 * assistant and tool the whole message (content with tool_calls, the
 * tool_call_id with its content). Each returns 0 or -ERR_INVAL. */
struct chat_roles {
    int (*system)(void *ctx, const struct cJSON *content, int i);
    int (*user)(void *ctx, const struct cJSON *content, int i);
    int (*assistant)(void *ctx, const struct cJSON *m, int i);
    int (*tool)(void *ctx, const struct cJSON *m, int i);
};

/* messages, checked (a non-empty array of objects, each a known role)
 * and handed message by message to r. 0, a callback's error, or
 * -ERR_INVAL with err naming the message. */
int chat_in_messages(const struct cJSON *msgs, const struct chat_roles *r, void *ctx, char *err,
                     size_t len) __attribute__((warn_unused_result));

/* n must be absent or 1. 0 or -ERR_INVAL with err. */
int chat_in_one_choice(const struct cJSON *chat, char *err, size_t len)
    __attribute__((warn_unused_result));

#endif
