/*
 * claude_call.h - one side call to Claude's OAuth endpoints (crs-relay-spec
 * 9.1): the token endpoint (code exchange, refresh), the profile and the
 * usage endpoint. The request runs on lib/httpc (no thread waits for it);
 * the answer, bounded, is handed to a worker, which may use Redis.
 */
#ifndef RELAY_CLAUDE_CALL_H
#define RELAY_CLAUDE_CALL_H

#include <stdbool.h>
#include <stddef.h>

struct app;

struct claude_call_req {
    const char *method;         /* "GET" or "POST" */
    const char *url;            /* the endpoint (from the config) */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; NULL: none */
    const char *bearer; /* access token: Authorization: Bearer + the OAuth beta; NULL: none */
    const char *body;   /* request body (JSON), or NULL */
    const char *proxy;  /* curl proxy URL (the account's), or NULL */
    const char *what;   /* for the log: "token", "profile", "usage" */
};

struct claude_call_result {
    int result;       /* 0, a transfer error (-ERR_UPSTREAM, -ERR_TIMEOUT, ...), or -ERR_BUSY */
    int status;       /* HTTP status of the answer; 0 when none */
    const char *body; /* the answer (bounded), NUL-terminated */
    size_t len;
    bool on_worker; /* false only when no worker could take it: then no Redis may be used */
};

/* The headers of a GET to the profile or usage endpoint (with a bearer). */
extern const char *const claude_call_api_headers[];

/* Called once per claude_call; owns nothing of res after it returns (the
 * answer is wiped then: token answers hold tokens). */
typedef void (*claude_call_fn)(void *arg, const struct claude_call_result *res);

/* Send req (everything in it is copied; the bearer line is wiped after the
 * submit), 30 s timeout. done runs on a worker, or, when the pool refuses
 * the job, on the upstream loop with on_worker false. 0, or -ERR_CLOSED when
 * the upstream loop has stopped (done never runs). Any thread. */
int claude_call(struct app *app, const struct claude_call_req *req, claude_call_fn done, void *arg)
    __attribute__((warn_unused_result));

/* True when res is a complete 2xx answer. */
bool claude_call_ok(const struct claude_call_result *res);
/* A failed call as "<status> <error>: <description>" or "unreachable (...)",
 * from the OAuth ({error, error_description}) or API ({error:{type,
 * message}}) error shape; bounded, never the body itself. */
void claude_call_error(const struct claude_call_result *res, char *out, size_t len);

#endif
