/* Cryptographic randomness: getrandom(2) seeding BearSSL's HMAC-DRBG. */
#ifndef FERRY_RAND_H
#define FERRY_RAND_H

#include <stddef.h>

/*
 * Fills BUF with N cryptographically random bytes. The generator is an
 * HMAC-DRBG (SHA-256) per thread, seeded from getrandom(2) on first use and
 * again after fork. Returns 0, or -1 with err_set if the kernel cannot
 * provide entropy (getrandom missing or failing): there is no fallback.
 */
int rand_bytes(void *buf, size_t n);

/*
 * For crypto/ only: the seeded generator as a `const br_prng_class **`
 * (declared void to keep <bearssl.h> out of this header), or NULL with
 * err_set. Valid on the calling thread until it exits.
 */
const void *rand_prng(void);

#endif
