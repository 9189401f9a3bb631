/* The data path of a move between clusters: per disk, pinned mutual TLS, the one-time magic, then framed tree streams. */
#include "core/xfer.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/cursor.h"
#include "core/err.h"
#include "core/io.h"
#include "core/net.h"
#include "crypto/hmac.h"
#include "crypto/tls.h"

#define XFER_IN_BUF	  (64u << 10)
#define XFER_HANDSHAKE_MS 60000 /* TLS handshake and hello */
#define XFER_RETRY_MS	  500	/* between connection attempts of the source */

struct xfer_conn {
	int fd;
	int tls_up;
	struct tls_conn tls;
	struct io_chan tch; /* the TLS connection */
	struct io_in in;    /* buffered over tch */
	struct io_chan sub; /* one stream's bytes, framed */
	uint32_t left;	    /* bytes left in the current D frame (reading) */
	int ended;	    /* the current stream's E was read */
	char peer_msg[XFER_MSG_MAX + 1];
	int refused; /* the peer sent R or X (peer_msg says why) */
	int source;  /* this side sends (aborts with X; the destination refuses with R) */
	uint8_t inbuf[XFER_IN_BUF];
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Frames -------------------------------------------------------------------------------- */

static int frame_write(struct xfer_conn *x, uint8_t type, const void *p, size_t n)
{
	uint8_t h[5];
	h[0] = type;
	put_u32(h + 1, (uint32_t)n);
	if (tls_write(&x->tls, h, sizeof(h)) < 0)
		return -1;
	if (n && tls_write(&x->tls, p, n) < 0)
		return -1;
	return 0;
}

static int frame_msg(struct xfer_conn *x, uint8_t type, const char *msg)
{
	size_t n = strlen(msg);
	return frame_write(x, type, msg, n > XFER_MSG_MAX ? XFER_MSG_MAX : n);
}

/* Reads a frame header: *TYPE and *LEN (checked against the bound). 0 or -1. */
static int frame_head(struct xfer_conn *x, uint8_t *type, uint32_t *len)
{
	uint8_t h[5];
	if (io_in_read(&x->in, h, sizeof(h)) < 0)
		return err_prefix("move channel");
	*type = h[0];
	*len = get_u32(h + 1);
	if (*len > XFER_FRAME_MAX)
		return err_set("move channel: frame of %u bytes (at most %u)", *len,
			       XFER_FRAME_MAX);
	return 0;
}

/* Reads the reason of an R or X frame of LEN bytes into x->peer_msg (printable ASCII only). */
static int frame_reason(struct xfer_conn *x, uint32_t len)
{
	char buf[XFER_MSG_MAX];
	if (len > XFER_MSG_MAX)
		return err_set("move channel: reason of %u bytes (at most %d)", len, XFER_MSG_MAX);
	if (io_in_read(&x->in, buf, len) < 0)
		return err_prefix("move channel");
	for (uint32_t i = 0; i < len; i++)
		x->peer_msg[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
	x->peer_msg[len] = 0;
	x->refused = 1;
	return 0;
}

/* Reads an answer: 0 for K; -1 with err_set for R (its reason) or anything else. */
static int read_answer(struct xfer_conn *x, const char *what)
{
	uint8_t type;
	uint32_t len;
	if (frame_head(x, &type, &len) < 0)
		return -1;
	if (type == XFER_FRAME_OK && len == 0)
		return 0;
	if (type == XFER_FRAME_REFUSE) {
		if (frame_reason(x, len) < 0)
			return -1;
		return err_set("the destination refused %s: %s", what, x->peer_msg);
	}
	return err_set("move channel: unexpected frame 0x%02x while waiting for the answer to %s",
		       type, what);
}

/* ---- Streams over frames --------------------------------------------------------------------- */

/* Source side: each write becomes D frames; a refusal waiting on the socket stops it. */
static ssize_t sub_write(void *ctx, const void *buf, size_t n)
{
	struct xfer_conn *x = ctx;
	struct pollfd p = {.fd = x->fd, .events = POLLIN};
	if (poll(&p, 1, 0) > 0) {
		/* the destination only speaks mid-stream to refuse it */
		uint8_t type;
		uint32_t len;
		if (frame_head(x, &type, &len) < 0)
			return -1;
		if (type == XFER_FRAME_REFUSE && frame_reason(x, len) == 0)
			return err_set("the destination refused the stream: %s", x->peer_msg);
		return err_set("move channel: unexpected frame 0x%02x during a stream", type);
	}
	size_t k = n > XFER_FRAME_MAX ? XFER_FRAME_MAX : n;
	if (frame_write(x, XFER_FRAME_DATA, buf, k) < 0)
		return -1;
	return (ssize_t)k;
}

/* Destination side: D frames' payload, 0 at E, an error at X. */
static ssize_t sub_read(void *ctx, void *buf, size_t n)
{
	struct xfer_conn *x = ctx;
	while (x->left == 0) {
		if (x->ended)
			return 0;
		uint8_t type;
		uint32_t len;
		if (frame_head(x, &type, &len) < 0)
			return -1;
		if (type == XFER_FRAME_DATA) {
			x->left = len;
		} else if (type == XFER_FRAME_END && len == 0) {
			x->ended = 1;
		} else if (type == XFER_FRAME_ABORT) {
			if (frame_reason(x, len) < 0)
				return -1;
			return err_set("the source aborted: %s", x->peer_msg);
		} else {
			return err_set("move channel: unexpected frame 0x%02x in a stream", type);
		}
	}
	size_t k = n < x->left ? n : x->left;
	if (io_in_read(&x->in, buf, k) < 0)
		return err_prefix("move channel");
	x->left -= (uint32_t)k;
	return (ssize_t)k;
}

static void conn_init_channels(struct xfer_conn *x)
{
	tls_chan(&x->tls, &x->tch);
	io_in_init(&x->in, &x->tch, x->inbuf, sizeof(x->inbuf));
	x->sub.ctx = x;
	x->sub.read = sub_read;
	x->sub.write = sub_write;
}

static struct xfer_conn *conn_new(int fd)
{
	struct xfer_conn *x = malloc(sizeof(*x));
	if (!x) {
		err_set("out of memory");
		return NULL;
	}
	memset(x, 0, offsetof(struct xfer_conn, tls));
	x->fd = fd;
	x->peer_msg[0] = 0;
	return x;
}

void xfer_close(struct xfer_conn *x)
{
	if (!x)
		return;
	if (x->tls_up)
		tls_close(&x->tls);
	tls_wipe(&x->tls);
	if (x->fd >= 0)
		close(x->fd);
	explicit_bzero(x->inbuf, sizeof(x->inbuf));
	free(x);
}

int xfer_fd(const struct xfer_conn *x)
{
	return x->fd;
}

void xfer_abort(struct xfer_conn *x, const char *why)
{
	if (!x || !x->tls_up)
		return;
	frame_msg(x, x->source ? XFER_FRAME_ABORT : XFER_FRAME_REFUSE, why);
}

/* ---- Destination ------------------------------------------------------------------------------ */

int xfer_listen(struct xfer_listener *l, const char *ip)
{
	l->fd = net_listen(ip, 0, 4);
	if (l->fd < 0)
		return -1;
	if (net_local_port(l->fd, &l->port) < 0) {
		close(l->fd);
		l->fd = -1;
		return -1;
	}
	return 0;
}

void xfer_listener_close(struct xfer_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* Reads the hello line and checks the magic. 0; -1 with err_set; -2 if it is the wrong magic. */
static int read_hello(struct xfer_conn *x, const char *magic)
{
	char line[XFER_HELLO_MAX + 1];
	size_t n = 0;
	for (;;) {
		if (n == XFER_HELLO_MAX)
			return err_set("the source's hello is too long");
		if (io_in_read(&x->in, line + n, 1) < 0)
			return err_prefix("the source's hello");
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	char *sp = strchr(line, ' ');
	if (strncmp(line, "M=", 2) != 0 || !sp || strcmp(sp + 1, XFER_PROTO) != 0)
		return err_set("the source does not speak %s", XFER_PROTO);
	*sp = 0;
	size_t got = strlen(line + 2), want = strlen(magic);
	/* compare in constant time over the expected length */
	int same = got == want && hmac_equal(line + 2, magic, want);
	if (!same) {
		err_set("Magic value mismatch");
		return -2;
	}
	return 0;
}

int xfer_accept(struct xfer_listener *l, struct xfer_conn **out, const struct x509_identity *self,
		const uint8_t *peer, size_t peer_len, const char *magic, int timeout_ms,
		xfer_note_fn *note, void *ctx)
{
	long long deadline = now_ms() + timeout_ms;
	struct tls_config cfg = {.self = self, .pin = peer, .pin_len = peer_len};
	*out = NULL;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			left = 0;
		int fd = net_accept(l->fd, (int)left);
		if (fd == -2) {
			return err_set("no connection from the source within %d seconds",
				       (timeout_ms + 999) / 1000);
		}
		if (fd < 0)
			return -1;
		char who[NET_ADDR_MAX], why[ERR_MSG_MAX + 64];
		net_peer_text(fd, who, sizeof(who));
		net_set_timeouts(fd, XFER_HANDSHAKE_MS);
		struct xfer_conn *x = conn_new(fd);
		if (!x) {
			close(fd);
			return -1;
		}
		if (tls_server_accept(&x->tls, fd, &cfg) < 0) {
			snprintf(why, sizeof(why), "refused a connection from %s: %s", who,
				 err_msg());
			xfer_close(x);
			if (note)
				note(ctx, why);
			continue;
		}
		x->tls_up = 1;
		conn_init_channels(x);
		int h = read_hello(x, magic);
		if (h == -2) {
			frame_msg(x, XFER_FRAME_REFUSE, "Magic value mismatch");
			xfer_close(x);
			return err_set("Magic value mismatch (connection from %s)", who);
		}
		if (h < 0) {
			snprintf(why, sizeof(why), "refused a connection from %s: %s", who,
				 err_msg());
			xfer_close(x);
			if (note)
				note(ctx, why);
			continue;
		}
		if (frame_write(x, XFER_FRAME_OK, NULL, 0) < 0) {
			err_prefix("answering the source %s", who);
			xfer_close(x);
			return -1;
		}
		net_set_timeouts(fd, XFER_IO_TIMEOUT_MS);
		*out = x;
		return 0;
	}
}

int xfer_recv_next(struct xfer_conn *x, const struct tree_recv_opts *o, struct tree_recv_info *info,
		   struct tree_stats *st)
{
	uint8_t type;
	uint32_t len;
	if (frame_head(x, &type, &len) < 0)
		return -1;
	if (type == XFER_FRAME_FINISH && len == 0)
		return 1;
	if (type == XFER_FRAME_ABORT) {
		if (frame_reason(x, len) < 0)
			return -1;
		return err_set("the source aborted: %s", x->peer_msg);
	}
	if (type != XFER_FRAME_DATA)
		return err_set("move channel: unexpected frame 0x%02x before a stream", type);
	x->left = len;
	x->ended = 0;
	int r = tree_recv(o, &x->sub, info, st);
	if (r < 0) {
		if (!x->refused) {
			char saved[ERR_MSG_MAX];
			snprintf(saved, sizeof(saved), "%s", err_msg());
			frame_msg(x, XFER_FRAME_REFUSE, saved);
			err_set("%s", saved);
		}
		return -1;
	}
	if (!x->ended) /* tree_recv read up to E: anything else is a broken channel */
		return err_set("move channel: the stream did not end where its frames did");
	if (frame_write(x, XFER_FRAME_OK, NULL, 0) < 0)
		return err_prefix("answering the source");
	return 0;
}

int xfer_ack_final(struct xfer_conn *x)
{
	if (frame_write(x, XFER_FRAME_OK, NULL, 0) < 0)
		return err_prefix("confirming the end of the move");
	return 0;
}

/* ---- Source ------------------------------------------------------------------------------------ */

int xfer_connect(struct xfer_conn **out, const char *host, unsigned port,
		 const struct x509_identity *self, const uint8_t *peer, size_t peer_len,
		 const char *magic, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct tls_config cfg = {.self = self, .pin = peer, .pin_len = peer_len};
	char where[NET_ADDR_MAX + NET_HOST_MAX];
	*out = NULL;
	if (!magic || strlen(magic) > 100)
		return err_set("bad magic");
	net_join_host_port(where, sizeof(where), host, port);
	int fd;
	for (;;) {
		long long left = deadline - now_ms();
		fd = net_connect(host, port, (int)(left > 0 ? left : 1));
		if (fd >= 0)
			break;
		if (errno != ECONNREFUSED || now_ms() + XFER_RETRY_MS >= deadline)
			return -1;
		usleep(XFER_RETRY_MS * 1000);
	}
	net_set_timeouts(fd, XFER_HANDSHAKE_MS);
	struct xfer_conn *x = conn_new(fd);
	if (!x) {
		close(fd);
		return -1;
	}
	if (tls_client_connect(&x->tls, fd, &cfg) < 0) {
		err_prefix("the destination %s", where);
		xfer_close(x);
		return -1;
	}
	x->tls_up = 1;
	x->source = 1;
	conn_init_channels(x);
	char hello[XFER_HELLO_MAX + 1];
	snprintf(hello, sizeof(hello), "M=%s %s\n", magic, XFER_PROTO);
	if (tls_write(&x->tls, hello, strlen(hello)) < 0 || read_answer(x, "the magic") < 0) {
		err_prefix("the destination %s", where);
		xfer_close(x);
		return -1;
	}
	net_set_timeouts(fd, XFER_IO_TIMEOUT_MS);
	*out = x;
	return 0;
}

/* After a failed write: the destination's reason, if it sent one before closing. 1 if found. */
static int late_refusal(struct xfer_conn *x)
{
	struct pollfd p = {.fd = x->fd, .events = POLLIN};
	uint8_t type;
	uint32_t len;
	if (poll(&p, 1, 2000) <= 0 || frame_head(x, &type, &len) < 0 || type != XFER_FRAME_REFUSE ||
	    frame_reason(x, len) < 0)
		return 0;
	return 1;
}

int xfer_send_tree(struct xfer_conn *x, const struct tree_send_opts *o, struct tree_stats *st)
{
	if (tree_send(o, &x->sub, st) < 0) {
		if (x->refused)
			return -1;
		char saved[ERR_MSG_MAX];
		snprintf(saved, sizeof(saved), "%s", err_msg());
		/* our own failure, or a broken channel: tell the destination why, and
		   prefer its reason if it had one */
		if (frame_msg(x, XFER_FRAME_ABORT, saved) < 0 && late_refusal(x))
			return err_set("the destination refused the stream: %s", x->peer_msg);
		return err_set("%s", saved);
	}
	if (frame_write(x, XFER_FRAME_END, NULL, 0) < 0)
		return err_prefix("move channel");
	return read_answer(x, "the stream");
}

int xfer_send_finish(struct xfer_conn *x)
{
	if (frame_write(x, XFER_FRAME_FINISH, NULL, 0) < 0)
		return err_prefix("move channel");
	return 0;
}

int xfer_wait_final(struct xfer_conn *x, int timeout_ms)
{
	net_set_timeouts(x->fd, timeout_ms);
	return read_answer(x, "the move");
}
