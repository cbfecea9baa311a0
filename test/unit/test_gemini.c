/* test_gemini.c - the Gemini Code Assist pieces that are pure: usage from
 * usageMetadata in a body (enveloped, bare, a JSON array) and in stream
 * chunks (server/store/usage_gemini.c), Google's error shape
 * (formats/google_errors.c), the gemini provider's reactions, its
 * token_expired and learn_body hooks, and which routes answer in Google's
 * shape. */
#include "compat.h"
#include "accounts.h"
#include "config.h"
#include "fake_account.h"
#include "format.h"
#include "google_errors.h"
#include "harness.h"
#include "json.h"
#include "provider.h"
#include "usage.h"

#define META                                                                                       \
    "\"usageMetadata\":{\"promptTokenCount\":30,\"candidatesTokenCount\":8,"                       \
    "\"cachedContentTokenCount\":10,\"thoughtsTokenCount\":4,\"totalTokenCount\":42}"

static void check_counted(const struct usage *u)
{
    CHECK(u->seen);
    CHECK_INT(u->input, 20); /* cached tokens are part of the prompt: counted once */
    CHECK_INT(u->cache_read, 10);
    CHECK_INT(u->output, 12); /* thoughts are billed as output */
    CHECK_INT(u->reasoning, 4);
    CHECK_INT(u->cache_create, 0);
    CHECK_INT(usage_total(u), 42);
}

TEST(usage_from_bodies)
{
    struct usage u = {0};
    const char *env = "{\"response\":{\"candidates\":[],\"modelVersion\":\"gemini-2.5-pro\"," META
                      "},\"traceId\":\"t\"}";
    usage_from_gemini_body(&u, env, strlen(env));
    check_counted(&u);
    CHECK_STR(u.model, "gemini-2.5-pro");
    struct usage bare = {0};
    const char *b = "{\"candidates\":[]," META "}";
    usage_from_gemini_body(&bare, b, strlen(b));
    check_counted(&bare);
    struct usage arr = {0}; /* a stream without alt=sse: a JSON array, the last one's totals */
    const char *a = "[{\"response\":{\"usageMetadata\":{\"promptTokenCount\":30}}},"
                    "{\"response\":{" META "}}]";
    usage_from_gemini_body(&arr, a, strlen(a));
    check_counted(&arr);
    struct usage bad = {0};
    const char *neg = "{\"usageMetadata\":{\"promptTokenCount\":5,\"cachedContentTokenCount\":9,"
                      "\"candidatesTokenCount\":-3}}";
    usage_from_gemini_body(&bad, neg, strlen(neg));
    CHECK_INT(bad.input, 0); /* cached never exceeds the prompt; a negative count is 0 */
    CHECK_INT(bad.cache_read, 5);
    CHECK_INT(bad.output, 0);
}

static void feed(struct usage *u, const char *data)
{
    struct sse_event ev = {"", data, strlen(data), ""};
    usage_from_gemini_event(u, &ev);
}

TEST(usage_from_stream)
{
    struct usage u = {0};
    feed(&u, "{\"response\":{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}}");
    CHECK(!u.seen);
    feed(&u, "{\"response\":{\"modelVersion\":\"gemini-2.5-pro\",\"usageMetadata\":"
             "{\"promptTokenCount\":30,\"totalTokenCount\":30}}}");
    CHECK_INT(u.input, 30);
    CHECK_INT(u.output, 0);
    feed(&u, "{\"response\":{" META "}}");
    check_counted(&u); /* the last chunk's totals win, not a sum */
    CHECK_STR(u.model, "gemini-2.5-pro");
}

TEST(google_error_shape)
{
    CHECK_STR(google_status_name(400), "INVALID_ARGUMENT");
    CHECK_STR(google_status_name(401), "UNAUTHENTICATED");
    CHECK_STR(google_status_name(403), "PERMISSION_DENIED");
    CHECK_STR(google_status_name(429), "RESOURCE_EXHAUSTED");
    CHECK_STR(google_status_name(503), "UNAVAILABLE");
    CHECK_STR(google_status_name(599), "INTERNAL");
    cJSON *j = google_error(NULL, 403, "no");
    char *s = json_print(j);
    CHECK_STR(s, "{\"error\":{\"code\":403,\"message\":\"no\",\"status\":\"PERMISSION_DENIED\"}}");
    free(s);
    cJSON_Delete(j);
    const char *err = "[{\"error\":{\"code\":429}}]";
    CHECK(google_is_error(err, strlen(err)));
    CHECK(!google_is_error("<html>", 6));
    CHECK(format_for_path("/gemini/v1internal:generateContent") == &format_gemini_code_assist);
    CHECK(format_for_path("/geminiX") == &format_anthropic);
}

static struct verdict classify(struct fake *f, int status, const char *body,
                               const struct httpc_header *h, size_t nh)
{
    static const struct relay_config cfg = {
        .ttl_rate_limit_s = 300, .ttl_max_custom_s = 1800, .ttl_5xx_s = 60, .ttl_503_s = 30};
    return fake_judge(&cfg, f, "generateContent", status, body, h, nh);
}

TEST(gemini_reactions)
{
    struct fake f;
    fake_for(&f, provider_find("gemini"));
    REQUIRE(f.acc.prov != NULL);
    CHECK_STR(f.acc.prov->family, "gemini");
    fake_set(&f, "rateLimitDuration", "7");
    const char *info = "{\"error\":{\"code\":429,\"message\":\"quota\",\"details\":[{\"@type\":"
                       "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"1.5s\"}]}}";
    struct verdict v = classify(&f, 429, info, NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_RATE_LIMITED);
    CHECK_INT(v.until_ms, 1000000 + 2000); /* RetryInfo first, rounded up */
    struct httpc_header ra = {"retry-after", "30"};
    CHECK_INT(classify(&f, 429, "{}", &ra, 1).until_ms, 1000000 + 30000);
    CHECK_INT(classify(&f, 429, "{}", NULL, 0).until_ms, 1000000 + 7 * 60000);
    fake_set(&f, "rateLimitDuration", "0");
    v = classify(&f, 429, "{}", NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY); /* moved on, never marked */
    CHECK_INT(v.mark, ACC_ACTIVE);
    v = classify(&f, 401, "{}", NULL, 0);
    CHECK_INT(v.mark, ACC_TEMP_ERROR); /* a stale Google token: cools, not permanent */
    CHECK_INT(v.until_ms, 1000000 + 1800000);
    CHECK_INT(classify(&f, 403, "{}", NULL, 0).mark, ACC_TEMP_ERROR);
    CHECK_INT(classify(&f, 500, "{}", NULL, 0).mark, ACC_TEMP_ERROR);
    v = classify(&f, 400, "{\"error\":{\"message\":\"bad\"}}", NULL, 0);
    CHECK_INT(v.action, VERDICT_FAIL);
    CHECK_INT(v.mark, ACC_ACTIVE);
}

TEST(token_expired_and_learnt_project)
{
    struct fake f;
    const struct provider *p = provider_find("gemini");
    REQUIRE(p != NULL && p->token_expired && p->learn_body);
    fake_for(&f, p);
    CHECK(!p->token_expired(&f.acc, 1000000)); /* expiresAt unknown */
    fake_set(&f, "expiresAt", "1005000");
    CHECK(p->token_expired(&f.acc, 1000000)); /* within the 10 s slack */
    CHECK(!p->token_expired(&f.acc, 990000));
    fake_set(&f, "refreshToken", "1//r");
    CHECK(!p->token_expired(&f.acc, 2000000)); /* renewable: the refresh's to do */
    char val[256];
    const char *load = "{\"currentTier\":{},\"cloudaicompanionProject\":\"proj-1\"}";
    CHECK_STR(
        p->learn_body(&f.acc, "v1internal:loadCodeAssist", load, strlen(load), val, sizeof(val)),
        "tempProjectId");
    CHECK_STR(val, "proj-1");
    const char *onb = "{\"done\":true,\"response\":{\"cloudaicompanionProject\":{\"id\":\"p-2\"}}}";
    CHECK_STR(p->learn_body(&f.acc, "v1internal:onboardUser", onb, strlen(onb), val, sizeof(val)),
              "tempProjectId");
    CHECK_STR(val, "p-2");
    CHECK(p->learn_body(&f.acc, "v1internal:generateContent", load, strlen(load), val,
                        sizeof(val)) == NULL);
    const char *odd = "{\"cloudaicompanionProject\":\"a b\\\"c\"}";
    CHECK(p->learn_body(&f.acc, "v1internal:loadCodeAssist", odd, strlen(odd), val, sizeof(val)) ==
          NULL);
    fake_set(&f, "projectId", "mine");
    CHECK(p->learn_body(&f.acc, "v1internal:loadCodeAssist", load, strlen(load), val,
                        sizeof(val)) == NULL);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(usage_from_bodies),
        T(usage_from_stream),
        T(google_error_shape),
        T(gemini_reactions),
        T(token_expired_and_learnt_project),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
