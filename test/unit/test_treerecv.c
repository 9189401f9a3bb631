/* Hostile streams crafted record by record: each is rejected with a clear error and nothing is written outside the target. */
#define CHECK_SUITE "treerecv"
#include "test/unit/check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/cursor.h"
#include "core/file.h"
#include "core/lz4.h"
#include "core/stream.h"
#include "core/treerecv.h"
#include "test/lib/streambuild.h"

static char top[] = "/tmp/ferry-test-treerecv-XXXXXX";
static char dst[256], state[256], outside[256], sentinel[300];
/* A name no one else uses: hostile streams aim at it in /tmp, /, /etc, next to the target. */
static char canary[64];
static struct stat outside_st, sentinel_st;

/* Receives B's stream into dst; returns tree_recv's result. */
static int recv_b(struct sb *b)
{
	struct tree_recv_opts o = {.dst = dst, .state_dir = state};
	b->m.pos = 0;
	int r = tree_recv(&o, &b->ch, NULL, NULL);
	free(b->m.p);
	b->m.p = NULL;
	return r;
}

static int count(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/*
 * Nothing written outside the target: TOP holds only state, the sentinel
 * directory next to the target (unchanged: same entries, mtime, ctime; its
 * file not linked, not written) and maybe dst; no canary in TOP, /tmp, / or
 * /etc.
 */
static void check_contained(int dst_may_exist)
{
	char p[300];
	struct stat st;
	CHECK_INT(count(outside), 1);
	CHECK(stat(outside, &st) == 0 && st.st_ino == outside_st.st_ino &&
	      st.st_mtim.tv_nsec == outside_st.st_mtim.tv_nsec &&
	      st.st_ctim.tv_sec == outside_st.st_ctim.tv_sec &&
	      st.st_ctim.tv_nsec == outside_st.st_ctim.tv_nsec);
	CHECK(lstat(sentinel, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	      st.st_ino == sentinel_st.st_ino && st.st_size == 4 &&
	      st.st_ctim.tv_nsec == sentinel_st.st_ctim.tv_nsec &&
	      st.st_ctim.tv_sec == sentinel_st.st_ctim.tv_sec);
	static const char *const places[] = {"%s/x", "%s/%s", "/tmp/%2$s", "/%2$s", "/etc/%2$s"};
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		snprintf(p, sizeof(p), places[i], top, canary);
		if (!CHECK(access(p, F_OK) != 0))
			fprintf(stderr, "    %s was created\n", p);
	}
	CHECK_INT(count(top), 2 + (dst_may_exist && access(dst, F_OK) == 0));
}

static struct sb B;

/* "record I (TYPE) at byte N: WHAT", N the offset of B's record I: how errors say where. */
static const char *at(size_t i, const char *type, const char *what)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "record %zu (%s) at byte %zu: %s", i, type, B.at[i], what);
	return buf;
}

/* The stream in B is refused, the error says WHAT and where ("record N (TYPE) at byte X", or in the preamble "at byte X"). */
#define expect_reject(what) expect_reject_at(__LINE__, what, 0)
static void expect_reject_at(int line, const char *what, int dst_exists)
{
	CHECK_INT(recv_b(&B), -1);
	const char *m = err_msg();
	if (!strstr(m, what) || !strstr(m, " at byte ")) {
		check_fail_at(__FILE__, line, "error message");
		fprintf(stderr, "    wanted \"%s\" and where, in: %s\n", what, m);
	}
	check_contained(dst_exists);
}

static void test_valid_twin_is_accepted(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFREG | 0644, 5, NULL);
	sb_data(&B, 0, "hello");
	sb_entry(&B, "l", S_IFLNK | 0777, 0, outside);
	sb_named(&B, STREAM_LINK, "m", "a");
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(recv_b(&B), 0);
	check_contained(1);
	char p[300];
	snprintf(p, sizeof(p), "%s/m", dst);
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_nlink == 2 && st.st_size == 5);
	file_remove_tree(AT_FDCWD, dst);
	file_remove_tree(AT_FDCWD, state);
}

static void test_dotdot_name(void)
{
	/* "..", "..", then the canary: /tmp/CANARY if followed */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "..", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "..", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, canary, S_IFREG | 0644, 1, NULL);
	sb_data(&B, 0, "x");
	sb_leave(&B);
	sb_leave(&B);
	sb_leave(&B);
	sb_end(&B);
	expect_reject(at(2, "ENTRY", "ENTRY: invalid name \"..\" in /"));
	/* "../x" as one name */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "../x", S_IFREG | 0644, 1, NULL);
	sb_data(&B, 0, "x");
	sb_leave(&B);
	sb_end(&B);
	expect_reject("invalid name \"../x\"");
	/* "." as a directory to re-enter the root */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, ".", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("invalid name \".\"");
}

static void test_absolute_and_slash_names(void)
{
	char name[128];
	snprintf(name, sizeof(name), "/etc/%s", canary);
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, name, S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("invalid name");
	snprintf(name, sizeof(name), "a/../../%s", canary);
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, name, S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("invalid name");
	/* a LINK name with a slash, and a LINK target going up */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFREG | 0644, 0, NULL);
	sb_named(&B, STREAM_LINK, "b/c", "a");
	sb_leave(&B);
	sb_end(&B);
	expect_reject("LINK: invalid name \"b/c\"");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	uint8_t rec[64];
	size_t n = 0;
	rec[n++] = 1;
	rec[n++] = 'b';
	put_u16(rec + n, 13);
	memcpy(rec + n + 2, "../outside/se", 13);
	n += 15;
	sb_record(&B, STREAM_LINK, rec, n);
	B.entries++;
	sb_leave(&B);
	sb_end(&B);
	expect_reject("LINK b: invalid target path");
}

static void test_nul_and_empty_names(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry_n(&B, "a\0b", 3, S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("invalid name");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "", S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("invalid name");
}

static void test_symlink_then_file_under_it(void)
{
	char path[400];
	/* a symlink to /, then the same name again as a directory to write through */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFLNK | 0777, 0, "/");
	sb_entry(&B, "a", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "tmp", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, canary, S_IFREG | 0644, 1, NULL);
	sb_data(&B, 0, "x");
	sb_leave(&B);
	sb_leave(&B);
	sb_leave(&B);
	sb_end(&B);
	expect_reject(at(3, "ENTRY", "ENTRY: name \"a\" in / is out of order"));
	/* a symlink to /, then a hard link through it to the sentinel outside */
	snprintf(path, sizeof(path), "a%s", sentinel);
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFLNK | 0777, 0, "/");
	sb_named(&B, STREAM_LINK, "b", path);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("not a directory of the target");
	/* the same with a symlink to the sentinel's directory */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFLNK | 0777, 0, outside);
	sb_named(&B, STREAM_LINK, "b", "a/sentinel");
	sb_leave(&B);
	sb_end(&B);
	expect_reject("not a directory of the target");
}

/* Receives a valid base holding symlinks to / and to the sentinel's directory, and a directory. */
static void base_with_symlinks(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFLNK | 0777, 0, outside);
	sb_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_entry(&B, "f", S_IFREG | 0644, 1, NULL);
	sb_data(&B, 0, "f");
	sb_entry(&B, "up", S_IFLNK | 0777, 0, "/");
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(recv_b(&B), 0);
}

static void clean_target(void)
{
	char p[300];
	file_remove_tree(AT_FDCWD, dst);
	snprintf(p, sizeof(p), "%s/.%s.ferry-recv", top, "dst");
	file_remove_tree(AT_FDCWD, p);
	file_remove_tree(AT_FDCWD, state);
}

static void test_symlink_in_target_not_followed_by_incremental(void)
{
	char path[400];
	base_with_symlinks();
	/* an incremental that enters the symlink to the outside */
	sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_named(&B, STREAM_ENTER, "a", NULL);
	sb_entry(&B, canary, S_IFREG | 0644, 1, NULL);
	sb_data(&B, 0, "x");
	sb_leave(&B);
	sb_leave(&B);
	sb_end(&B);
	expect_reject_at(
		__LINE__,
		at(2, "ENTER", "/a: the stream enters a directory the target does not have"), 1);
	/* enters the symlink to /, then tmp, then writes the canary: /tmp/CANARY if followed */
	sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_named(&B, STREAM_ENTER, "up", NULL);
	sb_named(&B, STREAM_ENTER, "tmp", NULL);
	sb_entry(&B, canary, S_IFREG | 0644, 1, NULL);
	sb_data(&B, 0, "x");
	sb_leave(&B);
	sb_leave(&B);
	sb_leave(&B);
	sb_end(&B);
	expect_reject_at(__LINE__, "/up: the stream enters a directory the target does not have",
			 1);
	/* keeps the data of a "file" that is the symlink to the sentinel's directory */
	static struct stream_entry e;
	memset(&e, 0, sizeof(e));
	strcpy(e.name, "a");
	e.name_len = 1;
	e.mode = S_IFREG | 0666;
	e.flags = STREAM_ENTRY_KEEP_DATA;
	sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_entry_s(&B, &e);
	sb_leave(&B);
	sb_end(&B);
	expect_reject_at(__LINE__,
			 "/a: the stream keeps its content but the target has no such file", 1);
	/* hard links through the symlinks */
	sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_named(&B, STREAM_LINK, "b", "a/sentinel");
	sb_leave(&B);
	sb_end(&B);
	expect_reject_at(__LINE__, "/b: link target /a/sentinel lies beyond a non-directory", 1);
	snprintf(path, sizeof(path), "up%s", sentinel);
	sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_named(&B, STREAM_LINK, "v", path);
	sb_leave(&B);
	sb_end(&B);
	expect_reject_at(__LINE__, "lies beyond a non-directory", 1);
	/* DELETE of names that would reach out */
	static const char *const names[] = {"..", ".", "a/sentinel", "up/tmp"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
		sb_named(&B, STREAM_ENTER, "", NULL);
		sb_named(&B, STREAM_DELETE, names[i], NULL);
		sb_leave(&B);
		sb_end(&B);
		expect_reject_at(__LINE__, "DELETE: invalid name", 1);
	}
	/* the target still holds s1, untouched */
	char held[STREAM_SNAP_NAME_MAX + 1];
	CHECK_INT(tree_held(state, dst, held, sizeof(held)), 1);
	CHECK_STR(held, "s1");
	struct stat st;
	snprintf(path, sizeof(path), "%s/up", dst);
	CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	/* the valid twin: deleting the symlinks removes them, not what they point to */
	sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_named(&B, STREAM_DELETE, "a", NULL);
	sb_named(&B, STREAM_DELETE, "up", NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(recv_b(&B), 0);
	check_contained(1);
	CHECK_INT(count(dst), 2);
	CHECK(access("/tmp", F_OK) == 0);
	clean_target();
}

static void test_absurd_lengths(void)
{
	/* a file size above the bound */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "big", S_IFREG | 0644, STREAM_FILE_SIZE_MAX + 1, NULL);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("exceeds the limit");
	/* data past the file's size */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "f", S_IFREG | 0644, 2, NULL);
	sb_data(&B, 1, "abc");
	sb_leave(&B);
	sb_end(&B);
	expect_reject("outside the file");
	/* directories nested too deep */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	for (int i = 0; i < STREAM_DEPTH_MAX + 1; i++)
		sb_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
	sb_end(&B);
	expect_reject("nested deeper");
	/* a record length field above the bound, and at 4 GiB - 1 */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_end(&B);
	put_u32(B.m.p + 12 + 2, STREAM_RECORD_MAX + 1);
	expect_reject(at(0, "HEADER", "length 1048577 exceeds the limit"));
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_end(&B);
	put_u32(B.m.p + B.at[1] + 2, 0xffffffffu);
	expect_reject(at(1, "ENTRY", "length 4294967295 exceeds the limit"));
	/* a symlink target, an xattr value, a number of xattrs, a LINK path above their bounds */
	static uint8_t rec[STREAM_XATTR_VALUE_MAX + 512];
	static struct stream_entry e;
	for (int i = 0; i < 4; i++) {
		memset(&e, 0, sizeof(e));
		strcpy(e.name, "x");
		e.name_len = 1;
		e.mode = i == 0 ? S_IFLNK | 0777 : S_IFREG | 0644;
		strcpy(e.target, "t");
		e.target_len = 1;
		long n = stream_encode_entry(rec, sizeof(rec), &e);
		if (i == 0) {
			put_u16(rec + 28, STREAM_SYMLINK_MAX + 1); /* after flags, name, 24 bytes */
			memset(rec + 30, 't', STREAM_SYMLINK_MAX + 1);
			put_u16(rec + 30 + STREAM_SYMLINK_MAX + 1, 0);
			n = 30 + STREAM_SYMLINK_MAX + 1 + 2;
		} else if (i == 1) { /* one user.v of STREAM_XATTR_VALUE_MAX + 1 bytes */
			put_u16(rec + n - 2, 1);
			rec[n] = 6;
			memcpy(rec + n + 1, "user.v", 6);
			put_u32(rec + n + 7, STREAM_XATTR_VALUE_MAX + 1);
			memset(rec + n + 11, 'v', STREAM_XATTR_VALUE_MAX + 1);
			n += 11 + STREAM_XATTR_VALUE_MAX + 1;
		} else if (i == 2) {
			put_u16(rec + n - 2, STREAM_XATTRS_MAX + 1);
		} else { /* a LINK with a path length past the record and above STREAM_PATH_MAX */
			rec[0] = 1;
			rec[1] = 'x';
			put_u16(rec + 2, STREAM_PATH_MAX);
			memset(rec + 4, 'p', STREAM_PATH_MAX);
			n = 4 + STREAM_PATH_MAX;
		}
		sb_start(&B, STREAM_KIND_BASE, "s1", "");
		sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		sb_record(&B, i == 3 ? STREAM_LINK : STREAM_ENTRY, rec, (size_t)n);
		B.entries++;
		sb_leave(&B);
		sb_end(&B);
		static const char *const why[] = {"bad symlink target length",
						  "extended attribute value of 65537 bytes exceeds",
						  "1025 extended attributes exceed the limit",
						  "bad target path length"};
		expect_reject(why[i]);
	}
	/* a name length byte running past the record */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_record(&B, STREAM_ENTRY, "\0\0\377abc", 6);
	sb_leave(&B);
	sb_end(&B);
	expect_reject(at(2, "ENTRY", "ENTRY record is truncated"));
	/* DATA: a block above STREAM_BLOCK_MAX; an LZ4 block inflating past what it announces */
	static uint8_t raw[4096], z[4200];
	memset(raw, 'z', sizeof(raw));
	long zn = lz4_compress(raw, sizeof(raw), z, sizeof(z));
	for (int i = 0; i < 2; i++) {
		sb_start_flags(&B, STREAM_KIND_BASE, "s1", "", STREAM_FLAG_COMPRESSED);
		sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		sb_entry(&B, "f", S_IFREG | 0644, STREAM_FILE_SIZE_MAX, NULL);
		sb_data_enc(&B, 0, i ? 100 : STREAM_BLOCK_MAX + 1, STREAM_LZ4, z, (size_t)zn);
		sb_leave(&B);
		sb_end(&B);
		expect_reject(
			i ? at(3, "DATA",
			       "DATA for /f at 0: compressed block does not decompress to 100 bytes")
			  : "block length 131073 out of range");
	}
}

static void test_checksum_and_version(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	B.m.p[30] ^= 1;
	expect_reject(at(0, "HEADER", "checksum mismatch"));
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	B.m.p[B.at[3] + 10] ^= 0x80; /* END's record count */
	expect_reject(at(3, "END", "checksum mismatch"));
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_end(&B);
	put_u32(B.m.p + 8, 2);
	expect_reject("unsupported stream version 2 at byte 8");
	/* a header the receiver cannot take: unknown flags, another backend */
	for (int i = 0; i < 2; i++) {
		sb_start_flags(&B, STREAM_KIND_BASE, "s1", "", i ? 0 : 0x0100);
		if (i) {
			io_out_flush(&B.out);
			B.m.p[B.at[0] + 6 + 1] =
				3; /* the backend byte, checksum made again below */
			put_u64(B.m.p + B.at[0] + 6 + 24, xxh64(B.m.p + B.at[0], 6 + 24, 0));
		}
		sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		sb_leave(&B);
		sb_end(&B);
		expect_reject(i ? at(0, "HEADER", "HEADER: storage backend 3")
				: at(0, "HEADER", "HEADER: unknown flags 0x0100"));
	}
}

static void test_structure(void)
{
	/* END before the tree is complete */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_end(&B);
	expect_reject("before the tree was complete");
	/* a DELETE in a base stream */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_named(&B, STREAM_DELETE, "x", NULL);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("DELETE in a base stream");
	/* an unknown record type that is not skippable; a skippable one passes */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	stream_write(&B.w, 0x0042, "x", 1, NULL, 0);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("not skippable");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	stream_write(&B.w, STREAM_SKIPPABLE | 0x0042, "x", 1, NULL, 0);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(recv_b(&B), 0);
	file_remove_tree(AT_FDCWD, dst);
	file_remove_tree(AT_FDCWD, state);
	/* a link to a later path */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_named(&B, STREAM_LINK, "a", "b");
	sb_entry(&B, "b", S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	expect_reject("does not come before it");
	/* END totals that lie */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	B.entries = 7;
	sb_end(&B);
	expect_reject("END totals do not match");
}

int main(void)
{
	if (!mkdtemp(top))
		return 1;
	snprintf(dst, sizeof(dst), "%s/dst", top);
	snprintf(state, sizeof(state), "%s/state", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	mkdir(outside, 0755);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", outside);
	snprintf(canary, sizeof(canary), "ferry-canary-treerecv-%ld", (long)getpid());
	file_write_atomic_path(sentinel, "keep", 4, 0644);
	stat(outside, &outside_st);
	stat(sentinel, &sentinel_st);
	RUN(test_valid_twin_is_accepted);
	RUN(test_dotdot_name);
	RUN(test_absolute_and_slash_names);
	RUN(test_nul_and_empty_names);
	RUN(test_symlink_then_file_under_it);
	RUN(test_symlink_in_target_not_followed_by_incremental);
	RUN(test_absurd_lengths);
	RUN(test_checksum_and_version);
	RUN(test_structure);
	file_remove_tree(AT_FDCWD, top);
	return CHECK_DONE();
}
