/*
 * test_secret.c - lib/secret: seal/open and every way opening must fail,
 * key rotation, keyed hashes, random tokens, UUIDs, constant-time equality
 * and argon2id password hashes.
 */
#include "compat.h"
#include "errs.h"
#include "harness.h"
#include "secret.h"
#include "xmalloc.h"

#define MASTER_A "master-a-0123456789abcdef0123456789"
#define MASTER_B "master-b-0123456789abcdef0123456789"
#define AD "claude_console_account:1:apiKey"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Offset of the base64 part: "s1:" + 8 hex + ":". */
#define B64_AT 12

static struct secret_box *box_or_null(const char *master)
{
    struct secret_box *b = NULL;
    return secret_box_new(master, &b) == 0 ? b : NULL;
}

static char *seal(const struct secret_box *box, const char *ad, const char *plain)
{
    char *blob = NULL;
    return secret_seal(box, ad, plain, strlen(plain), &blob) == 0 ? blob : NULL;
}

TEST(seal_open_round_trip)
{
    struct secret_box *box = box_or_null(MASTER_A);
    REQUIRE(box != NULL);
    char *blob = seal(box, AD, "sk-ant-api03-secret");
    REQUIRE(blob != NULL);
    CHECK(secret_is_sealed(blob));
    CHECK(strncmp(blob + 3, secret_box_key_id(box), 8) == 0 && blob[11] == ':');
    CHECK(strstr(blob, "sk-ant") == NULL);
    char *plain = NULL;
    size_t len = 0;
    CHECK_INT(secret_open(box, AD, blob, &plain, &len), 0);
    CHECK_STR(plain, "sk-ant-api03-secret");
    CHECK_INT(len, 19);
    secret_free(plain);
    /* Two seals of the same text differ (random nonce) but both open. */
    char *again = seal(box, AD, "sk-ant-api03-secret");
    REQUIRE(again != NULL);
    CHECK(strcmp(blob, again) != 0);
    plain = NULL;
    CHECK_INT(secret_open(box, AD, again, &plain, NULL), 0);
    CHECK_STR(plain, "sk-ant-api03-secret");
    secret_free(plain);
    /* Empty plaintext and binary bytes survive too. */
    char *empty = NULL;
    REQUIRE(secret_seal(box, AD, "", 0, &empty) == 0);
    plain = NULL;
    CHECK_INT(secret_open(box, AD, empty, &plain, &len), 0);
    CHECK_INT(len, 0);
    CHECK_STR(plain, "");
    secret_free(plain);
    free(empty);
    free(again);
    free(blob);
    secret_box_free(box);
}

/* Replace blob[i] with another base64url character. */
static void flip(char *blob, size_t i)
{
    const char *p = strchr(b64chars, blob[i]);
    BUG_ON(!p);
    blob[i] = b64chars[((size_t)(p - b64chars) + 1) % 64];
}

TEST(tamper_detection)
{
    struct secret_box *box = box_or_null(MASTER_A);
    REQUIRE(box != NULL);
    char *blob = seal(box, AD, "sk-ant-api03-secret");
    REQUIRE(blob != NULL);
    size_t n = strlen(blob);
    char *plain = NULL;
    size_t len = 0;
    /* One changed character anywhere in the nonce, ciphertext or tag. The
     * very last one is skipped: it may carry only padding bits. */
    for (size_t i = B64_AT; i + 1 < n; i++) {
        char *copy = xstrdup(blob);
        flip(copy, i);
        CHECK_INT(secret_open(box, AD, copy, &plain, &len), -ERR_CRYPTO);
        free(copy);
    }
    CHECK(plain == NULL); /* out-parameters untouched on failure */
    /* Right blob, wrong associated data (copied to another record). */
    CHECK_INT(secret_open(box, "claude_console_account:2:apiKey", blob, &plain, &len),
              -ERR_CRYPTO);
    CHECK_INT(secret_open(box, NULL, blob, &plain, &len), -ERR_CRYPTO);
    /* Truncated: some error, never success. */
    static const size_t cuts[] = {1, 4, 20};
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        char *copy = xstrdup(blob);
        copy[n - cuts[i]] = '\0';
        CHECK(secret_open(box, AD, copy, &plain, &len) < 0);
        free(copy);
    }
    char *copy = xstrdup(blob);
    copy[B64_AT + 10] = '\0'; /* shorter than nonce + tag */
    CHECK_INT(secret_open(box, AD, copy, &plain, &len), -ERR_PARSE);
    copy[B64_AT] = '\0';
    CHECK(secret_open(box, AD, copy, &plain, &len) < 0);
    free(copy);
    /* Not a blob at all. */
    CHECK_INT(secret_open(box, AD, "sk-ant-plaintext", &plain, &len), -ERR_PARSE);
    CHECK_INT(secret_open(box, AD, "", &plain, &len), -ERR_PARSE);
    CHECK_INT(secret_open(box, AD, "s1:", &plain, &len), -ERR_PARSE);
    CHECK(!secret_is_sealed("sk-ant-plaintext"));
    CHECK(!secret_is_sealed(NULL));
    /* Invalid base64 in the body. */
    copy = xstrdup(blob);
    copy[B64_AT + 3] = '*';
    CHECK(secret_open(box, AD, copy, &plain, &len) < 0);
    free(copy);
    CHECK(plain == NULL);
    free(blob);
    secret_box_free(box);
}

TEST(other_master_cannot_open)
{
    struct secret_box *a = box_or_null(MASTER_A), *b = box_or_null(MASTER_B);
    REQUIRE(a != NULL && b != NULL);
    CHECK(strcmp(secret_box_key_id(a), secret_box_key_id(b)) != 0);
    char *blob = seal(a, AD, "v");
    REQUIRE(blob != NULL);
    char *plain = NULL;
    CHECK_INT(secret_open(b, AD, blob, &plain, NULL), -ERR_CRYPTO);
    /* Even with the key id rewritten to b's own, the tag check fails. */
    memcpy(blob + 3, secret_box_key_id(b), 8);
    CHECK_INT(secret_open(b, AD, blob, &plain, NULL), -ERR_CRYPTO);
    CHECK(plain == NULL);
    free(blob);
    secret_box_free(a);
    secret_box_free(b);
    /* Masters shorter than 16 bytes are refused. */
    struct secret_box *weak = NULL;
    CHECK_INT(secret_box_new("short", &weak), -ERR_INVAL);
    CHECK(weak == NULL);
}

TEST(rotation_with_old_master)
{
    struct secret_box *a = box_or_null(MASTER_A), *b = box_or_null(MASTER_B);
    REQUIRE(a != NULL && b != NULL);
    char *old_blob = seal(a, AD, "sealed-under-a");
    REQUIRE(old_blob != NULL);
    CHECK_INT(secret_box_add_old(b, MASTER_A), 0);
    char *plain = NULL;
    CHECK_INT(secret_open(b, AD, old_blob, &plain, NULL), 0);
    CHECK_STR(plain, "sealed-under-a");
    secret_free(plain);
    /* New blobs are sealed under the new master only. */
    char *new_blob = seal(b, AD, "sealed-under-b");
    REQUIRE(new_blob != NULL);
    CHECK(strncmp(new_blob + 3, secret_box_key_id(b), 8) == 0);
    plain = NULL;
    CHECK_INT(secret_open(a, AD, new_blob, &plain, NULL), -ERR_CRYPTO);
    CHECK_INT(secret_box_add_old(b, "short"), -ERR_INVAL);
    free(new_blob);
    free(old_blob);
    secret_box_free(a);
    secret_box_free(b);
}

static bool is_lower_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

TEST(keyed_hash)
{
    struct secret_box *a = box_or_null(MASTER_A), *b = box_or_null(MASTER_B);
    REQUIRE(a != NULL && b != NULL);
    char h1[SECRET_HASH_HEX + 1], h2[SECRET_HASH_HEX + 1], h3[SECRET_HASH_HEX + 1];
    char h4[SECRET_HASH_HEX + 1], h5[SECRET_HASH_HEX + 1];
    secret_keyed_hash(a, "api-key", "cr_abc", h1);
    secret_keyed_hash(a, "api-key", "cr_abc", h2);
    secret_keyed_hash(b, "api-key", "cr_abc", h3);
    secret_keyed_hash(a, "admin-session", "cr_abc", h4);
    secret_keyed_hash(a, "api-key", "cr_abd", h5);
    CHECK(is_lower_hex(h1, 64));
    CHECK_STR(h1, h2);                /* deterministic per master */
    CHECK(strcmp(h1, h3) != 0);       /* differs across masters */
    CHECK(strcmp(h1, h4) != 0);       /* and across domains */
    CHECK(strcmp(h1, h5) != 0);
    /* The domain is length-delimited: ("ab", "c") is not ("a", "bc"). */
    secret_keyed_hash(a, "ab", "c", h2);
    secret_keyed_hash(a, "a", "bc", h3);
    CHECK(strcmp(h2, h3) != 0);
    secret_box_free(a);
    secret_box_free(b);
}

TEST(random_hex_and_uuid)
{
    char r1[65], r2[65], r3[9];
    secret_random_hex(r1, 32);
    secret_random_hex(r2, 32);
    CHECK(is_lower_hex(r1, 64));
    CHECK(is_lower_hex(r2, 64));
    CHECK(strcmp(r1, r2) != 0);
    secret_random_hex(r3, 4);
    CHECK(is_lower_hex(r3, 8));
    char u1[37], u2[37];
    secret_uuid(u1);
    secret_uuid(u2);
    CHECK_INT(strlen(u1), 36);
    CHECK(strcmp(u1, u2) != 0);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            CHECK(u1[i] == '-');
        else
            CHECK(strchr("0123456789abcdef", u1[i]) != NULL && u1[i] != '\0');
    }
    CHECK(u1[14] == '4');                        /* version 4 */
    CHECK(strchr("89ab", u1[19]) && u1[19]);     /* RFC 4122 variant */
}

/* RFC 7636 appendix B: the S256 challenge of the example verifier. */
TEST(pkce_b64url)
{
    char c[SECRET_B64URL_32], v1[SECRET_B64URL_32], v2[SECRET_B64URL_32];
    secret_sha256_b64url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
    CHECK(strcmp(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") == 0);
    secret_random_b64url32(v1);
    secret_random_b64url32(v2);
    CHECK_INT(strlen(v1), 43);
    CHECK(strcmp(v1, v2) != 0);
    CHECK(strspn(v1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
}

TEST(constant_time_equal)
{
    CHECK(secret_equal("abc", "abc"));
    CHECK(secret_equal("", ""));
    CHECK(!secret_equal("abc", "abd"));
    CHECK(!secret_equal("abc", "ab"));
    CHECK(!secret_equal("ab", "abc"));
    CHECK(!secret_equal(NULL, "abc"));
    CHECK(!secret_equal("abc", NULL));
}

TEST(password_hash_verify)
{
    char h[SECRET_PWHASH_MAX], h2[SECRET_PWHASH_MAX];
    REQUIRE(secret_password_hash("correct horse battery", h) == 0);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(secret_password_verify(h, "correct horse battery"));
    CHECK(!secret_password_verify(h, "correct horse batterY"));
    CHECK(!secret_password_verify(h, ""));
    /* Salted: the same password hashes differently each time. */
    REQUIRE(secret_password_hash("correct horse battery", h2) == 0);
    CHECK(strcmp(h, h2) != 0);
    CHECK(secret_password_verify(h2, "correct horse battery"));
    /* Anything but argon2id is refused, whatever it claims. */
    CHECK(!secret_password_verify("$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
                                  "correct horse battery"));
    CHECK(!secret_password_verify("$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA",
                                  "correct horse battery"));
    CHECK(!secret_password_verify("plain", "plain"));
    CHECK(!secret_password_verify(NULL, "x"));
    CHECK(!secret_password_verify(h, NULL));
}

int main(int argc, char **argv)
{
    if (secret_global_init() != 0) {
        fprintf(stderr, "secret_global_init failed\n");
        return 1;
    }
    static const struct test tests[] = {
        T(seal_open_round_trip), T(tamper_detection),    T(other_master_cannot_open),
        T(rotation_with_old_master), T(keyed_hash),      T(random_hex_and_uuid),
        T(constant_time_equal),  T(password_hash_verify), T(pkce_b64url),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
