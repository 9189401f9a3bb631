/* tree_send: walk the source in tree order, merge it against the base manifest, write the stream and the new manifest. */
#include "core/treesend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "core/cursor.h"
#include "core/err.h"
#include "core/lz4.h"
#include "core/manifest.h"
#include "core/stream.h"
#include "core/walk.h"
#include "core/xxh64.h"

#define SEND_OUT_BUF	 (256u << 10)
#define SEND_XATTR_LIST	 65536
#define SEND_ENTRY_SLACK (16u << 10) /* room for the rest of an ENTRY (and a journal path) */

/* The hard-link table: inodes with more than one link seen so far in this walk. */
struct link {
	uint64_t ino;
	char *path;
	int moved; /* the receiver's inode at PATH is a new one (content sent, or a link) */
	uint64_t hash;
};

struct level {
	int emitted;
	size_t name_off, name_len; /* the directory's name inside the walk's path */
	int64_t sec;
	uint32_t nsec;
};

struct send {
	const struct tree_send_opts *o;
	struct tree_stats st;
	struct io_out out;
	struct stream_writer sw;
	struct walk walk;
	int incremental;
	struct manifest_reader *base;
	struct manifest_entry m; /* current base entry, valid if m_valid */
	int m_valid;
	struct manifest_writer *mw;
	struct manifest_entry cur;
	struct stream_entry e;
	struct stream_named nm;
	struct level lvl[STREAM_DEPTH_MAX];
	struct link *links;
	size_t links_cap, links_count;
	uint64_t entries;
	char xlist[SEND_XATTR_LIST];
	uint8_t xval[STREAM_XATTR_VALUE_MAX];
	uint8_t xattrs[STREAM_RECORD_MAX - SEND_ENTRY_SLACK];
	uint8_t rec[STREAM_RECORD_MAX];
	uint8_t block[STREAM_BLOCK_MAX];
	uint8_t zbuf[STREAM_BLOCK_MAX + STREAM_BLOCK_MAX / 255 + 64];
	uint8_t outbuf[SEND_OUT_BUF];
};

/* ---- Hard-link table -------------------------------------------------------- */

static struct link *link_find(struct send *s, uint64_t ino)
{
	if (!s->links_cap)
		return NULL;
	size_t mask = s->links_cap - 1;
	for (size_t i = (size_t)(ino * 0x9E3779B97F4A7C15ULL) & mask;; i = (i + 1) & mask) {
		if (!s->links[i].path)
			return NULL;
		if (s->links[i].ino == ino)
			return &s->links[i];
	}
}

static int link_add(struct send *s, uint64_t ino, const char *path, int moved, uint64_t hash)
{
	if ((s->links_count + 1) * 2 > s->links_cap) {
		size_t ncap = s->links_cap ? s->links_cap * 2 : 1024;
		struct link *n = calloc(ncap, sizeof(*n));
		if (!n)
			return err_set("out of memory (hard-link table)");
		for (size_t i = 0; i < s->links_cap; i++) {
			if (!s->links[i].path)
				continue;
			size_t j = (size_t)(s->links[i].ino * 0x9E3779B97F4A7C15ULL) & (ncap - 1);
			while (n[j].path)
				j = (j + 1) & (ncap - 1);
			n[j] = s->links[i];
		}
		free(s->links);
		s->links = n;
		s->links_cap = ncap;
	}
	size_t mask = s->links_cap - 1;
	size_t i = (size_t)(ino * 0x9E3779B97F4A7C15ULL) & mask;
	while (s->links[i].path)
		i = (i + 1) & mask;
	s->links[i].path = strdup(path);
	if (!s->links[i].path)
		return err_set("out of memory (hard-link table)");
	s->links[i].ino = ino;
	s->links[i].moved = moved;
	s->links[i].hash = hash;
	s->links_count++;
	return 0;
}

static void links_free(struct send *s)
{
	for (size_t i = 0; i < s->links_cap; i++)
		free(s->links[i].path);
	free(s->links);
	s->links = NULL;
	s->links_cap = s->links_count = 0;
}

/* ---- Records ---------------------------------------------------------------- */

static int put(struct send *s, uint16_t type, const void *a, size_t alen, const void *b,
	       size_t blen)
{
	return stream_write(&s->sw, type, a, alen, b, blen);
}

static int put_named(struct send *s, uint16_t type, const char *name, size_t name_len, int64_t sec,
		     uint32_t nsec, const char *path)
{
	struct stream_named *nm = &s->nm;
	memcpy(nm->name, name, name_len);
	nm->name[name_len] = 0;
	nm->name_len = name_len;
	nm->mtime_sec = sec;
	nm->mtime_nsec = nsec;
	nm->path_len = 0;
	nm->path[0] = 0;
	if (path) {
		nm->path_len = strlen(path);
		memcpy(nm->path, path, nm->path_len + 1);
	}
	long n = stream_encode_named(s->rec, sizeof(s->rec), type, nm);
	if (n < 0)
		return -1;
	return put(s, type, s->rec, (size_t)n, NULL, 0);
}

/* Emits the ENTER records of open directories 0..N-1 not yet in the stream. */
static int flush_levels(struct send *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct level *l = &s->lvl[i];
		if (l->emitted)
			continue;
		if (put_named(s, STREAM_ENTER, s->walk.path + l->name_off, l->name_len, l->sec,
			      l->nsec, NULL) < 0)
			return -1;
		l->emitted = 1;
	}
	return 0;
}

/* Reads the carried extended attributes of an entry into s->e. FD >= 0, or DIRFD/NAME via /proc. */
static int read_xattrs(struct send *s, int fd, int dirfd, const char *name, const char *path)
{
	char proc[64 + STREAM_NAME_MAX];
	ssize_t n;
	size_t len = 0;
	s->e.xattr_count = 0;
	s->e.xattrs = s->xattrs;
	s->e.xattrs_len = 0;
	if (fd < 0 &&
	    snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name) >= (int)sizeof(proc))
		return err_set("/%s: name too long", path);
	n = fd >= 0 ? flistxattr(fd, s->xlist, sizeof(s->xlist))
		    : llistxattr(proc, s->xlist, sizeof(s->xlist));
	if (n < 0) {
		if (errno == ENOTSUP || errno == ENOSYS)
			return 0;
		return err_set_errno("/%s: list extended attributes", path);
	}
	for (char *a = s->xlist; a < s->xlist + n; a += strlen(a) + 1) {
		if (!*a)
			continue;
		if (!stream_xattr_name_ok(a, strlen(a))) {
			if (s->o->warn) {
				char msg[STREAM_PATH_MAX + 300];
				snprintf(msg, sizeof(msg),
					 "/%s: extended attribute %.255s not carried", path, a);
				s->o->warn(s->o->warn_ctx, msg);
			}
			continue;
		}
		ssize_t v = fd >= 0 ? fgetxattr(fd, a, s->xval, sizeof(s->xval))
				    : lgetxattr(proc, a, s->xval, sizeof(s->xval));
		if (v < 0) {
			if (errno == ENODATA)
				continue; /* removed meanwhile */
			return err_set_errno("/%s: extended attribute %s", path, a);
		}
		if (s->e.xattr_count >= STREAM_XATTRS_MAX)
			return err_set("/%s: more than %d extended attributes", path,
				       STREAM_XATTRS_MAX);
		if (stream_xattr_append(s->xattrs, sizeof(s->xattrs), &len, a, s->xval, (size_t)v) <
		    0)
			return err_prefix("/%s", path);
		s->e.xattr_count++;
	}
	s->e.xattrs_len = len;
	return 0;
}

/* Fills s->e's common fields from ST for the entry NAME. */
static void entry_from_stat(struct send *s, const char *name, size_t name_len,
			    const struct stat *st)
{
	struct stream_entry *e = &s->e;
	e->flags = 0;
	memcpy(e->name, name, name_len);
	e->name[name_len] = 0;
	e->name_len = name_len;
	e->mode = st->st_mode & (S_IFMT | 07777);
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime_sec = st->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	e->rdev_major = major(st->st_rdev);
	e->rdev_minor = minor(st->st_rdev);
	e->target_len = 0;
}

static int put_entry(struct send *s)
{
	long n = stream_encode_entry(s->rec, sizeof(s->rec), &s->e);
	if (n < 0)
		return -1;
	s->entries++;
	s->st.entries++;
	return put(s, STREAM_ENTRY, s->rec, (size_t)n, NULL, 0);
}

/*
 * Reads the data extents of FD (SIZE bytes; holes skipped with SEEK_DATA)
 * into the content hash *HASH, and with EMIT also as DATA records.
 */
static int file_data(struct send *s, int fd, uint64_t size, int emit, uint64_t *hash,
		     const char *path)
{
	struct xxh64 h;
	uint64_t off = 0;
	int seek = 1;
	xxh64_init(&h, 0);
	while (off < size) {
		uint64_t end = size;
		if (seek) {
			off_t d = lseek(fd, (off_t)off, SEEK_DATA);
			if (d < 0 && errno == ENXIO)
				break; /* a hole up to the end */
			if (d < 0) {
				if (errno != EINVAL && errno != ENOTSUP)
					return err_set_errno("/%s: SEEK_DATA", path);
				seek = 0; /* no hole support: everything is data */
			} else {
				off = (uint64_t)d;
				off_t ho = lseek(fd, d, SEEK_HOLE);
				if (ho >= 0 && (uint64_t)ho < size)
					end = (uint64_t)ho;
			}
		}
		if (off >= size)
			break;
		while (off < end) {
			size_t want = end - off > STREAM_BLOCK_MAX ? STREAM_BLOCK_MAX : end - off;
			ssize_t r = io_pread_full(fd, s->block, want, (off_t)off);
			if (r < 0)
				return err_prefix("/%s", path);
			if (r == 0)
				return 0; /* shrank while read: the manifest's ctime makes it resend */
			uint8_t head[13];
			stream_encode_data_head(head, off, (uint32_t)r, 0);
			xxh64_update(&h, head, 12);
			xxh64_update(&h, s->block, (size_t)r);
			*hash = xxh64_digest(&h);
			if (emit) {
				long z = s->o->compress ? lz4_compress(s->block, (size_t)r, s->zbuf,
								       (size_t)r - 1)
							: 0;
				if (z > 0) {
					stream_encode_data_head(head, off, (uint32_t)r, STREAM_LZ4);
					if (put(s, STREAM_DATA, head, 13, s->zbuf, (size_t)z) < 0)
						return -1;
					s->st.raw_bytes += (uint64_t)(r - z);
				} else {
					if (put(s, STREAM_DATA, head, 13, s->block, (size_t)r) < 0)
						return -1;
				}
				s->st.data_bytes += (uint64_t)r;
				progress_add(s->o->progress, (uint64_t)r, 0);
			}
			off += (uint64_t)r;
			if ((size_t)r < want)
				return 0;
		}
	}
	*hash = xxh64_digest(&h);
	return 0;
}

static int same_stat(const struct manifest_entry *m, const struct stat *st)
{
	return m->ino == st->st_ino && m->mode == st->st_mode && m->uid == st->st_uid &&
	       m->gid == st->st_gid && m->size == (uint64_t)st->st_size && m->rdev == st->st_rdev &&
	       m->nlink == st->st_nlink && m->mtime_sec == st->st_mtim.tv_sec &&
	       m->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
	       m->ctime_sec == st->st_ctim.tv_sec && m->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec;
}

/* ---- Merge against the base manifest ---------------------------------------------- */

static int base_next(struct send *s)
{
	if (!s->base) {
		s->m_valid = 0;
		return 0;
	}
	int r = manifest_next(s->base, &s->m);
	if (r < 0)
		return err_prefix("snapshot %s", s->o->from);
	s->m_valid = r;
	return 0;
}

/* 1 if PATH lies strictly below directory DIR. */
static int is_under(const char *path, const char *dir, size_t dir_len)
{
	if (dir_len == 0)
		return path[0] != 0;
	return !strncmp(path, dir, dir_len) && path[dir_len] == '/';
}

/* Skips the base entries below the current one (a directory that is gone or no longer one). */
static int base_skip_subtree(struct send *s, const char *path)
{
	size_t n = strlen(path);
	char dir[STREAM_PATH_MAX];
	memcpy(dir, path, n + 1);
	do {
		if (base_next(s) < 0)
			return -1;
	} while (s->m_valid && is_under(s->m.path, dir, n));
	return 0;
}

/* The base entry s->m is gone: DELETE it in the directory at depth LEVEL. */
static int delete_current(struct send *s, unsigned level, const char *dir, size_t dir_len)
{
	const char *slash = strrchr(s->m.path, '/');
	const char *name = slash ? slash + 1 : s->m.path;
	size_t parent_len = slash ? (size_t)(slash - s->m.path) : 0;
	if (parent_len != dir_len || strncmp(s->m.path, dir, dir_len) || !*name)
		return err_set("snapshot %s: manifest out of step at /%s", s->o->from, s->m.path);
	if (flush_levels(s, level + 1) < 0 ||
	    put_named(s, STREAM_DELETE, name, strlen(name), 0, 0, NULL) < 0)
		return -1;
	s->st.deleted++;
	if (S_ISDIR(s->m.mode))
		return base_skip_subtree(s, s->m.path);
	return base_next(s);
}

/* Deletes the base entries that sort before PATH (children of directory LEVEL, DIR). */
static int deletions_before(struct send *s, const char *path, unsigned level, const char *dir,
			    size_t dir_len)
{
	while (s->m_valid && stream_path_cmp(s->m.path, path) < 0)
		if (delete_current(s, level, dir, dir_len) < 0)
			return -1;
	return 0;
}

/* ---- Entries ---------------------------------------------------------------------- */

static int send_dir(struct send *s, const struct walk_item *it)
{
	unsigned k = it->depth;
	struct level *l = &s->lvl[k];
	l->emitted = 0;
	l->name_off = k ? (size_t)(it->name - it->path) : 0;
	l->name_len = it->name_len;
	l->sec = it->st.st_mtim.tv_sec;
	l->nsec = (uint32_t)it->st.st_mtim.tv_nsec;
	int have = s->m_valid && stream_path_cmp(s->m.path, it->path) == 0;
	int unchanged = have && S_ISDIR(s->m.mode) && same_stat(&s->m, &it->st);
	if (!unchanged) {
		if (flush_levels(s, k) < 0)
			return -1;
		entry_from_stat(s, it->name, it->name_len, &it->st);
		if (read_xattrs(s, it->fd, -1, NULL, it->path) < 0 || put_entry(s) < 0)
			return -1;
		l->emitted = 1;
	} else if (k == 0 && flush_levels(s, 1) < 0) { /* the root is always in the stream */
		return -1;
	}
	if (have && base_next(s) < 0)
		return -1;
	return 0;
}

static int send_file_content(struct send *s, const struct walk_item *it,
			     const struct manifest_entry *old, uint64_t *hash, int *moved)
{
	int fd = openat(it->dirfd, it->name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(it->dirfd, it->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENXIO)
			return 1; /* vanished or replaced since the walk saw it */
		return err_set_errno("/%s: open", it->path);
	}
	struct stat st;
	int r = -1;
	if (fstat(fd, &st) < 0) {
		err_set_errno("/%s", it->path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_ino != it->st.st_ino) {
		r = 1;
		goto out;
	}
	manifest_entry_stat(&s->cur, &st); /* the ctime seen before reading */
	int keep_possible = old && S_ISREG(old->mode) && old->ino == st.st_ino &&
			    old->size == (uint64_t)st.st_size &&
			    old->mtime_sec == st.st_mtim.tv_sec &&
			    old->mtime_nsec == (uint32_t)st.st_mtim.tv_nsec;
	entry_from_stat(s, it->name, it->name_len, &st);
	if (read_xattrs(s, fd, -1, NULL, it->path) < 0)
		goto out;
	if (keep_possible) {
		uint64_t h = 0;
		if (file_data(s, fd, (uint64_t)st.st_size, 0, &h, it->path) < 0)
			goto out;
		if (h == old->hash) { /* metadata only */
			s->e.flags = STREAM_ENTRY_KEEP_DATA;
			*hash = h;
			*moved = 0;
			r = put_entry(s);
			goto out;
		}
	}
	*hash = 0;
	*moved = 1;
	if (put_entry(s) < 0 || file_data(s, fd, (uint64_t)st.st_size, 1, hash, it->path) < 0)
		goto out;
	s->st.files++;
	progress_add(s->o->progress, 0, 1);
	r = 0;
out:
	close(fd);
	return r;
}

static int send_other(struct send *s, const struct walk_item *it, uint64_t *hash)
{
	entry_from_stat(s, it->name, it->name_len, &it->st);
	if (S_ISLNK(it->st.st_mode)) {
		ssize_t n = readlinkat(it->dirfd, it->name, s->e.target, sizeof(s->e.target));
		if (n < 0) {
			if (errno == ENOENT || errno == EINVAL)
				return 1;
			return err_set_errno("/%s: readlink", it->path);
		}
		if ((size_t)n >= sizeof(s->e.target) || n == 0)
			return err_set("/%s: symlink target too long", it->path);
		s->e.target[n] = 0;
		s->e.target_len = (size_t)n;
		*hash = xxh64(s->e.target, (size_t)n, 0);
	}
	if (read_xattrs(s, -1, it->dirfd, it->name, it->path) < 0)
		return -1;
	return put_entry(s);
}

static int send_nondir(struct send *s, const struct walk_item *it)
{
	struct manifest_entry old;
	int have = s->m_valid && stream_path_cmp(s->m.path, it->path) == 0;
	if (have) {
		old = s->m;
		if (S_ISDIR(old.mode) ? base_skip_subtree(s, old.path) < 0 : base_next(s) < 0)
			return -1;
	}
	s->cur.path_len = it->path_len;
	memcpy(s->cur.path, it->path, it->path_len + 1);
	manifest_entry_stat(&s->cur, &it->st);
	s->cur.hash = 0;
	int unchanged = have && same_stat(&old, &it->st);
	struct link *l = it->st.st_nlink > 1 ? link_find(s, it->st.st_ino) : NULL;
	if (l) {
		if (!unchanged || l->moved) {
			if (flush_levels(s, it->depth) < 0 ||
			    put_named(s, STREAM_LINK, it->name, it->name_len, 0, 0, l->path) < 0)
				return -1;
			s->entries++;
			s->st.entries++;
		}
		s->cur.hash = l->hash;
		return manifest_add(s->mw, &s->cur);
	}
	int moved = 0, r = 0;
	if (unchanged) {
		s->cur.hash = old.hash;
	} else {
		if (flush_levels(s, it->depth) < 0)
			return -1;
		moved = 1;
		if (S_ISREG(it->st.st_mode))
			r = send_file_content(s, it, have ? &old : NULL, &s->cur.hash, &moved);
		else
			r = send_other(s, it, &s->cur.hash);
		if (r < 0)
			return -1;
		if (r == 1) { /* vanished: absent from this snapshot */
			if (have) {
				if (put_named(s, STREAM_DELETE, it->name, it->name_len, 0, 0,
					      NULL) < 0)
					return -1;
				s->st.deleted++;
			}
			return 0;
		}
	}
	if (it->st.st_nlink > 1 && link_add(s, it->st.st_ino, it->path, moved, s->cur.hash) < 0)
		return -1;
	return manifest_add(s->mw, &s->cur);
}

static int send_item(struct send *s, const struct walk_item *it)
{
	if (it->event == WALK_LEAVE) {
		unsigned k = it->depth;
		while (s->m_valid && is_under(s->m.path, it->path, it->path_len))
			if (delete_current(s, k, it->path, it->path_len) < 0)
				return -1;
		if (s->lvl[k].emitted && put(s, STREAM_LEAVE, NULL, 0, NULL, 0) < 0)
			return -1;
		return 0;
	}
	if (it->depth > 0) {
		/* the parent directory's path: the item's path up to its name */
		size_t plen = it->path_len - it->name_len - (it->depth > 1 ? 1 : 0);
		char parent[STREAM_PATH_MAX];
		memcpy(parent, it->path, plen);
		parent[plen] = 0;
		if (deletions_before(s, it->path, it->depth - 1, parent, plen) < 0)
			return -1;
	}
	if (S_ISDIR(it->st.st_mode)) {
		if (send_dir(s, it) < 0)
			return -1;
		s->cur.path_len = it->path_len;
		memcpy(s->cur.path, it->path, it->path_len + 1);
		manifest_entry_stat(&s->cur, &it->st);
		s->cur.hash = 0;
		return manifest_add(s->mw, &s->cur);
	}
	return send_nondir(s, it);
}

/* ---- Entry point ---------------------------------------------------------------------- */

static int send_run(struct send *s, int state_fd, struct io_chan *out)
{
	const struct tree_send_opts *o = s->o;
	struct stream_header h;
	struct walk_item it;
	int snap_fd = -1, r = -1;

	if (mkdirat(state_fd, TREE_SNAPSHOTS_DIR, 0700) < 0 && errno != EEXIST)
		return err_set_errno("%s/%s", o->state_dir, TREE_SNAPSHOTS_DIR);
	snap_fd = openat(state_fd, TREE_SNAPSHOTS_DIR,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (snap_fd < 0)
		return err_set_errno("%s/%s", o->state_dir, TREE_SNAPSHOTS_DIR);
	if (faccessat(snap_fd, o->snapshot, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		err_set("snapshot '%s' already exists", o->snapshot);
		goto out;
	}
	if (s->incremental) {
		s->base = malloc(sizeof(*s->base));
		if (!s->base) {
			err_set("out of memory");
			goto out;
		}
		if (manifest_open(s->base, snap_fd, o->from) < 0) {
			free(s->base);
			s->base = NULL;
			goto out;
		}
		if (base_next(s) < 0)
			goto out;
	}
	s->mw = malloc(sizeof(*s->mw));
	if (!s->mw) {
		err_set("out of memory");
		goto out;
	}
	if (manifest_create(s->mw, snap_fd, o->snapshot, o->from) < 0) {
		free(s->mw);
		s->mw = NULL;
		goto out;
	}
	if (walk_open(&s->walk, o->src, o->warn, o->warn_ctx) < 0)
		goto out;

	io_out_init(&s->out, out, s->outbuf, sizeof(s->outbuf));
	memset(&h, 0, sizeof(h));
	h.kind = s->incremental ? STREAM_KIND_INCREMENTAL : STREAM_KIND_BASE;
	h.flags = o->compress ? STREAM_FLAG_COMPRESSED : 0;
	snprintf(h.snapshot, sizeof(h.snapshot), "%s", o->snapshot);
	snprintf(h.from, sizeof(h.from), "%s", s->incremental ? o->from : "");
	h.created = (uint64_t)time(NULL);
	h.size_hint = o->size_hint;
	long n = stream_encode_header(s->rec, sizeof(s->rec), &h);
	if (n < 0 || stream_writer_start(&s->sw, &s->out, STREAM_MAGIC) < 0 ||
	    put(s, STREAM_HEADER, s->rec, (size_t)n, NULL, 0) < 0)
		goto out;
	for (;;) {
		int w = walk_next(&s->walk, &it);
		if (w < 0)
			goto out;
		if (w == 0)
			break;
		if (send_item(s, &it) < 0)
			goto out;
	}
	if (s->m_valid) {
		err_set("snapshot %s: manifest has entries after the root", o->from);
		goto out;
	}
	struct stream_end end = {s->sw.records, s->entries, s->st.data_bytes,
				 stream_writer_digest(&s->sw)};
	n = stream_encode_end(s->rec, sizeof(s->rec), &end);
	if (n < 0 || put(s, STREAM_END, s->rec, (size_t)n, NULL, 0) < 0 ||
	    io_out_flush(&s->out) < 0)
		goto out;
	s->st.wire_bytes = s->out.total;
	s->st.raw_bytes += s->out.total;
	s->st.skipped = s->walk.skipped;
	if (manifest_commit(s->mw) < 0)
		goto out;
	r = 0;
out:
	walk_close(&s->walk);
	if (s->mw) {
		manifest_abort(s->mw);
		free(s->mw);
	}
	if (s->base) {
		manifest_close(s->base);
		free(s->base);
	}
	links_free(s);
	close(snap_fd);
	return r;
}

int tree_send(const struct tree_send_opts *o, struct io_chan *out, struct tree_stats *st)
{
	int lock_fd = -1;
	if (st)
		memset(st, 0, sizeof(*st));
	if (!o->snapshot || !stream_snap_name_ok(o->snapshot))
		return err_set(
			"invalid snapshot name '%s' (1-%d of A-Z a-z 0-9 . _ -, not starting "
			"with . or -)",
			o->snapshot ? o->snapshot : "", STREAM_SNAP_NAME_MAX);
	if (o->from && !stream_snap_name_ok(o->from))
		return err_set("invalid snapshot name '%s'", o->from);
	struct send *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set("out of memory");
	s->o = o;
	s->incremental = o->from != NULL;
	s->walk.pending_fd = -1;
	s->walk.done = 1;
	int state_fd = tree_state_open(o->state_dir, &lock_fd);
	int r = -1;
	if (state_fd >= 0) {
		r = send_run(s, state_fd, out);
		close(lock_fd);
		close(state_fd);
	}
	if (st)
		*st = s->st;
	free(s);
	return r;
}

/* ---- Snapshot records ------------------------------------------------------------------ */

static int name_sort(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tree_snapshot_list(const char *state_dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, TREE_SNAPSHOTS_DIR) >=
	    (int)sizeof(path))
		return err_set("state directory path too long");
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : err_set_errno("%s", path);
	char **names = NULL;
	size_t count = 0, cap = 0;
	int r = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!stream_snap_name_ok(e->d_name))
			continue; /* ., .., temporary files */
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			char **n = realloc(names, cap * sizeof(*n));
			if (!n) {
				r = err_set("out of memory");
				break;
			}
			names = n;
		}
		if (!(names[count] = strdup(e->d_name))) {
			r = err_set("out of memory");
			break;
		}
		count++;
	}
	closedir(d);
	if (r == 0) {
		qsort(names, count, sizeof(*names), name_sort);
		for (size_t i = 0; i < count && r == 0; i++)
			r = fn(ctx, names[i]);
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return r;
}

int tree_snapshot_exists(const char *state_dir, const char *name)
{
	char path[4096];
	struct stat st;
	if (!stream_snap_name_ok(name))
		return err_set("invalid snapshot name '%s'", name);
	if (snprintf(path, sizeof(path), "%s/%s/%s", state_dir, TREE_SNAPSHOTS_DIR, name) >=
	    (int)sizeof(path))
		return err_set("state directory path too long");
	if (lstat(path, &st) == 0)
		return S_ISREG(st.st_mode) ? 1 : 0;
	return errno == ENOENT ? 0 : err_set_errno("%s", path);
}

int tree_snapshot_drop(const char *state_dir, const char *name)
{
	char path[4096];
	int lock_fd;
	if (!stream_snap_name_ok(name))
		return err_set("invalid snapshot name '%s'", name);
	if (snprintf(path, sizeof(path), "%s/%s/%s", state_dir, TREE_SNAPSHOTS_DIR, name) >=
	    (int)sizeof(path))
		return err_set("state directory path too long");
	int fd = tree_state_open(state_dir, &lock_fd);
	if (fd < 0)
		return -1;
	int r = 0;
	if (unlink(path) < 0)
		r = errno == ENOENT ? 1 : err_set_errno("drop snapshot %s", name);
	close(lock_fd);
	close(fd);
	return r;
}

int tree_estimate(const char *src, uint64_t *bytes, uint64_t *files)
{
	struct walk *w = malloc(sizeof(*w));
	struct walk_item it;
	int r;
	*bytes = *files = 0;
	if (!w)
		return err_set("out of memory");
	if (walk_open(w, src, NULL, NULL) < 0) {
		free(w);
		return -1;
	}
	while ((r = walk_next(w, &it)) > 0) {
		if (it.event == WALK_ENTRY && S_ISREG(it.st.st_mode)) {
			*bytes += (uint64_t)it.st.st_size;
			(*files)++;
		}
	}
	walk_close(w);
	free(w);
	return r;
}
