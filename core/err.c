/* Error reporting: per-thread messages for core code, dying helpers for applets. */
#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char err_buf[ERR_MSG_MAX];
static const char *applet_name = "ferry";

int err_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return -1;
}

int err_set_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(err_buf))
		snprintf(err_buf + n, sizeof(err_buf) - (size_t)n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int err_prefix(const char *fmt, ...)
{
	char prefix[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err_buf, sizeof(old));
	int n = snprintf(err_buf, sizeof(err_buf), "%s: %s", prefix,
			 old[0] ? old : "unknown error");
	if (n < 0 || (size_t)n >= sizeof(err_buf))
		memcpy(err_buf + sizeof(err_buf) - 4, "...", 4); /* mark the cut */
	return -1;
}

char *err_printable(char *dst, size_t cap, const void *src, size_t n)
{
	const unsigned char *s = src;
	int cut = n > cap - 1;
	size_t k = cut ? cap - 4 : n;
	for (size_t i = 0; i < k; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (cut) {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = 0;
	return dst;
}

const char *err_msg(void)
{
	return err_buf[0] ? err_buf : "unknown error";
}

void err_set_applet(const char *name)
{
	applet_name = name;
}

const char *err_applet(void)
{
	return applet_name;
}

/* One write per message so concurrent writers do not interleave lines. */
static void vreport(const char *fmt, va_list ap, const char *tail)
{
	char line[ERR_MSG_MAX * 2 + 64];
	int n;
	if (strcmp(applet_name, "ferry") == 0)
		n = snprintf(line, sizeof(line), "ferry: ");
	else
		n = snprintf(line, sizeof(line), "ferry %s: ", applet_name);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if ((size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (tail)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", tail);
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap, NULL);
	va_end(ap);
}

void warn_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap, NULL);
	va_end(ap);
	exit(EXIT_FAIL);
}

void die_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	if (saved == EPIPE)
		exit(EXIT_FAIL); /* the reader went away: nothing useful to say */
	va_start(ap, fmt);
	vreport(fmt, ap, strerror(saved));
	va_end(ap);
	exit(EXIT_FAIL);
}

void die_err(const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	memcpy(msg, err_msg(), sizeof(msg));
	msg[sizeof(msg) - 1] = 0;
	va_start(ap, fmt);
	vreport(fmt, ap, msg);
	va_end(ap);
	exit(EXIT_FAIL);
}

/* The usage text's first paragraph: the "usage:" line(s) before the blank line. */
static size_t usage_head_len(const char *usage)
{
	const char *end = strstr(usage, "\n\n");
	return end ? (size_t)(end - usage) + 1 : strlen(usage);
}

void die_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap, NULL);
	va_end(ap);
	if (usage) {
		size_t n = usage_head_len(usage);
		fwrite(usage, 1, n, stderr);
		if (n && usage[n - 1] != '\n')
			fputc('\n', stderr);
		fprintf(stderr, "Try '%s%s --help' for more.\n",
			strcmp(applet_name, "ferry") ? "ferry " : "", applet_name);
	}
	exit(EXIT_USAGE);
}

void print_help(const char *usage)
{
	fputs(usage, stdout);
	if (fflush(stdout) != 0 || ferror(stdout))
		exit(EXIT_FAIL);
	exit(EXIT_OK);
}
