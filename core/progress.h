/* Progress of long steps: a line redrawn on a terminal (bytes, files, rate, ETA), a summary, and a hook for JSON lines. */
#ifndef FERRY_PROGRESS_H
#define FERRY_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

enum progress_mode {
	PROGRESS_AUTO = 0, /* draw on FD only if it is a terminal */
	PROGRESS_ALWAYS,   /* draw on FD whatever it is */
	PROGRESS_OFF,	   /* never draw; the hook still runs */
};

#define PROGRESS_INTERVAL_MS 250 /* at most this often: redraws and hook calls */

/*
 * Caller-owned; one per running step, no global state. A worker thread may
 * own one; do not share it between threads.
 */
struct progress {
	const char *label;    /* "send", "receive": first word of the line */
	uint64_t total_bytes; /* expected bytes, 0 = unknown (no ETA) */
	uint64_t bytes, files;
	int fd;	  /* where to draw (normally 2) */
	int draw; /* decided by progress_init */
	/* Called at most every PROGRESS_INTERVAL_MS and once with FINAL = 1 from progress_done. */
	void (*hook)(void *ctx, const struct progress *p, int final);
	void *hook_ctx;
	uint64_t start_ns, last_ns;
	int drawn;
};

/* Starts P: LABEL and FD as above, MODE an enum progress_mode. */
void progress_init(struct progress *p, const char *label, int fd, int mode);
/* Adds BYTES and FILES; redraws and calls the hook when the interval passed. P may be NULL. */
void progress_add(struct progress *p, uint64_t bytes, uint64_t files);
/* Ends: clears the drawn line and calls the hook with FINAL = 1. P may be NULL. */
void progress_done(struct progress *p);
/* Seconds since progress_init. */
double progress_elapsed(const struct progress *p);
/* Formats N bytes as "12.3 MiB" into BUF (CAP bytes). Returns BUF. */
const char *progress_bytes(char *buf, size_t cap, double n);
/*
 * Formats the state as one JSON object line (no newline) into BUF, e.g.
 * {"event":"progress","step":"send","bytes":1,"files":1,"total":0,
 * "elapsed":0.5,"rate":2,"eta":null,"final":false}. Returns the length, or
 * -1 with err_set if CAP is too small. LABEL must not need JSON escaping.
 */
int progress_json(const struct progress *p, int final, char *buf, size_t cap);

#endif
