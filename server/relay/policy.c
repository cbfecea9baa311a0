/* policy.c - key rules for one request (see policy.h). */
#include "compat.h"
#include "clock.h"
#include "admission.h"
#include "admin_util.h"
#include "clients.h"
#include "errs.h"
#include "format.h"
#include "json.h"
#include "keys.h"
#include "policy.h"
#include "queue.h"
#include "reqctx.h"

#include <strings.h>
#include <time.h>

static const char *rq_header(const void *ctx, const char *name)
{
    return reqctx_header(ctx, name);
}

static void refuse(struct refusal *r, int status, const char *type, const char *code,
                   const char *message)
{
    memset(r, 0, sizeof(*r));
    r->status = status;
    r->type = type;
    r->code = code;
    snprintf(r->message, sizeof(r->message), "%s", message);
}

/* The key's allowedClients as ids (bit i is key_policy_client_name(i)). */
static size_t client_ids(const struct key_policy *p, enum client_id ids[8])
{
    size_t n = 0;
    for (unsigned i = 0; key_policy_client_name(i) && n < 8; i++)
        if (p->clients & (1u << i))
            ids[n++] = (enum client_id)client_parse(key_policy_client_name(i));
    return n;
}

static int check_client(struct reqctx *rq, const struct key_policy *p, struct refusal *r)
{
    struct client_facts f = {reqctx_path(rq), rq_header, rq, reqctx_json(rq)};
    enum client_id ids[8];
    size_t n = client_ids(p, ids);
    if (!client_allowed(ids, n, &f)) {
        refuse(r, 403, "permission_error", NULL,
               "Your client is not authorized to use this API key");
        r->extra = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(r->extra, "allowedClients");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(client_name(ids[i])));
        const char *ua = reqctx_header(rq, "user-agent");
        cJSON_AddStringToObject(r->extra, "userAgent", ua ? ua : "");
        return -ERR_DENIED;
    }
    /* The original's extra Claude-Code-only rule (a key for claude_code
     * alone) is the same strict check claude_code's validator already made
     * on messages paths (client_is_real_claude_code). */
    return 0;
}

/* The original's words: Claude routes in Chinese (count_tokens in English),
 * OpenAI-style routes (any format but Anthropic's, whichever pool serves
 * them) {"type":"permission_denied","code":"permission_denied"}. */
static void permission_refusal(const struct client_format *fmt, const struct format_request *req,
                               bool counting, struct refusal *r)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "This API key does not have permission to access %s",
             req->service_name);
    if (fmt != &format_anthropic)
        refuse(r, 403, "permission_denied", "permission_denied", msg);
    else
        refuse(r, 403, "permission_error", NULL,
               counting ? msg : "此 API Key 无权访问 Claude 服务");
}

int policy_check(struct reqctx *rq, const struct relay_op *op, const struct api_key *k,
                 const struct format_request *req, struct refusal *r)
{
    const struct key_policy *p = &k->pol;
    bool counting = strcmp(op->endpoint, "count_tokens") == 0;
    if (p->clients_on && !counting && check_client(rq, p, r) != 0)
        return -ERR_DENIED;
    if (p->services && !(p->services & req->service)) {
        permission_refusal(op->fmt, req, counting, r);
        return -ERR_DENIED;
    }
    if (key_policy_model_denied(p, req->model)) {
        refuse(r, 403, "forbidden", NULL, "暂无该模型访问权限");
        return -ERR_DENIED;
    }
    return 0;
}

bool policy_claude_family(const char *model)
{
    if (!model)
        return false;
    return strcasestr(model, "claude") || strcasestr(model, "opus") ||
           strcasestr(model, "sonnet") || strcasestr(model, "haiku");
}

static void add_reset(cJSON *o, long long reset_ms)
{
    char iso[32];
    admin_iso_from_ms(reset_ms, iso);
    cJSON_AddStringToObject(o, "resetAt", iso);
}

static void window_refusal(const struct admit_result *ar, struct refusal *r)
{
    long long left = ar->reset_ms - clock_wall_ms();
    long long minutes = left > 0 ? (left + 59999) / 60000 : 0;
    char msg[256];
    const char *cur = "currentRequests", *lim = "requestLimit";
    if (ar->code == ADMIT_WINDOW_REQUESTS) {
        snprintf(msg, sizeof(msg), "已达到请求次数限制 (%lld 次)，将在 %lld 分钟后重置", ar->limit,
                 minutes);
    } else if (ar->code == ADMIT_WINDOW_TOKENS) {
        snprintf(msg, sizeof(msg), "已达到 Token 使用限制 (%lld tokens)，将在 %lld 分钟后重置",
                 ar->limit, minutes);
        cur = "currentTokens", lim = "tokenLimit";
    } else {
        snprintf(msg, sizeof(msg), "已达到费用限制 ($%.6g)，将在 %lld 分钟后重置",
                 (double)ar->limit / 1e6, minutes);
        cur = "currentCost", lim = "costLimit";
    }
    refuse(r, 429, "rate_limit_error", "rate_limit_exceeded", msg);
    r->extra = cJSON_CreateObject();
    bool money = ar->code == ADMIT_WINDOW_COST;
    cJSON_AddNumberToObject(r->extra, cur, money ? (double)ar->current / 1e6 : (double)ar->current);
    cJSON_AddNumberToObject(r->extra, lim, money ? (double)ar->limit / 1e6 : (double)ar->limit);
    add_reset(r->extra, ar->reset_ms);
    cJSON_AddNumberToObject(r->extra, "remainingMinutes", (double)minutes);
}

static void cost_refusal(const struct admit_result *ar, struct refusal *r)
{
    static const char *const what[] = {"每日费用限制", "总费用限制", "Claude 模型周费用限制"};
    static const char *const codes[] = {"daily_cost_limit_exceeded", "total_cost_limit_exceeded",
                                        "weekly_opus_cost_limit_exceeded"};
    int i = ar->code - ADMIT_DAILY_COST;
    char msg[256];
    snprintf(msg, sizeof(msg), "已达到%s ($%.6g)", what[i], (double)ar->limit / 1e6);
    refuse(r, 402, "insufficient_quota", codes[i], msg);
    r->extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(r->extra, "currentCost", (double)ar->current / 1e6);
    cJSON_AddNumberToObject(r->extra, "costLimit", (double)ar->limit / 1e6);
    if (ar->reset_ms)
        add_reset(r->extra, ar->reset_ms);
}

void policy_refusal(const struct admit_result *ar, int tz_offset_min, struct refusal *r)
{
    UNUSED(tz_offset_min);
    if (ar->code == ADMIT_CONCURRENCY) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Too many concurrent requests. Limit: %lld concurrent requests",
                 ar->limit);
        refuse(r, 429, "rate_limit_error", "concurrency_limit_exceeded", msg);
        r->retry_after = "1";
        r->extra = cJSON_CreateObject();
        cJSON_AddNumberToObject(r->extra, "currentConcurrency", (double)ar->current);
        cJSON_AddNumberToObject(r->extra, "concurrencyLimit", (double)ar->limit);
    } else if (ar->code <= ADMIT_WINDOW_COST) {
        window_refusal(ar, r);
    } else {
        cost_refusal(ar, r);
    }
}

static const char *retry_after(long long s)
{
    static const char *const secs[] = {"1", "5", "10", "15", "20", "25", "30"};
    long long i = s <= 1 ? 0 : s >= 30 ? 6 : (s + 4) / 5;
    return secs[i > 6 ? 6 : i];
}

/* The original's bodies (crs-relay-spec 3.5), in the format's shape. */
void policy_queue_refusal(enum queue_outcome o, const struct api_key *k,
                          const struct queue_info *info, struct refusal *r)
{
    char msg[256];
    long long limit = k->pol.concurrency, tsec = (info->timeout_ms + 999) / 1000;
    if (o == QUEUE_FULL) {
        snprintf(msg, sizeof(msg),
                 "Too many requests waiting in queue. Limit: %lld concurrent requests, queue: "
                 "%lld/%lld, timeout: %llds",
                 limit, info->waiting, info->max, tsec);
        refuse(r, 429, "rate_limit_error", "concurrency_queue_full", msg);
        r->retry_after = retry_after(tsec);
    } else if (o == QUEUE_OVERLOADED) {
        snprintf(msg, sizeof(msg),
                 "Queue is overloaded. Estimated wait time (%lldms) exceeds threshold. Limit: %lld "
                 "concurrent requests, queue: %lld/%lld. Please retry later.",
                 info->p90_ms, limit, info->waiting, info->max);
        refuse(r, 429, "rate_limit_error", "queue_overloaded", msg);
        r->retry_after = "30";
    } else {
        snprintf(msg, sizeof(msg),
                 "Request timed out waiting for concurrency slot. Limit: %lld concurrent "
                 "requests, maxQueue: %lld, Queue timeout: %llds, waited: %lldms",
                 limit, info->max, tsec, info->waited_ms);
        refuse(r, 429, "rate_limit_error", "queue_timeout", msg);
        r->retry_after = retry_after((tsec + 1) / 2 < 5 ? 5 : (tsec + 1) / 2);
    }
    r->extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(r->extra, "concurrencyLimit", (double)limit);
    cJSON_AddNumberToObject(r->extra, "queueCount", (double)info->waiting);
    cJSON_AddNumberToObject(r->extra, "maxQueueSize", (double)info->max);
    cJSON_AddNumberToObject(r->extra, "queueTimeoutMs", (double)info->timeout_ms);
}
