/* The unit-test helper: named test functions, checks that say what differed, a PASS/FAIL line each. */
#ifndef FERRY_CHECK_H
#define FERRY_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failed_now; /* failures inside the running test */
static int check_total_failed;

static __attribute__((unused)) void check_hex(const char *label, const void *p, size_t n)
{
	const unsigned char *b = p;
	fprintf(stderr, "    %s (%zu bytes):", label, n);
	for (size_t i = 0; i < n && i < 256; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n      ", b[i]);
	fprintf(stderr, "%s\n", n > 256 ? " ..." : "");
}

static __attribute__((unused)) int check_fail_at(const char *file, int line, const char *what)
{
	fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
	check_failed_now++;
	return 0;
}

/* Compares two byte strings; on mismatch dumps both in hex. */
static __attribute__((unused)) int check_equals_at(const char *file, int line, const char *what,
						   const void *got, size_t got_len,
						   const void *want, size_t want_len)
{
	if (got_len == want_len && (got_len == 0 || memcmp(got, want, got_len) == 0))
		return 1;
	check_fail_at(file, line, what);
	check_hex("got", got, got_len);
	check_hex("want", want, want_len);
	return 0;
}

static __attribute__((unused)) int check_str_at(const char *file, int line, const char *what,
						const char *got, const char *want)
{
	if (got && want && strcmp(got, want) == 0)
		return 1;
	check_fail_at(file, line, what);
	fprintf(stderr, "    got:  \"%s\"\n    want: \"%s\"\n", got ? got : "(null)",
		want ? want : "(null)");
	return 0;
}

static __attribute__((unused)) int check_int_at(const char *file, int line, const char *what,
						long long got, long long want)
{
	if (got == want)
		return 1;
	check_fail_at(file, line, what);
	fprintf(stderr, "    got:  %lld\n    want: %lld\n", got, want);
	return 0;
}

#define CHECK(cond) ((cond) ? 1 : check_fail_at(__FILE__, __LINE__, #cond))
#define CHECK_EQUALS(got, glen, want, wlen)                                                        \
	check_equals_at(__FILE__, __LINE__, #got " == " #want, got, glen, want, wlen)
#define CHECK_STR(got, want) check_str_at(__FILE__, __LINE__, #got " == " #want, got, want)
#define CHECK_INT(got, want)                                                                       \
	check_int_at(__FILE__, __LINE__, #got " == " #want, (long long)(got), (long long)(want))

/* Runs one test function and prints its result line for test/run. */
#define RUN(fn)                                                                                    \
	do {                                                                                       \
		check_failed_now = 0;                                                              \
		fn();                                                                              \
		printf("%s %s:%s\n", check_failed_now ? "FAIL" : "PASS", CHECK_SUITE, #fn);        \
		fflush(stdout);                                                                    \
		check_total_failed += check_failed_now ? 1 : 0;                                    \
	} while (0)

#define CHECK_DONE() (check_total_failed ? 1 : 0)

#endif
