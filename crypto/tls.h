/* TLS 1.2 over BearSSL on a connected socket, as an io_chan: API server, client, pinned mutual TLS. */
#ifndef FERRY_TLS_H
#define FERRY_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/io.h"
#include "crypto/x509.h"

/*
 * Trust anchors read from a PEM file of certificates (like curl --cacert).
 * A certificate with basicConstraints CA:TRUE is a CA: certificates it
 * signed are trusted (a self-signed CA certificate trusts itself). One
 * without CA:TRUE is trusted directly: the peer must present that key.
 * Allocated by tls_trust_load / tls_trust_from_pem, freed by tls_trust_free;
 * read-only afterwards, so threads may share one.
 */
struct tls_trust;

/* Most certificates read from one trust file. */
#define TLS_TRUST_MAX 512

/* Reads every CERTIFICATE of the PEM file PATH (at most 4 MiB; symlinks followed). 0 or -1. */
int tls_trust_load(struct tls_trust **out, const char *path);
int tls_trust_from_pem(struct tls_trust **out, const char *text, size_t len);
void tls_trust_free(struct tls_trust *t);

/*
 * How one side of a connection authenticates itself and its peer. All
 * pointers must stay valid until the connection is wiped.
 *
 * Peer checks, exactly one of:
 *   pin:   the peer must present exactly this certificate (full DER
 *          compare) and prove its key; used for the per-move data path,
 *          where each side got the other's certificate through the signed
 *          exchange. Its validity dates are checked with Ganeti's rule
 *          (x509_cert_check_time) when the connection starts.
 *   trust: the peer's chain must lead to one of these anchors (BearSSL's
 *          X.509 validation: signatures, dates, key usage).
 *   neither: only for a server that does not ask for client certificates.
 */
struct tls_config {
	/* Own key and certificate: required for a server; a client with
	   them presents the certificate when the server asks. */
	const struct x509_identity *self;

	const uint8_t *pin;
	size_t pin_len;
	const struct tls_trust *trust;

	/* Client with trust: also check that the server certificate names
	   this host (subjectAltName DNS or CN). NULL: no name check, as
	   Ganeti's RAPI client does; ferry's own clients default to that. */
	const char *server_name;
	/* Server: ask for a client certificate and refuse the connection
	   without a valid one (checked by pin or trust, one of which must be
	   set). A server with pin set always requires one. */
	int require_client_cert;
};

/*
 * One TLS connection. The caller allocates it (static, on the heap or, if
 * the stack allows ~45 KiB, on the stack); it holds the BearSSL engine,
 * the X.509 validator and the full-duplex record buffers, so nothing is
 * allocated per connection. Opaque: use the functions below.
 */
#define TLS_CONN_SIZE (44 * 1024)
struct tls_conn {
	_Alignas(16) unsigned char opaque[TLS_CONN_SIZE];
};

/*
 * Runs the handshake on the connected socket FD as a client or server with
 * CFG. The socket stays the caller's (never closed here); timeouts come
 * from its SO_RCVTIMEO / SO_SNDTIMEO, which turn into "timed out" errors.
 * TLS 1.2 only; ECDHE key exchange with AES-GCM (hardware AES when the CPU
 * has it) or ChaCha20-Poly1305. 0, or -1 with err_set naming the reason
 * (an alert, an untrusted or unpinned certificate, ...). After a failure
 * only tls_wipe is allowed.
 */
int tls_client_connect(struct tls_conn *c, int fd, const struct tls_config *cfg);
int tls_server_accept(struct tls_conn *c, int fd, const struct tls_config *cfg);

/*
 * Reads up to N decrypted bytes: >0 bytes, 0 at the peer's close_notify,
 * -1 with err_set on error. A TCP close without close_notify is an error
 * ("connection closed without TLS close_notify (truncated)"), so a cut
 * stream is never taken for a complete one.
 */
ssize_t tls_read(struct tls_conn *c, void *buf, size_t n);
/* Writes all N bytes and flushes them to the socket. 0 or -1. */
int tls_write(struct tls_conn *c, const void *buf, size_t n);
/*
 * Ends the session cleanly: sends close_notify and waits for the peer's
 * close_notify or TCP close (discarding data still arriving). 0 or -1.
 */
int tls_close(struct tls_conn *c);
/* Wipes the connection's keys and buffers; call once done, after a failure too. */
void tls_wipe(struct tls_conn *c);

/*
 * The connection as a channel for io_in/io_out and the stream code: read
 * is tls_read, write is tls_write (every write is flushed). C must outlive
 * CH.
 */
void tls_chan(struct tls_conn *c, struct io_chan *ch);

/* The negotiated cipher suite in OpenSSL's naming, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256". */
const char *tls_cipher_name(struct tls_conn *c);

#endif
