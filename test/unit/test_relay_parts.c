/* test_relay_parts.c - header filtering, usage extraction, router matching. */
#include "compat.h"
#include "errs.h"
#include "harness.h"
#include "hdrfilter.h"
#include "keys.h"
#include "router.h"
#include "sse.h"
#include "usage.h"

TEST(client_credentials_never_forwarded)
{
    const char *drop[] = {
        "x-api-key",           "Authorization",   "cookie",           "host", "content-length",
        "accept-encoding",     "connection",      "keep-alive",       "te",   "upgrade",
        "proxy-authorization", "x-forwarded-for", "transfer-encoding"};
    for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
        CHECK(!hdrfilter_claude(drop[i]));
}

TEST(anthropic_headers_forwarded)
{
    const char *keep[] = {"anthropic-version",
                          "Anthropic-Beta",
                          "user-agent",
                          "x-app",
                          "x-stainless-retry-count",
                          "X-Stainless-Package-Version",
                          "anthropic-dangerous-direct-browser-access",
                          "x-claude-code-session-id"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        CHECK(hdrfilter_claude(keep[i]));
}

TEST(connection_token_list)
{
    CHECK(hdrfilter_in_token_list("keep-alive, X-App", "x-app"));
    CHECK(hdrfilter_in_token_list("x-app", "x-app"));
    CHECK(!hdrfilter_in_token_list("x-apple", "x-app"));
    CHECK(!hdrfilter_in_token_list(NULL, "x-app"));
    CHECK(!hdrfilter_in_token_list("", "x-app"));
}

static const char stream_text[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-x\","
    "\"usage\":{\"input_tokens\":11,\"cache_creation_input_tokens\":7,"
    "\"cache_read_input_tokens\":5,\"cache_creation\":{\"ephemeral_5m_input_tokens\":3,"
    "\"ephemeral_1h_input_tokens\":4},\"output_tokens\":1}}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"hi\"}}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":13}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static int feed_usage(void *arg, const struct sse_event *ev)
{
    usage_from_anthropic_event(arg, ev);
    return 0;
}

static void check_usage(const struct usage *u)
{
    CHECK_INT(u->input, 11);
    CHECK_INT(u->output, 13);
    CHECK_INT(u->cache_create, 7);
    CHECK_INT(u->cache_read, 5);
    CHECK_INT(u->eph_5m, 3);
    CHECK_INT(u->eph_1h, 4);
    CHECK_INT(usage_total(u), 36);
    CHECK_STR(u->model, "claude-x");
    CHECK(u->seen);
}

TEST(usage_from_stream_any_chunking)
{
    for (size_t chunk = 1; chunk <= 64; chunk *= 2) {
        struct usage u = {0};
        struct sse_parser p;
        sse_init(&p, 1 << 20, feed_usage, &u);
        size_t len = strlen(stream_text);
        for (size_t off = 0; off < len; off += chunk)
            CHECK_INT(sse_feed(&p, stream_text + off, off + chunk > len ? len - off : chunk), 0);
        sse_release(&p);
        check_usage(&u);
    }
}

TEST(usage_from_body)
{
    const char body[] =
        "{\"id\":\"m\",\"type\":\"message\",\"model\":\"claude-x\",\"usage\":"
        "{\"input_tokens\":11,\"output_tokens\":13,\"cache_creation_input_tokens\":7,"
        "\"cache_read_input_tokens\":5,\"cache_creation\":{\"ephemeral_5m_input_"
        "tokens\":3,\"ephemeral_1h_input_tokens\":4}}}";
    struct usage u = {0};
    usage_from_anthropic_body(&u, body, strlen(body));
    check_usage(&u);
}

TEST(usage_ignores_garbage)
{
    struct usage u = {0};
    usage_from_anthropic_body(&u, "not json", 8);
    usage_from_anthropic_body(&u, "{\"usage\":\"x\"}", 13);
    struct sse_event ev = {"message_start", "{broken", 7, ""};
    usage_from_anthropic_event(&u, &ev);
    CHECK(!u.seen);
    CHECK_INT(usage_total(&u), 0);
}

/* A negative count from a broken or hostile upstream would subtract from a
 * key's totals: it counts as 0, in bodies and in stream deltas. */
TEST(usage_negative_counts_ignored)
{
    const char body[] = "{\"usage\":{\"input_tokens\":-500,\"output_tokens\":7,"
                        "\"cache_read_input_tokens\":-1e18,\"cache_creation\":"
                        "{\"ephemeral_5m_input_tokens\":-3}}}";
    struct usage u = {0};
    usage_from_anthropic_body(&u, body, strlen(body));
    CHECK_INT(u.input, 0);
    CHECK_INT(u.output, 7);
    CHECK_INT(u.cache_read, 0);
    CHECK_INT(u.eph_5m, 0);
    const char delta[] = "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":-9000}}";
    struct sse_event ev = {"message_delta", delta, strlen(delta), ""};
    usage_from_anthropic_event(&u, &ev);
    CHECK_INT(u.output, 0);
    CHECK(usage_total(&u) >= 0);
}

TEST(router_matches_relay_routes)
{
    struct route_match m;
    CHECK_INT(router_match("POST", "/api/v1/messages", &m), 0);
    CHECK_INT(router_match("POST", "/API/V1/Messages/", &m), 0);
    CHECK_INT(router_match("POST", "/claude/v1/messages/count_tokens", &m), 0);
    CHECK_INT(router_match("POST", "/v1/messages", &m), 0);
    CHECK_INT(router_match("GET", "/api/v1/models", &m), 0);
    CHECK_INT(router_match("POST", "/api/api/event_logging/batch", &m), 0);
    CHECK_INT(router_match("GET", "/api/v1/messages", &m), -ERR_INVAL);
    CHECK_INT(router_match("POST", "/api/v2/messages", &m), -ERR_NOTFOUND);
    CHECK_INT(router_match("POST", "//api/v1/messages", &m), -ERR_NOTFOUND);
    CHECK_INT(router_match("POST", "api/v1/messages", &m), -ERR_NOTFOUND);
}

TEST(router_params)
{
    struct route_match m;
    REQUIRE(router_match("GET", "/web/style.css", &m) == 0);
    CHECK_INT(m.nparams, 1);
    CHECK_STR(m.params[0].value, "style.css");
    char longp[400] = "/web/";
    memset(longp + 5, 'a', 300);
    CHECK(router_match("GET", longp, &m) != 0); /* parameter too long: no match */
}

TEST(telemetry_body_is_tiny)
{
    struct route_match m;
    REQUIRE(router_match("POST", "/api/event_logging/batch", &m) == 0);
    CHECK_INT(m.route->body, BODY_TINY);
    CHECK_INT(m.route->auth, AUTH_NONE);
    REQUIRE(router_match("POST", "/api/v1/messages", &m) == 0);
    CHECK_INT(m.route->auth, AUTH_KEY);
}

TEST(key_format)
{
    char k[80] = "cr_";
    memset(k + 3, 'a', 64);
    k[67] = '\0';
    CHECK(keys_format_ok("cr_", k));
    k[10] = 'A';
    CHECK(!keys_format_ok("cr_", k)); /* upper case */
    k[10] = 'g';
    CHECK(!keys_format_ok("cr_", k));
    k[10] = '0';
    CHECK(keys_format_ok("cr_", k));
    k[66] = '\0';
    CHECK(!keys_format_ok("cr_", k)); /* 63 digits */
    CHECK(!keys_format_ok("cr_", ""));
    CHECK(!keys_format_ok("sk_", "cr_0123"));
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {T(client_credentials_never_forwarded),
                                        T(anthropic_headers_forwarded),
                                        T(connection_token_list),
                                        T(usage_from_stream_any_chunking),
                                        T(usage_from_body),
                                        T(usage_ignores_garbage),
                                        T(usage_negative_counts_ignored),
                                        T(router_matches_relay_routes),
                                        T(router_params),
                                        T(telemetry_body_is_tiny),
                                        T(key_format)};
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
