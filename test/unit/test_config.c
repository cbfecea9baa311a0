/*
 * test_config.c - server/config: the documented defaults, every error
 * reported at once and naming its variable, the extra checks (secret length,
 * Redis URL scheme, admin password), TIMEZONE_OFFSET=0, and .env loading.
 *
 * Runs in a fresh temporary directory so no developer .env is picked up,
 * and unsets every variable of the table first so the caller's environment
 * (a PORT from CI, say) cannot leak in.
 */
#include "compat.h"
#include "buf.h"
#include "config.h"
#include "errs.h"
#include "harness.h"
#include "xmalloc.h"

#include <unistd.h>

#define GOOD_JWT "jwt-0123456789abcdef0123456789abcdef"
#define GOOD_KEY "key-0123456789abcdef0123456789abcdef"

/* The table's names, read back from the example file (so none is missed).
 * Filled once by main() before any test runs; the tests are single-threaded. */
static char *var_names[128];
static size_t nvar_names;

static void collect_var_names(void)
{
    char *text = NULL, line[512];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    BUG_ON(!f);
    config_print_example(f);
    fclose(f);
    f = fmemopen(text, len, "r");
    BUG_ON(!f);
    while (fgets(line, sizeof(line), f) && nvar_names < ARRAY_SIZE(var_names)) {
        char *p = line;
        if (strncmp(p, "# ", 2) == 0)
            p += 2;
        size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        if (n > 0 && p[n] == '=')
            var_names[nvar_names++] = xstrndup(p, n);
    }
    fclose(f);
    free(text);
}

/* Clear the whole table from the environment, then set name/value pairs. */
static void set_env(const char *const *pairs, size_t n)
{
    for (size_t i = 0; i < nvar_names; i++)
        unsetenv(var_names[i]);
    for (size_t i = 0; i + 1 < n; i += 2)
        setenv(pairs[i], pairs[i + 1], 1);
}

/* True when some line of text starts with "<name>:". */
static bool names_var(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, nl) == 0 && l[nl] == ':')
            return true;
    return false;
}

/* config_load with the given environment; *cfg is NULL on failure. */
static int load(const char *const *pairs, size_t n, struct relay_config **cfg, struct buf *errs)
{
    set_env(pairs, n);
    buf_init(errs, 8192);
    *cfg = NULL;
    return config_load(cfg, errs);
}

/* Expect failure naming var (and leaving *out alone). */
static void expect_error(const char *const *pairs, size_t n, const char *var)
{
    struct relay_config *cfg = NULL;
    struct buf errs;
    CHECK_INT(load(pairs, n, &cfg, &errs), -ERR_INVAL);
    CHECK(cfg == NULL);
    if (!names_var(errs.data, var))
        fprintf(stderr, "  want an error naming %s, got:\n%s", var, errs.data ? errs.data : "");
    CHECK(names_var(errs.data, var));
    buf_release(&errs);
    config_free(cfg);
}

TEST(defaults)
{
    static const char *const e[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", GOOD_KEY};
    struct relay_config *cfg;
    struct buf errs;
    CHECK_INT(load(e, ARRAY_SIZE(e), &cfg, &errs), 0);
    REQUIRE(cfg != NULL);
    CHECK_INT(errs.len, 0);
    CHECK_INT(cfg->port, 3000);
    CHECK_STR(cfg->host, "0.0.0.0");
    CHECK_INT(cfg->request_max_size_mb, 100);
    CHECK_INT(cfg->timezone_offset, 8);
    CHECK_STR(cfg->api_key_prefix, "cr_");
    CHECK_STR(cfg->log_level, "info");
    CHECK_INT(cfg->redis_db, 0);
    CHECK_STR(cfg->jwt_secret, GOOD_JWT);
    CHECK_STR(cfg->encryption_key, GOOD_KEY);
    CHECK_STR(cfg->encryption_key_old, "");
    CHECK_STR(cfg->admin_password, "");
    CHECK(config_redis_embedded(cfg));
    config_free(cfg);
    buf_release(&errs);
}

TEST(all_errors_at_once)
{
    static const char *const e[] = {"ENCRYPTION_KEY", GOOD_KEY, "PORT", "abc", "REDIS_DB", "99",
                                    "LOG_LEVEL", "loud"};
    struct relay_config *cfg;
    struct buf errs;
    CHECK_INT(load(e, ARRAY_SIZE(e), &cfg, &errs), -ERR_INVAL);
    CHECK(cfg == NULL);
    static const char *const want[] = {"PORT", "REDIS_DB", "LOG_LEVEL", "JWT_SECRET"};
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        CHECK(names_var(errs.data, want[i]));
    CHECK(!names_var(errs.data, "ENCRYPTION_KEY"));
    CHECK(strstr(errs.data, GOOD_KEY) == NULL); /* secrets never echoed */
    buf_release(&errs);
}

TEST(secret_lengths)
{
    static const char *const short_jwt[] = {"JWT_SECRET", "only-31-characters-long-secret!",
                                            "ENCRYPTION_KEY", GOOD_KEY};
    expect_error(short_jwt, ARRAY_SIZE(short_jwt), "JWT_SECRET");
    static const char *const short_key[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", "short"};
    expect_error(short_key, ARRAY_SIZE(short_key), "ENCRYPTION_KEY");
    static const char *const no_key[] = {"JWT_SECRET", GOOD_JWT};
    expect_error(no_key, ARRAY_SIZE(no_key), "ENCRYPTION_KEY");
}

TEST(redis_url_scheme)
{
    static const char *const bad[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", GOOD_KEY,
                                      "REDIS_URL", "http://x"};
    expect_error(bad, ARRAY_SIZE(bad), "REDIS_URL");
    static const char *const urls[] = {"redis://localhost:6379/2", "rediss://u:p@host:6380"};
    for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
        const char *const e[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", GOOD_KEY,
                                 "REDIS_URL", urls[i]};
        struct relay_config *cfg;
        struct buf errs;
        CHECK_INT(load(e, ARRAY_SIZE(e), &cfg, &errs), 0);
        CHECK(cfg && !config_redis_embedded(cfg));
        config_free(cfg);
        buf_release(&errs);
    }
}

TEST(timezone_offset_zero_and_bounds)
{
    static const char *const ok[] = {"0", "-12", "14", "-5"};
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        const char *const e[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", GOOD_KEY,
                                 "TIMEZONE_OFFSET", ok[i]};
        struct relay_config *cfg;
        struct buf errs;
        CHECK_INT(load(e, ARRAY_SIZE(e), &cfg, &errs), 0);
        REQUIRE(cfg != NULL);
        CHECK_INT(cfg->timezone_offset, strtoll(ok[i], NULL, 10));
        config_free(cfg);
        buf_release(&errs);
    }
    static const char *const bad[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", GOOD_KEY,
                                      "TIMEZONE_OFFSET", "15"};
    expect_error(bad, ARRAY_SIZE(bad), "TIMEZONE_OFFSET");
}

TEST(admin_password_length)
{
    static const char *const bad[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", GOOD_KEY,
                                      "ADMIN_USERNAME", "admin", "ADMIN_PASSWORD", "1234567"};
    expect_error(bad, ARRAY_SIZE(bad), "ADMIN_PASSWORD");
    static const char *const good[] = {"JWT_SECRET", GOOD_JWT, "ENCRYPTION_KEY", GOOD_KEY,
                                       "ADMIN_USERNAME", "admin", "ADMIN_PASSWORD", "12345678"};
    struct relay_config *cfg;
    struct buf errs;
    CHECK_INT(load(good, ARRAY_SIZE(good), &cfg, &errs), 0);
    REQUIRE(cfg != NULL);
    CHECK_STR(cfg->admin_username, "admin");
    CHECK_STR(cfg->admin_password, "12345678");
    config_free(cfg);
    buf_release(&errs);
}

TEST(dotenv_in_working_directory)
{
    static const char text[] = "# local settings\n"
                               "JWT_SECRET=" GOOD_JWT "\n"
                               "export ENCRYPTION_KEY=\"" GOOD_KEY "\"\n"
                               "PORT=4000\n"
                               "HOST=127.0.0.1\n";
    FILE *f = fopen(".env", "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
    static const char *const e[] = {"HOST", "::1"}; /* the environment wins over .env */
    struct relay_config *cfg;
    struct buf errs;
    CHECK_INT(load(e, ARRAY_SIZE(e), &cfg, &errs), 0);
    if (cfg) {
        CHECK_INT(cfg->port, 4000);
        CHECK_STR(cfg->host, "::1");
        CHECK_STR(cfg->encryption_key, GOOD_KEY);
    }
    config_free(cfg);
    buf_release(&errs);
    unlink(".env");
}

TEST(example_lists_every_variable)
{
    CHECK(nvar_names >= 30);
    static const char *const must[] = {"PORT", "HOST", "JWT_SECRET", "ENCRYPTION_KEY",
                                       "REDIS_URL", "TIMEZONE_OFFSET", "API_KEY_PREFIX",
                                       "REQUEST_MAX_SIZE_MB", "ADMIN_PASSWORD", "LOG_LEVEL"};
    for (size_t i = 0; i < ARRAY_SIZE(must); i++) {
        bool found = false;
        for (size_t j = 0; j < nvar_names; j++)
            found |= strcmp(var_names[j], must[i]) == 0;
        CHECK(found);
    }
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/relay-test-config-XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) {
        perror("test_config: temp dir");
        return 1;
    }
    collect_var_names();
    static const struct test tests[] = {
        T(defaults),
        T(all_errors_at_once),
        T(secret_lengths),
        T(redis_url_scheme),
        T(timezone_offset_zero_and_bounds),
        T(admin_password_length),
        T(dotenv_in_working_directory),
        T(example_lists_every_variable),
    };
    int rc = harness_main(argc, argv, tests, ARRAY_SIZE(tests));
    set_env(NULL, 0);
    for (size_t i = 0; i < nvar_names; i++)
        free(var_names[i]);
    unlink(".env");
    if (chdir("/") != 0 || rmdir(dir) != 0)
        perror("test_config: cleanup");
    return rc;
}
