/*
 * secret.c - sealing, keyed hashing and tokens on libsodium (see secret.h).
 *
 * DESIGN: two 32-byte keys are derived from each master secret with BLAKE2b
 * keyed by the master: one for XChaCha20-Poly1305 sealing, one for keyed
 * hashes. The key id is the first 4 bytes of BLAKE2b(seal key) in hex; it is
 * stored in every blob so rotation can add the new key and keep the old ones
 * readable. Deriving (not using the master directly) lets the master be any
 * printable string, as the customer's ENCRYPTION_KEY is.
 */
#include "compat.h"
#include "errs.h"
#include "secret.h"
#include "xmalloc.h"

#include <sodium.h>

#define SEAL_PREFIX "s1:"
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

struct box_key {
    unsigned char seal[32];
    unsigned char hash[32];
    char id[9];
};

struct secret_box {
    struct box_key keys[SECRET_MAX_KEYS]; /* [0] is current */
    int nkeys;
};

int secret_global_init(void)
{
    return sodium_init() < 0 ? -ERR_CRYPTO : 0;
}

static void derive(const char *master, const char *label, unsigned char out[32])
{
    size_t mlen = strlen(master);
    unsigned char mkey[crypto_generichash_KEYBYTES_MAX];
    /* Master may exceed the BLAKE2b key size: compress it first. */
    crypto_generichash(mkey, sizeof(mkey), (const unsigned char *)master, mlen, NULL, 0);
    crypto_generichash(out, 32, (const unsigned char *)label, strlen(label), mkey, sizeof(mkey));
    sodium_memzero(mkey, sizeof(mkey));
}

static void key_from_master(struct box_key *k, const char *master)
{
    derive(master, "claude-relay/seal/v1", k->seal);
    derive(master, "claude-relay/hash/v1", k->hash);
    unsigned char idb[4];
    crypto_generichash(idb, sizeof(idb), k->seal, sizeof(k->seal), NULL, 0);
    sodium_bin2hex(k->id, sizeof(k->id), idb, sizeof(idb));
}

int secret_box_new(const char *master, struct secret_box **out)
{
    if (!master || strlen(master) < 16)
        return -ERR_INVAL;
    struct secret_box *box = sodium_malloc(sizeof(*box));
    if (!box)
        return -ERR_NOMEM;
    memset(box, 0, sizeof(*box));
    key_from_master(&box->keys[0], master);
    box->nkeys = 1;
    *out = box;
    return 0;
}

int secret_box_add_old(struct secret_box *box, const char *old_master)
{
    if (!old_master || strlen(old_master) < 16)
        return -ERR_INVAL;
    if (box->nkeys >= SECRET_MAX_KEYS)
        return -ERR_TOOBIG;
    key_from_master(&box->keys[box->nkeys++], old_master);
    return 0;
}

void secret_box_free(struct secret_box *box)
{
    if (box)
        sodium_free(box); /* zeroes the guarded allocation */
}

const char *secret_box_key_id(const struct secret_box *box)
{
    return box->keys[0].id;
}

bool secret_is_sealed(const char *s)
{
    return s && strncmp(s, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0;
}

bool secret_is_current(const struct secret_box *box, const char *blob)
{
    size_t plen = strlen(SEAL_PREFIX);
    return secret_is_sealed(blob) && strncmp(blob + plen, box->keys[0].id, 8) == 0 &&
           blob[plen + 8] == ':';
}

int secret_seal(const struct secret_box *box, const char *ad, const void *plain, size_t len,
                char **out)
{
    if (len > 1u << 24)
        return -ERR_TOOBIG;
    size_t rawlen = NONCE_LEN + len + TAG_LEN;
    unsigned char *raw = xmalloc(rawlen);
    randombytes_buf(raw, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(raw + NONCE_LEN, NULL, plain, len,
                                               (const unsigned char *)ad, ad ? strlen(ad) : 0, NULL,
                                               raw, box->keys[0].seal);
    size_t b64len = sodium_base64_ENCODED_LEN(rawlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *text = xmalloc(strlen(SEAL_PREFIX) + 9 + b64len);
    int n = snprintf(text, 16, "%s%s:", SEAL_PREFIX, box->keys[0].id);
    sodium_bin2base64(text + n, b64len, raw, rawlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(raw);
    *out = text;
    return 0;
}

static const struct box_key *find_key(const struct secret_box *box, const char *id)
{
    for (int i = 0; i < box->nkeys; i++)
        if (strncmp(box->keys[i].id, id, 8) == 0)
            return &box->keys[i];
    return NULL;
}

int secret_open(const struct secret_box *box, const char *ad, const char *blob, char **out,
                size_t *len)
{
    size_t plen = strlen(SEAL_PREFIX);
    if (!secret_is_sealed(blob) || strlen(blob) < plen + 9 || blob[plen + 8] != ':')
        return -ERR_PARSE;
    const struct box_key *k = find_key(box, blob + plen);
    if (!k)
        return -ERR_CRYPTO;
    const char *b64 = blob + plen + 9;
    size_t b64len = strlen(b64);
    unsigned char *raw = xmalloc(b64len + 1);
    size_t rawlen = 0;
    int rc = -ERR_PARSE;
    if (sodium_base642bin(raw, b64len + 1, b64, b64len, NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        rawlen < NONCE_LEN + TAG_LEN)
        goto out;
    size_t mlen = rawlen - NONCE_LEN - TAG_LEN;
    char *plain = xmalloc(mlen + 1);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)plain, NULL, NULL, raw + NONCE_LEN, rawlen - NONCE_LEN,
            (const unsigned char *)ad, ad ? strlen(ad) : 0, raw, k->seal) != 0) {
        free(plain);
        rc = -ERR_CRYPTO;
        goto out;
    }
    plain[mlen] = '\0';
    *out = plain;
    if (len)
        *len = mlen;
    rc = 0;
out:
    free(raw);
    return rc;
}

int secret_box_nkeys(const struct secret_box *box)
{
    return box->nkeys;
}

void secret_keyed_hash(const struct secret_box *box, const char *domain, const char *data,
                       char out[SECRET_HASH_HEX + 1])
{
    secret_keyed_hash_at(box, 0, domain, data, out);
}

void secret_keyed_hash_at(const struct secret_box *box, int key, const char *domain,
                          const char *data, char out[SECRET_HASH_HEX + 1])
{
    BUG_ON(key < 0 || key >= box->nkeys);
    crypto_generichash_state st;
    unsigned char h[32];
    crypto_generichash_init(&st, box->keys[key].hash, sizeof(box->keys[key].hash), sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)domain, strlen(domain) + 1);
    crypto_generichash_update(&st, (const unsigned char *)data, strlen(data));
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(out, SECRET_HASH_HEX + 1, h, sizeof(h));
}

void secret_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

void secret_random_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    BUG_ON(nbytes > sizeof(b));
    randombytes_buf(b, nbytes);
    sodium_bin2hex(out, nbytes * 2 + 1, b, nbytes);
    sodium_memzero(b, sizeof(b));
}

/* Random hex for identifiers that are not secrets (request ids), from a
 * per-thread pool refilled 256 bytes at a time: one getrandom call per 32
 * request ids instead of one each (it was 1 of ~16 syscalls a request). */
void secret_id_hex(char *out, size_t nbytes)
{
    static _Thread_local unsigned char pool[256];
    static _Thread_local size_t left;
    BUG_ON(nbytes > sizeof(pool));
    if (left < nbytes) {
        randombytes_buf(pool, sizeof(pool));
        left = sizeof(pool);
    }
    left -= nbytes;
    sodium_bin2hex(out, nbytes * 2 + 1, pool + left, nbytes);
}

void secret_uuid(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void secret_random_b64url32(char out[SECRET_B64URL_32])
{
    unsigned char b[32];
    randombytes_buf(b, sizeof(b));
    sodium_bin2base64(out, SECRET_B64URL_32, b, sizeof(b),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(b, sizeof(b));
}

void secret_sha256_b64url(const char *text, char out[SECRET_B64URL_32])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    sodium_bin2base64(out, SECRET_B64URL_32, h, sizeof(h),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool secret_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return sodium_memcmp(a, b, la) == 0;
}

int secret_password_hash(const char *password, char out[SECRET_PWHASH_MAX])
{
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return -ERR_NOMEM;
    return 0;
}

bool secret_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || strncmp(hash, "$argon2id$", 10) != 0)
        return false;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void secret_free(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}
