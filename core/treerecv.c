/* tree_recv: verify every record before acting, write only beneath the target, stage, then commit (docs/stream-format.md, "Receiving"). */
#include "core/treerecv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/cursor.h"
#include "core/err.h"
#include "core/file.h"
#include "core/lz4.h"
#include "core/xxh64.h"

#define RECV_IN_BUF   (256u << 10)
#define STAGE_SUFFIX  ".ferry-recv"
#define STAGE_ROOT    "root"
#define STAGE_JOURNAL "journal"
#define STAGE_COMMIT  "commit"
#define JOURNAL_MAGIC                                                                              \
	"\x89"                                                                                     \
	"FJRNL\r\n"
#define HELD_MAX       8192
#define XATTR_LIST_MAX 65536

/* Journal operations (docs/stream-format.md, "The redo journal"). */
enum { J_MKDIR = 1, J_META = 2, J_PUT = 3, J_LINK = 4, J_REMOVE = 5, J_DIRTIME = 6 };

struct rlevel {
	int fd;	  /* the directory (base: in staging; incremental: in the target), -1 if virtual */
	int virt; /* incremental: a directory the target does not have yet */
	int64_t sec; /* mtime applied when the directory is left */
	uint32_t nsec;
};

struct recv {
	const struct tree_recv_opts *o;
	struct tree_recv_info info;
	struct tree_stats st;
	char dst[PATH_MAX], parent[PATH_MAX], name[NAME_MAX + 1], stage[NAME_MAX + 32];
	int parent_fd, state_fd, lock_fd, stage_fd, target_fd;
	int incremental;
	struct io_in in;
	struct stream_reader sr;
	struct stream_check chk;
	struct stream_header h;
	struct stream_entry e;
	struct stream_named nm;
	struct stream_data d;
	struct stream_end end;
	struct rlevel lv[STREAM_DEPTH_MAX];
	unsigned depth;
	/* the regular file being written: its fd, where, and its entry kept until its data ended */
	int file_fd, file_dirfd;
	char file_name[STREAM_NAME_MAX + 16];
	struct stream_entry fe;
	uint8_t fe_x[STREAM_RECORD_MAX];
	uint64_t file_seq;
	/* incremental: the journal and the staged objects' numbers */
	int journal_fd;
	struct io_chan jch;
	struct io_out jout;
	struct stream_writer jw;
	uint64_t seq;
	/* apply: the cached chain of open directories for the last path */
	int chain_fd[STREAM_DEPTH_MAX];
	size_t chain_len[STREAM_DEPTH_MAX];
	unsigned chain_n;
	char chain_path[STREAM_PATH_MAX];
	char path[STREAM_PATH_MAX];
	char xlist[XATTR_LIST_MAX];
	uint8_t jrec[STREAM_RECORD_MAX];
	uint8_t rec[STREAM_RECORD_MAX];
	uint8_t block[STREAM_BLOCK_MAX];
	uint8_t inbuf[RECV_IN_BUF];
	uint8_t jbuf[64 << 10];
};

/* ---- Metadata --------------------------------------------------------------------- */

/* Sets extended attributes to exactly E's: carried names not in E are removed. FD, or PROC (a path not followed). */
static int apply_xattrs(struct recv *r, int fd, const char *proc, const struct stream_entry *e,
			const char *path)
{
	char name[STREAM_XATTR_NAME_MAX + 1];
	const uint8_t *val;
	uint32_t vlen;
	size_t off;
	ssize_t n = fd >= 0 ? flistxattr(fd, r->xlist, sizeof(r->xlist))
			    : llistxattr(proc, r->xlist, sizeof(r->xlist));
	if (n < 0 && errno != ENOTSUP)
		return err_set_errno("/%s: list extended attributes", path);
	for (char *a = r->xlist; n > 0 && a < r->xlist + n; a += strlen(a) + 1) {
		if (!stream_xattr_name_ok(a, strlen(a)))
			continue;
		int keep = 0;
		off = 0;
		while (!keep && stream_xattr_next(e, &off, name, &val, &vlen))
			keep = !strcmp(name, a);
		if (keep)
			continue;
		int rc = fd >= 0 ? fremovexattr(fd, a) : lremovexattr(proc, a);
		if (rc < 0 && errno != ENODATA)
			return err_set_errno("/%s: remove extended attribute %s", path, a);
	}
	off = 0;
	while (stream_xattr_next(e, &off, name, &val, &vlen)) {
		int rc = fd >= 0 ? fsetxattr(fd, name, val, vlen, 0)
				 : lsetxattr(proc, name, val, vlen, 0);
		if (rc < 0)
			return err_set_errno("/%s: set extended attribute %s", path, name);
	}
	return 0;
}

/*
 * Owner, extended attributes, mode (in that order: chown clears setuid and
 * capabilities, setting an ACL may clear setgid), then the mtime unless
 * WITH_TIME is 0 (directories get theirs when left).
 */
static int apply_meta_fd(struct recv *r, int fd, const struct stream_entry *e, int with_time,
			 const char *path)
{
	if (fchown(fd, e->uid, e->gid) < 0)
		return err_set_errno("/%s: chown", path);
	if (apply_xattrs(r, fd, NULL, e, path) < 0)
		return -1;
	if (fchmod(fd, e->mode & 07777) < 0)
		return err_set_errno("/%s: chmod", path);
	if (with_time) {
		struct timespec ts[2] = {{0, UTIME_OMIT}, {e->mtime_sec, e->mtime_nsec}};
		if (futimens(fd, ts) < 0)
			return err_set_errno("/%s: set mtime", path);
	}
	return 0;
}

/* The same for a symlink or device node NAME in DIRFD, never following it. */
static int apply_meta_at(struct recv *r, int dirfd, const char *name, const struct stream_entry *e,
			 const char *path)
{
	char proc[64 + STREAM_NAME_MAX];
	if (fchownat(dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set_errno("/%s: chown", path);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	if (apply_xattrs(r, -1, proc, e, path) < 0)
		return -1;
	if ((e->mode & S_IFMT) != S_IFLNK) {
		struct stat st;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISLNK(st.st_mode))
			return err_set("/%s: changed while being created", path);
		if (fchmodat(dirfd, name, e->mode & 07777, 0) < 0)
			return err_set_errno("/%s: chmod", path);
	}
	struct timespec ts[2] = {{0, UTIME_OMIT}, {e->mtime_sec, e->mtime_nsec}};
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set_errno("/%s: set mtime", path);
	return 0;
}

static int set_dir_time(int fd, int64_t sec, uint32_t nsec, const char *path)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {sec, nsec}};
	if (futimens(fd, ts) < 0)
		return err_set_errno("/%s: set mtime", path);
	return 0;
}

/*
 * Creates the non-directory E as NAME in DIRFD (which must not exist). A
 * regular file is left open in r->file_fd for its data; anything else is
 * finished at once.
 */
static int create_object(struct recv *r, int dirfd, const char *name, const struct stream_entry *e,
			 const char *path)
{
	switch (e->mode & S_IFMT) {
	case S_IFREG: {
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (fd < 0)
			return err_set_errno("/%s: create", path);
		r->file_fd = fd;
		r->file_dirfd = dirfd;
		snprintf(r->file_name, sizeof(r->file_name), "%s", name);
		r->fe = *e;
		memcpy(r->fe_x, e->xattrs, e->xattrs_len);
		r->fe.xattrs = r->fe_x;
		return 0;
	}
	case S_IFLNK:
		if (symlinkat(e->target, dirfd, name) < 0)
			return err_set_errno("/%s: symlink", path);
		break;
	default:
		if (mknodat(dirfd, name, (e->mode & S_IFMT) | 0600,
			    makedev(e->rdev_major, e->rdev_minor)) < 0)
			return err_set_errno("/%s: mknod", path);
		break;
	}
	return apply_meta_at(r, dirfd, name, e, path);
}

/* Ends the regular file being written: its size (a trailing hole), then its metadata. */
static int finish_file(struct recv *r)
{
	if (r->file_fd < 0)
		return 0;
	int fd = r->file_fd;
	r->file_fd = -1;
	int rc = 0;
	if (ftruncate(fd, (off_t)r->fe.size) < 0)
		rc = err_set_errno("/%s: truncate", r->chk.entry);
	else
		rc = apply_meta_fd(r, fd, &r->fe, 1, r->path);
	if (close(fd) < 0 && rc == 0)
		rc = err_set_errno("/%s: close", r->path);
	return rc;
}

/* ---- Paths beneath a root ------------------------------------------------------------ */

static void chain_reset(struct recv *r)
{
	while (r->chain_n > 1)
		close(r->chain_fd[--r->chain_n]);
	r->chain_n = 0;
}

/*
 * Resolves PATH's parent beneath r->target_fd, one name at a time with
 * O_NOFOLLOW (a symlink or non-directory on the way is an error), reusing
 * the chain of the previous call. Sets *NAME to PATH's last component.
 * Returns the parent's descriptor (owned by the chain), or -1.
 */
static int resolve_parent(struct recv *r, const char *path, const char **name)
{
	if (r->chain_n == 0) {
		r->chain_fd[0] = r->target_fd;
		r->chain_len[0] = 0;
		r->chain_n = 1;
		r->chain_path[0] = 0;
	}
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	*name = slash ? slash + 1 : path;
	/* keep the levels whose path is a prefix of the parent */
	while (r->chain_n > 1) {
		size_t l = r->chain_len[r->chain_n - 1];
		if (l <= plen && !strncmp(r->chain_path, path, l) && (path[l] == '/' || l == plen))
			break;
		close(r->chain_fd[--r->chain_n]);
	}
	size_t at = r->chain_len[r->chain_n - 1];
	while (at < plen) {
		size_t start = at ? at + 1 : 0;
		const char *end = memchr(path + start, '/', plen - start);
		size_t stop = end ? (size_t)(end - path) : plen;
		char comp[STREAM_NAME_MAX + 1];
		if (stop - start > STREAM_NAME_MAX || r->chain_n >= STREAM_DEPTH_MAX)
			return err_set("/%s: path too deep or long", path);
		memcpy(comp, path + start, stop - start);
		comp[stop - start] = 0;
		int fd = openat(r->chain_fd[r->chain_n - 1], comp,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return err_set_errno("/%.*s: not a directory of the target", (int)stop,
					     path);
		memcpy(r->chain_path, path, stop);
		r->chain_path[stop] = 0;
		r->chain_fd[r->chain_n] = fd;
		r->chain_len[r->chain_n] = stop;
		r->chain_n++;
		at = stop;
	}
	return r->chain_fd[r->chain_n - 1];
}

/* Removes whatever NAME in DIRFD is (a directory with its contents). */
static int remove_any(int dirfd, const char *name, const char *path)
{
	if (file_remove_tree(dirfd, name) < 0)
		return err_prefix("/%s: remove", path);
	return 0;
}

/* ---- The redo journal --------------------------------------------------------------- */

static int journal_put(struct recv *r, uint16_t op, const char *path, const void *tail, size_t tlen)
{
	size_t pl = strlen(path);
	uint8_t head[2];
	put_u16(head, (uint16_t)pl);
	if (2 + pl + tlen > sizeof(r->jrec))
		return err_set("/%s: journal record too large", path);
	memcpy(r->jrec, head, 2);
	memcpy(r->jrec + 2, path, pl);
	if (tlen)
		memcpy(r->jrec + 2 + pl, tail, tlen);
	return stream_write(&r->jw, op, r->jrec, 2 + pl + tlen, NULL, 0);
}

static int journal_entry(struct recv *r, uint16_t op, const char *path,
			 const struct stream_entry *e)
{
	long n = stream_encode_entry(r->rec, sizeof(r->rec), e);
	if (n < 0)
		return -1;
	return journal_put(r, op, path, r->rec, (size_t)n);
}

static int journal_time(struct recv *r, const char *path, int64_t sec, uint32_t nsec)
{
	uint8_t t[12];
	put_u64(t, (uint64_t)sec);
	put_u32(t + 8, nsec);
	return journal_put(r, J_DIRTIME, path, t, sizeof(t));
}

/* Applies one journal operation; each is idempotent so a replay from the start converges. */
static int apply_op(struct recv *r, uint16_t op, const uint8_t *p, size_t n, uint64_t index)
{
	struct cursor c;
	uint16_t pl;
	char path[STREAM_PATH_MAX];
	const char *name;
	struct stat st;
	cur_init(&c, p, n);
	if (cur_u16(&c, &pl) < 0 || pl >= STREAM_PATH_MAX || cur_bytes(&c, path, pl) < 0)
		return err_set("journal record %llu is damaged", (unsigned long long)index);
	path[pl] = 0;
	const uint8_t *rest = c.p + c.off;
	size_t rlen = cur_left(&c);
	int root = pl == 0;
	int dfd = root ? r->target_fd : resolve_parent(r, path, &name);
	if (dfd < 0)
		return -1;
	switch (op) {
	case J_MKDIR:
	case J_META: {
		struct stream_entry *e = &r->e;
		if (stream_decode_entry(rest, rlen, e) < 0)
			return err_prefix("journal");
		int fd;
		if (root) {
			fd = dup(r->target_fd);
		} else if (op == J_MKDIR) {
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    !S_ISDIR(st.st_mode) && unlinkat(dfd, name, 0) < 0)
				return err_set_errno("/%s: remove", path);
			if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
				return err_set_errno("/%s: mkdir", path);
			fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		} else {
			fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
				close(fd);
				return err_set("/%s: not a regular file on the target", path);
			}
		}
		if (fd < 0)
			return err_set_errno("/%s: open", path);
		int rc = apply_meta_fd(r, fd, e, op == J_META, path);
		close(fd);
		return rc;
	}
	case J_PUT: {
		uint64_t seq;
		char obj[32];
		if (rlen != 8 || root)
			return err_set("journal record %llu is damaged", (unsigned long long)index);
		seq = get_u64(rest);
		snprintf(obj, sizeof(obj), "o%llu", (unsigned long long)seq);
		if (fstatat(r->stage_fd, obj, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				return 0; /* already moved into place */
			return err_set_errno("staged %s", obj);
		}
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    remove_any(dfd, name, path) < 0)
			return -1;
		if (renameat(r->stage_fd, obj, dfd, name) < 0)
			return err_set_errno("/%s: move into place", path);
		return 0;
	}
	case J_LINK: {
		struct cursor t;
		uint16_t tl;
		char target[STREAM_PATH_MAX], tmp[32];
		struct stat ts;
		cur_init(&t, rest, rlen);
		if (root || cur_u16(&t, &tl) < 0 || tl >= STREAM_PATH_MAX ||
		    cur_bytes(&t, target, tl) < 0)
			return err_set("journal record %llu is damaged", (unsigned long long)index);
		target[tl] = 0;
		/* resolve the target on its own chain, then restore ours for PATH */
		char keep[STREAM_PATH_MAX];
		memcpy(keep, path, pl + 1);
		const char *tname;
		int tdfd = resolve_parent(r, target, &tname);
		if (tdfd < 0)
			return -1;
		if (fstatat(tdfd, tname, &ts, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(ts.st_mode))
			return err_set("/%s: link target /%s missing on the target", keep, target);
		snprintf(tmp, sizeof(tmp), "l%llu", (unsigned long long)index);
		unlinkat(r->stage_fd, tmp, 0);
		if (linkat(tdfd, tname, r->stage_fd, tmp, 0) < 0)
			return err_set_errno("/%s: link to /%s", keep, target);
		dfd = resolve_parent(r, keep, &name);
		if (dfd < 0)
			return -1;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (st.st_ino == ts.st_ino && st.st_dev == ts.st_dev) {
				unlinkat(r->stage_fd, tmp, 0);
				return 0; /* already that link */
			}
			if (S_ISDIR(st.st_mode) && remove_any(dfd, name, keep) < 0)
				return -1;
		}
		if (renameat(r->stage_fd, tmp, dfd, name) < 0)
			return err_set_errno("/%s: move link into place", keep);
		return 0;
	}
	case J_REMOVE:
		if (root)
			return err_set("journal record %llu is damaged", (unsigned long long)index);
		return remove_any(dfd, name, path);
	case J_DIRTIME: {
		if (rlen != 12)
			return err_set("journal record %llu is damaged", (unsigned long long)index);
		int fd = root ? dup(r->target_fd)
			      : openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return err_set_errno("/%s: open directory", path);
		int rc = set_dir_time(fd, (int64_t)get_u64(rest), get_u32(rest + 8), path);
		close(fd);
		return rc;
	}
	}
	return err_set("journal record %llu: unknown operation %u", (unsigned long long)index, op);
}

/* Reads the journal through once to verify it whole (APPLY 0), or applies it (APPLY 1). */
static int journal_pass(struct recv *r, int apply, uint64_t want_records, uint64_t want_digest)
{
	struct io_chan ch;
	struct io_in in;
	struct stream_reader sr;
	int fd = openat(r->stage_fd, STAGE_JOURNAL, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno("journal");
	io_chan_fd(&ch, &fd);
	io_in_init(&in, &ch, r->jbuf, sizeof(r->jbuf));
	int rc = stream_reader_start(&sr, &in, r->jrec, sizeof(r->jrec), JOURNAL_MAGIC, "journal");
	while (rc == 0) {
		if ((rc = stream_read(&sr)) < 0)
			break;
		if (sr.type == STREAM_END) {
			if (sr.records - 1 != want_records || sr.digest_prev != want_digest)
				rc = err_set("journal does not match its commit record");
			break;
		}
		if (apply)
			rc = apply_op(r, sr.type, sr.buf, sr.len, sr.records - 1);
	}
	chain_reset(r);
	close(fd);
	return rc;
}

/* ---- Held snapshot and staging ---------------------------------------------------------- */

struct held {
	char snapshot[STREAM_SNAP_NAME_MAX + 1];
	unsigned long long root;
};

/* Parses "ferry-held 1\nsnapshot NAME\nroot INO\n..." (or the commit file, same shape). */
static int parse_record(const char *text, const char *magic, struct held *h, char *from,
			unsigned long long *jrec, unsigned long long *jdig)
{
	const char *p = text;
	int have_magic = 0;
	memset(h, 0, sizeof(*h));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[PATH_MAX + 64];
		if (len >= sizeof(line))
			return err_set("record line too long");
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (nl ? 1 : 0);
		if (!have_magic) {
			if (strcmp(line, magic))
				return err_set("not a %s record", magic);
			have_magic = 1;
			continue;
		}
		/* "KEY VALUE": the first word, then the rest after the spaces. */
		char *key = line, *val = strchr(line, ' ');
		if (val)
			for (*val++ = 0; *val == ' ';)
				val++;
		else
			val = line + len;
		if (!strcmp(key, "snapshot") && stream_snap_name_ok(val))
			memcpy(h->snapshot, val, strlen(val) + 1); /* checked: <= 64 bytes */
		else if (!strcmp(key, "root"))
			h->root = strtoull(val, NULL, 10);
		else if (!strcmp(key, "from") && from && strlen(val) <= STREAM_SNAP_NAME_MAX)
			memcpy(from, val, strlen(val) + 1);
		else if (!strcmp(key, "journal") && jrec) { /* "RECORDS DIGEST", decimal and hex */
			char *end;
			*jrec = strtoull(val, &end, 10);
			*jdig = strtoull(end, NULL, 16);
		}
	}
	if (!have_magic || !h->snapshot[0])
		return err_set("damaged %s record", magic);
	return 0;
}

static int held_read(int state_fd, struct held *h)
{
	char *text = NULL;
	memset(h, 0, sizeof(*h));
	if (file_read_all(state_fd, TREE_HELD_FILE, HELD_MAX, &text, NULL) < 0)
		return errno == ENOENT ? 0 : err_prefix("state");
	int rc = parse_record(text, "ferry-held 1", h, NULL, NULL, NULL);
	free(text);
	return rc < 0 ? -1 : 1;
}

static int held_write(struct recv *r, const char *snapshot, unsigned long long root)
{
	char text[PATH_MAX + 256];
	int n = snprintf(text, sizeof(text), "ferry-held 1\nsnapshot %s\nroot %llu\ntarget %s\n",
			 snapshot, root, r->dst);
	if (n < 0 || (size_t)n >= sizeof(text))
		return err_set("held record too long");
	if (file_write_atomic(r->state_fd, TREE_HELD_FILE, text, (size_t)n, 0600) < 0)
		return err_prefix("state %s", r->o->state_dir);
	return 0;
}

/* What the target holds now: 1 with H filled, 0 for nothing, -1 on error. */
static int held_now(struct recv *r, struct held *h)
{
	struct stat st;
	int k = held_read(r->state_fd, h);
	if (k <= 0)
		return k;
	if (fstatat(r->parent_fd, r->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_ino != h->root)
		return 0;
	return 1;
}

static int stage_remove(struct recv *r)
{
	if (r->stage_fd >= 0) {
		close(r->stage_fd);
		r->stage_fd = -1;
	}
	/* the commit record goes first, so a half-removed staging is never replayed */
	int sfd = openat(r->parent_fd, r->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd >= 0) {
		if (unlinkat(sfd, STAGE_COMMIT, 0) == 0)
			file_fsync_dir(sfd);
		close(sfd);
	}
	if (file_remove_tree(r->parent_fd, r->stage) < 0)
		return err_prefix("remove staging %s/%s", r->parent, r->stage);
	return 0;
}

/*
 * Applying a committed journal failed (the target diverged from the base
 * snapshot, or an I/O error): the target is between two snapshots, so it
 * holds none from now on (a new base is needed) and the journal is dropped
 * rather than replayed forever.
 */
static int apply_failed(struct recv *r, const char *snapshot)
{
	char saved[ERR_MSG_MAX];
	snprintf(saved, sizeof(saved), "%s", err_msg());
	unlinkat(r->state_fd, TREE_HELD_FILE, 0);
	file_fsync_dir(r->state_fd);
	stage_remove(r);
	return err_set(
		"applying snapshot %s to %s failed: %s; it holds no snapshot now (send a base)",
		snapshot, r->dst, saved);
}

/* Finishes a committed, interrupted incremental, or discards an uncommitted staging. */
static int recover(struct recv *r)
{
	char *text = NULL;
	struct held c;
	struct stat st;
	unsigned long long jrec = 0, jdig = 0;
	r->stage_fd =
		openat(r->parent_fd, r->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r->stage_fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ENOTDIR && errno != ELOOP)
			return err_set_errno("staging %s/%s", r->parent, r->stage);
		return stage_remove(r);
	}
	if (file_read_all(r->stage_fd, STAGE_COMMIT, HELD_MAX, &text, NULL) < 0)
		return stage_remove(r); /* never committed: nothing of it is visible */
	int rc = parse_record(text, "ferry-commit 1", &c, NULL, &jrec, &jdig);
	free(text);
	if (rc < 0)
		return err_prefix("staging %s/%s", r->parent, r->stage);
	r->target_fd =
		openat(r->parent_fd, r->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r->target_fd < 0 || fstat(r->target_fd, &st) < 0 || st.st_ino != c.root) {
		/* the target is gone or another directory now: the journal is not for it */
		if (r->target_fd >= 0)
			close(r->target_fd);
		r->target_fd = -1;
		return stage_remove(r);
	}
	if (journal_pass(r, 0, jrec, jdig) < 0 || journal_pass(r, 1, jrec, jdig) < 0 ||
	    syncfs(r->target_fd) < 0 || held_write(r, c.snapshot, c.root) < 0)
		return apply_failed(r, c.snapshot);
	close(r->target_fd);
	r->target_fd = -1;
	return stage_remove(r);
}

/* ---- Receiving ------------------------------------------------------------------------ */

static int cur_dir(struct recv *r)
{
	return r->lv[r->depth - 1].fd;
}

static int push(struct recv *r, int fd, int virt, int64_t sec, uint32_t nsec)
{
	r->lv[r->depth].fd = fd;
	r->lv[r->depth].virt = virt;
	r->lv[r->depth].sec = sec;
	r->lv[r->depth].nsec = nsec;
	r->depth++;
	return 0;
}

/* Opens NAME in the target directory DIRFD as a directory, if it is one on the same file system. */
static int open_target_dir(int dirfd, const char *name, dev_t dev)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

static int stage_object(struct recv *r, const struct stream_entry *e)
{
	char obj[32];
	snprintf(obj, sizeof(obj), "o%llu", (unsigned long long)r->seq);
	if (create_object(r, r->stage_fd, obj, e, r->chk.entry) < 0)
		return -1;
	uint8_t seq[8];
	put_u64(seq, r->seq++);
	return journal_put(r, J_PUT, r->chk.entry, seq, sizeof(seq));
}

static int on_entry_base(struct recv *r)
{
	const struct stream_entry *e = &r->e;
	const char *path = r->chk.entry;
	if (S_ISDIR(e->mode)) {
		int fd;
		if (r->depth == 0) {
			fd = dup(r->target_fd);
		} else {
			if (mkdirat(cur_dir(r), e->name, 0700) < 0)
				return err_set_errno("/%s: mkdir", path);
			fd = openat(cur_dir(r), e->name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0)
			return err_set_errno("/%s: open", path);
		push(r, fd, 0, e->mtime_sec, e->mtime_nsec);
		return apply_meta_fd(r, fd, e, 0, path);
	}
	if (S_ISREG(e->mode))
		r->st.files++;
	return create_object(r, cur_dir(r), e->name, e, path);
}

static int on_entry_incremental(struct recv *r)
{
	const struct stream_entry *e = &r->e;
	const char *path = r->chk.entry;
	struct rlevel *up = r->depth ? &r->lv[r->depth - 1] : NULL;
	struct stat st;
	if (S_ISDIR(e->mode)) {
		int fd = -1;
		if (!up)
			fd = dup(r->target_fd);
		if (up && !up->virt) {
			struct stat ps;
			fstat(r->target_fd, &ps);
			fd = open_target_dir(up->fd, e->name, ps.st_dev);
			if (fd < 0 && errno == EXDEV)
				return err_set("/%s: a mount point on the target", path);
		}
		push(r, fd, fd < 0, e->mtime_sec, e->mtime_nsec);
		return journal_entry(r, J_MKDIR, path, e);
	}
	if (e->flags & STREAM_ENTRY_KEEP_DATA) {
		if (up->virt || fstatat(up->fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			return err_set(
				"/%s: the stream keeps its content but the target has no such "
				"file (the target does not match snapshot %s)",
				path, r->h.from);
		return journal_entry(r, J_META, path, e);
	}
	if (!up->virt && fstatat(up->fd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		struct stat ps;
		fstat(up->fd, &ps);
		if (st.st_dev != ps.st_dev)
			return err_set("/%s: a mount point on the target", path);
	}
	if (S_ISREG(e->mode))
		r->st.files++;
	return stage_object(r, e);
}

static int on_record(struct recv *r)
{
	struct stream_reader *sr = &r->sr;
	const char *path;
	int rc = 0;
	if (sr->type != STREAM_DATA && finish_file(r) < 0)
		return -1;
	switch (sr->type) {
	case STREAM_ENTRY:
		if (stream_decode_entry(sr->buf, sr->len, &r->e) < 0 ||
		    stream_check_record(&r->chk, sr->type, NULL, &r->e, NULL, NULL, NULL, 0, 0) < 0)
			return -1;
		r->st.entries++;
		snprintf(r->path, sizeof(r->path), "%s", r->chk.entry);
		return r->incremental ? on_entry_incremental(r) : on_entry_base(r);
	case STREAM_ENTER:
	case STREAM_LINK:
	case STREAM_DELETE:
		if (stream_decode_named(sr->buf, sr->len, sr->type, &r->nm) < 0 ||
		    stream_check_record(&r->chk, sr->type, NULL, NULL, &r->nm, NULL, NULL, 0, 0) <
			    0)
			return -1;
		path = r->chk.entry;
		if (sr->type == STREAM_ENTER) {
			int fd = -1;
			if (r->depth == 0) {
				fd = dup(r->target_fd);
			} else if (!r->lv[r->depth - 1].virt) {
				struct stat ps;
				fstat(r->target_fd, &ps);
				fd = open_target_dir(cur_dir(r), r->nm.name, ps.st_dev);
			}
			if (fd < 0)
				return err_set(
					"/%s: the stream enters a directory the target does not have "
					"(the target does not match snapshot %s)",
					path, r->h.from);
			return push(r, fd, 0, r->nm.mtime_sec, r->nm.mtime_nsec);
		}
		if (sr->type == STREAM_DELETE) {
			struct rlevel *up = &r->lv[r->depth - 1];
			struct stat st, ps;
			if (up->virt)
				return err_set("/%s: DELETE inside a new directory", path);
			if (fstatat(up->fd, r->nm.name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode) && fstat(up->fd, &ps) == 0 &&
			    st.st_dev != ps.st_dev)
				return err_set("/%s: a mount point on the target", path);
			r->st.deleted++;
			return journal_put(r, J_REMOVE, path, NULL, 0);
		}
		r->st.entries++;
		if (r->incremental) {
			/* a target path through a symlink or file of the target is refused now */
			const char *tname;
			int ok = resolve_parent(r, r->nm.path, &tname) >= 0 || errno == ENOENT;
			chain_reset(r);
			if (!ok)
				return err_set("/%s: link target /%s lies beyond a non-directory",
					       path, r->nm.path);
			uint8_t t[2 + STREAM_PATH_MAX];
			put_u16(t, (uint16_t)r->nm.path_len);
			memcpy(t + 2, r->nm.path, r->nm.path_len);
			return journal_put(r, J_LINK, path, t, 2 + r->nm.path_len);
		} else {
			/* the target path is resolved beneath the staging root, never through a symlink */
			const char *tname;
			struct stat ts;
			int tdfd = resolve_parent(r, r->nm.path, &tname);
			if (tdfd < 0)
				return -1;
			if (fstatat(tdfd, tname, &ts, AT_SYMLINK_NOFOLLOW) < 0 ||
			    S_ISDIR(ts.st_mode))
				rc = err_set("/%s: link target /%s is not an earlier file", path,
					     r->nm.path);
			else if (linkat(tdfd, tname, cur_dir(r), r->nm.name, 0) < 0)
				rc = err_set_errno("/%s: link to /%s", path, r->nm.path);
			chain_reset(r);
			return rc;
		}
	case STREAM_LEAVE: {
		char dir[STREAM_PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", r->chk.dir);
		if (sr->len)
			return err_set("LEAVE record has a payload");
		if (stream_check_record(&r->chk, sr->type, NULL, NULL, NULL, NULL, NULL, 0, 0) < 0)
			return -1;
		struct rlevel *l = &r->lv[--r->depth];
		if (r->incremental)
			rc = journal_time(r, dir, l->sec, l->nsec);
		else
			rc = set_dir_time(l->fd, l->sec, l->nsec, dir);
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		return rc;
	}
	case STREAM_DATA: {
		if (stream_decode_data(sr->buf, sr->len, &r->d) < 0 ||
		    stream_check_record(&r->chk, sr->type, NULL, NULL, NULL, &r->d, NULL, 0, 0) < 0)
			return -1;
		const uint8_t *bytes = r->d.bytes;
		if (r->d.encoding == STREAM_LZ4) {
			long n = lz4_decompress(r->d.bytes, r->d.len, r->block, r->d.raw_len);
			if (n < 0 || (uint32_t)n != r->d.raw_len)
				return err_set("DATA for /%s at %llu: compressed block does not "
					       "decompress to %u bytes",
					       r->chk.entry, (unsigned long long)r->d.offset,
					       r->d.raw_len);
			bytes = r->block;
		}
		if (io_pwrite_full(r->file_fd, bytes, r->d.raw_len, (off_t)r->d.offset) < 0)
			return err_prefix("/%s", r->chk.entry);
		r->st.data_bytes += r->d.raw_len;
		r->st.raw_bytes += r->d.raw_len - r->d.len;
		progress_add(r->o->progress, r->d.raw_len, 0);
		return 0;
	}
	case STREAM_HEADER:
		return err_set("a second HEADER record");
	default:
		return stream_check_record(&r->chk, sr->type, NULL, NULL, NULL, NULL, NULL, 0, 0);
	}
}

/* Reads records up to and including END, acting on each (or only verifying, with DRAIN). */
static int read_body(struct recv *r, int drain)
{
	char tn[16];
	for (;;) {
		if (stream_read(&r->sr) < 0)
			return -1;
		if (r->sr.type == STREAM_END) {
			if (finish_file(r) < 0 ||
			    stream_decode_end(r->sr.buf, r->sr.len, &r->end) < 0 ||
			    stream_check_record(&r->chk, STREAM_END, NULL, NULL, NULL, NULL,
						&r->end, r->sr.records - 1, r->sr.digest_prev) < 0)
				goto where;
			return stream_reader_finish(&r->sr);
		}
		int rc;
		if (drain) {
			rc = 0;
			switch (r->sr.type) {
			case STREAM_ENTRY:
				rc = stream_decode_entry(r->sr.buf, r->sr.len, &r->e);
				if (!rc)
					rc = stream_check_record(&r->chk, r->sr.type, NULL, &r->e,
								 NULL, NULL, NULL, 0, 0);
				break;
			case STREAM_ENTER:
			case STREAM_LINK:
			case STREAM_DELETE:
				rc = stream_decode_named(r->sr.buf, r->sr.len, r->sr.type, &r->nm);
				if (!rc)
					rc = stream_check_record(&r->chk, r->sr.type, NULL, NULL,
								 &r->nm, NULL, NULL, 0, 0);
				break;
			case STREAM_DATA:
				rc = stream_decode_data(r->sr.buf, r->sr.len, &r->d);
				if (!rc)
					rc = stream_check_record(&r->chk, r->sr.type, NULL, NULL,
								 NULL, &r->d, NULL, 0, 0);
				break;
			default:
				rc = stream_check_record(&r->chk, r->sr.type, NULL, NULL, NULL,
							 NULL, NULL, 0, 0);
			}
		} else {
			rc = on_record(r);
		}
		if (rc < 0)
			goto where;
	}
where:
	return err_prefix("stream record %llu (%s) at byte %llu",
			  (unsigned long long)(r->sr.records - 1), stream_type_name(r->sr.type, tn),
			  (unsigned long long)r->sr.at);
}

static int commit_base(struct recv *r)
{
	struct stat st;
	if (fstat(r->target_fd, &st) < 0)
		return err_set_errno("staging");
	if (syncfs(r->target_fd) < 0)
		return err_set_errno("sync");
	if (held_write(r, r->h.snapshot, (unsigned long long)st.st_ino) < 0)
		return -1;
	if (renameat(r->stage_fd, STAGE_ROOT, r->parent_fd, r->name) < 0)
		return err_set_errno("rename the received tree to %s", r->dst);
	if (file_fsync_dir(r->parent_fd) < 0)
		return -1;
	return 0;
}

static int commit_incremental(struct recv *r)
{
	char text[512];
	struct stat st;
	struct stream_end end = {r->jw.records, 0, 0, stream_writer_digest(&r->jw)};
	long n = stream_encode_end(r->rec, sizeof(r->rec), &end);
	if (n < 0 || stream_write(&r->jw, STREAM_END, r->rec, (size_t)n, NULL, 0) < 0 ||
	    io_out_flush(&r->jout) < 0)
		return err_prefix("journal");
	if (fsync(r->journal_fd) < 0)
		return err_set_errno("journal: fsync");
	close(r->journal_fd);
	r->journal_fd = -1;
	if (syncfs(r->stage_fd) < 0 || fstat(r->target_fd, &st) < 0)
		return err_set_errno("sync");
	int k = snprintf(text, sizeof(text),
			 "ferry-commit 1\nsnapshot %s\nfrom %s\nroot %llu\njournal %llu %llx\n",
			 r->h.snapshot, r->h.from, (unsigned long long)st.st_ino,
			 (unsigned long long)end.records, (unsigned long long)end.digest);
	if (k < 0 || (size_t)k >= sizeof(text))
		return err_set("commit record too long");
	if (file_write_atomic(r->stage_fd, STAGE_COMMIT, text, (size_t)k, 0600) < 0)
		return err_prefix("commit");
	/* from here on the receive is decided: applying is replayed until it is done */
	if (journal_pass(r, 1, end.records, end.digest) < 0 || syncfs(r->target_fd) < 0 ||
	    held_write(r, r->h.snapshot, (unsigned long long)st.st_ino) < 0)
		return err_prefix(
			"applying snapshot %s to %s (the next receive into it finishes this)",
			r->h.snapshot, r->dst);
	return stage_remove(r);
}

static int dir_is_empty(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int dup_fd = dup(fd);
	close(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -1;
	}
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

static int recv_setup(struct recv *r)
{
	const struct tree_recv_opts *o = r->o;
	if (tree_abs_path(o->dst, r->dst, sizeof(r->dst)) < 0)
		return -1;
	char *slash = strrchr(r->dst, '/');
	size_t pl = (size_t)(slash - r->dst);
	memcpy(r->parent, r->dst, pl ? pl : 1);
	r->parent[pl ? pl : 1] = 0;
	snprintf(r->name, sizeof(r->name), "%s", slash + 1);
	if (strlen(r->name) + sizeof(STAGE_SUFFIX) + 1 > NAME_MAX)
		return err_set("%s: name too long", r->dst);
	snprintf(r->stage, sizeof(r->stage), ".%s%s", r->name, STAGE_SUFFIX);
	r->parent_fd = open(r->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->parent_fd < 0)
		return err_set_errno("%s", r->parent);
	r->state_fd = tree_state_open(o->state_dir, &r->lock_fd);
	if (r->state_fd < 0)
		return -1;
	return recover(r);
}

static void recv_free(struct recv *r)
{
	chain_reset(r);
	while (r->depth)
		if (r->lv[--r->depth].fd >= 0)
			close(r->lv[r->depth].fd);
	int *fds[] = {&r->file_fd, &r->journal_fd, &r->target_fd, &r->stage_fd,
		      &r->lock_fd, &r->state_fd,   &r->parent_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static struct recv *recv_new(const struct tree_recv_opts *o)
{
	struct recv *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->o = o;
	r->parent_fd = r->state_fd = r->lock_fd = r->stage_fd = r->target_fd = -1;
	r->file_fd = r->journal_fd = -1;
	return r;
}

static int header_checks(struct recv *r, const struct held *held, int holds)
{
	const struct tree_recv_opts *o = r->o;
	const struct stream_header *h = &r->h;
	const char *kind = h->kind == STREAM_KIND_BASE ? "base" : "incremental";
	if (o->expect_kind && o->expect_kind != h->kind)
		return err_set("the stream is %s %s, not the expected %s",
			       h->kind == STREAM_KIND_BASE ? "a" : "an", kind,
			       o->expect_kind == STREAM_KIND_BASE ? "base" : "incremental");
	if (o->expect_snapshot && strcmp(o->expect_snapshot, h->snapshot))
		return err_set("the stream creates snapshot %s, not the expected %s", h->snapshot,
			       o->expect_snapshot);
	if (o->expect_from && strcmp(o->expect_from, h->from))
		return err_set("the stream is based on snapshot %s, not the expected %s",
			       h->from[0] ? h->from : "(none: a base stream)", o->expect_from);
	if (holds && !strcmp(held->snapshot, h->snapshot))
		return 1; /* already there */
	if (h->kind == STREAM_KIND_INCREMENTAL) {
		if (!holds)
			return err_set(
				"%s holds no snapshot; the incremental stream needs snapshot %s",
				r->dst, h->from);
		if (strcmp(held->snapshot, h->from))
			return err_set(
				"%s holds snapshot %s; the incremental stream needs snapshot %s",
				r->dst, held->snapshot, h->from);
		return 0;
	}
	struct stat st;
	if (fstatat(r->parent_fd, r->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode))
			return err_set("%s exists and is not a directory", r->dst);
		int empty = dir_is_empty(r->parent_fd, r->name);
		if (empty < 0)
			return err_set_errno("%s", r->dst);
		if (!empty)
			return err_set(
				"%s exists and is not empty%s%s%s; a base stream needs a missing or "
				"empty target",
				r->dst, holds ? " (it holds snapshot " : "",
				holds ? held->snapshot : "", holds ? ")" : "");
	} else if (errno != ENOENT) {
		return err_set_errno("%s", r->dst);
	}
	return 0;
}

static int recv_run(struct recv *r, struct io_chan *in)
{
	struct held held;
	int holds;
	if (recv_setup(r) < 0)
		return -1;
	io_in_init(&r->in, in, r->inbuf, sizeof(r->inbuf));
	if (stream_reader_start(&r->sr, &r->in, r->rec, sizeof(r->rec), STREAM_MAGIC, "stream") < 0)
		return -1;
	if (stream_read(&r->sr) < 0)
		return -1;
	stream_check_init(&r->chk);
	char tn[16];
	if (r->sr.type != STREAM_HEADER)
		return err_set(
			"stream record 0 (%s) at byte %llu: the first record is not a HEADER",
			stream_type_name(r->sr.type, tn), (unsigned long long)r->sr.at);
	if (stream_decode_header(r->sr.buf, r->sr.len, &r->h) < 0 ||
	    stream_check_record(&r->chk, STREAM_HEADER, &r->h, NULL, NULL, NULL, NULL, 0, 0) < 0)
		return err_prefix("stream record 0 (HEADER) at byte %llu",
				  (unsigned long long)r->sr.at);
	r->info.kind = r->h.kind;
	snprintf(r->info.snapshot, sizeof(r->info.snapshot), "%s", r->h.snapshot);
	snprintf(r->info.from, sizeof(r->info.from), "%s", r->h.from);
	r->incremental = r->h.kind == STREAM_KIND_INCREMENTAL;
	if (r->o->progress && r->h.size_hint && !r->o->progress->total_bytes)
		r->o->progress->total_bytes = r->h.size_hint;
	holds = held_now(r, &held);
	if (holds < 0)
		return -1;
	if (holds)
		snprintf(r->info.held, sizeof(r->info.held), "%s", held.snapshot);
	int hc = header_checks(r, &held, holds);
	if (hc < 0)
		return -1;
	if (hc == 1) {
		r->info.already = 1;
		return read_body(r, 1);
	}

	if (mkdirat(r->parent_fd, r->stage, 0700) < 0)
		return err_set_errno("create staging %s/%s", r->parent, r->stage);
	r->stage_fd =
		openat(r->parent_fd, r->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r->stage_fd < 0)
		return err_set_errno("staging %s/%s", r->parent, r->stage);
	struct stat ps, ss;
	if (fstat(r->parent_fd, &ps) < 0 || fstat(r->stage_fd, &ss) < 0 || ps.st_dev != ss.st_dev)
		return err_set("staging %s/%s is not on the target's file system", r->parent,
			       r->stage);
	int rc;
	if (!r->incremental) {
		if (mkdirat(r->stage_fd, STAGE_ROOT, 0700) < 0)
			return err_set_errno("create staging root");
		r->target_fd = openat(r->stage_fd, STAGE_ROOT,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (r->target_fd < 0)
			return err_set_errno("staging root");
		rc = read_body(r, 0);
		if (rc == 0)
			rc = commit_base(r);
	} else {
		r->target_fd = openat(r->parent_fd, r->name,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (r->target_fd < 0)
			return err_set_errno("%s", r->dst);
		fstat(r->target_fd, &ss);
		if (ss.st_dev != ps.st_dev)
			return err_set(
				"%s is a mount point; receive into a directory on its parent's file system",
				r->dst);
		r->journal_fd = openat(r->stage_fd, STAGE_JOURNAL,
				       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (r->journal_fd < 0)
			return err_set_errno("journal");
		io_chan_fd(&r->jch, &r->journal_fd);
		io_out_init(&r->jout, &r->jch, r->jbuf, sizeof(r->jbuf));
		if (stream_writer_start(&r->jw, &r->jout, JOURNAL_MAGIC) < 0)
			return err_prefix("journal");
		rc = read_body(r, 0);
		if (rc == 0) {
			/* close the directories opened while checking against the target */
			while (r->depth)
				if (r->lv[--r->depth].fd >= 0)
					close(r->lv[r->depth].fd);
			return commit_incremental(r);
		}
	}
	if (rc < 0)
		return -1;
	snprintf(r->info.held, sizeof(r->info.held), "%s", r->h.snapshot);
	return stage_remove(r);
}

int tree_recv(const struct tree_recv_opts *o, struct io_chan *in, struct tree_recv_info *info,
	      struct tree_stats *st)
{
	struct recv *r = recv_new(o);
	if (!r)
		return err_set("out of memory");
	int rc = recv_run(r, in);
	if (rc == 0 && r->incremental && !r->info.already)
		snprintf(r->info.held, sizeof(r->info.held), "%s", r->h.snapshot);
	if (rc < 0 && r->parent_fd >= 0 && r->stage_fd >= 0) {
		/* an uncommitted staging is removed now (the next receive would do it anyway) */
		char saved[ERR_MSG_MAX];
		snprintf(saved, sizeof(saved), "%s", err_msg());
		int committed =
			faccessat(r->stage_fd, STAGE_COMMIT, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
		if (!committed) {
			if (r->file_fd >= 0)
				close(r->file_fd);
			r->file_fd = -1;
			stage_remove(r);
		}
		err_set("%s", saved);
	}
	r->st.wire_bytes = r->in.total;
	r->st.raw_bytes += r->in.total;
	if (info)
		*info = r->info;
	if (st)
		*st = r->st;
	recv_free(r);
	free(r);
	return rc;
}

/* ---- Queries ------------------------------------------------------------------------- */

int tree_held(const char *state_dir, const char *dst, char *name, size_t cap)
{
	char abs[PATH_MAX], path[PATH_MAX];
	struct held h;
	struct stat st;
	if (tree_abs_path(dst, abs, sizeof(abs)) < 0)
		return -1;
	int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_set_errno("%s", state_dir);
	int k = held_read(fd, &h);
	close(fd);
	if (k <= 0)
		return k;
	snprintf(path, sizeof(path), "%s", abs);
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_ino != h.root)
		return 0;
	if (strlen(h.snapshot) >= cap)
		return err_set("buffer too small");
	memcpy(name, h.snapshot, strlen(h.snapshot) + 1);
	return 1;
}

int tree_recv_recover(const char *state_dir, const char *dst)
{
	struct tree_recv_opts o = {.dst = dst, .state_dir = state_dir};
	struct recv *r = recv_new(&o);
	if (!r)
		return err_set("out of memory");
	int rc = recv_setup(r);
	recv_free(r);
	free(r);
	return rc;
}

int tree_recv_forget(const char *state_dir, const char *dst)
{
	struct tree_recv_opts o = {.dst = dst, .state_dir = state_dir};
	struct recv *r = recv_new(&o);
	if (!r)
		return err_set("out of memory");
	int rc = recv_setup(r);
	if (rc == 0 && unlinkat(r->state_fd, TREE_HELD_FILE, 0) < 0 && errno != ENOENT)
		rc = err_set_errno("%s/%s", state_dir, TREE_HELD_FILE);
	recv_free(r);
	free(r);
	return rc;
}
