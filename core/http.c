/* HTTP/1.1 server and client sides over io_in/io_out: bounded heads, framed bodies, strict refusals. */
#include "core/http.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/utc.h"

/* ---- Characters ------------------------------------------------------------ */

/* tchar of RFC 7230 section 3.2.6: what methods, header names and media types are made of. */
static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* Visible ASCII (no space, no control, no byte above 0x7e). */
static int is_vchar_str(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* A header value we are willing to send: tab and bytes from space up, but no DEL and no CR/LF. */
static int value_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* ---- Reading lines and headers ------------------------------------------------- */

/*
 * err_set for messages that quote the peer's bytes: control characters
 * and non-ASCII become '?', so logs and terminals only ever see text.
 */
static int err_peer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int err_peer(const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return err_set("%s", msg);
}

/* Records the status to answer and the reason (peer bytes made printable); returns -1. */
static int fail_st(int *st, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_st(int *st, int status, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*st = status;
	return err_peer("%s", msg);
}

/* After a failed io_in read: the end of input is the peer's fault (400); anything else is I/O. */
static int read_failed(struct io_in *in, int *st, const char *what)
{
	if (in->eof)
		return fail_st(st, 400, "connection closed in the middle of the %s", what);
	*st = 0;
	return err_prefix("reading the %s", what);
}

/*
 * Reads one line ending in CRLF into DST (at most CAP - 1 bytes, NUL-
 * terminated, without the CRLF). Bare LF, CR without LF and NUL are
 * refused (400), a longer line too (TOO_LONG). With FIRST, a clean end of
 * input before any byte returns -2. Returns the length or -1 (*ST set).
 */
static ssize_t read_line(struct io_in *in, char *dst, size_t cap, int too_long, int first,
			 const char *what, int *st)
{
	size_t n = 0;
	for (;;) {
		uint8_t c;
		if (first && n == 0) {
			int r = io_in_read_or_eof(in, &c, 1);
			if (r == 1)
				return -2;
			if (r < 0)
				return read_failed(in, st, what);
		} else if (io_in_read(in, &c, 1) < 0) {
			return read_failed(in, st, what);
		}
		if (c == '\r') {
			if (io_in_read(in, &c, 1) < 0)
				return read_failed(in, st, what);
			if (c != '\n')
				return fail_st(st, 400, "%s: CR without LF", what);
			dst[n] = 0;
			return (ssize_t)n;
		}
		if (c == '\n')
			return fail_st(st, 400, "%s: line ends in LF without CR", what);
		if (c == 0)
			return fail_st(st, 400, "%s: NUL byte", what);
		if (n + 1 >= cap)
			return fail_st(st, too_long, "%s longer than %zu bytes", what, cap - 1);
		dst[n++] = (char)c;
	}
}

/* Splits LINE (a header line, modified in place) into H. 0 or -1 (400). */
static int parse_header_line(char *line, struct http_header *h, int *st)
{
	if (line[0] == ' ' || line[0] == '\t')
		return fail_st(st, 400, "header line starts with white space (obsolete folding)");
	size_t i = 0;
	while (is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || line[i] != ':')
		return fail_st(st, 400, "malformed header line '%.40s'", line);
	line[i] = 0;
	char *v = line + i + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = 0;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)v[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail_st(st, 400, "header %s: control character 0x%02x", line, c);
	}
	h->name = line;
	h->value = v;
	return 0;
}

/*
 * Reads header lines up to the empty line into STORE (CAP bytes, lines
 * NUL-terminated one after the other) and H (at most HTTP_HEADERS_MAX).
 * 0 or -1 (*ST: 400, 431, or 0 for I/O).
 */
static int read_headers(struct io_in *in, char *store, size_t cap, struct http_header *h,
			size_t *nh, int *st)
{
	size_t used = 0;
	*nh = 0;
	for (;;) {
		ssize_t n = read_line(in, store + used, cap - used, 431, 0, "header block", st);
		if (n < 0 && *st == 431)
			return err_set("header block longer than %zu bytes", cap - 1);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (*nh == HTTP_HEADERS_MAX)
			return fail_st(st, 431, "more than %d header lines", HTTP_HEADERS_MAX);
		if (parse_header_line(store + used, &h[*nh], st) < 0)
			return -1;
		(*nh)++;
		used += (size_t)n + 1;
	}
}

const char *http_header_get(const struct http_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

static size_t header_count(const struct http_header *h, size_t n, const char *name)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += strcasecmp(h[i].name, name) == 0;
	return c;
}

/*
 * Content-Length over every such header and comma-separated element: all
 * must be the same decimal number. Returns 0 if there is none, 1 with
 * *LEN (saturated at UINT64_MAX), or -1 (400).
 */
static int content_length(const struct http_header *h, size_t n, uint64_t *len, int *st)
{
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(h[i].name, "content-length") != 0)
			continue;
		const char *p = h[i].value;
		for (;;) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p < '0' || *p > '9')
				return fail_st(st, 400, "malformed Content-Length '%.40s'",
					       h[i].value);
			uint64_t v = 0;
			while (*p >= '0' && *p <= '9') {
				unsigned d = (unsigned)(*p++ - '0');
				v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
			}
			while (*p == ' ' || *p == '\t')
				p++;
			if (found && v != *len)
				return fail_st(st, 400, "conflicting Content-Length values");
			*len = v;
			found = 1;
			if (*p == 0)
				break;
			if (*p != ',')
				return fail_st(st, 400, "malformed Content-Length '%.40s'",
					       h[i].value);
			p++;
		}
	}
	return found;
}

/*
 * Transfer-Encoding: returns 0 if absent, 1 if exactly "chunked", -1 (501)
 * for any other coding or combination.
 */
static int transfer_chunked(const struct http_header *h, size_t n, int *st)
{
	size_t count = header_count(h, n, "transfer-encoding");
	if (!count)
		return 0;
	const char *v = http_header_get(h, n, "transfer-encoding");
	if (count > 1 || strcasecmp(v, "chunked") != 0)
		return fail_st(st, 501, "unsupported Transfer-Encoding '%.40s' (only chunked)", v);
	return 1;
}

/* The media type of a Content-Type value, lowercased, into DST. 0 or -1 (400). */
static int media_type(const char *v, char *dst, int *st)
{
	size_t i = 0, slash = 0;
	for (; v[i] && v[i] != ';' && v[i] != ' ' && v[i] != '\t'; i++) {
		if (i >= HTTP_MEDIA_TYPE_MAX)
			return fail_st(st, 400, "Content-Type longer than %d bytes",
				       HTTP_MEDIA_TYPE_MAX);
		unsigned char c = (unsigned char)v[i];
		if (c == '/' && !slash && i)
			slash = i;
		else if (!is_tchar(c))
			return fail_st(st, 400, "malformed Content-Type '%.40s'", v);
		dst[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	dst[i] = 0;
	if (!slash || slash + 1 == i)
		return fail_st(st, 400, "malformed Content-Type '%.40s'", v);
	while (v[i] == ' ' || v[i] == '\t')
		i++;
	if (v[i] && v[i] != ';')
		return fail_st(st, 400, "malformed Content-Type '%.40s'", v);
	return 0;
}

/* ---- Bodies ---------------------------------------------------------------------- */

/* Makes room for N more bytes beyond LEN in *BUF (capacity *CAP), keeping one for a NUL. */
static int body_room(uint8_t **buf, size_t *cap, size_t len, size_t n)
{
	if (len + n + 1 <= *cap)
		return 0;
	size_t c = *cap ? *cap : 4096;
	while (c < len + n + 1)
		c *= 2;
	uint8_t *nb = realloc(*buf, c);
	if (!nb)
		return err_set_errno("body of %zu bytes", len + n);
	*buf = nb;
	*cap = c;
	return 0;
}

/* Reads exactly LEN body bytes into a new NUL-terminated buffer. */
static int read_sized(struct io_in *in, uint64_t len, uint8_t **out, int *st)
{
	uint8_t *b = malloc((size_t)len + 1);
	if (!b) {
		*st = 500;
		return err_set_errno("body of %llu bytes", (unsigned long long)len);
	}
	if (io_in_read(in, b, (size_t)len) < 0) {
		free(b);
		if (in->eof)
			return fail_st(st, 400,
				       "body shorter than its Content-Length of %llu bytes",
				       (unsigned long long)len);
		*st = 0;
		return err_prefix("reading the body");
	}
	b[len] = 0;
	*out = b;
	return 0;
}

/*
 * Reads a chunked body of at most MAX bytes (413 beyond), dropping chunk
 * extensions and trailers. 0 with a NUL-terminated *OUT, or -1.
 */
static int read_chunked(struct io_in *in, size_t max, uint8_t **out, size_t *out_len, int *st)
{
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	char line[HTTP_CHUNK_LINE_MAX + 1];
	for (;;) {
		if (read_line(in, line, sizeof(line), 400, 0, "chunk size line", st) < 0)
			goto fail;
		uint64_t size = 0;
		size_t i = 0;
		int d;
		while ((d = hex_digit((unsigned char)line[i])) >= 0) {
			if (i >= 16) {
				fail_st(st, 413, "chunk size '%.20s' too large", line);
				goto fail;
			}
			size = size * 16 + (uint64_t)d;
			i++;
		}
		if (i == 0) {
			fail_st(st, 400, "malformed chunk size line '%.40s'", line);
			goto fail;
		}
		while (line[i] == ' ' || line[i] == '\t')
			i++;
		if (line[i] && line[i] != ';') {
			fail_st(st, 400, "malformed chunk size line '%.40s'", line);
			goto fail;
		}
		if (size > max - len) {
			fail_st(st, 413, "chunked body larger than %zu bytes", max);
			goto fail;
		}
		if (size == 0)
			break;
		if (body_room(&buf, &cap, len, (size_t)size) < 0) {
			*st = 500;
			goto fail;
		}
		if (io_in_read(in, buf + len, (size_t)size) < 0) {
			read_failed(in, st, "chunked body");
			goto fail;
		}
		len += (size_t)size;
		uint8_t crlf[2];
		if (io_in_read(in, crlf, 2) < 0) {
			read_failed(in, st, "chunked body");
			goto fail;
		}
		if (crlf[0] != '\r' || crlf[1] != '\n') {
			fail_st(st, 400, "chunk data not followed by CRLF");
			goto fail;
		}
	}
	/* Trailer fields: checked for form and bounds, then dropped. */
	size_t total = 0, count = 0;
	for (;;) {
		ssize_t n = read_line(in, line, sizeof(line), 431, 0, "trailer line", st);
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		struct http_header h;
		total += (size_t)n;
		if (++count > HTTP_HEADERS_MAX || total > HTTP_HEADER_BLOCK_MAX) {
			fail_st(st, 431, "trailer fields too large");
			goto fail;
		}
		if (parse_header_line(line, &h, st) < 0)
			goto fail;
	}
	if (body_room(&buf, &cap, len, 0) < 0) {
		*st = 500;
		goto fail;
	}
	buf[len] = 0;
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* ---- Percent-encoding ------------------------------------------------------------ */

ssize_t http_pct_encode(char *dst, size_t cap, const char *src, size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
		if (o + (keep ? 1 : 3) >= cap)
			return err_set("percent-encoded text longer than %zu bytes",
				       cap ? cap - 1 : 0);
		if (keep) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = hexd[c >> 4];
			dst[o++] = hexd[c & 15];
		}
	}
	if (!cap)
		return err_set("no room for percent-encoded text");
	dst[o] = 0;
	return (ssize_t)o;
}

ssize_t http_pct_decode(char *dst, size_t cap, const char *src, size_t n, int plus_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		if (c == '%') {
			int hi = i + 1 < n ? hex_digit((unsigned char)src[i + 1]) : -1;
			int lo = i + 2 < n ? hex_digit((unsigned char)src[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return err_peer("malformed percent escape at '%.6s'", src + i);
			c = (char)(hi * 16 + lo);
			if (c == 0)
				return err_set("%%00 (NUL) is not accepted");
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (o + 1 >= cap)
			return err_set("decoded text longer than %zu bytes", cap ? cap - 1 : 0);
		dst[o++] = c;
	}
	if (!cap)
		return err_set("no room for decoded text");
	dst[o] = 0;
	return (ssize_t)o;
}

int http_query_append(char *target, size_t cap, const char *key, const char *value)
{
	size_t len = strlen(target);
	if (len + 2 > cap)
		return err_set("query does not fit in %zu bytes", cap);
	target[len] = strchr(target, '?') ? '&' : '?';
	ssize_t k = http_pct_encode(target + len + 1, cap - len - 1, key, strlen(key));
	if (k < 0)
		goto full;
	size_t at = len + 1 + (size_t)k;
	if (at + 2 > cap)
		goto full;
	target[at++] = '=';
	if (http_pct_encode(target + at, cap - at, value, strlen(value)) < 0)
		goto full;
	return 0;
full:
	target[len] = 0;
	return err_set("query does not fit in %zu bytes", cap);
}

/* ---- Server side ----------------------------------------------------------------- */

/* Takes N bytes of REQ's decoded area, or NULL. */
static char *decoded_take(struct http_request *req, size_t n)
{
	if (n > sizeof(req->decoded) - req->decoded_used)
		return NULL;
	char *p = req->decoded + req->decoded_used;
	req->decoded_used += n;
	return p;
}

/* Decodes SRC[0..N) into the decoded area. NULL with *ST = 400 on failure. */
static char *decode_into(struct http_request *req, const char *src, size_t n, int plus_space,
			 const char *what, int *st)
{
	char *d = decoded_take(req, n + 1);
	if (!d) {
		fail_st(st, 400, "%s: too much to decode", what);
		return NULL;
	}
	ssize_t r = http_pct_decode(d, n + 1, src, n, plus_space);
	if (r < 0) {
		err_prefix("%s", what);
		*st = 400;
		return NULL;
	}
	req->decoded_used -= n - (size_t)r; /* give back what decoding saved */
	return d;
}

static int parse_request_line(struct http_request *req, char *line, int *st)
{
	char *sp1 = strchr(line, ' ');
	if (!sp1)
		return fail_st(st, 400, "malformed request line");
	*sp1 = 0;
	char *target = sp1 + 1, *sp2 = strchr(target, ' ');
	if (!sp2)
		return fail_st(st, 400, "malformed request line");
	*sp2 = 0;
	char *version = sp2 + 1;
	if (!is_token(line))
		return fail_st(st, 400, "malformed method");
	if (strlen(line) > HTTP_METHOD_MAX)
		return fail_st(st, 501, "method longer than %d characters", HTTP_METHOD_MAX);
	if (!*target || !is_vchar_str(target))
		return fail_st(st, 400, "malformed request target");
	if (strncmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' ||
	    version[6] != '.' || version[7] < '0' || version[7] > '9' || version[8])
		return fail_st(st, 400, "malformed HTTP version '%.20s'", version);
	if (version[5] != '1')
		return fail_st(st, 505, "HTTP version %.8s not supported (only 1.x)", version + 5);
	req->method = line;
	req->target = target;
	req->minor = version[7] == '0' ? 0 : 1;
	return 0;
}

/* Splits the target into path and query, decodes both and checks the path's segments. */
static int parse_target(struct http_request *req, int *st)
{
	const char *t = req->target;
	if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
		t = strstr(t, "//") + 2;
		t += strcspn(t, "/?");
	} else if (t[0] != '/') {
		return fail_st(st, 400, "request target must start with '/'");
	}
	if (strchr(t, '#'))
		return fail_st(st, 400, "request target with a fragment");
	size_t plen = strcspn(t, "?");
	const char *q = t[plen] == '?' ? t + plen + 1 : "";
	req->query = q;
	for (size_t i = 0; i + 2 < plen; i++)
		if (t[i] == '%' && t[i + 1] == '2' && (t[i + 2] == 'f' || t[i + 2] == 'F'))
			return fail_st(st, 400, "encoded '/' in the path");
	char *path = plen ? decode_into(req, t, plen, 0, "path", st) : decoded_take(req, 2);
	if (!path)
		return -1;
	if (!plen)
		strcpy(path, "/");
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail_st(st, 400, "control character in the path");
	for (const char *seg = path + 1;;) {
		size_t n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return fail_st(st, 400, "'.' or '..' segment in the path");
		if (!seg[n])
			break;
		seg += n + 1;
	}
	req->path = path;

	while (*q) {
		size_t n = strcspn(q, "&");
		if (n) {
			if (req->nparams == HTTP_QUERY_PARAMS_MAX)
				return fail_st(st, 400, "more than %d query parameters",
					       HTTP_QUERY_PARAMS_MAX);
			const char *eq = memchr(q, '=', n);
			size_t kn = eq ? (size_t)(eq - q) : n;
			struct http_param *p = &req->params[req->nparams];
			p->key = decode_into(req, q, kn, 1, "query", st);
			if (!p->key)
				return -1;
			p->value = eq ? decode_into(req, eq + 1, n - kn - 1, 1, "query", st)
				      : decode_into(req, "", 0, 1, "query", st);
			if (!p->value)
				return -1;
			req->nparams++;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* Authorization: Basic credentials, decoded and split at the first colon. */
static int parse_authorization(struct http_request *req, const char *v, int *st)
{
	size_t sn = 0;
	while (is_tchar((unsigned char)v[sn]))
		sn++;
	if (sn == 0 || (v[sn] && v[sn] != ' '))
		return fail_st(st, 400, "malformed Authorization header");
	if (sn != 5 || strncasecmp(v, "basic", 5) != 0) {
		req->auth = HTTP_AUTH_OTHER;
		return 0;
	}
	const char *cred = v + sn;
	while (*cred == ' ')
		cred++;
	size_t n = strlen(cred);
	char *d = decoded_take(req, n + 1);
	if (!d)
		return fail_st(st, 400, "Authorization: too long");
	long dn = base64_decode(d, n + 1, cred, n);
	if (dn < 0) {
		*st = 400;
		return err_prefix("Authorization: Basic credentials");
	}
	d[dn] = 0;
	for (long i = 0; i < dn; i++)
		if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f)
			return fail_st(st, 400, "Authorization: control character in credentials");
	char *colon = strchr(d, ':');
	if (!colon)
		return fail_st(st, 400, "Authorization: Basic credentials without ':'");
	*colon = 0;
	req->auth = HTTP_AUTH_BASIC;
	req->user = d;
	req->password = colon + 1;
	return 0;
}

static int request_read(struct http_request *req, struct io_in *in, struct io_out *out,
			size_t body_max, const char *body_type, int *st)
{
	ssize_t n = read_line(in, req->head, HTTP_REQUEST_LINE_MAX + 1, 414, 1, "request line", st);
	if (n == -2)
		return 1;
	if (n < 0)
		return -1;
	if (n == 0)
		return fail_st(st, 400, "empty request line");
	if (parse_request_line(req, req->head, st) < 0)
		return -1;
	char *store = req->head + n + 1;
	if (read_headers(in, store, HTTP_HEADER_BLOCK_MAX + 1, req->headers, &req->nheaders, st) <
	    0)
		return -1;
	if (parse_target(req, st) < 0)
		return -1;

	const struct http_header *h = req->headers;
	size_t nh = req->nheaders;
	size_t hosts = header_count(h, nh, "host");
	if (hosts > 1 || (hosts == 0 && req->minor >= 1))
		return fail_st(st, 400, hosts ? "more than one Host header" : "no Host header");
	req->host = http_header_get(h, nh, "host");

	uint64_t clen = 0;
	int has_len = content_length(h, nh, &clen, st);
	if (has_len < 0)
		return -1;
	int chunked = transfer_chunked(h, nh, st);
	if (chunked < 0)
		return -1;
	if (chunked && (has_len || req->minor == 0))
		return fail_st(st, 400,
			       has_len ? "both Transfer-Encoding and Content-Length"
				       : "Transfer-Encoding in an HTTP/1.0 request");
	if (!body_max)
		body_max = HTTP_BODY_MAX;
	if (has_len && clen > body_max)
		return fail_st(st, 413, "body of %llu bytes is larger than %zu",
			       (unsigned long long)clen, body_max);

	size_t ct = header_count(h, nh, "content-type");
	if (ct > 1)
		return fail_st(st, 400, "more than one Content-Type header");
	if (ct && media_type(http_header_get(h, nh, "content-type"), req->content_type, st) < 0)
		return -1;

	size_t na = header_count(h, nh, "authorization");
	if (na > 1)
		return fail_st(st, 400, "more than one Authorization header");
	if (na && parse_authorization(req, http_header_get(h, nh, "authorization"), st) < 0)
		return -1;

	int expect = 0;
	for (size_t i = 0; i < nh; i++) {
		if (strcasecmp(h[i].name, "expect") != 0)
			continue;
		if (strcasecmp(h[i].value, "100-continue") != 0)
			return fail_st(st, 417, "unsupported expectation '%.40s'", h[i].value);
		expect = req->minor >= 1;
	}

	int has_body = chunked || clen > 0;
	if (has_body && body_type && strcmp(req->content_type, body_type) != 0)
		return fail_st(st, 415, "a body must be %s, not %s", body_type,
			       req->content_type[0] ? req->content_type : "without Content-Type");
	if (has_body && expect && out) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (io_out_write(out, cont, sizeof(cont) - 1) < 0 || io_out_flush(out) < 0) {
			*st = 0;
			return err_prefix("sending 100 Continue");
		}
		req->sent_continue = 1;
	}
	if (chunked)
		return read_chunked(in, body_max, &req->body, &req->body_len, st);
	if (clen) {
		if (read_sized(in, clen, &req->body, st) < 0)
			return -1;
		req->body_len = (size_t)clen;
	}
	return 0;
}

int http_request_read(struct http_request *req, struct io_in *in, struct io_out *out,
		      size_t body_max, const char *body_type)
{
	memset(req, 0, offsetof(struct http_request, head));
	req->decoded_used = 0;
	int st = 0;
	int r = request_read(req, in, out, body_max, body_type, &st);
	if (r < 0) {
		req->status = st;
		free(req->body);
		req->body = NULL;
		req->body_len = 0;
	}
	return r;
}

void http_request_free(struct http_request *req)
{
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
	/* The head holds the Authorization header; the decoded area the password. */
	explicit_bzero(req->head, sizeof(req->head));
	explicit_bzero(req->decoded, sizeof(req->decoded));
	req->user = req->password = NULL;
}

const char *http_query_get(const struct http_request *req, const char *key)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].key, key) == 0)
			return req->params[i].value;
	return NULL;
}

const char *http_reason(int status)
{
	static const struct {
		int code;
		const char *reason;
	} reasons[] = {
		{100, "Continue"},
		{200, "OK"},
		{201, "Created"},
		{202, "Accepted"},
		{204, "No Content"},
		{301, "Moved Permanently"},
		{302, "Found"},
		{304, "Not Modified"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{411, "Length Required"},
		{413, "Payload Too Large"},
		{414, "URI Too Long"},
		{415, "Unsupported Media Type"},
		{417, "Expectation Failed"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{505, "HTTP Version Not Supported"},
	};
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].reason;
	return "Unknown";
}

static void put_digits(char *p, int v, int n)
{
	while (n--) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void http_date(char *dst, time_t t)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct utc_tm tm;
	utc_from_unix(t, &tm);
	if (tm.year > 9999 || tm.year < 0)
		utc_from_unix(0,
			      &tm); /* out of the format's range: the epoch rather than garbage */
	/* "Sun, 06 Nov 1994 08:49:37 GMT", built by position (no locale involved). */
	memcpy(dst, "Xxx, 00 Xxx 0000 00:00:00 GMT", HTTP_DATE_LEN + 1);
	memcpy(dst, days[tm.wday], 3);
	put_digits(dst + 5, (int)tm.day, 2);
	memcpy(dst + 8, months[tm.mon - 1], 3);
	put_digits(dst + 12, (int)tm.year, 4);
	put_digits(dst + 17, (int)tm.hour, 2);
	put_digits(dst + 20, (int)tm.min, 2);
	put_digits(dst + 23, (int)tm.sec, 2);
}

/* Checks headers we are about to send; FRAMING names those the caller may not set. */
static int check_headers(const struct http_header *h, size_t n, const char *const *framing)
{
	for (size_t i = 0; i < n; i++) {
		if (!h[i].name || !is_token(h[i].name))
			return err_peer("invalid header name '%.40s'", h[i].name ? h[i].name : "");
		if (!h[i].value || !value_ok(h[i].value))
			return err_set("header %s: value with CR, LF or another control character",
				       h[i].name);
		for (const char *const *f = framing; *f; f++)
			if (strcasecmp(h[i].name, *f) == 0)
				return err_set("header %s is set by the HTTP layer", h[i].name);
	}
	return 0;
}

static int out_str(struct io_out *out, const char *s)
{
	return io_out_write(out, s, strlen(s));
}

static int out_header(struct io_out *out, const char *name, const char *value)
{
	if (out_str(out, name) < 0 || out_str(out, ": ") < 0 || out_str(out, value) < 0 ||
	    out_str(out, "\r\n") < 0)
		return -1;
	return 0;
}

int http_response_write(struct io_out *out, int status, const char *content_type,
			const struct http_header *extra, size_t nextra, const void *body,
			size_t len)
{
	static const char *const framing[] = {"content-length", "transfer-encoding", "connection",
					      "date",		"content-type",	     NULL};
	if (status < 100 || status > 999)
		return err_set("invalid status %d", status);
	if (check_headers(extra, nextra, framing) < 0)
		return -1;
	if (content_type && (!*content_type || !value_ok(content_type)))
		return err_set("invalid Content-Type");
	char line[64], date[HTTP_DATE_LEN + 1], clen[32];
	snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	http_date(date, time(NULL));
	snprintf(clen, sizeof(clen), "%zu", len);
	if (out_str(out, line) < 0 || out_header(out, "Date", date) < 0 ||
	    (content_type && out_header(out, "Content-Type", content_type) < 0) ||
	    out_header(out, "Content-Length", clen) < 0 ||
	    out_header(out, "Connection", "close") < 0)
		return err_prefix("writing the response");
	for (size_t i = 0; i < nextra; i++)
		if (out_header(out, extra[i].name, extra[i].value) < 0)
			return err_prefix("writing the response");
	if (out_str(out, "\r\n") < 0 || (len && io_out_write(out, body, len) < 0) ||
	    io_out_flush(out) < 0)
		return err_prefix("writing the response");
	return 0;
}

int http_error_write(struct io_out *out, int status, const char *explain,
		     const struct http_header *extra, size_t nextra)
{
	struct json_writer w;
	char *body;
	size_t len;
	for (int attempt = 0; attempt < 2; attempt++) {
		json_writer_init(&w, JSON_WRITE_SORTED);
		json_write_object_begin(&w);
		json_write_key(&w, "code");
		json_write_int(&w, status);
		json_write_key(&w, "explain");
		/* An explanation that is not UTF-8 is replaced rather than sent broken. */
		json_write_string(&w, attempt ? "(explanation not printable)" : explain);
		json_write_key(&w, "message");
		json_write_string(&w, http_reason(status));
		json_write_object_end(&w);
		if (json_writer_finish(&w, &body, &len) == 0)
			break;
		json_writer_free(&w);
		if (attempt)
			return -1;
	}
	int r = http_response_write(out, status, "application/json", extra, nextra, body, len);
	free(body);
	return r;
}

/* ---- Client side ----------------------------------------------------------------- */

int http_request_write(struct io_out *out, const char *method, const char *host, const char *target,
		       const struct http_header *headers, size_t nheaders, const void *body,
		       size_t len)
{
	static const char *const framing[] = {"host", "content-length", "transfer-encoding",
					      "connection", NULL};
	if (!is_token(method) || strlen(method) > HTTP_METHOD_MAX)
		return err_peer("invalid method '%.20s'", method);
	if (target[0] != '/' || !is_vchar_str(target) || strchr(target, '#'))
		return err_set("invalid request target (must be an encoded path from '/')");
	if (!*host || !is_vchar_str(host) || strpbrk(host, "/?#@\\"))
		return err_peer("invalid Host '%.60s'", host);
	if (check_headers(headers, nheaders, framing) < 0)
		return -1;
	char clen[32];
	snprintf(clen, sizeof(clen), "%zu", len);
	if (out_str(out, method) < 0 || out_str(out, " ") < 0 || out_str(out, target) < 0 ||
	    out_str(out, " HTTP/1.1\r\n") < 0 || out_header(out, "Host", host) < 0)
		return err_prefix("writing the request");
	for (size_t i = 0; i < nheaders; i++)
		if (out_header(out, headers[i].name, headers[i].value) < 0)
			return err_prefix("writing the request");
	if ((body && out_header(out, "Content-Length", clen) < 0) ||
	    out_header(out, "Connection", "close") < 0 || out_str(out, "\r\n") < 0 ||
	    (body && len && io_out_write(out, body, len) < 0) || io_out_flush(out) < 0)
		return err_prefix("writing the request");
	return 0;
}

ssize_t http_basic_auth(char *dst, size_t cap, const char *user, const char *password)
{
	if (strchr(user, ':'))
		return err_set("user name with ':' cannot be sent with Basic authentication");
	if (!value_ok(user) || !value_ok(password) || strchr(user, '\t') || strchr(password, '\t'))
		return err_set("control character in user name or password");
	size_t ul = strlen(user), pl = strlen(password), n = ul + 1 + pl;
	if (cap < 6 + BASE64_LEN(n) + 1)
		return err_set("credentials too long");
	char *plain = malloc(n + 1);
	if (!plain)
		return err_set_errno("credentials");
	memcpy(plain, user, ul);
	plain[ul] = ':';
	memcpy(plain + ul + 1, password, pl);
	memcpy(dst, "Basic ", 6);
	size_t k = base64_encode(dst + 6, plain, n);
	explicit_bzero(plain, n);
	free(plain);
	return (ssize_t)(6 + k);
}

/* Reads what the input still has, up to MAX bytes (more is an error). */
static int read_until_close(struct io_in *in, size_t max, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	for (;;) {
		if (body_room(&buf, &cap, len, 4096) < 0)
			goto fail;
		size_t want = cap - 1 - len;
		ssize_t r;
		if (in->pos < in->len) { /* first what io_in already buffered */
			r = (ssize_t)(in->len - in->pos < want ? in->len - in->pos : want);
			memcpy(buf + len, in->buf + in->pos, (size_t)r);
			in->pos += (size_t)r;
		} else if (in->eof) {
			r = 0;
		} else {
			r = in->ch->read(in->ch->ctx, buf + len, want);
			if (r < 0) {
				err_prefix("reading the response body");
				goto fail;
			}
			if (r == 0)
				in->eof = 1;
		}
		in->total += (size_t)r;
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			err_set("response body larger than %zu bytes", max);
			goto fail;
		}
	}
	buf[len] = 0;
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	return -1;
}

static int parse_status_line(struct http_response *resp, char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ')
		return err_peer("malformed status line '%.40s'", line);
	if (line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
	    line[11] > '9' || (line[12] && line[12] != ' '))
		return err_peer("malformed status code in '%.40s'", line);
	resp->minor = line[7] - '0';
	resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	resp->reason = line[12] ? line + 13 : "";
	for (const char *p = resp->reason; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return err_set("control character in the status line");
	return 0;
}

int http_response_read(struct http_response *resp, struct io_in *in, const char *method,
		       size_t body_max)
{
	memset(resp, 0, offsetof(struct http_response, head));
	int st = 0;
	if (!body_max)
		body_max = HTTP_RESPONSE_BODY_MAX;
	for (int interim = 0;; interim++) {
		ssize_t n = read_line(in, resp->head, HTTP_STATUS_LINE_MAX + 1, 0, 0, "status line",
				      &st);
		if (n < 0)
			return err_prefix("reading the response");
		if (parse_status_line(resp, resp->head) < 0)
			return -1;
		if (read_headers(in, resp->head + n + 1, HTTP_HEADER_BLOCK_MAX + 1, resp->headers,
				 &resp->nheaders, &st) < 0)
			return err_prefix("reading the response");
		if (resp->status >= 200)
			break;
		if (resp->status == 101)
			return err_set("unexpected 101 Switching Protocols");
		if (interim + 1 >= HTTP_INTERIM_MAX)
			return err_set("more than %d interim responses", HTTP_INTERIM_MAX);
	}
	const struct http_header *h = resp->headers;
	size_t nh = resp->nheaders;
	if (header_count(h, nh, "content-type") > 1)
		return err_set("more than one Content-Type header");
	const char *ct = http_header_get(h, nh, "content-type");
	if (ct && media_type(ct, resp->content_type, &st) < 0)
		return err_prefix("response");

	uint64_t clen = 0;
	int has_len = content_length(h, nh, &clen, &st);
	int chunked = has_len < 0 ? 0 : transfer_chunked(h, nh, &st);
	if (has_len < 0 || chunked < 0)
		return err_prefix("response");
	int r;
	if (strcmp(method, "HEAD") == 0 || resp->status == 204 || resp->status == 304) {
		resp->body = calloc(1, 1);
		r = resp->body ? 0 : err_set_errno("response body");
	} else if (chunked) {
		r = read_chunked(in, body_max, &resp->body, &resp->body_len, &st);
	} else if (has_len) {
		if (clen > body_max)
			return err_set("response body of %llu bytes is larger than %zu",
				       (unsigned long long)clen, body_max);
		r = read_sized(in, clen, &resp->body, &st);
		resp->body_len = (size_t)clen;
	} else {
		r = read_until_close(in, body_max, &resp->body, &resp->body_len);
	}
	if (r < 0) {
		free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
		return err_prefix("reading the response body");
	}
	return 0;
}

void http_response_free(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

/* A member of a Ganeti error body as text: strings as they are, anything else as JSON. */
static void member_text(const struct json *v, char *dst, size_t cap)
{
	if (!v) {
		err_printable(dst, cap, "None", 4);
		return;
	}
	if (v->type == JSON_STRING) {
		err_printable(dst, cap, v->u.s, v->len);
		return;
	}
	struct json_writer w;
	char *text;
	size_t len;
	json_writer_init(&w, 0);
	json_write_value(&w, v);
	if (json_writer_finish(&w, &text, &len) < 0) {
		json_writer_free(&w);
		err_printable(dst, cap, "?", 1);
		return;
	}
	err_printable(dst, cap, text, len);
	free(text);
}

int http_response_check(const struct http_response *resp)
{
	if (resp->status == 200)
		return 0;
	struct json_doc doc;
	char code[32], message[160], explain[ERR_MSG_MAX];
	if (resp->body_len && json_parse(&doc, (const char *)resp->body, resp->body_len) == 0) {
		const struct json *r = doc.root;
		if (r->type == JSON_OBJECT && json_get(r, "code") && json_get(r, "message") &&
		    json_get(r, "explain")) {
			member_text(json_get(r, "code"), code, sizeof(code));
			member_text(json_get(r, "message"), message, sizeof(message));
			member_text(json_get(r, "explain"), explain, sizeof(explain));
			err_set("%s %s: %s", code, message, explain);
		} else {
			member_text(r, explain, sizeof(explain));
			err_set("%s", explain);
		}
		json_doc_free(&doc);
		return -1;
	}
	err_printable(message, sizeof(message), resp->reason, strlen(resp->reason));
	if (!resp->body_len)
		return err_set("HTTP %d %s", resp->status, message);
	size_t n = strcspn((const char *)resp->body, "\r\n");
	err_printable(explain, sizeof(explain), (const char *)resp->body, n > 200 ? 200 : n);
	return err_set("HTTP %d %s: %s", resp->status, message, explain);
}
