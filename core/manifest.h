/* Snapshot manifests: what a send recorded, one entry per path in tree order, read and written as streams. */
#ifndef FERRY_MANIFEST_H
#define FERRY_MANIFEST_H

#include <stdint.h>
#include <sys/stat.h>

#include "core/stream.h"

#define MANIFEST_MAGIC                                                                             \
	"\x89"                                                                                     \
	"FSNAP\r\n"
#define MANIFEST_ENTRY_MAX (STREAM_PATH_MAX + 128) /* record bound while reading */

/*
 * One entry: the stat fields change detection compares, and HASH, the
 * XXH64 of a regular file's sent data (offsets and bytes) or of a symlink's
 * target. CTIME is the one observed before the content was read, so a file
 * written while it was sent differs next time.
 */
struct manifest_entry {
	size_t path_len;
	char path[STREAM_PATH_MAX];
	uint32_t mode, uid, gid, nlink;
	uint64_t ino, size, rdev, hash;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
};

/* Fills the stat fields of E from ST (path and hash untouched). */
void manifest_entry_stat(struct manifest_entry *e, const struct stat *st);

/* Writes a manifest to a temporary file, renamed into place by manifest_commit. Heap-allocate. */
struct manifest_writer {
	int dirfd, fd;
	char name[STREAM_SNAP_NAME_MAX + 1];
	char tmp[STREAM_SNAP_NAME_MAX + 32];
	struct io_chan ch;
	struct io_out out;
	uint8_t buf[64 << 10];
	uint8_t rec[MANIFEST_ENTRY_MAX];
	struct stream_writer sw;
	uint64_t entries;
};

/*
 * Starts the manifest NAME in directory DIRFD (not taken) as a temporary
 * file. SNAPSHOT and FROM ("" for a base) go into its header. 0 or -1.
 */
int manifest_create(struct manifest_writer *m, int dirfd, const char *name, const char *from);
/* Appends E (entries must come in strictly increasing tree order). 0 or -1. */
int manifest_add(struct manifest_writer *m, const struct manifest_entry *e);
/* Ends, fsyncs and renames the manifest into place; fsyncs the directory. 0 or -1. */
int manifest_commit(struct manifest_writer *m);
/* Removes the temporary file of an unfinished manifest. Safe after commit (no-op). */
void manifest_abort(struct manifest_writer *m);

/* Reads a manifest sequentially, verifying checksums, order and the END totals. Heap-allocate. */
struct manifest_reader {
	int fd;
	struct io_chan ch;
	struct io_in in;
	uint8_t buf[64 << 10];
	uint8_t rec[MANIFEST_ENTRY_MAX];
	struct stream_reader sr;
	struct stream_header header;
	uint64_t entries;
	char prev[STREAM_PATH_MAX];
	int have_prev, done;
};

/* Opens manifest NAME in DIRFD and reads its header. 0 or -1 with err_set. */
int manifest_open(struct manifest_reader *m, int dirfd, const char *name);
/* Next entry into E: 1, or 0 at the verified end, or -1 with err_set. */
int manifest_next(struct manifest_reader *m, struct manifest_entry *e);
void manifest_close(struct manifest_reader *m);

#endif
