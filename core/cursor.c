/* A bounded cursor over untrusted bytes, and the big-endian encoders that match it. */
#include "core/cursor.h"

#include <string.h>

void cur_init(struct cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
	c->failed = 0;
}

size_t cur_left(const struct cursor *c)
{
	return c->failed ? 0 : c->len - c->off;
}

int cur_ref(struct cursor *c, const uint8_t **p, size_t n)
{
	if (c->failed || n > c->len - c->off) {
		c->failed = 1;
		return -1;
	}
	*p = c->p + c->off;
	c->off += n;
	return 0;
}

int cur_bytes(struct cursor *c, void *dst, size_t n)
{
	const uint8_t *p;
	if (cur_ref(c, &p, n) < 0)
		return -1;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

int cur_skip(struct cursor *c, size_t n)
{
	const uint8_t *p;
	return cur_ref(c, &p, n);
}

int cur_u8(struct cursor *c, uint8_t *v)
{
	const uint8_t *p;
	if (cur_ref(c, &p, 1) < 0)
		return -1;
	*v = p[0];
	return 0;
}

int cur_u16(struct cursor *c, uint16_t *v)
{
	const uint8_t *p;
	if (cur_ref(c, &p, 2) < 0)
		return -1;
	*v = get_u16(p);
	return 0;
}

int cur_u32(struct cursor *c, uint32_t *v)
{
	const uint8_t *p;
	if (cur_ref(c, &p, 4) < 0)
		return -1;
	*v = get_u32(p);
	return 0;
}

int cur_u64(struct cursor *c, uint64_t *v)
{
	const uint8_t *p;
	if (cur_ref(c, &p, 8) < 0)
		return -1;
	*v = get_u64(p);
	return 0;
}

void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void put_u32(uint8_t *p, uint32_t v)
{
	put_u16(p, (uint16_t)(v >> 16));
	put_u16(p + 2, (uint16_t)v);
}

void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t get_u32(const uint8_t *p)
{
	return ((uint32_t)get_u16(p) << 16) | get_u16(p + 2);
}

uint64_t get_u64(const uint8_t *p)
{
	return ((uint64_t)get_u32(p) << 32) | get_u32(p + 4);
}
