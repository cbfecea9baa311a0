/*
 * reqctx.h - one HTTP request as handlers see it.
 *
 * httpd.c creates a reqctx when a request arrives, copies the method, path,
 * headers, query and (bounded) body into it on the libmicrohttpd thread, then
 * runs the route handler on a worker thread. The handler reads the request
 * through these accessors and sets exactly one response (reqctx_reply*), or
 * hands the request to the stream module (relay). Everything returned by the
 * accessors is borrowed and lives until the request completes. A reqctx is
 * used by one thread at a time: never keep it after the handler returns,
 * except through a reference (reqctx_ref), which keeps the request's data
 * (headers, body, notes) alive - not its connection.
 *
 * The access line is written when the last reference goes: by then both
 * the connection and any relay transaction are done with the request.
 */
#ifndef RELAY_REQCTX_H
#define RELAY_REQCTX_H

#include <stdbool.h>
#include <stddef.h>

struct reqctx;
struct app;
struct cJSON;

struct app *reqctx_app(const struct reqctx *rq);
/* The request id (also sent as X-Request-ID). */
const char *reqctx_id(const struct reqctx *rq);
const char *reqctx_method(const struct reqctx *rq);
/* The path without query string, as sent. */
const char *reqctx_path(const struct reqctx *rq);
/* Case-insensitive header lookup; NULL when absent. */
const char *reqctx_header(const struct reqctx *rq, const char *name);
size_t reqctx_header_count(const struct reqctx *rq);
/* The i-th header in arrival order (names as sent by the client). */
void reqctx_header_at(const struct reqctx *rq, size_t i, const char **name, const char **value);
/* Query string argument (decoded) or NULL. */
const char *reqctx_query(const struct reqctx *rq, const char *name);
/* Path parameter named in the route pattern (":id" -> "id") or NULL. */
const char *reqctx_param(const struct reqctx *rq, const char *name);
/* The raw body (NUL-terminated; len excludes the NUL). */
const char *reqctx_body(const struct reqctx *rq, size_t *len);
/* The body parsed as JSON (objects and arrays only, nesting capped at 64).
 * Parsed once and cached; borrowed. NULL when empty or invalid, or when an
 * object repeats a member name. */
struct cJSON *reqctx_json(struct reqctx *rq);
/* The parse reqctx_json made, for readers that hold a const request (the
 * relay's intake always parses first); NULL when none was made. */
const struct cJSON *reqctx_json_parsed(const struct reqctx *rq);
/* Client address: the socket peer, or with TRUST_PROXY the X-Forwarded-For
 * entry TRUST_PROXY_HOPS from the right (clientaddr.h). */
const char *reqctx_client_ip(const struct reqctx *rq);

/* Add a response header (copied). */
void reqctx_set_header(struct reqctx *rq, const char *name, const char *value);
/* Set the response. body is taken (malloc'd; freed by the reqctx). */
void reqctx_reply(struct reqctx *rq, int status, const char *content_type, char *body, size_t len);
/* Set a JSON response; json is taken and freed. */
void reqctx_reply_json(struct reqctx *rq, int status, struct cJSON *json);
bool reqctx_has_reply(const struct reqctx *rq);

/* Identity established by authentication, for handlers and the access log. */
void reqctx_set_admin(struct reqctx *rq, const char *username);
const char *reqctx_admin(const struct reqctx *rq);
/* Access-log notes (copied). */
void reqctx_note_key(struct reqctx *rq, const char *key_id);
void reqctx_note_account(struct reqctx *rq, const char *account_id);
void reqctx_note_model(struct reqctx *rq, const char *model);
void reqctx_note_attempts(struct reqctx *rq, const char *attempts);
void reqctx_note_tokens(struct reqctx *rq, long long tokens);
/* The request's cost in micro-USD (unpriced: the model had no price). */
void reqctx_note_cost(struct reqctx *rq, long long micro, bool unpriced);

/* Keep the request past its handler (returns rq); drop it with
 * reqctx_unref. Thread-safe. */
struct reqctx *reqctx_ref(struct reqctx *rq);
void reqctx_unref(struct reqctx *rq);
/* Reply later (a handler that waits on an upstream without holding its
 * worker): after the handler returns, fn(arg) runs on the same worker and
 * the request's connection stays suspended; whoever ends the wait sets the
 * reply (reqctx_reply*) and calls reqctx_resume exactly once, from any
 * thread. Until then rq stays valid. The handler must not touch rq after
 * fn has started it, so fn is where the wait begins. */
void reqctx_defer(struct reqctx *rq, void (*fn)(void *arg), void *arg);
/* Send the reply set for a deferred request (a 500 when none was set).
 * rq must not be used afterwards. Thread-safe. */
void reqctx_resume(struct reqctx *rq);
/* The client socket (for hang-up detection), or -1. Only while the handler
 * runs. */
int reqctx_client_fd(const struct reqctx *rq);
/* True when the handler was started on the I/O thread (route.inline_ok):
 * whatever may touch Redis or wait must move to a worker first. */
bool reqctx_inline(const struct reqctx *rq);
/* True when the client behind fd (reqctx_client_fd, taken while the handler
 * ran) hung up. Valid while the connection stays suspended: libmicrohttpd
 * neither reads nor closes a suspended connection's socket. */
bool reqctx_client_gone(int fd);

#endif
