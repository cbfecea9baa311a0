/* test_settings.c - the runtime settings' pure parts: the environment values
 * in force before Redis is read, and what an admin change may hold (the
 * ranges, the types, the fields this relay does not implement). */
#include "compat.h"
#include "config.h"
#include "errs.h"
#include "harness.h"
#include "json.h"
#include "settings.h"

static struct relay_config cfg_with(void)
{
    struct relay_config c = {0};
    c.queue_enabled = true;
    c.queue_timeout_ms = 1500; /* the environment may go below what an admin may set */
    c.umq_delay_ms = 200;
    c.umq_timeout_ms = 60000;
    c.sticky_ttl_hours = 3;
    c.web_title = "Env";
    c.web_logo_url = "";
    return c;
}

/* The error for a change (empty string: accepted). */
static const char *check(const char *json)
{
    static char err[256];
    struct relay_config c = cfg_with();
    struct settings *s = settings_new(&c);
    cJSON *j = json_parse(json, strlen(json), 8, false);
    err[0] = '\0';
    if (settings_validate(s, j, err, sizeof(err)) == 0)
        err[0] = '\0';
    cJSON_Delete(j);
    settings_free(s);
    return err;
}

static bool refused(const char *json, const char *field)
{
    const char *e = check(json);
    return strncmp(e, field, strlen(field)) == 0 && e[strlen(field)] == ':';
}

TEST(environment_values_in_force_until_redis_is_read)
{
    struct relay_config c = cfg_with();
    struct settings *s = settings_new(&c);
    CHECK(settings_on(s, SETTING_QUEUE_ENABLED));
    CHECK_INT(settings_int(s, SETTING_QUEUE_TIMEOUT_MS), 1500);
    CHECK(!settings_on(s, SETTING_UMQ_ENABLED));
    CHECK_INT(settings_int(s, SETTING_STICKY_TTL_HOURS), 3);
    char title[SETTINGS_STR_MAX];
    settings_str(s, SETTING_WEB_TITLE, title, sizeof(title));
    CHECK_STR(title, "Env");
    cJSON *over = settings_overridden_json(s);
    CHECK_INT(cJSON_GetArraySize(over), 0);
    cJSON_Delete(over);
    settings_free(s);
}

TEST(valid_changes_and_nulls_pass)
{
    CHECK_STR(check("{}"), "");
    CHECK_STR(check("{\"concurrentRequestQueueEnabled\":true,"
                    "\"concurrentRequestQueueTimeoutMs\":5000,\"userMessageQueueDelayMs\":0,"
                    "\"userMessageQueueTimeoutMs\":300000,\"stickySessionTtlHours\":8760,"
                    "\"webTitle\":\"\xe4\xb8\xad\xe7\xbb\xa7\",\"webLogoUrl\":\"\"}"),
              "");
    CHECK_STR(check("{\"webTitle\":null,\"stickySessionTtlHours\":null}"), "");
    CHECK_STR(check("{\"webLogoUrl\":\"https://cdn.example.com/l.png\"}"), "");
}

TEST(out_of_range_numbers_name_their_field)
{
    CHECK(refused("{\"concurrentRequestQueueTimeoutMs\":4999}", "concurrentRequestQueueTimeoutMs"));
    CHECK(
        refused("{\"concurrentRequestQueueTimeoutMs\":300001}", "concurrentRequestQueueTimeoutMs"));
    CHECK(refused("{\"userMessageQueueDelayMs\":-1}", "userMessageQueueDelayMs"));
    CHECK(refused("{\"userMessageQueueTimeoutMs\":999}", "userMessageQueueTimeoutMs"));
    CHECK(refused("{\"stickySessionTtlHours\":0}", "stickySessionTtlHours"));
    CHECK(refused("{\"stickySessionTtlHours\":1.5}", "stickySessionTtlHours"));
    CHECK(refused("{\"stickySessionTtlHours\":\"2\"}", "stickySessionTtlHours"));
    CHECK(refused("{\"concurrentRequestQueueEnabled\":1}", "concurrentRequestQueueEnabled"));
}

TEST(strings_are_bounded_and_the_logo_is_a_csp_safe_url)
{
    char big[160] = "{\"webTitle\":\"";
    size_t n = strlen(big);
    memset(big + n, 'x', 101);
    snprintf(big + n + 101, sizeof(big) - n - 101, "\"}");
    CHECK(refused(big, "webTitle"));
    big[n + 100] = '"', big[n + 101] = '}', big[n + 102] = '\0'; /* exactly 100 */
    CHECK_STR(check(big), "");
    CHECK(refused("{\"webTitle\":\"\"}", "webTitle"));
    CHECK(refused("{\"webTitle\":\"a\\nb\"}", "webTitle"));
    CHECK(refused("{\"webLogoUrl\":\"ftp://x/l.png\"}", "webLogoUrl"));
    CHECK(refused("{\"webLogoUrl\":\"https://x/l.png; script-src *\"}", "webLogoUrl"));
    CHECK(refused("{\"webLogoUrl\":7}", "webLogoUrl"));
}

TEST(fields_this_relay_does_not_implement_are_refused_by_name)
{
    CHECK(refused("{\"sessionBindingTtlDays\":1}", "sessionBindingTtlDays"));
    CHECK(
        refused("{\"webTitle\":\"ok\",\"claudeCodeOnlyEnabled\":false}", "claudeCodeOnlyEnabled"));
    CHECK(refused("[]", "body"));
}

static const struct test tests[] = {
    T(environment_values_in_force_until_redis_is_read),
    T(valid_changes_and_nulls_pass),
    T(out_of_range_numbers_name_their_field),
    T(strings_are_bounded_and_the_logo_is_a_csp_safe_url),
    T(fields_this_relay_does_not_implement_are_refused_by_name),
};

int main(int argc, char **argv)
{
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
