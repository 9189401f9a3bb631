/* TLS 1.2 over BearSSL: a reduced profile (ECDHE, AES-GCM, ChaCha20), CA or pinned peers, io_chan glue. */
#include "crypto/tls.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/io.h"
#include "crypto/rand.h"

/* Largest trust file tls_trust_load reads. */
#define TRUST_FILE_MAX (4 * 1024 * 1024)

/* ---- Trust anchors ----------------------------------------------------------- */

struct tls_trust {
	size_t n;
	br_x509_trust_anchor *tas;
};

struct dn_buf {
	unsigned char *p;
	size_t len, cap;
	int failed;
};

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct dn_buf *d = ctx;
	if (d->failed)
		return;
	if (d->len + len > d->cap) {
		size_t cap = (d->len + len) * 2;
		unsigned char *p = realloc(d->p, cap);
		if (!p) {
			d->failed = 1;
			return;
		}
		d->p = p;
		d->cap = cap;
	}
	memcpy(d->p + d->len, buf, len);
	d->len += len;
}

static void *dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

void tls_trust_free(struct tls_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		br_x509_trust_anchor *ta = &t->tas[i];
		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else {
			free(ta->pkey.key.ec.q);
		}
	}
	free(t->tas);
	free(t);
}

/* Adds the certificate DER[0..LEN) as an anchor. 0 or -1. */
static int trust_add(struct tls_trust *t, const uint8_t *der, size_t len)
{
	br_x509_decoder_context dc;
	struct dn_buf dn = {NULL, 0, 0, 0};
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || dn.failed) {
		free(dn.p);
		return err_set("certificate %zu cannot be decoded (BearSSL error %d)", t->n + 1,
			       br_x509_decoder_last_error(&dc));
	}
	br_x509_trust_anchor *ta = &t->tas[t->n];
	memset(ta, 0, sizeof(*ta));
	ta->dn.data = dn.p ? dn.p : dup_bytes("", 0);
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	int ok;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		ok = ta->pkey.key.rsa.n && ta->pkey.key.rsa.e;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		ok = ta->pkey.key.ec.q != NULL;
	}
	t->n++; /* counted even when incomplete, so tls_trust_free releases it */
	if (!ta->dn.data || !ok)
		return err_set("out of memory");
	return 0;
}

int tls_trust_from_pem(struct tls_trust **out, const char *text, size_t len)
{
	struct tls_trust *t = calloc(1, sizeof(*t));
	uint8_t *der = malloc(X509_CERT_DER_MAX);
	size_t pos = 0, der_len;
	char label[X509_PEM_LABEL_MAX + 1];
	int r;
	*out = NULL;
	if (!t || !der || !(t->tas = calloc(TLS_TRUST_MAX, sizeof(*t->tas)))) {
		free(der);
		tls_trust_free(t);
		return err_set("out of memory");
	}
	while ((r = x509_pem_next(text, len, &pos, label, der, X509_CERT_DER_MAX, &der_len)) == 1) {
		if (strcmp(label, "CERTIFICATE") != 0)
			continue;
		if (t->n == TLS_TRUST_MAX) {
			r = err_set("more than %d certificates", TLS_TRUST_MAX);
			break;
		}
		if ((r = trust_add(t, der, der_len)) < 0)
			break;
	}
	free(der);
	if (r == 0 && t->n == 0)
		r = err_set("no CERTIFICATE found");
	if (r < 0) {
		tls_trust_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

int tls_trust_load(struct tls_trust **out, const char *path)
{
	/* CA files are often symlinks (/etc/ssl/certs): follow them, unlike key files. */
	struct stat st;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set_errno("CA file %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TRUST_FILE_MAX) {
		close(fd);
		return err_set("CA file %s: not a regular file of at most %d bytes", path,
			       TRUST_FILE_MAX);
	}
	char *text = malloc((size_t)st.st_size + 1);
	ssize_t n = text ? io_read_full(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0) {
		free(text);
		return text ? err_prefix("CA file %s", path) : err_set("out of memory");
	}
	int r = tls_trust_from_pem(out, text, (size_t)n);
	free(text);
	if (r < 0)
		err_prefix("CA file %s", path);
	return r;
}

/* ---- The pinning X.509 engine ------------------------------------------------
 * Accepts exactly one certificate: the first of the peer's chain must be
 * byte for byte the pinned DER; its key then authenticates the handshake. */

struct pin_engine {
	const br_x509_class *vtable;
	const uint8_t *pin;
	size_t pin_len, pos;
	unsigned certs;
	int mismatch;
	int *failed; /* set when the peer's certificate is not the pinned one */
	br_x509_decoder_context dec;
};

static void pin_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct pin_engine *p = (struct pin_engine *)ctx;
	p->pos = 0;
	p->certs = 0;
	p->mismatch = 0;
	br_x509_decoder_init(&p->dec, NULL, NULL);
}

static void pin_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct pin_engine *p = (struct pin_engine *)ctx;
	if (++p->certs == 1 && length != p->pin_len)
		p->mismatch = 1;
}

static void pin_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct pin_engine *p = (struct pin_engine *)ctx;
	if (p->certs != 1)
		return; /* only the end-entity certificate matters */
	if (!p->mismatch && (len > p->pin_len - p->pos || memcmp(p->pin + p->pos, buf, len) != 0))
		p->mismatch = 1;
	if (p->mismatch)
		return; /* refused at the end; never feed the decoder a stranger's bytes */
	p->pos += len;
	/* BearSSL's decoder must not be pushed after its program ended (it would
	 * run from a NULL instruction pointer); the pinned DER is one whole
	 * certificate, so this only guards against surprises. */
	if (p->dec.cpu.ip != NULL)
		br_x509_decoder_push(&p->dec, buf, len);
}

static void pin_end_cert(const br_x509_class **ctx)
{
}

static unsigned pin_end_chain(const br_x509_class **ctx)
{
	struct pin_engine *p = (struct pin_engine *)ctx;
	if (p->certs == 0)
		return BR_ERR_X509_EMPTY_CHAIN;
	if (p->mismatch || p->pos != p->pin_len) {
		*p->failed = 1;
		return BR_ERR_X509_NOT_TRUSTED;
	}
	if (!br_x509_decoder_get_pkey(&p->dec)) {
		int e = br_x509_decoder_last_error(&p->dec);
		return e ? (unsigned)e : BR_ERR_X509_TRUNCATED;
	}
	return BR_ERR_OK;
}

static const br_x509_pkey *pin_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct pin_engine *p = (struct pin_engine *)(uintptr_t)ctx;
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&p->dec);
}

static const br_x509_class pin_vtable = {
	sizeof(struct pin_engine),
	pin_start_chain,
	pin_start_cert,
	pin_append,
	pin_end_cert,
	pin_end_chain,
	pin_get_pkey,
};

/* ---- Connections ---------------------------------------------------------------- */

struct conn {
	union {
		br_ssl_client_context client;
		br_ssl_server_context server;
	} ssl;
	br_ssl_engine_context *eng;
	union {
		br_x509_minimal_context minimal;
		struct pin_engine pin;
	} x509;
	br_skey_decoder_context skey; /* our own private key, decoded */
	br_x509_certificate chain;
	br_x500_name pin_name; /* the DN a server asks client certificates for */
	br_sslio_context io;
	int fd;
	int ready;	/* handshake done */
	int peer_eof;	/* the socket read returned end of file */
	int io_errno;	/* errno of the last failed socket read or write */
	int pin_failed; /* the peer's certificate was not the pinned one */
	int got_close;	/* the peer's close_notify arrived */
	unsigned char buf[BR_SSL_BUFSIZE_BIDI];
};

_Static_assert(sizeof(struct conn) <= TLS_CONN_SIZE, "TLS_CONN_SIZE too small for struct conn");
_Static_assert(_Alignof(struct conn) <= 16, "struct conn needs more alignment than tls_conn has");

static struct conn *conn_of(struct tls_conn *tc)
{
	return (struct conn *)(void *)tc->opaque;
}

static int low_read(void *ctx, unsigned char *buf, size_t len)
{
	struct conn *c = ctx;
	for (;;) {
		ssize_t r = read(c->fd, buf, len);
		if (r > 0)
			return (int)r;
		if (r == 0) {
			c->peer_eof = 1;
			return -1;
		}
		if (errno != EINTR) {
			c->io_errno = errno;
			return -1;
		}
	}
}

static int low_write(void *ctx, const unsigned char *buf, size_t len)
{
	struct conn *c = ctx;
	for (;;) {
		ssize_t w = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = write(c->fd, buf, len);
		if (w > 0)
			return (int)w;
		if (w < 0 && errno == EINTR)
			continue;
		c->io_errno = w < 0 ? errno : EIO;
		return -1;
	}
}

static const char *alert_name(int a)
{
	switch (a) {
	case 0:
		return "close_notify";
	case 10:
		return "unexpected_message";
	case 20:
		return "bad_record_mac";
	case 22:
		return "record_overflow";
	case 40:
		return "handshake_failure";
	case 42:
		return "bad_certificate";
	case 43:
		return "unsupported_certificate";
	case 44:
		return "certificate_revoked";
	case 45:
		return "certificate_expired";
	case 46:
		return "certificate_unknown";
	case 47:
		return "illegal_parameter";
	case 48:
		return "unknown_ca";
	case 49:
		return "access_denied";
	case 50:
		return "decode_error";
	case 51:
		return "decrypt_error";
	case 70:
		return "protocol_version";
	case 71:
		return "insufficient_security";
	case 80:
		return "internal_error";
	case 86:
		return "inappropriate_fallback";
	case 90:
		return "user_canceled";
	case 100:
		return "no_renegotiation";
	case 109:
		return "missing_extension";
	case 110:
		return "unsupported_extension";
	case 112:
		return "unrecognized_name";
	case 116:
		return "certificate_required";
	case 120:
		return "no_application_protocol";
	default:
		return "unknown alert";
	}
}

static const char *error_text(int e)
{
	switch (e) {
	case BR_ERR_BAD_PARAM:
		return "bad parameter";
	case BR_ERR_BAD_STATE:
		return "bad state";
	case BR_ERR_UNSUPPORTED_VERSION:
		return "peer does not support TLS 1.2";
	case BR_ERR_BAD_VERSION:
		return "bad protocol version in a record";
	case BR_ERR_BAD_LENGTH:
		return "bad record length";
	case BR_ERR_TOO_LARGE:
		return "record too large";
	case BR_ERR_BAD_MAC:
		return "bad record MAC (data corrupted or tampered with)";
	case BR_ERR_NO_RANDOM:
		return "no random source";
	case BR_ERR_UNKNOWN_TYPE:
		return "unknown record type";
	case BR_ERR_UNEXPECTED:
		return "unexpected message";
	case BR_ERR_BAD_CCS:
		return "bad ChangeCipherSpec";
	case BR_ERR_BAD_ALERT:
		return "bad alert";
	case BR_ERR_BAD_HANDSHAKE:
		return "bad handshake message";
	case BR_ERR_OVERSIZED_ID:
		return "oversized session id";
	case BR_ERR_BAD_CIPHER_SUITE:
		return "no common cipher suite";
	case BR_ERR_BAD_COMPRESSION:
		return "unsupported compression";
	case BR_ERR_BAD_FRAGLEN:
		return "bad fragment length";
	case BR_ERR_BAD_SECRENEG:
		return "bad secure renegotiation";
	case BR_ERR_EXTRA_EXTENSION:
		return "unexpected extension";
	case BR_ERR_BAD_SNI:
		return "bad server name indication";
	case BR_ERR_BAD_HELLO_DONE:
		return "bad ServerHelloDone";
	case BR_ERR_LIMIT_EXCEEDED:
		return "internal limit exceeded";
	case BR_ERR_BAD_FINISHED:
		return "bad Finished message (keys differ)";
	case BR_ERR_RESUME_MISMATCH:
		return "session resumption mismatch";
	case BR_ERR_INVALID_ALGORITHM:
		return "unsupported algorithm";
	case BR_ERR_BAD_SIGNATURE:
		return "bad handshake signature (peer does not hold the key)";
	case BR_ERR_WRONG_KEY_USAGE:
		return "key usage does not allow this";
	case BR_ERR_NO_CLIENT_AUTH:
		return "client sent no certificate";
	case BR_ERR_IO:
		return "I/O error";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "peer sent no certificate";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate signature does not verify";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "current time unknown";
	case BR_ERR_X509_EXPIRED:
		return "certificate expired or not yet valid";
	case BR_ERR_X509_DN_MISMATCH:
		return "certificate chain names do not match";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "certificate is not for this server name";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "certificate has an unknown critical extension";
	case BR_ERR_X509_NOT_CA:
		return "issuer is not a CA";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "certificate key usage forbids this";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate key too weak";
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate not trusted (no matching CA)";
	case BR_ERR_X509_UNSUPPORTED:
		return "certificate uses an unsupported algorithm";
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "certificate key type does not match";
	case BR_ERR_X509_LIMIT_EXCEEDED:
		return "certificate chain too long";
	default:
		if (e >= BR_ERR_X509_INVALID_VALUE && e <= BR_ERR_X509_BAD_TIME)
			return "malformed certificate";
		return NULL;
	}
}

/*
 * After our write failed during the handshake (the peer hung up), the peer
 * may have said why first: a fatal alert, still plaintext at that stage,
 * waiting unread in the socket. Returns its code, or -1.
 */
static int unread_alert(struct conn *c)
{
	uint8_t rec[7];
	ssize_t n = recv(c->fd, rec, sizeof(rec), MSG_DONTWAIT | MSG_PEEK);
	if (n == (ssize_t)sizeof(rec) && rec[0] == 21 && rec[1] == 3 && rec[3] == 0 &&
	    rec[4] == 2 && rec[5] == 2)
		return rec[6];
	return -1;
}

/* Records why the connection failed, as "WHAT: reason", and returns -1. */
static int conn_fail(struct conn *c, const char *what)
{
	int e = br_ssl_engine_last_error(c->eng);
	int alert = -1;
	if (!c->ready && (c->io_errno == EPIPE || c->io_errno == ECONNRESET))
		alert = unread_alert(c);
	if (alert >= 0)
		return err_set("%s: peer sent fatal alert %d (%s)", what, alert, alert_name(alert));
	if (c->pin_failed)
		return err_set("%s: peer certificate is not the pinned certificate", what);
	if (c->io_errno == EAGAIN || c->io_errno == EWOULDBLOCK)
		return err_set("%s: timed out", what);
	if (c->io_errno) {
		errno = c->io_errno;
		return err_set_errno("%s", what);
	}
	if (c->peer_eof && (e == BR_ERR_IO || e == BR_ERR_OK))
		return err_set("%s: connection closed by peer%s", what,
			       c->ready ? " without TLS close_notify (truncated)" : "");
	if (e >= BR_ERR_SEND_FATAL_ALERT)
		return err_set("%s: sent fatal alert %d (%s)", what, e - BR_ERR_SEND_FATAL_ALERT,
			       alert_name(e - BR_ERR_SEND_FATAL_ALERT));
	if (e >= BR_ERR_RECV_FATAL_ALERT)
		return err_set("%s: peer sent fatal alert %d (%s)", what,
			       e - BR_ERR_RECV_FATAL_ALERT,
			       alert_name(e - BR_ERR_RECV_FATAL_ALERT));
	if (e == BR_ERR_OK)
		return err_set("%s: TLS session closed", what);
	const char *t = error_text(e);
	if (t)
		return err_set("%s: %s", what, t);
	return err_set("%s: BearSSL error %d", what, e);
}

/* Suites: AES-GCM first where the CPU has AES-NI and PCLMUL, else ChaCha20 first. */
static const uint16_t suites_aes_first[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};
static const uint16_t suites_chacha_first[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};
#define SUITE_COUNT (sizeof(suites_aes_first) / sizeof(suites_aes_first[0]))

struct suite_name {
	uint16_t id;
	const char *name;
};
static const struct suite_name suite_names[] = {
	{BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256"},
	{BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256"},
	{BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384"},
	{BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384"},
	{BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305"},
	{BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305"},
};

/* Hashes for handshake signatures and certificate checks (no MD5). */
static const struct {
	int id;
	const br_hash_class *impl;
} hashes[] = {
	{br_sha1_ID, &br_sha1_vtable},	   {br_sha224_ID, &br_sha224_vtable},
	{br_sha256_ID, &br_sha256_vtable}, {br_sha384_ID, &br_sha384_vtable},
	{br_sha512_ID, &br_sha512_vtable},
};

/*
 * Elliptic curves: BearSSL's default (br_ec_all_m31) adds a P-256 special
 * case (br_ec_p256_m31, 7.7 KiB) to the generic NIST code (br_ec_prime_i31)
 * that it would otherwise use; it is about twice as fast per operation
 * (0.6 ms against 1.2 ms here), a few milliseconds a handshake. ferry uses
 * the generic code for every NIST curve (here and in sshkey.c, x509.c) and
 * br_ec_c25519_m31 for X25519, dispatched as br_ec_all_m31 does.
 */
static const br_ec_impl *ec_for(int curve)
{
	return curve == BR_EC_curve25519 ? &br_ec_c25519_m31 : &br_ec_prime_i31;
}

static const unsigned char *ec_generator(int curve, size_t *len)
{
	return ec_for(curve)->generator(curve, len);
}

static const unsigned char *ec_order(int curve, size_t *len)
{
	return ec_for(curve)->order(curve, len);
}

static size_t ec_xoff(int curve, size_t *len)
{
	return ec_for(curve)->xoff(curve, len);
}

static uint32_t ec_mul(unsigned char *g, size_t glen, const unsigned char *k, size_t klen,
		       int curve)
{
	return ec_for(curve)->mul(g, glen, k, klen, curve);
}

static size_t ec_mulgen(unsigned char *r, const unsigned char *x, size_t xlen, int curve)
{
	return ec_for(curve)->mulgen(r, x, xlen, curve);
}

static uint32_t ec_muladd(unsigned char *a, const unsigned char *b, size_t len,
			  const unsigned char *x, size_t xlen, const unsigned char *y, size_t ylen,
			  int curve)
{
	return ec_for(curve)->muladd(a, b, len, x, xlen, y, ylen, curve);
}

static const br_ec_impl ec_all = {
	(1u << BR_EC_secp256r1) | (1u << BR_EC_secp384r1) | (1u << BR_EC_secp521r1) |
		(1u << BR_EC_curve25519),
	ec_generator,
	ec_order,
	ec_xoff,
	ec_mul,
	ec_mulgen,
	ec_muladd,
};

/*
 * ChaCha20-Poly1305 as br_ssl_engine_set_default_chapol chooses it. On
 * x86-64 that is always the SSE2 ChaCha20 and the 64-bit-multiply
 * Poly1305 (both are part of the ABI there: their _get functions return
 * them unconditionally), so naming them directly leaves out the portable
 * fallbacks that could never run (2 KiB). AES-GCM keeps its fallback: a
 * CPU may lack AES-NI.
 */
static void chapol_setup(br_ssl_engine_context *eng)
{
#if defined(__x86_64__)
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable, &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, br_chacha20_sse2_get());
	br_ssl_engine_set_poly1305(eng, br_poly1305_ctmulq_get());
#else
	br_ssl_engine_set_default_chapol(eng);
#endif
}

/* The parts of the profile both sides share. */
static void engine_setup(struct conn *c)
{
	br_ssl_engine_context *eng = c->eng;
	int aes_hw = br_aes_x86ni_ctr_get_vtable() != NULL && br_ghash_pclmul_get() != 0;
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, aes_hw ? suites_aes_first : suites_chacha_first, SUITE_COUNT);
	br_ssl_engine_set_ec(eng, &ec_all);
	br_ssl_engine_set_rsavrfy(eng, br_rsa_pkcs1_vrfy_get_default());
	br_ssl_engine_set_ecdsa(eng, br_ecdsa_vrfy_asn1_get_default());
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		br_ssl_engine_set_hash(eng, hashes[i].id, hashes[i].impl);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	chapol_setup(eng);
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffer(eng, c->buf, sizeof(c->buf), 1);
}

/* Sets up the X.509 engine that checks the peer: pinned or by trust anchors. */
static int peer_check_setup(struct conn *c, const struct tls_config *cfg)
{
	if (cfg->pin) {
		struct x509_cert_info info;
		if (x509_cert_parse(cfg->pin, cfg->pin_len, &info) < 0 ||
		    x509_cert_check_time(&info, (int64_t)time(NULL)) < 0)
			return err_prefix("pinned peer certificate");
		struct pin_engine *p = &c->x509.pin;
		p->vtable = &pin_vtable;
		p->pin = cfg->pin;
		p->pin_len = cfg->pin_len;
		p->failed = &c->pin_failed;
		c->pin_name.data = (unsigned char *)(uintptr_t)(cfg->pin + info.subject_off);
		c->pin_name.len = info.subject_len;
		br_ssl_engine_set_x509(c->eng, &p->vtable);
		return 0;
	}
	const struct tls_trust *t = cfg->trust;
	br_x509_minimal_context *xc = &c->x509.minimal;
	br_x509_minimal_init(xc, &br_sha256_vtable, t->tas, t->n);
	br_x509_minimal_set_rsa(xc, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(xc, &br_ec_prime_i31, br_ecdsa_vrfy_asn1_get_default());
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		br_x509_minimal_set_hash(xc, hashes[i].id, hashes[i].impl);
	br_ssl_engine_set_x509(c->eng, &xc->vtable);
	return 0;
}

/* Decodes our own key and checks that our certificate carries it. */
static int own_key_setup(struct conn *c, const struct tls_config *cfg)
{
	const struct x509_identity *id = cfg->self;
	int m = x509_cert_matches_key(id->cert, id->cert_len, &id->key);
	if (m < 0)
		return err_prefix("own certificate");
	if (m == 0)
		return err_set("own certificate does not match the private key");
	br_skey_decoder_init(&c->skey);
	br_skey_decoder_push(&c->skey, id->key.der, id->key.der_len);
	if (br_skey_decoder_last_error(&c->skey) != 0)
		return err_set("own private key cannot be decoded");
	c->chain.data = (unsigned char *)(uintptr_t)id->cert;
	c->chain.data_len = id->cert_len;
	return 0;
}

static int conn_start(struct conn *c, int fd)
{
	uint8_t seed[32];
	c->fd = fd;
	if (rand_bytes(seed, sizeof(seed)) < 0)
		return -1;
	br_ssl_engine_inject_entropy(c->eng, seed, sizeof(seed));
	explicit_bzero(seed, sizeof(seed));
	br_sslio_init(&c->io, c->eng, low_read, c, low_write, c);
	return 0;
}

/*
 * BearSSL ends a handshake without an alert when the peer's certificate is
 * refused, which would leave the peer waiting for its timeout. Certificates
 * are checked before our side starts encrypting, so a plaintext fatal alert
 * is still valid then: send one, and the peer learns why at once.
 */
static void send_refusal_alert(struct conn *c)
{
	int e = br_ssl_engine_last_error(c->eng);
	uint8_t alert;
	if (c->pin_failed || e == BR_ERR_X509_NOT_TRUSTED)
		alert = e == BR_ERR_X509_NOT_TRUSTED && !c->pin_failed ? 48 : 42; /* unknown_ca */
	else if (e == BR_ERR_X509_EXPIRED)
		alert = 45; /* certificate_expired */
	else if (e == BR_ERR_NO_CLIENT_AUTH || e == BR_ERR_X509_EMPTY_CHAIN)
		alert = 40; /* handshake_failure */
	else if (e >= BR_ERR_X509_INVALID_VALUE && e <= BR_ERR_X509_NOT_TRUSTED)
		alert = 42; /* bad_certificate */
	else
		return;
	const uint8_t rec[] = {21, 3, 3, 0, 2, 2, alert}; /* fatal alert record, TLS 1.2 */
	int io_errno = c->io_errno;
	low_write(c, rec, sizeof(rec));
	c->io_errno = io_errno;
}

static int handshake(struct conn *c, const char *what)
{
	if (br_sslio_flush(&c->io) < 0) {
		if (!c->peer_eof && !c->io_errno)
			send_refusal_alert(c);
		return conn_fail(c, what);
	}
	c->ready = 1;
	return 0;
}

int tls_client_connect(struct tls_conn *tc, int fd, const struct tls_config *cfg)
{
	struct conn *c = conn_of(tc);
	memset(c, 0, sizeof(*c));
	c->eng = &c->ssl.client.eng;
	if (!cfg->pin && !cfg->trust)
		return err_set("TLS client: no way to check the server (give a CA file or a pinned "
			       "certificate)");
	br_ssl_client_zero(&c->ssl.client);
	engine_setup(c);
	if (peer_check_setup(c, cfg) < 0)
		return -1;
	if (cfg->self) {
		if (own_key_setup(c, cfg) < 0)
			return -1;
		if (br_skey_decoder_key_type(&c->skey) == BR_KEYTYPE_EC)
			br_ssl_client_set_single_ec(
				&c->ssl.client, &c->chain, 1, br_skey_decoder_get_ec(&c->skey),
				BR_KEYTYPE_SIGN, BR_KEYTYPE_EC, &br_ec_prime_i31,
				br_ecdsa_sign_asn1_get_default());
		else
			br_ssl_client_set_single_rsa(&c->ssl.client, &c->chain, 1,
						     br_skey_decoder_get_rsa(&c->skey),
						     br_rsa_pkcs1_sign_get_default());
	}
	if (conn_start(c, fd) < 0)
		return -1;
	const char *name = cfg->pin ? NULL : cfg->server_name;
	if (!br_ssl_client_reset(&c->ssl.client, name, 0))
		return conn_fail(c, "TLS client setup");
	return handshake(c, "TLS handshake");
}

int tls_server_accept(struct tls_conn *tc, int fd, const struct tls_config *cfg)
{
	struct conn *c = conn_of(tc);
	memset(c, 0, sizeof(*c));
	c->eng = &c->ssl.server.eng;
	if (!cfg->self)
		return err_set("TLS server: no key and certificate");
	if (cfg->require_client_cert && !cfg->pin && !cfg->trust)
		return err_set("TLS server: client certificates required but nothing to check "
			       "them against");
	br_ssl_server_zero(&c->ssl.server);
	engine_setup(c);
	br_ssl_engine_add_flags(c->eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
	if (own_key_setup(c, cfg) < 0)
		return -1;
	if (br_skey_decoder_key_type(&c->skey) == BR_KEYTYPE_EC)
		br_ssl_server_set_single_ec(&c->ssl.server, &c->chain, 1,
					    br_skey_decoder_get_ec(&c->skey), BR_KEYTYPE_SIGN,
					    BR_KEYTYPE_EC, &br_ec_prime_i31,
					    br_ecdsa_sign_asn1_get_default());
	else
		br_ssl_server_set_single_rsa(&c->ssl.server, &c->chain, 1,
					     br_skey_decoder_get_rsa(&c->skey), BR_KEYTYPE_SIGN,
					     br_rsa_private_get_default(),
					     br_rsa_pkcs1_sign_get_default());
	if (cfg->pin || cfg->require_client_cert) {
		if (peer_check_setup(c, cfg) < 0)
			return -1;
		/* Listing names in the CertificateRequest is what makes BearSSL ask. */
		if (cfg->pin)
			br_ssl_server_set_trust_anchor_names(&c->ssl.server, &c->pin_name, 1);
		else
			br_ssl_server_set_trust_anchor_names_alt(&c->ssl.server, cfg->trust->tas,
								 cfg->trust->n);
	}
	if (conn_start(c, fd) < 0)
		return -1;
	if (!br_ssl_server_reset(&c->ssl.server))
		return conn_fail(c, "TLS server setup");
	return handshake(c, "TLS handshake");
}

ssize_t tls_read(struct tls_conn *tc, void *buf, size_t n)
{
	struct conn *c = conn_of(tc);
	if (n == 0)
		return 0;
	if (c->got_close)
		return 0;
	int r = br_sslio_read(&c->io, buf, n > INT_MAX ? INT_MAX : n);
	if (r > 0)
		return r;
	/* Every failure sets an engine error; a close_notify leaves none (even when
	   our answering close_notify could not be sent to a peer already gone). */
	if (br_ssl_engine_last_error(c->eng) == BR_ERR_OK) {
		c->got_close = 1;
		return 0;
	}
	return conn_fail(c, "TLS read");
}

int tls_write(struct tls_conn *tc, const void *buf, size_t n)
{
	struct conn *c = conn_of(tc);
	if (br_sslio_write_all(&c->io, buf, n) < 0 || br_sslio_flush(&c->io) < 0)
		return conn_fail(c, "TLS write");
	return 0;
}

int tls_close(struct tls_conn *tc)
{
	struct conn *c = conn_of(tc);
	br_ssl_engine_context *eng = c->eng;
	if (!c->ready)
		return err_set("TLS close: no session");
	br_ssl_engine_close(eng);
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		size_t len;
		if (st == BR_SSL_CLOSED)
			break;
		if (st & BR_SSL_SENDREC) {
			unsigned char *p = br_ssl_engine_sendrec_buf(eng, &len);
			int w = low_write(c, p, len);
			if (w < 0) {
				if (c->got_close)
					return 0; /* the peer finished first and has gone */
				return conn_fail(c, "TLS close");
			}
			br_ssl_engine_sendrec_ack(eng, (size_t)w);
			continue;
		}
		if (st & BR_SSL_RECVAPP) { /* discard what still arrives */
			br_ssl_engine_recvapp_buf(eng, &len);
			br_ssl_engine_recvapp_ack(eng, len);
			continue;
		}
		if (st & BR_SSL_RECVREC) {
			unsigned char *p = br_ssl_engine_recvrec_buf(eng, &len);
			int r = low_read(c, p, len);
			if (r < 0) {
				/* Our close_notify went out; a peer that just hangs up is fine. */
				if (c->peer_eof)
					return 0;
				return conn_fail(c, "TLS close");
			}
			br_ssl_engine_recvrec_ack(eng, (size_t)r);
			continue;
		}
		break;
	}
	int e = br_ssl_engine_last_error(eng);
	if (e != BR_ERR_OK && !(e == BR_ERR_IO && c->peer_eof))
		return conn_fail(c, "TLS close");
	return 0;
}

void tls_wipe(struct tls_conn *tc)
{
	explicit_bzero(tc->opaque, sizeof(tc->opaque));
}

static ssize_t chan_read(void *ctx, void *buf, size_t n)
{
	return tls_read(ctx, buf, n);
}

static ssize_t chan_write(void *ctx, const void *buf, size_t n)
{
	if (tls_write(ctx, buf, n) < 0)
		return -1;
	return n ? (ssize_t)n : 0;
}

void tls_chan(struct tls_conn *c, struct io_chan *ch)
{
	ch->ctx = c;
	ch->read = chan_read;
	ch->write = chan_write;
}

const char *tls_cipher_name(struct tls_conn *tc)
{
	struct conn *c = conn_of(tc);
	br_ssl_session_parameters sp;
	br_ssl_engine_get_session_parameters(c->eng, &sp);
	for (size_t i = 0; i < sizeof(suite_names) / sizeof(suite_names[0]); i++)
		if (suite_names[i].id == sp.cipher_suite)
			return suite_names[i].name;
	return "unknown";
}
