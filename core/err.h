/* Error reporting: a per-thread "why" for core functions, and the dying helpers for applets. */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Exit codes shared by every applet. */
#define EXIT_OK	   0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define ERR_MSG_MAX 512

/*
 * Core and crypto functions never exit: they return -1 (or a documented
 * negative value) and record why with err_set()/err_set_errno(). The message
 * lives in thread-local storage until the next err_set on the same thread.
 */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like err_set, appending ": strerror(errno)"; errno is preserved. */
int err_set_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefixes the current message with "CONTEXT: " (for callers adding a file name). */
int err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Renders untrusted bytes SRC[0..N) for a message into DST (CAP > 4 bytes,
 * NUL-terminated): bytes outside printable ASCII become '?', and a cut is
 * marked "...". Returns DST. Peers' names, types and texts go through this
 * before they reach an error message or a log.
 */
char *err_printable(char *dst, size_t cap, const void *src, size_t n);
/* The last recorded message on this thread ("unknown error" if none). */
const char *err_msg(void);

/* The applet name used in messages: "ferry NAME: ...". Set by dispatch. */
void err_set_applet(const char *name);
const char *err_applet(void);

/*
 * Dying helpers, for applets only. Messages go to stderr as
 * "ferry APPLET: MESSAGE" and the process exits 1.
 */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "ferry APPLET: CONTEXT: err_msg()" and exit 1: for a failed core call. */
_Noreturn void die_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "ferry APPLET: MESSAGE" and the usage line(s) to stderr, exits 2. */
_Noreturn void die_usage(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints the usage text to stdout and exits 0 (the --help answer). */
_Noreturn void print_help(const char *usage);

#endif
