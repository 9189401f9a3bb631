/* Hashes and MACs over BearSSL: one-shot digests, hex digests, two-part HMAC, constant-time compare. */
#include "crypto/hmac.h"

#include <bearssl.h>
#include <string.h>

#include "core/codec.h"

void sha1(uint8_t out[SHA1_LEN], const void *data, size_t len)
{
	br_sha1_context c;
	br_sha1_init(&c);
	br_sha1_update(&c, data, len);
	br_sha1_out(&c, out);
}

void sha256(uint8_t out[SHA256_LEN], const void *data, size_t len)
{
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, data, len);
	br_sha256_out(&c, out);
}

void sha1_hex(char out[SHA1_HEX_SIZE], const void *data, size_t len)
{
	uint8_t d[SHA1_LEN];
	sha1(d, data, len);
	hex_encode(out, d, sizeof(d));
}

void sha256_hex(char out[SHA256_HEX_SIZE], const void *data, size_t len)
{
	uint8_t d[SHA256_LEN];
	sha256(d, data, len);
	hex_encode(out, d, sizeof(d));
}

void md5_hex(char out[MD5_HEX_SIZE], const void *data, size_t len)
{
	br_md5_context c;
	uint8_t d[MD5_LEN];
	br_md5_init(&c);
	br_md5_update(&c, data, len);
	br_md5_out(&c, d);
	hex_encode(out, d, sizeof(d));
}

static void hmac_two(const br_hash_class *h, void *out, const void *key, size_t key_len,
		     const void *msg1, size_t len1, const void *msg2, size_t len2)
{
	br_hmac_key_context kc;
	br_hmac_context c;
	br_hmac_key_init(&kc, h, key, key_len);
	br_hmac_init(&c, &kc, 0);
	if (len1)
		br_hmac_update(&c, msg1, len1);
	if (len2)
		br_hmac_update(&c, msg2, len2);
	br_hmac_out(&c, out);
	/* The key context holds the padded key's inner and outer states: wipe it. */
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&c, sizeof(c));
}

void hmac_sha1(uint8_t out[SHA1_LEN], const void *key, size_t key_len, const void *msg1,
	       size_t len1, const void *msg2, size_t len2)
{
	hmac_two(&br_sha1_vtable, out, key, key_len, msg1, len1, msg2, len2);
}

void hmac_sha256(uint8_t out[SHA256_LEN], const void *key, size_t key_len, const void *msg1,
		 size_t len1, const void *msg2, size_t len2)
{
	hmac_two(&br_sha256_vtable, out, key, key_len, msg1, len1, msg2, len2);
}

int hmac_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}
