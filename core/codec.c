/* base64 (RFC 4648, padded, strict) and lowercase hex. */
#include "core/codec.h"

#include <stdint.h>

#include "core/err.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(char *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		dst[o++] = b64[(v >> 18) & 63];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	dst[o] = 0;
	return o;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode(void *dst, size_t cap, const char *src, size_t n)
{
	uint8_t *d = dst;
	size_t o = 0;
	if (n % 4)
		return err_set("base64: length %zu is not a multiple of 4", n);
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = src[i + k];
			if (c == '=' && i + 4 == n && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad)
				return err_set("base64: data after padding");
			v[k] = b64_value(c);
			if (v[k] < 0)
				return err_set("base64: bad character at offset %zu",
					       i + (size_t)k);
		}
		if (pad == 1 && src[i + 2] == '=')
			return err_set("base64: bad padding");
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		size_t k = 3 - (size_t)pad;
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return err_set("base64: non-canonical trailing bits");
		if (o + k > cap)
			return err_set("base64: decoded data larger than %zu bytes", cap);
		d[o++] = (uint8_t)(w >> 16);
		if (k > 1)
			d[o++] = (uint8_t)(w >> 8);
		if (k > 2)
			d[o++] = (uint8_t)w;
	}
	return (long)o;
}

void hex_encode(char *dst, const void *src, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *s = src;
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[s[i] >> 4];
		dst[2 * i + 1] = digits[s[i] & 15];
	}
	dst[2 * n] = 0;
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(void *dst, size_t n, const char *src, size_t srclen)
{
	uint8_t *d = dst;
	if (srclen != 2 * n)
		return err_set("hex: expected %zu digits, got %zu", 2 * n, srclen);
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(src[2 * i]), lo = hex_digit(src[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return err_set("hex: bad digit at offset %zu", hi < 0 ? 2 * i : 2 * i + 1);
		d[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
