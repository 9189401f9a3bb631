/* Files on disk: atomic replacement (temp, fsync, rename, fsync dir), bounded reads, locks, trees. */
#include "core/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/io.h"

int file_name_ok(const char *name)
{
	return name && name[0] && strcmp(name, ".") && strcmp(name, "..") && !strchr(name, '/');
}

int file_fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0 && errno != EINVAL)
		return err_set_errno("fsync directory");
	return 0;
}

int file_fsync_dir_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno("%s", path);
	int r = file_fsync_dir(fd);
	close(fd);
	return r;
}

int file_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	unsigned long long seq =
		((unsigned long long)getpid() << 20) ^ (unsigned long long)(uintptr_t)&tmp;
	int fd = -1;

	if (!file_name_ok(name) || strlen(name) > NAME_MAX - 24)
		return err_set("bad file name '%s'", name);
	for (int tries = 0; fd < 0 && tries < 100; tries++, seq++) {
		snprintf(tmp, sizeof(tmp), ".%s.tmp%llx", name, seq);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			return err_set_errno("create %s", tmp);
	}
	if (fd < 0)
		return err_set("create temporary file for %s: too many collisions", name);
	if (fchmod(fd, mode) < 0 || io_write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		err_set_errno("write %s", name);
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (close(fd) < 0) {
		err_set_errno("close %s", name);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		err_set_errno("rename %s", name);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return file_fsync_dir(dirfd);
}

int file_write_atomic_path(const char *path, const void *data, size_t len, mode_t mode)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (slash) {
		size_t n = (size_t)(slash - path);
		if (n == 0)
			n = 1; /* "/name" */
		if (n >= sizeof(dir))
			return err_set("path too long: %s", path);
		memcpy(dir, path, n);
		dir[n] = 0;
	} else {
		strcpy(dir, ".");
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set_errno("%s", dir);
	int r = file_write_atomic(dfd, name, data, len, mode);
	close(dfd);
	if (r < 0)
		err_prefix("%s", path);
	return r;
}

int file_read_all(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set_errno("%s", name);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set("%s: not a regular file", name);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set("%s: larger than %zu bytes", name, max);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return err_set("%s: out of memory", name);
	}
	ssize_t n = io_read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(buf);
		return err_prefix("%s", name);
	}
	buf[n] = 0;
	*out = buf;
	if (len)
		*len = (size_t)n;
	return 0;
}

int file_lock(int dirfd, const char *name, int op)
{
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set_errno("lock %s", name);
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		errno = e;
		if (e == EWOULDBLOCK)
			return err_set("%s is locked by another ferry command", name);
		return err_set_errno("lock %s", name);
	}
	return fd;
}

int file_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return err_set("bad directory path '%s'", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return err_set_errno("mkdir %s", buf);
			*p = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return err_set_errno("%s", path);
	if (!S_ISDIR(st.st_mode))
		return err_set("%s: not a directory", path);
	return 0;
}

static int remove_contents(int fd, dev_t dev);

static int remove_entry(int dirfd, const char *name, dev_t dev)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set_errno("%s", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return err_set_errno("remove %s", name);
		return 0;
	}
	if (dev && st.st_dev != dev)
		return err_set("%s: is a mount point, not removing", name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno("open %s", name);
	int r = remove_contents(fd, st.st_dev);
	close(fd);
	if (r < 0)
		return err_prefix("%s", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_set_errno("remove %s", name);
	return 0;
}

static int remove_contents(int fd, dev_t dev)
{
	int dup_fd = dup(fd);
	if (dup_fd < 0)
		return err_set_errno("dup");
	DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return err_set_errno("opendir");
	}
	int r = 0;
	struct dirent *e;
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				r = err_set_errno("readdir");
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (remove_entry(fd, e->d_name, dev) < 0) {
			r = -1;
			break;
		}
	}
	closedir(d);
	return r;
}

int file_remove_tree(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_set_errno("%s", name);
	return remove_entry(dirfd, name, S_ISDIR(st.st_mode) ? st.st_dev : 0);
}
