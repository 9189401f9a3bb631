/* The data path of a move between clusters: per disk, pinned mutual TLS, the one-time magic, then framed tree streams (docs/rapi.md, "Data path"). */
#ifndef FERRY_XFER_H
#define FERRY_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/treerecv.h"
#include "core/treesend.h"
#include "crypto/x509.h"

/*
 * The channel of one disk (dataset), after TLS in which each side presents
 * its per-move certificate and accepts only the peer's, relayed through
 * the signed exchange:
 *
 *   source -> destination: "M=" MAGIC " ferry-move/1\n"
 *   destination -> source: K (the magic is right) or R (why not)
 *   then any number of tree streams, each as D frames and one E frame,
 *   each answered K (received and committed) or R (why not); then F
 *   (no more streams), answered K once the destination has committed
 *   every disk of the instance. X (source) aborts with a reason.
 *
 * A frame is one type byte, a 32-bit big-endian length and the payload
 * (at most XFER_FRAME_MAX bytes; D carries stream bytes, R and X a UTF-8
 * reason of at most XFER_MSG_MAX bytes, K, E and F nothing).
 */
#define XFER_PROTO		"ferry-move/1"
#define XFER_HELLO_MAX		(2 + 100 + 1 + sizeof(XFER_PROTO) + 1) /* magic is 5..100 */
#define XFER_FRAME_MAX		(1u << 20)
#define XFER_MSG_MAX		1024
#define XFER_FRAME_DATA		'D'
#define XFER_FRAME_END		'E'
#define XFER_FRAME_FINISH	'F'
#define XFER_FRAME_OK		'K'
#define XFER_FRAME_REFUSE	'R'
#define XFER_FRAME_ABORT	'X'
#define XFER_CONNECT_TIMEOUT_MS 300000	/* the destination waits this long for the source */
#define XFER_IO_TIMEOUT_MS	1800000 /* a peer silent this long is given up */

/* One disk's connection (about 60 KiB; allocated by xfer_accept / xfer_connect). */
struct xfer_conn;

/* The destination's listening socket for one disk. */
struct xfer_listener {
	int fd;
	unsigned port;
};

/*
 * Listens on the IP literal IP, on an ephemeral port (L->port). 0 or -1
 * with err_set.
 */
int xfer_listen(struct xfer_listener *l, const char *ip);
/* Closes L's socket (L->fd = -1). Safe on a closed listener. */
void xfer_listener_close(struct xfer_listener *l);

/* Called with each refused connection attempt (for the job's log). */
typedef void xfer_note_fn(void *ctx, const char *msg);

/*
 * Destination: waits up to TIMEOUT_MS for the source on L, runs the TLS
 * handshake as server with SELF, requiring exactly the client certificate
 * PEER[0..PEER_LEN), and reads the hello. A connection that fails the
 * handshake or says nothing is refused and reported through NOTE (may be
 * NULL); waiting goes on until the deadline. The right peer with a wrong
 * magic ends it: "Magic value mismatch". On success *OUT is the
 * connection (K already sent). 0, or -1 with err_set ("no connection
 * within N seconds" when nobody came; L's socket being shut down ends the
 * wait too).
 */
int xfer_accept(struct xfer_listener *l, struct xfer_conn **out, const struct x509_identity *self,
		const uint8_t *peer, size_t peer_len, const char *magic, int timeout_ms,
		xfer_note_fn *note, void *ctx);

/*
 * Source: connects to HOST:PORT (retrying refused connections until
 * TIMEOUT_MS has passed), runs the TLS handshake as client with SELF,
 * requiring exactly the server certificate PEER, sends the hello with
 * MAGIC and waits for its K. 0 with *OUT, or -1 with err_set (the
 * destination's reason when it refused).
 */
int xfer_connect(struct xfer_conn **out, const char *host, unsigned port,
		 const struct x509_identity *self, const uint8_t *peer, size_t peer_len,
		 const char *magic, int timeout_ms);

/* The connection's socket (to register it for cancellation). */
int xfer_fd(const struct xfer_conn *x);

/*
 * Source: sends one tree stream (tree_send with O) and waits for the
 * destination's answer. A refusal the destination sends while the stream
 * runs stops it at once. A local failure is sent to the destination as an
 * abort. 0, or -1 with err_set (the destination's reason when it gave
 * one: "the destination refused: ...").
 */
int xfer_send_tree(struct xfer_conn *x, const struct tree_send_opts *o, struct tree_stats *st);
/* Source: sends F (no more streams). 0 or -1. */
int xfer_send_finish(struct xfer_conn *x);
/*
 * Source: waits up to TIMEOUT_MS for the answer to F. 0 if the destination
 * confirmed (K); -1 with err_set otherwise (its reason, or why no answer
 * came).
 */
int xfer_wait_final(struct xfer_conn *x, int timeout_ms);

/*
 * Destination: receives what comes next. A tree stream (tree_recv with O,
 * filling INFO and ST, either may be NULL) is answered K once committed,
 * or R with the reason: returns 0 or -1. F (no more streams) returns 1 and
 * is not answered yet (see xfer_ack_final). An abort from the source or a
 * broken channel is -1 with err_set.
 */
int xfer_recv_next(struct xfer_conn *x, const struct tree_recv_opts *o, struct tree_recv_info *info,
		   struct tree_stats *st);
/* Destination: answers F with K (everything is committed). 0 or -1. */
int xfer_ack_final(struct xfer_conn *x);

/*
 * Tells the peer why this side gives up (R from the destination, X from
 * the source), best effort, without waiting.
 */
void xfer_abort(struct xfer_conn *x, const char *why);

/* Ends the TLS session (close_notify), wipes its keys, closes the socket, frees X (may be NULL). */
void xfer_close(struct xfer_conn *x);

#endif
