/* known_hosts lines for one host: plain and hashed names, rewritten for a client that knows no ports. */
#include "core/knownhosts.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/codec.h"
#include "core/err.h"
#include "crypto/hmac.h"

int knownhosts_name(char *buf, size_t cap, const char *host, unsigned port)
{
	int n = port == 0 || port == 22 ? snprintf(buf, cap, "%s", host)
					: snprintf(buf, cap, "[%s]:%u", host, port);
	if (n < 0 || (size_t)n >= cap)
		return err_set("host name too long");
	return 0;
}

/* 1 if the hashed entry "|1|SALT|HASH" (N bytes) is NAME. */
static int hashed_is(const char *e, size_t n, const char *name)
{
	uint8_t salt[64], hash[SHA1_LEN], mac[SHA1_LEN];
	const char *bar;
	if (n < 3 || memcmp(e, "|1|", 3))
		return 0;
	e += 3;
	n -= 3;
	bar = memchr(e, '|', n);
	if (!bar)
		return 0;
	long sl = base64_decode(salt, sizeof(salt), e, (size_t)(bar - e));
	long hl = base64_decode(hash, sizeof(hash), bar + 1, n - (size_t)(bar - e) - 1);
	if (sl <= 0 || hl != SHA1_LEN)
		return 0;
	hmac_sha1(mac, salt, (size_t)sl, name, strlen(name), NULL, 0);
	return hmac_equal(mac, hash, SHA1_LEN);
}

/* 1 if the host field F (N bytes, comma-separated names) names NAME. */
static int field_names(const char *f, size_t n, const char *name)
{
	size_t nl = strlen(name);
	while (n > 0) {
		const char *comma = memchr(f, ',', n);
		size_t k = comma ? (size_t)(comma - f) : n;
		if ((k == nl && !memcmp(f, name, nl)) || hashed_is(f, k, name))
			return 1;
		if (!comma)
			break;
		f += k + 1;
		n -= k + 1;
	}
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int knownhosts_select(const char *text, size_t len, const char *name, const char *rewrite,
		      char *out, size_t cap, size_t *out_len)
{
	size_t off = 0, used = 0;
	int count = 0;
	if (cap == 0)
		return err_set("no room");
	out[0] = 0;
	while (off < len) {
		const char *line = text + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off;
		off += n + (nl ? 1 : 0);
		if (n > KNOWNHOSTS_LINE_MAX)
			return err_set("known_hosts: a line longer than %d bytes",
				       KNOWNHOSTS_LINE_MAX);
		if (n && line[n - 1] == '\r')
			n--;
		size_t i = 0;
		while (i < n && is_blank(line[i]))
			i++;
		if (i == n || line[i] == '#' || line[i] == '@')
			continue;
		/* three fields: names, type, key; a comment may follow */
		const char *f[3];
		size_t fl[3];
		int k = 0;
		while (k < 3 && i < n) {
			f[k] = line + i;
			while (i < n && !is_blank(line[i]))
				i++;
			fl[k] = (size_t)(line + i - f[k]);
			k++;
			while (i < n && is_blank(line[i]))
				i++;
		}
		if (k < 3 || !field_names(f[0], fl[0], name))
			continue;
		int w = snprintf(out + used, cap - used, "%s %.*s %.*s\n", rewrite, (int)fl[1],
				 f[1], (int)fl[2], f[2]);
		if (w < 0 || (size_t)w >= cap - used)
			return err_set("known_hosts: no room for the lines of %s", name);
		used += (size_t)w;
		count++;
	}
	if (out_len)
		*out_len = used;
	return count;
}
