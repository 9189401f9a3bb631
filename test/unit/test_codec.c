/* Unit tests of core/codec: RFC 4648 base64 vectors, strict decoding, hex. */
#define CHECK_SUITE "codec"
#include "test/unit/check.h"

#include "core/codec.h"
#include "core/err.h"

/* RFC 4648 section 10 test vectors. */
static const char *rfc_plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *rfc_b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_rfc4648_vectors(void)
{
	for (size_t i = 0; i < 7; i++) {
		char enc[16], dec[16];
		size_t n = base64_encode(enc, rfc_plain[i], strlen(rfc_plain[i]));
		CHECK_STR(enc, rfc_b64[i]);
		CHECK_INT(n, strlen(rfc_b64[i]));
		long d = base64_decode(dec, sizeof(dec), rfc_b64[i], strlen(rfc_b64[i]));
		CHECK_EQUALS(dec, (size_t)d, rfc_plain[i], strlen(rfc_plain[i]));
	}
}

static void test_decode_rejects(void)
{
	char out[16];
	CHECK_INT(base64_decode(out, sizeof(out), "Zm9", 3), -1);      /* length */
	CHECK_INT(base64_decode(out, sizeof(out), "Zm9v\n", 5), -1);   /* whitespace */
	CHECK_INT(base64_decode(out, sizeof(out), "Zm-v", 4), -1);     /* URL alphabet */
	CHECK_INT(base64_decode(out, sizeof(out), "Z===", 4), -1);     /* too much padding */
	CHECK_INT(base64_decode(out, sizeof(out), "Zg=a", 4), -1);     /* data after padding */
	CHECK_INT(base64_decode(out, sizeof(out), "Zg==Zg==", 8), -1); /* padding mid-way */
	CHECK_INT(base64_decode(out, sizeof(out), "Zh==", 4), -1);     /* non-canonical bits */
	CHECK(strstr(err_msg(), "non-canonical") != NULL);
	CHECK_INT(base64_decode(out, 2, "Zm9v", 4), -1); /* does not fit */
}

static void test_binary_round_trip(void)
{
	unsigned char all[256], back[256];
	char enc[BASE64_LEN(256) + 1];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= 256; n += 37) {
		size_t e = base64_encode(enc, all, n);
		CHECK_INT(e, BASE64_LEN(n));
		CHECK_EQUALS(back, (size_t)base64_decode(back, sizeof(back), enc, e), all, n);
	}
}

static void test_hex(void)
{
	char enc[9];
	unsigned char dec[4];
	hex_encode(enc, "\x01\xab\xff\x00", 4);
	CHECK_STR(enc, "01abff00");
	CHECK_INT(hex_decode(dec, 4, "01ABff00", 8), 0);
	CHECK_EQUALS(dec, 4, "\x01\xab\xff\x00", 4);
	CHECK_INT(hex_decode(dec, 4, "01abff0", 7), -1);
	CHECK_INT(hex_decode(dec, 4, "01abfg00", 8), -1);
	CHECK(strstr(err_msg(), "offset 5") != NULL);
}

int main(void)
{
	RUN(test_rfc4648_vectors);
	RUN(test_decode_rejects);
	RUN(test_binary_round_trip);
	RUN(test_hex);
	return CHECK_DONE();
}
