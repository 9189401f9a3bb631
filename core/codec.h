/* Text encodings shared by key files, PEM, HTTP and signatures: base64 and lowercase hex. */
#ifndef FERRY_CODEC_H
#define FERRY_CODEC_H

#include <stddef.h>

/* Length of the base64 text (with padding, without NUL) for N bytes. */
#define BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Encodes SRC[0..N) as padded standard base64 into DST, which must hold
 * BASE64_LEN(N) + 1 bytes (a NUL is written). Returns the text length.
 */
size_t base64_encode(char *dst, const void *src, size_t n);
/*
 * Decodes padded standard base64 (no whitespace, no URL alphabet) from
 * SRC[0..N) into DST (CAP bytes). Rejects bad characters, bad padding and
 * non-canonical trailing bits. Returns the decoded length, or -1 with
 * err_set.
 */
long base64_decode(void *dst, size_t cap, const char *src, size_t n);

/* The value of hex digit C (either case), or -1 if C is not one. */
int hex_digit(int c);
/* Encodes N bytes as lowercase hex into DST (2N+1 bytes, NUL-terminated). */
void hex_encode(char *dst, const void *src, size_t n);
/*
 * Decodes exactly 2*N hex digits (either case) from SRC into DST[0..N).
 * Returns 0, or -1 with err_set if SRC is not exactly that.
 */
int hex_decode(void *dst, size_t n, const char *src, size_t srclen);

#endif
