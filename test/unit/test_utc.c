/* Unit tests of core/utc: conversions and formats against the C library's gmtime_r, timegm and strftime. */
#define CHECK_SUITE "utc"
#include "test/unit/check.h"

#include <stdint.h>
#include <time.h>

#include "core/err.h"
#include "core/utc.h"

#define YEAR0	 (-62167219200LL) /* 0000-01-01 00:00:00 */
#define YEAR9999 253402300799LL	  /* 9999-12-31 23:59:59 */

static uint64_t rng = 0x2545f4914f6cdd1du;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* One time against gmtime_r, timegm and strftime; 1 if all agree. */
static int agrees(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	struct utc_tm u;
	char want[64], got[64];
	if (!gmtime_r(&tt, &tm))
		return check_fail_at(__FILE__, __LINE__, "gmtime_r");
	utc_from_unix(t, &u);
	if (u.year != tm.tm_year + 1900LL || u.mon != (unsigned)tm.tm_mon + 1 ||
	    u.day != (unsigned)tm.tm_mday || u.hour != (unsigned)tm.tm_hour ||
	    u.min != (unsigned)tm.tm_min || u.sec != (unsigned)tm.tm_sec ||
	    u.wday != (unsigned)tm.tm_wday) {
		check_fail_at(__FILE__, __LINE__, "utc_from_unix == gmtime_r");
		fprintf(stderr, "    t=%lld: got %lld-%u-%u %u:%u:%u wday %u\n", (long long)t,
			(long long)u.year, u.mon, u.day, u.hour, u.min, u.sec, u.wday);
		return 0;
	}
	if (utc_days_from_civil(u.year, u.mon, u.day) * 86400 + u.hour * 3600 + u.min * 60 +
		    u.sec !=
	    t)
		return check_fail_at(__FILE__, __LINE__, "utc_days_from_civil round trip");
	if (t < YEAR0 || t > YEAR9999)
		return 1;
	static const char *const layouts[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S",
					      "%Y%m%d%H%M%S"};
	for (int s = UTC_ISO8601; s <= UTC_COMPACT; s++) {
		strftime(want, sizeof(want), layouts[s], &tm);
		/* glibc's %Y does not pad years below 1000 to 4 digits: pad as ISO 8601 does. */
		if (tm.tm_year + 1900 < 1000) {
			char pad[64];
			snprintf(pad, sizeof(pad), "%04d%s", tm.tm_year + 1900,
				 want + snprintf(NULL, 0, "%d", tm.tm_year + 1900));
			memcpy(want, pad, sizeof(pad));
		}
		int n = utc_format(got, sizeof(got), t, (enum utc_style)s);
		if (!CHECK_STR(got, want) || !CHECK_INT(n, (int)strlen(want)))
			return 0;
	}
	return 1;
}

static void test_against_libc(void)
{
	static const int64_t edges[] = {0,	    -1,		  86399,	 86400,
					-86400,	    -86401,	  951782400,	 951868799,
					951868800,  4107542399,	  4107542400,	 1764064800,
					2147483647, 2147483648,	  YEAR0,	 YEAR0 - 1,
					YEAR9999,   YEAR9999 + 1, -12219292800LL};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		if (!agrees(edges[i]))
			return;
	for (int i = 0; i < 200000; i++) {
		/* Years about -290000..290000, and a dense sample of 1900..2200. */
		int64_t t = (int64_t)(next_rand() % (1ull << 54)) - (1ll << 53);
		if (i % 2)
			t = -2208988800LL + (int64_t)(next_rand() % 9467280000ull);
		if (!agrees(t))
			return;
	}
}

static void test_days_in_month(void)
{
	CHECK_INT(utc_days_in_month(2024, 2), 29);
	CHECK_INT(utc_days_in_month(2023, 2), 28);
	CHECK_INT(utc_days_in_month(1900, 2), 28);
	CHECK_INT(utc_days_in_month(2000, 2), 29);
	CHECK_INT(utc_days_in_month(2026, 11), 30);
	CHECK_INT(utc_days_in_month(2026, 12), 31);
	for (int64_t y = 1896; y < 2105; y++)
		for (unsigned m = 1; m <= 12; m++)
			CHECK_INT(utc_days_from_civil(y, m, 1) + (int64_t)utc_days_in_month(y, m),
				  m == 12 ? utc_days_from_civil(y + 1, 1, 1)
					  : utc_days_from_civil(y, m + 1, 1));
}

static void test_format_refusals(void)
{
	char buf[UTC_FORMAT_LEN + 1];
	CHECK_INT(utc_format(buf, sizeof(buf), 1764064800, UTC_ISO8601), 20);
	CHECK_STR(buf, "2025-11-25T10:00:00Z");
	CHECK_INT(utc_format(buf, sizeof(buf), YEAR9999 + 1, UTC_TEXT), -1);
	CHECK_STR(buf, "");
	CHECK(strstr(err_msg(), "outside the years 0 to 9999") != NULL);
	CHECK_INT(utc_format(buf, sizeof(buf), YEAR0 - 1, UTC_TEXT), -1);
	CHECK_INT(utc_format(buf, 20, 0, UTC_ISO8601), -1); /* no room for the NUL */
	CHECK_STR(buf, "");
	CHECK_INT(utc_format(buf, 15, 0, UTC_COMPACT), 14);
	CHECK_STR(buf, "19700101000000");
	CHECK_INT(utc_format(buf, 0, 0, UTC_COMPACT), -1);
}

int main(void)
{
	RUN(test_against_libc);
	RUN(test_days_in_month);
	RUN(test_format_refusals);
	return CHECK_DONE();
}
