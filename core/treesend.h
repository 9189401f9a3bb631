/* Sending a directory tree as a ferry stream (base or incremental) and the sender's snapshot records. */
#ifndef FERRY_TREESEND_H
#define FERRY_TREESEND_H

#include <stdint.h>

#include "core/io.h"
#include "core/progress.h"
#include "core/tree.h"

struct tree_send_opts {
	const char *src;       /* the directory to send (a symlink to one is followed) */
	const char *state_dir; /* this tree's state directory (created if missing) */
	const char *snapshot;  /* name recorded for what is sent; must not exist yet */
	const char *from;      /* base snapshot for an incremental stream, NULL for a base */
	int compress;	       /* 1: LZ4 blocks (incompressible blocks go stored); 0: all stored */
	uint64_t size_hint;    /* expected file bytes for the receiver's ETA, 0 = unknown */
	struct progress *progress; /* NULL: none */
	tree_warn_fn *warn;	   /* skipped sockets and mount points; NULL: silent */
	void *warn_ctx;
};

/*
 * Writes the stream of O->src to OUT: a base stream, or with O->from the
 * changes since that snapshot. The manifest of the new snapshot is
 * recorded atomically only after the whole stream (END included) was
 * written and flushed; a failed send records nothing. Takes the state
 * directory's lock (fails at once if busy). Fills *ST (may be NULL).
 * No global state: safe to run in several threads on different trees.
 * 0 or -1 with err_set.
 */
int tree_send(const struct tree_send_opts *o, struct io_chan *out, struct tree_stats *st);

/*
 * Calls FN(CTX, NAME) for each snapshot recorded in STATE_DIR, sorted by
 * name; stops early when FN returns non-zero. A missing STATE_DIR has no
 * snapshots. 0, or FN's non-zero result, or -1 with err_set.
 */
int tree_snapshot_list(const char *state_dir, int (*fn)(void *ctx, const char *name), void *ctx);
/* 1 if snapshot NAME is recorded in STATE_DIR, 0 if not, -1 with err_set. */
int tree_snapshot_exists(const char *state_dir, const char *name);
/* Deletes snapshot NAME (under the lock). 0 dropped, 1 was not there, -1 with err_set. */
int tree_snapshot_drop(const char *state_dir, const char *name);
/*
 * Walks SRC as tree_send would and adds up the apparent size of its
 * regular files and their number (for progress totals). 0 or -1.
 */
int tree_estimate(const char *src, uint64_t *bytes, uint64_t *files);

#endif
