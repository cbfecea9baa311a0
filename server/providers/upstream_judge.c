/* upstream_judge.c - the judge every upstream shares (see .h). */
#include "compat.h"
#include "accounts.h"
#include "config.h"
#include "errs.h"
#include "hdrfilter.h"
#include "json.h"
#include "reqctx.h"
#include "upstream_judge.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#define SEC 1000LL

static bool in_list(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (strcasecmp(*list, name) == 0)
            return true;
    return false;
}

void judge_copy_client_headers(const struct reqctx *rq, struct upstream_req *out,
                               bool (*allow)(const char *name), const char *const *skip)
{
    const char *conn = reqctx_header(rq, "connection");
    for (size_t i = 0; i < reqctx_header_count(rq); i++) {
        const char *name, *value;
        reqctx_header_at(rq, i, &name, &value);
        if (!allow(name) || hdrfilter_in_token_list(conn, name) || in_list(skip, name))
            continue;
        upstream_req_add(out, name, value);
    }
}

bool judge_all_digits(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* retry-after: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
static long long retry_after_at(const char *v, long long now_ms)
{
    if (judge_all_digits(v)) { /* capped by the caller; bounded here so it cannot overflow */
        long long s = strlen(v) > 9 ? 999999999 : strtoll(v, NULL, 10);
        return now_ms + s * SEC;
    }
    struct tm tm = {0};
    const char *end = v ? strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
    if (!end || *end)
        return 0;
    long long t = (long long)timegm(&tm) * SEC;
    return t > now_ms ? t : 0;
}

long long judge_retry_after_ms(const struct upstream_answer *ans, long long max_custom_s)
{
    long long t = retry_after_at(upstream_header(ans, "retry-after"), ans->now_ms);
    if (t > ans->now_ms + max_custom_s * SEC)
        t = ans->now_ms + max_custom_s * SEC;
    return t > ans->now_ms ? t : 0;
}

/* "429: <message>" from an error body's error.message, printable
 * characters only (it goes to logs and the admin API). */
static void reason_from(char *out, size_t len, const char *what, const struct upstream_answer *a)
{
    cJSON *j = a->body_len ? json_parse(a->body, a->body_len, 8, true) : NULL;
    const cJSON *e = json_get(j, "error");
    const char *msg = json_str(e, "message", "");
    int n = snprintf(out, len, "%s%s%.100s", what, *msg ? ": " : "", msg);
    for (int i = 0; i < n && (size_t)i < len; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            out[i] = ' ';
    cJSON_Delete(j);
}

static void retry(struct verdict *v, enum account_state mark, long long until_ms)
{
    v->action = VERDICT_RETRY;
    v->mark = mark;
    v->until_ms = until_ms;
}

static void classify_transport(const struct relay_config *cfg, const struct upstream_answer *a,
                               struct verdict *v)
{
    long long until = a->now_ms + cfg->ttl_timeout_s * SEC;
    if (a->result == -ERR_CLOSED) {
        v->action = VERDICT_FAIL; /* the client left or the relay stops: nobody to blame */
        snprintf(v->reason, sizeof(v->reason), "cancelled");
        return;
    }
    retry(v, ACC_TEMP_ERROR, until);
    snprintf(v->reason, sizeof(v->reason), "%s",
             a->result == -ERR_TIMEOUT    ? "timeout before the first byte"
             : a->result == -ERR_UPSTREAM ? "connect failed"
                                          : "connection lost before the first byte");
}

static void classify_status(const struct relay_config *cfg, const struct upstream_answer *a,
                            long long reset_ms, struct verdict *v)
{
    long long now = a->now_ms;
    char what[16];
    snprintf(what, sizeof(what), "%d", a->status);
    reason_from(v->reason, sizeof(v->reason), what, a);
    if (a->status == 429)
        retry(v, ACC_RATE_LIMITED, reset_ms ? reset_ms : now + cfg->ttl_rate_limit_s * SEC);
    else if (a->status == 529)
        retry(v, ACC_OVERLOADED, now + cfg->ttl_overload_s * SEC);
    else if (a->status == 401)
        retry(v, ACC_UNAUTHORIZED, 0);
    else if (a->status == 403)
        retry(v, ACC_BLOCKED, 0);
    else if (a->status >= 500)
        retry(v, ACC_TEMP_ERROR, now + (a->status == 503 ? cfg->ttl_503_s : cfg->ttl_5xx_s) * SEC);
    else
        v->action = VERDICT_FAIL; /* 400, 404, 413, ...: the request itself is wrong */
}

#define RESET_MAX_MS (7LL * 24 * 3600 * SEC) /* a reset further out is not believed */

bool judge_keep_openai_header(const char *name)
{
    static const char *const keep[] = {"content-type", "x-request-id", "retry-after"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        if (strcasecmp(name, keep[i]) == 0)
            return true;
    return strncasecmp(name, "openai-", 7) == 0 || strncasecmp(name, "x-ratelimit-", 12) == 0;
}

long long judge_error_reset_ms(const cJSON *error, long long now_ms)
{
    const cJSON *in = json_get(error, "resets_in_seconds"), *at = json_get(error, "resets_at");
    long long t = cJSON_IsNumber(in)   ? now_ms + (long long)in->valuedouble * SEC
                  : cJSON_IsNumber(at) ? (long long)at->valuedouble * SEC
                                       : 0;
    return t > now_ms && t - now_ms <= RESET_MAX_MS ? t : 0;
}

long long judge_body_reset_ms(const struct upstream_answer *ans)
{
    cJSON *j = ans->body_len ? json_parse(ans->body, ans->body_len, 8, true) : NULL;
    long long t = judge_error_reset_ms(json_get(j, "error"), ans->now_ms);
    cJSON_Delete(j);
    return t;
}

void judge_answer(const struct judge *j, const struct upstream_answer *ans, long long reset_ms,
                  struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (ans->status == 0)
        classify_transport(j->cfg, ans, v);
    else if (ans->status >= 200 && ans->status < 300)
        v->action = VERDICT_OK;
    else
        classify_status(j->cfg, ans, reset_ms, v);
}

const char *judge_body_mentions(const struct upstream_answer *ans, const char *const *phrases)
{
    for (; phrases && *phrases; phrases++) {
        size_t n = strlen(*phrases);
        for (size_t i = 0; n && i + n <= ans->body_len; i++)
            if (strncasecmp(ans->body + i, *phrases, n) == 0)
                return *phrases;
    }
    return NULL;
}

/* The 429's end by the account's rateLimitDuration: ms, -1 for 0 (never
 * marked), 0 without the field (the relay's TTL). */
static long long duration_until(const struct judge *j, const struct upstream_answer *ans)
{
    const char *d = account_field(j->acc, "rateLimitDuration");
    long long min = d && *d ? strtoll(d, NULL, 10) : -1;
    return min > 0 ? ans->now_ms + min * 60000LL : min == 0 ? -1 : 0;
}

void judge_answer_limited(const struct judge *j, const struct upstream_answer *ans,
                          long long upstream_ms, struct verdict *v)
{
    long long until = 0;
    if (ans->status == 429)
        until = upstream_ms ? upstream_ms : duration_until(j, ans);
    judge_answer(j, ans, until > 0 ? until : 0, v);
    if (until < 0) { /* rateLimitDuration 0: the request moves on, the account stays */
        v->mark = ACC_ACTIVE;
        v->until_ms = 0;
    }
}
