/* Calendar time in UTC (proleptic Gregorian) without the C library's time zone machinery. */
#ifndef FERRY_UTC_H
#define FERRY_UTC_H

#include <stddef.h>
#include <stdint.h>

/* A broken-down UTC time. Unlike struct tm: the real year, months and days from 1. */
struct utc_tm {
	int64_t year;
	unsigned mon;  /* 1..12 */
	unsigned day;  /* 1..31 */
	unsigned hour; /* 0..23 */
	unsigned min;  /* 0..59 */
	unsigned sec;  /* 0..59 (unix time has no leap seconds) */
	unsigned wday; /* 0 Sunday .. 6 Saturday */
};

/* Splits unix time T (any int64_t whose year fits in int64_t, negative too) into *OUT. */
void utc_from_unix(int64_t t, struct utc_tm *out);
/* Days from 1970-01-01 to year Y, month M (1..12), day D (1..31; not checked). */
int64_t utc_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Days in month M (1..12) of year Y. */
unsigned utc_days_in_month(int64_t y, unsigned m);

/* The layouts of utc_format. */
enum utc_style {
	UTC_ISO8601, /* "2026-11-25T10:00:00Z" (RFC 3339) */
	UTC_TEXT,    /* "2026-11-25 10:00:00", for logs and listings */
	UTC_COMPACT, /* "20261125100000", for names */
};
/* Longest text of any style for years 0..9999, without the NUL. */
#define UTC_FORMAT_LEN 20

/*
 * Writes T in STYLE into BUF (CAP bytes, NUL-terminated). Returns the
 * length, or -1 with err_set when T is outside years 0..9999 or CAP is
 * too small (BUF then holds "").
 */
int utc_format(char *buf, size_t cap, int64_t t, enum utc_style style);

#endif
