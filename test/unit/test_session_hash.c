/* test_session_hash.c - sticky-session keys (crs-relay-spec 4.1): the
 * metadata.user_id session verbatim, else sha256 of the cached prefix, the
 * system text or the first message; none for an empty body. */
#include "compat.h"
#include "clients.h"
#include "errs.h"
#include "harness.h"
#include "session_hash.h"

#include <cJSON.h>

static const char *no_header(const void *ctx, const char *name)
{
    (void)ctx, (void)name;
    return NULL;
}

/* The hash of body (JSON text) into out; the return code. */
static int hash_of(const char *body, char out[SESSION_HASH_MAX])
{
    cJSON *b = cJSON_Parse(body);
    struct client_facts f = {"/v1/messages", no_header, NULL, b};
    int rc = session_hash(&f, out, SESSION_HASH_MAX);
    cJSON_Delete(b);
    return rc;
}

TEST(user_id_session_verbatim)
{
    char h[SESSION_HASH_MAX];
    const char *body = "{\"metadata\":{\"user_id\":\"{\\\"device_id\\\":\\\""
                       "2f547aaeb189045860416c9b6d03983491567f72b0eae8c38d70571f74a65cc6"
                       "\\\",\\\"account_uuid\\\":\\\"\\\",\\\"session_id\\\":\\\""
                       "b94ef88d-537d-4d47-b8f5-5a651ebb5fe3\\\"}\"},\"system\":\"x\"}";
    CHECK_INT(hash_of(body, h), 0);
    CHECK_STR(h, "b94ef88d-537d-4d47-b8f5-5a651ebb5fe3");
}

TEST(cached_prefix_plus_first_message_text)
{
    char h[SESSION_HASH_MAX];
    const char *body =
        "{\"system\":[{\"type\":\"text\",\"text\":\"SYS-\"},{\"type\":\"text\",\"text\":"
        "\"CACHED\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":"
        "\"user\",\"content\":[{\"type\":\"image\"}]},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"first\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"later\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}";
    CHECK_INT(hash_of(body, h), 0);
    /* "CACHED" + the first message with text ("first"), not the cached one */
    CHECK_STR(h, "d779fcec66e3a2513881cd6452451614");
}

TEST(system_text_then_first_message)
{
    char h[SESSION_HASH_MAX];
    CHECK_INT(hash_of("{\"system\":\"You are helpful.\",\"messages\":[]}", h), 0);
    CHECK_STR(h, "42ea835592c20e1e24b29875c1063f6c");
    CHECK_INT(hash_of("{\"system\":[{\"text\":\"a\"},{\"text\":\"b\"}]}", h), 0);
    CHECK_STR(h, "fb8e20fc2e4c3f248c60c39bd652f3c1");
    CHECK_INT(hash_of("{\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}", h), 0);
    CHECK_STR(h, "12998c017066eb0d2a70b94e6ed31929");
}

TEST(none_without_text)
{
    char h[SESSION_HASH_MAX] = "untouched";
    CHECK_INT(hash_of("{\"messages\":[{\"role\":\"user\",\"content\":[]}]}", h), -ERR_NOTFOUND);
    CHECK_INT(hash_of("{}", h), -ERR_NOTFOUND);
    CHECK_STR(h, "untouched");
}

static const struct test tests[] = {
    T(user_id_session_verbatim),
    T(cached_prefix_plus_first_message_text),
    T(system_text_then_first_message),
    T(none_without_text),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
