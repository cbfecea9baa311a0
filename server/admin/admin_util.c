/* admin_util.c - shared admin handler helpers (see admin_util.h). */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "json.h"
#include "rds.h"
#include "reqctx.h"

#include <ctype.h>
#include <sys/time.h>

void admin_error(struct reqctx *rq, int status, const char *error, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", error);
    cJSON_AddStringToObject(j, "message", message);
    reqctx_reply_json(rq, status, j);
}

void admin_ok(struct reqctx *rq, const char *name, struct cJSON *data)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    if (name && data)
        cJSON_AddItemToObject(j, name, data);
    else
        cJSON_Delete(data);
    reqctx_set_header(rq, "Cache-Control", "no-store");
    reqctx_reply_json(rq, 200, j);
}

struct rds_conn *admin_conn(struct reqctx *rq)
{
    struct rds_conn *c = rds_pool_get(reqctx_app(rq)->redis, 3000);
    if (!c)
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
    return c;
}

void admin_conn_put(struct reqctx *rq, struct rds_conn *c)
{
    rds_pool_put(reqctx_app(rq)->redis, c);
}

void admin_iso_now(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    admin_iso_from_ms((long long)tv.tv_sec * 1000 + tv.tv_usec / 1000, out);
}

/* Exactly n decimal digits at *p into *out; advances *p. */
static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool take_char(const char **p, char ch)
{
    if (**p != ch)
        return false;
    (*p)++;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* Optional ".f..." (1 to 9 digits) -> milliseconds; digits past 3 are cut. */
static bool take_fraction(const char **p, int *ms)
{
    *ms = 0;
    if (!take_char(p, '.'))
        return true;
    int n = 0;
    for (; isdigit((unsigned char)**p); (*p)++, n++)
        if (n < 3)
            *ms = *ms * 10 + (**p - '0');
    for (int i = n; i < 3; i++)
        *ms *= 10;
    return n > 0 && n <= 9;
}

/* "Z", "+HH:MM", "-HH:MM", "+HHMM" or nothing (UTC) -> minutes east of UTC. */
static bool take_zone(const char **p, int *off_min)
{
    int hh = 0, mm = 0;
    *off_min = 0;
    if (**p == '\0')
        return true;
    if (take_char(p, 'Z'))
        return **p == '\0';
    int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0;
    if (!sign)
        return false;
    (*p)++;
    if (!take_digits(p, 2, &hh))
        return false;
    (void)take_char(p, ':');
    if (!take_digits(p, 2, &mm) || **p || hh > 23 || mm > 59)
        return false;
    *off_min = sign * (hh * 60 + mm);
    return true;
}

long long admin_parse_iso(const char *s)
{
    int y, mo, d, h, mi, sec = 0, ms = 0, off = 0;
    const char *p = s;
    if (!p || !take_digits(&p, 4, &y) || !take_char(&p, '-') || !take_digits(&p, 2, &mo) ||
        !take_char(&p, '-') || !take_digits(&p, 2, &d) || !take_char(&p, 'T') ||
        !take_digits(&p, 2, &h) || !take_char(&p, ':') || !take_digits(&p, 2, &mi))
        return -1;
    if (take_char(&p, ':') && (!take_digits(&p, 2, &sec) || !take_fraction(&p, &ms)))
        return -1;
    if (!take_zone(&p, &off))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    long long t = (long long)timegm(&tm) * 1000 + ms - (long long)off * 60000;
    return t < 0 ? -1 : t;
}

void admin_iso_from_ms(long long ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

bool admin_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}
