/*
 * convert.h - the output-conversion slot: how a client format is served by
 * an upstream family that speaks another API (docs/architecture.md
 * "Format conversion"). One table row per (client format, upstream
 * family): the upstream endpoint, a request body transform (run at
 * intake, before prepare), a transform of a committed JSON answer and an
 * SSE event filter for a committed event stream (events in, zero or more
 * client frames out, state per stream). A pair without a row is served
 * byte for byte. Upstream error answers are the client format's own
 * business (render_upstream), as are mid-stream errors (error_frame).
 *
 * Pure: no I/O, no shared state; a stream's state belongs to its caller.
 */
#ifndef RELAY_CONVERT_H
#define RELAY_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct cJSON;
struct sse_event;

struct conversion {
    const char *client;   /* client format name, e.g. "openai-chat" */
    const char *family;   /* upstream family, e.g. "claude" */
    const char *endpoint; /* the upstream endpoint; NULL: the route's */
    /* The client body as the upstream's (the caller's). NULL: unchanged.
     * 0, or -ERR_INVAL with err naming the field. */
    int (*request)(const struct cJSON *body, struct cJSON **out, char *err, size_t len);
    /* A complete answer as the client's (the caller's). NULL: unchanged. */
    struct cJSON *(*answer)(const struct cJSON *up, const char *model, long long created);
    /* The stream filter: open, one event at a time, close. NULL: unchanged. */
    void *(*open)(const char *model, long long created, bool include_usage);
    int (*event)(void *s, const struct sse_event *ev, struct buf *out);
    void (*close)(void *s);
    /* True once the upstream's last event (its end or its error) was fed. */
    bool (*done)(const void *s);
    /* The client speaks legacy completions (`prompt` in, `text_completion`
     * out) on top of the chat conversion above. */
    bool legacy;
};

/* The row for client meeting family, or NULL (bytes pass unchanged). */
const struct conversion *conversion_find(const char *client, const char *family);

/* The upstream body (malloc'd text in *out, its length in *len) for the
 * client's parsed body. 0, or -ERR_INVAL with err naming the field. */
int conversion_request(const struct conversion *c, const struct cJSON *body, char **out,
                       size_t *len, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The client's answer (malloc'd, *out_len) for a complete upstream JSON
 * answer, or NULL when the answer cannot be read. */
char *conversion_answer(const struct conversion *c, const char *body, size_t len, const char *model,
                        long long created, size_t *out_len);

/* One converted event stream. */
struct conv_stream;
struct conv_stream *conversion_stream_new(const struct conversion *c, const char *model,
                                          long long created, bool include_usage);
/* One upstream event: append the client's frames to out. 0, or -ERR_TOOBIG
 * when out is full. */
int conversion_stream_event(struct conv_stream *s, const struct sse_event *ev, struct buf *out)
    __attribute__((warn_unused_result));
/* True when the upstream stream reached its end event (or an error the
 * client was shown): a clean end before it is a truncated answer. */
bool conversion_stream_complete(const struct conv_stream *s);
void conversion_stream_free(struct conv_stream *s);

/* Legacy completions (exposed for the unit tests): a `prompt` body as a
 * chat body (the caller's; -ERR_INVAL with err), a chat completion as a
 * text_completion (the caller's), and the chat frames in chat[0..len) as
 * text_completion frames appended to out. */
int legacy_to_chat(const struct cJSON *body, struct cJSON **out, char *err, size_t len)
    __attribute__((warn_unused_result));
struct cJSON *legacy_from_chat(const struct cJSON *chat);
int legacy_frames(const char *chat, size_t len, struct buf *out)
    __attribute__((warn_unused_result));

#endif
