/* The sorted tree walk: one directory's names in memory per depth, descriptors relative to their parent. */
#include "core/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

static void walk_warn(struct walk *w, const char *fmt, const char *path)
{
	char msg[STREAM_PATH_MAX + 128];
	w->skipped++;
	if (!w->warn)
		return;
	snprintf(msg, sizeof(msg), fmt, path);
	w->warn(w->warn_ctx, msg);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void level_free(struct walk_level *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->names);
	free(l->arena);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/* Reads and sorts the names of directory FD into a new level. Takes FD. */
static int level_push(struct walk *w, int fd)
{
	if (w->depth >= STREAM_DEPTH_MAX) {
		close(fd);
		return err_set("/%s: directories nested deeper than %d", w->path, STREAM_DEPTH_MAX);
	}
	struct walk_level *l = &w->lv[w->depth];
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->path_len = w->path_len;
	int dfd = dup(fd);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		level_free(l);
		return err_set_errno("/%s: opendir", w->path);
	}
	size_t used = 0, cap = 0, count = 0, ncap = 0;
	size_t *offs = NULL;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			if (errno)
				r = err_set_errno("/%s: readdir", w->path);
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t n = strlen(e->d_name) + 1;
		if (used + n > cap) {
			size_t nc = cap ? cap * 2 : 4096;
			while (nc < used + n)
				nc *= 2;
			char *a = realloc(l->arena, nc);
			if (!a) {
				r = err_set("/%s: out of memory", w->path);
				break;
			}
			l->arena = a;
			cap = nc;
		}
		if (count == ncap) {
			size_t nc = ncap ? ncap * 2 : 64;
			size_t *o = realloc(offs, nc * sizeof(*o));
			if (!o) {
				r = err_set("/%s: out of memory", w->path);
				break;
			}
			offs = o;
			ncap = nc;
		}
		memcpy(l->arena + used, e->d_name, n);
		offs[count++] = used;
		used += n;
	}
	closedir(d);
	if (r == 0 && count) {
		l->names = malloc(count * sizeof(char *));
		if (!l->names)
			r = err_set("/%s: out of memory", w->path);
		else
			for (size_t i = 0; i < count; i++)
				l->names[i] = l->arena + offs[i];
	}
	free(offs);
	if (r < 0) {
		level_free(l);
		return -1;
	}
	if (count)
		qsort(l->names, count, sizeof(char *), name_cmp);
	l->count = count;
	w->depth++;
	return 0;
}

int walk_open(struct walk *w, const char *root, void (*warn_fn)(void *, const char *),
	      void *warn_ctx)
{
	memset(w, 0, sizeof(*w));
	for (unsigned i = 0; i < STREAM_DEPTH_MAX; i++)
		w->lv[i].fd = -1;
	w->pending_fd = -1;
	w->root = root;
	w->warn = warn_fn;
	w->warn_ctx = warn_ctx;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno("%s", root);
	if (fstat(fd, &w->pending_st) < 0) {
		close(fd);
		return err_set_errno("%s", root);
	}
	w->dev = w->pending_st.st_dev;
	w->pending_fd = fd;
	return 0;
}

void walk_close(struct walk *w)
{
	while (w->depth)
		level_free(&w->lv[--w->depth]);
	if (w->pending_fd >= 0)
		close(w->pending_fd);
	w->pending_fd = -1;
	w->done = 1;
}

int walk_next(struct walk *w, struct walk_item *it)
{
	memset(it, 0, sizeof(*it));
	it->fd = -1;
	if (w->done)
		return 0;
	if (!w->started) {
		w->started = 1;
		it->event = WALK_ENTRY;
		it->path = w->path;
		it->name = "";
		it->dirfd = w->pending_fd;
		it->fd = w->pending_fd;
		it->st = w->pending_st;
		return 1;
	}
	if (w->pending_fd >= 0) { /* enter the directory returned last time */
		int fd = w->pending_fd;
		w->pending_fd = -1;
		if (level_push(w, fd) < 0)
			return -1;
	}
	for (;;) {
		if (w->depth == 0) {
			w->done = 1;
			return 0;
		}
		struct walk_level *l = &w->lv[w->depth - 1];
		w->path_len = l->path_len;
		w->path[w->path_len] = 0;
		if (l->next == l->count) {
			it->event = WALK_LEAVE;
			it->path = w->path;
			it->path_len = w->path_len;
			it->depth = w->depth - 1;
			size_t start = w->depth > 1 ? w->lv[w->depth - 2].path_len : 0;
			it->name = w->path + start + (start ? 1 : 0);
			it->name_len = w->path_len - (size_t)(it->name - w->path);
			level_free(l);
			w->depth--;
			return 1;
		}
		const char *name = l->names[l->next++];
		size_t n = strlen(name), sep = w->path_len ? 1 : 0;
		if (w->path_len + sep + n >= STREAM_PATH_MAX)
			return err_set("/%s/%s: path longer than %d bytes", w->path, name,
				       STREAM_PATH_MAX - 1);
		if (sep)
			w->path[w->path_len] = '/';
		memcpy(w->path + w->path_len + sep, name, n + 1);
		size_t plen = w->path_len + sep + n;
		if (fstatat(l->fd, name, &it->st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* vanished since readdir */
			return err_set_errno("/%s: lstat", w->path);
		}
		if (S_ISSOCK(it->st.st_mode)) {
			walk_warn(w, "/%s: socket skipped", w->path);
			continue;
		}
		if (it->st.st_dev != w->dev) {
			walk_warn(w, "/%s: on another file system (mount point), skipped", w->path);
			continue;
		}
		it->event = WALK_ENTRY;
		it->path = w->path;
		it->path_len = plen;
		it->name = w->path + plen - n;
		it->name_len = n;
		it->dirfd = l->fd;
		it->depth = w->depth;
		if (S_ISDIR(it->st.st_mode)) {
			int fd = openat(l->fd, name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
					continue; /* replaced since lstat */
				return err_set_errno("/%s: open directory", w->path);
			}
			if (fstat(fd, &it->st) < 0) {
				close(fd);
				return err_set_errno("/%s", w->path);
			}
			it->fd = fd;
			w->pending_fd = fd;
			w->path_len = plen;
		}
		return 1;
	}
}
