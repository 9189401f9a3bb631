/* Checked I/O: full reads and writes that retry on EINTR and short counts, and buffered channels. */
#ifndef FERRY_IO_H
#define FERRY_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Reads until N bytes arrived or end of file. Returns the number of bytes
 * read (less than N only at end of file), or -1 with err_set on error.
 */
ssize_t io_read_full(int fd, void *buf, size_t n);
/* Reads exactly N bytes; end of file before that is an error. 0 or -1. */
int io_read_exact(int fd, void *buf, size_t n);
/* Writes all N bytes, retrying short writes and EINTR. 0 or -1 (errno kept). */
int io_write_full(int fd, const void *buf, size_t n);
/* Positioned variants of the two above, for file data at given offsets. */
ssize_t io_pread_full(int fd, void *buf, size_t n, off_t off);
int io_pwrite_full(int fd, const void *buf, size_t n, off_t off);
/* Writes a NUL-terminated string in full. 0 or -1. */
int io_write_str(int fd, const char *s);

/*
 * A byte channel: where streams come from and go to (a pipe, an SSH
 * session, a TLS connection). read returns >0 bytes, 0 at end, -1 on error;
 * write returns the number of bytes taken (>0) or -1. Both set err_set.
 */
struct io_chan {
	void *ctx;
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	ssize_t (*write)(void *ctx, const void *buf, size_t n);
};

/* A channel over a file descriptor; FD must outlive the channel. */
void io_chan_fd(struct io_chan *ch, int *fd);

/* Buffered writer over a channel; the caller owns BUF (CAP bytes). */
struct io_out {
	struct io_chan *ch;
	uint8_t *buf;
	size_t cap, len;
	uint64_t total; /* bytes accepted so far */
};
void io_out_init(struct io_out *o, struct io_chan *ch, void *buf, size_t cap);
int io_out_write(struct io_out *o, const void *data, size_t n);
int io_out_flush(struct io_out *o);

/* Buffered reader over a channel; the caller owns BUF (CAP bytes). */
struct io_in {
	struct io_chan *ch;
	uint8_t *buf;
	size_t cap, pos, len;
	uint64_t total; /* bytes consumed so far */
	int eof;
};
void io_in_init(struct io_in *in, struct io_chan *ch, void *buf, size_t cap);
/* Reads exactly N bytes; a short read is an error naming the offset. 0 or -1. */
int io_in_read(struct io_in *in, void *data, size_t n);
/* Like io_in_read, but returns 1 at a clean end of input before any byte. */
int io_in_read_or_eof(struct io_in *in, void *data, size_t n);

#endif
