/* key_policy.c - an API key's policy parsed from its record (see .h). */
#include "compat.h"
#include "json.h"
#include "key_policy.h"
#include "xmalloc.h"

#include <math.h>

static const char *const client_names[] = {"claude_code", "gemini_cli", "codex_cli", "droid_cli"};
static const char *const service_names[] = {"claude", "gemini", "openai", "droid"};

const char *key_policy_client_name(unsigned i)
{
    return i < ARRAY_SIZE(client_names) ? client_names[i] : NULL;
}

const char *key_policy_service_name(unsigned i)
{
    return i < ARRAY_SIZE(service_names) ? service_names[i] : NULL;
}

long long key_policy_usd_to_micro(const char *usd)
{
    double d = usd && *usd ? strtod(usd, NULL) : 0;
    if (!(d > 0) || d > 1e12)
        return 0;
    return (long long)llround(d * 1e6);
}

static long long num(const cJSON *rec, const char *k)
{
    const char *v = json_str(rec, k, "");
    long long n = *v ? strtoll(v, NULL, 10) : 0;
    return n > 0 ? n : 0;
}

static bool flag(const cJSON *rec, const char *k)
{
    return strcmp(json_str(rec, k, ""), "true") == 0;
}

/* A JSON array of strings stored as text, as bits of names[]. */
static unsigned name_bits(const cJSON *rec, const char *k, const char *const *names, size_t n)
{
    const char *text = json_str(rec, k, "");
    cJSON *arr = *text ? json_parse(text, strlen(text), 4, true) : NULL;
    unsigned bits = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) for (size_t i = 0; i < n;
                                     i++) if (cJSON_IsString(it) &&
                                              strcmp(it->valuestring, names[i]) == 0) bits |= 1u
                                                                                              << i;
    cJSON_Delete(arr);
    return bits;
}

static void parse_models(const cJSON *rec, struct key_policy *p)
{
    const char *text = json_str(rec, "restrictedModels", "");
    cJSON *arr = *text ? json_parse(text, strlen(text), 4, true) : NULL;
    p->models = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(char *));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it) && *it->valuestring)
        p->models[p->nmodels++] = xstrdup(it->valuestring);
    cJSON_Delete(arr);
    p->models_on = flag(rec, "enableModelRestriction") && p->nmodels > 0;
}

static void parse_activation(const cJSON *rec, struct key_policy *p)
{
    if (strcmp(json_str(rec, "expirationMode", "fixed"), "activation") != 0 ||
        flag(rec, "isActivated"))
        return;
    long long days = num(rec, "activationDays");
    bool hours = strcmp(json_str(rec, "activationUnit", "days"), "hours") == 0;
    p->activation = true;
    p->activation_ms = (days ? days : 30) * (hours ? 3600000LL : 86400000LL);
}

void key_policy_parse(const cJSON *rec, struct key_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->services = name_bits(rec, "permissions", service_names, ARRAY_SIZE(service_names));
    p->clients = name_bits(rec, "allowedClients", client_names, ARRAY_SIZE(client_names));
    p->clients_on = flag(rec, "enableClientRestriction") && p->clients;
    parse_models(rec, p);
    parse_activation(rec, p);
    p->window_ms = num(rec, "rateLimitWindow") * 60000;
    p->window_requests = num(rec, "rateLimitRequests");
    p->window_tokens = num(rec, "tokenLimit");
    p->window_cost = key_policy_usd_to_micro(json_str(rec, "rateLimitCost", ""));
    p->daily_cost = key_policy_usd_to_micro(json_str(rec, "dailyCostLimit", ""));
    p->total_cost = key_policy_usd_to_micro(json_str(rec, "totalCostLimit", ""));
    p->weekly_cost = key_policy_usd_to_micro(json_str(rec, "weeklyOpusCostLimit", ""));
    long long wd = num(rec, "weeklyResetDay"), wh = num(rec, "weeklyResetHour");
    p->week_day = wd >= 1 && wd <= 7 ? (int)wd : 1;
    p->week_hour = wh <= 23 ? (int)wh : 0;
    p->concurrency = num(rec, "concurrencyLimit");
    snprintf(p->console_account, sizeof(p->console_account), "%s",
             json_str(rec, "claudeConsoleAccountId", ""));
    snprintf(p->claude_account, sizeof(p->claude_account), "%s",
             json_str(rec, "claudeAccountId", ""));
    snprintf(p->openai_account, sizeof(p->openai_account), "%s",
             key_policy_bound_id(json_str(rec, "openaiAccountId", "")));
    snprintf(p->gemini_account, sizeof(p->gemini_account), "%s",
             json_str(rec, "geminiAccountId", ""));
}

const char *key_policy_bound_id(const char *v)
{
    static const char prefix[] = "responses:";
    return strncmp(v, prefix, sizeof(prefix) - 1) == 0 ? v + sizeof(prefix) - 1 : v;
}

const char *key_policy_gemini_bound(const struct key_policy *p)
{
    return strncmp(p->gemini_account, "api:", 4) == 0 ? p->gemini_account + 4 : p->gemini_account;
}

void key_policy_release(struct key_policy *p)
{
    for (size_t i = 0; i < p->nmodels; i++)
        free(p->models[i]);
    free(p->models);
    p->models = NULL;
    p->nmodels = 0;
}

bool key_policy_model_denied(const struct key_policy *p, const char *model)
{
    if (!p->models_on || !model)
        return false;
    if (strncmp(model, "ccr,", 4) == 0)
        model += 4;
    for (size_t i = 0; i < p->nmodels; i++)
        if (strcmp(p->models[i], model) == 0)
            return true;
    return false;
}

bool key_policy_admission_needed(const struct key_policy *p)
{
    bool window = p->window_ms && (p->window_requests || p->window_tokens || p->window_cost);
    return window || p->daily_cost || p->total_cost || p->weekly_cost || p->concurrency ||
           p->activation;
}
