/* The tree stream: framing with per-record XXH64, record codecs with bounds, and the structure checker. */
#include "core/stream.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cursor.h"
#include "core/err.h"

#define REC_HEAD 6 /* u16 type, u32 length */
#define REC_TAIL 8 /* u64 XXH64 seeded with the record number */

/* ---- Framing ------------------------------------------------------------ */

int stream_writer_start(struct stream_writer *w, struct io_out *out, const char *magic)
{
	uint8_t pre[STREAM_MAGIC_LEN + 4];
	w->out = out;
	w->records = 0;
	xxh64_init(&w->digest, 0);
	memcpy(pre, magic, STREAM_MAGIC_LEN);
	put_u32(pre + STREAM_MAGIC_LEN, STREAM_VERSION);
	return io_out_write(out, pre, sizeof(pre));
}

int stream_write(struct stream_writer *w, uint16_t type, const void *a, size_t alen, const void *b,
		 size_t blen)
{
	uint8_t head[REC_HEAD], tail[REC_TAIL];
	struct xxh64 h;
	if (alen + blen > STREAM_RECORD_MAX)
		return err_set("record of %zu bytes exceeds STREAM_RECORD_MAX", alen + blen);
	put_u16(head, type);
	put_u32(head + 2, (uint32_t)(alen + blen));
	xxh64_init(&h, w->records);
	xxh64_update(&h, head, sizeof(head));
	xxh64_update(&h, a, alen);
	if (blen)
		xxh64_update(&h, b, blen);
	put_u64(tail, xxh64_digest(&h));
	xxh64_update(&w->digest, tail, sizeof(tail));
	w->records++;
	if (io_out_write(w->out, head, sizeof(head)) < 0 ||
	    (alen && io_out_write(w->out, a, alen) < 0) ||
	    (blen && io_out_write(w->out, b, blen) < 0) ||
	    io_out_write(w->out, tail, sizeof(tail)) < 0)
		return -1;
	return 0;
}

uint64_t stream_writer_digest(const struct stream_writer *w)
{
	return xxh64_digest(&w->digest);
}

const char *stream_type_name(uint16_t type, char buf[16])
{
	static const char *const names[] = {NULL,   "HEADER", "ENTRY",	"ENTER", "LEAVE",
					    "DATA", "LINK",   "DELETE", "END"};
	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	snprintf(buf, 16, "type 0x%04x", type);
	return buf;
}

int stream_reader_start(struct stream_reader *r, struct io_in *in, uint8_t *buf, size_t cap,
			const char *magic, const char *what)
{
	uint8_t pre[STREAM_MAGIC_LEN + 4];
	memset(r, 0, sizeof(*r));
	r->in = in;
	r->buf = buf;
	r->cap = cap > STREAM_RECORD_MAX ? STREAM_RECORD_MAX : cap;
	r->what = what;
	xxh64_init(&r->digest, 0);
	int e = io_in_read_or_eof(in, pre, sizeof(pre));
	if (e == 1)
		return err_set("%s is empty", what);
	if (e < 0)
		return err_prefix("not a ferry tree %s (too short)", what);
	if (memcmp(pre, magic, STREAM_MAGIC_LEN))
		return err_set("not a ferry tree %s (bad magic at byte 0)", what);
	uint32_t v = get_u32(pre + STREAM_MAGIC_LEN);
	if (v != STREAM_VERSION)
		return err_set("unsupported %s version %u (this ferry reads version %u)", what, v,
			       STREAM_VERSION);
	return 0;
}

int stream_read(struct stream_reader *r)
{
	uint8_t head[REC_HEAD], tail[REC_TAIL];
	char tn[16];
	struct xxh64 h;
	r->at = r->in->total;
	if (io_in_read(r->in, head, sizeof(head)) < 0)
		return err_prefix("%s: record %llu: truncated (no END record)", r->what,
				  (unsigned long long)r->records);
	r->type = get_u16(head);
	r->len = get_u32(head + 2);
	if (r->len > r->cap)
		return err_set("%s: record %llu (%s) at byte %llu: length %u exceeds the limit %zu",
			       r->what, (unsigned long long)r->records,
			       stream_type_name(r->type, tn), (unsigned long long)r->at, r->len,
			       r->cap);
	if (io_in_read(r->in, r->buf, r->len) < 0 || io_in_read(r->in, tail, sizeof(tail)) < 0)
		return err_prefix("%s: record %llu (%s) at byte %llu: truncated", r->what,
				  (unsigned long long)r->records, stream_type_name(r->type, tn),
				  (unsigned long long)r->at);
	xxh64_init(&h, r->records);
	xxh64_update(&h, head, sizeof(head));
	xxh64_update(&h, r->buf, r->len);
	if (xxh64_digest(&h) != get_u64(tail))
		return err_set("%s: record %llu (%s) at byte %llu: checksum mismatch", r->what,
			       (unsigned long long)r->records, stream_type_name(r->type, tn),
			       (unsigned long long)r->at);
	if (r->type == STREAM_END)
		r->digest_prev = xxh64_digest(&r->digest);
	xxh64_update(&r->digest, tail, sizeof(tail));
	r->records++;
	return 0;
}

int stream_reader_finish(struct stream_reader *r)
{
	uint8_t b;
	int e = io_in_read_or_eof(r->in, &b, 1);
	if (e < 0)
		return -1;
	if (e == 0)
		return err_set("%s: unexpected data after the END record at byte %llu", r->what,
			       (unsigned long long)(r->in->total - 1));
	return 0;
}

/* ---- Names ---------------------------------------------------------------- */

int stream_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > STREAM_NAME_MAX)
		return 0;
	if (memchr(p, '/', n) || memchr(p, 0, n))
		return 0;
	if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return 0;
	return 1;
}

int stream_path_ok(const char *p, size_t n)
{
	if (n == 0 || n >= STREAM_PATH_MAX)
		return 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (!stream_name_ok(p + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

int stream_snap_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STREAM_SNAP_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int stream_xattr_name_ok(const char *name, size_t n)
{
	static const char *const prefixes[] = {"user.", "trusted.", "security."};
	if (n == 0 || n > STREAM_XATTR_NAME_MAX || memchr(name, 0, n))
		return 0;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t k = strlen(prefixes[i]);
		if (n > k && !memcmp(name, prefixes[i], k))
			return 1;
	}
	return (n == 23 && !memcmp(name, "system.posix_acl_access", 23)) ||
	       (n == 24 && !memcmp(name, "system.posix_acl_default", 24));
}

int stream_path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca == cb) {
			if (!ca)
				return 0;
			continue;
		}
		/* end of string < '/' < every other byte */
		int ka = ca == 0 ? 0 : ca == '/' ? 1 : ca + 1;
		int kb = cb == 0 ? 0 : cb == '/' ? 1 : cb + 1;
		return ka - kb;
	}
}

/* ---- Encoders -------------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int failed;
};

static void wb_bytes(struct wbuf *w, const void *d, size_t n)
{
	if (w->failed || n > w->cap - w->len) {
		w->failed = 1;
		return;
	}
	if (n)
		memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void wb_u8(struct wbuf *w, uint8_t v)
{
	wb_bytes(w, &v, 1);
}

static void wb_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2];
	put_u16(b, v);
	wb_bytes(w, b, 2);
}

static void wb_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	put_u32(b, v);
	wb_bytes(w, b, 4);
}

static void wb_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	put_u64(b, v);
	wb_bytes(w, b, 8);
}

static long wb_done(struct wbuf *w, const char *what)
{
	if (w->failed)
		return err_set("%s record does not fit in %zu bytes", what, w->cap);
	return (long)w->len;
}

long stream_encode_header(uint8_t *buf, size_t cap, const struct stream_header *h)
{
	struct wbuf w = {buf, cap, 0, 0};
	size_t sn = strlen(h->snapshot), fn = strlen(h->from);
	if (sn > STREAM_SNAP_NAME_MAX || fn > STREAM_SNAP_NAME_MAX)
		return err_set("snapshot name too long");
	wb_u8(&w, h->kind);
	wb_u8(&w, h->backend);
	wb_u16(&w, h->flags);
	wb_u8(&w, (uint8_t)sn);
	wb_bytes(&w, h->snapshot, sn);
	wb_u8(&w, (uint8_t)fn);
	wb_bytes(&w, h->from, fn);
	wb_u64(&w, h->created);
	wb_u64(&w, h->size_hint);
	return wb_done(&w, "HEADER");
}

long stream_encode_entry(uint8_t *buf, size_t cap, const struct stream_entry *e)
{
	struct wbuf w = {buf, cap, 0, 0};
	if (e->name_len > STREAM_NAME_MAX || e->target_len > STREAM_SYMLINK_MAX)
		return err_set("ENTRY: name or link target too long");
	wb_u16(&w, e->flags);
	wb_u8(&w, (uint8_t)e->name_len);
	wb_bytes(&w, e->name, e->name_len);
	wb_u32(&w, e->mode);
	wb_u32(&w, e->uid);
	wb_u32(&w, e->gid);
	wb_u64(&w, (uint64_t)e->mtime_sec);
	wb_u32(&w, e->mtime_nsec);
	switch (e->mode & S_IFMT) {
	case S_IFREG:
		wb_u64(&w, e->size);
		break;
	case S_IFLNK:
		wb_u16(&w, (uint16_t)e->target_len);
		wb_bytes(&w, e->target, e->target_len);
		break;
	case S_IFCHR:
	case S_IFBLK:
		wb_u32(&w, e->rdev_major);
		wb_u32(&w, e->rdev_minor);
		break;
	default:
		break;
	}
	wb_u16(&w, e->xattr_count);
	wb_bytes(&w, e->xattrs, e->xattrs_len);
	return wb_done(&w, "ENTRY");
}

long stream_encode_named(uint8_t *buf, size_t cap, uint16_t type, const struct stream_named *n)
{
	struct wbuf w = {buf, cap, 0, 0};
	if (n->name_len > STREAM_NAME_MAX || n->path_len >= STREAM_PATH_MAX)
		return err_set("name or path too long");
	wb_u8(&w, (uint8_t)n->name_len);
	wb_bytes(&w, n->name, n->name_len);
	if (type == STREAM_ENTER) {
		wb_u64(&w, (uint64_t)n->mtime_sec);
		wb_u32(&w, n->mtime_nsec);
	} else if (type == STREAM_LINK) {
		wb_u16(&w, (uint16_t)n->path_len);
		wb_bytes(&w, n->path, n->path_len);
	}
	return wb_done(&w, "named");
}

long stream_encode_end(uint8_t *buf, size_t cap, const struct stream_end *e)
{
	struct wbuf w = {buf, cap, 0, 0};
	wb_u64(&w, e->records);
	wb_u64(&w, e->entries);
	wb_u64(&w, e->data_bytes);
	wb_u64(&w, e->digest);
	return wb_done(&w, "END");
}

size_t stream_encode_data_head(uint8_t buf[13], uint64_t offset, uint32_t raw_len, uint8_t encoding)
{
	put_u64(buf, offset);
	put_u32(buf + 8, raw_len);
	buf[12] = encoding;
	return 13;
}

int stream_xattr_append(uint8_t *buf, size_t cap, size_t *len, const char *name, const void *value,
			size_t value_len)
{
	size_t n = strlen(name);
	if (!stream_xattr_name_ok(name, n))
		return err_set("extended attribute %s: namespace not carried", name);
	if (value_len > STREAM_XATTR_VALUE_MAX)
		return err_set("extended attribute %s: value of %zu bytes exceeds the limit", name,
			       value_len);
	struct wbuf w = {buf, cap, *len, 0};
	wb_u8(&w, (uint8_t)n);
	wb_bytes(&w, name, n);
	wb_u32(&w, (uint32_t)value_len);
	wb_bytes(&w, value, value_len);
	if (w.failed)
		return err_set("extended attributes do not fit in one record");
	*len = w.len;
	return 0;
}

/* ---- Decoders ---------------------------------------------------------------- */

static int cur_name(struct cursor *c, char *dst, size_t *len, size_t max)
{
	uint8_t n;
	if (cur_u8(c, &n) < 0 || n > max || cur_bytes(c, dst, n) < 0)
		return -1;
	dst[n] = 0;
	*len = n;
	return 0;
}

static int decode_end_check(struct cursor *c, const char *what)
{
	if (c->failed)
		return err_set("%s record is truncated", what);
	if (cur_left(c))
		return err_set("%s record has %zu unexpected trailing bytes", what, cur_left(c));
	return 0;
}

int stream_decode_header(const uint8_t *p, size_t n, struct stream_header *h)
{
	struct cursor c;
	size_t sn = 0, fn = 0;
	cur_init(&c, p, n);
	memset(h, 0, sizeof(*h));
	cur_u8(&c, &h->kind);
	cur_u8(&c, &h->backend);
	cur_u16(&c, &h->flags);
	if (cur_name(&c, h->snapshot, &sn, STREAM_SNAP_NAME_MAX) < 0 ||
	    cur_name(&c, h->from, &fn, STREAM_SNAP_NAME_MAX) < 0)
		return err_set("HEADER: snapshot name truncated or longer than %d bytes",
			       STREAM_SNAP_NAME_MAX);
	cur_u64(&c, &h->created);
	cur_u64(&c, &h->size_hint);
	if (decode_end_check(&c, "HEADER") < 0)
		return -1;
	if (h->kind != STREAM_KIND_BASE && h->kind != STREAM_KIND_INCREMENTAL)
		return err_set("HEADER: unknown stream kind %u", h->kind);
	if (h->backend != 0)
		return err_set(
			"HEADER: storage backend %u is not supported (only 0, directory trees)",
			h->backend);
	if (h->flags & ~STREAM_FLAG_COMPRESSED)
		return err_set("HEADER: unknown flags 0x%04x", h->flags);
	if (strlen(h->snapshot) != sn || !stream_snap_name_ok(h->snapshot))
		return err_set("HEADER: invalid snapshot name");
	if (h->kind == STREAM_KIND_BASE && fn)
		return err_set("HEADER: a base stream names a base snapshot");
	if (h->kind == STREAM_KIND_INCREMENTAL &&
	    (strlen(h->from) != fn || !stream_snap_name_ok(h->from)))
		return err_set("HEADER: invalid base snapshot name");
	return 0;
}

static int valid_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		return 1;
	}
	return 0;
}

int stream_decode_entry(const uint8_t *p, size_t n, struct stream_entry *e)
{
	struct cursor c;
	uint64_t mt;
	cur_init(&c, p, n);
	e->size = 0;
	e->rdev_major = e->rdev_minor = 0;
	e->target_len = 0;
	e->target[0] = 0;
	cur_u16(&c, &e->flags);
	if (cur_name(&c, e->name, &e->name_len, STREAM_NAME_MAX) < 0)
		return err_set("ENTRY record is truncated");
	cur_u32(&c, &e->mode);
	cur_u32(&c, &e->uid);
	cur_u32(&c, &e->gid);
	cur_u64(&c, &mt);
	e->mtime_sec = (int64_t)mt;
	cur_u32(&c, &e->mtime_nsec);
	if (c.failed)
		return err_set("ENTRY record is truncated");
	if (!valid_type(e->mode) || (e->mode & ~(uint32_t)(S_IFMT | 07777)))
		return err_set("ENTRY %s: invalid mode 0%o", e->name, e->mode);
	if (e->mtime_nsec >= 1000000000u)
		return err_set("ENTRY %s: invalid nanoseconds %u", e->name, e->mtime_nsec);
	if (e->flags & ~STREAM_ENTRY_KEEP_DATA)
		return err_set("ENTRY %s: unknown flags 0x%04x", e->name, e->flags);
	if ((e->flags & STREAM_ENTRY_KEEP_DATA) && (e->mode & S_IFMT) != S_IFREG)
		return err_set("ENTRY %s: keep-data flag on a non-file", e->name);
	switch (e->mode & S_IFMT) {
	case S_IFREG:
		cur_u64(&c, &e->size);
		if (!c.failed && e->size > STREAM_FILE_SIZE_MAX)
			return err_set("ENTRY %s: size %llu exceeds the limit", e->name,
				       (unsigned long long)e->size);
		break;
	case S_IFLNK: {
		uint16_t tl = 0;
		cur_u16(&c, &tl);
		if (c.failed || tl == 0 || tl > STREAM_SYMLINK_MAX)
			return err_set("ENTRY %s: bad symlink target length", e->name);
		if (cur_bytes(&c, e->target, tl) < 0)
			break;
		e->target[tl] = 0;
		e->target_len = tl;
		if (memchr(e->target, 0, tl))
			return err_set("ENTRY %s: NUL in symlink target", e->name);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
		cur_u32(&c, &e->rdev_major);
		cur_u32(&c, &e->rdev_minor);
		break;
	}
	cur_u16(&c, &e->xattr_count);
	if (c.failed)
		return err_set("ENTRY %s: record is truncated", e->name);
	if (e->xattr_count > STREAM_XATTRS_MAX)
		return err_set("ENTRY %s: %u extended attributes exceed the limit %d", e->name,
			       e->xattr_count, STREAM_XATTRS_MAX);
	e->xattrs = c.p + c.off;
	size_t start = c.off;
	for (unsigned i = 0; i < e->xattr_count; i++) {
		uint8_t nl = 0;
		uint32_t vl = 0;
		const uint8_t *name;
		if (cur_u8(&c, &nl) < 0 || cur_ref(&c, &name, nl) < 0 || cur_u32(&c, &vl) < 0)
			return err_set("ENTRY %s: extended attributes truncated", e->name);
		if (!stream_xattr_name_ok((const char *)name, nl))
			return err_set("ENTRY %s: extended attribute name not accepted", e->name);
		if (vl > STREAM_XATTR_VALUE_MAX)
			return err_set(
				"ENTRY %s: extended attribute value of %u bytes exceeds the limit",
				e->name, vl);
		if (cur_skip(&c, vl) < 0)
			return err_set("ENTRY %s: extended attributes truncated", e->name);
	}
	e->xattrs_len = c.off - start;
	return decode_end_check(&c, "ENTRY");
}

int stream_xattr_next(const struct stream_entry *e, size_t *off,
		      char name[STREAM_XATTR_NAME_MAX + 1], const uint8_t **value,
		      uint32_t *value_len)
{
	struct cursor c;
	uint8_t nl;
	if (*off >= e->xattrs_len)
		return 0;
	cur_init(&c, e->xattrs, e->xattrs_len);
	c.off = *off;
	if (cur_u8(&c, &nl) < 0 || cur_bytes(&c, name, nl) < 0 || cur_u32(&c, value_len) < 0 ||
	    cur_ref(&c, value, *value_len) < 0)
		return 0; /* validated by stream_decode_entry; cannot happen */
	name[nl] = 0;
	*off = c.off;
	return 1;
}

int stream_decode_named(const uint8_t *p, size_t n, uint16_t type, struct stream_named *nm)
{
	struct cursor c;
	char tn[16];
	const char *what = stream_type_name(type, tn);
	cur_init(&c, p, n);
	nm->mtime_sec = 0;
	nm->mtime_nsec = 0;
	nm->path_len = 0;
	nm->path[0] = 0;
	if (cur_name(&c, nm->name, &nm->name_len, STREAM_NAME_MAX) < 0)
		return err_set("%s record is truncated", what);
	if (type == STREAM_ENTER) {
		uint64_t mt = 0;
		cur_u64(&c, &mt);
		nm->mtime_sec = (int64_t)mt;
		cur_u32(&c, &nm->mtime_nsec);
		if (!c.failed && nm->mtime_nsec >= 1000000000u)
			return err_set("ENTER %s: invalid nanoseconds", nm->name);
	} else if (type == STREAM_LINK) {
		uint16_t pl = 0;
		if (cur_u16(&c, &pl) < 0 || pl >= STREAM_PATH_MAX ||
		    cur_bytes(&c, nm->path, pl) < 0)
			return err_set("LINK %s: bad target path length", nm->name);
		nm->path[pl] = 0;
		nm->path_len = pl;
		if (!stream_path_ok(nm->path, pl))
			return err_set("LINK %s: invalid target path", nm->name);
	}
	return decode_end_check(&c, what);
}

int stream_decode_data(const uint8_t *p, size_t n, struct stream_data *d)
{
	struct cursor c;
	cur_init(&c, p, n);
	cur_u64(&c, &d->offset);
	cur_u32(&c, &d->raw_len);
	cur_u8(&c, &d->encoding);
	if (c.failed)
		return err_set("DATA record is truncated");
	d->len = cur_left(&c);
	d->bytes = p + c.off;
	if (d->raw_len == 0 || d->raw_len > STREAM_BLOCK_MAX)
		return err_set("DATA: block length %u out of range (1..%u)", d->raw_len,
			       STREAM_BLOCK_MAX);
	if (d->encoding == STREAM_STORED) {
		if (d->len != d->raw_len)
			return err_set("DATA: stored block of %zu bytes says %u", d->len,
				       d->raw_len);
	} else if (d->encoding == STREAM_LZ4) {
		if (d->len == 0)
			return err_set("DATA: empty compressed block");
	} else {
		return err_set("DATA: unknown encoding %u", d->encoding);
	}
	return 0;
}

int stream_decode_end(const uint8_t *p, size_t n, struct stream_end *e)
{
	struct cursor c;
	cur_init(&c, p, n);
	cur_u64(&c, &e->records);
	cur_u64(&c, &e->entries);
	cur_u64(&c, &e->data_bytes);
	cur_u64(&c, &e->digest);
	return decode_end_check(&c, "END");
}

/* ---- Structure --------------------------------------------------------------- */

enum { CHECK_HEADER, CHECK_ROOT, CHECK_TREE, CHECK_END, CHECK_DONE };

void stream_check_init(struct stream_check *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CHECK_HEADER;
}

int stream_check_done(const struct stream_check *c)
{
	return c->state == CHECK_DONE;
}

/* Sets c->entry to the current directory's path joined with NAME. */
static int entry_path(struct stream_check *c, const char *name, size_t n)
{
	if (n == 0) {
		c->entry_len = 0;
		c->entry[0] = 0;
		return 0;
	}
	size_t sep = c->dir_len ? 1 : 0;
	if (c->dir_len + sep + n >= STREAM_PATH_MAX)
		return err_set("path %s/%s is longer than %d bytes", c->dir, name,
			       STREAM_PATH_MAX - 1);
	memcpy(c->entry, c->dir, c->dir_len);
	if (sep)
		c->entry[c->dir_len] = '/';
	memcpy(c->entry + c->dir_len + sep, name, n);
	c->entry_len = c->dir_len + sep + n;
	c->entry[c->entry_len] = 0;
	return 0;
}

/* A child NAME of the current directory: valid, and after the previous one. */
static int check_child(struct stream_check *c, const char *name, size_t n, const char *what)
{
	if (!stream_name_ok(name, n))
		return err_set(
			"%s: invalid name \"%.*s\" in /%s (empty, '.', '..', or with '/' or NUL)",
			what, (int)(n > 64 ? 64 : n), name, c->dir);
	char *last = c->last[c->depth - 1];
	if (last[0] && strcmp(name, last) <= 0)
		return err_set("%s: name \"%s\" in /%s is out of order (after \"%s\")", what, name,
			       c->dir, last);
	memcpy(last, name, n + 1);
	return entry_path(c, name, n);
}

static int push_dir(struct stream_check *c)
{
	if (c->depth >= STREAM_DEPTH_MAX)
		return err_set("directories nested deeper than %d at /%s", STREAM_DEPTH_MAX,
			       c->entry);
	c->level[c->depth] = c->dir_len;
	memcpy(c->dir, c->entry, c->entry_len + 1);
	c->dir_len = c->entry_len;
	c->last[c->depth][0] = 0;
	c->depth++;
	return 0;
}

int stream_check_record(struct stream_check *c, uint16_t type, const struct stream_header *h,
			const struct stream_entry *e, const struct stream_named *nm,
			const struct stream_data *d, const struct stream_end *end,
			uint64_t r_records, uint64_t digest)
{
	char tn[16];
	int incremental = c->header.kind == STREAM_KIND_INCREMENTAL;

	if (c->state == CHECK_DONE)
		return err_set("record after END");
	if (c->state == CHECK_HEADER) {
		if (type != STREAM_HEADER)
			return err_set("the first record is %s, not HEADER",
				       stream_type_name(type, tn));
		c->header = *h;
		c->state = CHECK_ROOT;
		return 0;
	}
	if (type != STREAM_DATA)
		c->in_file = 0;
	switch (type) {
	case STREAM_HEADER:
		return err_set("a second HEADER record");
	case STREAM_ENTRY:
	case STREAM_ENTER: {
		const char *name = type == STREAM_ENTRY ? e->name : nm->name;
		size_t n = type == STREAM_ENTRY ? e->name_len : nm->name_len;
		int is_dir = type == STREAM_ENTER || (e->mode & S_IFMT) == S_IFDIR;
		if (type == STREAM_ENTER && !incremental)
			return err_set("ENTER in a base stream");
		if (c->state == CHECK_ROOT) {
			if (n != 0 || !is_dir)
				return err_set("the first entry is not the root directory");
			entry_path(c, "", 0);
			c->state = CHECK_TREE;
			c->entries += type == STREAM_ENTRY;
			return push_dir(c);
		}
		if (c->state != CHECK_TREE || c->depth == 0)
			return err_set("%s outside the tree", stream_type_name(type, tn));
		if (check_child(c, name, n, stream_type_name(type, tn)) < 0)
			return -1;
		if (type == STREAM_ENTRY) {
			c->entries++;
			if ((e->flags & STREAM_ENTRY_KEEP_DATA) && !incremental)
				return err_set("ENTRY /%s: keep-data flag in a base stream",
					       c->entry);
			if ((e->mode & S_IFMT) == S_IFREG && !(e->flags & STREAM_ENTRY_KEEP_DATA)) {
				c->in_file = 1;
				c->file_size = e->size;
				c->next_offset = 0;
			}
		}
		return is_dir ? push_dir(c) : 0;
	}
	case STREAM_LINK:
	case STREAM_DELETE:
		if (c->state != CHECK_TREE || c->depth == 0)
			return err_set("%s outside the tree", stream_type_name(type, tn));
		if (type == STREAM_DELETE && !incremental)
			return err_set("DELETE in a base stream");
		if (check_child(c, nm->name, nm->name_len, stream_type_name(type, tn)) < 0)
			return -1;
		if (type == STREAM_LINK) {
			c->entries++;
			if (stream_path_cmp(nm->path, c->entry) >= 0)
				return err_set("LINK /%s: target /%s does not come before it",
					       c->entry, nm->path);
		}
		return 0;
	case STREAM_LEAVE:
		if (c->state != CHECK_TREE || c->depth == 0)
			return err_set("LEAVE without an open directory");
		c->depth--;
		c->dir_len = c->level[c->depth];
		c->dir[c->dir_len] = 0;
		if (c->depth == 0)
			c->state = CHECK_END;
		return 0;
	case STREAM_DATA:
		if (!c->in_file)
			return err_set("DATA not after a file entry");
		if (d->offset < c->next_offset || d->offset > c->file_size ||
		    d->raw_len > c->file_size - d->offset)
			return err_set(
				"DATA for /%s: block at %llu+%u outside the file or out of order",
				c->entry, (unsigned long long)d->offset, d->raw_len);
		c->next_offset = d->offset + d->raw_len;
		c->data_bytes += d->raw_len;
		if (d->encoding == STREAM_LZ4 && !(c->header.flags & STREAM_FLAG_COMPRESSED))
			return err_set("DATA for /%s: compressed block in an uncompressed stream",
				       c->entry);
		return 0;
	case STREAM_END:
		if (c->state != CHECK_END)
			return err_set("END before the tree was complete (%u directories open)",
				       c->depth);
		if (end->records != r_records || end->entries != c->entries ||
		    end->data_bytes != c->data_bytes)
			return err_set(
				"END totals do not match: %llu records, %llu entries, %llu bytes "
				"announced; %llu, %llu, %llu received",
				(unsigned long long)end->records, (unsigned long long)end->entries,
				(unsigned long long)end->data_bytes, (unsigned long long)r_records,
				(unsigned long long)c->entries, (unsigned long long)c->data_bytes);
		if (end->digest != digest)
			return err_set("END: stream digest mismatch");
		c->state = CHECK_DONE;
		return 0;
	default:
		if (type & STREAM_SKIPPABLE)
			return 0;
		return err_set("unknown record %s (not skippable)", stream_type_name(type, tn));
	}
}
