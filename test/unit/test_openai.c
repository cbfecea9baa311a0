/* test_openai.c - the OpenAI Responses pieces that are pure: usage from a
 * response object and from the stream's closing event
 * (server/store/usage_openai.c), the OpenAI sticky-session source
 * (session_hash_openai), the openai-responses reactions (its classify
 * hook) and which routes answer in the OpenAI error shape. */
#include "compat.h"
#include "accounts.h"
#include "clients.h"
#include "config.h"
#include "errs.h"
#include "format.h"
#include "fake_account.h"
#include "harness.h"
#include "hdrfilter.h"
#include "json.h"
#include "provider.h"
#include "session_hash.h"
#include "usage.h"

#define USAGE_JSON                                                                                 \
    "\"usage\":{\"input_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":4},"               \
    "\"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":3},\"total_tokens\":29}"

TEST(usage_from_body)
{
    struct usage u = {0};
    const char *body = "{\"object\":\"response\",\"model\":\"gpt-5\"," USAGE_JSON "}";
    usage_from_responses_body(&u, body, strlen(body));
    CHECK(u.seen);
    CHECK_INT(u.input, 16); /* cached tokens are part of input_tokens: counted once */
    CHECK_INT(u.cache_read, 4);
    CHECK_INT(u.output, 9);
    CHECK_INT(u.reasoning, 3);
    CHECK_INT(u.cache_create, 0);
    CHECK_STR(u.model, "gpt-5");
    CHECK_INT(usage_total(&u), 29);
    struct usage bad = {0};
    const char *neg = "{\"usage\":{\"input_tokens\":-5,\"output_tokens\":2,"
                      "\"input_tokens_details\":{\"cached_tokens\":50}}}";
    usage_from_responses_body(&bad, neg, strlen(neg));
    CHECK_INT(bad.input, 0); /* a negative count is 0, cached never exceeds input */
    CHECK_INT(bad.cache_read, 0);
    CHECK_INT(bad.output, 2);
}

static void feed(struct usage *u, const char *event, const char *data)
{
    struct sse_event ev = {event, data, strlen(data), ""};
    usage_from_responses_event(u, &ev);
}

TEST(usage_from_stream)
{
    struct usage u = {0};
    feed(&u, "response.created",
         "{\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\",\"usage\":null}}");
    feed(&u, "response.output_text.delta",
         "{\"type\":\"response.output_text.delta\",\"delta\":\"\\\"response.completed\\\"\"}");
    CHECK(!u.seen);
    feed(&u, "response.completed",
         "{\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5-codex\"," USAGE_JSON
         "}}");
    CHECK(u.seen);
    CHECK_INT(u.input, 16);
    CHECK_INT(u.cache_read, 4);
    CHECK_INT(u.output, 9);
    struct usage un = {0}; /* an unnamed event is recognised by its type */
    feed(&un, "", "{\"type\":\"response.completed\",\"response\":{" USAGE_JSON "}}");
    CHECK_INT(un.output, 9);
    struct usage other = {0};
    feed(&other, "", "{\"type\":\"response.output_text.delta\",\"delta\":\"x\"}");
    CHECK(!other.seen);
}

struct facts_headers {
    const char *name, *value;
};

static const char *hdr(const void *ctx, const char *name)
{
    const struct facts_headers *h = ctx;
    for (; h && h->name; h++)
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

static int hash_of(const struct facts_headers *h, const char *body_text, char out[SESSION_HASH_MAX])
{
    cJSON *body = body_text ? json_parse(body_text, strlen(body_text), 8, false) : NULL;
    struct client_facts f = {"/openai/responses", hdr, h, body};
    int rc = session_hash_openai(&f, out, SESSION_HASH_MAX);
    cJSON_Delete(body);
    return rc;
}

TEST(session_sources)
{
    char a[SESSION_HASH_MAX], b[SESSION_HASH_MAX], c[SESSION_HASH_MAX];
    static const struct facts_headers codex[] = {{"session-id", "0199-uuid-1"}, {NULL, NULL}};
    REQUIRE(hash_of(codex, "{\"prompt_cache_key\":\"other\"}", a) == 0);
    CHECK_INT((long long)strlen(a), 32);
    REQUIRE(hash_of(NULL, "{\"prompt_cache_key\":\"0199-uuid-1\"}", b) == 0);
    CHECK_STR(a, b); /* Codex's header and its prompt_cache_key name the same session */
    static const struct facts_headers old[] = {{"session_id", "0199-uuid-2"}, {NULL, NULL}};
    REQUIRE(hash_of(old, NULL, c) == 0);
    CHECK(strcmp(a, c) != 0);
    CHECK_INT(hash_of(NULL, "{\"input\":\"hi\"}", c), -ERR_NOTFOUND);
    CHECK_INT(hash_of(NULL, "{\"prompt_cache_key\":\"\"}", c), -ERR_NOTFOUND);
}

static void fake_init(struct fake *f, const char *duration)
{
    fake_for(f, provider_find("openai-responses"));
    fake_set(f, "rateLimitDuration", duration);
}

static struct verdict classify(struct fake *f, int status, const char *body,
                               const struct httpc_header *h, size_t nh)
{
    static const struct relay_config cfg = {
        .ttl_rate_limit_s = 300, .ttl_max_custom_s = 1800, .ttl_5xx_s = 60, .ttl_503_s = 30};
    return fake_judge(&cfg, f, "responses", status, body, h, nh);
}

TEST(responses_reactions)
{
    struct fake f;
    fake_init(&f, "7");
    REQUIRE(f.acc.prov != NULL);
    CHECK_STR(f.acc.prov->family, "openai");
    const char *limited = "{\"error\":{\"type\":\"usage_limit_reached\",\"message\":\"limit\","
                          "\"resets_in_seconds\":90}}";
    struct verdict v = classify(&f, 429, limited, NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_RATE_LIMITED);
    CHECK_INT(v.until_ms, 1000000 + 90000); /* the body's reset first */
    CHECK_STR(v.reason, "429: limit");
    struct httpc_header ra = {"retry-after", "30"};
    v = classify(&f, 429, "{\"error\":{\"message\":\"slow\"}}", &ra, 1);
    CHECK_INT(v.until_ms, 1000000 + 30000);
    v = classify(&f, 429, "{}", NULL, 0);
    CHECK_INT(v.until_ms, 1000000 + 7 * 60000); /* the account's rateLimitDuration */
    fake_init(&f, "0");
    v = classify(&f, 429, "{}", NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY); /* moved on, never marked */
    CHECK_INT(v.mark, ACC_ACTIVE);
    fake_init(&f, NULL);
    v = classify(&f, 429, "{}", NULL, 0);
    CHECK_INT(v.until_ms, 1000000 + 300000); /* no field: the relay's TTL */
    CHECK_INT(classify(&f, 401, "{}", NULL, 0).mark, ACC_UNAUTHORIZED);
    CHECK_INT(classify(&f, 403, "{}", NULL, 0).mark, ACC_BLOCKED);
    v = classify(&f, 500, "{}", NULL, 0);
    CHECK_INT(v.mark, ACC_TEMP_ERROR);
    CHECK_INT(v.until_ms, 1000000 + 60000);
    v = classify(&f, 400, "{\"error\":{\"message\":\"bad input\"}}", NULL, 0);
    CHECK_INT(v.action, VERDICT_FAIL);
    CHECK_INT(v.mark, ACC_ACTIVE);
    CHECK_INT(classify(&f, 200, "", NULL, 0).action, VERDICT_OK);
}

/* ChatGPT (openai) accounts: the Codex backend's reactions (crs-relay-spec 5.5). */
TEST(codex_reactions)
{
    struct fake f;
    fake_for(&f, provider_find("openai"));
    REQUIRE(f.acc.prov != NULL && f.acc.prov->oauth != NULL);
    CHECK_STR(f.acc.prov->family, "openai");
    const char *limited = "{\"error\":{\"type\":\"usage_limit_reached\",\"message\":\"limit\","
                          "\"resets_in_seconds\":90}}";
    struct verdict v = classify(&f, 429, limited, NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_RATE_LIMITED);
    CHECK_INT(v.until_ms, 1000000 + 90000);
    v = classify(&f, 429, "{\"error\":{\"resets_at\":4000}}", NULL, 0);
    CHECK_INT(v.until_ms, 4000000); /* epoch seconds */
    v = classify(&f, 429, "{}", NULL, 0);
    CHECK_INT(v.until_ms, 1000000 + 3600000); /* the original's default hour */
    v = classify(&f, 402, "{\"error\":{\"message\":\"pay\"}}", NULL, 0);
    CHECK_INT(v.action, VERDICT_RETRY);
    CHECK_INT(v.mark, ACC_UNAUTHORIZED);
    CHECK_INT(v.until_ms, 0);
    CHECK_INT(classify(&f, 401, "{}", NULL, 0).mark, ACC_UNAUTHORIZED);
    /* A success's usage window, and a mid-stream usage limit. */
    struct httpc_header h[] = {{"x-codex-primary-used-percent", "42"},
                               {"x-codex-primary-reset-after-seconds", "600"}};
    struct upstream_answer ok = {
        .status = 200, .headers = h, .nheaders = 2, .body = "", .now_ms = 1000000};
    struct verdict w = {.action = VERDICT_OK};
    f.acc.prov->observe(&f.acc, &ok, &w);
    CHECK_STR(w.window, "42% used");
    CHECK_INT(w.window_end_ms, 1000000 + 600000);
    CHECK(f.acc.prov->keep_header("x-codex-primary-used-percent"));
    CHECK(!f.acc.prov->keep_header("set-cookie"));
    static const char err[] = "{\"type\":\"error\",\"error\":{\"type\":\"usage_limit_reached\","
                              "\"resets_in_seconds\":60}}";
    struct sse_event ev = {"error", err, sizeof(err) - 1, ""};
    struct verdict m = {.action = VERDICT_OK};
    f.acc.prov->observe_event(&f.acc, &ev, 1000000, &m);
    CHECK_INT(m.mark, ACC_RATE_LIMITED);
    CHECK_INT(m.until_ms, 1000000 + 60000);
    static const char delta[] = "{\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}";
    struct sse_event d = {"response.output_text.delta", delta, sizeof(delta) - 1, ""};
    struct verdict none = {.action = VERDICT_OK};
    f.acc.prov->observe_event(&f.acc, &d, 1000000, &none);
    CHECK_INT(none.mark, ACC_ACTIVE);
}

TEST(keep_headers_and_error_shape_by_path)
{
    const struct provider *p = provider_find("openai-responses");
    REQUIRE(p != NULL);
    CHECK(p->keep_header("x-request-id"));
    CHECK(p->keep_header("OpenAI-Processing-Ms"));
    CHECK(p->keep_header("x-ratelimit-remaining-tokens"));
    CHECK(p->keep_header("retry-after"));
    CHECK(!p->keep_header("set-cookie"));
    CHECK(!p->keep_header("anthropic-ratelimit-unified-reset"));
    CHECK(format_for_path("/openai/v1/responses") == &format_openai_responses);
    CHECK(format_for_path("/OpenAI/responses") == &format_openai_responses);
    CHECK(format_for_path("/api/v1/messages") == &format_anthropic);
    CHECK(format_for_path("/openaiX") == &format_anthropic);
    CHECK(format_for_path(NULL) == &format_anthropic);
}

TEST(client_headers_allowed_upstream)
{
    static const char *const keep[] = {"accept",
                                       "User-Agent",
                                       "openai-beta",
                                       "originator",
                                       "version",
                                       "session-id",
                                       "session_id",
                                       "thread-id",
                                       "x-client-request-id",
                                       "x-codex-turn-metadata",
                                       "x-stainless-os"};
    static const char *const drop[] = {"authorization",
                                       "x-api-key",
                                       "cookie",
                                       "host",
                                       "content-length",
                                       "accept-encoding",
                                       "openai-organization",
                                       "openai-project",
                                       "connection",
                                       "x-forwarded-for",
                                       "transfer-encoding"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        CHECK(hdrfilter_openai(keep[i]));
    for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
        CHECK(!hdrfilter_openai(drop[i]));
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(usage_from_body),
        T(usage_from_stream),
        T(session_sources),
        T(responses_reactions),
        T(codex_reactions),
        T(keep_headers_and_error_shape_by_path),
        T(client_headers_allowed_upstream),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
