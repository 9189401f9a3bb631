/* Unit tests of core/stream: every record codec round trip, and every rejection of the framing, the decoders and the structure checker. */
#define CHECK_SUITE "stream"
#include "test/unit/check.h"

#include <stdint.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/lz4.h"
#include "core/stream.h"
#include "test/lib/streambuild.h"

static struct sb B;
static uint8_t rbuf[STREAM_RECORD_MAX], block[STREAM_BLOCK_MAX];
static struct stream_check chk;
static struct stream_entry ent;
static struct stream_named nmd;

#define CHECK_ERR(expr, text) check_err_at(__FILE__, __LINE__, #expr, (expr), text)
/* EXPR failed (returned < 0) and err_msg() contains TEXT. */
static int check_err_at(const char *file, int line, const char *what, long rc, const char *text)
{
	if (rc >= 0) {
		check_fail_at(file, line, what);
		fprintf(stderr, "    accepted; wanted an error with \"%s\"\n", text);
		return 0;
	}
	if (!strstr(err_msg(), text)) {
		check_fail_at(file, line, what);
		fprintf(stderr, "    wanted \"%s\" in: %s\n", text, err_msg());
		return 0;
	}
	return 1;
}

/* "record I (TYPE) at byte N: WHAT", N the offset of B's record I: how errors say where. */
static const char *at(size_t i, const char *type, const char *what)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "record %zu (%s) at byte %zu: %s", i, type, B.at[i], what);
	return buf;
}

/*
 * Reads B's stream as a receiver does before it touches anything: framing,
 * decoders, structure checker, nothing after END. Errors say which record
 * and where, like tree_recv's. 0 or -1 with err_set.
 */
static int verify(struct sb *b)
{
	struct io_in in;
	uint8_t inbuf[4096];
	struct stream_reader r;
	struct stream_header h;
	struct stream_data d;
	struct stream_end end;
	char tn[16];
	b->m.pos = 0;
	io_in_init(&in, &b->ch, inbuf, sizeof(inbuf));
	if (stream_reader_start(&r, &in, rbuf, sizeof(rbuf), STREAM_MAGIC, "stream") < 0)
		return -1;
	stream_check_init(&chk);
	for (;;) {
		int rc;
		if (stream_read(&r) < 0)
			return -1;
		switch (r.type) {
		case STREAM_HEADER:
			rc = stream_decode_header(r.buf, r.len, &h);
			if (!rc)
				rc = stream_check_record(&chk, r.type, &h, NULL, NULL, NULL, NULL,
							 0, 0);
			break;
		case STREAM_ENTRY:
			rc = stream_decode_entry(r.buf, r.len, &ent);
			if (!rc)
				rc = stream_check_record(&chk, r.type, NULL, &ent, NULL, NULL, NULL,
							 0, 0);
			break;
		case STREAM_ENTER:
		case STREAM_LINK:
		case STREAM_DELETE:
			rc = stream_decode_named(r.buf, r.len, r.type, &nmd);
			if (!rc)
				rc = stream_check_record(&chk, r.type, NULL, NULL, &nmd, NULL, NULL,
							 0, 0);
			break;
		case STREAM_DATA:
			rc = stream_decode_data(r.buf, r.len, &d);
			if (!rc && d.encoding == STREAM_LZ4 &&
			    lz4_decompress(d.bytes, d.len, block, d.raw_len) != d.raw_len)
				rc = err_set("DATA: block does not decompress to its length");
			if (!rc)
				rc = stream_check_record(&chk, r.type, NULL, NULL, NULL, &d, NULL,
							 0, 0);
			break;
		case STREAM_END:
			rc = stream_decode_end(r.buf, r.len, &end);
			if (!rc)
				rc = stream_check_record(&chk, r.type, NULL, NULL, NULL, NULL, &end,
							 r.records - 1, r.digest_prev);
			if (!rc)
				return stream_reader_finish(&r);
			break;
		default:
			rc = stream_check_record(&chk, r.type, NULL, NULL, NULL, NULL, NULL, 0, 0);
		}
		if (rc < 0)
			return err_prefix("record %llu (%s) at byte %llu",
					  (unsigned long long)(r.records - 1),
					  stream_type_name(r.type, tn), (unsigned long long)r.at);
	}
}

/* A minimal valid base stream: the root with one file of 5 bytes. */
static void small_base(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "f", S_IFREG | 0644, 5, NULL);
	sb_data(&B, 0, "hello");
	sb_leave(&B);
	sb_end(&B);
}

/* ---- Codec round trips ---------------------------------------------------------- */

static void test_header_round_trip(void)
{
	uint8_t buf[256];
	struct stream_header h = {.kind = STREAM_KIND_INCREMENTAL,
				  .flags = STREAM_FLAG_COMPRESSED,
				  .created = 1700000000,
				  .size_hint = 1ULL << 40};
	struct stream_header g;
	strcpy(h.snapshot, "snap-2.b_c");
	strcpy(h.from, "snap-1");
	long n = stream_encode_header(buf, sizeof(buf), &h);
	CHECK_INT(n, 1 + 1 + 2 + 1 + 10 + 1 + 6 + 8 + 8);
	CHECK_INT(stream_decode_header(buf, (size_t)n, &g), 0);
	CHECK_INT(g.kind, STREAM_KIND_INCREMENTAL);
	CHECK_INT(g.backend, 0);
	CHECK_INT(g.flags, STREAM_FLAG_COMPRESSED);
	CHECK_STR(g.snapshot, "snap-2.b_c");
	CHECK_STR(g.from, "snap-1");
	CHECK(g.created == 1700000000 && g.size_hint == 1ULL << 40);
	/* the exact bytes of docs/stream-format.md's HEADER */
	static const uint8_t want[] = {2,   0,	 0,   1,   10,	's', 'n',  'a',	 'p',  '-',
				       '2', '.', 'b', '_', 'c', 6,   's',  'n',	 'a',  'p',
				       '-', '1', 0,   0,   0,	0,   0x65, 0x53, 0xf1, 0x00,
				       0,   0,	 1,   0,   0,	0,   0,	   0};
	CHECK_EQUALS(buf, (size_t)n, want, sizeof(want));
}

static void test_header_rejects(void)
{
	uint8_t buf[256];
	struct stream_header h = {.kind = STREAM_KIND_BASE}, g;
	strcpy(h.snapshot, "s1");
	long n = stream_encode_header(buf, sizeof(buf), &h);
	CHECK_INT(stream_decode_header(buf, (size_t)n, &g), 0);
	buf[0] = 3;
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "unknown stream kind 3");
	buf[0] = 1;
	buf[1] = 1;
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "storage backend 1");
	buf[1] = 0;
	buf[3] = 2;
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "unknown flags");
	buf[3] = 0;
	CHECK_ERR(stream_decode_header(buf, (size_t)n - 1, &g), "truncated");
	buf[n] = 0;
	CHECK_ERR(stream_decode_header(buf, (size_t)n + 1, &g), "trailing");
	/* a base naming a base; an incremental without a valid one; bad snapshot names */
	strcpy(h.from, "s0");
	n = stream_encode_header(buf, sizeof(buf), &h);
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "a base stream names a base");
	h.kind = STREAM_KIND_INCREMENTAL;
	strcpy(h.from, "-bad");
	n = stream_encode_header(buf, sizeof(buf), &h);
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "invalid base snapshot name");
	h.from[0] = 0;
	n = stream_encode_header(buf, sizeof(buf), &h);
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "invalid base snapshot name");
	strcpy(h.from, "s0");
	strcpy(h.snapshot, "a/b");
	n = stream_encode_header(buf, sizeof(buf), &h);
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "invalid snapshot name");
	/* a snapshot name with a NUL inside its counted bytes */
	strcpy(h.snapshot, "ab");
	n = stream_encode_header(buf, sizeof(buf), &h);
	buf[6] = 0;
	CHECK_ERR(stream_decode_header(buf, (size_t)n, &g), "invalid snapshot name");
	/* a length byte above STREAM_SNAP_NAME_MAX */
	n = stream_encode_header(buf, sizeof(buf), &h);
	buf[4] = STREAM_SNAP_NAME_MAX + 1;
	CHECK_ERR(stream_decode_header(buf, sizeof(buf), &g), "longer than 64");
	/* the encoder refuses a name too long and a buffer too small */
	memset(h.snapshot, 'a', STREAM_SNAP_NAME_MAX);
	h.snapshot[STREAM_SNAP_NAME_MAX] = 0;
	CHECK(stream_encode_header(buf, sizeof(buf), &h) > 0);
	CHECK_ERR(stream_encode_header(buf, 20, &h), "does not fit");
}

static void test_entry_round_trip_every_type(void)
{
	static const uint32_t modes[] = {S_IFREG | 04755, S_IFDIR | 01777, S_IFLNK | 0777,
					 S_IFCHR | 0620,  S_IFBLK | 0660,  S_IFIFO | 02640};
	static struct stream_entry e;
	uint8_t xb[512];
	size_t xlen = 0;
	CHECK_INT(stream_xattr_append(xb, sizeof(xb), &xlen, "user.colour", "blue", 4), 0);
	CHECK_INT(stream_xattr_append(xb, sizeof(xb), &xlen, "security.capability", "\0\1\0", 3),
		  0);
	CHECK_INT(stream_xattr_append(xb, sizeof(xb), &xlen, "system.posix_acl_access", "", 0), 0);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		memset(&e, 0, sizeof(e));
		e.flags = S_ISREG(modes[i]) ? STREAM_ENTRY_KEEP_DATA : 0;
		strcpy(e.name, "name\xe9 -x");
		e.name_len = strlen(e.name);
		e.mode = modes[i];
		e.uid = 4000000000u;
		e.gid = 7;
		e.mtime_sec = -86400; /* before 1970 */
		e.mtime_nsec = 999999999;
		e.size = 1ULL << 45;
		e.rdev_major = 259;
		e.rdev_minor = 1048575;
		strcpy(e.target, "../some/where");
		e.target_len = strlen(e.target);
		e.xattr_count = 3;
		e.xattrs = xb;
		e.xattrs_len = xlen;
		long n = stream_encode_entry(B.rec, sizeof(B.rec), &e);
		if (!CHECK(n > 0))
			continue;
		CHECK_INT(stream_decode_entry(B.rec, (size_t)n, &ent), 0);
		CHECK_INT(ent.flags, e.flags);
		CHECK_STR(ent.name, e.name);
		CHECK_INT(ent.name_len, e.name_len);
		CHECK_INT(ent.mode, e.mode);
		CHECK_INT(ent.uid, e.uid);
		CHECK_INT(ent.gid, 7);
		CHECK_INT(ent.mtime_sec, -86400);
		CHECK_INT(ent.mtime_nsec, 999999999);
		/* only the fields of the entry's type travel */
		CHECK(ent.size == (S_ISREG(e.mode) ? e.size : 0));
		CHECK_STR(ent.target, S_ISLNK(e.mode) ? e.target : "");
		int dev = S_ISCHR(e.mode) || S_ISBLK(e.mode);
		CHECK_INT(ent.rdev_major, dev ? 259 : 0);
		CHECK_INT(ent.rdev_minor, dev ? 1048575 : 0);
		CHECK_INT(ent.xattr_count, 3);
		CHECK_EQUALS(ent.xattrs, ent.xattrs_len, xb, xlen);
		char name[STREAM_XATTR_NAME_MAX + 1];
		const uint8_t *v;
		uint32_t vl;
		size_t off = 0;
		CHECK(stream_xattr_next(&ent, &off, name, &v, &vl) == 1 &&
		      !strcmp(name, "user.colour") && vl == 4 && !memcmp(v, "blue", 4));
		CHECK(stream_xattr_next(&ent, &off, name, &v, &vl) == 1 &&
		      !strcmp(name, "security.capability") && vl == 3 && !memcmp(v, "\0\1\0", 3));
		CHECK(stream_xattr_next(&ent, &off, name, &v, &vl) == 1 &&
		      !strcmp(name, "system.posix_acl_access") && vl == 0);
		CHECK_INT(stream_xattr_next(&ent, &off, name, &v, &vl), 0);
	}
}

/* Encodes a file entry "f" with the fields below changed, for the rejection tests. */
static long entry_bytes(uint32_t mode, uint16_t flags, uint32_t nsec, uint64_t size,
			const char *target, size_t target_len)
{
	static struct stream_entry e;
	memset(&e, 0, sizeof(e));
	e.flags = flags;
	strcpy(e.name, "f");
	e.name_len = 1;
	e.mode = mode;
	e.mtime_nsec = nsec;
	e.size = size;
	if (target) {
		memcpy(e.target, target, target_len);
		e.target_len = target_len;
	}
	return stream_encode_entry(B.rec, sizeof(B.rec), &e);
}

static void test_entry_rejects(void)
{
	long n = entry_bytes(S_IFREG | 0644, 0, 0, 10, NULL, 0);
	CHECK_INT(stream_decode_entry(B.rec, (size_t)n, &ent), 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n - 1, &ent), "truncated");
	CHECK_ERR(stream_decode_entry(B.rec, 2, &ent), "truncated");
	B.rec[n] = 0;
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n + 1, &ent), "trailing");
	n = entry_bytes(S_IFSOCK | 0644, 0, 0, 0, NULL, 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "invalid mode");
	n = entry_bytes(S_IFREG | 0644 | 010000000, 0, 0, 0, NULL, 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "invalid mode");
	n = entry_bytes(0644, 0, 0, 0, NULL, 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "invalid mode");
	n = entry_bytes(S_IFREG | 0644, 0, 1000000000u, 0, NULL, 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "invalid nanoseconds");
	n = entry_bytes(S_IFREG | 0644, 2, 0, 0, NULL, 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "unknown flags");
	n = entry_bytes(S_IFDIR | 0755, STREAM_ENTRY_KEEP_DATA, 0, 0, NULL, 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "keep-data flag on a non-file");
	n = entry_bytes(S_IFREG | 0644, 0, 0, STREAM_FILE_SIZE_MAX, NULL, 0);
	CHECK_INT(stream_decode_entry(B.rec, (size_t)n, &ent), 0);
	n = entry_bytes(S_IFREG | 0644, 0, 0, STREAM_FILE_SIZE_MAX + 1, NULL, 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "exceeds the limit");
	/* symlink targets: empty, NUL inside, at and above STREAM_SYMLINK_MAX */
	static char t[STREAM_SYMLINK_MAX + 2];
	memset(t, 'a', sizeof(t));
	n = entry_bytes(S_IFLNK | 0777, 0, 0, 0, t, STREAM_SYMLINK_MAX);
	CHECK_INT(stream_decode_entry(B.rec, (size_t)n, &ent), 0);
	CHECK_INT(ent.target_len, STREAM_SYMLINK_MAX);
	put_u16(B.rec + 28, STREAM_SYMLINK_MAX + 1); /* u16 length after flags, name, 24 bytes */
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n + 1, &ent), "bad symlink target length");
	n = entry_bytes(S_IFLNK | 0777, 0, 0, 0, "", 0);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "bad symlink target length");
	n = entry_bytes(S_IFLNK | 0777, 0, 0, 0, "a\0b", 3);
	CHECK_ERR(stream_decode_entry(B.rec, (size_t)n, &ent), "NUL in symlink target");
	/* the encoder refuses what the decoder would */
	CHECK_ERR(entry_bytes(S_IFLNK | 0777, 0, 0, 0, t, STREAM_SYMLINK_MAX + 1), "too long");
}

static void test_entry_xattr_rejects(void)
{
	uint8_t *p;
	long n = entry_bytes(S_IFREG | 0644, 0, 0, 0, NULL, 0);
	size_t base = (size_t)n - 2; /* the xattr count */
	/* one attribute built by hand after the count */
	p = B.rec + base;
	put_u16(p, 1);
	p[2] = 6;
	memcpy(p + 3, "user.a", 6);
	put_u32(p + 9, 1);
	p[13] = 'v';
	CHECK_INT(stream_decode_entry(B.rec, base + 14, &ent), 0);
	CHECK_ERR(stream_decode_entry(B.rec, base + 13, &ent), "extended attributes truncated");
	memcpy(p + 3, "other.", 6);
	CHECK_ERR(stream_decode_entry(B.rec, base + 14, &ent), "name not accepted");
	memcpy(p + 3, "user.\0", 6);
	CHECK_ERR(stream_decode_entry(B.rec, base + 14, &ent), "name not accepted");
	memcpy(p + 3, "user.a", 6);
	put_u32(p + 9, STREAM_XATTR_VALUE_MAX + 1);
	CHECK_ERR(stream_decode_entry(B.rec, base + 14, &ent), "exceeds the limit");
	put_u32(p + 9, 0xffffffffu);
	CHECK_ERR(stream_decode_entry(B.rec, base + 14, &ent), "exceeds the limit");
	put_u16(p, STREAM_XATTRS_MAX + 1);
	CHECK_ERR(stream_decode_entry(B.rec, base + 14, &ent), "exceed the limit");
	put_u16(p, 2);
	put_u32(p + 9, 1);
	CHECK_ERR(stream_decode_entry(B.rec, base + 14, &ent), "extended attributes truncated");
	/* the appender refuses namespaces and sizes the decoder would */
	uint8_t xb[64];
	size_t len = 0;
	CHECK_ERR(stream_xattr_append(xb, sizeof(xb), &len, "system.other", "", 0),
		  "namespace not carried");
	CHECK_ERR(stream_xattr_append(xb, sizeof(xb), &len, "user.big", "",
				      STREAM_XATTR_VALUE_MAX + 1),
		  "exceeds the limit");
	CHECK_ERR(stream_xattr_append(xb, sizeof(xb), &len, "user.x", xb, 60), "do not fit");
	CHECK_INT(len, 0);
}

static void test_named_round_trip(void)
{
	struct stream_named nm = {0}, g;
	strcpy(nm.name, "d");
	nm.name_len = 1;
	nm.mtime_sec = 1234567890;
	nm.mtime_nsec = 5;
	strcpy(nm.path, "a/b/c");
	nm.path_len = 5;
	long n = stream_encode_named(B.rec, sizeof(B.rec), STREAM_ENTER, &nm);
	CHECK_INT(n, 1 + 1 + 8 + 4);
	CHECK_INT(stream_decode_named(B.rec, (size_t)n, STREAM_ENTER, &g), 0);
	CHECK(!strcmp(g.name, "d") && g.mtime_sec == 1234567890 && g.mtime_nsec == 5 &&
	      g.path_len == 0);
	n = stream_encode_named(B.rec, sizeof(B.rec), STREAM_LINK, &nm);
	CHECK_INT(n, 1 + 1 + 2 + 5);
	CHECK_INT(stream_decode_named(B.rec, (size_t)n, STREAM_LINK, &g), 0);
	CHECK(!strcmp(g.name, "d") && !strcmp(g.path, "a/b/c") && g.path_len == 5);
	n = stream_encode_named(B.rec, sizeof(B.rec), STREAM_DELETE, &nm);
	CHECK_INT(n, 2);
	CHECK_INT(stream_decode_named(B.rec, (size_t)n, STREAM_DELETE, &g), 0);
	CHECK_STR(g.name, "d");
	/* the root's ENTER has the empty name */
	nm.name_len = 0;
	nm.name[0] = 0;
	n = stream_encode_named(B.rec, sizeof(B.rec), STREAM_ENTER, &nm);
	CHECK_INT(stream_decode_named(B.rec, (size_t)n, STREAM_ENTER, &g), 0);
	CHECK_INT(g.name_len, 0);
}

static void test_named_rejects(void)
{
	struct stream_named nm = {0}, g;
	strcpy(nm.name, "d");
	nm.name_len = 1;
	nm.mtime_nsec = 1000000000u;
	long n = stream_encode_named(B.rec, sizeof(B.rec), STREAM_ENTER, &nm);
	CHECK_ERR(stream_decode_named(B.rec, (size_t)n, STREAM_ENTER, &g), "invalid nanoseconds");
	CHECK_ERR(stream_decode_named(B.rec, (size_t)n - 1, STREAM_ENTER, &g), "truncated");
	n = stream_encode_named(B.rec, sizeof(B.rec), STREAM_DELETE, &nm);
	B.rec[n] = 'x';
	CHECK_ERR(stream_decode_named(B.rec, (size_t)n + 1, STREAM_DELETE, &g), "trailing");
	CHECK_ERR(stream_decode_named(B.rec, 0, STREAM_DELETE, &g), "DELETE record is truncated");
	/* LINK paths: only relative paths of valid names */
	static const char *const bad[] = {"",	  "/etc/passwd", "..",	"a/../b",
					  "a//b", "a/",		 "./a", "a/."};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nm.path_len = strlen(bad[i]);
		memcpy(nm.path, bad[i], nm.path_len + 1);
		n = stream_encode_named(B.rec, sizeof(B.rec), STREAM_LINK, &nm);
		if (!CHECK_ERR(stream_decode_named(B.rec, (size_t)n, STREAM_LINK, &g),
			       "invalid target path"))
			fprintf(stderr, "    path \"%s\"\n", bad[i]);
	}
	/* a path length at STREAM_PATH_MAX (no room for the NUL), and one running past the record */
	uint8_t *p = B.rec;
	p[0] = 1;
	p[1] = 'd';
	put_u16(p + 2, STREAM_PATH_MAX);
	memset(p + 4, 'a', STREAM_PATH_MAX);
	CHECK_ERR(stream_decode_named(p, 4 + STREAM_PATH_MAX, STREAM_LINK, &g),
		  "bad target path length");
	put_u16(p + 2, 10);
	CHECK_ERR(stream_decode_named(p, 4 + 9, STREAM_LINK, &g), "bad target path length");
}

static void test_data_round_trip_and_rejects(void)
{
	struct stream_data d;
	uint8_t *p = B.rec;
	CHECK_INT(stream_encode_data_head(p, 1ULL << 33, 5, STREAM_STORED), 13);
	static const uint8_t want[] = {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5, 0};
	CHECK_EQUALS(p, 13, want, sizeof(want));
	memcpy(p + 13, "hello", 5);
	CHECK_INT(stream_decode_data(p, 18, &d), 0);
	CHECK(d.offset == 1ULL << 33 && d.raw_len == 5 && d.encoding == STREAM_STORED &&
	      d.len == 5 && !memcmp(d.bytes, "hello", 5));
	CHECK_ERR(stream_decode_data(p, 17, &d), "stored block of 4 bytes says 5");
	CHECK_ERR(stream_decode_data(p, 12, &d), "truncated");
	stream_encode_data_head(p, 0, 0, STREAM_STORED);
	CHECK_ERR(stream_decode_data(p, 13, &d), "out of range");
	stream_encode_data_head(p, 0, STREAM_BLOCK_MAX + 1, STREAM_LZ4);
	CHECK_ERR(stream_decode_data(p, 18, &d), "out of range");
	stream_encode_data_head(p, 0, 5, 2);
	CHECK_ERR(stream_decode_data(p, 18, &d), "unknown encoding 2");
	stream_encode_data_head(p, 0, 5, STREAM_LZ4);
	CHECK_ERR(stream_decode_data(p, 13, &d), "empty compressed block");
	/* an LZ4 block round trip */
	static uint8_t raw[STREAM_BLOCK_MAX];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)("ferry"[i % 5]);
	long z = lz4_compress(raw, sizeof(raw), p + 13, STREAM_RECORD_MAX - 13);
	CHECK(z > 0 && z < (long)sizeof(raw));
	stream_encode_data_head(p, 0, sizeof(raw), STREAM_LZ4);
	CHECK_INT(stream_decode_data(p, 13 + (size_t)z, &d), 0);
	CHECK(d.len == (size_t)z && d.raw_len == sizeof(raw));
	CHECK_INT(lz4_decompress(d.bytes, d.len, block, d.raw_len), sizeof(raw));
	CHECK_EQUALS(block, sizeof(raw), raw, sizeof(raw));
}

static void test_end_round_trip(void)
{
	struct stream_end e = {1, 2, 3, 0xfedcba9876543210ULL}, g;
	long n = stream_encode_end(B.rec, sizeof(B.rec), &e);
	CHECK_INT(n, 32);
	CHECK_INT(stream_decode_end(B.rec, (size_t)n, &g), 0);
	CHECK(g.records == 1 && g.entries == 2 && g.data_bytes == 3 &&
	      g.digest == 0xfedcba9876543210ULL);
	CHECK_ERR(stream_decode_end(B.rec, 31, &g), "END record is truncated");
	CHECK_ERR(stream_decode_end(B.rec, 33, &g), "trailing");
}

/* ---- Names and order ------------------------------------------------------------------ */

static void test_names(void)
{
	static char n255[STREAM_NAME_MAX + 1];
	memset(n255, 'n', sizeof(n255));
	CHECK(stream_name_ok("a", 1));
	CHECK(stream_name_ok("...", 3));
	CHECK(stream_name_ok(".hidden", 7));
	CHECK(stream_name_ok("-n", 2));
	CHECK(stream_name_ok("line\nbreak", 10));
	CHECK(stream_name_ok("\xff\xfe", 2));
	CHECK(stream_name_ok(n255, STREAM_NAME_MAX));
	CHECK(!stream_name_ok(n255, STREAM_NAME_MAX + 1));
	CHECK(!stream_name_ok("", 0));
	CHECK(!stream_name_ok(".", 1));
	CHECK(!stream_name_ok("..", 2));
	CHECK(!stream_name_ok("a/b", 3));
	CHECK(!stream_name_ok("/", 1));
	CHECK(!stream_name_ok("a\0b", 3));
	CHECK(stream_path_ok("a/b/c", 5));
	CHECK(!stream_path_ok("a/../c", 6));
	CHECK(!stream_path_ok("/a", 2));
	CHECK(!stream_path_ok("a/", 2));
	CHECK(!stream_path_ok("", 0));
	CHECK(stream_snap_name_ok("a"));
	CHECK(stream_snap_name_ok("2026-11-24T10.00_x"));
	CHECK(!stream_snap_name_ok(""));
	CHECK(!stream_snap_name_ok(".a"));
	CHECK(!stream_snap_name_ok("-a"));
	CHECK(!stream_snap_name_ok("a b"));
	CHECK(!stream_snap_name_ok("a/b"));
	CHECK(!stream_snap_name_ok(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	CHECK(stream_snap_name_ok(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	CHECK(stream_xattr_name_ok("user.x", 6));
	CHECK(stream_xattr_name_ok("trusted.x", 9));
	CHECK(stream_xattr_name_ok("security.capability", 19));
	CHECK(stream_xattr_name_ok("system.posix_acl_access", 23));
	CHECK(stream_xattr_name_ok("system.posix_acl_default", 24));
	CHECK(!stream_xattr_name_ok("user.", 5));
	CHECK(!stream_xattr_name_ok("system.nfs4_acl", 15));
	CHECK(!stream_xattr_name_ok("xuser.x", 7));
	CHECK(!stream_xattr_name_ok("", 0));
}

static void test_path_order(void)
{
	/* the order of a depth-first walk, each directory sorted bytewise */
	static const char *const order[] = {"",	   "-n", "a", "a/b", "a/b/c", "a/c",	  "a\nb",
					    "a-b", "ab", "b", "z",   "\x7f",  "\xc3\xa9", "\xff"};
	for (size_t i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++) {
		for (size_t j = i + 1; j < sizeof(order) / sizeof(order[0]); j++)
			if (!CHECK(stream_path_cmp(order[i], order[j]) < 0 &&
				   stream_path_cmp(order[j], order[i]) > 0))
				fprintf(stderr, "    \"%s\" vs \"%s\"\n", order[i], order[j]);
		CHECK_INT(stream_path_cmp(order[i], order[i]), 0);
	}
}

/* ---- Framing -------------------------------------------------------------------------- */

static void test_valid_stream_verifies(void)
{
	small_base();
	CHECK_INT(verify(&B), 0);
	CHECK(stream_check_done(&chk));
	/* the exact framing of the first record: u16 type, u32 length, payload, u64 check */
	CHECK_EQUALS(B.m.p, 12,
		     "\x89"
		     "FTREE\r\n\0\0\0\1",
		     12);
	CHECK_INT(get_u16(B.m.p + 12), STREAM_HEADER);
	uint32_t len = get_u32(B.m.p + 14);
	CHECK_INT(get_u64(B.m.p + 18 + len), xxh64(B.m.p + 12, 6 + len, 0));
	/* the next record's check is seeded with its number, 1 */
	size_t at = B.at[1];
	uint32_t l1 = get_u32(B.m.p + at + 2);
	CHECK_INT(get_u64(B.m.p + at + 6 + l1), xxh64(B.m.p + at, 6 + l1, 1));
	sb_free(&B);
}

static void test_preamble_rejects(void)
{
	small_base();
	B.m.p[1] = 'G';
	CHECK_ERR(verify(&B), "bad magic at byte 0");
	small_base();
	put_u32(B.m.p + 8, 2);
	CHECK_ERR(verify(&B), "unsupported stream version 2");
	put_u32(B.m.p + 8, 0);
	CHECK_ERR(verify(&B), "unsupported stream version 0");
	B.m.len = 0;
	CHECK_ERR(verify(&B), "stream is empty");
	small_base();
	B.m.len = 7;
	CHECK_ERR(verify(&B), "too short");
	sb_free(&B);
}

static void test_length_bound(void)
{
	small_base();
	put_u32(B.m.p + B.at[1] + 2, STREAM_RECORD_MAX + 1);
	CHECK_ERR(verify(&B), at(1, "ENTRY", "length 1048577 exceeds the limit 1048576"));
	put_u32(B.m.p + B.at[1] + 2, 0xffffffffu);
	CHECK_ERR(verify(&B), "exceeds the limit");
	sb_free(&B);
	/* a record of exactly STREAM_RECORD_MAX bytes is framed and read (a skippable one) */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	static uint8_t big[STREAM_RECORD_MAX];
	sb_record(&B, STREAM_SKIPPABLE | 7, big, sizeof(big));
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(verify(&B), 0);
	/* the writer refuses one byte more */
	CHECK_ERR(stream_write(&B.w, STREAM_SKIPPABLE | 7, big, sizeof(big), "x", 1),
		  "exceeds STREAM_RECORD_MAX");
	sb_free(&B);
}

static void test_checksums(void)
{
	/* a flipped bit in each part of the DATA record: type, length, payload, check */
	static const size_t parts[] = {1, 5, 6 + 13 + 2, 6 + 13 + 5 + 7};
	for (size_t i = 0; i < 4; i++) {
		small_base();
		B.m.p[B.at[3] + parts[i]] ^= 0x10;
		char tn[16];
		const char *type = stream_type_name(get_u16(B.m.p + B.at[3]), tn);
		if (!CHECK_ERR(verify(&B), at(3, type, "checksum mismatch")))
			fprintf(stderr, "    flipped byte %zu of the record\n", parts[i]);
	}
	/* a skippable record is skipped only after its checksum verified */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_record(&B, STREAM_SKIPPABLE | 0x42, "future", 6);
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(verify(&B), 0);
	B.m.p[B.at[1] + 7] ^= 1;
	CHECK_ERR(verify(&B), at(1, "type 0x8042", "checksum mismatch"));
	sb_free(&B);
}

/* Moves record I of B's stream (its bytes) to just before record J (J > I), for reordering. */
static void move_record(size_t i, size_t j)
{
	size_t a = B.at[i], b = B.at[i + 1], c = B.at[j];
	uint8_t *tmp = malloc(b - a);
	memcpy(tmp, B.m.p + a, b - a);
	memmove(B.m.p + a, B.m.p + b, c - b);
	memcpy(B.m.p + c - (b - a), tmp, b - a);
	free(tmp);
}

static void test_position_seed(void)
{
	/* reordered: two ENTRY records swapped, each with its own valid checksum */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFREG | 0644, 0, NULL);
	sb_entry(&B, "b", S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(verify(&B), 0);
	move_record(2, 4);
	CHECK_ERR(verify(&B), "record 2 (ENTRY) at byte");
	CHECK_ERR(verify(&B), "checksum mismatch");
	/* duplicated: record 2 repeated */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFREG | 0644, 0, NULL);
	sb_entry(&B, "b", S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	size_t a = B.at[2], b = B.at[3];
	uint8_t *p = malloc(B.m.len + (b - a));
	memcpy(p, B.m.p, b);
	memcpy(p + b, B.m.p + a, B.m.len - a);
	free(B.m.p);
	B.m.p = p;
	B.m.len += b - a;
	CHECK_ERR(verify(&B), "record 3 (ENTRY) at byte");
	CHECK_ERR(verify(&B), "checksum mismatch");
	/* dropped: record 2 removed */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFREG | 0644, 0, NULL);
	sb_entry(&B, "b", S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	a = B.at[2];
	b = B.at[3];
	memmove(B.m.p + a, B.m.p + b, B.m.len - b);
	B.m.len -= b - a;
	CHECK_ERR(verify(&B), "record 2 (ENTRY) at byte");
	CHECK_ERR(verify(&B), "checksum mismatch");
	sb_free(&B);
}

static void test_truncation_and_trailing_bytes(void)
{
	small_base();
	size_t len = B.m.len;
	/* every cut inside the records is refused, with the record it fell in */
	for (size_t cut = 12; cut < len; cut++) {
		B.m.len = cut;
		if (!CHECK_ERR(verify(&B), "truncated"))
			fprintf(stderr, "    cut at %zu\n", cut);
	}
	B.m.len = B.at[4] + 3;
	CHECK_ERR(verify(&B), "record 4: truncated");
	B.m.len = B.at[4] + 10;
	CHECK_ERR(verify(&B), at(4, "LEAVE", "truncated"));
	B.m.len = len;
	CHECK_INT(verify(&B), 0);
	sb_mem_write(&B.m, "\0", 1);
	CHECK_ERR(verify(&B), "unexpected data after the END record at byte");
	sb_free(&B);
}

/* ---- Structure -------------------------------------------------------------------------- */

static void test_structure_root(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(verify(&B), 0);
	/* not starting with HEADER */
	sb_start_raw(&B);
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), at(0, "ENTRY", "the first record is ENTRY, not HEADER"));
	/* a second HEADER */
	uint8_t h[256];
	size_t hn = sb_header_payload(h, STREAM_KIND_BASE, "s1", "", 0);
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_record(&B, STREAM_HEADER, h, hn);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), at(2, "HEADER", "a second HEADER record"));
	/* the root is not a directory; the root has a name */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFREG | 0644, 0, NULL);
	sb_end(&B);
	CHECK_ERR(verify(&B), "the first entry is not the root directory");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "r", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "the first entry is not the root directory");
	/* LEAVE without a directory, END before the tree is complete, records after the root */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "LEAVE without an open directory");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "END before the tree was complete (1 directories open)");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_entry(&B, "x", S_IFREG | 0644, 0, NULL);
	sb_end(&B);
	CHECK_ERR(verify(&B), "ENTRY outside the tree");
	sb_free(&B);
}

static void test_structure_bad_names(void)
{
	static const struct {
		const char *name;
		size_t len;
	} bad[] = {{"/", 1}, {"a/b", 3}, {"/etc/x", 6}, {"..", 2}, {".", 1}, {"a\0b", 3}, {"", 0}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int type = 0; type < 4; type++) {
			static const uint16_t types[] = {STREAM_ENTRY, STREAM_LINK, STREAM_DELETE,
							 STREAM_ENTER};
			sb_start(&B,
				 types[type] == STREAM_ENTRY || types[type] == STREAM_LINK
					 ? STREAM_KIND_BASE
					 : STREAM_KIND_INCREMENTAL,
				 "s1",
				 types[type] == STREAM_ENTRY || types[type] == STREAM_LINK ? ""
											   : "s0");
			if (types[type] == STREAM_ENTRY || types[type] == STREAM_LINK)
				sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
			else
				sb_named(&B, STREAM_ENTER, "", NULL);
			sb_entry(&B, "0", S_IFREG | 0644, 0, NULL); /* a link target */
			if (types[type] == STREAM_ENTRY) {
				sb_entry_n(&B, bad[i].name, bad[i].len, S_IFREG | 0644, 0, NULL);
			} else {
				/* the name bytes by hand: the encoder takes any */
				uint8_t *p = B.rec;
				p[0] = (uint8_t)bad[i].len;
				memcpy(p + 1, bad[i].name, bad[i].len);
				size_t n = 1 + bad[i].len;
				if (types[type] == STREAM_LINK) {
					put_u16(p + n, 1);
					p[n + 2] = '0';
					n += 3;
					B.entries++;
				} else if (types[type] == STREAM_ENTER) {
					memset(p + n, 0, 12);
					n += 12;
				}
				sb_record(&B, types[type], p, n);
				if (types[type] == STREAM_ENTER)
					sb_leave(&B);
			}
			sb_leave(&B);
			sb_end(&B);
			char tn[16];
			if (!CHECK_ERR(verify(&B), "record 3 (") ||
			    !CHECK_ERR(verify(&B), "invalid name"))
				fprintf(stderr, "    name \"%s\" in %s\n", bad[i].name,
					stream_type_name(types[type], tn));
		}
	}
	sb_free(&B);
}

static void test_structure_order(void)
{
	/* out of order, duplicated, and the order with bytes >= 0x80 */
	static const char *const seqs[][2] = {{"b", "a"}, {"a", "a"}, {"\xe9", "z"}, {"a-", "a"}};
	for (size_t i = 0; i < 4; i++) {
		sb_start(&B, STREAM_KIND_BASE, "s1", "");
		sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		sb_entry(&B, seqs[i][0], S_IFREG | 0644, 0, NULL);
		sb_entry(&B, seqs[i][1], S_IFREG | 0644, 0, NULL);
		sb_leave(&B);
		sb_end(&B);
		CHECK_ERR(verify(&B), "out of order");
	}
	/* a directory's children are compared with each other only: "a/z" then "b" is fine */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "z", S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_entry(&B, "b", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFREG | 0644, 0, NULL);
	sb_leave(&B);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(verify(&B), 0);
	/* a name re-used after its directory: "a" (dir) ... LEAVE, then "a" again */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_entry(&B, "a", S_IFDIR | 0755, 0, NULL);
	sb_leave(&B);
	sb_entry(&B, "a", S_IFLNK | 0777, 0, "/");
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "name \"a\" in / is out of order (after \"a\")");
	sb_free(&B);
}

static void test_structure_depth_and_path(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	for (int i = 1; i < STREAM_DEPTH_MAX; i++)
		sb_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
	for (int i = 0; i < STREAM_DEPTH_MAX; i++)
		sb_leave(&B);
	sb_end(&B);
	CHECK_INT(verify(&B), 0); /* 256 directories open, root included */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	for (int i = 0; i < STREAM_DEPTH_MAX; i++)
		sb_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
	sb_end(&B);
	CHECK_ERR(verify(&B), "nested deeper than 256");
	/* a path longer than STREAM_PATH_MAX - 1 */
	static char name[STREAM_NAME_MAX + 1];
	memset(name, 'n', STREAM_NAME_MAX);
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	for (int i = 0; i < 17; i++)
		sb_entry(&B, name, S_IFDIR | 0755, 0, NULL);
	sb_end(&B);
	CHECK_ERR(verify(&B), "... is longer than 4095 bytes");
	sb_free(&B);
}

static void test_structure_data(void)
{
	struct {
		const char *what;
		int keep, after_dir, after_leave;
		uint64_t size, off1, off2;
		const char *err;
	} cases[] = {
		{"valid", 0, 0, 0, 10, 0, 5, NULL},
		{"overlapping", 0, 0, 0, 10, 0, 4, "outside the file or out of order"},
		{"backwards", 0, 0, 0, 10, 5, 0, "outside the file or out of order"},
		{"past the size", 0, 0, 0, 9, 0, 5, "outside the file or out of order"},
		{"after a directory", 0, 1, 0, 10, 0, 5, "DATA not after a file entry"},
		{"after LEAVE", 0, 0, 1, 10, 0, 5, "DATA not after a file entry"},
		{"after KEEP_DATA", 1, 0, 0, 10, 0, 5, "DATA not after a file entry"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct stream_entry e;
		memset(&e, 0, sizeof(e));
		sb_start(&B, cases[i].keep ? STREAM_KIND_INCREMENTAL : STREAM_KIND_BASE, "s1",
			 cases[i].keep ? "s0" : "");
		if (cases[i].keep)
			sb_named(&B, STREAM_ENTER, "", NULL);
		else
			sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		if (cases[i].after_dir || cases[i].after_leave) {
			sb_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
			if (cases[i].after_leave) {
				sb_entry(&B, "f", S_IFREG | 0644, cases[i].size, NULL);
				sb_data(&B, cases[i].off1, "abcde");
				sb_leave(&B);
			}
		} else {
			strcpy(e.name, "f");
			e.name_len = 1;
			e.mode = S_IFREG | 0644;
			e.size = cases[i].size;
			e.flags = cases[i].keep ? STREAM_ENTRY_KEEP_DATA : 0;
			sb_entry_s(&B, &e);
			if (!cases[i].keep)
				sb_data(&B, cases[i].off1, "abcde");
		}
		sb_data(&B, cases[i].off2, "abcde");
		if (cases[i].after_dir)
			sb_leave(&B);
		sb_leave(&B);
		sb_end(&B);
		int ok = cases[i].err ? CHECK_ERR(verify(&B), cases[i].err)
				      : CHECK_INT(verify(&B), 0);
		if (!ok)
			fprintf(stderr, "    case: %s\n", cases[i].what);
	}
	/* a compressed block in a stream without the compressed flag; and with it */
	static uint8_t raw[1000], z[1100];
	memset(raw, 'x', sizeof(raw));
	long zn = lz4_compress(raw, sizeof(raw), z, sizeof(z));
	for (int flag = 0; flag < 2; flag++) {
		sb_start_flags(&B, STREAM_KIND_BASE, "s1", "", flag ? STREAM_FLAG_COMPRESSED : 0);
		sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		sb_entry(&B, "f", S_IFREG | 0644, sizeof(raw), NULL);
		sb_data_enc(&B, 0, sizeof(raw), STREAM_LZ4, z, (size_t)zn);
		sb_leave(&B);
		sb_end(&B);
		if (flag)
			CHECK_INT(verify(&B), 0);
		else
			CHECK_ERR(verify(&B), "compressed block in an uncompressed stream");
	}
	/* DATA before any entry */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_data(&B, 0, "x");
	sb_end(&B);
	CHECK_ERR(verify(&B), "DATA not after a file entry");
	sb_free(&B);
}

static void test_structure_links(void)
{
	/* a link to an earlier entry is fine; to itself, a later one or a descendant is not */
	static const struct {
		const char *target;
		const char *err;
	} cases[] = {{"a", NULL},
		     {"d/x", NULL},
		     {"m", "does not come before it"},
		     {"z", "does not come before it"},
		     {"m/x", "does not come before it"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sb_start(&B, STREAM_KIND_BASE, "s1", "");
		sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		sb_entry(&B, "a", S_IFREG | 0644, 0, NULL);
		sb_entry(&B, "d", S_IFDIR | 0755, 0, NULL);
		sb_entry(&B, "x", S_IFREG | 0644, 0, NULL);
		sb_leave(&B);
		sb_named(&B, STREAM_LINK, "m", cases[i].target);
		sb_entry(&B, "z", S_IFREG | 0644, 0, NULL);
		sb_leave(&B);
		sb_end(&B);
		int ok = cases[i].err ? CHECK_ERR(verify(&B), cases[i].err)
				      : CHECK_INT(verify(&B), 0);
		if (!ok)
			fprintf(stderr, "    LINK m -> %s\n", cases[i].target);
	}
	sb_free(&B);
}

static void test_structure_base_has_no_incremental_records(void)
{
	static struct stream_entry e;
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "ENTER in a base stream");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_named(&B, STREAM_ENTER, "d", NULL);
	sb_leave(&B);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "ENTER in a base stream");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_named(&B, STREAM_DELETE, "x", NULL);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "DELETE in a base stream");
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	memset(&e, 0, sizeof(e));
	strcpy(e.name, "f");
	e.name_len = 1;
	e.mode = S_IFREG | 0644;
	e.flags = STREAM_ENTRY_KEEP_DATA;
	sb_entry_s(&B, &e);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "keep-data flag in a base stream");
	/* the same records are fine in an incremental */
	sb_start(&B, STREAM_KIND_INCREMENTAL, "s2", "s1");
	sb_named(&B, STREAM_ENTER, "", NULL);
	sb_named(&B, STREAM_ENTER, "d", NULL);
	sb_leave(&B);
	sb_named(&B, STREAM_DELETE, "e", NULL);
	sb_entry_s(&B, &e);
	sb_leave(&B);
	sb_end(&B);
	CHECK_INT(verify(&B), 0);
	sb_free(&B);
}

static void test_structure_unknown_types(void)
{
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_record(&B, 0x0042, "x", 1);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), at(2, "type 0x0042", "unknown record type 0x0042 (not skippable)"));
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_record(&B, 0, NULL, 0);
	sb_leave(&B);
	sb_end(&B);
	CHECK_ERR(verify(&B), "not skippable");
	/* skippable anywhere after the header: before the root, inside, before END */
	sb_start(&B, STREAM_KIND_BASE, "s1", "");
	sb_record(&B, STREAM_SKIPPABLE | 1, "a", 1);
	sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
	sb_record(&B, 0xffff, "", 0);
	sb_leave(&B);
	sb_record(&B, STREAM_SKIPPABLE | STREAM_END, "zz", 2);
	sb_end(&B);
	CHECK_INT(verify(&B), 0);
	sb_free(&B);
}

static void test_structure_end(void)
{
	static const char *const what[] = {"records", "entries", "bytes", "digest", "after"};
	for (int i = 0; i < 5; i++) {
		sb_start(&B, STREAM_KIND_BASE, "s1", "");
		sb_entry(&B, "", S_IFDIR | 0755, 0, NULL);
		sb_entry(&B, "f", S_IFREG | 0644, 5, NULL);
		sb_data(&B, 0, "hello");
		sb_named(&B, STREAM_LINK, "g", "f");
		sb_leave(&B);
		struct stream_end e = {B.w.records, B.entries, B.data, stream_writer_digest(&B.w)};
		CHECK(e.records == 6 && e.entries == 3 && e.data_bytes == 5);
		if (i == 0)
			e.records--;
		if (i == 1)
			e.entries++;
		if (i == 2)
			e.data_bytes = 4;
		if (i == 3)
			e.digest ^= 1;
		sb_end_with(&B, &e);
		if (i == 4) { /* a record after END, framed and checksummed */
			sb_leave(&B);
			io_out_flush(&B.out);
		}
		int ok = i < 3	  ? CHECK_ERR(verify(&B), at(6, "END", "END totals do not match"))
			 : i == 3 ? CHECK_ERR(verify(&B), "END: stream digest mismatch")
				  : CHECK_ERR(verify(&B), "unexpected data after the END record");
		if (!ok)
			fprintf(stderr, "    wrong %s\n", what[i]);
	}
	/* the checker alone refuses anything after END */
	small_base();
	CHECK_INT(verify(&B), 0);
	CHECK_INT(stream_check_record(&chk, STREAM_LEAVE, NULL, NULL, NULL, NULL, NULL, 0, 0), -1);
	CHECK_STR(err_msg(), "record after END");
	sb_free(&B);
}

int main(void)
{
	RUN(test_header_round_trip);
	RUN(test_header_rejects);
	RUN(test_entry_round_trip_every_type);
	RUN(test_entry_rejects);
	RUN(test_entry_xattr_rejects);
	RUN(test_named_round_trip);
	RUN(test_named_rejects);
	RUN(test_data_round_trip_and_rejects);
	RUN(test_end_round_trip);
	RUN(test_names);
	RUN(test_path_order);
	RUN(test_valid_stream_verifies);
	RUN(test_preamble_rejects);
	RUN(test_length_bound);
	RUN(test_checksums);
	RUN(test_position_seed);
	RUN(test_truncation_and_trailing_bytes);
	RUN(test_structure_root);
	RUN(test_structure_bad_names);
	RUN(test_structure_order);
	RUN(test_structure_depth_and_path);
	RUN(test_structure_data);
	RUN(test_structure_links);
	RUN(test_structure_base_has_no_incremental_records);
	RUN(test_structure_unknown_types);
	RUN(test_structure_end);
	return CHECK_DONE();
}
