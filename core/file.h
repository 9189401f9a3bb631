/* Files on disk: atomic replacement, bounded reads, locks, directory trees. */
#ifndef FERRY_FILE_H
#define FERRY_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replaces DIRFD/NAME with DATA atomically: writes a temporary file in the
 * same directory with MODE from creation on, fsyncs it, renames it over
 * NAME and fsyncs the directory. NAME must be a plain file name. 0 or -1.
 */
int file_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
/* Same, with a path (its directory must exist). */
int file_write_atomic_path(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Reads a whole regular file of at most MAX bytes (without following a
 * symlink in the last component) into a malloc'd, NUL-terminated buffer.
 * *LEN gets the length without the NUL. Larger files are an error. 0 or -1.
 */
int file_read_all(int dirfd, const char *name, size_t max, char **out, size_t *len);

/*
 * Opens (creating with 0600 if needed) DIRFD/NAME and takes an flock of
 * kind OP (LOCK_SH or LOCK_EX, optionally | LOCK_NB). Returns the locked
 * descriptor (close it to unlock), or -1; with LOCK_NB a lock held by
 * someone else fails with errno EWOULDBLOCK.
 */
int file_lock(int dirfd, const char *name, int op);

/* fsyncs the directory DIRFD (or PATH). 0 or -1. */
int file_fsync_dir(int dirfd);
int file_fsync_dir_path(const char *path);

/* Creates PATH and its missing parents with MODE. Existing directories are fine. 0 or -1. */
int file_mkdir_p(const char *path, mode_t mode);

/*
 * Removes DIRFD/NAME and everything beneath it without following symlinks
 * and without crossing into other filesystems' mount points. A missing NAME
 * is not an error. 0 or -1.
 */
int file_remove_tree(int dirfd, const char *name);

/* 1 if NAME is a plain file name (not empty, not . or .., no '/'), else 0. */
int file_name_ok(const char *name);

#endif
