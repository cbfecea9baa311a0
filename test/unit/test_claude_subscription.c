/* test_claude_subscription.c - server/providers/claude_subscription: the
 * profile answer, the Opus gating by subscription (crs-relay-spec 4.4) and
 * the usage view. */
#include "compat.h"
#include "claude_subscription.h"
#include "errs.h"
#include "harness.h"
#include "json.h"

static int parse(const char *body, struct claude_profile *p)
{
    char err[200] = "";
    return claude_profile_parse(body, strlen(body), p, err, sizeof(err));
}

TEST(profile_max_from_account_or_organization)
{
    struct claude_profile p;
    REQUIRE(parse("{\"account\":{\"uuid\":\"acc-1\",\"email_address\":\"a@b.c\","
                  "\"has_claude_max\":true,\"has_claude_pro\":false},"
                  "\"organization\":{\"uuid\":\"org-1\",\"organization_type\":\"claude_team\"}}",
                  &p) == 0);
    CHECK_STR(p.subscription, CLAUDE_SUB_MAX);
    CHECK_STR(p.email, "a@b.c");
    CHECK_STR(p.account_uuid, "acc-1");
    CHECK_STR(p.org_uuid, "org-1");
    REQUIRE(parse("{\"account\":{\"has_claude_max\":false,\"has_claude_pro\":true},"
                  "\"organization\":{\"organization_type\":\"claude_max\"}}",
                  &p) == 0);
    CHECK_STR(p.subscription, CLAUDE_SUB_MAX); /* the organization says max */
    CHECK_STR(p.email, "");
}

TEST(profile_pro_free_and_refusals)
{
    struct claude_profile p;
    REQUIRE(parse("{\"account\":{\"has_claude_pro\":true}}", &p) == 0);
    CHECK_STR(p.subscription, CLAUDE_SUB_PRO);
    REQUIRE(parse("{\"account\":{\"has_claude_max\":\"yes\"},\"organization\":null}", &p) == 0);
    CHECK_STR(p.subscription, CLAUDE_SUB_FREE); /* only a JSON true counts */
    CHECK_INT(parse("{\"organization\":{\"organization_type\":\"claude_max\"}}", &p), -ERR_PARSE);
    CHECK_INT(parse("[1]", &p), -ERR_PARSE);
    CHECK_INT(parse("not json", &p), -ERR_PARSE);
    char big[600];
    snprintf(big, sizeof(big), "{\"account\":{\"email_address\":\"%0400d\"}}", 7);
    REQUIRE(parse(big, &p) == 0);
    CHECK_STR(p.email, ""); /* too long: dropped, never cut */
}

TEST(scopes)
{
    CHECK(claude_scopes_have("user:inference user:profile", "user:profile"));
    CHECK(claude_scopes_have("  user:profile", "user:profile"));
    CHECK(!claude_scopes_have("user:inference", "user:profile"));
    CHECK(!claude_scopes_have("user:profiles user:inference", "user:profile"));
    CHECK(!claude_scopes_have("", "user:profile"));
    CHECK(!claude_scopes_have(NULL, "user:profile"));
}

TEST(opus_45_or_newer)
{
    static const char *const yes[] = {
        "claude-opus-4-5-20251101",
        "claude-opus-4-6",
        "claude-opus-4-5",
        "claude-opus-5",
        "claude-opus-latest",
        "opus-4.5",
        "claude-opus-4.6-preview",
        "Claude-Opus-4-5-20251101",
        "claude-5-opus",
        "claude-4.5-opus",
    };
    static const char *const no[] = {
        "claude-opus-4-1-20250805",
        "claude-3-opus-20240229",
        "claude-opus-4-20250514",
        "claude-opus-4",
        "opus-4.1",
        "claude-4-opus",
        "claude-3-5-opus",
        "claude-sonnet-4-5",
        "opus",
        "",
    };
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
        if (!claude_opus_45_or_newer(yes[i])) {
            fprintf(stderr, "  want 4.5+: %s\n", yes[i]);
            CHECK(false);
        }
    for (size_t i = 0; i < ARRAY_SIZE(no); i++)
        if (claude_opus_45_or_newer(no[i])) {
            fprintf(stderr, "  want older: %s\n", no[i]);
            CHECK(false);
        }
}

TEST(subscription_gating)
{
    /* free: no Opus at all */
    CHECK(!claude_subscription_allows("free", "claude-opus-4-5-20251101"));
    CHECK(!claude_subscription_allows("free", "claude-3-opus-20240229"));
    CHECK(claude_subscription_allows("free", "claude-sonnet-4-5"));
    /* pro: Opus 4.5 or newer only */
    CHECK(claude_subscription_allows("claude_pro", "claude-opus-4-5-20251101"));
    CHECK(claude_subscription_allows("claude_pro", "claude-opus-4-6"));
    CHECK(!claude_subscription_allows("claude_pro", "claude-opus-4-1-20250805"));
    CHECK(!claude_subscription_allows("claude_pro", "claude-3-opus-20240229"));
    CHECK(claude_subscription_allows("claude_pro", "claude-haiku-4-5"));
    /* max and unknown: everything */
    CHECK(claude_subscription_allows("claude_max", "claude-3-opus-20240229"));
    CHECK(claude_subscription_allows("", "claude-opus-4-1-20250805"));
    CHECK(claude_subscription_allows(NULL, "claude-opus-4-1-20250805"));
    CHECK(claude_subscription_allows("free", NULL));
}

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

TEST(usage_view)
{
    const char *body = "{\"five_hour\":{\"utilization\":42.5,\"resets_at\":"
                       "\"2026-01-01T01:00:00.462679+00:00\"},\"seven_day\":{\"utilization\":7,"
                       "\"resets_at\":null},\"seven_day_opus\":null,\"access_token\":\"sk-x\"}";
    cJSON *v = claude_usage_view(body, strlen(body), T0);
    REQUIRE(v != NULL);
    const cJSON *fh = json_get(v, "fiveHour");
    CHECK(json_num(fh, "utilization", -1) == 42.5);
    CHECK_STR(json_str(fh, "resetsAt", ""), "2026-01-01T01:00:00.462679+00:00");
    CHECK_INT(json_int(fh, "remainingSeconds", -1), 3600);
    const cJSON *sd = json_get(v, "sevenDay");
    CHECK(json_num(sd, "utilization", -1) == 7);
    CHECK(cJSON_IsNull(json_get(sd, "resetsAt")));
    CHECK(cJSON_IsNull(json_get(sd, "remainingSeconds")));
    CHECK(cJSON_IsNull(json_get(v, "sevenDaySonnet")));
    CHECK(cJSON_IsNull(json_get(v, "sevenDayOpus")));
    char *s = json_print(v);
    CHECK(s && !strstr(s, "sk-x")); /* only the windows are copied */
    free(s);
    cJSON_Delete(v);
    CHECK(claude_usage_view("[]", 2, T0) == NULL);
    CHECK(claude_usage_view("<html>", 6, T0) == NULL);
}

static const struct test tests[] = {
    T(profile_max_from_account_or_organization),
    T(profile_pro_free_and_refusals),
    T(scopes),
    T(opus_45_or_newer),
    T(subscription_gating),
    T(usage_view),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
