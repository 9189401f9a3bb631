/* XXH64: the fast non-cryptographic checksum of ferry's stream records and manifests (public xxHash spec). */
#ifndef FERRY_XXH64_H
#define FERRY_XXH64_H

#include <stddef.h>
#include <stdint.h>

/*
 * Streaming state. Caller-owned; no allocation. XXH64 detects accidental
 * corruption (truncation, bit flips, reordering when seeded by position);
 * it is not a MAC: authenticity comes from the transport (SSH, TLS).
 */
struct xxh64 {
	uint64_t v[4];
	uint64_t total;
	uint8_t buf[32];
	size_t buffered;
	uint64_t seed;
};

/* Starts a hash with SEED. */
void xxh64_init(struct xxh64 *h, uint64_t seed);
/* Feeds N bytes (N may be 0; P may be NULL when N is 0). */
void xxh64_update(struct xxh64 *h, const void *p, size_t n);
/* The hash of everything fed so far; H stays usable (more updates allowed). */
uint64_t xxh64_digest(const struct xxh64 *h);
/* One-shot XXH64 of P[0..N) with SEED. */
uint64_t xxh64(const void *p, size_t n, uint64_t seed);

#endif
