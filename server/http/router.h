/*
 * router.h - the static route tables (tmux cmd_table / nginx commands style).
 *
 * Each module exports a NULL-terminated table of routes; router.c holds the
 * one list of tables. Patterns are literal path segments or ":name" for a
 * parameter; matching is case-insensitive on literals and ignores one
 * trailing slash. Handlers run on worker threads (see reqctx.h).
 */
#ifndef RELAY_ROUTER_H
#define RELAY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct reqctx;

typedef void (*route_fn)(struct reqctx *rq);

enum route_auth {
    AUTH_NONE = 0,  /* public */
    AUTH_KEY = 1,   /* relay API key; the relay pipeline authenticates */
    AUTH_ADMIN = 2, /* admin session (Authorization: Bearer); checked before the handler */
};

enum route_body {
    BODY_SMALL = 0, /* up to 1 MiB (admin JSON) */
    BODY_LARGE = 1, /* up to REQUEST_MAX_SIZE_MB (relay) */
    BODY_TINY = 2,  /* up to 64 KiB (the unauthenticated telemetry sink) */
};

struct route {
    const char *method; /* "GET", "POST", ... */
    const char *pattern;
    route_fn handler;
    enum route_auth auth;
    enum route_body body;
    /* Optional: true when this request's handler will not block (no Redis,
     * no waiting), so the I/O thread may run it at once instead of handing
     * it to a worker - one thread hop less. Pure and cheap. */
    bool (*inline_ok)(struct reqctx *rq);
};

#define ROUTER_MAX_PARAMS 4

struct route_match {
    const struct route *route;
    size_t nparams;
    struct {
        char name[32];
        char value[128];
    } params[ROUTER_MAX_PARAMS];
};

/* Find the route for method+path. Returns 0 and fills m, -ERR_NOTFOUND when
 * no pattern matches the path, -ERR_INVAL when the path matches but not the
 * method (405). Pure: safe from any thread. */
int router_match(const char *method, const char *path, struct route_match *m);

/* Route tables provided by the modules (each ends with a zeroed entry). */
extern const struct route relay_routes[];
extern const struct route openai_routes[];
extern const struct route openai_chat_routes[];
extern const struct route gemini_code_assist_routes[];
extern const struct route gemini_routes[];
extern const struct route admin_routes[];
extern const struct route system_routes[];
extern const struct route ui_routes[];
extern const struct route ui_settings_routes[];
extern const struct route auth_routes[];
extern const struct route oauth_routes[];
extern const struct route claude_profile_routes[];
extern const struct route account_routes[];
extern const struct route group_routes[];
extern const struct route scheduler_routes[];
extern const struct route pricing_routes[];
extern const struct route key_info_routes[];
extern const struct route stats_routes[];
extern const struct route api_stats_routes[];

#endif
