/* Unit tests of core/xxh64: known answers (from xxhsum -H1 of Debian's xxhash), streaming equals one-shot. */
#define CHECK_SUITE "xxh64"
#include "test/unit/check.h"

#include <stdint.h>

#include "core/xxh64.h"

static void test_known_answers(void)
{
	/* printf '%s' STR | xxhsum -H1 */
	CHECK(xxh64("", 0, 0) == 0xef46db3751d8e999ULL);
	CHECK(xxh64("a", 1, 0) == 0xd24ec4f1a98c6e5bULL);
	CHECK(xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ULL);
	CHECK(xxh64("Nobody inspects the spammish repetition", 39, 0) == 0xfbcea83c8a378bf1ULL);
	char zeros[101];
	memset(zeros, '0', 100);
	CHECK(xxh64(zeros, 100, 0) == 0x79662fc1bac030d7ULL); /* printf '%0100d' 0 */
	char xs[1000];
	memset(xs, 'x', sizeof(xs));
	CHECK(xxh64(xs, sizeof(xs), 0) == 0x4cb9a3b69cb700e1ULL);
}

static void test_seed_changes_the_hash(void)
{
	CHECK(xxh64("abc", 3, 1) != xxh64("abc", 3, 0));
	CHECK(xxh64("abc", 3, 1) == xxh64("abc", 3, 1));
}

static void test_streaming_equals_one_shot(void)
{
	static uint8_t buf[5000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t len = 0; len < sizeof(buf); len += 37) {
		for (size_t step = 1; step < 70; step += 13) {
			struct xxh64 h;
			xxh64_init(&h, 42);
			for (size_t off = 0; off < len; off += step)
				xxh64_update(&h, buf + off, off + step > len ? len - off : step);
			if (!CHECK(xxh64_digest(&h) == xxh64(buf, len, 42)))
				return;
		}
	}
}

int main(void)
{
	RUN(test_known_answers);
	RUN(test_seed_changes_the_hash);
	RUN(test_streaming_equals_one_shot);
	return CHECK_DONE();
}
