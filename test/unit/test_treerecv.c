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
#include "core/stream.h"
#include "core/treerecv.h"

static char top[] = "/tmp/ferry-test-treerecv-XXXXXX";
static char dst[256], state[256], outside[256];

/* ---- a stream builder over memory ---- */
struct mem {
	uint8_t *p;
	size_t len, cap, pos;
};

static ssize_t mem_write(void *ctx, const void *b, size_t n)
{
	struct mem *m = ctx;
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, b, n);
	m->len += n;
	return (ssize_t)n;
}

static ssize_t mem_read(void *ctx, void *b, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->pos < n ? m->len - m->pos : n;
	memcpy(b, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

struct b {
	struct mem m;
	struct io_chan ch;
	struct io_out out;
	uint8_t obuf[4096];
	struct stream_writer w;
	uint8_t rec[16384];
	uint64_t entries, data;
};

static void b_start(struct b *b, int kind, const char *snap, const char *from)
{
	struct stream_header h = {.kind = (uint8_t)kind};
	memset(b, 0, sizeof(*b));
	b->ch.ctx = &b->m;
	b->ch.write = mem_write;
	b->ch.read = mem_read;
	io_out_init(&b->out, &b->ch, b->obuf, sizeof(b->obuf));
	snprintf(h.snapshot, sizeof(h.snapshot), "%s", snap);
	snprintf(h.from, sizeof(h.from), "%s", from);
	stream_writer_start(&b->w, &b->out, STREAM_MAGIC);
	long n = stream_encode_header(b->rec, sizeof(b->rec), &h);
	stream_write(&b->w, STREAM_HEADER, b->rec, (size_t)n, NULL, 0);
}

/* An entry with a name of any bytes (length N), mode MODE; TARGET for symlinks. */
static void b_entry_n(struct b *b, const char *name, size_t n, uint32_t mode, uint64_t size,
		      const char *target)
{
	uint8_t *p = b->rec;
	put_u16(p, 0);
	p[2] = (uint8_t)n;
	memcpy(p + 3, name, n);
	p += 3 + n;
	put_u32(p, mode);
	put_u32(p + 4, 0);
	put_u32(p + 8, 0);
	put_u64(p + 12, 1000000000);
	put_u32(p + 20, 0);
	p += 24;
	if ((mode & S_IFMT) == S_IFREG) {
		put_u64(p, size);
		p += 8;
	} else if ((mode & S_IFMT) == S_IFLNK) {
		put_u16(p, (uint16_t)strlen(target));
		memcpy(p + 2, target, strlen(target));
		p += 2 + strlen(target);
	}
	put_u16(p, 0);
	p += 2;
	b->entries++;
	stream_write(&b->w, STREAM_ENTRY, b->rec, (size_t)(p - b->rec), NULL, 0);
}

static void b_entry(struct b *b, const char *name, uint32_t mode, uint64_t size, const char *target)
{
	b_entry_n(b, name, strlen(name), mode, size, target);
}

static void b_named(struct b *b, uint16_t type, const char *name, const char *path)
{
	struct stream_named nm = {0};
	nm.name_len = strlen(name);
	memcpy(nm.name, name, nm.name_len);
	if (path) {
		nm.path_len = strlen(path);
		memcpy(nm.path, path, nm.path_len);
	}
	if (type == STREAM_LINK)
		b->entries++;
	long n = stream_encode_named(b->rec, sizeof(b->rec), type, &nm);
	stream_write(&b->w, type, b->rec, (size_t)n, NULL, 0);
}

static void b_data(struct b *b, uint64_t off, const char *bytes)
{
	uint8_t head[13];
	size_t n = strlen(bytes);
	stream_encode_data_head(head, off, (uint32_t)n, STREAM_STORED);
	b->data += n;
	stream_write(&b->w, STREAM_DATA, head, 13, bytes, n);
}

static void b_leave(struct b *b)
{
	stream_write(&b->w, STREAM_LEAVE, NULL, 0, NULL, 0);
}

static void b_end(struct b *b)
{
	struct stream_end e = {b->w.records, b->entries, b->data, stream_writer_digest(&b->w)};
	long n = stream_encode_end(b->rec, sizeof(b->rec), &e);
	stream_write(&b->w, STREAM_END, b->rec, (size_t)n, NULL, 0);
	io_out_flush(&b->out);
}

/* Receives B's stream into dst; returns tree_recv's result. */
static int recv_b(struct b *b)
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

/* Nothing outside: TOP holds only state, outside (with its one sentinel) and maybe dst. */
static void check_contained(int dst_may_exist)
{
	char p[300];
	CHECK_INT(count(outside), 1);
	snprintf(p, sizeof(p), "%s/x", top);
	CHECK(access(p, F_OK) != 0);
	CHECK_INT(count(top), 2 + (dst_may_exist && access(dst, F_OK) == 0));
}

static struct b B;

static void expect_reject(const char *what)
{
	CHECK_INT(recv_b(&B), -1);
	if (!strstr(err_msg(), what)) {
		check_fail_at(__FILE__, __LINE__, "error message");
		fprintf(stderr, "    wanted \"%s\" in: %s\n", what, err_msg());
	}
	check_contained(0);
}

static void test_valid_twin_is_accepted(void)
{
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "a", S_IFREG | 0644, 5, NULL);
	b_data(&B, 0, "hello");
	b_entry(&B, "l", S_IFLNK | 0777, 0, outside);
	b_named(&B, STREAM_LINK, "m", "a");
	b_leave(&B);
	b_end(&B);
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
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "..", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "x", S_IFREG | 0644, 1, NULL);
	b_data(&B, 0, "x");
	b_leave(&B);
	b_leave(&B);
	b_end(&B);
	expect_reject("invalid name");
}

static void test_absolute_and_slash_names(void)
{
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "/etc/x", S_IFREG | 0644, 0, NULL);
	b_leave(&B);
	b_end(&B);
	expect_reject("invalid name");
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "a/../../x", S_IFREG | 0644, 0, NULL);
	b_leave(&B);
	b_end(&B);
	expect_reject("invalid name");
}

static void test_nul_and_empty_names(void)
{
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry_n(&B, "a\0b", 3, S_IFREG | 0644, 0, NULL);
	b_leave(&B);
	b_end(&B);
	expect_reject("invalid name");
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "", S_IFREG | 0644, 0, NULL);
	b_leave(&B);
	b_end(&B);
	expect_reject("invalid name");
}

static void test_symlink_then_file_under_it(void)
{
	/* a symlink to the outside, then the same name again as a directory to write through */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "a", S_IFLNK | 0777, 0, outside);
	b_entry(&B, "a", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "x", S_IFREG | 0644, 1, NULL);
	b_data(&B, 0, "x");
	b_leave(&B);
	b_leave(&B);
	b_end(&B);
	expect_reject("out of order");
	/* a hard link through the symlink to a file outside */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "a", S_IFLNK | 0777, 0, outside);
	b_named(&B, STREAM_LINK, "b", "a/sentinel");
	b_leave(&B);
	b_end(&B);
	expect_reject("not a directory of the target");
}

static void test_symlink_in_target_not_followed_by_incremental(void)
{
	/* a base with a symlink to the outside, then an incremental that enters it */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "a", S_IFLNK | 0777, 0, outside);
	b_leave(&B);
	b_end(&B);
	CHECK_INT(recv_b(&B), 0);
	b_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	b_named(&B, STREAM_ENTER, "", NULL);
	b_named(&B, STREAM_ENTER, "a", NULL);
	b_entry(&B, "x", S_IFREG | 0644, 1, NULL);
	b_data(&B, 0, "x");
	b_leave(&B);
	b_leave(&B);
	b_end(&B);
	CHECK_INT(recv_b(&B), -1);
	CHECK(strstr(err_msg(), "does not have") != NULL);
	check_contained(1);
	b_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	b_named(&B, STREAM_ENTER, "", NULL);
	b_named(&B, STREAM_LINK, "b", "a/sentinel");
	b_leave(&B);
	b_end(&B);
	CHECK_INT(recv_b(&B), -1);
	CHECK(strstr(err_msg(), "beyond a non-directory") != NULL);
	check_contained(1);
	file_remove_tree(AT_FDCWD, dst);
	char p[300];
	snprintf(p, sizeof(p), "%s/.%s.ferry-recv", top, "dst");
	file_remove_tree(AT_FDCWD, p);
	file_remove_tree(AT_FDCWD, state);
}

static void test_absurd_lengths(void)
{
	/* a file size above the bound */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "big", S_IFREG | 0644, STREAM_FILE_SIZE_MAX + 1, NULL);
	b_leave(&B);
	b_end(&B);
	expect_reject("exceeds the limit");
	/* data past the file's size */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_entry(&B, "f", S_IFREG | 0644, 2, NULL);
	b_data(&B, 1, "abc");
	b_leave(&B);
	b_end(&B);
	expect_reject("outside the file");
	/* directories nested too deep */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	for (int i = 0; i < STREAM_DEPTH_MAX + 1; i++)
		b_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
	b_end(&B);
	expect_reject("nested deeper");
	/* a record length field above the bound */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_end(&B);
	put_u32(B.m.p + 12 + 2, STREAM_RECORD_MAX + 1);
	expect_reject("exceeds the limit");
}

static void test_checksum_and_version(void)
{
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_leave(&B);
	b_end(&B);
	B.m.p[30] ^= 1;
	expect_reject("checksum mismatch");
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_end(&B);
	put_u32(B.m.p + 8, 2);
	expect_reject("unsupported stream version 2");
}

static void test_structure(void)
{
	/* END before the tree is complete */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_end(&B);
	expect_reject("before the tree was complete");
	/* a DELETE in a base stream */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_named(&B, STREAM_DELETE, "x", NULL);
	b_leave(&B);
	b_end(&B);
	expect_reject("DELETE in a base stream");
	/* an unknown record type that is not skippable; a skippable one passes */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	stream_write(&B.w, 0x0042, "x", 1, NULL, 0);
	b_leave(&B);
	b_end(&B);
	expect_reject("not skippable");
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	stream_write(&B.w, STREAM_SKIPPABLE | 0x0042, "x", 1, NULL, 0);
	b_leave(&B);
	b_end(&B);
	CHECK_INT(recv_b(&B), 0);
	file_remove_tree(AT_FDCWD, dst);
	file_remove_tree(AT_FDCWD, state);
	/* a link to a later path */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_named(&B, STREAM_LINK, "a", "b");
	b_entry(&B, "b", S_IFREG | 0644, 0, NULL);
	b_leave(&B);
	b_end(&B);
	expect_reject("does not come before it");
	/* END totals that lie */
	b_start(&B, STREAM_KIND_BASE, "s1", "");
	b_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	b_leave(&B);
	B.entries = 7;
	b_end(&B);
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
	char p[300];
	snprintf(p, sizeof(p), "%s/sentinel", outside);
	file_write_atomic_path(p, "keep", 4, 0644);
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
