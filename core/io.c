/* Checked I/O: full reads and writes, EINTR and short counts handled once, and buffered channels. */
#include "core/io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

ssize_t io_read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = read(fd, (char *)buf + done, n - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno("read");
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int io_read_exact(int fd, void *buf, size_t n)
{
	ssize_t r = io_read_full(fd, buf, n);
	if (r < 0)
		return -1;
	if ((size_t)r != n)
		return err_set("unexpected end of input after %zd of %zu bytes", r, n);
	return 0;
}

int io_write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno("write");
		}
		done += (size_t)w;
	}
	return 0;
}

ssize_t io_pread_full(int fd, void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno("read");
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int io_pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno("write");
		}
		done += (size_t)w;
	}
	return 0;
}

int io_write_str(int fd, const char *s)
{
	return io_write_full(fd, s, strlen(s));
}

static ssize_t fd_chan_read(void *ctx, void *buf, size_t n)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return err_set_errno("read");
	}
}

static ssize_t fd_chan_write(void *ctx, const void *buf, size_t n)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t w = write(fd, buf, n);
		if (w > 0)
			return w;
		if (w == 0)
			return err_set("write: no progress");
		if (errno != EINTR)
			return err_set_errno("write");
	}
}

void io_chan_fd(struct io_chan *ch, int *fd)
{
	ch->ctx = fd;
	ch->read = fd_chan_read;
	ch->write = fd_chan_write;
}

static int chan_write_all(struct io_chan *ch, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = ch->write(ch->ctx, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void io_out_init(struct io_out *o, struct io_chan *ch, void *buf, size_t cap)
{
	o->ch = ch;
	o->buf = buf;
	o->cap = cap;
	o->len = 0;
	o->total = 0;
}

int io_out_flush(struct io_out *o)
{
	if (o->len && chan_write_all(o->ch, o->buf, o->len) < 0)
		return -1;
	o->len = 0;
	return 0;
}

int io_out_write(struct io_out *o, const void *data, size_t n)
{
	const uint8_t *p = data;
	o->total += n;
	if (o->len + n <= o->cap) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return 0;
	}
	if (io_out_flush(o) < 0)
		return -1;
	if (n >= o->cap) /* large writes go straight through */
		return chan_write_all(o->ch, p, n);
	memcpy(o->buf, p, n);
	o->len = n;
	return 0;
}

void io_in_init(struct io_in *in, struct io_chan *ch, void *buf, size_t cap)
{
	in->ch = ch;
	in->buf = buf;
	in->cap = cap;
	in->pos = in->len = 0;
	in->total = 0;
	in->eof = 0;
}

/* Returns bytes copied (< n only at end of input), or -1. */
static ssize_t in_fill(struct io_in *in, uint8_t *dst, size_t n)
{
	size_t done = 0;
	while (done < n) {
		if (in->pos < in->len) {
			size_t k = in->len - in->pos;
			if (k > n - done)
				k = n - done;
			memcpy(dst + done, in->buf + in->pos, k);
			in->pos += k;
			done += k;
			continue;
		}
		if (in->eof)
			break;
		ssize_t r;
		if (n - done >= in->cap) /* large reads bypass the buffer */
			r = in->ch->read(in->ch->ctx, dst + done, n - done);
		else
			r = in->ch->read(in->ch->ctx, in->buf, in->cap);
		if (r < 0)
			return -1;
		if (r == 0) {
			in->eof = 1;
			break;
		}
		if (n - done >= in->cap) {
			done += (size_t)r;
		} else {
			in->pos = 0;
			in->len = (size_t)r;
		}
	}
	in->total += done;
	return (ssize_t)done;
}

int io_in_read(struct io_in *in, void *data, size_t n)
{
	uint64_t at = in->total;
	ssize_t r = in_fill(in, data, n);
	if (r < 0)
		return -1;
	if ((size_t)r != n)
		return err_set("unexpected end of input at byte %llu (wanted %zu more bytes)",
			       (unsigned long long)(at + (uint64_t)r), n - (size_t)r);
	return 0;
}

int io_in_read_or_eof(struct io_in *in, void *data, size_t n)
{
	uint64_t at = in->total;
	ssize_t r = in_fill(in, data, n);
	if (r < 0)
		return -1;
	if (r == 0 && n)
		return 1;
	if ((size_t)r != n)
		return err_set("unexpected end of input at byte %llu (wanted %zu more bytes)",
			       (unsigned long long)(at + (uint64_t)r), n - (size_t)r);
	return 0;
}
