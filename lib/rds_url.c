/*
 * rds_url.c - rds option defaults and redis:// / rediss:// URL parsing
 * (see rds.h).
 *
 * Grammar: scheme "://" [user [":" password] "@"] host [":" port] ["/" [db]]
 * host is a name, an IPv4 literal or "[" IPv6 "]". The userinfo ends at the
 * LAST '@', so a password with an unescaped '@' or '/' still parses; user
 * and password are percent-decoded. Anything else (query strings, junk
 * after the db) is refused rather than guessed at.
 */
#include "compat.h"
#include "errs.h"
#include "rds.h"
#include "xmalloc.h"

#include <limits.h>
#include <strings.h>

#define RDS_URL_MAX 4096

void rds_opts_init(struct rds_opts *o)
{
    *o = (struct rds_opts){
        .port = RDS_DEFAULT_PORT,
        .tls_verify = true,
        .connect_timeout_ms = RDS_DEFAULT_TIMEOUT_MS,
        .command_timeout_ms = RDS_DEFAULT_TIMEOUT_MS,
    };
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..len) into out (NUL-terminated). Refuses bad escapes
 * and %00, which would silently cut the string short. */
static int pct_decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0))
            return -ERR_INVAL;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return 0;
}

/* Digits only, value in [min, max]; *end is set past them. */
static int parse_num(const char *s, long long min, long long max, const char **end, int *out)
{
    long long v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && v <= max)
        v = v * 10 + (*p++ - '0');
    if (p == s || v < min || v > max)
        return -ERR_INVAL;
    *end = p;
    *out = (int)v;
    return 0;
}

/* Copy the host at s into out; *end is set past it (and past ']'). */
static int parse_host(const char *s, char *out, const char **end)
{
    size_t n;
    const char *p = s;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return -ERR_INVAL;
        p = s + 1;
        n = (size_t)(close - p);
        *end = close + 1;
    } else {
        n = strcspn(s, ":/");
        *end = s + n;
    }
    if (n == 0)
        return -ERR_INVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= ' ' || p[i] == '[' || p[i] == ']' || p[i] == '\x7f')
            return -ERR_INVAL;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* "user[:password]" in s[0..len) into user and pass (empty means absent). */
static int parse_userinfo(const char *s, size_t len, char *user, char *pass)
{
    const char *colon = memchr(s, ':', len);
    size_t ulen = colon ? (size_t)(colon - s) : len;
    if (pct_decode(s, ulen, user) != 0)
        return -ERR_INVAL;
    return colon ? pct_decode(colon + 1, len - ulen - 1, pass) : 0;
}

/* Fill tmp from the part after "scheme://"; strings go into st, which has
 * room for three copies of rest. */
static int parse_rest(const char *rest, struct rds_opts *tmp, char *st)
{
    size_t cap = strlen(rest) + 1;
    char *user = st, *pass = st + cap, *host = st + 2 * cap;
    const char *at = strrchr(rest, '@');
    const char *p = at ? at + 1 : rest;
    int port = RDS_DEFAULT_PORT, db = 0;
    if (at && parse_userinfo(rest, (size_t)(at - rest), user, pass) != 0)
        return -ERR_INVAL;
    if (parse_host(p, host, &p) != 0)
        return -ERR_INVAL;
    if (*p == ':' && parse_num(p + 1, 1, 65535, &p, &port) != 0)
        return -ERR_INVAL;
    if (*p == '/') {
        p++; /* "/" alone means db 0 */
        if (*p && parse_num(p, 0, INT_MAX, &p, &db) != 0)
            return -ERR_INVAL;
    }
    if (*p)
        return -ERR_INVAL;
    tmp->host = host;
    tmp->port = port;
    tmp->db = db;
    tmp->username = user[0] ? user : NULL;
    tmp->password = pass[0] ? pass : NULL;
    return 0;
}

int rds_opts_from_url(struct rds_opts *o, const char *url, char **storage_out)
{
    int rc = -ERR_INVAL;
    char *st = NULL;
    if (!url || strlen(url) > RDS_URL_MAX)
        goto out;
    bool tls = strncasecmp(url, "rediss://", 9) == 0;
    if (!tls && strncasecmp(url, "redis://", 8) != 0)
        goto out;
    const char *rest = url + (tls ? 9 : 8);
    st = xcalloc(3, strlen(rest) + 1);
    struct rds_opts tmp = *o;
    if (parse_rest(rest, &tmp, st) != 0)
        goto out;
    tmp.tls = tls;
    if (tls)
        tmp.tls_verify = true;
    *o = tmp;
    *storage_out = st;
    st = NULL;
    rc = 0;
out:
    free(st);
    return rc;
}
