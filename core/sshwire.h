/* SSH wire encoding (RFC 4251 section 5): bounded string and mpint readers over a cursor, and a bounded writer. */
#ifndef FERRY_SSHWIRE_H
#define FERRY_SSHWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/cursor.h"

/*
 * Reads a `string` (uint32 length, then the bytes) from C, pointing *P at
 * the bytes inside the cursor's buffer (no copy) and *LEN at their count.
 * A length above MAX, or beyond the bytes left, fails the cursor. 0 or -1
 * with err_set (naming WHAT, e.g. "key type").
 */
int sshwire_get_string(struct cursor *c, const uint8_t **p, size_t *len, size_t max,
		       const char *what);

/*
 * Reads a non-negative `mpint` and returns its magnitude: *P points at the
 * unsigned big-endian value without the sign byte, so *LEN is the number of
 * significant bytes (0 for the value zero). MAX bounds the magnitude in
 * bytes. Refuses negative values and non-minimal encodings (a leading 0x00
 * that is not needed for the sign), as OpenSSH writes neither. 0 or -1 with
 * err_set naming WHAT.
 */
int sshwire_get_mpint(struct cursor *c, const uint8_t **p, size_t *len, size_t max,
		      const char *what);

/* The number of significant bits of the unsigned big-endian P[0..LEN). */
unsigned sshwire_bitlen(const uint8_t *p, size_t len);

/*
 * A bounded writer into a caller-owned buffer. Failure is sticky: once a
 * write does not fit, FAILED is set and later writes do nothing, so a
 * writer may check once at the end (sshwire_out_done).
 */
struct sshwire_out {
	uint8_t *buf;
	size_t cap, len;
	int failed;
};

void sshwire_out_init(struct sshwire_out *o, void *buf, size_t cap);
void sshwire_put_u32(struct sshwire_out *o, uint32_t v);
/* A `string`: uint32 length and the N bytes of P. */
void sshwire_put_string(struct sshwire_out *o, const void *p, size_t n);
/* A `string` holding the NUL-terminated S (without the NUL). */
void sshwire_put_cstring(struct sshwire_out *o, const char *s);
/*
 * A non-negative `mpint` from the unsigned big-endian P[0..N): leading zero
 * bytes are dropped and one 0x00 is added when the top bit is set.
 */
void sshwire_put_mpint(struct sshwire_out *o, const void *p, size_t n);
/* Returns the written length, or -1 with err_set if anything did not fit. */
long sshwire_out_done(const struct sshwire_out *o);

#endif
