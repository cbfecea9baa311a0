/* hdrfilter.c - client header allow-list for upstream requests (hdrfilter.h). */
#include "compat.h"
#include "hdrfilter.h"

#include <strings.h>

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(name, list[i]) == 0)
            return true;
    return false;
}

bool hdrfilter_hop_by_hop(const char *name)
{
    static const char *const hop[] = {"connection",          "keep-alive", "proxy-authenticate",
                                      "proxy-authorization", "te",         "trailer",
                                      "transfer-encoding",   "upgrade",    "proxy-connection"};
    return in_list(name, hop, ARRAY_SIZE(hop));
}

bool hdrfilter_claude(const char *name)
{
    static const char *const allow[] = {"anthropic-version",
                                        "anthropic-beta",
                                        "anthropic-dangerous-direct-browser-access",
                                        "user-agent",
                                        "x-app",
                                        "accept",
                                        "accept-language",
                                        "x-claude-code-session-id"};
    if (hdrfilter_hop_by_hop(name))
        return false;
    if (strncasecmp(name, "x-stainless-", 12) == 0)
        return true;
    return in_list(name, allow, ARRAY_SIZE(allow));
}

bool hdrfilter_openai(const char *name)
{
    static const char *const allow[] = {
        "accept",          "accept-language",     "user-agent",
        "openai-beta",     "originator",          "version",
        "session_id",      "session-id",          "x-session-id",
        "thread-id",       "thread_id",           "conversation_id",
        "conversation-id", "x-client-request-id", "idempotency-key"};
    if (hdrfilter_hop_by_hop(name))
        return false;
    if (strncasecmp(name, "x-stainless-", 12) == 0 || strncasecmp(name, "x-codex-", 8) == 0)
        return true;
    return in_list(name, allow, ARRAY_SIZE(allow));
}

bool hdrfilter_in_token_list(const char *list, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ", \t");
        if (len == nlen && len && strncasecmp(p, name, len) == 0)
            return true;
        p += len;
    }
    return false;
}
