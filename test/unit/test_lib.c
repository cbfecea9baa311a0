/* test_lib.c - unit tests for lib/: sse, secret, conf, json, buf. */
#include "compat.h"
#include "buf.h"
#include "conf.h"
#include "errs.h"
#include "harness.h"
#include "json.h"
#include "secret.h"
#include "sse.h"
#include "xmalloc.h"

#include <unistd.h>

/* ---- sse ---- */

struct evlog {
    struct buf text;
    int n;
};

static int log_event(void *arg, const struct sse_event *ev)
{
    struct evlog *l = arg;
    l->n++;
    return buf_printf(&l->text, "[%s|%s|%zu]", ev->event, ev->data, ev->data_len);
}

static const char anth[] =
    "\xEF\xBB\xBF"
    "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n"
    ": keep-alive comment\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\ndata: line one\ndata: line two\n\n"
    "event: no_data_here\n\n"
    "data:no space\r\r"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void parse_in_chunks(const char *text, size_t len, unsigned seed, size_t fixed,
                            struct evlog *out)
{
    struct sse_parser p;
    buf_init(&out->text, 1 << 16);
    out->n = 0;
    sse_init(&p, 4096, log_event, out);
    srand(seed);
    for (size_t off = 0; off < len;) {
        size_t n = fixed ? fixed : 1 + (size_t)rand() % 17;
        if (n > len - off)
            n = len - off;
        CHECK_INT(sse_feed(&p, text + off, n), 0);
        off += n;
    }
    sse_release(&p);
}

TEST(sse_any_chunking_same_events)
{
    struct evlog whole, part;
    parse_in_chunks(anth, strlen(anth), 0, strlen(anth), &whole);
    CHECK_INT(whole.n, 5);
    CHECK_STR(whole.text.data, "[message_start|{\"type\":\"message_start\"}|24]"
                               "[ping|{\"type\": \"ping\"}|16]"
                               "[content_block_delta|line one\nline two|17]"
                               "[|no space|8]"
                               "[message_stop|{\"type\":\"message_stop\"}|23]");
    for (unsigned seed = 1; seed < 40; seed++) {
        parse_in_chunks(anth, strlen(anth), seed, seed < 3 ? seed : 0, &part);
        CHECK_STR(part.text.data, whole.text.data);
        buf_release(&part.text);
    }
    buf_release(&whole.text);
}

TEST(sse_cr_at_chunk_boundary_is_one_line_end)
{
    struct evlog l;
    const char t[] = "data: a\r\n\r\ndata: b\r\n\r\n";
    parse_in_chunks(t, strlen(t), 0, 1, &l);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.text.data, "[|a|1][|b|1]");
    buf_release(&l.text);
}

TEST(sse_oversize_line_rejected)
{
    struct sse_parser p;
    struct evlog l = {0};
    buf_init(&l.text, 1024);
    sse_init(&p, 64, log_event, &l);
    char big[200];
    memset(big, 'x', sizeof(big));
    CHECK_INT(sse_feed(&p, big, sizeof(big)), -ERR_TOOBIG);
    sse_release(&p);
    buf_release(&l.text);
}

static int stop_cb(void *arg, const struct sse_event *ev)
{
    UNUSED(arg);
    UNUSED(ev);
    return 7;
}

TEST(sse_callback_can_stop)
{
    struct sse_parser p;
    sse_init(&p, 1024, stop_cb, NULL);
    CHECK_INT(sse_feed(&p, "data: x\n\ndata: y\n\n", 18), 7);
    sse_release(&p);
}

TEST(sse_encode_round_trip)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(sse_encode(&b, "error", "{\"a\":1}\nsecond"), 0);
    CHECK_STR(b.data, "event: error\ndata: {\"a\":1}\ndata: second\n\n");
    struct evlog l;
    parse_in_chunks(b.data, b.len, 3, 0, &l);
    CHECK_STR(l.text.data, "[error|{\"a\":1}\nsecond|14]");
    buf_release(&l.text);
    buf_release(&b);
}

/* ---- secret ---- */

TEST(seal_open_round_trip_and_tamper)
{
    struct secret_box *box = NULL;
    REQUIRE(secret_box_new("0123456789abcdef0123456789abcdef", &box) == 0);
    char *blob = NULL, *plain = NULL;
    size_t len = 0;
    REQUIRE(secret_seal(box, "acc:1:apiKey", "sk-ant-secret", 13, &blob) == 0);
    CHECK(secret_is_sealed(blob));
    CHECK(strstr(blob, "sk-ant") == NULL);
    CHECK_INT(secret_open(box, "acc:1:apiKey", blob, &plain, &len), 0);
    CHECK_STR(plain, "sk-ant-secret");
    CHECK_INT(len, 13);
    secret_free(plain);
    CHECK_INT(secret_open(box, "acc:2:apiKey", blob, &plain, &len), -ERR_CRYPTO);
    size_t n = strlen(blob);
    blob[n - 5] = blob[n - 5] == 'A' ? 'B' : 'A';
    CHECK_INT(secret_open(box, "acc:1:apiKey", blob, &plain, &len), -ERR_CRYPTO);
    blob[n - 20] = '\0';
    CHECK(secret_open(box, "acc:1:apiKey", blob, &plain, &len) != 0);
    CHECK_INT(secret_open(box, "acc:1:apiKey", "plaintext", &plain, &len), -ERR_PARSE);
    free(blob);
    secret_box_free(box);
}

TEST(seal_rotation_with_old_key)
{
    struct secret_box *a = NULL, *b = NULL;
    REQUIRE(secret_box_new("old-master-key-0123456789abcdef0", &a) == 0);
    REQUIRE(secret_box_new("new-master-key-0123456789abcdef0", &b) == 0);
    char *blob = NULL, *plain = NULL;
    REQUIRE(secret_seal(a, "x", "v", 1, &blob) == 0);
    CHECK_INT(secret_open(b, "x", blob, &plain, NULL), -ERR_CRYPTO);
    CHECK_INT(secret_box_add_old(b, "old-master-key-0123456789abcdef0"), 0);
    CHECK_INT(secret_open(b, "x", blob, &plain, NULL), 0);
    CHECK_STR(plain, "v");
    CHECK(strcmp(secret_box_key_id(a), secret_box_key_id(b)) != 0);
    secret_free(plain);
    free(blob);
    secret_box_free(a);
    secret_box_free(b);
}

TEST(keyed_hash_and_tokens)
{
    struct secret_box *a = NULL, *b = NULL;
    REQUIRE(secret_box_new("master-a-0123456789abcdef0123456", &a) == 0);
    REQUIRE(secret_box_new("master-b-0123456789abcdef0123456", &b) == 0);
    char h1[65], h2[65], h3[65], h4[65];
    secret_keyed_hash(a, "api-key", "cr_abc", h1);
    secret_keyed_hash(a, "api-key", "cr_abc", h2);
    secret_keyed_hash(b, "api-key", "cr_abc", h3);
    secret_keyed_hash(a, "admin-session", "cr_abc", h4);
    CHECK_STR(h1, h2);
    CHECK(strcmp(h1, h3) != 0);
    CHECK(strcmp(h1, h4) != 0);
    CHECK_INT(strlen(h1), 64);
    char r1[65], r2[65], id[37];
    secret_random_hex(r1, 32);
    secret_random_hex(r2, 32);
    CHECK_INT(strlen(r1), 64);
    CHECK(strspn(r1, "0123456789abcdef") == 64);
    CHECK(strcmp(r1, r2) != 0);
    secret_uuid(id);
    CHECK_INT(strlen(id), 36);
    CHECK(id[14] == '4' && strchr("89ab", id[19]));
    CHECK(secret_equal("abc", "abc") && !secret_equal("abc", "abd") && !secret_equal("ab", "abc"));
    secret_box_free(a);
    secret_box_free(b);
}

TEST(password_hash_verify)
{
    char h[SECRET_PWHASH_MAX];
    REQUIRE(secret_password_hash("correct horse", h) == 0);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(secret_password_verify(h, "correct horse"));
    CHECK(!secret_password_verify(h, "wrong"));
    CHECK(!secret_password_verify("$2b$10$bcrypt", "correct horse"));
}

/* ---- conf ---- */

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

static const struct conf_var tvars[] = {
    {"T_NAME", CONF_STR, "dflt", 0, 0, offsetof(struct tconf, name), 0, "G", "name", no_x},
    {"T_PORT", CONF_INT, "3000", 1, 65535, offsetof(struct tconf, port), 0, "G", "port", NULL},
    {"T_FLAG", CONF_BOOL, "false", 0, 0, offsetof(struct tconf, flag), 0, "G", "flag", NULL},
    {"T_SECRET", CONF_STR, "", 0, 0, offsetof(struct tconf, secret), CONF_REQUIRED | CONF_SECRET,
     "G", "secret", NULL},
};

static const char *fake_env_a(const char *n)
{
    if (!strcmp(n, "T_PORT"))
        return "99999";
    if (!strcmp(n, "T_FLAG"))
        return "maybe";
    if (!strcmp(n, "T_NAME"))
        return "xx";
    return NULL;
}

static const char *fake_env_b(const char *n)
{
    if (!strcmp(n, "T_FLAG"))
        return "YES";
    if (!strcmp(n, "T_SECRET"))
        return "s3cret";
    return NULL;
}

TEST(conf_reports_every_error)
{
    struct tconf c = {0};
    struct buf errs;
    buf_init(&errs, 4096);
    CHECK_INT(conf_load(tvars, ARRAY_SIZE(tvars), &c, fake_env_a, &errs), -ERR_INVAL);
    CHECK(strstr(errs.data, "T_PORT: 99999 is out of range [1, 65535]"));
    CHECK(strstr(errs.data, "T_FLAG: expected true or false"));
    CHECK(strstr(errs.data, "T_NAME: must not contain x"));
    CHECK(strstr(errs.data, "T_SECRET: is not set"));
    conf_release(tvars, ARRAY_SIZE(tvars), &c);
    buf_release(&errs);
}

TEST(conf_defaults_and_bools)
{
    struct tconf c = {0};
    struct buf errs;
    buf_init(&errs, 4096);
    CHECK_INT(conf_load(tvars, ARRAY_SIZE(tvars), &c, fake_env_b, &errs), 0);
    CHECK_STR(c.name, "dflt");
    CHECK_INT(c.port, 3000);
    CHECK(c.flag);
    CHECK_STR(c.secret, "s3cret");
    conf_release(tvars, ARRAY_SIZE(tvars), &c);
    buf_release(&errs);
}

TEST(conf_dotenv)
{
    char path[] = "/tmp/relay-dotenv-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const char text[] = "# comment\nexport T_DOT_A=1\nT_DOT_B=\"quoted value\"\n"
                        "bad line here\nT_DOT_C=from-file\n";
    REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    setenv("T_DOT_C", "from-env", 1);
    struct buf errs;
    buf_init(&errs, 4096);
    CHECK_INT(conf_dotenv_load(path, &errs), -ERR_PARSE);
    CHECK(strstr(errs.data, ":4: expected NAME=value"));
    CHECK_STR(getenv("T_DOT_A"), "1");
    CHECK_STR(getenv("T_DOT_B"), "quoted value");
    CHECK_STR(getenv("T_DOT_C"), "from-env");
    unlink(path);
    buf_release(&errs);
}

/* ---- json, buf ---- */

TEST(json_limits)
{
    char deep[200] = "";
    for (int i = 0; i < 65; i++)
        deep[i] = '[';
    for (int i = 0; i < 65; i++)
        deep[65 + i] = ']';
    CHECK(json_parse(deep, 130, 64, true) == NULL);
    cJSON *ok = json_parse(deep + 1, 128, 64, true);
    CHECK(ok != NULL);
    cJSON_Delete(ok);
    const char s[] = "{\"a\":\"[[[[\",\"n\":5,\"b\":true} trailing";
    CHECK(json_parse(s, strlen(s), 64, true) == NULL);
    cJSON *j = json_parse(s, strlen(s) - 9, 64, true);
    REQUIRE(j != NULL);
    CHECK_INT(json_int(j, "n", 0), 5);
    CHECK_INT(json_int(j, "a", -1), -1);
    CHECK(json_bool(j, "b", false));
    CHECK_STR(json_str(j, "missing", "d"), "d");
    cJSON_Delete(j);
    CHECK(json_parse("42", 2, 64, true) == NULL);
}

TEST(buf_bounded)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK_INT(buf_append(&b, "12345678", 8), 0);
    CHECK_INT(buf_append(&b, "9", 1), -ERR_TOOBIG);
    buf_consume(&b, 3);
    CHECK_STR(b.data, "45678");
    buf_release(&b);
}

int main(int argc, char **argv)
{
    secret_global_init();
    static const struct test tests[] = {
        T(sse_any_chunking_same_events), T(sse_cr_at_chunk_boundary_is_one_line_end),
        T(sse_oversize_line_rejected), T(sse_callback_can_stop), T(sse_encode_round_trip),
        T(seal_open_round_trip_and_tamper), T(seal_rotation_with_old_key),
        T(keyed_hash_and_tokens), T(password_hash_verify), T(conf_reports_every_error),
        T(conf_defaults_and_bools), T(conf_dotenv), T(json_limits), T(buf_bounded)};
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
