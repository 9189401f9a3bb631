/* libFuzzer target: the stream decoder (framing, checksums, record codecs, structure checker) on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/lz4.h"
#include "core/stream.h"

struct mem {
	const uint8_t *p;
	size_t len, pos;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->pos < n ? m->len - m->pos : n;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

struct wmem {
	uint8_t buf[1 << 16];
	size_t len;
};

static ssize_t wmem_write(void *ctx, const void *buf, size_t n)
{
	struct wmem *w = ctx;
	if (n > sizeof(w->buf) - w->len)
		n = sizeof(w->buf) - w->len;
	if (n == 0)
		return -1;
	memcpy(w->buf + w->len, buf, n);
	w->len += n;
	return (ssize_t)n;
}

/*
 * Inputs starting with an odd byte are a list of (u16 type, u16 length,
 * payload) that the harness frames with correct checksums, so the fuzzer
 * reaches the record decoders and the structure checker; other inputs are
 * taken as a raw stream (framing and checksums under test).
 */
static size_t frame(const uint8_t *data, size_t size, struct wmem *w)
{
	struct io_chan ch = {w, NULL, wmem_write};
	struct io_out out;
	struct stream_writer sw;
	uint8_t obuf[4096];
	w->len = 0;
	io_out_init(&out, &ch, obuf, sizeof(obuf));
	if (stream_writer_start(&sw, &out, STREAM_MAGIC) < 0)
		return 0;
	size_t off = 0;
	while (off + 4 <= size) {
		uint16_t type = (uint16_t)(data[off] << 8 | data[off + 1]);
		size_t len = (size_t)(data[off + 2] << 8 | data[off + 3]);
		off += 4;
		if (len > size - off)
			len = size - off;
		if (stream_write(&sw, type, data + off, len, NULL, 0) < 0)
			break;
		off += len;
	}
	io_out_flush(&out);
	return w->len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wmem framed;
	if (size && (data[0] & 1)) {
		size = frame(data + 1, size - 1, &framed);
		data = framed.buf;
	}
	static uint8_t rec[STREAM_RECORD_MAX], block[STREAM_BLOCK_MAX];
	static struct stream_check chk;
	static struct stream_entry e;
	static struct stream_named nm;
	struct stream_header h;
	struct stream_data d;
	struct stream_end end;
	struct mem m = {data, size, 0};
	struct io_chan ch = {&m, mem_read, NULL};
	struct io_in in;
	uint8_t inbuf[4096];
	struct stream_reader r;

	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	if (stream_reader_start(&r, &in, rec, sizeof(rec), STREAM_MAGIC, "stream") < 0)
		return 0;
	stream_check_init(&chk);
	for (int i = 0; i < 100000; i++) {
		if (stream_read(&r) < 0)
			return 0;
		int rc = 0;
		switch (r.type) {
		case STREAM_HEADER:
			rc = stream_decode_header(r.buf, r.len, &h);
			if (!rc)
				rc = stream_check_record(&chk, r.type, &h, NULL, NULL, NULL, NULL,
							 0, 0);
			break;
		case STREAM_ENTRY:
			rc = stream_decode_entry(r.buf, r.len, &e);
			if (!rc) {
				char name[STREAM_XATTR_NAME_MAX + 1];
				const uint8_t *v;
				uint32_t vl;
				size_t off = 0;
				while (stream_xattr_next(&e, &off, name, &v, &vl))
					;
				rc = stream_check_record(&chk, r.type, NULL, &e, NULL, NULL, NULL,
							 0, 0);
			}
			break;
		case STREAM_ENTER:
		case STREAM_LINK:
		case STREAM_DELETE:
			rc = stream_decode_named(r.buf, r.len, r.type, &nm);
			if (!rc)
				rc = stream_check_record(&chk, r.type, NULL, NULL, &nm, NULL, NULL,
							 0, 0);
			break;
		case STREAM_DATA:
			rc = stream_decode_data(r.buf, r.len, &d);
			if (!rc && d.encoding == STREAM_LZ4)
				rc = lz4_decompress(d.bytes, d.len, block, d.raw_len) < 0 ? -1 : 0;
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
				stream_reader_finish(&r);
			return 0;
		default:
			rc = stream_check_record(&chk, r.type, NULL, NULL, NULL, NULL, NULL, 0, 0);
		}
		if (rc < 0)
			return 0;
	}
	return 0;
}
