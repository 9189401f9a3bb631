/* Unit tests of crypto/hmac: RFC 2202 and RFC 4231 HMAC vectors, FIPS 180 / RFC 1321 digests, compare. */
#define CHECK_SUITE "hmac"
#include "test/unit/check.h"

#include "core/codec.h"
#include "crypto/hmac.h"

struct hmac_vector {
	uint8_t key_byte; /* key: KEY_LEN times this byte, or 1..25 when 0 */
	size_t key_len;
	const char *data; /* or DATA_LEN times DATA_BYTE when NULL */
	uint8_t data_byte;
	size_t data_len;
	const char *sha1, *sha256;
};

static const char long_key_data[] =
	"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
static const char rfc4231_7_data[] =
	"This is a test using a larger than block-size key and a larger than block-size data. The "
	"key needs to be hashed before being used by the HMAC algorithm.";

/* RFC 2202 section 3 (SHA-1) and RFC 4231 section 4 (SHA-256), cases 1-4 and 6-7. */
static const struct hmac_vector vectors[] = {
	{0x0b, 20, "Hi There", 0, 0, "b617318655057264e28bc0b6fb378c8ef146be00",
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{'J', 0, "what do ya want for nothing?", 0, 0, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{0xaa, 20, NULL, 0xdd, 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
	 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
	{0, 25, NULL, 0xcd, 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
	 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
};

static size_t make_key(uint8_t *key, const struct hmac_vector *v)
{
	if (v->key_byte == 'J') {
		memcpy(key, "Jefe", 4);
		return 4;
	}
	for (size_t i = 0; i < v->key_len; i++)
		key[i] = v->key_byte ? v->key_byte : (uint8_t)(i + 1);
	return v->key_len;
}

static void hex_of(char *out, const uint8_t *mac, size_t n)
{
	hex_encode(out, mac, n);
}

static void test_rfc_vectors(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct hmac_vector *v = &vectors[i];
		uint8_t key[200], data[200], mac1[SHA1_LEN], mac256[SHA256_LEN];
		char hex[SHA256_HEX_SIZE];
		size_t klen = make_key(key, v), dlen;
		if (v->data) {
			dlen = strlen(v->data);
			memcpy(data, v->data, dlen);
		} else {
			dlen = v->data_len;
			memset(data, v->data_byte, dlen);
		}
		hmac_sha1(mac1, key, klen, data, dlen, NULL, 0);
		hex_of(hex, mac1, sizeof(mac1));
		CHECK_STR(hex, v->sha1);
		hmac_sha256(mac256, key, klen, data, dlen, NULL, 0);
		hex_of(hex, mac256, sizeof(mac256));
		CHECK_STR(hex, v->sha256);
		/* Split anywhere into the two message parts: same MAC. */
		for (size_t cut = 0; cut <= dlen; cut += 7) {
			uint8_t m[SHA256_LEN];
			hmac_sha256(m, key, klen, data, cut, data + cut, dlen - cut);
			CHECK_EQUALS(m, sizeof(m), mac256, sizeof(mac256));
		}
	}
}

/* Keys longer than the hash block: RFC 2202 cases 6-7 (80 bytes), RFC 4231 cases 6-7 (131 bytes). */
static void test_long_keys(void)
{
	uint8_t key[131], mac1[SHA1_LEN], mac256[SHA256_LEN];
	char hex[SHA256_HEX_SIZE];
	const char *first = "Test Using Larger Than Block-Size Key - Hash Key First";
	memset(key, 0xaa, sizeof(key));
	hmac_sha1(mac1, key, 80, first, strlen(first), NULL, 0);
	hex_of(hex, mac1, sizeof(mac1));
	CHECK_STR(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
	hmac_sha1(mac1, key, 80, long_key_data, strlen(long_key_data), NULL, 0);
	hex_of(hex, mac1, sizeof(mac1));
	CHECK_STR(hex, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91");
	hmac_sha256(mac256, key, 131, first, strlen(first), NULL, 0);
	hex_of(hex, mac256, sizeof(mac256));
	CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	hmac_sha256(mac256, key, 131, rfc4231_7_data, strlen(rfc4231_7_data), NULL, 0);
	hex_of(hex, mac256, sizeof(mac256));
	CHECK_STR(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_digests(void)
{
	char h1[SHA1_HEX_SIZE], h256[SHA256_HEX_SIZE], h5[MD5_HEX_SIZE];
	sha1_hex(h1, "abc", 3);
	CHECK_STR(h1, "a9993e364706816aba3e25717850c26c9cd0d89d");
	sha256_hex(h256, "abc", 3);
	CHECK_STR(h256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	md5_hex(h5, "abc", 3);
	CHECK_STR(h5, "900150983cd24fb0d6963f7d28e17f72");
	sha256_hex(h256, NULL, 0);
	CHECK_STR(h256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* Ganeti's {HA1} password form: md5("user:Ganeti Remote API:password"). */
	const char *ha1 = "alice:Ganeti Remote API:secret";
	md5_hex(h5, ha1, strlen(ha1));
	CHECK_STR(h5, "8ef4bd7a6a4c789f8375d326da317e40");
}

static void test_equal(void)
{
	CHECK_INT(hmac_equal("abcd", "abcd", 4), 1);
	CHECK_INT(hmac_equal("abcd", "abce", 4), 0);
	CHECK_INT(hmac_equal("xbcd", "abcd", 4), 0);
	CHECK_INT(hmac_equal("abcd", "abce", 3), 1);
	CHECK_INT(hmac_equal("", "", 0), 1);
}

int main(void)
{
	RUN(test_rfc_vectors);
	RUN(test_long_keys);
	RUN(test_digests);
	RUN(test_equal);
	return CHECK_DONE();
}
