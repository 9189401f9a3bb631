/* Unit tests of core/cursor: big-endian reads, and overruns that fail and stay failed. */
#define CHECK_SUITE "cursor"
#include "test/unit/check.h"

#include <stdint.h>

#include "core/cursor.h"

static void test_reads_in_order(void)
{
	static const uint8_t b[] = {1, 0x02, 0x03, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 8, 'x', 'y'};
	struct cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	char two[2];
	cur_init(&c, b, sizeof(b));
	CHECK_INT(cur_u8(&c, &u8), 0);
	CHECK_INT(u8, 1);
	CHECK_INT(cur_u16(&c, &u16), 0);
	CHECK_INT(u16, 0x0203);
	CHECK_INT(cur_u32(&c, &u32), 0);
	CHECK_INT(u32, 0x04050607);
	CHECK_INT(cur_u64(&c, &u64), 0);
	CHECK(u64 == 0x0102030405060708ull);
	CHECK_INT(cur_left(&c), 2);
	CHECK_INT(cur_bytes(&c, two, 2), 0);
	CHECK_EQUALS(two, 2, "xy", 2);
	CHECK_INT(cur_left(&c), 0);
}

static void test_overrun_fails_and_sticks(void)
{
	static const uint8_t b[] = {1, 2, 3};
	struct cursor c;
	uint32_t v = 0xdeadbeef;
	uint8_t u8;
	cur_init(&c, b, sizeof(b));
	CHECK_INT(cur_u32(&c, &v), -1);
	CHECK(v == 0xdeadbeef); /* untouched */
	CHECK(c.failed);
	CHECK_INT(cur_u8(&c, &u8), -1); /* even though a byte is left */
	CHECK_INT(cur_left(&c), 0);
}

static void test_huge_lengths_do_not_wrap(void)
{
	static const uint8_t b[4] = {0};
	struct cursor c;
	const uint8_t *p;
	cur_init(&c, b, sizeof(b));
	CHECK_INT(cur_skip(&c, 2), 0);
	CHECK_INT(cur_ref(&c, &p, SIZE_MAX), -1);
	cur_init(&c, b, sizeof(b));
	CHECK_INT(cur_skip(&c, SIZE_MAX - 1), -1);
}

static void test_encoders_round_trip(void)
{
	uint8_t b[8];
	put_u16(b, 0xabcd);
	CHECK_EQUALS(b, 2, "\xab\xcd", 2);
	put_u32(b, 0x01020304);
	CHECK_EQUALS(b, 4, "\x01\x02\x03\x04", 4);
	put_u64(b, 0x1122334455667788ull);
	CHECK_EQUALS(b, 8, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	CHECK(get_u64(b) == 0x1122334455667788ull);
	CHECK_INT(get_u32(b), 0x11223344);
	CHECK_INT(get_u16(b), 0x1122);
}

int main(void)
{
	RUN(test_reads_in_order);
	RUN(test_overrun_fails_and_sticks);
	RUN(test_huge_lengths_do_not_wrap);
	RUN(test_encoders_round_trip);
	return CHECK_DONE();
}
