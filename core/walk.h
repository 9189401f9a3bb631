/* A sorted, depth-first walk of one directory tree that stays on its file system. */
#ifndef FERRY_WALK_H
#define FERRY_WALK_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/stream.h"

/*
 * Visits the root, then each directory's names sorted by strcmp, depth
 * first (the tree order of stream_path_cmp), with a LEAVE after each
 * directory's contents. Mount points below the root and sockets are
 * skipped (reported through WARN); names that vanish between readdir and
 * lstat are skipped silently. Memory: the sorted names of the directories
 * currently open (one list per depth), nothing per file visited.
 */
enum walk_event { WALK_DONE = 0, WALK_ENTRY = 1, WALK_LEAVE = 2 };

struct walk_item {
	int event;
	const char *path; /* relative to the root, "" for the root */
	size_t path_len;
	const char *name; /* last component ("" for the root) */
	size_t name_len;
	int dirfd;	/* directory holding NAME (for the root: the root, NAME ".") */
	int fd;		/* directories: an open descriptor of the directory itself */
	unsigned depth; /* directories open above this entry (0 for the root) */
	struct stat st; /* lstat of the entry */
};

struct walk_level {
	int fd;
	char **names;
	char *arena;
	size_t count, next, path_len;
};

struct walk {
	struct walk_level lv[STREAM_DEPTH_MAX];
	unsigned depth;
	int pending_fd; /* a directory returned but not yet entered */
	struct stat pending_st;
	int started, done;
	dev_t dev;
	char path[STREAM_PATH_MAX];
	size_t path_len;
	const char *root;
	unsigned long long skipped;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

/* Opens ROOT (a directory; a symlink to one is followed). 0 or -1 with err_set. */
int walk_open(struct walk *w, const char *root, void (*warn_fn)(void *, const char *),
	      void *warn_ctx);
/*
 * Returns the next item: 1 (see it->event), 0 when the walk is over, -1
 * with err_set. IT's pointers and descriptors stay valid until the next call.
 */
int walk_next(struct walk *w, struct walk_item *it);
/* Closes every descriptor and frees the name lists. Safe after any result. */
void walk_close(struct walk *w);

#endif
