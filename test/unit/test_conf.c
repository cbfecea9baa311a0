/*
 * test_conf.c - lib/conf: a small table (string with a check, bounded int,
 * bool, required secret) read from the real environment; every error is
 * reported at once, one line per variable; dotenv loading; the example file.
 */
#include "compat.h"
#include "buf.h"
#include "conf.h"
#include "errs.h"
#include "harness.h"

#include <unistd.h>

struct tconf {
    char *name;
    long long port;
    bool flag;
    char *secret;
};

static const char *no_x(const char *v)
{
    return strchr(v, 'x') ? "must not contain x" : NULL;
}

/* clang-format off */
static const struct conf_var tvars[] = {
    {"TC_NAME", CONF_STR, "dflt", 0, 0, offsetof(struct tconf, name), 0, "General",
     "A name", no_x},
    {"TC_PORT", CONF_INT, "3000", 1, 65535, offsetof(struct tconf, port), 0, "General",
     "A port", NULL},
    {"TC_FLAG", CONF_BOOL, "false", 0, 0, offsetof(struct tconf, flag), 0, "Switches",
     "A flag", NULL},
    {"TC_SECRET", CONF_STR, "", 0, 0, offsetof(struct tconf, secret),
     CONF_REQUIRED | CONF_SECRET, "Switches", "A secret", NULL},
};
/* clang-format on */

static const char *env(const char *name)
{
    return getenv(name);
}

/* Unset the table's variables, then set pairs of (name, value). */
static void set_env(const char *const *pairs, size_t n)
{
    for (size_t i = 0; i < ARRAY_SIZE(tvars); i++)
        unsetenv(tvars[i].name);
    for (size_t i = 0; i + 1 < n; i += 2)
        setenv(pairs[i], pairs[i + 1], 1);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* True when some line of text starts with prefix. */
static bool has_line(const char *text, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, prefix, pl) == 0)
            return true;
    return false;
}

/* Load the table with pairs set; errors text into *errs (caller releases). */
static int load(struct tconf *c, struct buf *errs, const char *const *pairs, size_t n)
{
    memset(c, 0, sizeof(*c));
    buf_init(errs, 4096);
    set_env(pairs, n);
    return conf_load(tvars, ARRAY_SIZE(tvars), c, env, errs);
}

static void done(struct tconf *c, struct buf *errs)
{
    conf_release(tvars, ARRAY_SIZE(tvars), c);
    buf_release(errs);
    set_env(NULL, 0);
}

TEST(defaults)
{
    struct tconf c;
    struct buf errs;
    static const char *const e[] = {"TC_SECRET", "s3cret"};
    CHECK_INT(load(&c, &errs, e, ARRAY_SIZE(e)), 0);
    CHECK_INT(errs.len, 0);
    CHECK_STR(c.name, "dflt");
    CHECK_INT(c.port, 3000);
    CHECK(!c.flag);
    CHECK_STR(c.secret, "s3cret");
    done(&c, &errs);
}

TEST(values_from_env)
{
    struct tconf c;
    struct buf errs;
    static const char *const e[] = {"TC_SECRET", "s", "TC_NAME", "relay", "TC_PORT", "65535",
                                    "TC_FLAG", "on"};
    CHECK_INT(load(&c, &errs, e, ARRAY_SIZE(e)), 0);
    CHECK_STR(c.name, "relay");
    CHECK_INT(c.port, 65535);
    CHECK(c.flag);
    done(&c, &errs);
}

TEST(all_errors_at_once)
{
    struct tconf c;
    struct buf errs;
    static const char *const two[] = {"TC_SECRET", "s", "TC_PORT", "abc", "TC_FLAG", "maybe"};
    CHECK_INT(load(&c, &errs, two, ARRAY_SIZE(two)), -ERR_INVAL);
    CHECK_INT(count_lines(errs.data), 2);
    CHECK(has_line(errs.data, "TC_PORT: not an integer\n"));
    CHECK(has_line(errs.data, "TC_FLAG: expected true or false\n"));
    done(&c, &errs);
    /* Four at once, including the missing required one and a failed check. */
    static const char *const four[] = {"TC_NAME", "xx", "TC_PORT", "0", "TC_FLAG", "2"};
    CHECK_INT(load(&c, &errs, four, ARRAY_SIZE(four)), -ERR_INVAL);
    CHECK_INT(count_lines(errs.data), 4);
    CHECK(has_line(errs.data, "TC_NAME: must not contain x\n"));
    CHECK(has_line(errs.data, "TC_PORT: "));
    CHECK(has_line(errs.data, "TC_FLAG: "));
    CHECK(has_line(errs.data, "TC_SECRET: is not set\n"));
    done(&c, &errs);
}

TEST(int_bounds_and_syntax)
{
    static const struct {
        const char *val, *msg;
    } cases[] = {
        {"70000", "TC_PORT: 70000 is out of range [1, 65535]\n"},
        {"0", "TC_PORT: 0 is out of range [1, 65535]\n"},
        {"-5", "TC_PORT: -5 is out of range [1, 65535]\n"},
        {"80 ", "TC_PORT: not an integer\n"},
        {"8o", "TC_PORT: not an integer\n"},
        {"99999999999999999999", "TC_PORT: not an integer\n"},
        {"1", NULL},
        {"65535", NULL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct tconf c;
        struct buf errs;
        const char *const e[] = {"TC_SECRET", "s", "TC_PORT", cases[i].val};
        int rc = load(&c, &errs, e, ARRAY_SIZE(e));
        if (cases[i].msg) {
            CHECK_INT(rc, -ERR_INVAL);
            CHECK_STR(errs.data, cases[i].msg);
        } else {
            CHECK_INT(rc, 0);
            CHECK_INT(c.port, strtoll(cases[i].val, NULL, 10));
        }
        done(&c, &errs);
    }
}

TEST(bool_words)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "TRUE", "Yes", "ON"};
    static const char *const no[] = {"false", "0", "no", "off", "False", "NO", "Off"};
    static const char *const neither[] = {"maybe", "2", "y", "tru", "enabled", " true"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
        CHECK_INT(conf_parse_bool(yes[i]), 1);
    for (size_t i = 0; i < ARRAY_SIZE(no); i++)
        CHECK_INT(conf_parse_bool(no[i]), 0);
    for (size_t i = 0; i < ARRAY_SIZE(neither); i++)
        CHECK_INT(conf_parse_bool(neither[i]), -1);
    struct tconf c;
    struct buf errs;
    static const char *const e[] = {"TC_SECRET", "s", "TC_FLAG", "Yes"};
    CHECK_INT(load(&c, &errs, e, ARRAY_SIZE(e)), 0);
    CHECK(c.flag);
    done(&c, &errs);
}

TEST(required_secret_and_check)
{
    struct tconf c;
    struct buf errs;
    static const char *const empty[] = {"TC_SECRET", ""}; /* empty counts as unset */
    CHECK_INT(load(&c, &errs, empty, ARRAY_SIZE(empty)), -ERR_INVAL);
    CHECK_STR(errs.data, "TC_SECRET: is not set\n");
    CHECK(c.name != NULL && c.secret != NULL); /* still releasable, never NULL */
    done(&c, &errs);
    static const char *const bad[] = {"TC_SECRET", "s", "TC_NAME", "box"};
    CHECK_INT(load(&c, &errs, bad, ARRAY_SIZE(bad)), -ERR_INVAL);
    CHECK_STR(errs.data, "TC_NAME: must not contain x\n");
    done(&c, &errs);
}

/* Write text into a fresh temp file; path must hold the mkstemp template. */
static bool write_temp(char *path, const char *text)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text);
}

TEST(dotenv_loading)
{
    static const char text[] = "# a comment\n"                          /* 1 */
                               "   # indented comment\n"                /* 2 */
                               "\n"                                     /* 3 */
                               "export TC_DOT_A=1\n"                    /* 4 */
                               "TC_DOT_B=\"quoted value\"\n"            /* 5 */
                               "TC_DOT_C='single # not a comment'\n"    /* 6 */
                               "this line is bad\n"                     /* 7 */
                               "TC_DOT_D=from-file\n"                   /* 8 */
                               "TC_DOT_E = spaced \n"                   /* 9 */
                               "=no-name\n"                             /* 10 */
                               "TC_DOT_F=crlf\r\n";                     /* 11 */
    char path[] = "/tmp/relay-test-dotenv-XXXXXX";
    REQUIRE(write_temp(path, text));
    static const char *const names[] = {"TC_DOT_A", "TC_DOT_B", "TC_DOT_C",
                                        "TC_DOT_D", "TC_DOT_E", "TC_DOT_F"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        unsetenv(names[i]);
    setenv("TC_DOT_D", "from-env", 1);
    struct buf errs;
    buf_init(&errs, 4096);
    CHECK_INT(conf_dotenv_load(path, &errs), -ERR_PARSE);
    char want[128];
    snprintf(want, sizeof(want), "%s:7: expected NAME=value\n", path);
    CHECK(has_line(errs.data, want));
    snprintf(want, sizeof(want), "%s:10: expected NAME=value\n", path);
    CHECK(has_line(errs.data, want));
    CHECK_INT(count_lines(errs.data), 2);
    CHECK_STR(getenv("TC_DOT_A"), "1");
    CHECK_STR(getenv("TC_DOT_B"), "quoted value");
    CHECK_STR(getenv("TC_DOT_C"), "single # not a comment");
    CHECK_STR(getenv("TC_DOT_D"), "from-env"); /* the environment wins */
    CHECK_STR(getenv("TC_DOT_E"), "spaced");
    CHECK_STR(getenv("TC_DOT_F"), "crlf");
    unlink(path);
    /* A missing file is not an error. */
    buf_reset(&errs);
    CHECK_INT(conf_dotenv_load(path, &errs), 0);
    CHECK_INT(errs.len, 0);
    buf_release(&errs);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        unsetenv(names[i]);
}

TEST(print_example)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f != NULL);
    setenv("TC_SECRET", "do-not-print-me", 1);
    conf_print_example(tvars, ARRAY_SIZE(tvars), f);
    fclose(f);
    unsetenv("TC_SECRET");
    REQUIRE(text != NULL);
    CHECK(has_line(text, "# ---- General ----\n"));
    CHECK(has_line(text, "# ---- Switches ----\n"));
    CHECK(has_line(text, "# A name\n"));
    CHECK(has_line(text, "TC_NAME=dflt\n"));
    CHECK(has_line(text, "# A port [1..65535]\n"));
    CHECK(has_line(text, "TC_PORT=3000\n"));
    CHECK(has_line(text, "TC_FLAG=false\n"));
    CHECK(has_line(text, "# A secret (required)\n"));
    CHECK(has_line(text, "TC_SECRET=\n"));
    CHECK(strstr(text, "do-not-print-me") == NULL);
    free(text);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(defaults),      T(values_from_env),           T(all_errors_at_once),
        T(int_bounds_and_syntax), T(bool_words),        T(required_secret_and_check),
        T(dotenv_loading), T(print_example),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
