/* Receiving a ferry tree stream: staged, verified, then made visible (base) or committed through a redo journal (incremental). */
#ifndef FERRY_TREERECV_H
#define FERRY_TREERECV_H

#include <stddef.h>

#include "core/io.h"
#include "core/progress.h"
#include "core/stream.h"
#include "core/tree.h"

struct tree_recv_opts {
	const char *dst;	     /* the target directory (created by a base stream) */
	const char *state_dir;	     /* this target's state directory (created if missing) */
	int expect_kind;	     /* 0: any; STREAM_KIND_BASE or STREAM_KIND_INCREMENTAL */
	const char *expect_snapshot; /* NULL: any; else the stream must create this snapshot */
	const char *expect_from;     /* NULL: any; else an incremental from this snapshot */
	struct progress *progress;   /* NULL: none */
};

/* What the stream said and what the target holds afterwards (also filled on failure, as known). */
struct tree_recv_info {
	int kind;				 /* of the stream, 0 if its header was not read */
	char snapshot[STREAM_SNAP_NAME_MAX + 1]; /* the stream's snapshot */
	char from[STREAM_SNAP_NAME_MAX + 1];	 /* its base ("" for a base stream) */
	char held[STREAM_SNAP_NAME_MAX + 1];	 /* the target's snapshot now, "" for none */
	int already; /* 1: the target already held the snapshot; nothing changed */
};

/*
 * Receives one stream from IN into O->dst. First finishes (or discards) an
 * earlier interrupted receive of this target. Checks the header against
 * O->expect_* and against the snapshot the target holds before writing
 * anything. A base stream is received into a hidden staging directory next
 * to DST (same file system) and renamed into place only after its END
 * record verified; DST must be missing or an empty directory. An
 * incremental stream is staged likewise and applied through a redo journal
 * committed after verification, so an interruption before the commit
 * leaves DST as it was and one after it is finished by the next receive.
 * A stream for the snapshot the target already holds is verified and
 * otherwise ignored (info->already = 1). Takes the state directory's lock.
 * Fills *INFO and *ST (either may be NULL). 0 or -1 with err_set.
 */
int tree_recv(const struct tree_recv_opts *o, struct io_chan *in, struct tree_recv_info *info,
	      struct tree_stats *st);

/*
 * The snapshot DST holds according to STATE_DIR: 1 with its name in NAME
 * (CAP >= STREAM_SNAP_NAME_MAX + 1), 0 if none (or DST is not the
 * directory the record was made for), -1 with err_set. A receive
 * interrupted after its commit still shows the earlier snapshot until
 * tree_recv_recover (or the next tree_recv) finishes it.
 */
int tree_held(const char *state_dir, const char *dst, char *name, size_t cap);
/* Finishes or discards an interrupted receive into DST (takes the lock). 0 or -1. */
int tree_recv_recover(const char *state_dir, const char *dst);
/*
 * Forgets what DST holds: discards an interrupted receive and removes the
 * held record (DST itself is left alone). 0 or -1.
 */
int tree_recv_forget(const char *state_dir, const char *dst);

#endif
