/* test_gemini_api.c - the Gemini pieces that are pure: the gemini-api URL rule
 * (crs-relay-spec 6.7), usage from usageMetadata (store/usage_gemini.c),
 * the gemini-api reactions (its classify hook), the endpoints it serves,
 * which routes answer in Google's error shape (one module for both Gemini
 * formats) and the model names a URL may hold. */
#include "compat.h"
#include "accounts.h"
#include "config.h"
#include "errs.h"
#include "fake_account.h"
#include "format.h"
#include "gemini.h"
#include "gemini_api.h"
#include "google_errors.h"
#include "harness.h"
#include "provider.h"
#include "usage.h"

#include <stdlib.h>

static void check_url(const char *base, const char *endpoint, bool sse, const char *want)
{
    char *url = gemini_api_url(base, "gemini-2.5-flash", endpoint, sse);
    CHECK_STR(url, want);
    if (!harness_streq(url, want))
        fprintf(stderr, "    got %s\n", url);
    free(url);
}

TEST(url_rule)
{
    check_url("https://g.example", "generateContent", false,
              "https://g.example/v1beta/models/gemini-2.5-flash:generateContent");
    check_url("https://g.example/v1beta/models", "streamGenerateContent", true,
              "https://g.example/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    check_url("https://g.example/v1/models", "count_tokens", false,
              "https://g.example/v1/models/gemini-2.5-flash:countTokens");
    check_url("https://p.example/x/{model}/do:{action}?ver=2", "streamGenerateContent", true,
              "https://p.example/x/gemini-2.5-flash/do:streamGenerateContent?ver=2&alt=sse");
    check_url("https://p.example/{model}:{action}", "generateContent", false,
              "https://p.example/gemini-2.5-flash:generateContent");
    check_url("https://g.example", "streamGenerateContent", false, /* the JSON array framing */
              "https://g.example/v1beta/models/gemini-2.5-flash:streamGenerateContent");
}

#define META                                                                                       \
    "\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":7,"                       \
    "\"cachedContentTokenCount\":2,\"thoughtsTokenCount\":3,\"totalTokenCount\":22}"

TEST(usage_from_body_and_chunks)
{
    struct usage u = {0};
    const char *body = "{\"candidates\":[],\"modelVersion\":\"gemini-2.5-flash\"," META "}";
    usage_from_gemini_body(&u, body, strlen(body));
    CHECK(u.seen);
    CHECK_INT(u.input, 10); /* cached tokens are part of the prompt: counted once */
    CHECK_INT(u.cache_read, 2);
    CHECK_INT(u.output, 10); /* thoughts are output too (not inside candidates) */
    CHECK_INT(u.reasoning, 3);
    CHECK_STR(u.model, "gemini-2.5-flash");
    CHECK_INT(usage_total(&u), 22);
    struct usage s = {0};
    const char *first = "{\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":12}}";
    const char *none = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"usage\"}]}}]}";
    const char *last = "{\"candidates\":[]," META "}";
    struct sse_event e1 = {"", first, strlen(first), ""}, e2 = {"", none, strlen(none), ""},
                     e3 = {"", last, strlen(last), ""};
    usage_from_gemini_event(&s, &e1);
    CHECK_INT(s.input, 12);
    CHECK_INT(s.output, 0);
    usage_from_gemini_event(&s, &e2);
    usage_from_gemini_event(&s, &e3);
    CHECK_INT(s.input, 10); /* the last chunk's counts, not a sum */
    CHECK_INT(s.output, 10);
    struct usage a = {0};
    const char *arr = "[{\"candidates\":[]},{\"candidates\":[]," META "}]";
    usage_from_gemini_body(&a, arr, strlen(arr)); /* a streamed array read whole */
    CHECK_INT(a.output, 10);
    struct usage bad = {0};
    const char *neg = "{\"usageMetadata\":{\"promptTokenCount\":-4,\"cachedContentTokenCount\":9,"
                      "\"candidatesTokenCount\":1}}";
    usage_from_gemini_body(&bad, neg, strlen(neg));
    CHECK_INT(bad.input, 0);
    CHECK_INT(bad.cache_read, 0);
    CHECK_INT(bad.output, 1);
}

static struct verdict classify(struct fake *f, int status, const char *body,
                               const struct httpc_header *h, size_t nh)
{
    static const struct relay_config cfg = {
        .ttl_rate_limit_s = 300, .ttl_max_custom_s = 1800, .ttl_5xx_s = 60, .ttl_503_s = 30};
    return fake_judge(&cfg, f, "generateContent", status, body, h, nh);
}

TEST(gemini_api_reactions)
{
    struct fake f;
    fake_for(&f, provider_find("gemini-api"));
    REQUIRE(f.acc.prov != NULL);
    CHECK_STR(f.acc.prov->family, "gemini");
    fake_set(&f, "rateLimitDuration", "7");
    const char *retry = "{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":"
                        "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"x.RetryInfo\","
                        "\"retryDelay\":\"32s\"}]}}";
    struct verdict v = classify(&f, 429, retry, NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_RATE_LIMITED);
    CHECK_INT(v.until_ms, 1000000 + 32000); /* RetryInfo's delay */
    CHECK_STR(v.reason, "429: quota");
    struct httpc_header ra = {"retry-after", "30"};
    v = classify(&f, 429, retry, &ra, 1);
    CHECK_INT(v.until_ms, 1000000 + 30000); /* retry-after first */
    v = classify(&f, 429, "{}", NULL, 0);
    CHECK_INT(v.until_ms, 1000000 + 7 * 60000); /* rateLimitDuration */
    fake_set(&f, "rateLimitDuration", "0");
    v = classify(&f, 429, "{}", NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_ACTIVE); /* 0: never marked, the request still moves on */
    const char *bad_key = "{\"error\":{\"code\":400,\"message\":\"API key not valid.\","
                          "\"details\":[{\"reason\":\"API_KEY_INVALID\"}]}}";
    v = classify(&f, 400, bad_key, NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_UNAUTHORIZED);
    v = classify(&f, 400, "{\"error\":{\"message\":\"bad contents\"}}", NULL, 0);
    CHECK_INT(v.action, VERDICT_FAIL); /* the client's own error */
    CHECK_INT(classify(&f, 401, "{}", NULL, 0).mark, ACC_UNAUTHORIZED);
    CHECK_INT(classify(&f, 403, "{}", NULL, 0).mark, ACC_BLOCKED);
    CHECK_INT(classify(&f, 503, "{}", NULL, 0).mark, ACC_TEMP_ERROR);
    CHECK_INT(classify(&f, 200, "", NULL, 0).action, VERDICT_OK);
}

TEST(serves_standard_endpoints_only)
{
    const struct provider *p = provider_find("gemini-api");
    REQUIRE(p && p->serves);
    CHECK(p->serves("generateContent"));
    CHECK(p->serves("streamGenerateContent"));
    CHECK(p->serves("count_tokens"));
    CHECK(!p->serves("v1internal:generateContent"));
    CHECK(!p->serves("v1internal:loadCodeAssist"));
    const struct provider *oauth = provider_find("gemini"); /* Code Assist, and the standard API */
    REQUIRE(oauth && oauth->serves);
    CHECK(oauth->serves("v1internal:generateContent"));
    CHECK(oauth->serves("generateContent"));
    CHECK(oauth->serves("streamGenerateContent"));
    CHECK(oauth->serves("count_tokens"));
    CHECK(!oauth->serves("messages"));
    /* the envelope pair: the content calls are unwrapped, Code Assist's own are not */
    REQUIRE(oauth->reshapes && oauth->unwrap);
    CHECK(oauth->reshapes("generateContent"));
    CHECK(oauth->reshapes("streamGenerateContent"));
    CHECK(!oauth->reshapes("count_tokens"));
    CHECK(!oauth->reshapes("v1internal:generateContent"));
    CHECK(p->reshapes == NULL && p->unwrap == NULL);
    for (size_t i = 0; i < provider_count(); i++) /* the others serve their whole family */
        if (provider_at(i) != p && provider_at(i) != oauth)
            CHECK(provider_at(i)->serves == NULL);
}

TEST(error_shape_by_path)
{
    CHECK(format_for_path("/gemini/v1beta/models/x:generateContent") == &format_gemini);
    CHECK(format_for_path("/GEMINI/models") == &format_gemini);
    CHECK(format_for_path("/geminix/") == &format_anthropic);
    CHECK(format_for_path("/openai/responses") == &format_openai_responses);
    struct stream_reply rep = {0};
    format_gemini.render_error(RERR_NO_ACCOUNT, NULL, &rep);
    CHECK_INT(rep.status, 503);
    CHECK(strstr(rep.body, "\"status\":\"UNAVAILABLE\"") != NULL);
    CHECK(strstr(rep.body, "\"code\":503") != NULL);
    free(rep.body);
    char *frame = format_gemini.error_frame(RERR_UPSTREAM_BROKEN, "lost");
    CHECK(strncmp(frame, "data: {\"error\":", 15) == 0);
    free(frame);
}

/* Both Gemini formats render a relay error, a refusal's status name and a
 * broken SSE stream's last frame the same (google_errors.h). */
TEST(one_google_error_shape)
{
    const enum relay_err errs[] = {RERR_BAD_REQUEST, RERR_BAD_KEY, RERR_METHOD, RERR_RATE_LIMITED,
                                   RERR_UPSTREAM_TIMEOUT};
    for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
        struct stream_reply a = {0}, b = {0};
        format_gemini.render_error(errs[i], "why", &a);
        format_gemini_code_assist.render_error(errs[i], "why", &b);
        CHECK_INT(a.status, b.status);
        CHECK_STR(a.body, b.body);
        CHECK(a.retry_after == b.retry_after);
        free(a.body);
        free(b.body);
        char *fa = format_gemini.error_frame(errs[i], "cut");
        char *fb = format_gemini_code_assist.error_frame(errs[i], "cut");
        CHECK_STR(fa, fb);
        free(fa);
        free(fb);
    }
    CHECK_STR(google_status_name(405), "UNIMPLEMENTED");
    CHECK_STR(google_status_name(429), "RESOURCE_EXHAUSTED");
    CHECK_STR(google_status_name(418), "FAILED_PRECONDITION");
    CHECK_STR(google_status_name(599), "INTERNAL");
    char *text = google_err_text(RERR_NO_ACCOUNT, NULL);
    CHECK_STR(text, "{\"error\":{\"code\":503,\"message\":\"No upstream account is "
                    "available\",\"status\":\"UNAVAILABLE\"}}");
    free(text);
}

/* A model name goes into a gemini-api account's URL path: nothing that
 * could leave the path segment, and never cut. */
TEST(model_name_for_url)
{
    CHECK(gemini_model_ok("gemini-2.5-flash", 96));
    CHECK(gemini_model_ok("gemini-2.0-flash-exp_01", 96));
    CHECK(!gemini_model_ok("", 96));
    CHECK(!gemini_model_ok("x/../../v1/files", 96));
    CHECK(!gemini_model_ok("gemini-2.5-pro?key=AIza", 96));
    CHECK(!gemini_model_ok("gemini#frag", 96));
    CHECK(!gemini_model_ok("gemini pro", 96));
    CHECK(gemini_model_ok("abcd", 5));
    CHECK(!gemini_model_ok("abcde", 5));
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(url_rule),
        T(usage_from_body_and_chunks),
        T(gemini_api_reactions),
        T(serves_standard_endpoints_only),
        T(error_shape_by_path),
        T(one_google_error_shape),
        T(model_name_for_url),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
