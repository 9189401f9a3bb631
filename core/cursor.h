/* A bounded cursor: the only way to read untrusted bytes; every read fails cleanly on overrun. */
#ifndef FERRY_CURSOR_H
#define FERRY_CURSOR_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads from [p, p+len). After the first failed read the cursor is marked
 * failed and every later read fails too, so a parser may check once at the
 * end. Big-endian integers, as on every ferry wire format.
 */
struct cursor {
	const uint8_t *p;
	size_t len, off;
	int failed;
};

void cur_init(struct cursor *c, const void *p, size_t len);
size_t cur_left(const struct cursor *c);
/* Each returns 0, or -1 (and marks the cursor failed) if too few bytes are left. */
int cur_u8(struct cursor *c, uint8_t *v);
int cur_u16(struct cursor *c, uint16_t *v);
int cur_u32(struct cursor *c, uint32_t *v);
int cur_u64(struct cursor *c, uint64_t *v);
/* Copies N bytes into DST. */
int cur_bytes(struct cursor *c, void *dst, size_t n);
/* Points *P at the next N bytes inside the buffer (no copy). */
int cur_ref(struct cursor *c, const uint8_t **p, size_t n);
int cur_skip(struct cursor *c, size_t n);

/* Big-endian encoders for the writing side. */
void put_u16(uint8_t *p, uint16_t v);
void put_u32(uint8_t *p, uint32_t v);
void put_u64(uint8_t *p, uint64_t v);
uint16_t get_u16(const uint8_t *p);
uint32_t get_u32(const uint8_t *p);
uint64_t get_u64(const uint8_t *p);

#endif
