/*
 * claude_subscription.c - profile and usage answers, model gating by
 * subscription (see claude_subscription.h).
 * DESIGN: the version rules are the original's regular expressions
 * (crs-relay-spec 4.4) written as small scanners, one per form, tried in
 * the original's order; the first form that matches decides.
 */
#include "compat.h"
#include "admin_util.h"
#include "claude_subscription.h"
#include "errs.h"
#include "json.h"

#include <ctype.h>
#include <strings.h>

#define MODEL_MAX 200

static void copy_bounded(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", strlen(src) < cap ? src : "");
}

int claude_profile_parse(const char *body, size_t len, struct claude_profile *out, char *err,
                         size_t errlen)
{
    cJSON *j = json_parse(body, len, 16, true);
    const cJSON *acc = json_get(j, "account"), *org = json_get(j, "organization");
    int rc = -ERR_PARSE;
    if (!cJSON_IsObject(acc)) {
        snprintf(err, errlen, "the profile answer has no account object");
        goto out;
    }
    struct claude_profile p;
    memset(&p, 0, sizeof(p));
    bool max = json_bool(acc, "has_claude_max", false) ||
               strcmp(json_str(org, "organization_type", ""), CLAUDE_SUB_MAX) == 0;
    bool pro = json_bool(acc, "has_claude_pro", false);
    snprintf(p.subscription, sizeof(p.subscription), "%s",
             max   ? CLAUDE_SUB_MAX
             : pro ? CLAUDE_SUB_PRO
                   : CLAUDE_SUB_FREE);
    copy_bounded(p.email, sizeof(p.email), json_str(acc, "email_address", ""));
    copy_bounded(p.account_uuid, sizeof(p.account_uuid), json_str(acc, "uuid", ""));
    copy_bounded(p.org_uuid, sizeof(p.org_uuid), json_str(org, "uuid", ""));
    *out = p;
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

bool claude_scopes_have(const char *scopes, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = scopes; p && *p;) {
        p += strspn(p, " ");
        size_t t = strcspn(p, " ");
        if (t == n && strncmp(p, scope, n) == 0)
            return true;
        p += t;
    }
    return false;
}

/* ---- Opus versions ---- */

static bool is_sep(char c)
{
    return c == '-' || c == ' ';
}

/* Digits at *p (at most 9): their value, *p advanced; the count (0: none). */
static int take_num(const char **p, long *v)
{
    int n = 0;
    *v = 0;
    while (isdigit((unsigned char)**p) && n < 9) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n;
}

static bool at_least_45(long maj, long min)
{
    return maj > 4 || (maj == 4 && min >= 5);
}

static bool opus_after_sep(const char *p)
{
    return is_sep(*p) && strncmp(p + 1, "opus", 4) == 0;
}

/* "claude[- ]<maj>[[.-]<min>][- ]opus" starting at p. */
static bool old_form(const char *p, long *maj, long *min)
{
    if (strncmp(p, "claude", 6) != 0 || !is_sep(p[6]))
        return false;
    p += 7;
    *min = 0;
    if (!take_num(&p, maj))
        return false;
    if (opus_after_sep(p))
        return true;
    if (*p != '.' && *p != '-')
        return false;
    p++;
    return take_num(&p, min) && opus_after_sep(p);
}

/* "opus[- ]?<maj>.<min>" at o. */
static bool dot_form(const char *o, long *maj, long *min)
{
    const char *p = o + 4;
    if (is_sep(*p))
        p++;
    return take_num(&p, maj) && *p++ == '.' && take_num(&p, min);
}

/* "opus[- ]?<maj>" then "[- ]<min>" (1-2 digits) only when an 8-digit date
 * or the end follows it. */
static bool date_form(const char *o, long *maj, long *min)
{
    const char *p = o + 4;
    if (is_sep(*p))
        p++;
    if (!take_num(&p, maj))
        return false;
    *min = 0;
    if (!is_sep(*p))
        return true;
    const char *q = p + 1;
    long m, date;
    int n = take_num(&q, &m);
    if (n < 1 || n > 2)
        return true;
    const char *d = q + 1;
    if (*q == '\0' || (is_sep(*q) && take_num(&d, &date) == 8 && !isdigit((unsigned char)*d)))
        *min = m;
    return true;
}

bool claude_opus_45_or_newer(const char *model)
{
    char m[MODEL_MAX + 1];
    size_t n = 0;
    for (; model && model[n] && n < MODEL_MAX; n++)
        m[n] = (char)tolower((unsigned char)model[n]);
    m[n] = '\0';
    const char *o = strstr(m, "opus");
    if (!o)
        return false;
    if (strstr(m, "opus-latest") || strstr(m, "opus_latest"))
        return true;
    long maj = 0, min = 0;
    for (const char *c = strstr(m, "claude"); c; c = strstr(c + 1, "claude"))
        if (old_form(c, &maj, &min))
            return at_least_45(maj, min);
    if (dot_form(o, &maj, &min) || date_form(o, &maj, &min))
        return at_least_45(maj, min);
    return false;
}

bool claude_subscription_allows(const char *subscription, const char *model)
{
    bool opus = model && strcasestr(model, "opus") != NULL;
    if (!opus || !subscription)
        return true;
    if (strcmp(subscription, CLAUDE_SUB_FREE) == 0)
        return false;
    if (strcmp(subscription, CLAUDE_SUB_PRO) == 0)
        return claude_opus_45_or_newer(model);
    return true; /* max, or not known yet: the upstream decides */
}

/* ---- the usage answer ---- */

static cJSON *usage_window(const cJSON *w, long long now_ms)
{
    if (!cJSON_IsObject(w))
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    const cJSON *u = json_get(w, "utilization");
    const char *reset = json_str(w, "resets_at", "");
    long long at = *reset && strlen(reset) <= 64 ? admin_parse_iso(reset) : -1;
    cJSON_AddItemToObject(o, "utilization",
                          cJSON_IsNumber(u) ? cJSON_CreateNumber(u->valuedouble)
                                            : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "resetsAt", at >= 0 ? cJSON_CreateString(reset) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "remainingSeconds",
                          at >= 0 ? cJSON_CreateNumber(at > now_ms ? (at - now_ms) / 1000 : 0)
                                  : cJSON_CreateNull());
    return o;
}

cJSON *claude_usage_view(const char *body, size_t len, long long now_ms)
{
    static const char *const names[][2] = {
        {"five_hour", "fiveHour"},
        {"seven_day", "sevenDay"},
        {"seven_day_sonnet", "sevenDaySonnet"},
        {"seven_day_opus", "sevenDayOpus"},
    };
    cJSON *j = json_parse(body, len, 16, true);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    cJSON *v = cJSON_CreateObject();
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        cJSON_AddItemToObject(v, names[i][1], usage_window(json_get(j, names[i][0]), now_ms));
    cJSON_Delete(j);
    return v;
}
