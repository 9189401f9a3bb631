/* Unit tests of core/xxh64: known answers (xxhsum -H1 and python3-xxhash, i.e. the reference libxxhash), streaming equals one-shot. */
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

/*
 * Seeded known answers, as the stream uses them (seed = record number): from
 * Debian's python3-xxhash (bindings to the reference libxxhash 0.8.1), e.g.
 *   /usr/bin/python3 -c 'import xxhash; print(hex(xxhash.xxh64_intdigest(b"abc", seed=1)))'
 * Lengths around the 32-byte stripe and a long input cover every code path.
 */
static void test_seeded_known_answers(void)
{
	static uint8_t seq[1024];
	static char xs[33];
	for (size_t i = 0; i < sizeof(seq); i++)
		seq[i] = (uint8_t)i;
	memset(xs, 'x', sizeof(xs));
	CHECK(xxh64("", 0, 1) == 0xd5afba1336a3be4bULL);
	CHECK(xxh64("a", 1, 1) == 0xdec2bc81c3cd46c6ULL);
	CHECK(xxh64("abc", 3, 1) == 0xbea9ca8199328908ULL);
	CHECK(xxh64("abc", 3, 2) == 0x53a0b8b27057daf7ULL);
	CHECK(xxh64("abc", 3, 0xffffffffffffffffULL) == 0x28306e589cc02176ULL);
	CHECK(xxh64("Nobody inspects the spammish repetition", 39, 0x9E3779B185EBCA87ULL) ==
	      0x9d24e6a5798d51e1ULL);
	CHECK(xxh64(xs, 31, 7) == 0x3781cea7cb1a961eULL);
	CHECK(xxh64(xs, 32, 7) == 0x3fe32c632942fb04ULL);
	CHECK(xxh64(xs, 33, 7) == 0x9fbdbd0345dc39c0ULL);
	CHECK(xxh64(seq, sizeof(seq), 42) == 0x4cb9b11211d5b1a0ULL);
	/* a record header (type 5, length 0) as record 3 checks it */
	CHECK(xxh64("\0\5\0\0\0\0", 6, 3) == 0xd13743d8e7eed278ULL);
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
	RUN(test_seeded_known_answers);
	RUN(test_seed_changes_the_hash);
	RUN(test_streaming_equals_one_shot);
	return CHECK_DONE();
}
