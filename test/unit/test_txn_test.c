/* test_txn_test.c - the account test's pure part: the text of an answer in
 * each native shape (txn_test_summary), cut at TXN_TEST_TEXT_MAX characters
 * and at the buffer, never inside a UTF-8 code point. */
#include "compat.h"
#include "harness.h"
#include "txn.h"

static char text[4 * TXN_TEST_TEXT_MAX + 1], err[320];

static void sum(const char *body, bool sse)
{
    txn_test_summary(body, strlen(body), sse, text, sizeof(text), err, sizeof(err));
}

TEST(messages_text_blocks)
{
    sum("{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"Hel\"},"
        "{\"type\":\"tool_use\",\"name\":\"x\"},{\"type\":\"text\",\"text\":\"lo\"}]}",
        false);
    CHECK(strcmp(text, "Hello") == 0);
    CHECK(err[0] == '\0');
}

TEST(responses_output_text)
{
    sum("{\"object\":\"response\",\"output\":[{\"type\":\"reasoning\",\"content\":[{\"type\":"
        "\"output_text\",\"text\":\"no\"}]},{\"type\":\"message\",\"content\":[{\"type\":"
        "\"output_text\",\"text\":\"yes\"}]}]}",
        false);
    CHECK(strcmp(text, "yes") == 0);
}

TEST(gemini_and_code_assist_candidates)
{
    sum("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"}]}}]}", false);
    CHECK(strcmp(text, "ab") == 0);
    sum("{\"response\":{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"wrapped\"}]}}]}}",
        false);
    CHECK(strcmp(text, "wrapped") == 0);
}

TEST(responses_stream_deltas_and_a_last_event_without_blank_line)
{
    sum("event: response.created\ndata: {\"type\":\"response.created\"}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
        "\"delta\":\"Hi\"}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
        "\"delta\":\" there\"}\n",
        true);
    CHECK(strcmp(text, "Hi there") == 0);
    CHECK(err[0] == '\0');
}

TEST(stream_error_events_are_errors)
{
    sum("event: error\ndata: {\"type\":\"error\",\"error\":{\"message\":\"limit reached\"}}\n\n"
        "event: response.failed\ndata: {\"type\":\"response.failed\"}\n\n",
        true);
    CHECK(strcmp(err, "limit reached") == 0); /* the first error names it */
}

TEST(not_json_is_an_error)
{
    sum("<html>oops</html>", false);
    CHECK(strcmp(err, "the answer is not JSON") == 0);
    CHECK(text[0] == '\0');
}

TEST(cut_at_500_characters_never_inside_a_code_point)
{
    /* 600 three-byte characters: 500 kept, 1500 bytes */
    static char body[4096];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"content\":[{\"type\":\"text\",\"text\":\"");
    for (int i = 0; i < 600; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "\xe4\xbd\xa0");
    snprintf(body + n, sizeof(body) - n, "\"}]}");
    sum(body, false);
    CHECK_INT((long long)strlen(text), 1500);
    /* a small buffer: cut before the code point that does not fit */
    char small[8];
    txn_test_summary(body, strlen(body), false, small, sizeof(small), err, sizeof(err));
    CHECK_INT((long long)strlen(small), 6);
}

static const struct test tests[] = {
    T(messages_text_blocks),
    T(responses_output_text),
    T(gemini_and_code_assist_candidates),
    T(responses_stream_deltas_and_a_last_event_without_blank_line),
    T(stream_error_events_are_errors),
    T(not_json_is_an_error),
    T(cut_at_500_characters_never_inside_a_code_point),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
