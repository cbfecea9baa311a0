/*
 * router.c - THE list of route tables and the matcher (router.h).
 * Literal segments match case-insensitively (Express did); one trailing
 * slash is ignored; ":name" captures a segment (at most 127 bytes).
 */
#include "compat.h"
#include "errs.h"
#include "router.h"

#include <strings.h>

/* pricing, OAuth, group and scheduler routes before account_routes: a specific
 * "/admin/models/pricing", "/admin/claude-accounts/exchange-code" or
 * "/admin/claude-accounts/usage", "/admin/account-groups" or
 * "/admin/scheduler/..." must win over the generic "/admin/:accountType/..." patterns
 * (as must the statistics' "/admin/accounts/:accountId/usage-trend"). */
static const struct route *const route_tables[] = {system_routes,
                                                   relay_routes,
                                                   openai_routes,
                                                   openai_chat_routes,
                                                   gemini_code_assist_routes,
                                                   gemini_routes,
                                                   key_info_routes,
                                                   auth_routes,
                                                   admin_routes,
                                                   pricing_routes,
                                                   oauth_routes,
                                                   claude_profile_routes,
                                                   group_routes,
                                                   scheduler_routes,
                                                   stats_routes,
                                                   api_stats_routes,
                                                   ui_settings_routes,
                                                   account_routes,
                                                   ui_routes};

/* Next segment of *p (no leading '/'), length in *len; false at the end. */
static bool next_seg(const char **p, const char **seg, size_t *len)
{
    while (**p == '/')
        (*p)++;
    if (!**p)
        return false;
    *seg = *p;
    while (**p && **p != '/')
        (*p)++;
    *len = (size_t)(*p - *seg);
    return true;
}

static bool pattern_match(const char *pattern, const char *path, struct route_match *m)
{
    const char *pp = pattern, *xp = path, *ps, *xs;
    size_t pl, xl;
    m->nparams = 0;
    for (;;) {
        bool hp = next_seg(&pp, &ps, &pl), hx = next_seg(&xp, &xs, &xl);
        if (!hp || !hx)
            return hp == hx;
        if (*ps == ':') {
            if (m->nparams >= ROUTER_MAX_PARAMS || xl >= sizeof(m->params[0].value) ||
                pl - 1 >= sizeof(m->params[0].name))
                return false;
            snprintf(m->params[m->nparams].name, sizeof(m->params[0].name), "%.*s", (int)pl - 1,
                     ps + 1);
            snprintf(m->params[m->nparams].value, sizeof(m->params[0].value), "%.*s", (int)xl, xs);
            m->nparams++;
        } else if (pl != xl || strncasecmp(ps, xs, pl) != 0) {
            return false;
        }
    }
}

int router_match(const char *method, const char *path, struct route_match *m)
{
    bool path_seen = false;
    /* A path with "//" or a missing leading '/' is not ours. */
    if (!path || path[0] != '/' || strstr(path, "//"))
        return -ERR_NOTFOUND;
    for (size_t t = 0; t < ARRAY_SIZE(route_tables); t++) {
        for (const struct route *r = route_tables[t]; r->pattern; r++) {
            struct route_match cand = {0};
            if (!pattern_match(r->pattern, path, &cand))
                continue;
            path_seen = true;
            if (strcmp(r->method, method) != 0)
                continue;
            *m = cand;
            m->route = r;
            return 0;
        }
    }
    return path_seen ? -ERR_INVAL : -ERR_NOTFOUND;
}
