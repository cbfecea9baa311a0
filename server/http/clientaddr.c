/*
 * clientaddr.c - pick the client address out of X-Forwarded-For
 * (clientaddr.h). Entries are walked from the right, across headers from
 * the last one, without copying the list.
 */
#include "compat.h"
#include "clientaddr.h"
#include "errs.h"

#include <arpa/inet.h>

#define ENTRY_MAX 64 /* longer than any IPv6 text: such an entry is not an address */

/* The entry ending at end (exclusive) in [start, end): trimmed bounds. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static int normalise(const char *b, const char *e, char *out, size_t outlen)
{
    char text[ENTRY_MAX];
    unsigned char bin[sizeof(struct in6_addr)];
    char norm[INET6_ADDRSTRLEN];
    trim(&b, &e);
    if (e - b <= 0 || (size_t)(e - b) >= sizeof(text))
        return -ERR_NOTFOUND;
    memcpy(text, b, (size_t)(e - b));
    text[e - b] = '\0';
    int af = strchr(text, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, text, bin) != 1 || !inet_ntop(af, bin, norm, sizeof(norm)))
        return -ERR_NOTFOUND;
    if ((size_t)snprintf(out, outlen, "%s", norm) >= outlen)
        return -ERR_NOTFOUND;
    return 0;
}

/* Walk the entries of one header value from the right until *seen reaches
 * hops; [*lb, *le) is the last non-empty entry met. */
static void walk_value(const char *v, int hops, int *seen, const char **lb, const char **le)
{
    const char *end = v + strlen(v);
    while (end > v && *seen < hops) {
        const char *start = end;
        while (start > v && start[-1] != ',')
            start--;
        const char *b = start, *e = end;
        trim(&b, &e);
        if (e > b) {
            *lb = b, *le = e;
            (*seen)++;
        }
        end = start > v ? start - 1 : v;
    }
}

int clientaddr_from_xff(const char *const *values, size_t n, int hops, char *out, size_t outlen)
{
    const char *lb = NULL, *le = NULL;
    int seen = 0;
    for (size_t h = n; h-- > 0 && seen < hops;)
        walk_value(values[h], hops, &seen, &lb, &le);
    return lb ? normalise(lb, le, out, outlen) : -ERR_NOTFOUND;
}
