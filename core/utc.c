/* Calendar time in UTC: conversions after Howard Hinnant's days_from_civil / civil_from_days. */
#include "core/utc.h"

#include <stdio.h>

#include "core/err.h"

int64_t utc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void utc_from_unix(int64_t t, struct utc_tm *c)
{
	int64_t z = t >= 0 ? t / 86400 : (t - 86399) / 86400; /* floor division */
	int64_t secs = t - z * 86400;
	int64_t w = (z + 4) % 7; /* 1970-01-01 was a Thursday */
	c->wday = (unsigned)(w < 0 ? w + 7 : w);
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	c->day = doy - (153 * mp + 2) / 5 + 1;
	c->mon = mp < 10 ? mp + 3 : mp - 9;
	c->year = (int64_t)yoe + era * 400 + (c->mon <= 2);
	c->hour = (unsigned)(secs / 3600);
	c->min = (unsigned)(secs / 60 % 60);
	c->sec = (unsigned)(secs % 60);
}

unsigned utc_days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

int utc_format(char *buf, size_t cap, int64_t t, enum utc_style style)
{
	static const char *const layouts[] = {
		[UTC_ISO8601] = "%04u-%02u-%02uT%02u:%02u:%02uZ",
		[UTC_TEXT] = "%04u-%02u-%02u %02u:%02u:%02u",
		[UTC_COMPACT] = "%04u%02u%02u%02u%02u%02u",
	};
	struct utc_tm c;
	if (cap)
		buf[0] = 0;
	/* Years 0..9999 only: -62167219200 is 0000-01-01, 253402300799 9999-12-31 23:59:59. */
	if (t < -62167219200LL || t > 253402300799LL)
		return err_set("time %lld is outside the years 0 to 9999", (long long)t);
	utc_from_unix(t, &c);
	int n = snprintf(buf, cap, layouts[style], (unsigned)c.year, c.mon, c.day, c.hour, c.min,
			 c.sec);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			buf[0] = 0;
		return err_set("no room for a time of %d characters", n);
	}
	return n;
}
