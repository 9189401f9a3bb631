/* Unit-test helper: builds tree streams record by record in memory (valid or not) and reads them back. */
#ifndef FERRY_TEST_STREAMBUILD_H
#define FERRY_TEST_STREAMBUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cursor.h"
#include "core/io.h"
#include "core/stream.h"

/* A growable byte buffer that is both a write and a read channel. */
struct sb_mem {
	uint8_t *p;
	size_t len, cap, pos;
};

static __attribute__((unused)) ssize_t sb_mem_write(void *ctx, const void *b, size_t n)
{
	struct sb_mem *m = ctx;
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			abort();
	}
	memcpy(m->p + m->len, b, n);
	m->len += n;
	return (ssize_t)n;
}

static __attribute__((unused)) ssize_t sb_mem_read(void *ctx, void *b, size_t n)
{
	struct sb_mem *m = ctx;
	size_t k = m->len - m->pos < n ? m->len - m->pos : n;
	memcpy(b, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

#define SB_RECORDS_MAX 1024 /* record offsets remembered for tampering */

/* A stream being built. Large: keep it static. */
struct sb {
	struct sb_mem m;
	struct io_chan ch;
	struct io_out out;
	uint8_t obuf[4096];
	struct stream_writer w;
	uint8_t rec[STREAM_RECORD_MAX];
	uint64_t entries, data;	   /* what END must announce */
	size_t at[SB_RECORDS_MAX]; /* byte offset of record i */
};

/* Starts B with the preamble only (magic and version). */
static __attribute__((unused)) void sb_start_raw(struct sb *b)
{
	free(b->m.p);
	memset(b, 0, sizeof(*b));
	b->ch.ctx = &b->m;
	b->ch.write = sb_mem_write;
	b->ch.read = sb_mem_read;
	io_out_init(&b->out, &b->ch, b->obuf, sizeof(b->obuf));
	stream_writer_start(&b->w, &b->out, STREAM_MAGIC);
}

/* The payload of a HEADER of KIND, SNAP, FROM and FLAGS into BUF (256 bytes); its length. */
static __attribute__((unused)) size_t sb_header_payload(uint8_t *buf, int kind, const char *snap,
							const char *from, uint16_t flags)
{
	struct stream_header h = {.kind = (uint8_t)kind, .flags = flags};
	snprintf(h.snapshot, sizeof(h.snapshot), "%s", snap);
	snprintf(h.from, sizeof(h.from), "%s", from);
	long n = stream_encode_header(buf, 256, &h);
	if (n < 0)
		abort();
	return (size_t)n;
}

/* Starts B with the preamble and a HEADER of KIND, SNAP, FROM and FLAGS. */
static __attribute__((unused)) void sb_start_flags(struct sb *b, int kind, const char *snap,
						   const char *from, uint16_t flags)
{
	sb_start_raw(b);
	size_t n = sb_header_payload(b->rec, kind, snap, from, flags);
	b->at[0] = (size_t)b->out.total;
	stream_write(&b->w, STREAM_HEADER, b->rec, n, NULL, 0);
}

static __attribute__((unused)) void sb_start(struct sb *b, int kind, const char *snap,
					     const char *from)
{
	sb_start_flags(b, kind, snap, from, 0);
}

/* One record of TYPE with payload P[0..N), framed with its right checksum. */
static __attribute__((unused)) void sb_record(struct sb *b, uint16_t type, const void *p, size_t n)
{
	if (b->w.records < SB_RECORDS_MAX)
		b->at[b->w.records] = (size_t)b->out.total;
	stream_write(&b->w, type, p, n, NULL, 0);
}

/* An entry with a name of any bytes (length N) and mode MODE; SIZE for files, TARGET for symlinks. */
static __attribute__((unused)) void sb_entry_n(struct sb *b, const char *name, size_t n,
					       uint32_t mode, uint64_t size, const char *target)
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
	} else if ((mode & S_IFMT) == S_IFCHR || (mode & S_IFMT) == S_IFBLK) {
		put_u32(p, 1);
		put_u32(p + 4, 3);
		p += 8;
	}
	put_u16(p, 0);
	p += 2;
	b->entries++;
	sb_record(b, STREAM_ENTRY, b->rec, (size_t)(p - b->rec));
}

static __attribute__((unused)) void sb_entry(struct sb *b, const char *name, uint32_t mode,
					     uint64_t size, const char *target)
{
	sb_entry_n(b, name, strlen(name), mode, size, target);
}

/* An entry from a filled struct (flags, xattrs...) through the real encoder. */
static __attribute__((unused)) void sb_entry_s(struct sb *b, const struct stream_entry *e)
{
	long n = stream_encode_entry(b->rec, sizeof(b->rec), e);
	if (n < 0)
		abort();
	b->entries++;
	sb_record(b, STREAM_ENTRY, b->rec, (size_t)n);
}

/* ENTER, LINK (to PATH) or DELETE of NAME. */
static __attribute__((unused)) void sb_named(struct sb *b, uint16_t type, const char *name,
					     const char *path)
{
	struct stream_named nm;
	memset(&nm, 0, sizeof(nm));
	nm.name_len = strlen(name);
	memcpy(nm.name, name, nm.name_len);
	if (path) {
		nm.path_len = strlen(path);
		memcpy(nm.path, path, nm.path_len);
	}
	if (type == STREAM_LINK)
		b->entries++;
	long n = stream_encode_named(b->rec, sizeof(b->rec), type, &nm);
	if (n < 0)
		abort();
	sb_record(b, type, b->rec, (size_t)n);
}

/* A DATA record at OFF: BYTES[0..N) stored, or with ENCODING and a RAW_LEN of the caller's. */
static __attribute__((unused)) void sb_data_enc(struct sb *b, uint64_t off, uint32_t raw_len,
						uint8_t encoding, const void *bytes, size_t n)
{
	uint8_t head[13];
	stream_encode_data_head(head, off, raw_len, encoding);
	b->data += raw_len;
	memcpy(b->rec, head, 13);
	memcpy(b->rec + 13, bytes, n);
	sb_record(b, STREAM_DATA, b->rec, 13 + n);
}

static __attribute__((unused)) void sb_data(struct sb *b, uint64_t off, const char *bytes)
{
	sb_data_enc(b, off, (uint32_t)strlen(bytes), STREAM_STORED, bytes, strlen(bytes));
}

static __attribute__((unused)) void sb_leave(struct sb *b)
{
	sb_record(b, STREAM_LEAVE, NULL, 0);
}

/* END announcing E (whatever it says), then flushes the stream into memory. */
static __attribute__((unused)) void sb_end_with(struct sb *b, const struct stream_end *e)
{
	long n = stream_encode_end(b->rec, sizeof(b->rec), e);
	sb_record(b, STREAM_END, b->rec, (size_t)n);
	io_out_flush(&b->out);
}

/* The true END: records before it, entries, data bytes and the digest. */
static __attribute__((unused)) void sb_end(struct sb *b)
{
	struct stream_end e = {b->w.records, b->entries, b->data, stream_writer_digest(&b->w)};
	sb_end_with(b, &e);
}

static __attribute__((unused)) void sb_free(struct sb *b)
{
	free(b->m.p);
	b->m.p = NULL;
	b->m.len = b->m.cap = b->m.pos = 0;
}

#endif
