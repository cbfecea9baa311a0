/* test_models.c - model support and mapping (server/providers/models.c) and
 * the Console reactions that read the account (rateLimitDuration, blocked
 * phrases) through the provider's classify hook. */
#include "compat.h"
#include "accounts.h"
#include "config.h"
#include "errs.h"
#include "fake_account.h"
#include "harness.h"
#include "json.h"
#include "models.h"
#include "provider.h"

/* The registry holds each provider once, with its own name, record prefix
 * and admin path (a doubled line loads every such account twice). */
TEST(registry_unique)
{
    for (size_t i = 0; i < provider_count(); i++)
        for (size_t k = i + 1; k < provider_count(); k++) {
            CHECK(provider_at(i) != provider_at(k));
            CHECK(strcmp(provider_at(i)->name, provider_at(k)->name) != 0);
            CHECK(strcmp(provider_at(i)->record_prefix, provider_at(k)->record_prefix) != 0);
            CHECK(strcmp(provider_at(i)->admin_path, provider_at(k)->admin_path) != 0);
        }
}

TEST(claude_rule)
{
    CHECK(models_claude_like("claude-sonnet-4-5"));
    CHECK(models_claude_like("Claude-3-opus"));
    CHECK(models_claude_like("anthropic/sonnet-4"));
    CHECK(models_claude_like("my-HAIKU"));
    CHECK(!models_claude_like("gpt-5"));
    CHECK(!models_claude_like("clau-de"));
    CHECK(!models_claude_like(NULL));
}

static int check_text(const char *text, char *msg, size_t len)
{
    cJSON *j = json_parse(text, strlen(text), 8, false);
    int rc = j ? models_check(j, msg, len) : -ERR_PARSE;
    cJSON_Delete(j);
    return rc;
}

TEST(check_shapes)
{
    char msg[160];
    CHECK_INT(check_text("[]", msg, sizeof(msg)), 0);
    CHECK_INT(check_text("{}", msg, sizeof(msg)), 0);
    CHECK_INT(check_text("[\"a\",\"claude-x\"]", msg, sizeof(msg)), 0);
    CHECK_INT(check_text("{\"claude-x\":\"up-y\"}", msg, sizeof(msg)), 0);
    CHECK_INT(check_text("\"claude-x\"", msg, sizeof(msg)), -ERR_INVAL);
    CHECK(strstr(msg, "array") != NULL);
    CHECK_INT(check_text("42", msg, sizeof(msg)), -ERR_INVAL);
    CHECK_INT(check_text("[\"a\",1]", msg, sizeof(msg)), -ERR_INVAL);
    CHECK_INT(check_text("[\"\"]", msg, sizeof(msg)), -ERR_INVAL);
    CHECK_INT(check_text("{\"a\":2}", msg, sizeof(msg)), -ERR_INVAL);
    CHECK_INT(check_text("{\"\":\"b\"}", msg, sizeof(msg)), -ERR_INVAL);
    CHECK_INT(check_text("[\"a\\nb\"]", msg, sizeof(msg)), -ERR_INVAL);
}

TEST(check_bounds)
{
    char msg[160];
    char name[MODELS_NAME_MAX + 8];
    memset(name, 'm', sizeof(name));
    name[MODELS_NAME_MAX] = '\0';
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString(name));
    CHECK_INT(models_check(a, msg, sizeof(msg)), 0);
    name[MODELS_NAME_MAX] = 'm';
    name[MODELS_NAME_MAX + 1] = '\0';
    cJSON_AddItemToArray(a, cJSON_CreateString(name));
    CHECK_INT(models_check(a, msg, sizeof(msg)), -ERR_INVAL);
    cJSON_Delete(a);
    a = cJSON_CreateArray();
    for (int i = 0; i <= MODELS_MAX; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString("m"));
    CHECK_INT(models_check(a, msg, sizeof(msg)), -ERR_INVAL);
    CHECK(strstr(msg, "at most") != NULL);
    cJSON_Delete(a);
}

static bool match_text(const char *spec, const char *model, const char **up)
{
    cJSON *j = spec ? json_parse(spec, strlen(spec), 8, false) : NULL;
    bool ok = models_match(j, model, up);
    static char keep[64];
    if (up && *up) { /* borrowed from j: copy before it goes */
        snprintf(keep, sizeof(keep), "%s", *up);
        *up = keep;
    }
    cJSON_Delete(j);
    return ok;
}

TEST(match_list_and_mapping)
{
    const char *up = "x";
    CHECK(match_text(NULL, "anything", &up));
    CHECK(up == NULL);
    CHECK(match_text("[]", "anything", NULL));
    CHECK(match_text("{}", "anything", NULL));
    CHECK(match_text("[\"claude-a\",\"claude-b\"]", "claude-b", &up));
    CHECK(up == NULL);
    CHECK(!match_text("[\"claude-a\"]", "Claude-A", NULL)); /* a list is exact */
    CHECK(!match_text("[\"claude-a\"]", "claude-c", NULL));
    CHECK(match_text("{\"claude-a\":\"up-a\",\"Claude-B\":\"up-b\"}", "claude-a", &up));
    CHECK_STR(up, "up-a");
    CHECK(match_text("{\"claude-a\":\"up-a\",\"Claude-B\":\"up-b\"}", "claude-b", &up));
    CHECK_STR(up, "up-b"); /* then any case */
    CHECK(match_text("{\"M\":\"exact\",\"m\":\"lower\"}", "m", &up));
    CHECK_STR(up, "lower"); /* exact before any case */
    CHECK(!match_text("{\"claude-a\":\"up-a\"}", "up-a", &up));
}

/* ---- Console reactions ---- */

static void fake_init(struct fake *f, const char *duration)
{
    fake_for(f, &provider_claude_console);
    fake_set(f, "rateLimitDuration", duration);
}

static struct verdict judge_answer(const struct relay_config *cfg, struct fake *f, int status,
                                   const char *body, const struct httpc_header *h, size_t nh)
{
    return fake_judge(cfg, f, "messages", status, body, h, nh);
}

TEST(console_rate_limit_duration)
{
    struct relay_config cfg = {.ttl_rate_limit_s = 300, .ttl_max_custom_s = 1800};
    struct fake f;
    const char *e429 = "{\"type\":\"error\",\"error\":{\"message\":\"slow down\"}}";
    fake_init(&f, "7");
    struct verdict v = judge_answer(&cfg, &f, 429, e429, NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_RATE_LIMITED);
    CHECK_INT(v.until_ms, 1000000 + 7 * 60000);
    struct httpc_header ra = {"retry-after", "30"};
    v = judge_answer(&cfg, &f, 429, e429, &ra, 1); /* the upstream's reset wins */
    CHECK_INT(v.until_ms, 1000000 + 30000);
    fake_init(&f, "0");
    v = judge_answer(&cfg, &f, 429, e429, &ra, 1);
    CHECK_INT(v.action, VERDICT_RETRY); /* never marked, still moved on */
    CHECK_INT(v.mark, ACC_ACTIVE);
    fake_init(&f, NULL); /* a record without the field: the relay's TTL */
    v = judge_answer(&cfg, &f, 429, e429, NULL, 0);
    CHECK_INT(v.until_ms, 1000000 + 300000);
}

TEST(console_blocked_phrases)
{
    static const char *const phrases[] = {
        "This organization has been disabled.",
        "Your account has been disabled",
        "account is disabled",
        "No account supporting this model",
        "ACCOUNT NOT FOUND",
        "invalid account id",
        "Too many active sessions",
    };
    struct relay_config cfg = {.console_blocked_min = 0};
    struct fake f;
    fake_init(&f, "60");
    for (size_t i = 0; i < ARRAY_SIZE(phrases); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"type\":\"error\",\"error\":{\"message\":\"%s\"}}",
                 phrases[i]);
        struct verdict v = judge_answer(&cfg, &f, 400, body, NULL, 0);
        CHECK_INT(v.action, VERDICT_RETRY);
        CHECK_INT(v.mark, ACC_BLOCKED);
        CHECK_INT(v.until_ms, 0);
        CHECK(strstr(v.reason, phrases[i]) != NULL);
    }
    cfg.console_blocked_min = 5;
    struct verdict v = judge_answer(&cfg, &f, 400, "account is disabled", NULL, 0);
    CHECK_INT(v.mark, ACC_BLOCKED);
    CHECK_INT(v.until_ms, 1000000 + 5 * 60000);
    CHECK_STR(v.reason, "400: account is disabled"); /* no error message: the phrase */
    v = judge_answer(&cfg, &f, 400, "{\"error\":{\"message\":\"max_tokens: too big\"}}", NULL, 0);
    CHECK_INT(v.action, VERDICT_FAIL); /* the client's own error */
    CHECK_INT(v.mark, ACC_ACTIVE);
    v = judge_answer(&cfg, &f, 403, "account is disabled", NULL, 0);
    CHECK_INT(v.mark, ACC_BLOCKED);
    CHECK_INT(v.until_ms, 0); /* a 403 stays the shared rule: until a reset */
}

TEST(official_reactions_and_gating)
{
    struct relay_config cfg = {.ttl_rate_limit_s = 300, .ttl_max_custom_s = 1800};
    struct fake f;
    fake_for(&f, &provider_claude_official);
    const char *off = "{\"type\":\"error\",\"error\":{\"message\":\"OAuth authentication is "
                      "currently not allowed for this organization.\"}}";
    struct verdict v = judge_answer(&cfg, &f, 400, off, NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_BLOCKED);
    CHECK_INT(v.until_ms, 0);
    v = judge_answer(&cfg, &f, 400,
                     "{\"error\":{\"message\":\"This organization has been disabled.\"}}", NULL, 0);
    CHECK_INT(v.mark, ACC_BLOCKED);
    v = judge_answer(&cfg, &f, 400, "{\"error\":{\"message\":\"max_tokens: too big\"}}", NULL, 0);
    CHECK_INT(v.action, VERDICT_FAIL);
    CHECK_INT(v.mark, ACC_ACTIVE);
    /* A 429 naming a weekly family limit cools that family only. */
    struct httpc_header h[] = {
        {"anthropic-ratelimit-unified-reset", "1600"},
        {"anthropic-ratelimit-unified-representative-claim", "seven_day_opus"}};
    v = judge_answer(&cfg, &f, 429, "{}", h, 2);
    CHECK_INT(v.mark, ACC_RATE_LIMITED);
    CHECK_INT(v.family, MF_OPUS);
    CHECK_INT(v.until_ms, 1600000);
    v = judge_answer(&cfg, &f, 429, "{}", h, 1); /* no claim: the whole account */
    CHECK_INT(v.family, MF_ANY);
    /* Models by subscription (an unknown tier allows every Claude model). */
    CHECK(f.acc.prov->supports_model(&f.acc, "claude-opus-4-1-20250805"));
    CHECK(!f.acc.prov->supports_model(&f.acc, "gpt-4o"));
    fake_set(&f, "subscriptionType", "claude_pro");
    CHECK(!f.acc.prov->supports_model(&f.acc, "claude-opus-4-1-20250805"));
    CHECK(f.acc.prov->supports_model(&f.acc, "claude-opus-4-5-20251101"));
    CHECK(f.acc.prov->supports_model(&f.acc, "claude-sonnet-4-5"));
    fake_set(&f, "subscriptionType", "free");
    CHECK(!f.acc.prov->supports_model(&f.acc, "claude-opus-4-5-20251101"));
    CHECK(f.acc.prov->supports_model(&f.acc, "claude-haiku-4-5"));
}

TEST(console_maps_and_supports)
{
    struct fake f;
    fake_init(&f, "60");
    size_t sm = 0;
    for (size_t i = 0; i < f.acc.prov->nfields; i++)
        if (strcmp(f.acc.prov->fields[i].name, "supportedModels") == 0)
            sm = i;
    const char *spec = "{\"claude-x\":\"up-x\"}";
    f.json[sm] = json_parse(spec, strlen(spec), 8, false);
    CHECK(f.acc.prov->supports_model(&f.acc, "claude-x"));
    CHECK(!f.acc.prov->supports_model(&f.acc, "claude-y"));
    CHECK_STR(f.acc.prov->map_model(&f.acc, "CLAUDE-X"), "up-x");
    CHECK(f.acc.prov->map_model(&f.acc, "claude-y") == NULL);
    cJSON_Delete(f.json[sm]);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(registry_unique),
        T(claude_rule),
        T(check_shapes),
        T(check_bounds),
        T(match_list_and_mapping),
        T(console_rate_limit_duration),
        T(console_blocked_phrases),
        T(console_maps_and_supports),
        T(official_reactions_and_gating),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
