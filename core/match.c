/* Shell wildcard patterns for key restrictions: a small fnmatch(3) without locale tables. */
#include "core/match.h"

#include <string.h>

static unsigned char fold(unsigned char c, unsigned flags)
{
	return (flags & MATCH_CASEFOLD) && c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a')
								: c;
}

/* 1 if C is in the ASCII class NAME (LEN bytes), 0 if not, -1 for an unknown class. */
static int in_class(const char *name, size_t len, unsigned char c)
{
	static const char names[] = "alpha\0digit\0alnum\0upper\0lower\0xdigit\0"
				    "space\0blank\0punct\0print\0graph\0cntrl\0";
	int upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
	int digit = c >= '0' && c <= '9', print = c >= 0x20 && c < 0x7f;
	int alnum = upper || lower || digit;
	int is[] = {
		upper || lower,
		digit,
		alnum,
		upper,
		lower,
		digit || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'),
		c == ' ' || (c >= '\t' && c <= '\r'),
		c == ' ' || c == '\t',
		print && c != ' ' && !alnum,
		print,
		print && c != ' ',
		c < 0x20 || c == 0x7f,
	};
	const char *n = names;
	for (size_t i = 0; i < sizeof(is) / sizeof(is[0]); i++, n += strlen(n) + 1)
		if (strlen(n) == len && !memcmp(n, name, len))
			return is[i];
	return -1;
}

/*
 * One element of a bracket expression at *P: a character (escaped or not),
 * [.c.] or [=c=]. Returns the character (0..255) and advances *P; -1 when
 * the element is a [.xy.] / [=xy=] of several characters (matches nothing);
 * -2 when the expression ends too early (the '[' was not a bracket).
 */
static int bracket_char(const char **p)
{
	const char *s = *p;
	if (s[0] == '[' && (s[1] == '.' || s[1] == '=')) {
		char kind = s[1];
		const char *end = s + 2;
		while (*end && !(end[0] == kind && end[1] == ']'))
			end++;
		if (*end && end > s + 2) {
			*p = end + 2;
			return end == s + 3 ? (unsigned char)s[2] : -1;
		}
		if (kind == '.')
			return -2; /* an open [. spoils the expression */
				   /* An open [= leaves the '[' an ordinary character. */
	}
	if (s[0] == '\\' && s[1])
		s++;
	if (!*s)
		return -2;
	*p = s + 1;
	return (unsigned char)*s;
}

/*
 * Matches C against the bracket expression after a '[' at P. Returns the
 * pattern position after its closing ']' and sets *HIT, or NULL when P does
 * not hold a complete bracket expression.
 */
static const char *bracket(const char *p, unsigned char c, unsigned flags, int *hit)
{
	int negate = *p == '!' || *p == '^', found = 0, dead = 0;
	p += negate;
	for (const char *first = p; *p != ']' || p == first;) {
		const char *end = p + 2;
		if (p[0] == '[' && p[1] == ':')
			while (*end >= 'a' && *end <= 'z')
				end++;
		if (p[0] == '[' && p[1] == ':' && end[0] == ':' && end[1] == ']') {
			int r = in_class(p + 2, (size_t)(end - p - 2), c);
			dead |= r < 0;
			found |= r > 0;
			p = end + 2;
			continue;
		}
		int lo = bracket_char(&p), hi = lo;
		if (lo == -2)
			return NULL;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			p++;
			hi = bracket_char(&p);
			if (hi == -2)
				return NULL;
		}
		if (lo < 0 || hi < 0) {
			dead = 1;
			continue;
		}
		/* Folding: the character in either case falls in the range. */
		int f = fold(c, flags),
		    u = f >= 'a' && f <= 'z' && (flags & MATCH_CASEFOLD) ? f - 32 : f;
		if ((c >= lo && c <= hi) || (f >= lo && f <= hi) || (u >= lo && u <= hi))
			found = 1;
	}
	*hit = !dead && found != negate;
	return p + 1;
}

int match_glob(const char *pattern, const char *subject, unsigned flags)
{
	const char *p = pattern, *s = subject;
	const char *star_p = NULL, *star_s = NULL; /* where to resume after the last '*' */
	for (;;) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (!*p && !*s)
			return 1;
		int ok = 0;
		if (*s) {
			const char *next = p + 1;
			if (*p == '?') {
				ok = 1;
			} else if (*p == '[' &&
				   (next = bracket(p + 1, (unsigned char)*s, flags, &ok))) {
				/* ok set by bracket */
			} else {
				const char *lit =
					p + (*p == '\\'); /* a trailing backslash matches nothing */
				next = lit + 1;
				ok = *lit && fold((unsigned char)*lit, flags) ==
						     fold((unsigned char)*s, flags);
			}
			if (ok) {
				p = next;
				s++;
				continue;
			}
		}
		/* Mismatch: let the last '*' take one more character, if there is one. */
		if (!star_p || !*star_s)
			return 0;
		p = star_p;
		s = ++star_s;
	}
}
