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
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

long long admin_parse_iso(const char *s)
{
    struct tm tm = {0};
    if (!s || !*s)
        return -1;
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    long ms = 0;
    if (*end == '.') {
        char *e2;
        long frac = strtol(end + 1, &e2, 10);
        size_t digits = (size_t)(e2 - end - 1);
        while (digits > 3)
            frac /= 10, digits--;
        while (digits < 3)
            frac *= 10, digits++;
        ms = frac;
        end = e2;
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0 && *end)
        return -1;
    return (long long)timegm(&tm) * 1000 + ms;
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
