/* Unit tests of core/io: full reads and writes through EINTR and short counts, buffered channels. */
#define CHECK_SUITE "io"
#include "test/unit/check.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/io.h"

#define BIG (1 << 20) /* far above a pipe's capacity, so writes come back short */

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

struct drain {
	int fd;
	uint8_t *buf;
	size_t want, got;
};

/* Reads in small pieces with pauses, so the writer sees partial writes. */
static void *drain_slowly(void *arg)
{
	struct drain *d = arg;
	while (d->got < d->want) {
		ssize_t r = read(d->fd, d->buf + d->got, 1000);
		if (r <= 0)
			break;
		d->got += (size_t)r;
		if (d->got % 50000 < 1000)
			usleep(1000);
	}
	return NULL;
}

static void test_write_full_big_through_pipe(void)
{
	int p[2];
	static uint8_t src[BIG], dst[BIG];
	for (size_t i = 0; i < BIG; i++)
		src[i] = pattern(i);
	CHECK(pipe(p) == 0);
	struct drain d = {p[0], dst, BIG, 0};
	pthread_t t;
	pthread_create(&t, NULL, drain_slowly, &d);
	CHECK_INT(io_write_full(p[1], src, BIG), 0);
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	CHECK_INT(d.got, BIG);
	CHECK(memcmp(src, dst, BIG) == 0);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A writer that trickles bytes while SIGALRM interrupts the reader's read(2) calls. */
static void *trickle(void *arg)
{
	int fd = *(int *)arg;
	for (int i = 0; i < 20; i++) {
		uint8_t b = (uint8_t)i;
		usleep(5000);
		if (write(fd, &b, 1) != 1)
			break;
	}
	close(fd);
	return NULL;
}

static void test_read_full_survives_eintr(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: read(2) fails with EINTR */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 2000}, {0, 2000}};
	setitimer(ITIMER_REAL, &it, NULL);

	int p[2];
	CHECK(pipe(p) == 0);
	pthread_t t;
	pthread_create(&t, NULL, trickle, &p[1]);
	uint8_t buf[32];
	ssize_t n = io_read_full(p[0], buf, sizeof(buf));
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_join(t, NULL);
	close(p[0]);
	CHECK_INT(n, 20); /* all 20 bytes, then end of file: a short count only at EOF */
	for (int i = 0; i < 20 && i < n; i++)
		CHECK_INT(buf[i], i);
}

static void test_read_exact_reports_eof(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "abc", 3) == 3);
	close(p[1]);
	char buf[8];
	CHECK_INT(io_read_exact(p[0], buf, 5), -1);
	CHECK(strstr(err_msg(), "unexpected end of input") != NULL);
	close(p[0]);
}

static void test_write_full_reports_epipe(void)
{
	int p[2];
	signal(SIGPIPE, SIG_IGN);
	CHECK(pipe(p) == 0);
	close(p[0]);
	CHECK_INT(io_write_full(p[1], "x", 1), -1);
	CHECK_INT(errno, EPIPE);
	CHECK(strstr(err_msg(), "Broken pipe") != NULL);
	close(p[1]);
}

static void test_pread_pwrite(void)
{
	char path[] = "/tmp/ferry-test-io-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK_INT(io_pwrite_full(fd, "hello", 5, 4096), 0);
	char buf[16] = {0};
	CHECK_INT(io_pread_full(fd, buf, sizeof(buf), 4096), 5);
	CHECK_STR(buf, "hello");
	CHECK_INT(io_pread_full(fd, buf, 4, 0), 4);
	CHECK_EQUALS(buf, 4, "\0\0\0\0", 4);
	close(fd);
}

/* A channel that hands out at most 3 bytes per call, to exercise reassembly. */
struct stingy {
	const uint8_t *p;
	size_t len, off;
	uint8_t *out;
	size_t out_len;
};

static ssize_t stingy_read(void *ctx, void *buf, size_t n)
{
	struct stingy *s = ctx;
	size_t k = s->len - s->off;
	if (k > 3)
		k = 3;
	if (k > n)
		k = n;
	memcpy(buf, s->p + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

static ssize_t stingy_write(void *ctx, const void *buf, size_t n)
{
	struct stingy *s = ctx;
	size_t k = n > 3 ? 3 : n;
	memcpy(s->out + s->out_len, buf, k);
	s->out_len += k;
	return (ssize_t)k;
}

static void test_buffered_channels(void)
{
	static const uint8_t text[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	uint8_t outbuf[64], inbuf[5], got[64];
	struct stingy s = {text, sizeof(text) - 1, 0, outbuf, 0};
	struct io_chan ch = {&s, stingy_read, stingy_write};
	struct io_in in;
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	CHECK_INT(io_in_read(&in, got, 2), 0);
	CHECK_INT(io_in_read(&in, got + 2, 20), 0);
	CHECK_INT(io_in_read(&in, got + 22, 14), 0);
	CHECK_EQUALS(got, 36, text, 36);
	CHECK_INT(in.total, 36);
	CHECK_INT(io_in_read_or_eof(&in, got, 1), 1);
	CHECK_INT(io_in_read(&in, got, 1), -1);
	CHECK(strstr(err_msg(), "at byte 36") != NULL);

	uint8_t wbuf[4];
	struct io_out o;
	io_out_init(&o, &ch, wbuf, sizeof(wbuf));
	CHECK_INT(io_out_write(&o, text, 3), 0);
	CHECK_INT(io_out_write(&o, text + 3, 10), 0);
	CHECK_INT(io_out_write(&o, text + 13, 2), 0);
	CHECK_INT(io_out_flush(&o), 0);
	CHECK_EQUALS(s.out, s.out_len, text, 15);
	CHECK_INT(o.total, 15);
}

static void test_in_read_detects_truncation_midway(void)
{
	static const uint8_t text[] = "abcdefg";
	uint8_t inbuf[4], got[16];
	struct stingy s = {text, 7, 0, NULL, 0};
	struct io_chan ch = {&s, stingy_read, stingy_write};
	struct io_in in;
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	CHECK_INT(io_in_read(&in, got, 5), 0);
	CHECK_INT(io_in_read_or_eof(&in, got, 4), -1); /* 2 bytes then EOF: truncated, not clean */
	CHECK(strstr(err_msg(), "at byte 7") != NULL);
}

int main(void)
{
	RUN(test_write_full_big_through_pipe);
	RUN(test_read_full_survives_eintr);
	RUN(test_read_exact_reports_eof);
	RUN(test_write_full_reports_epipe);
	RUN(test_pread_pwrite);
	RUN(test_buffered_channels);
	RUN(test_in_read_detects_truncation_midway);
	return CHECK_DONE();
}
