/* XXH64 from the public xxHash specification (doc/xxhash_spec.md): streaming and one-shot. */
#include "core/xxh64.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Little-endian loads, whatever the host order (the spec reads lanes as LE). */
static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t round64(uint64_t acc, uint64_t lane)
{
	acc += lane * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static uint64_t merge64(uint64_t acc, uint64_t v)
{
	acc ^= round64(0, v);
	return acc * P1 + P4;
}

void xxh64_init(struct xxh64 *h, uint64_t seed)
{
	h->v[0] = seed + P1 + P2;
	h->v[1] = seed + P2;
	h->v[2] = seed;
	h->v[3] = seed - P1;
	h->total = 0;
	h->buffered = 0;
	h->seed = seed;
}

static void stripe(uint64_t v[4], const uint8_t *p)
{
	v[0] = round64(v[0], le64(p));
	v[1] = round64(v[1], le64(p + 8));
	v[2] = round64(v[2], le64(p + 16));
	v[3] = round64(v[3], le64(p + 24));
}

void xxh64_update(struct xxh64 *h, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (n == 0)
		return;
	h->total += n;
	if (h->buffered) {
		size_t k = 32 - h->buffered;
		if (k > n)
			k = n;
		memcpy(h->buf + h->buffered, p, k);
		h->buffered += k;
		p += k;
		n -= k;
		if (h->buffered < 32)
			return;
		stripe(h->v, h->buf);
		h->buffered = 0;
	}
	if (n >= 32) {
		uint64_t v[4] = {h->v[0], h->v[1], h->v[2], h->v[3]};
		while (n >= 32) {
			stripe(v, p);
			p += 32;
			n -= 32;
		}
		memcpy(h->v, v, sizeof(v));
	}
	if (n) {
		memcpy(h->buf, p, n);
		h->buffered = n;
	}
}

uint64_t xxh64_digest(const struct xxh64 *h)
{
	uint64_t acc;
	if (h->total >= 32) {
		acc = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) + rotl(h->v[3], 18);
		for (int i = 0; i < 4; i++)
			acc = merge64(acc, h->v[i]);
	} else {
		acc = h->seed + P5;
	}
	acc += h->total;
	const uint8_t *p = h->buf;
	size_t n = h->buffered;
	while (n >= 8) {
		acc ^= round64(0, le64(p));
		acc = rotl(acc, 27) * P1 + P4;
		p += 8;
		n -= 8;
	}
	if (n >= 4) {
		acc ^= (uint64_t)le32(p) * P1;
		acc = rotl(acc, 23) * P2 + P3;
		p += 4;
		n -= 4;
	}
	while (n) {
		acc ^= (uint64_t)*p * P5;
		acc = rotl(acc, 11) * P1;
		p++;
		n--;
	}
	acc ^= acc >> 33;
	acc *= P2;
	acc ^= acc >> 29;
	acc *= P3;
	acc ^= acc >> 32;
	return acc;
}

uint64_t xxh64(const void *p, size_t n, uint64_t seed)
{
	struct xxh64 h;
	xxh64_init(&h, seed);
	xxh64_update(&h, p, n);
	return xxh64_digest(&h);
}
