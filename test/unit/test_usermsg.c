/* test_usermsg.c - the user message queue's pure parts: which bodies are a
 * new user turn, which requests queue on which account, the poll interval. */
#include "compat.h"
#include "accounts.h"
#include "config.h"
#include "format.h"
#include "harness.h"
#include "json.h"
#include "usermsg.h"

static bool turn(const char *text)
{
    cJSON *j = json_parse(text, strlen(text), 16, true);
    bool r = anthropic_is_user_turn(j);
    cJSON_Delete(j);
    return r;
}

TEST(string_prompt_is_a_user_turn)
{
    CHECK(turn("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
    CHECK(
        turn("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
             "{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"}]}"));
}

TEST(text_and_image_blocks_are_a_user_turn)
{
    CHECK(turn("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},"
               "{\"type\":\"image\",\"source\":{}}]}]}"));
    CHECK(turn("{\"messages\":[{\"role\":\"user\",\"content\":[]}]}"));
}

TEST(tool_result_is_a_continuation)
{
    CHECK(!turn("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\"}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\"},"
                "{\"type\":\"text\",\"text\":\"and more\"}]}]}"));
    CHECK(!turn("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},"
                "{\"type\":\"tool_use_result\"}]}]}"));
}

TEST(assistant_last_or_no_messages_is_not_a_user_turn)
{
    CHECK(!turn("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
                "{\"role\":\"assistant\",\"content\":\"prefill\"}]}"));
    CHECK(!turn("{\"messages\":[]}"));
    CHECK(!turn("{\"model\":\"m\"}"));
    CHECK(!turn("{\"messages\":[\"user\"]}"));
    CHECK(!anthropic_is_user_turn(NULL));
}

TEST(applies_to_user_turns_on_messages_only)
{
    struct relay_config cfg = {0};
    struct account a = {0};
    CHECK(!usermsg_applies(cfg.umq_enabled, &a, "messages", true)); /* off everywhere */
    cfg.umq_enabled = true;
    CHECK(usermsg_applies(cfg.umq_enabled, &a, "messages", true));
    CHECK(!usermsg_applies(cfg.umq_enabled, &a, "messages", false));
    CHECK(!usermsg_applies(cfg.umq_enabled, &a, "count_tokens", true));
    cfg.umq_enabled = false;
    a.user_queue = true; /* the account's own switch */
    CHECK(usermsg_applies(cfg.umq_enabled, &a, "messages", true));
    CHECK(!usermsg_applies(cfg.umq_enabled, &a, "messages", false));
    CHECK(usermsg_applies(cfg.umq_enabled, &a, "generateContent", true)); /* Gemini's messages */
    CHECK(usermsg_applies(cfg.umq_enabled, &a, "streamGenerateContent", true));
    CHECK(
        !usermsg_applies(cfg.umq_enabled, &a, "responses", true)); /* OpenAI requests never queue */
}

TEST(poll_waits_the_delay_left)
{
    struct usermsg_turn u = {.backoff_ms = USERMSG_BACKOFF_FIRST_MS};
    CHECK_INT(usermsg_next_poll(&u, 137, 10000, 500), 137);
    CHECK_INT(u.backoff_ms, USERMSG_BACKOFF_FIRST_MS);  /* the back-off is for a held lock */
    CHECK_INT(usermsg_next_poll(&u, 137, 40, 500), 40); /* never past the timeout */
    CHECK_INT(usermsg_next_poll(&u, 137, 0, 500), 1);
}

TEST(poll_backs_off_by_half_to_500ms_with_jitter)
{
    struct usermsg_turn u = {.backoff_ms = USERMSG_BACKOFF_FIRST_MS};
    long seen[12];
    for (int i = 0; i < 12; i++)
        seen[i] = usermsg_next_poll(&u, USERMSG_LOCK_HELD, 100000, 500); /* mid jitter */
    CHECK_INT(seen[0], 50);
    CHECK_INT(seen[1], 75);
    CHECK_INT(seen[2], 112);
    CHECK_INT(seen[11], 500);
    CHECK_INT(u.backoff_ms, USERMSG_BACKOFF_MAX_MS);
    CHECK_INT(usermsg_next_poll(&u, USERMSG_LOCK_HELD, 100000, 0), 425);    /* -15 % */
    CHECK_INT(usermsg_next_poll(&u, USERMSG_LOCK_HELD, 100000, 1000), 575); /* +15 % */
}

static const struct test tests[] = {
    T(string_prompt_is_a_user_turn),
    T(text_and_image_blocks_are_a_user_turn),
    T(tool_result_is_a_continuation),
    T(assistant_last_or_no_messages_is_not_a_user_turn),
    T(applies_to_user_turns_on_messages_only),
    T(poll_waits_the_delay_left),
    T(poll_backs_off_by_half_to_500ms_with_jitter),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
