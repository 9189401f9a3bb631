/* Hashes and MACs: SHA-1, SHA-256, MD5 (hex helpers), HMAC-SHA1/SHA-256, constant-time compare. */
#ifndef FERRY_HMAC_H
#define FERRY_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define MD5_LEN	   16
#define SHA1_LEN   20
#define SHA256_LEN 32

/* Hex text lengths including the terminating NUL. */
#define MD5_HEX_SIZE	(2 * MD5_LEN + 1)
#define SHA1_HEX_SIZE	(2 * SHA1_LEN + 1)
#define SHA256_HEX_SIZE (2 * SHA256_LEN + 1)

/* Digests of DATA[0..LEN) into OUT (SHA1_LEN, SHA256_LEN bytes). DATA may be NULL when LEN is 0. */
void sha1(uint8_t out[SHA1_LEN], const void *data, size_t len);
void sha256(uint8_t out[SHA256_LEN], const void *data, size_t len);

/*
 * The same digests as lowercase hex into OUT (NUL-terminated). MD5 exists
 * only for Ganeti's {HA1} passwords (md5("user:realm:password")); never
 * use it for anything new.
 */
void sha1_hex(char out[SHA1_HEX_SIZE], const void *data, size_t len);
void sha256_hex(char out[SHA256_HEX_SIZE], const void *data, size_t len);
void md5_hex(char out[MD5_HEX_SIZE], const void *data, size_t len);

/*
 * HMAC (RFC 2104) of the concatenation MSG1 || MSG2 under KEY; either
 * message part may be empty (pointer NULL with length 0). Any key length
 * works (long keys are hashed first, as the RFC says).
 */
void hmac_sha1(uint8_t out[SHA1_LEN], const void *key, size_t key_len, const void *msg1,
	       size_t len1, const void *msg2, size_t len2);
void hmac_sha256(uint8_t out[SHA256_LEN], const void *key, size_t key_len, const void *msg1,
		 size_t len1, const void *msg2, size_t len2);

/*
 * 1 if A[0..N) equals B[0..N), else 0, in time that depends only on N
 * (for MACs, hashes and secrets).
 */
int hmac_equal(const void *a, const void *b, size_t n);

#endif
