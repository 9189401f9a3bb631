/* Unit tests of core/lz4: round trips, incompressible data, corrupt and oversized input rejected. */
#define CHECK_SUITE "lz4"
#include "test/unit/check.h"

#include <stdint.h>

#include "core/err.h"
#include "core/lz4.h"

#define N 100000

static void test_round_trip(void)
{
	static uint8_t src[N], comp[N + N / 200 + 64], out[N];
	for (size_t i = 0; i < N; i++)
		src[i] = (uint8_t)("ferry moves containers "[i % 23]);
	long c = lz4_compress(src, N, comp, sizeof(comp));
	CHECK(c > 0 && c < N / 10);
	CHECK(lz4_bound(N) <= sizeof(comp));
	CHECK_INT(lz4_decompress(comp, (size_t)c, out, sizeof(out)), N);
	CHECK(memcmp(src, out, N) == 0);
}

static void test_incompressible_returns_zero_when_too_small(void)
{
	static uint8_t src[4096], comp[4096];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(src); i++) {
		x = x * 1103515245 + 12345;
		src[i] = (uint8_t)(x >> 16);
	}
	CHECK_INT(lz4_compress(src, sizeof(src), comp, sizeof(src) - 1), 0);
}

static void test_corrupt_and_oversized_rejected(void)
{
	static uint8_t src[1000], comp[2000], out[1000];
	memset(src, 'a', sizeof(src));
	long c = lz4_compress(src, sizeof(src), comp, sizeof(comp));
	CHECK(c > 0);
	/* decompressing into a buffer one byte too small must fail, not overflow */
	CHECK_INT(lz4_decompress(comp, (size_t)c, out, sizeof(out) - 1), -1);
	CHECK(strstr(err_msg(), "corrupt") != NULL);
	/* a truncated block */
	CHECK_INT(lz4_decompress(comp, (size_t)c - 1, out, sizeof(out)), -1);
	/* garbage */
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x01};
	CHECK_INT(lz4_decompress(junk, sizeof(junk), out, sizeof(out)), -1);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_incompressible_returns_zero_when_too_small);
	RUN(test_corrupt_and_oversized_rejected);
	return CHECK_DONE();
}
