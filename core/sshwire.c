/* SSH wire encoding: `string` and `mpint` (RFC 4251 section 5), read through a cursor, written with bounds. */
#include "core/sshwire.h"

#include <string.h>

#include "core/err.h"

int sshwire_get_string(struct cursor *c, const uint8_t **p, size_t *len, size_t max,
		       const char *what)
{
	uint32_t n;
	if (cur_u32(c, &n) < 0)
		return err_set("%s: truncated (no length)", what);
	if (n > max) {
		c->failed = 1;
		return err_set("%s: length %u is larger than %zu", what, n, max);
	}
	if (cur_ref(c, p, n) < 0)
		return err_set("%s: truncated (%u bytes announced, %zu left)", what, n,
			       c->len - c->off);
	*len = n;
	return 0;
}

int sshwire_get_mpint(struct cursor *c, const uint8_t **p, size_t *len, size_t max,
		      const char *what)
{
	const uint8_t *v;
	size_t n;
	/* One more byte than the magnitude: the sign byte of a value with its top bit set. */
	if (sshwire_get_string(c, &v, &n, max + 1, what) < 0)
		return -1;
	if (n > 0 && (v[0] & 0x80)) {
		c->failed = 1;
		return err_set("%s: negative number", what);
	}
	if (n > 0 && v[0] == 0) {
		if (n == 1 || !(v[1] & 0x80)) {
			c->failed = 1;
			return err_set("%s: number not minimally encoded", what);
		}
		v++;
		n--;
	}
	if (n > max) {
		c->failed = 1;
		return err_set("%s: number larger than %zu bytes", what, max);
	}
	*p = v;
	*len = n;
	return 0;
}

unsigned sshwire_bitlen(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len && p[i] == 0)
		i++;
	if (i == len)
		return 0;
	unsigned bits = (unsigned)(len - i - 1) * 8;
	for (uint8_t b = p[i]; b; b >>= 1)
		bits++;
	return bits;
}

void sshwire_out_init(struct sshwire_out *o, void *buf, size_t cap)
{
	o->buf = buf;
	o->cap = cap;
	o->len = 0;
	o->failed = 0;
}

static uint8_t *reserve(struct sshwire_out *o, size_t n)
{
	if (o->failed || n > o->cap - o->len) {
		o->failed = 1;
		return NULL;
	}
	uint8_t *p = o->buf + o->len;
	o->len += n;
	return p;
}

void sshwire_put_u32(struct sshwire_out *o, uint32_t v)
{
	uint8_t *p = reserve(o, 4);
	if (p)
		put_u32(p, v);
}

void sshwire_put_string(struct sshwire_out *o, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		o->failed = 1;
		return;
	}
	sshwire_put_u32(o, (uint32_t)n);
	uint8_t *d = reserve(o, n);
	if (d && n)
		memcpy(d, p, n);
}

void sshwire_put_cstring(struct sshwire_out *o, const char *s)
{
	sshwire_put_string(o, s, strlen(s));
}

void sshwire_put_mpint(struct sshwire_out *o, const void *p, size_t n)
{
	const uint8_t *v = p;
	while (n > 0 && v[0] == 0) {
		v++;
		n--;
	}
	int pad = n > 0 && (v[0] & 0x80);
	if (n + (size_t)pad > UINT32_MAX) {
		o->failed = 1;
		return;
	}
	sshwire_put_u32(o, (uint32_t)(n + (size_t)pad));
	uint8_t *d = reserve(o, n + (size_t)pad);
	if (!d)
		return;
	if (pad)
		*d++ = 0;
	if (n)
		memcpy(d, v, n);
}

long sshwire_out_done(const struct sshwire_out *o)
{
	if (o->failed)
		return err_set("encoding does not fit in %zu bytes", o->cap);
	return (long)o->len;
}
