/* anthropic_upstream.c - answers of Anthropic-compatible upstreams (see .h);
 * the rules every upstream shares live in upstream_judge.c. */
#include "compat.h"
#include "anthropic_upstream.h"
#include "config.h"
#include "hdrfilter.h"
#include "upstream_judge.h"

#include <ctype.h>
#include <strings.h>

#define SEC 1000LL
#define UNIFIED_RESET_MAX_S (7LL * 24 * 3600) /* a reset further out is not believed */

void anthropic_copy_client_headers(const struct reqctx *rq, struct upstream_req *out,
                                   const char *const *skip)
{
    judge_copy_client_headers(rq, out, hdrfilter_claude, skip);
}

bool anthropic_keep_header(const char *name)
{
    static const char *const keep[] = {"content-type", "request-id", "retry-after",
                                       "x-should-retry"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        if (strcasecmp(name, keep[i]) == 0)
            return true;
    return strncasecmp(name, "anthropic-ratelimit-", 20) == 0;
}

long long anthropic_reset_ms(const struct upstream_answer *ans, long long max_custom_s)
{
    const char *unified = upstream_header(ans, "anthropic-ratelimit-unified-reset");
    if (judge_all_digits(unified)) {
        long long t = strtoll(unified, NULL, 10) * SEC;
        if (t > ans->now_ms && t - ans->now_ms <= UNIFIED_RESET_MAX_S * SEC)
            return t;
    }
    return judge_retry_after_ms(ans, max_custom_s);
}

void anthropic_classify(const struct judge *j, const struct upstream_answer *ans, struct verdict *v)
{
    long long until = ans->status == 429 ? anthropic_reset_ms(ans, j->cfg->ttl_max_custom_s) : 0;
    judge_answer(j, ans, until, v);
    /* The limit hit, when the upstream names it ("seven_day_opus"): one
     * model family's weekly limit leaves the account to the others. */
    if (until)
        v->family = model_family_of(
            upstream_header(ans, "anthropic-ratelimit-unified-representative-claim"));
}

const char *anthropic_body_mentions(const struct upstream_answer *ans, const char *const *phrases)
{
    return judge_body_mentions(ans, phrases);
}
