/*
 * test_json.c - lib/json: typed getters and their defaults, the depth cap
 * (checked before cJSON recurses), trailing garbage, containers, and that
 * json_parse reads exactly len bytes (a guard page after the text proves it).
 */
#include "compat.h"
#include "buf.h"
#include "harness.h"
#include "errs.h"
#include "json.h"
#include "xmalloc.h"

#include <limits.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

static cJSON *parse_str(const char *s, int max_depth, bool container)
{
    return json_parse(s, strlen(s), max_depth, container);
}

/* True when s parses (the tree is freed). */
static bool parses(const char *s, int max_depth, bool container)
{
    cJSON *j = parse_str(s, max_depth, container);
    cJSON_Delete(j);
    return j != NULL;
}

static const char sample[] =
    "{\"s\":\"text\",\"i\":42,\"neg\":-7,\"f\":1.9,\"nf\":-1.9,\"t\":true,\"fa\":false,"
    "\"n\":null,\"o\":{\"x\":1},\"a\":[1,2],\"big\":1e300,\"huge\":1e999,"
    "\"max\":9223372036854774784,\"over\":9223372036854775808,"
    "\"min\":-9223372036854775808,\"under\":-9.3e18,\"strnum\":\"5\",\"one\":1,"
    "\"Case\":1}";

TEST(getters_right_types)
{
    cJSON *j = parse_str(sample, JSON_MAX_DEPTH, true);
    REQUIRE(j != NULL);
    CHECK_STR(json_str(j, "s", "d"), "text");
    CHECK_INT(json_int(j, "i", 0), 42);
    CHECK_INT(json_int(j, "neg", 0), -7);
    CHECK_INT(json_int(j, "f", 0), 1); /* truncates toward zero */
    CHECK_INT(json_int(j, "nf", 0), -1);
    CHECK(json_num(j, "f", 0) == 1.9);
    CHECK(json_bool(j, "t", false));
    CHECK(!json_bool(j, "fa", true));
    CHECK(cJSON_IsObject(json_get(j, "o")));
    CHECK_INT(json_int(json_get(j, "o"), "x", 0), 1);
    CHECK_INT(json_int(j, "max", 0), 9223372036854774784LL);
    CHECK(json_int(j, "min", 0) == LLONG_MIN);
    CHECK(json_get(j, "case") == NULL); /* names are case-sensitive */
    cJSON_Delete(j);
}

TEST(getters_defaults)
{
    cJSON *j = parse_str(sample, JSON_MAX_DEPTH, true);
    REQUIRE(j != NULL);
    /* Missing. */
    CHECK_STR(json_str(j, "missing", "d"), "d");
    CHECK(json_str(j, "missing", NULL) == NULL);
    CHECK_INT(json_int(j, "missing", -3), -3);
    CHECK(json_num(j, "missing", 2.5) == 2.5);
    CHECK(json_bool(j, "missing", true));
    CHECK(json_get(j, "missing") == NULL);
    /* Wrong types. */
    CHECK_STR(json_str(j, "i", "d"), "d");
    CHECK_STR(json_str(j, "n", "d"), "d");
    CHECK_STR(json_str(j, "o", "d"), "d");
    CHECK_INT(json_int(j, "strnum", -1), -1);
    CHECK_INT(json_int(j, "t", -1), -1);
    CHECK_INT(json_int(j, "n", -1), -1);
    CHECK(json_num(j, "s", 0.5) == 0.5);
    CHECK(json_bool(j, "one", false) == false); /* 1 is not a bool */
    CHECK(json_bool(j, "s", true) == true);
    CHECK(json_bool(j, "n", true) == true);
    /* Out of long long range, or not finite. */
    CHECK_INT(json_int(j, "big", -1), -1);
    CHECK_INT(json_int(j, "huge", -1), -1);
    CHECK(json_num(j, "huge", 0.5) == 0.5);
    CHECK_INT(json_int(j, "over", -1), -1);
    CHECK_INT(json_int(j, "under", -1), -1);
    /* Not an object, or no object at all. */
    const cJSON *arr = json_get(j, "a");
    CHECK(json_get(arr, "0") == NULL);
    CHECK_INT(json_int(arr, "x", 9), 9);
    CHECK_STR(json_str(NULL, "s", "d"), "d");
    CHECK_INT(json_int(NULL, "i", 4), 4);
    CHECK(json_bool(NULL, "t", false) == false);
    cJSON_Delete(j);
}

TEST(nan_and_inf_give_default)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "nan", NAN);
    cJSON_AddNumberToObject(o, "inf", INFINITY);
    cJSON_AddNumberToObject(o, "minf", -INFINITY);
    CHECK_INT(json_int(o, "nan", 5), 5);
    CHECK_INT(json_int(o, "inf", 5), 5);
    CHECK_INT(json_int(o, "minf", 5), 5);
    CHECK(json_num(o, "nan", 1.5) == 1.5);
    CHECK(json_num(o, "minf", 1.5) == 1.5);
    cJSON_Delete(o);
}

/* n nested arrays "[[...]]" (caller frees). */
static char *nested(int n, char open, char close)
{
    char *s = xmalloc((size_t)n * 2 + 1);
    memset(s, open, (size_t)n);
    memset(s + n, close, (size_t)n);
    s[2 * n] = '\0';
    return s;
}

TEST(depth_limit)
{
    char *d64 = nested(64, '[', ']'), *d65 = nested(65, '[', ']');
    CHECK_INT(json_depth(d64, strlen(d64)), 64);
    CHECK_INT(json_depth(d65, strlen(d65)), 65);
    CHECK(parses(d64, 64, true));
    CHECK(!parses(d65, 64, true));
    CHECK(!parses(d64, 63, true));
    free(d64);
    free(d65);
    /* Far beyond cJSON's own limit: refused by the scan, no deep recursion. */
    char *deep = nested(100000, '[', ']');
    CHECK(!parses(deep, JSON_MAX_DEPTH, true));
    free(deep);
    /* Objects count too. */
    struct buf b;
    buf_init(&b, 4096);
    for (int i = 0; i < 65; i++)
        CHECK_INT(buf_append_str(&b, "{\"a\":"), 0);
    CHECK_INT(buf_append_str(&b, "1"), 0);
    for (int i = 0; i < 65; i++)
        CHECK_INT(buf_append_str(&b, "}"), 0);
    CHECK(!parses(b.data, 64, true));
    CHECK(!parses(b.data + 5, 64, true)); /* one closer too many */
    CHECK(parses(b.data, 65, true));
    buf_release(&b);
    CHECK_INT(json_depth("", 0), 0);
    CHECK_INT(json_depth("42", 2), 0);
    CHECK_INT(json_depth("]]]][[", 6), 2); /* stray closers earn no credit */
}

TEST(brackets_in_strings_do_not_count)
{
    CHECK_INT(json_depth("[\"[[[[[[{{{{\"]", 13), 1);
    CHECK(parses("[\"[[[[[[{{{{\"]", 1, true));
    /* An escaped quote does not end the string... */
    CHECK_INT(json_depth("[\"\\\"[[[[\"]", 10), 1);
    CHECK(parses("[\"\\\"[[[[\"]", 1, true));
    /* ...but an escaped backslash does not escape the quote after it. */
    CHECK_INT(json_depth("[\"\\\\\",[1]]", 10), 2);
    CHECK(!parses("[\"\\\\\",[1]]", 1, true));
    CHECK(parses("[\"\\\\\",[1]]", 2, true));
    CHECK(parses("{\"k[{\":\"v}]\"}", 1, true));
}

TEST(trailing_garbage_rejected)
{
    CHECK(parses("{}", 8, true));
    CHECK(parses(" \t\r\n{\"a\":[1, 2]} \t\r\n", 8, true));
    CHECK(!parses("{} x", 8, true));
    CHECK(!parses("{}{}", 8, true));
    CHECK(!parses("[1]]", 8, true));
    CHECK(!parses("{}\x01", 8, true));
    CHECK(!parses("42 43", 8, false));
    /* An embedded NUL ends nothing: it is garbage too. */
    CHECK(json_parse("{}\0", 3, 8, true) == NULL);
    CHECK(json_parse("{}\0{}", 5, 8, true) == NULL);
    /* Plain invalid input. */
    CHECK(!parses("{\"a\":}", 8, true));
    CHECK(!parses("[1,]", 8, true));
    CHECK(!parses("", 8, false));
    CHECK(json_parse(NULL, 0, 8, false) == NULL);
    CHECK(json_parse(NULL, 5, 8, false) == NULL);
}

TEST(containers_when_required)
{
    static const char *const scalars[] = {"42", "-1.5", "\"s\"", "true", "false", "null"};
    for (size_t i = 0; i < ARRAY_SIZE(scalars); i++) {
        CHECK(!parses(scalars[i], 8, true));
        CHECK(parses(scalars[i], 8, false));
    }
    CHECK(parses("[]", 8, true));
    CHECK(parses("{}", 8, true));
    cJSON *j = parse_str(" 7 ", 0, false);
    CHECK(cJSON_IsNumber(j) && j->valuedouble == 7);
    cJSON_Delete(j);
}

TEST(reads_only_len_bytes)
{
    const char text[] = "[1,2]garbage";
    cJSON *j = json_parse(text, 5, 8, true);
    REQUIRE(j != NULL);
    CHECK_INT(cJSON_GetArraySize(j), 2);
    cJSON_Delete(j);
    const char two[] = "{\"a\":1}{\"b\":2}";
    j = json_parse(two, 7, 8, true);
    REQUIRE(j != NULL);
    CHECK_INT(json_int(j, "a", 0), 1);
    CHECK(json_get(j, "b") == NULL);
    cJSON_Delete(j);
    j = json_parse("12345", 2, 8, false);
    CHECK(cJSON_IsNumber(j) && j->valuedouble == 12);
    cJSON_Delete(j);
    j = json_parse("\"abc\"", 4, 8, false); /* the closing quote is past len */
    CHECK(j == NULL);
    CHECK(json_parse("[1,2]", 4, 8, true) == NULL);
}

/* Put each text flush against an unreadable page: reading one byte past len
 * would crash, whatever cJSON version or sanitizer is in use. */
TEST(no_read_past_len_guard_page)
{
    static const char *const texts[] = {
        "{\"a\":1,", "{\"a\":1", "{\"a\"",         "{\"a\":",   "{",
        "[",         "[1,",      "\"abc",          "\"ab\\",    "nul",
        "tru",       "-",        "1.5e",           "{\"a\":1}", "[1,2]",
        "42",        " ",        "\xEF\xBB\xBF{}", "{\"",
    };
    long pg = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(map != MAP_FAILED);
    REQUIRE(mprotect(map + pg, (size_t)pg, PROT_NONE) == 0);
    int ok = 0;
    for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
        size_t n = strlen(texts[i]);
        char *at = map + pg - n;
        memcpy(at, texts[i], n);
        cJSON *j = json_parse(at, n, 8, false);
        ok += j != NULL;
        cJSON_Delete(j);
        CHECK(json_depth(at, n) >= 0);
    }
    CHECK_INT(ok, 4); /* {"a":1}, [1,2], 42 and the BOM one */
    munmap(map, (size_t)pg * 2);
}

TEST(print_round_trip)
{
    const char in[] = "{\"a\":[1,\"x\",null,true],\"b\":{\"c\":-2.5}}";
    cJSON *j = parse_str(in, 8, true);
    REQUIRE(j != NULL);
    char *out = json_print(j);
    CHECK_STR(out, in);
    free(out);
    cJSON_Delete(j);
    out = json_print(NULL);
    CHECK_STR(out, "null");
    free(out);
}

TEST(duplicate_keys_found_at_any_depth)
{
    static const struct {
        const char *text;
        bool dup;
    } cases[] = {
        {"{\"model\":\"a\",\"max_tokens\":1}", false},
        {"{\"model\":\"a\",\"model\":\"b\"}", true},
        {"{\"m\":[{\"x\":1},{\"x\":2}]}", false}, /* same name in sibling objects is fine */
        {"{\"m\":[{\"x\":1,\"y\":2,\"x\":3}]}", true},
        {"[{\"a\":{\"b\":{\"c\":1,\"c\":1}}}]", true},
        {"{\"a\":1,\"A\":2}", false}, /* names are case-sensitive */
        {"{\"\":1,\"\":2}", true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cJSON *j = json_parse(cases[i].text, strlen(cases[i].text), JSON_MAX_DEPTH, true);
        REQUIRE(j != NULL);
        CHECK_INT(json_has_duplicate_keys(j), cases[i].dup);
        cJSON_Delete(j);
    }
    CHECK(!json_has_duplicate_keys(NULL));
}

/* Only the named top-level member's value changes; every other byte stays. */
static void replaced(const char *in, const char *name, const char *value, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    int rc = json_replace_member(in, strlen(in), name, value, &out, &n);
    CHECK_INT(rc, 0);
    CHECK_STR(out, want);
    CHECK_INT(n, out ? strlen(out) : 0);
    free(out);
}

TEST(replace_member_keeps_the_rest)
{
    replaced("{\"model\":\"a\",\"x\":1}", "model", "\"b\"", "{\"model\":\"b\",\"x\":1}");
    replaced(" { \"stream\" : true ,\n \"model\" :\t\"claude-x\" } ", "model", "\"up-y\"",
             " { \"stream\" : true ,\n \"model\" :\t\"up-y\" } ");
    /* nested "model" members and strings with brackets and quotes are skipped */
    replaced("{\"metadata\":{\"model\":\"n\"},\"s\":\"}\\\"{\",\"a\":[1,{\"model\":2}],"
             "\"model\":\"m\"}",
             "model", "\"z\"",
             "{\"metadata\":{\"model\":\"n\"},\"s\":\"}\\\"{\",\"a\":[1,{\"model\":2}],"
             "\"model\":\"z\"}");
    replaced("{\"n\":-1.5e3,\"b\":null,\"model\":\"m\"}", "model", "\"q\"",
             "{\"n\":-1.5e3,\"b\":null,\"model\":\"q\"}");
}

TEST(replace_member_refusals)
{
    char *out = NULL;
    size_t n = 0;
    const char *absent = "{\"models\":\"a\",\"x\":{\"model\":1}}";
    CHECK_INT(json_replace_member(absent, strlen(absent), "model", "\"b\"", &out, &n),
              -ERR_NOTFOUND);
    const char *escaped = "{\"mod\\u0065l\":\"a\"}"; /* cJSON reads "model": caller's fallback */
    CHECK_INT(json_replace_member(escaped, strlen(escaped), "model", "\"b\"", &out, &n),
              -ERR_NOTFOUND);
    CHECK_INT(json_replace_member("[1]", 3, "model", "1", &out, &n), -ERR_PARSE);
    CHECK_INT(json_replace_member("{\"model\":\"a", 11, "model", "1", &out, &n), -ERR_PARSE);
    CHECK_INT(json_replace_member("{\"model\" 1}", 11, "model", "1", &out, &n), -ERR_PARSE);
    CHECK(out == NULL);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(getters_right_types),
        T(getters_defaults),
        T(nan_and_inf_give_default),
        T(depth_limit),
        T(brackets_in_strings_do_not_count),
        T(trailing_garbage_rejected),
        T(containers_when_required),
        T(reads_only_len_bytes),
        T(no_read_past_len_guard_page),
        T(print_round_trip),
        T(duplicate_keys_found_at_any_depth),
        T(replace_member_keeps_the_rest),
        T(replace_member_refusals),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
