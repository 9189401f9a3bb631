/* Unit tests of core/manifest: write/read round trip in tree order, and truncated, corrupt or disordered manifests refused. */
#define CHECK_SUITE "manifest"
#include "test/unit/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/manifest.h"
#include "test/lib/streambuild.h"

static char dir[] = "/tmp/ferry-test-manifest-XXXXXX";
static int dirfd_;
static struct manifest_writer *W;
static struct manifest_reader *R;
static struct manifest_entry E, G;

static const char *const paths[] = {"", "-x", "a", "a/b", "a/b/c", "a\nb", "a-b", "b", "\xc3\xa9"};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

/* A distinct entry for path number I. */
static void fill(struct manifest_entry *e, size_t i)
{
	memset(e, 0, sizeof(*e));
	e->path_len = strlen(paths[i]);
	memcpy(e->path, paths[i], e->path_len + 1);
	e->mode = (i % 2 ? S_IFREG : S_IFDIR) | (uint32_t)(0640 + i);
	e->uid = 1000 + (uint32_t)i;
	e->gid = 4000000000u;
	e->nlink = 1 + (uint32_t)i;
	e->ino = (1ULL << 40) + i;
	e->size = (1ULL << 33) + i;
	e->rdev = 0x0103 + i;
	e->hash = 0xfedcba9876543210ULL ^ i;
	e->mtime_sec = -1 - (int64_t)i;
	e->mtime_nsec = 999999999 - (uint32_t)i;
	e->ctime_sec = 1700000000 + (int64_t)i;
	e->ctime_nsec = (uint32_t)i;
}

static int same(const struct manifest_entry *a, const struct manifest_entry *b)
{
	return a->path_len == b->path_len && !memcmp(a->path, b->path, a->path_len + 1) &&
	       a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->nlink == b->nlink &&
	       a->ino == b->ino && a->size == b->size && a->rdev == b->rdev && a->hash == b->hash &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

/* Writes manifest NAME with the entries of paths[] in the order of IDX (N of them). */
static int write_manifest(const char *name, const char *from, const size_t *idx, size_t n)
{
	if (manifest_create(W, dirfd_, name, from) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		fill(&E, idx[i]);
		if (manifest_add(W, &E) < 0) {
			manifest_abort(W);
			return -1;
		}
	}
	return manifest_commit(W);
}

/* Reads manifest NAME through: the number of entries, or -1 with err_set. */
static long read_manifest(const char *name)
{
	long n = 0;
	int r;
	if (manifest_open(R, dirfd_, name) < 0)
		return -1;
	while ((r = manifest_next(R, &G)) == 1)
		n++;
	manifest_close(R);
	return r < 0 ? -1 : n;
}

static size_t file_bytes(const char *name, uint8_t **p)
{
	char *text = NULL;
	size_t len = 0;
	if (file_read_all(dirfd_, name, 1 << 20, &text, &len) < 0)
		return 0;
	*p = (uint8_t *)text;
	return len;
}

static void put_file(const char *name, const uint8_t *p, size_t n)
{
	unlinkat(dirfd_, name, 0);
	int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void test_round_trip(void)
{
	size_t idx[NPATHS];
	for (size_t i = 0; i < NPATHS; i++)
		idx[i] = i;
	CHECK_INT(write_manifest("base-1", "", idx, NPATHS), 0);
	struct stat st;
	CHECK(fstatat(dirfd_, "base-1", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	      (st.st_mode & 07777) == 0600);
	CHECK_INT(manifest_open(R, dirfd_, "base-1"), 0);
	CHECK_INT(R->header.kind, STREAM_KIND_BASE);
	CHECK_STR(R->header.snapshot, "base-1");
	CHECK_STR(R->header.from, "");
	for (size_t i = 0; i < NPATHS; i++) {
		fill(&E, i);
		CHECK_INT(manifest_next(R, &G), 1);
		if (!CHECK(same(&E, &G)))
			fprintf(stderr, "    entry %zu (\"%s\") differs\n", i, paths[i]);
	}
	CHECK_INT(manifest_next(R, &G), 0);
	CHECK_INT(manifest_next(R, &G), 0); /* stays at the end */
	manifest_close(R);
	/* the file starts with the manifest magic and version 1 */
	uint8_t *p = NULL;
	size_t n = file_bytes("base-1", &p);
	CHECK(n > 12 && !memcmp(p, MANIFEST_MAGIC "\0\0\0\1", 12));
	free(p);
	/* an incremental's manifest names its base */
	CHECK_INT(write_manifest("inc-2", "base-1", idx, 1), 0);
	CHECK_INT(manifest_open(R, dirfd_, "inc-2"), 0);
	CHECK_INT(R->header.kind, STREAM_KIND_INCREMENTAL);
	CHECK_STR(R->header.from, "base-1");
	manifest_close(R);
	CHECK_INT(read_manifest("inc-2"), 1);
	/* an empty manifest (no entry) is valid too */
	CHECK_INT(write_manifest("empty", "", idx, 0), 0);
	CHECK_INT(read_manifest("empty"), 0);
}

static void test_stat_fields(void)
{
	struct stat st;
	CHECK_INT(fstat(dirfd_, &st), 0);
	memset(&E, 0, sizeof(E));
	manifest_entry_stat(&E, &st);
	CHECK(E.mode == st.st_mode && E.uid == st.st_uid && E.gid == st.st_gid &&
	      E.nlink == st.st_nlink && E.ino == st.st_ino && E.size == (uint64_t)st.st_size &&
	      E.rdev == st.st_rdev && E.mtime_sec == st.st_mtim.tv_sec &&
	      E.mtime_nsec == (uint32_t)st.st_mtim.tv_nsec && E.ctime_sec == st.st_ctim.tv_sec &&
	      E.ctime_nsec == (uint32_t)st.st_ctim.tv_nsec);
}

static void test_abort_and_names(void)
{
	size_t idx[] = {0, 2};
	CHECK_INT(manifest_create(W, dirfd_, "gone", ""), 0);
	fill(&E, 0);
	CHECK_INT(manifest_add(W, &E), 0);
	manifest_abort(W);
	CHECK(faccessat(dirfd_, "gone", F_OK, AT_SYMLINK_NOFOLLOW) != 0);
	/* nothing left behind, temporary file included */
	DIR *d = fdopendir(dup(dirfd_));
	struct dirent *e;
	int tmp = 0;
	while ((e = readdir(d)))
		tmp += strstr(e->d_name, "gone") != NULL;
	closedir(d);
	CHECK_INT(tmp, 0);
	CHECK_INT(manifest_create(W, dirfd_, "../x", ""), -1);
	CHECK(strstr(err_msg(), "invalid snapshot name") != NULL);
	CHECK_INT(manifest_create(W, dirfd_, ".hidden", ""), -1);
	CHECK_INT(write_manifest("ok", "", idx, 2), 0);
	CHECK_INT(manifest_open(R, dirfd_, "missing"), -1);
	CHECK(strstr(err_msg(), "no snapshot 'missing'") != NULL);
	/* a symlink where the manifest should be is not followed */
	CHECK_INT(symlinkat("ok", dirfd_, "link"), 0);
	CHECK_INT(manifest_open(R, dirfd_, "link"), -1);
	CHECK(strstr(err_msg(), "manifest link") != NULL);
}

static void test_order_enforced(void)
{
	static const size_t swapped[] = {0, 3, 2};     /* a/b before a */
	static const size_t dup_[] = {0, 2, 2};	       /* a twice */
	static const size_t root_late[] = {2, 0};      /* the root after an entry */
	static const size_t bytes_order[] = {0, 8, 7}; /* 0xc3 before 'b' */
	static const size_t ok[] = {0, 1, 2, 5, 6, 7, 8};
	CHECK_INT(write_manifest("o1", "", swapped, 3), 0);
	CHECK_INT(read_manifest("o1"), -1);
	CHECK(strstr(err_msg(), "out of order at /a") != NULL);
	CHECK_INT(write_manifest("o2", "", dup_, 3), 0);
	CHECK_INT(read_manifest("o2"), -1);
	CHECK(strstr(err_msg(), "out of order at /a") != NULL);
	CHECK_INT(write_manifest("o3", "", root_late, 2), 0);
	CHECK_INT(read_manifest("o3"), -1);
	CHECK(strstr(err_msg(), "bad path") != NULL);
	CHECK_INT(write_manifest("o4", "", bytes_order, 3), 0);
	CHECK_INT(read_manifest("o4"), -1);
	CHECK_INT(write_manifest("o5", "", ok, 7), 0);
	CHECK_INT(read_manifest("o5"), 7);
}

static void test_bad_paths(void)
{
	static const char *const bad[] = {"../x", "/etc/x", "a//b", "a/", "a/./b", "a\0b"};
	static const size_t len[] = {4, 6, 4, 2, 5, 3};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(manifest_create(W, dirfd_, "p", ""), 0);
		fill(&E, 0);
		manifest_add(W, &E);
		fill(&E, 2);
		memcpy(E.path, bad[i], len[i]);
		E.path[len[i]] = 0;
		E.path_len = len[i];
		manifest_add(W, &E);
		CHECK_INT(manifest_commit(W), 0);
		if (!CHECK_INT(read_manifest("p"), -1) || !CHECK(strstr(err_msg(), "bad path")))
			fprintf(stderr, "    path \"%s\": %s\n", bad[i], err_msg());
		unlinkat(dirfd_, "p", 0);
	}
}

static void test_truncated_and_corrupt(void)
{
	size_t idx[NPATHS];
	for (size_t i = 0; i < NPATHS; i++)
		idx[i] = i;
	CHECK_INT(write_manifest("whole", "", idx, NPATHS), 0);
	uint8_t *p = NULL;
	size_t n = file_bytes("whole", &p);
	CHECK(n > 500);
	/* every truncation is refused: never taken for a shorter valid manifest */
	for (size_t cut = 0; cut < n; cut++) {
		put_file("cut", p, cut);
		if (!CHECK_INT(read_manifest("cut"), -1))
			fprintf(stderr, "    cut at %zu of %zu accepted\n", cut, n);
	}
	/* every flipped byte is refused */
	for (size_t at = 0; at < n; at++) {
		p[at] ^= 0x01;
		put_file("flip", p, n);
		p[at] ^= 0x01;
		if (!CHECK_INT(read_manifest("flip"), -1))
			fprintf(stderr, "    flip at %zu accepted\n", at);
	}
	/* a byte after END */
	uint8_t *q = malloc(n + 1);
	memcpy(q, p, n);
	q[n] = 0;
	put_file("trail", q, n + 1);
	CHECK_INT(read_manifest("trail"), -1);
	CHECK(strstr(err_msg(), "after the END record") != NULL);
	free(q);
	free(p);
	unlinkat(dirfd_, "cut", 0);
	unlinkat(dirfd_, "flip", 0);
}

/* A manifest framed by hand (valid checksums) whose END lies, or with a stream record in it. */
static void test_end_and_types(void)
{
	static struct sb b;
	uint8_t hdr[256], rec[128];
	for (int i = 0; i < 4; i++) {
		sb_start_raw(&b);
		/* sb_start_raw wrote STREAM_MAGIC: rewrite the first bytes as the manifest's */
		io_out_flush(&b.out);
		memcpy(b.m.p, MANIFEST_MAGIC, STREAM_MAGIC_LEN);
		size_t hn = sb_header_payload(hdr, STREAM_KIND_BASE, "m", "", 0);
		sb_record(&b, STREAM_HEADER, hdr, hn);
		put_u16(rec, 0); /* the root: u16 path length 0, then 72 bytes of fields */
		memset(rec + 2, 0, 72);
		sb_record(&b, i == 3 ? STREAM_DATA : 2, rec, 74);
		struct stream_end e = {b.w.records, 1, 0, stream_writer_digest(&b.w)};
		if (i == 0)
			e.records++;
		if (i == 1)
			e.entries = 2;
		if (i == 2)
			e.digest++;
		sb_end_with(&b, &e);
		put_file("hand", b.m.p, b.m.len);
		long r = read_manifest("hand");
		if (i == 3)
			CHECK(r == -1 && strstr(err_msg(), "unexpected record type 5"));
		else
			CHECK(r == -1 && strstr(err_msg(), "END totals or digest do not match"));
	}
	/* the same, told the truth, is read */
	sb_start_raw(&b);
	io_out_flush(&b.out);
	memcpy(b.m.p, MANIFEST_MAGIC, STREAM_MAGIC_LEN);
	size_t hn = sb_header_payload(hdr, STREAM_KIND_BASE, "m", "", 0);
	sb_record(&b, STREAM_HEADER, hdr, hn);
	sb_record(&b, 2, rec, 74);
	b.entries = 1;
	sb_end(&b);
	put_file("hand", b.m.p, b.m.len);
	CHECK_INT(read_manifest("hand"), 1);
	/* a tree stream is not a manifest */
	memcpy(b.m.p, STREAM_MAGIC, STREAM_MAGIC_LEN);
	put_file("hand", b.m.p, b.m.len);
	CHECK_INT(read_manifest("hand"), -1);
	CHECK(strstr(err_msg(), "bad magic") != NULL);
	sb_free(&b);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	W = malloc(sizeof(*W));
	R = malloc(sizeof(*R));
	RUN(test_round_trip);
	RUN(test_stat_fields);
	RUN(test_abort_and_names);
	RUN(test_order_enforced);
	RUN(test_bad_paths);
	RUN(test_truncated_and_corrupt);
	RUN(test_end_and_types);
	free(W);
	free(R);
	close(dirfd_);
	file_remove_tree(AT_FDCWD, dir);
	return CHECK_DONE();
}
