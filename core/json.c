/* JSON (RFC 8259): a two-pass bounded parser into one allocation, typed accessors naming paths, a writer. */
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/err.h"

/* ---- Decimal to double ------------------------------------------------------- */

/*
 * Exact conversion of a JSON number literal to the nearest double (ties to
 * even), as a correctly rounded strtod does, with big integers: the value
 * D * 10^X becomes NUM / DEN, scaled by a power of two until the quotient
 * has the 53 bits of a double; the remainder decides the rounding. Own code
 * because musl's strtod brings ~6.5 KiB of long double machinery; the unit
 * tests compare it with glibc's strtod. Sizes: a literal has at most
 * JSON_NUMBER_LEN_MAX characters, so D < 10^64; values beyond 10^310 are
 * infinite (refused by the caller) and below 10^-330 zero, so NUM and DEN
 * stay under 10^394 * 2^54 (1400 bits).
 */
#define BIG_WORDS 48 /* 1536 bits */

struct big {
	uint32_t w[BIG_WORDS]; /* little-endian words */
	unsigned n;	       /* words in use; w[n-1] != 0 unless n == 0 */
};

static void big_mul_add(struct big *a, uint32_t m, uint32_t add)
{
	uint64_t carry = add;
	for (unsigned i = 0; i < a->n; i++) {
		carry += (uint64_t)a->w[i] * m;
		a->w[i] = (uint32_t)carry;
		carry >>= 32;
	}
	if (carry)
		a->w[a->n++] = (uint32_t)carry;
}

static unsigned big_bits(const struct big *a)
{
	return a->n ? 32 * (a->n - 1) + 32 - (unsigned)__builtin_clz(a->w[a->n - 1]) : 0;
}

/* *DST = *SRC << BITS. */
static void big_shl(struct big *dst, const struct big *src, unsigned bits)
{
	unsigned words = bits / 32, sh = bits % 32;
	memset(dst, 0, sizeof(*dst));
	for (unsigned i = 0; i < src->n; i++) {
		uint64_t v = (uint64_t)src->w[i] << sh;
		dst->w[i + words] |= (uint32_t)v;
		if (v >> 32)
			dst->w[i + words + 1] = (uint32_t)(v >> 32);
	}
	dst->n = src->n ? src->n + words + 1 : 0;
	while (dst->n && !dst->w[dst->n - 1])
		dst->n--;
}

static int big_cmp(const struct big *a, const struct big *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (unsigned i = a->n; i-- > 0;)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	return 0;
}

/* *A -= *B, with *A >= *B. */
static void big_sub(struct big *a, const struct big *b)
{
	int64_t borrow = 0;
	for (unsigned i = 0; i < a->n; i++) {
		borrow += (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0);
		a->w[i] = (uint32_t)borrow;
		borrow = borrow < 0 ? -1 : 0;
	}
	while (a->n && !a->w[a->n - 1])
		a->n--;
}

/* TEXT[0..N): -?DIGITS[.DIGITS][(e|E)[+-]DIGITS], already checked by the caller. */
static double decimal_to_double(const char *text, size_t n)
{
	struct big num = {{0}, 0}, den = {{1}, 1}, t;
	const char *p = text, *end = text + n;
	int neg = *p == '-', digits = 0, point = 0;
	long exp10 = 0, e = 0;
	p += neg;
	for (; p < end && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.') {
			point = 1;
		} else if (digits || *p != '0') { /* leading zeros are not digits of D */
			big_mul_add(&num, 10, (uint32_t)(*p - '0'));
			digits++;
			exp10 -= point;
		} else {
			exp10 -= point;
		}
	}
	if (p < end) {
		int eneg = *++p == '-';
		p += *p == '+' || *p == '-';
		for (; p < end; p++)
			if (e < 100000) /* beyond that it is 0 or infinite anyway */
				e = e * 10 + (*p - '0');
		exp10 += eneg ? -e : e;
	}
	double zero = neg ? -0.0 : 0.0;
	if (!digits || digits + exp10 < -330)
		return zero;
	if (digits + exp10 > 310)
		return neg ? -HUGE_VAL : HUGE_VAL;
	for (; exp10 > 0; exp10 -= exp10 >= 9 ? 9 : 1)
		big_mul_add(&num, exp10 >= 9 ? 1000000000 : 10, 0);
	for (; exp10 < 0; exp10 += exp10 <= -9 ? 9 : 1)
		big_mul_add(&den, exp10 <= -9 ? 1000000000 : 10, 0);
	/* Value = Q * 2^-S with 2^52 <= Q < 2^53 (or S = 1074 for subnormals). */
	int s = 52 + (int)big_bits(&den) - (int)big_bits(&num);
	for (int pass = 0; pass < 2; pass++) {
		big_shl(&t, &den, 52 + (s < 0 ? (unsigned)-s : 0));
		struct big scaled;
		big_shl(&scaled, &num, s > 0 ? (unsigned)s : 0);
		if (big_cmp(&scaled, &t) < 0)
			s++;
		else
			break;
	}
	if (s > 1074)
		s = 1074;
	if (s >= 0) {
		big_shl(&t, &num, (unsigned)s);
		num = t;
	} else {
		big_shl(&t, &den, (unsigned)-s);
		den = t;
	}
	uint64_t q = 0;
	for (int b = 53; b >= 0; b--) {
		big_shl(&t, &den, (unsigned)b);
		if (big_cmp(&num, &t) >= 0) {
			big_sub(&num, &t);
			q |= (uint64_t)1 << b;
		}
	}
	big_shl(&t, &num, 1); /* twice the remainder against DEN: round to nearest, ties to even */
	int c = big_cmp(&t, &den);
	if (c > 0 || (c == 0 && (q & 1)))
		q++;
	if (q >> 53) {
		q >>= 1;
		s--;
	}
	if (-s > 971)
		return neg ? -HUGE_VAL : HUGE_VAL;
	uint64_t bits =
		q >> 52 ? ((uint64_t)(1075 - s) << 52) | (q & (((uint64_t)1 << 52) - 1)) : q;
	bits |= (uint64_t)neg << 63;
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/*
 * Decodes one UTF-8 sequence at P (N bytes available) into *CP. Returns its
 * length (1-4), or 0 if it is not well-formed (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF, no truncated sequence).
 */
static size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t b = p[0];
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	size_t need;
	uint8_t lo = 0x80, hi = 0xbf;
	uint32_t v;
	if (b >= 0xc2 && b <= 0xdf) {
		need = 1;
		v = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		need = 2;
		v = b & 0x0f;
		if (b == 0xe0)
			lo = 0xa0;
		if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		need = 3;
		v = b & 0x07;
		if (b == 0xf0)
			lo = 0x90;
		if (b == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		uint8_t c = p[i];
		if (i == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
			return 0;
		v = (v << 6) | (c & 0x3f);
	}
	*cp = v;
	return need + 1;
}

/* Encodes code point CP (not a surrogate, at most U+10FFFF) into OUT; returns its length. */
static size_t utf8_encode(uint8_t *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- Parser ----------------------------------------------------------------- */

/*
 * Both passes run the same code. The first (build == 0) checks everything
 * and counts values and string bytes. The second fills one allocation:
 * N value slots, where finished children are placed from the bottom up
 * while values still being parsed sit on a stack growing down from the top
 * (every value is in exactly one of the two, so N slots always suffice),
 * followed by the string bytes.
 */
struct parser {
	struct cursor c;
	int build;
	unsigned depth;
	size_t nvalues, strbytes; /* counted by the first pass */
	struct json *slots;
	size_t nslots, nfinal, nstack;
	char *str;
	size_t str_used;
	struct json scratch;
};

static int perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *ps, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* Messages may quote the input: only printable ASCII goes out. */
	for (char *p = what; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return err_set("JSON at byte %zu: %s", ps->c.off, what);
}

/* The next byte without consuming it, or -1 at the end. */
static int peek(const struct cursor *c)
{
	return cur_left(c) ? c->p[c->off] : -1;
}

static void skip_ws(struct parser *ps)
{
	for (;;) {
		int ch = peek(&ps->c);
		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			return;
		cur_skip(&ps->c, 1);
	}
}

/* Consumes the literal WORD (after its first letter was seen). */
static int expect_word(struct parser *ps, const char *word)
{
	const uint8_t *p;
	size_t n = strlen(word);
	if (cur_left(&ps->c) < n || memcmp(ps->c.p + ps->c.off, word, n) != 0)
		return perr(ps, "invalid literal (expected %s)", word);
	cur_ref(&ps->c, &p, n);
	return 0;
}

static struct json *push_value(struct parser *ps, enum json_type type)
{
	if (++ps->nvalues > JSON_VALUES_MAX) {
		perr(ps, "more than %u values", JSON_VALUES_MAX);
		return NULL;
	}
	if (!ps->build) /* the first pass only counts: values go to a scratch slot */
		return &ps->scratch;
	/* The first pass guarantees room: nvalues never exceeds nslots. */
	ps->nstack++;
	struct json *v = &ps->slots[ps->nslots - ps->nstack];
	memset(v, 0, sizeof(*v));
	v->type = (uint8_t)type;
	return v;
}

static int hex4(struct parser *ps, uint32_t *out)
{
	const uint8_t *p;
	if (cur_ref(&ps->c, &p, 4) < 0)
		return perr(ps, "truncated \\u escape");
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t ch = p[i];
		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v |= (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v |= (uint32_t)(ch - 'A' + 10);
		else
			return perr(ps, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

/*
 * Parses a string whose opening quote was consumed. In the build pass the
 * decoded bytes and a NUL go to the string area and *OUT points at them.
 */
static int parse_string(struct parser *ps, const char **out, uint32_t *out_len)
{
	char *dst = ps->build ? ps->str + ps->str_used : NULL;
	size_t n = 0;
	for (;;) {
		uint8_t tmp[4];
		size_t k;
		int ch = peek(&ps->c);
		if (ch < 0)
			return perr(ps, "unterminated string");
		if (ch == '"') {
			cur_skip(&ps->c, 1);
			break;
		}
		if (ch < 0x20)
			return perr(ps, "control character 0x%02x in string", ch);
		if (ch == '\\') {
			uint8_t e;
			cur_skip(&ps->c, 1);
			if (cur_u8(&ps->c, &e) < 0)
				return perr(ps, "unterminated string");
			uint32_t cp;
			switch (e) {
			case '"':
			case '\\':
			case '/':
				cp = e;
				break;
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u':
				if (hex4(ps, &cp) < 0)
					return -1;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return perr(ps, "lone low surrogate \\u%04x", cp);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					uint32_t low;
					const uint8_t *p;
					if (cur_left(&ps->c) < 2 || ps->c.p[ps->c.off] != '\\' ||
					    ps->c.p[ps->c.off + 1] != 'u')
						return perr(ps, "lone high surrogate \\u%04x", cp);
					cur_ref(&ps->c, &p, 2);
					if (hex4(ps, &low) < 0)
						return -1;
					if (low < 0xdc00 || low > 0xdfff)
						return perr(
							ps,
							"high surrogate not followed by a low one");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				}
				if (cp == 0)
					return perr(ps, "\\u0000 in string (NUL is not accepted)");
				break;
			default:
				return perr(ps, "invalid escape \\%c",
					    e >= 0x20 && e < 0x7f ? e : '?');
			}
			k = utf8_encode(tmp, cp);
		} else {
			uint32_t cp;
			const uint8_t *p;
			k = utf8_decode(ps->c.p + ps->c.off, cur_left(&ps->c), &cp);
			if (!k)
				return perr(ps, "invalid UTF-8 in string");
			cur_ref(&ps->c, &p, k);
			memcpy(tmp, p, k);
		}
		if (n + k > JSON_STRING_MAX)
			return perr(ps, "string longer than %u bytes", JSON_STRING_MAX);
		if (dst)
			memcpy(dst + n, tmp, k);
		n += k;
	}
	if (dst) {
		dst[n] = 0;
		ps->str_used += n + 1;
		*out = dst;
	}
	ps->strbytes += n + 1;
	*out_len = (uint32_t)n;
	return 0;
}

static int parse_number(struct parser *ps, struct json **out)
{
	size_t start = ps->c.off;
	int is_int = 1;
	if (peek(&ps->c) == '-')
		cur_skip(&ps->c, 1);
	int ch = peek(&ps->c);
	if (ch == '0') {
		cur_skip(&ps->c, 1);
		ch = peek(&ps->c);
		if (ch >= '0' && ch <= '9')
			return perr(ps, "leading zero in number");
	} else if (ch >= '1' && ch <= '9') {
		while ((ch = peek(&ps->c)) >= '0' && ch <= '9')
			cur_skip(&ps->c, 1);
	} else {
		return perr(ps, "invalid number");
	}
	if (peek(&ps->c) == '.') {
		is_int = 0;
		cur_skip(&ps->c, 1);
		ch = peek(&ps->c);
		if (ch < '0' || ch > '9')
			return perr(ps, "digit expected after decimal point");
		while ((ch = peek(&ps->c)) >= '0' && ch <= '9')
			cur_skip(&ps->c, 1);
	}
	ch = peek(&ps->c);
	if (ch == 'e' || ch == 'E') {
		is_int = 0;
		cur_skip(&ps->c, 1);
		ch = peek(&ps->c);
		if (ch == '+' || ch == '-')
			cur_skip(&ps->c, 1);
		ch = peek(&ps->c);
		if (ch < '0' || ch > '9')
			return perr(ps, "digit expected in exponent");
		while ((ch = peek(&ps->c)) >= '0' && ch <= '9')
			cur_skip(&ps->c, 1);
	}
	size_t n = ps->c.off - start;
	const char *text = (const char *)ps->c.p + start;
	if (n > JSON_NUMBER_LEN_MAX)
		return perr(ps, "number longer than %d characters", JSON_NUMBER_LEN_MAX);
	struct json *v = push_value(ps, is_int ? JSON_INT : JSON_DOUBLE);
	if (!v)
		return -1;
	if (is_int) {
		int neg = text[0] == '-';
		uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		uint64_t acc = 0;
		for (size_t i = neg; i < n; i++) {
			unsigned d = (unsigned)(text[i] - '0');
			if (acc > (limit - d) / 10)
				return perr(ps, "integer out of range");
			acc = acc * 10 + d;
		}
		/* Negation in unsigned arithmetic avoids overflowing INT64_MIN. */
		v->u.i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	} else {
		double d = decimal_to_double(text, n);
		if (!isfinite(d))
			return perr(ps, "number out of range");
		v->u.d = d;
	}
	*out = v;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct json *)a)->key, ((const struct json *)b)->key);
}

/*
 * Moves the K children on top of the stack into the final area (in the
 * order they were parsed) and attaches them to CONTAINER, which sits on
 * the stack right below them.
 */
static int close_container(struct parser *ps, struct json *container, size_t k)
{
	struct json *dst = ps->slots + ps->nfinal;
	/* The stack grows down, so the last child is at the lowest address. */
	memmove(dst, ps->slots + ps->nslots - ps->nstack, k * sizeof(*dst));
	for (size_t i = 0; i < k / 2; i++) {
		struct json t = dst[i];
		dst[i] = dst[k - 1 - i];
		dst[k - 1 - i] = t;
	}
	ps->nfinal += k;
	ps->nstack -= k;
	if (container->type == JSON_OBJECT && k > 1) {
		qsort(dst, k, sizeof(*dst), key_cmp);
		for (size_t i = 1; i < k; i++)
			if (strcmp(dst[i - 1].key, dst[i].key) == 0)
				return perr(ps, "duplicate key \"%.64s\" in object", dst[i].key);
	}
	/* The children have their final places now: point their own children at them. */
	for (size_t i = 0; i < k; i++)
		if (dst[i].type == JSON_ARRAY || dst[i].type == JSON_OBJECT)
			for (uint32_t j = 0; j < dst[i].len; j++)
				dst[i].u.kids[j].up = &dst[i];
	container->u.kids = dst;
	container->len = (uint32_t)k;
	return 0;
}

static int parse_value(struct parser *ps);

static int parse_container(struct parser *ps, int is_object)
{
	struct json *v = push_value(ps, is_object ? JSON_OBJECT : JSON_ARRAY);
	if (!v)
		return -1;
	if (++ps->depth > JSON_DEPTH_MAX)
		return perr(ps, "nested deeper than %d levels", JSON_DEPTH_MAX);
	cur_skip(&ps->c, 1); /* the opening bracket */
	size_t base = ps->nstack, k = 0;
	char close = is_object ? '}' : ']';
	skip_ws(ps);
	if (peek(&ps->c) == close) {
		cur_skip(&ps->c, 1);
	} else {
		for (;;) {
			const char *key = NULL;
			if (is_object) {
				uint32_t klen;
				skip_ws(ps);
				if (peek(&ps->c) != '"')
					return perr(ps, "object key (a string) expected");
				cur_skip(&ps->c, 1);
				if (parse_string(ps, &key, &klen) < 0)
					return -1;
				skip_ws(ps);
				if (peek(&ps->c) != ':')
					return perr(ps, "':' expected after object key");
				cur_skip(&ps->c, 1);
			}
			if (parse_value(ps) < 0)
				return -1;
			if (ps->build)
				ps->slots[ps->nslots - ps->nstack].key = key;
			k++;
			skip_ws(ps);
			int ch = peek(&ps->c);
			if (ch == ',') {
				cur_skip(&ps->c, 1);
				continue;
			}
			if (ch == close) {
				cur_skip(&ps->c, 1);
				break;
			}
			return perr(ps, "',' or '%c' expected", close);
		}
	}
	ps->depth--;
	if (ps->build) {
		if (ps->nstack != base + k)
			return perr(ps, "internal error: value stack out of step");
		return close_container(ps, v, k);
	}
	return 0;
}

static int parse_value(struct parser *ps)
{
	struct json *v;
	skip_ws(ps);
	int ch = peek(&ps->c);
	switch (ch) {
	case '{':
		return parse_container(ps, 1);
	case '[':
		return parse_container(ps, 0);
	case '"': {
		const char *s = NULL;
		uint32_t n;
		cur_skip(&ps->c, 1);
		if (parse_string(ps, &s, &n) < 0)
			return -1;
		if (!(v = push_value(ps, JSON_STRING)))
			return -1;
		v->u.s = s;
		v->len = n;
		return 0;
	}
	case 't':
	case 'f':
		if (expect_word(ps, ch == 't' ? "true" : "false") < 0)
			return -1;
		if (!(v = push_value(ps, JSON_BOOL)))
			return -1;
		v->u.b = ch == 't';
		return 0;
	case 'n':
		if (expect_word(ps, "null") < 0)
			return -1;
		return push_value(ps, JSON_NULL) ? 0 : -1;
	case -1:
		return perr(ps, "value expected, found end of input");
	default:
		if (ch == '-' || (ch >= '0' && ch <= '9'))
			return parse_number(ps, &v);
		if (ch >= 0x20 && ch < 0x7f)
			return perr(ps, "unexpected character '%c'", ch);
		return perr(ps, "unexpected byte 0x%02x", ch);
	}
}

static int parse_document(struct parser *ps, const char *text, size_t len)
{
	if (len > JSON_INPUT_MAX)
		return err_set("JSON text of %zu bytes is larger than %u", len, JSON_INPUT_MAX);
	cur_init(&ps->c, text, len);
	if (parse_value(ps) < 0)
		return -1;
	skip_ws(ps);
	if (cur_left(&ps->c))
		return perr(ps, "trailing data after the value");
	return 0;
}

int json_validate(const char *text, size_t len)
{
	struct parser ps;
	memset(&ps, 0, sizeof(ps));
	return parse_document(&ps, text, len);
}

int json_parse(struct json_doc *doc, const char *text, size_t len)
{
	struct parser ps;
	doc->root = NULL;
	doc->mem = NULL;
	memset(&ps, 0, sizeof(ps));
	if (parse_document(&ps, text, len) < 0)
		return -1;
	size_t nslots = ps.nvalues, strbytes = ps.strbytes;
	/* Both are bounded by JSON_VALUES_MAX and JSON_INPUT_MAX: no overflow. */
	void *mem = malloc(nslots * sizeof(struct json) + strbytes + 1);
	if (!mem)
		return err_set_errno("JSON document of %zu values", nslots);
	memset(&ps, 0, sizeof(ps));
	ps.build = 1;
	ps.slots = mem;
	ps.nslots = nslots;
	ps.str = (char *)mem + nslots * sizeof(struct json);
	int r = parse_document(&ps, text, len);
	if (r == 0 && (ps.nstack != 1 || ps.nfinal + 1 != nslots))
		r = err_set("JSON: internal error: the two passes disagree");
	if (r < 0) {
		free(mem);
		return -1;
	}
	/* The root is the last value on the stack, in the one slot left: already in place. */
	struct json *root = ps.slots + ps.nfinal;
	root->up = NULL;
	root->key = NULL;
	if (root->type == JSON_ARRAY || root->type == JSON_OBJECT)
		for (uint32_t j = 0; j < root->len; j++)
			root->u.kids[j].up = root;
	doc->root = root;
	doc->mem = mem;
	return 0;
}

void json_doc_free(struct json_doc *doc)
{
	free(doc->mem);
	doc->mem = NULL;
	doc->root = NULL;
}

/* ---- Accessors --------------------------------------------------------------- */

const char *json_type_name(enum json_type type)
{
	switch (type) {
	case JSON_NULL:
		return "null";
	case JSON_BOOL:
		return "boolean";
	case JSON_INT:
		return "integer";
	case JSON_DOUBLE:
		return "number";
	case JSON_STRING:
		return "string";
	case JSON_ARRAY:
		return "array";
	case JSON_OBJECT:
		return "object";
	}
	return "unknown";
}

/* A bounded string builder for paths. */
struct pbuf {
	char *p;
	size_t cap, len;
	int cut;
};

static void pb_putc(struct pbuf *b, char ch)
{
	if (b->len + 1 < b->cap)
		b->p[b->len++] = ch;
	else
		b->cut = 1;
}

static void pb_puts(struct pbuf *b, const char *s)
{
	while (*s)
		pb_putc(b, *s++);
}

static int plain_key(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return 0;
	return 1;
}

static void pb_key(struct pbuf *b, const char *key, int first)
{
	if (plain_key(key)) {
		if (!first)
			pb_putc(b, '.');
		pb_puts(b, key);
		return;
	}
	pb_puts(b, "[\"");
	for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
		if (*k < 0x20 || *k == 0x7f || *k == '"' || *k == '\\') {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", *k);
			pb_puts(b, esc);
		} else {
			pb_putc(b, (char)*k);
		}
	}
	pb_puts(b, "\"]");
}

/* Renders V's path, and then ".KEY" if KEY is not NULL. */
static void render_path(const struct json *v, const char *key, char *buf, size_t cap)
{
	const struct json *chain[JSON_DEPTH_MAX + 2];
	size_t n = 0;
	struct pbuf b = {buf, cap, 0, 0};
	for (const struct json *x = v; x && x->up && n < JSON_DEPTH_MAX + 2; x = x->up)
		chain[n++] = x;
	int first = 1;
	while (n--) {
		const struct json *x = chain[n];
		if (x->up->type == JSON_OBJECT) {
			pb_key(&b, x->key, first);
		} else {
			char idx[32];
			snprintf(idx, sizeof(idx), "[%zu]", (size_t)(x - x->up->u.kids));
			pb_puts(&b, idx);
		}
		first = 0;
	}
	if (key)
		pb_key(&b, key, first);
	else if (first)
		pb_puts(&b, "top level");
	if (b.cut && cap >= 4) {
		b.len = cap - 4;
		memcpy(buf + b.len, "...", 3);
		b.len += 3;
	}
	if (cap)
		buf[b.len] = 0;
}

void json_path(const struct json *v, char *buf, size_t cap)
{
	render_path(v, NULL, buf, cap);
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	size_t lo = 0, hi = obj->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, obj->u.kids[mid].key);
		if (c == 0)
			return &obj->u.kids[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct json *json_at(const struct json *arr, size_t index)
{
	if (!arr || arr->type != JSON_ARRAY || index >= arr->len)
		return NULL;
	return &arr->u.kids[index];
}

static int type_error(const struct json *v, enum json_type want)
{
	char path[JSON_PATH_MAX];
	json_path(v, path, sizeof(path));
	return err_set("%s: expected %s, got %s", path, json_type_name(want),
		       json_type_name((enum json_type)v->type));
}

int json_expect(const struct json *v, enum json_type type)
{
	return v->type == type ? 0 : type_error(v, type);
}

int json_as_int(const struct json *v, int64_t *out)
{
	if (v->type != JSON_INT)
		return type_error(v, JSON_INT);
	*out = v->u.i;
	return 0;
}

int json_as_int_range(const struct json *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t i;
	if (json_as_int(v, &i) < 0)
		return -1;
	if (i < min || i > max) {
		char path[JSON_PATH_MAX];
		json_path(v, path, sizeof(path));
		return err_set("%s: %lld out of range [%lld, %lld]", path, (long long)i,
			       (long long)min, (long long)max);
	}
	*out = i;
	return 0;
}

int json_as_double(const struct json *v, double *out)
{
	if (v->type == JSON_INT) {
		*out = (double)v->u.i;
		return 0;
	}
	if (v->type != JSON_DOUBLE)
		return type_error(v, JSON_DOUBLE);
	*out = v->u.d;
	return 0;
}

int json_as_bool(const struct json *v, int *out)
{
	if (v->type != JSON_BOOL)
		return type_error(v, JSON_BOOL);
	*out = v->u.b;
	return 0;
}

int json_as_string(const struct json *v, const char **s, size_t *len)
{
	if (v->type != JSON_STRING)
		return type_error(v, JSON_STRING);
	*s = v->u.s;
	if (len)
		*len = v->len;
	return 0;
}

const struct json *json_need(const struct json *obj, const char *key, enum json_type type)
{
	if (obj->type != JSON_OBJECT) {
		type_error(obj, JSON_OBJECT);
		return NULL;
	}
	const struct json *v = json_get(obj, key);
	if (!v) {
		char path[JSON_PATH_MAX];
		render_path(obj, key, path, sizeof(path));
		err_set("%s: missing", path);
		return NULL;
	}
	if (v->type != type && !(type == JSON_DOUBLE && v->type == JSON_INT)) {
		type_error(v, type);
		return NULL;
	}
	return v;
}

int json_get_int(const struct json *obj, const char *key, int64_t *out)
{
	const struct json *v = json_need(obj, key, JSON_INT);
	return v ? json_as_int(v, out) : -1;
}

int json_get_bool(const struct json *obj, const char *key, int *out)
{
	const struct json *v = json_need(obj, key, JSON_BOOL);
	return v ? json_as_bool(v, out) : -1;
}

int json_get_string(const struct json *obj, const char *key, const char **s)
{
	const struct json *v = json_need(obj, key, JSON_STRING);
	return v ? json_as_string(v, s, NULL) : -1;
}

int json_equal(const struct json *a, const struct json *b)
{
	if (a->type != b->type)
		return 0;
	switch ((enum json_type)a->type) {
	case JSON_NULL:
		return 1;
	case JSON_BOOL:
		return a->u.b == b->u.b;
	case JSON_INT:
		return a->u.i == b->u.i;
	case JSON_DOUBLE:
		return a->u.d == b->u.d && signbit(a->u.d) == signbit(b->u.d);
	case JSON_STRING:
		return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (a->len != b->len)
			return 0;
		for (uint32_t i = 0; i < a->len; i++) {
			if (a->type == JSON_OBJECT && strcmp(a->u.kids[i].key, b->u.kids[i].key))
				return 0;
			if (!json_equal(&a->u.kids[i], &b->u.kids[i]))
				return 0;
		}
		return 1;
	}
	return 0;
}

/* ---- Writer -------------------------------------------------------------------- */

/* Frame kinds and states, one byte per open container. */
#define FR_ARRAY      0x10
#define FR_OBJECT     0x20
#define FR_EMPTY      0x01 /* nothing written inside yet */
#define FR_WANT_VALUE 0x02 /* object: a key was written, its value is next */

static void wfail(struct json_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void wfail(struct json_writer *w, const char *fmt, ...)
{
	if (w->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err_text, sizeof(w->err_text), fmt, ap);
	va_end(ap);
	for (char *p = w->err_text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	w->failed = -1;
	err_set("JSON writer: %s", w->err_text);
}

void json_writer_init(struct json_writer *w, unsigned flags)
{
	memset(w, 0, sizeof(*w));
	w->flags = flags;
}

void json_writer_free(struct json_writer *w)
{
	free(w->buf);
	free(w->spans);
	free(w->keys);
	unsigned flags = w->flags;
	memset(w, 0, sizeof(*w));
	w->flags = flags;
}

/* Makes room for N more bytes in *BUF (LEN used, CAP allocated) up to JSON_OUTPUT_MAX. */
static int grow(struct json_writer *w, char **buf, size_t *cap, size_t len, size_t n)
{
	if (len + n + 1 <= *cap)
		return 0;
	if (n > JSON_OUTPUT_MAX || len + n + 1 > JSON_OUTPUT_MAX) {
		wfail(w, "output larger than %u bytes", JSON_OUTPUT_MAX);
		return -1;
	}
	size_t c = *cap ? *cap : 256;
	while (c < len + n + 1)
		c *= 2;
	char *nb = realloc(*buf, c);
	if (!nb) {
		wfail(w, "out of memory for %zu bytes", c);
		return -1;
	}
	*buf = nb;
	*cap = c;
	return 0;
}

static void put(struct json_writer *w, const void *p, size_t n)
{
	if (w->failed || grow(w, &w->buf, &w->cap, w->len, n) < 0)
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static void putc_w(struct json_writer *w, char ch)
{
	put(w, &ch, 1);
}

/* Called before every value: checks the structure and writes the comma. */
static int before_value(struct json_writer *w)
{
	if (w->failed)
		return -1;
	if (w->depth == 0) {
		if (w->len) {
			wfail(w, "a second value at the top level");
			return -1;
		}
		return 0;
	}
	uint8_t *f = &w->frame[w->depth - 1];
	if (*f & FR_OBJECT) {
		if (!(*f & FR_WANT_VALUE)) {
			wfail(w, "a value inside an object needs a key first");
			return -1;
		}
		*f &= (uint8_t)~FR_WANT_VALUE;
		return 0;
	}
	if (!(*f & FR_EMPTY))
		putc_w(w, ',');
	*f &= (uint8_t)~FR_EMPTY;
	return 0;
}

static void write_escaped(struct json_writer *w, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)s;
	putc_w(w, '"');
	size_t i = 0;
	while (i < n && !w->failed) {
		/* Copy the longest run that needs no escape in one go. */
		size_t run = i;
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
		       p[run] != '\\')
			run++;
		if (run > i) {
			put(w, p + i, run - i);
			i = run;
			continue;
		}
		uint8_t ch = p[i];
		char esc[16];
		if (ch >= 0x80) {
			uint32_t cp;
			size_t k = utf8_decode(p + i, n - i, &cp);
			if (!k) {
				wfail(w, "string is not valid UTF-8");
				return;
			}
			if (!(w->flags & JSON_WRITE_ASCII)) {
				put(w, p + i, k);
			} else if (cp < 0x10000) {
				snprintf(esc, sizeof(esc), "\\u%04x", cp);
				put(w, esc, 6);
			} else {
				uint32_t v = cp - 0x10000;
				snprintf(esc, sizeof(esc), "\\u%04x\\u%04x", 0xd800 + (v >> 10),
					 0xdc00 + (v & 0x3ff));
				put(w, esc, 12);
			}
			i += k;
			continue;
		}
		const char *short_esc = NULL;
		switch (ch) {
		case '"':
			short_esc = "\\\"";
			break;
		case '\\':
			short_esc = "\\\\";
			break;
		case '\b':
			short_esc = "\\b";
			break;
		case '\f':
			short_esc = "\\f";
			break;
		case '\n':
			short_esc = "\\n";
			break;
		case '\r':
			short_esc = "\\r";
			break;
		case '\t':
			short_esc = "\\t";
			break;
		}
		if (short_esc) {
			put(w, short_esc, 2);
		} else if (ch == 0x7f && !(w->flags & JSON_WRITE_ASCII)) {
			putc_w(w, (char)ch);
		} else {
			char u[6] = {'\\', 'u', '0', '0', hexd[ch >> 4], hexd[ch & 15]};
			put(w, u, 6);
		}
		i++;
	}
	putc_w(w, '"');
}

static void push_frame(struct json_writer *w, uint8_t kind)
{
	if (before_value(w) < 0)
		return;
	if (w->depth >= JSON_DEPTH_MAX) {
		wfail(w, "nested deeper than %d levels", JSON_DEPTH_MAX);
		return;
	}
	w->frame[w->depth] = kind | FR_EMPTY;
	w->obj_first[w->depth] = w->nspans;
	w->depth++;
	putc_w(w, kind == FR_OBJECT ? '{' : '[');
}

void json_write_object_begin(struct json_writer *w)
{
	push_frame(w, FR_OBJECT);
}

void json_write_array_begin(struct json_writer *w)
{
	push_frame(w, FR_ARRAY);
}

/* One member of an object being sorted: where its text is and what its key is. */
struct member {
	size_t start, len, key_off, key_len;
};

static int member_cmp(const void *a, const void *b, void *keys)
{
	const struct member *x = a, *y = b;
	const char *k = keys;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(k + x->key_off, k + y->key_off, n);
	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* Rewrites the members of the object that is ending in key order. */
static void sort_members(struct json_writer *w)
{
	size_t first = w->obj_first[w->depth - 1], n = w->nspans - first;
	const struct json_span *sp = w->spans + first;
	if (n < 2)
		return;
	size_t begin = sp[0].start, end = w->len;
	struct member *m = malloc(n * sizeof(*m));
	char *copy = malloc(end - begin);
	if (!m || !copy) {
		free(m);
		free(copy);
		wfail(w, "out of memory sorting an object");
		return;
	}
	/* A member ends at the comma before the next one, or at the end of the object. */
	for (size_t i = 0; i < n; i++) {
		size_t stop = i + 1 < n ? sp[i + 1].start - 1 : end;
		m[i] = (struct member){sp[i].start - begin, stop - sp[i].start, sp[i].key_off,
				       sp[i].key_len};
	}
	memcpy(copy, w->buf + begin, end - begin);
	qsort_r(m, n, sizeof(*m), member_cmp, w->keys);
	size_t o = begin;
	for (size_t i = 0; i < n; i++) {
		if (i && member_cmp(&m[i - 1], &m[i], w->keys) == 0) {
			wfail(w, "duplicate key \"%.*s\" in object",
			      (int)(m[i].key_len > 64 ? 64 : m[i].key_len), w->keys + m[i].key_off);
			break;
		}
		if (i)
			w->buf[o++] = ',';
		memcpy(w->buf + o, copy + m[i].start, m[i].len);
		o += m[i].len;
	}
	free(m);
	free(copy);
}

static void pop_frame(struct json_writer *w, uint8_t kind)
{
	if (w->failed)
		return;
	if (w->depth == 0 || !(w->frame[w->depth - 1] & kind)) {
		wfail(w, "%s end without its beginning", kind == FR_OBJECT ? "object" : "array");
		return;
	}
	if (w->frame[w->depth - 1] & FR_WANT_VALUE) {
		wfail(w, "object ends after a key without a value");
		return;
	}
	if (kind == FR_OBJECT && (w->flags & JSON_WRITE_SORTED)) {
		sort_members(w);
		w->nspans = w->obj_first[w->depth - 1];
		w->keys_len = w->nspans ? w->spans[w->nspans - 1].key_off +
						  w->spans[w->nspans - 1].key_len
					: 0;
	}
	w->depth--;
	putc_w(w, kind == FR_OBJECT ? '}' : ']');
}

void json_write_object_end(struct json_writer *w)
{
	pop_frame(w, FR_OBJECT);
}

void json_write_array_end(struct json_writer *w)
{
	pop_frame(w, FR_ARRAY);
}

static void write_key_n(struct json_writer *w, const char *key, size_t n)
{
	if (w->failed)
		return;
	if (w->depth == 0 || !(w->frame[w->depth - 1] & FR_OBJECT) ||
	    (w->frame[w->depth - 1] & FR_WANT_VALUE)) {
		wfail(w, "a key outside an object or twice in a row");
		return;
	}
	uint8_t *f = &w->frame[w->depth - 1];
	if (!(*f & FR_EMPTY))
		putc_w(w, ',');
	*f = (uint8_t)((*f & ~FR_EMPTY) | FR_WANT_VALUE);
	if (w->flags & JSON_WRITE_SORTED) {
		if (w->nspans == w->spans_cap) {
			size_t c = w->spans_cap ? w->spans_cap * 2 : 16;
			struct json_span *ns = realloc(w->spans, c * sizeof(*ns));
			if (!ns) {
				wfail(w, "out of memory for object keys");
				return;
			}
			w->spans = ns;
			w->spans_cap = c;
		}
		if (grow(w, &w->keys, &w->keys_cap, w->keys_len, n) < 0)
			return;
		memcpy(w->keys + w->keys_len, key, n);
		w->spans[w->nspans++] = (struct json_span){w->len, w->keys_len, n};
		w->keys_len += n;
	}
	write_escaped(w, key, n);
	putc_w(w, ':');
}

void json_write_key(struct json_writer *w, const char *key)
{
	write_key_n(w, key, strlen(key));
}

void json_write_strn(struct json_writer *w, const char *s, size_t n)
{
	if (before_value(w) < 0)
		return;
	write_escaped(w, s, n);
}

void json_write_string(struct json_writer *w, const char *s)
{
	json_write_strn(w, s, strlen(s));
}

void json_write_int(struct json_writer *w, int64_t v)
{
	char buf[32];
	if (before_value(w) < 0)
		return;
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
	put(w, buf, (size_t)n);
}

/*
 * Formats finite V as the shortest decimal that reads back to V, laid out
 * like Python's repr (fixed notation for exponents -4..15, else d.ddde+XX),
 * always with a '.' or an 'e' so it reads back as a double. BUF holds 40.
 */
static size_t format_double(char *buf, double v)
{
	char e[40];
	int prec;
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (decimal_to_double(e, strlen(e)) == v)
			break;
	}
	/* e is "[-]D[.DDD]e[+-]XX": take the digits and the exponent apart. */
	char digits[24];
	size_t nd = 0;
	const char *p = e;
	int neg = *p == '-';
	if (neg)
		p++;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	int exp = atoi(p + 1);
	if (exp < -4 || exp >= 16)
		return (size_t)snprintf(buf, 40, "%s", e);
	size_t o = 0;
	if (neg)
		buf[o++] = '-';
	if (exp < 0) {
		buf[o++] = '0';
		buf[o++] = '.';
		for (int z = 0; z < -exp - 1; z++)
			buf[o++] = '0';
		memcpy(buf + o, digits, nd);
		o += nd;
	} else {
		size_t whole = (size_t)exp + 1;
		for (size_t i = 0; i < whole; i++)
			buf[o++] = i < nd ? digits[i] : '0';
		buf[o++] = '.';
		if (nd > whole) {
			memcpy(buf + o, digits + whole, nd - whole);
			o += nd - whole;
		} else {
			buf[o++] = '0';
		}
	}
	buf[o] = 0;
	return o;
}

void json_write_double(struct json_writer *w, double v)
{
	char buf[40];
	if (before_value(w) < 0)
		return;
	if (!isfinite(v)) {
		wfail(w, "a number that is not finite");
		return;
	}
	size_t n = format_double(buf, v);
	put(w, buf, n);
}

void json_write_bool(struct json_writer *w, int v)
{
	if (before_value(w) < 0)
		return;
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_write_null(struct json_writer *w)
{
	if (before_value(w) < 0)
		return;
	put(w, "null", 4);
}

void json_write_value(struct json_writer *w, const struct json *v)
{
	switch ((enum json_type)v->type) {
	case JSON_NULL:
		json_write_null(w);
		return;
	case JSON_BOOL:
		json_write_bool(w, v->u.b);
		return;
	case JSON_INT:
		json_write_int(w, v->u.i);
		return;
	case JSON_DOUBLE:
		json_write_double(w, v->u.d);
		return;
	case JSON_STRING:
		json_write_strn(w, v->u.s, v->len);
		return;
	case JSON_ARRAY:
		json_write_array_begin(w);
		for (uint32_t i = 0; i < v->len; i++)
			json_write_value(w, &v->u.kids[i]);
		json_write_array_end(w);
		return;
	case JSON_OBJECT:
		json_write_object_begin(w);
		for (uint32_t i = 0; i < v->len; i++) {
			json_write_key(w, v->u.kids[i].key);
			json_write_value(w, &v->u.kids[i]);
		}
		json_write_object_end(w);
		return;
	}
	wfail(w, "value of unknown type %d", v->type);
}

void json_write_raw(struct json_writer *w, const char *text, size_t len)
{
	if (w->failed)
		return;
	if (json_validate(text, len) < 0) {
		wfail(w, "embedded value: %s", err_msg());
		return;
	}
	while (len && strchr(" \t\r\n", text[0])) {
		text++;
		len--;
	}
	while (len && strchr(" \t\r\n", text[len - 1]))
		len--;
	if (before_value(w) < 0)
		return;
	put(w, text, len);
}

int json_writer_finish(struct json_writer *w, char **out, size_t *len)
{
	if (w->failed)
		return err_set("JSON writer: %s", w->err_text);
	if (w->depth)
		return err_set("JSON writer: %u containers still open", w->depth);
	if (!w->len)
		return err_set("JSON writer: no value written");
	*out = w->buf;
	if (len)
		*len = w->len;
	w->buf = NULL;
	json_writer_free(w);
	return 0;
}
