/*
 * secret.h - libsodium wrappers: sealing, keyed hashes, random tokens,
 * password hashing and constant-time comparison. Prefix secret_ because
 * libsodium owns crypto_.
 *
 * Sealed blob format (text, safe to store in a Redis hash):
 *     "s1:" <key id, 8 hex> ":" base64url(nonce[24] || ciphertext || tag[16])
 * The cipher is XChaCha20-Poly1305 (IETF). The associated data binds a blob
 * to its context (e.g. "claude_console_account:<id>:apiKey"), so a blob copied
 * to another record fails to open. The key id is derived from the key itself,
 * so a keyring with several keys (rotation) can pick the right one.
 *
 * A struct secret_box is immutable after secret_box_new and safe to share
 * between threads.
 */
#ifndef RELAY_SECRET_H
#define RELAY_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define SECRET_HASH_HEX 64 /* keyed hash as lower-case hex, without NUL */
#define SECRET_MAX_KEYS 4  /* current key + old keys a box holds */

struct secret_box;

/* Must be called once before any other secret_ function (sodium_init). 0 or -ERR_CRYPTO. */
int secret_global_init(void);

/* Derive the sealing and hashing keys from the master secret (any length >= 16
 * bytes; the customer's ENCRYPTION_KEY). Older master secrets may be added with
 * secret_box_add_old() so data sealed under them still opens. */
int secret_box_new(const char *master, struct secret_box **out) __attribute__((warn_unused_result));
int secret_box_add_old(struct secret_box *box, const char *old_master);
void secret_box_free(struct secret_box *box);
/* The 8-hex id of the current sealing key (for docs and health). */
const char *secret_box_key_id(const struct secret_box *box);

/* Seal plaintext under the current key; *out is malloc'd text (caller frees). */
int secret_seal(const struct secret_box *box, const char *ad, const void *plain, size_t len,
                char **out) __attribute__((warn_unused_result));
/* Open a blob made by secret_seal. *out is malloc'd, NUL-terminated, *len
 * excludes the NUL; wipe it with secret_free() when done. -ERR_CRYPTO when the
 * blob was tampered with, sealed for another context, or under an unknown key;
 * -ERR_PARSE when it is not a blob at all. */
int secret_open(const struct secret_box *box, const char *ad, const char *blob, char **out,
                size_t *len) __attribute__((warn_unused_result));
/* True when s looks like a sealed blob (prefix check only). */
bool secret_is_sealed(const char *s);
/* True when blob is sealed under the current key (false for old keys: the
 * caller re-seals it so an old key can be retired). */
bool secret_is_current(const struct secret_box *box, const char *blob);

/* Keyed hash (BLAKE2b-256 under a key derived from the master) as hex into
 * out[SECRET_HASH_HEX + 1]. Used to index API keys and session tokens. */
void secret_keyed_hash(const struct secret_box *box, const char *domain, const char *data,
                       char out[SECRET_HASH_HEX + 1]);
/* The same under key `key`: 0 is the current key, 1.. the old ones in the order
 * they were added (0 <= key < secret_box_nkeys). Lets a lookup by hash find
 * what was indexed before a rotation. */
void secret_keyed_hash_at(const struct secret_box *box, int key, const char *domain,
                          const char *data, char out[SECRET_HASH_HEX + 1]);
/* Number of keys in the box (1 + old keys, at most SECRET_MAX_KEYS). */
int secret_box_nkeys(const struct secret_box *box);

/* SHA-256 of data as 64 lower-case hex characters + NUL into out. */
void secret_sha256_hex(const void *data, size_t len, char out[65]);
/* nbytes of OS randomness as lower-case hex into out (size >= 2*nbytes+1). */
void secret_random_hex(char *out, size_t nbytes);
/* The same for ids that are no secret (request ids): from a per-thread pool. */
void secret_id_hex(char *out, size_t nbytes);
/* A random UUID v4 string into out[37]. */
void secret_uuid(char out[37]);
/* Constant-time equality of two NUL-terminated strings (length is not secret). */
bool secret_equal(const char *a, const char *b);

#define SECRET_B64URL_32 44 /* base64url (no padding) of 32 bytes: 43 characters + NUL */
/* 32 random bytes as base64url without padding (PKCE verifier, OAuth state). */
void secret_random_b64url32(char out[SECRET_B64URL_32]);
/* base64url (no padding) of SHA-256(text): the PKCE S256 code challenge. */
void secret_sha256_b64url(const char *text, char out[SECRET_B64URL_32]);

/* argon2id password hashing (libsodium crypto_pwhash_str, interactive limits).
 * out must hold SECRET_PWHASH_MAX bytes. */
#define SECRET_PWHASH_MAX 128
int secret_password_hash(const char *password, char out[SECRET_PWHASH_MAX]);
bool secret_password_verify(const char *hash, const char *password);

/* Wipe and free a NUL-terminated secret (NULL ok). */
void secret_free(char *s);

#endif
