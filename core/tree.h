/* Directory trees as ferry streams: what send and receive share (statistics, the per-tree state directory). */
#ifndef FERRY_TREE_H
#define FERRY_TREE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A tree's state directory holds that tree's snapshot records (layout in
 * docs/stream-format.md, "State directories"):
 *   lock               flock'd by every send, receive and drop
 *   snapshots/NAME     sending side: the manifest recorded by a send
 *   held               receiving side: the snapshot the target holds
 * Without --state, ROOT/trees/HASH, HASH the XXH64 of the tree's absolute
 * path (ROOT: node_root()).
 */
#define TREE_STATES_DIR	   "trees"
#define TREE_SNAPSHOTS_DIR "snapshots"
#define TREE_HELD_FILE	   "held"
#define TREE_LOCK_FILE	   "lock"

/* What a send or receive moved; wire_bytes/raw_bytes is the compression ratio. */
struct tree_stats {
	uint64_t entries;    /* ENTRY and LINK records */
	uint64_t files;	     /* regular files whose content travelled */
	uint64_t data_bytes; /* file content bytes (before compression) */
	uint64_t wire_bytes; /* bytes of the stream */
	uint64_t raw_bytes;  /* bytes the stream would have taken uncompressed */
	uint64_t deleted;    /* DELETE records */
	uint64_t skipped;    /* sockets and mount points left out (send) */
};

/* Reports a non-fatal problem (a skipped socket or mount point) to the caller. */
typedef void tree_warn_fn(void *ctx, const char *msg);

/*
 * Absolute form of PATH without resolving its last component:
 * realpath(dirname) + "/" + basename. The parent must exist. 0 or -1.
 */
int tree_abs_path(const char *path, char *buf, size_t cap);
/* The default state directory of TREE under state root ROOT into BUF. 0 or -1. */
int tree_state_default(char *buf, size_t cap, const char *root, const char *tree);
/*
 * Opens STATE_DIR (creating it and its parents, mode 0700) and takes its
 * lock without waiting. Returns the directory descriptor and sets *LOCK_FD
 * (close both to release), or -1 with err_set ("... is locked by another
 * ferry command" when busy).
 */
int tree_state_open(const char *state_dir, int *lock_fd);

#endif
