/* Unit tests of core/sshwire: RFC 4251 string and mpint encodings, bounds and strictness. */
#define CHECK_SUITE "sshwire"
#include "test/unit/check.h"

#include "core/err.h"
#include "core/sshwire.h"

/* RFC 4251 section 5 examples of mpint encodings. */
static void test_rfc4251_mpint_examples(void)
{
	uint8_t buf[64];
	struct sshwire_out o;
	sshwire_out_init(&o, buf, sizeof(buf));
	sshwire_put_mpint(&o, "", 0);				      /* 0 */
	sshwire_put_mpint(&o, "\x09\xa3\x78\xf9\xb2\xe3\x32\xa7", 8); /* 9a378f9b2e332a7 */
	sshwire_put_mpint(&o, "\x00\x00\x80", 3);		      /* 0x80, zeros dropped */
	CHECK_INT(sshwire_out_done(&o), 4 + 4 + 8 + 4 + 2);
	CHECK_EQUALS(buf, (size_t)o.len,
		     "\x00\x00\x00\x00"
		     "\x00\x00\x00\x08\x09\xa3\x78\xf9\xb2\xe3\x32\xa7"
		     "\x00\x00\x00\x02\x00\x80",
		     22);

	struct cursor c;
	const uint8_t *p;
	size_t n;
	cur_init(&c, buf, o.len);
	CHECK_INT(sshwire_get_mpint(&c, &p, &n, 8, "zero"), 0);
	CHECK_INT(n, 0);
	CHECK_INT(sshwire_get_mpint(&c, &p, &n, 8, "a"), 0);
	CHECK_EQUALS(p, n, "\x09\xa3\x78\xf9\xb2\xe3\x32\xa7", 8);
	CHECK_INT(sshwire_get_mpint(&c, &p, &n, 1, "b"), 0); /* the sign byte does not count */
	CHECK_EQUALS(p, n, "\x80", 1);
	CHECK_INT(cur_left(&c), 0);
}

static void test_mpint_refusals(void)
{
	struct cursor c;
	const uint8_t *p;
	size_t n;
	cur_init(&c, "\x00\x00\x00\x02\xed\xcc", 6); /* -1234 in RFC 4251 */
	CHECK_INT(sshwire_get_mpint(&c, &p, &n, 8, "neg"), -1);
	CHECK(strstr(err_msg(), "negative") != NULL);
	cur_init(&c, "\x00\x00\x00\x02\x00\x7f", 6); /* needless zero */
	CHECK_INT(sshwire_get_mpint(&c, &p, &n, 8, "pad"), -1);
	CHECK(strstr(err_msg(), "minimally") != NULL);
	cur_init(&c, "\x00\x00\x00\x01\x00", 5); /* zero written as 00 */
	CHECK_INT(sshwire_get_mpint(&c, &p, &n, 8, "zero"), -1);
	cur_init(&c, "\x00\x00\x00\x03\x01\x02\x03", 7);
	CHECK_INT(sshwire_get_mpint(&c, &p, &n, 2, "big"), -1);
	CHECK(strstr(err_msg(), "big: ") != NULL);
}

static void test_string_bounds(void)
{
	struct cursor c;
	const uint8_t *p;
	size_t n;
	cur_init(&c,
		 "\x00\x00\x00\x03"
		 "abc"
		 "\x00\x00\x00\x05"
		 "ab",
		 13);
	CHECK_INT(sshwire_get_string(&c, &p, &n, 3, "one"), 0);
	CHECK_EQUALS(p, n, "abc", 3);
	CHECK_INT(sshwire_get_string(&c, &p, &n, 10, "two"), -1); /* 5 announced, 2 left */
	CHECK(strstr(err_msg(), "truncated") != NULL);
	CHECK(c.failed);
	cur_init(&c,
		 "\xff\xff\xff\xff"
		 "abc",
		 7);
	CHECK_INT(sshwire_get_string(&c, &p, &n, 1000, "huge"), -1);
	CHECK(strstr(err_msg(), "larger than 1000") != NULL);
	cur_init(&c, "\x00\x00", 2);
	CHECK_INT(sshwire_get_string(&c, &p, &n, 10, "short"), -1);
}

static void test_writer_overflow_is_sticky(void)
{
	uint8_t buf[8];
	struct sshwire_out o;
	sshwire_out_init(&o, buf, sizeof(buf));
	sshwire_put_cstring(&o, "abcd"); /* 8 bytes: fits exactly */
	CHECK_INT(sshwire_out_done(&o), 8);
	sshwire_put_u32(&o, 1);
	CHECK_INT(sshwire_out_done(&o), -1);
	sshwire_out_init(&o, buf, 5);
	sshwire_put_mpint(&o, "\x80", 1); /* needs 4 + 2 */
	CHECK_INT(sshwire_out_done(&o), -1);
}

static void test_bitlen(void)
{
	CHECK_INT(sshwire_bitlen((const uint8_t *)"", 0), 0);
	CHECK_INT(sshwire_bitlen((const uint8_t *)"\x00\x00", 2), 0);
	CHECK_INT(sshwire_bitlen((const uint8_t *)"\x01", 1), 1);
	CHECK_INT(sshwire_bitlen((const uint8_t *)"\x00\x80\x00", 3), 16);
	CHECK_INT(sshwire_bitlen((const uint8_t *)"\x01\xff", 2), 9);
}

int main(void)
{
	RUN(test_rfc4251_mpint_examples);
	RUN(test_mpint_refusals);
	RUN(test_string_bounds);
	RUN(test_writer_overflow_is_sticky);
	RUN(test_bitlen);
	return CHECK_DONE();
}
