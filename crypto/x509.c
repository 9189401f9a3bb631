/* X.509 with BearSSL keys: a small DER writer and reader, self-signed certificates, PEM, key files. */
#include "crypto/x509.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/codec.h"
#include "core/cursor.h"
#include "core/err.h"
#include "core/file.h"
#include "core/utc.h"
#include "crypto/rand.h"

/* Longest key file x509_key_load reads. */
#define KEY_FILE_MAX (64 * 1024)
/* Largest RSA modulus handled (bytes): 4096 bits, BearSSL's limit. */
#define RSA_N_MAX    512
#define RSA_BITS_MIN 2048
#define RSA_BITS_MAX 4096

/* ---- DER writer ------------------------------------------------------------
 * Elements are written front to back into a caller's buffer. A constructed
 * element reserves three length bytes when opened and is compacted when
 * closed, so nothing is sized twice. Overflow marks the writer failed. */

struct der_w {
	uint8_t *p;
	size_t cap, len;
	int failed;
};

#define DER_OPEN_RESERVE 3 /* 0x82 + two bytes: elements up to 65535 bytes */

static void der_put(struct der_w *w, const void *data, size_t n)
{
	if (w->failed || n > w->cap - w->len) {
		w->failed = 1;
		return;
	}
	if (n)
		memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void der_byte(struct der_w *w, uint8_t b)
{
	der_put(w, &b, 1);
}

/* Writes TAG and a placeholder length; returns where the element starts. */
static size_t der_open(struct der_w *w, uint8_t tag)
{
	size_t start = w->len;
	uint8_t hdr[1 + DER_OPEN_RESERVE] = {tag, 0x82, 0, 0};
	der_put(w, hdr, sizeof(hdr));
	return start;
}

static void der_close(struct der_w *w, size_t start)
{
	if (w->failed)
		return;
	size_t body = start + 1 + DER_OPEN_RESERVE;
	size_t n = w->len - body;
	uint8_t len[DER_OPEN_RESERVE];
	size_t ll;
	if (n < 0x80) {
		len[0] = (uint8_t)n;
		ll = 1;
	} else if (n < 0x100) {
		len[0] = 0x81;
		len[1] = (uint8_t)n;
		ll = 2;
	} else if (n < 0x10000) {
		len[0] = 0x82;
		len[1] = (uint8_t)(n >> 8);
		len[2] = (uint8_t)n;
		ll = 3;
	} else {
		w->failed = 1;
		return;
	}
	memmove(w->p + start + 1 + ll, w->p + body, n);
	memcpy(w->p + start + 1, len, ll);
	w->len = start + 1 + ll + n;
}

/* A primitive element with contents DATA[0..N). */
static void der_prim(struct der_w *w, uint8_t tag, const void *data, size_t n)
{
	size_t s = der_open(w, tag);
	der_put(w, data, n);
	der_close(w, s);
}

/* An INTEGER from an unsigned big-endian magnitude (leading zeros dropped, 0x00 added if needed). */
static void der_uint(struct der_w *w, const uint8_t *mag, size_t n)
{
	while (n > 1 && mag[0] == 0) {
		mag++;
		n--;
	}
	size_t s = der_open(w, 0x02);
	if (n == 0 || mag[0] & 0x80)
		der_byte(w, 0);
	der_put(w, mag, n);
	der_close(w, s);
}

/* ---- Object identifiers (DER contents) ----------------------------------- */

static const uint8_t oid_ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_p521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};
static const uint8_t oid_rsa_encryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t oid_rsa_sha256[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
static const uint8_t oid_cn[] = {0x55, 0x04, 0x03};
static const uint8_t oid_basic_constraints[] = {0x55, 0x1d, 0x13};
static const uint8_t oid_key_usage[] = {0x55, 0x1d, 0x0f};
static const uint8_t oid_ski[] = {0x55, 0x1d, 0x0e};
static const uint8_t oid_aki[] = {0x55, 0x1d, 0x23};
static const uint8_t oid_san[] = {0x55, 0x1d, 0x11};

struct curve_oid {
	int curve;
	unsigned bits;
	const uint8_t *oid;
	size_t len;
};
static const struct curve_oid curves[] = {
	{BR_EC_secp256r1, 256, oid_p256, sizeof(oid_p256)},
	{BR_EC_secp384r1, 384, oid_p384, sizeof(oid_p384)},
	{BR_EC_secp521r1, 521, oid_p521, sizeof(oid_p521)},
};

static const struct curve_oid *curve_by_id(int curve)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].curve == curve)
			return &curves[i];
	return NULL;
}

static int oid_is(const uint8_t *p, size_t n, const uint8_t *oid, size_t oid_len)
{
	return n == oid_len && memcmp(p, oid, n) == 0;
}

/* Earliest and latest times a certificate may carry (years 1 to 9999). */
#define TIME_MIN (-62135596800LL)
#define TIME_MAX (253402300799LL)

/* UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
static void der_time(struct der_w *w, int64_t t)
{
	struct utc_tm c;
	char s[20];
	utc_from_unix(t, &c);
	int n;
	if (c.year >= 1950 && c.year < 2050)
		n = snprintf(s, sizeof(s), "%02u%02u%02u%02u%02u%02uZ", (unsigned)(c.year % 100),
			     c.mon, c.day, c.hour, c.min, c.sec);
	else
		n = snprintf(s, sizeof(s), "%04u%02u%02u%02u%02u%02uZ", (unsigned)c.year, c.mon,
			     c.day, c.hour, c.min, c.sec);
	if (n < 0 || (size_t)n >= sizeof(s)) {
		w->failed = 1;
		return;
	}
	der_prim(w, c.year >= 1950 && c.year < 2050 ? 0x17 : 0x18, s, (size_t)n);
}

/* UTC "YYYY-MM-DD HH:MM:SS"; "?" for times beyond what fits (never for certificate times). */
static void time_text(char out[32], int64_t t)
{
	if (utc_format(out, 32, t, UTC_TEXT) < 0)
		snprintf(out, 32, "?");
}

/* ---- DER reader ---------------------------------------------------------- */

/* One DER element: its tag, contents and whole encoding. */
struct tlv {
	uint8_t tag;
	const uint8_t *val, *raw;
	size_t len, raw_len;
};

/* Reads the next element (single-byte tag, definite minimal length). 0 or -1. */
static int der_next(struct cursor *c, struct tlv *t)
{
	const uint8_t *start = c->p + c->off;
	uint8_t b;
	if (cur_u8(c, &t->tag) < 0 || (t->tag & 0x1f) == 0x1f || cur_u8(c, &b) < 0)
		return -1;
	size_t len = b;
	if (b & 0x80) {
		size_t nb = b & 0x7f;
		if (nb == 0 || nb > 3) /* indefinite, or larger than 16 MiB */
			return -1;
		len = 0;
		for (size_t i = 0; i < nb; i++) {
			if (cur_u8(c, &b) < 0 || (i == 0 && b == 0))
				return -1;
			len = len << 8 | b;
		}
		if (len < 0x80) /* DER: short form where possible */
			return -1;
	}
	if (cur_ref(c, &t->val, len) < 0)
		return -1;
	t->len = len;
	t->raw = start;
	t->raw_len = (size_t)(t->val + len - start);
	return 0;
}

static int der_expect(struct cursor *c, uint8_t tag, struct tlv *t)
{
	if (der_next(c, t) < 0 || t->tag != tag)
		return -1;
	return 0;
}

/* ---- Keys ------------------------------------------------------------------ */

/* A decoded private key with its public parts, for signing and encoding. */
struct key_ctx {
	br_skey_decoder_context dec;
	int type; /* BR_KEYTYPE_EC or BR_KEYTYPE_RSA */
	const br_ec_private_key *ec;
	const br_rsa_private_key *rsa;
	uint8_t pub[BR_EC_KBUF_PUB_MAX_SIZE]; /* EC point */
	size_t pub_len;
	uint8_t n[RSA_N_MAX], e[4], d[RSA_N_MAX];
	size_t n_len, e_len, d_len; /* d_len 0: compute d when encoding */
	unsigned bits;
};

static void key_ctx_wipe(struct key_ctx *k)
{
	explicit_bzero(k, sizeof(*k));
}

/* Copies an INTEGER's magnitude (leading zeros dropped) into OUT (CAP bytes). 0 or -1. */
static int copy_uint(const struct tlv *t, uint8_t *out, size_t cap, size_t *len)
{
	const uint8_t *p = t->val;
	size_t n = t->len;
	while (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	if (t->tag != 0x02 || n == 0 || n > cap)
		return -1;
	memcpy(out, p, n);
	*len = n;
	return 0;
}

/*
 * Reads n, e and d from an RSAPrivateKey (PKCS#1) or a PrivateKeyInfo
 * (PKCS#8) holding one. BearSSL derives them only for keys whose primes
 * are 3 mod 4 (its own); keys from other tools need the stored values.
 */
static int rsa_public_parts(const uint8_t *der, size_t len, struct key_ctx *k)
{
	struct cursor c, seq;
	struct tlv top, t, n, e, d;
	cur_init(&c, der, len);
	if (der_expect(&c, 0x30, &top) < 0)
		return -1;
	cur_init(&seq, top.val, top.len);
	if (der_expect(&seq, 0x02, &t) < 0 || der_next(&seq, &t) < 0)
		return -1;
	if (t.tag ==
	    0x30) { /* PKCS#8: AlgorithmIdentifier, then the PKCS#1 key in an OCTET STRING */
		if (der_expect(&seq, 0x04, &t) < 0)
			return -1;
		return rsa_public_parts(t.val, t.len, k);
	}
	n = t;
	if (der_next(&seq, &e) < 0 || der_next(&seq, &d) < 0)
		return -1;
	uint8_t eb[8];
	size_t elen;
	if (copy_uint(&n, k->n, sizeof(k->n), &k->n_len) < 0 ||
	    copy_uint(&e, eb, sizeof(eb), &elen) < 0 || elen > 4 ||
	    copy_uint(&d, k->d, sizeof(k->d), &k->d_len) < 0)
		return -1;
	memcpy(k->e, eb, elen);
	k->e_len = elen;
	return 0;
}

/* Decodes a private key DER (SEC1, PKCS#1 or PKCS#8) and computes its public parts. */
static int key_ctx_open(struct key_ctx *k, const uint8_t *der, size_t len)
{
	memset(k, 0, sizeof(*k));
	br_skey_decoder_init(&k->dec);
	br_skey_decoder_push(&k->dec, der, len);
	int e = br_skey_decoder_last_error(&k->dec);
	if (e != 0)
		return err_set("not a valid private key (BearSSL error %d)", e);
	k->type = br_skey_decoder_key_type(&k->dec);
	if (k->type == BR_KEYTYPE_EC) {
		k->ec = br_skey_decoder_get_ec(&k->dec);
		const struct curve_oid *c = curve_by_id(k->ec->curve);
		if (!c)
			return err_set("EC key on an unsupported curve (%d)", k->ec->curve);
		k->bits = c->bits;
		k->pub_len = br_ec_compute_pub(&br_ec_prime_i31, NULL, k->pub, k->ec);
		if (k->pub_len == 0)
			return err_set("EC key: cannot compute the public key");
		return 0;
	}
	if (k->type == BR_KEYTYPE_RSA) {
		k->rsa = br_skey_decoder_get_rsa(&k->dec);
		if (k->rsa->n_bitlen < 1024 || k->rsa->n_bitlen > RSA_BITS_MAX)
			return err_set("RSA key of %u bits is not supported", k->rsa->n_bitlen);
		k->bits = k->rsa->n_bitlen;
		if (rsa_public_parts(der, len, k) < 0)
			return err_set("RSA key: cannot read its public parts");
		uint8_t pq[RSA_N_MAX];
		size_t pq_len = br_rsa_compute_modulus_get_default()(pq, k->rsa);
		if (pq_len != k->n_len || memcmp(pq, k->n, pq_len) != 0)
			return err_set("RSA key: modulus is not the product of its primes");
		return 0;
	}
	return err_set("unsupported private key type");
}

/* Re-encodes the decoded key as SEC1 or PKCS#1 into KEY. */
static int key_store(struct x509_key *key, struct key_ctx *k)
{
	size_t n;
	if (k->type == BR_KEYTYPE_EC) {
		br_ec_public_key pk = {k->ec->curve, k->pub, k->pub_len};
		n = br_encode_ec_raw_der(NULL, k->ec, &pk);
		if (n == 0 || n > sizeof(key->der))
			return err_set("EC key: cannot encode");
		br_encode_ec_raw_der(key->der, k->ec, &pk);
		key->type = X509_KEY_EC;
	} else {
		br_rsa_public_key pk = {k->n, k->n_len, k->e, k->e_len};
		if (k->d_len == 0) {
			uint32_t pe = 0;
			for (size_t i = 0; i < k->e_len; i++)
				pe = pe << 8 | k->e[i];
			k->d_len = br_rsa_compute_privexp_get_default()(k->d, k->rsa, pe);
			if (k->d_len == 0)
				return err_set("RSA key: cannot compute the private exponent");
		}
		n = br_encode_rsa_raw_der(NULL, k->rsa, &pk, k->d, k->d_len);
		if (n == 0 || n > sizeof(key->der))
			return err_set("RSA key: cannot encode");
		br_encode_rsa_raw_der(key->der, k->rsa, &pk, k->d, k->d_len);
		key->type = X509_KEY_RSA;
	}
	key->der_len = n;
	key->bits = k->bits;
	return 0;
}

int x509_key_generate(struct x509_key *key, enum x509_key_type type, unsigned bits)
{
	const br_prng_class **rng = (const br_prng_class **)rand_prng();
	struct key_ctx k;
	int r = -1;
	memset(key, 0, sizeof(*key));
	if (!rng)
		return -1;
	memset(&k, 0, sizeof(k));
	if (type == X509_KEY_EC) {
		if (bits != 256)
			return err_set("EC keys: only P-256 (256 bits) can be generated, not %u",
				       bits);
		br_ec_private_key sk;
		uint8_t kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
		if (br_ec_keygen(rng, &br_ec_prime_i31, &sk, kbuf, BR_EC_secp256r1) == 0) {
			err_set("EC key generation failed");
		} else {
			k.type = BR_KEYTYPE_EC;
			k.ec = &sk;
			k.bits = 256;
			k.pub_len = br_ec_compute_pub(&br_ec_prime_i31, NULL, k.pub, &sk);
			r = k.pub_len ? key_store(key, &k) : err_set("EC key: no public key");
		}
		explicit_bzero(kbuf, sizeof(kbuf));
		explicit_bzero(&sk, sizeof(sk));
	} else if (type == X509_KEY_RSA) {
		if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX || bits % 8)
			return err_set("RSA keys: %u bits is not in %d..%d (multiple of 8)", bits,
				       RSA_BITS_MIN, RSA_BITS_MAX);
		br_rsa_private_key sk;
		br_rsa_public_key pk;
		uint8_t kpriv[BR_RSA_KBUF_PRIV_SIZE(RSA_BITS_MAX)];
		uint8_t kpub[BR_RSA_KBUF_PUB_SIZE(RSA_BITS_MAX)];
		if (!br_rsa_keygen_get_default()(rng, &sk, kpriv, &pk, kpub, bits, 65537)) {
			err_set("RSA key generation failed");
		} else {
			k.type = BR_KEYTYPE_RSA;
			k.rsa = &sk;
			k.bits = bits;
			memcpy(k.n, pk.n, pk.nlen);
			k.n_len = pk.nlen;
			memcpy(k.e, pk.e, pk.elen);
			k.e_len = pk.elen;
			r = key_store(key, &k);
		}
		explicit_bzero(kpriv, sizeof(kpriv));
		explicit_bzero(&sk, sizeof(sk));
	} else {
		return err_set("unknown key type %d", (int)type);
	}
	key_ctx_wipe(&k);
	if (r < 0)
		x509_key_wipe(key);
	return r;
}

void x509_key_wipe(struct x509_key *key)
{
	explicit_bzero(key, sizeof(*key));
}

long x509_key_to_pem(const struct x509_key *key, char *out, size_t cap)
{
	const char *label;
	if (key->type == X509_KEY_EC)
		label = "EC PRIVATE KEY";
	else if (key->type == X509_KEY_RSA)
		label = "RSA PRIVATE KEY";
	else
		return err_set("no key to write");
	return x509_pem_encode(out, cap, label, key->der, key->der_len);
}

int x509_key_from_pem(struct x509_key *key, const char *text, size_t len)
{
	size_t pos = 0;
	char label[X509_PEM_LABEL_MAX + 1];
	uint8_t der[X509_CERT_DER_MAX];
	size_t der_len;
	int r, found = 0;
	memset(key, 0, sizeof(*key));
	while ((r = x509_pem_next(text, len, &pos, label, der, sizeof(der), &der_len)) == 1) {
		if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0) {
			r = err_set("encrypted private keys are not supported");
			break;
		}
		if (strcmp(label, "EC PRIVATE KEY") && strcmp(label, "RSA PRIVATE KEY") &&
		    strcmp(label, "PRIVATE KEY"))
			continue;
		struct key_ctx k;
		found = 1;
		r = key_ctx_open(&k, der, der_len);
		if (r == 0)
			r = key_store(key, &k);
		key_ctx_wipe(&k);
		break;
	}
	explicit_bzero(der, sizeof(der));
	if (r == 0 && found)
		return 0;
	if (r == 0)
		err_set("no private key found (EC PRIVATE KEY, RSA PRIVATE KEY or PRIVATE KEY)");
	x509_key_wipe(key);
	return -1;
}

int x509_key_load(struct x509_key *key, const char *path)
{
	char *text;
	size_t len;
	if (file_read_all(AT_FDCWD, path, KEY_FILE_MAX, &text, &len) < 0)
		return -1;
	int r = x509_key_from_pem(key, text, len);
	explicit_bzero(text, len);
	free(text);
	if (r < 0)
		err_prefix("%s", path);
	return r;
}

int x509_key_save(const struct x509_key *key, const char *path)
{
	char pem[X509_PEM_LEN(X509_KEY_DER_MAX, 15) + 1];
	long n = x509_key_to_pem(key, pem, sizeof(pem));
	int r = n < 0 ? -1 : file_write_atomic_path(path, pem, (size_t)n, 0600);
	explicit_bzero(pem, sizeof(pem));
	return r;
}

/* ---- Certificates: writing ------------------------------------------------- */

/* SubjectPublicKeyInfo of K; *KEYBITS gets where the subjectPublicKey bits start and their length. */
static void der_spki(struct der_w *w, const struct key_ctx *k, size_t *bits_off, size_t *bits_len)
{
	size_t spki = der_open(w, 0x30);
	size_t alg = der_open(w, 0x30);
	if (k->type == BR_KEYTYPE_EC) {
		const struct curve_oid *c = curve_by_id(k->ec->curve);
		der_prim(w, 0x06, oid_ec_public_key, sizeof(oid_ec_public_key));
		der_prim(w, 0x06, c->oid, c->len);
	} else {
		der_prim(w, 0x06, oid_rsa_encryption, sizeof(oid_rsa_encryption));
		der_prim(w, 0x05, NULL, 0);
	}
	der_close(w, alg);
	size_t bs = der_open(w, 0x03);
	der_byte(w, 0); /* no unused bits */
	size_t start = w->len;
	if (k->type == BR_KEYTYPE_EC) {
		der_put(w, k->pub, k->pub_len);
	} else {
		size_t seq = der_open(w, 0x30);
		der_uint(w, k->n, k->n_len);
		der_uint(w, k->e, k->e_len);
		der_close(w, seq);
	}
	*bits_len = w->len - start;
	der_close(w, bs);
	der_close(w, spki);
	*bits_off = w->len - *bits_len; /* the key bits end the SPKI */
}

static void der_name(struct der_w *w, const char *cn)
{
	size_t name = der_open(w, 0x30);
	size_t set = der_open(w, 0x31);
	size_t atv = der_open(w, 0x30);
	der_prim(w, 0x06, oid_cn, sizeof(oid_cn));
	der_prim(w, 0x0c, cn, strlen(cn)); /* UTF8String */
	der_close(w, atv);
	der_close(w, set);
	der_close(w, name);
}

static void der_sig_alg(struct der_w *w, int key_type)
{
	size_t alg = der_open(w, 0x30);
	if (key_type == BR_KEYTYPE_EC) {
		der_prim(w, 0x06, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256));
	} else {
		der_prim(w, 0x06, oid_rsa_sha256, sizeof(oid_rsa_sha256));
		der_prim(w, 0x05, NULL, 0);
	}
	der_close(w, alg);
}

/* Opens one Extension; the caller writes the extnValue contents and calls ext_close. */
static size_t ext_open(struct der_w *w, const uint8_t *oid, size_t oid_len, int critical,
		       size_t *octets)
{
	size_t ext = der_open(w, 0x30);
	der_prim(w, 0x06, oid, oid_len);
	if (critical)
		der_prim(w, 0x01, "\xff", 1);
	*octets = der_open(w, 0x04);
	return ext;
}

static void ext_close(struct der_w *w, size_t ext, size_t octets)
{
	der_close(w, octets);
	der_close(w, ext);
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > X509_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static void der_alt_names(struct der_w *w, const char *const *names)
{
	size_t oct;
	size_t ext = ext_open(w, oid_san, sizeof(oid_san), 0, &oct);
	size_t seq = der_open(w, 0x30);
	for (; *names; names++) {
		uint8_t ip[16];
		if (inet_pton(AF_INET, *names, ip) == 1)
			der_prim(w, 0x87, ip, 4);
		else if (inet_pton(AF_INET6, *names, ip) == 1)
			der_prim(w, 0x87, ip, 16);
		else
			der_prim(w, 0x82, *names, strlen(*names));
	}
	der_close(w, seq);
	ext_close(w, ext, oct);
}

long x509_cert_create(const struct x509_key *key, const struct x509_cert_spec *spec, uint8_t *der,
		      size_t cap)
{
	if (!spec->cn || !name_ok(spec->cn))
		return err_set("certificate common name must be 1..%d printable ASCII characters",
			       X509_NAME_MAX);
	for (const char *const *a = spec->alt_names; a && *a; a++)
		if (!name_ok(*a))
			return err_set("bad certificate alternative name '%s'", *a);
	if (spec->lifetime_seconds == 0)
		return err_set("certificate lifetime must be at least one second");
	int64_t nb = spec->not_before ? spec->not_before : (int64_t)time(NULL);
	int64_t na = nb + spec->lifetime_seconds;
	if (nb < TIME_MIN || na > TIME_MAX)
		return err_set("certificate validity outside the years 1..9999");

	struct key_ctx k;
	uint8_t serial[8];
	if (key_ctx_open(&k, key->der, key->der_len) < 0 ||
	    rand_bytes(serial, sizeof(serial)) < 0) {
		key_ctx_wipe(&k);
		return -1;
	}
	serial[0] = (serial[0] & 0x7f) | 0x40; /* positive, full 8 bytes */

	struct der_w w = {der, cap, 0, 0};
	size_t cert = der_open(&w, 0x30);
	size_t tbs = der_open(&w, 0x30);
	size_t ver = der_open(&w, 0xa0);
	der_prim(&w, 0x02, "\x02", 1); /* v3 */
	der_close(&w, ver);
	der_uint(&w, serial, sizeof(serial));
	der_sig_alg(&w, k.type);
	der_name(&w, spec->cn);
	size_t val = der_open(&w, 0x30);
	der_time(&w, nb);
	der_time(&w, na);
	der_close(&w, val);
	der_name(&w, spec->cn);
	size_t bits_off = 0, bits_len = 0;
	der_spki(&w, &k, &bits_off, &bits_len);
	uint8_t key_id[SHA1_LEN];
	if (!w.failed)
		sha1(key_id, der + bits_off, bits_len);

	size_t exts = der_open(&w, 0xa3);
	size_t seq = der_open(&w, 0x30);
	size_t oct, ext;
	ext = ext_open(&w, oid_basic_constraints, sizeof(oid_basic_constraints), 1, &oct);
	size_t bc = der_open(&w, 0x30);
	der_prim(&w, 0x01, "\xff", 1); /* cA TRUE */
	der_close(&w, bc);
	ext_close(&w, ext, oct);
	ext = ext_open(&w, oid_key_usage, sizeof(oid_key_usage), 1, &oct);
	/* digitalSignature (bit 0), keyEncipherment (bit 2, RSA), keyCertSign (bit 5). */
	der_prim(&w, 0x03, k.type == BR_KEYTYPE_RSA ? "\x02\xa4" : "\x02\x84", 2);
	ext_close(&w, ext, oct);
	ext = ext_open(&w, oid_ski, sizeof(oid_ski), 0, &oct);
	der_prim(&w, 0x04, key_id, sizeof(key_id));
	ext_close(&w, ext, oct);
	ext = ext_open(&w, oid_aki, sizeof(oid_aki), 0, &oct);
	size_t aki = der_open(&w, 0x30);
	der_prim(&w, 0x80, key_id, sizeof(key_id)); /* keyIdentifier [0] */
	der_close(&w, aki);
	ext_close(&w, ext, oct);
	if (spec->alt_names && spec->alt_names[0])
		der_alt_names(&w, spec->alt_names);
	der_close(&w, seq);
	der_close(&w, exts);
	der_close(&w, tbs);

	/* Sign the TBSCertificate as it now lies in the buffer. */
	uint8_t hash[SHA256_LEN], sig[RSA_N_MAX + 16];
	size_t sig_len = 0;
	if (!w.failed) {
		sha256(hash, der + tbs, w.len - tbs);
		if (k.type == BR_KEYTYPE_EC) {
			sig_len = br_ecdsa_sign_asn1_get_default()(
				&br_ec_prime_i31, &br_sha256_vtable, hash, k.ec, sig);
		} else if (br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, sizeof(hash),
							   k.rsa, sig)) {
			sig_len = (k.rsa->n_bitlen + 7) / 8;
		}
	}
	int key_type = k.type;
	key_ctx_wipe(&k);
	if (!w.failed && sig_len == 0)
		return err_set("signing the certificate failed");
	der_sig_alg(&w, key_type);
	size_t bs = der_open(&w, 0x03);
	der_byte(&w, 0);
	der_put(&w, sig, sig_len);
	der_close(&w, bs);
	der_close(&w, cert);
	if (w.failed)
		return err_set("certificate does not fit in %zu bytes", cap);
	return (long)w.len;
}

/* ---- Identities ------------------------------------------------------------ */

int x509_identity_generate(struct x509_identity *id, enum x509_key_type type,
			   const char *const *names, uint32_t lifetime_seconds)
{
	size_t n = 0;
	memset(id, 0, sizeof(*id));
	while (names && names[n])
		n++;
	if (n == 0 || n > X509_NAMES_MAX)
		return err_set("a certificate needs 1 to %d names, not %zu", X509_NAMES_MAX, n);
	struct x509_cert_spec spec = {names[0], names, 0, lifetime_seconds};
	if (x509_key_generate(&id->key, type, type == X509_KEY_RSA ? 2048 : 256) < 0)
		return -1;
	long len = x509_cert_create(&id->key, &spec, id->cert, sizeof(id->cert));
	if (len < 0) {
		x509_identity_wipe(id);
		return -1;
	}
	id->cert_len = (size_t)len;
	return 0;
}

int x509_identity_from_pem(struct x509_identity *id, const char *text, size_t len)
{
	memset(id, 0, sizeof(*id));
	if (x509_key_from_pem(&id->key, text, len) < 0)
		return -1;
	long n = x509_cert_from_pem(text, len, id->cert, sizeof(id->cert));
	if (n < 0) {
		x509_identity_wipe(id);
		return -1;
	}
	id->cert_len = (size_t)n;
	int m = x509_cert_matches_key(id->cert, id->cert_len, &id->key);
	if (m <= 0) {
		if (m == 0)
			err_set("the certificate is not for the private key in the same file");
		x509_identity_wipe(id);
		return -1;
	}
	return 0;
}

int x509_identity_to_pem(const struct x509_identity *id, char **out, size_t *len)
{
	size_t cap = X509_PEM_LEN(X509_KEY_DER_MAX, 15) + X509_PEM_LEN(id->cert_len, 11) + 2;
	char *text = malloc(cap);
	if (!text)
		return err_set("out of memory");
	long k = x509_key_to_pem(&id->key, text, cap);
	long c = k < 0 ? -1
		       : x509_pem_encode(text + k, cap - (size_t)k, "CERTIFICATE", id->cert,
					 id->cert_len);
	if (c < 0) {
		explicit_bzero(text, cap);
		free(text);
		return -1;
	}
	*out = text;
	*len = (size_t)(k + c);
	return 0;
}

void x509_identity_wipe(struct x509_identity *id)
{
	explicit_bzero(id, sizeof(*id));
}

/* ---- Certificates: reading ------------------------------------------------- */

static int two_digits(const uint8_t *p, unsigned *v)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*v = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
	return 0;
}

static int der_parse_time(const struct tlv *t, int64_t *out)
{
	const uint8_t *p = t->val;
	unsigned cc, yy, mon, day, hour, min, sec;
	int64_t year;
	if (t->tag == 0x17 && t->len == 13) {
		if (two_digits(p, &yy) < 0)
			return -1;
		year = yy < 50 ? 2000 + yy : 1900 + yy;
		p += 2;
	} else if (t->tag == 0x18 && t->len == 15) {
		if (two_digits(p, &cc) < 0 || two_digits(p + 2, &yy) < 0)
			return -1;
		year = cc * 100 + yy;
		p += 4;
	} else {
		return -1;
	}
	if (two_digits(p, &mon) < 0 || two_digits(p + 2, &day) < 0 ||
	    two_digits(p + 4, &hour) < 0 || two_digits(p + 6, &min) < 0 ||
	    two_digits(p + 8, &sec) < 0 || p[10] != 'Z')
		return -1;
	if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > utc_days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 59)
		return -1;
	*out = utc_days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	return 0;
}

/* The first CN of a Name, if it is a string type without NUL bytes. */
static int parse_cn(const struct tlv *name, char *cn)
{
	struct cursor rdns;
	cur_init(&rdns, name->val, name->len);
	cn[0] = 0;
	while (cur_left(&rdns)) {
		struct tlv set, atv, oid, value;
		if (der_expect(&rdns, 0x31, &set) < 0)
			return -1;
		struct cursor atvs;
		cur_init(&atvs, set.val, set.len);
		while (cur_left(&atvs)) {
			struct cursor in;
			if (der_expect(&atvs, 0x30, &atv) < 0)
				return -1;
			cur_init(&in, atv.val, atv.len);
			if (der_expect(&in, 0x06, &oid) < 0 || der_next(&in, &value) < 0 ||
			    cur_left(&in))
				return -1;
			if (cn[0] || !oid_is(oid.val, oid.len, oid_cn, sizeof(oid_cn)))
				continue;
			if ((value.tag == 0x0c || value.tag == 0x13 || value.tag == 0x16 ||
			     value.tag == 0x14) &&
			    value.len > 0 && value.len <= X509_CN_MAX &&
			    !memchr(value.val, 0, value.len)) {
				memcpy(cn, value.val, value.len);
				cn[value.len] = 0;
			}
		}
	}
	return 0;
}

static int parse_spki(const struct tlv *spki, struct x509_cert_info *info)
{
	struct cursor c, a;
	struct tlv alg, oid, bits;
	cur_init(&c, spki->val, spki->len);
	if (der_expect(&c, 0x30, &alg) < 0 || der_expect(&c, 0x03, &bits) < 0 || cur_left(&c))
		return -1;
	if (bits.len < 1 || bits.val[0] != 0)
		return -1;
	cur_init(&a, alg.val, alg.len);
	if (der_expect(&a, 0x06, &oid) < 0)
		return -1;
	info->key_type = X509_KEY_NONE;
	info->key_bits = 0;
	if (oid_is(oid.val, oid.len, oid_ec_public_key, sizeof(oid_ec_public_key))) {
		struct tlv curve;
		if (der_expect(&a, 0x06, &curve) < 0 || cur_left(&a))
			return -1;
		info->key_type = X509_KEY_EC;
		for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
			if (oid_is(curve.val, curve.len, curves[i].oid, curves[i].len))
				info->key_bits = curves[i].bits;
	} else if (oid_is(oid.val, oid.len, oid_rsa_encryption, sizeof(oid_rsa_encryption))) {
		struct cursor k, rsa;
		struct tlv seq, n;
		info->key_type = X509_KEY_RSA;
		cur_init(&k, bits.val + 1, bits.len - 1);
		if (der_expect(&k, 0x30, &seq) < 0 || cur_left(&k))
			return -1;
		cur_init(&rsa, seq.val, seq.len);
		if (der_expect(&rsa, 0x02, &n) < 0 || n.len == 0)
			return -1;
		const uint8_t *p = n.val;
		size_t len = n.len;
		while (len > 0 && *p == 0) {
			p++;
			len--;
		}
		if (len) {
			unsigned top = 0;
			for (uint8_t b = p[0]; b; b >>= 1)
				top++;
			info->key_bits = (unsigned)(len - 1) * 8 + top;
		}
	}
	return 0;
}

static int parse_extensions(const struct tlv *a3, struct x509_cert_info *info)
{
	struct cursor c, list;
	struct tlv seq;
	cur_init(&c, a3->val, a3->len);
	if (der_expect(&c, 0x30, &seq) < 0 || cur_left(&c))
		return -1;
	cur_init(&list, seq.val, seq.len);
	while (cur_left(&list)) {
		struct tlv ext, oid, t;
		struct cursor e;
		if (der_expect(&list, 0x30, &ext) < 0)
			return -1;
		cur_init(&e, ext.val, ext.len);
		if (der_expect(&e, 0x06, &oid) < 0 || der_next(&e, &t) < 0)
			return -1;
		if (t.tag == 0x01) { /* critical */
			if (t.len != 1 || der_next(&e, &t) < 0)
				return -1;
		}
		if (t.tag != 0x04 || cur_left(&e))
			return -1;
		if (oid_is(oid.val, oid.len, oid_basic_constraints,
			   sizeof(oid_basic_constraints))) {
			struct cursor v, bcs;
			struct tlv bc, ca;
			cur_init(&v, t.val, t.len);
			if (der_expect(&v, 0x30, &bc) < 0 || cur_left(&v))
				return -1;
			cur_init(&bcs, bc.val, bc.len);
			if (cur_left(&bcs) && bcs.p[bcs.off] == 0x01) {
				if (der_next(&bcs, &ca) < 0 || ca.len != 1)
					return -1;
				info->is_ca = ca.val[0] == 0xff;
			}
		}
	}
	return 0;
}

int x509_cert_parse(const void *der, size_t len, struct x509_cert_info *info)
{
	struct cursor c, body, tbs;
	struct tlv cert, t, sigalg, sig, validity, subject, spki;
	memset(info, 0, sizeof(*info));
	if (len > X509_CERT_DER_MAX)
		return err_set("certificate larger than %d bytes", X509_CERT_DER_MAX);
	cur_init(&c, der, len);
	if (der_expect(&c, 0x30, &cert) < 0 || cur_left(&c))
		goto bad;
	cur_init(&body, cert.val, cert.len);
	if (der_expect(&body, 0x30, &t) < 0 || der_expect(&body, 0x30, &sigalg) < 0 ||
	    der_expect(&body, 0x03, &sig) < 0 || cur_left(&body))
		goto bad;
	cur_init(&tbs, t.val, t.len);
	if (cur_left(&tbs) && tbs.p[tbs.off] == 0xa0 && der_next(&tbs, &t) < 0)
		goto bad; /* version */
	if (der_expect(&tbs, 0x02, &t) < 0 || der_expect(&tbs, 0x30, &t) < 0 ||
	    der_expect(&tbs, 0x30, &t) < 0 || der_expect(&tbs, 0x30, &validity) < 0 ||
	    der_expect(&tbs, 0x30, &subject) < 0 || der_expect(&tbs, 0x30, &spki) < 0)
		goto bad;
	struct cursor v;
	struct tlv nb, na;
	cur_init(&v, validity.val, validity.len);
	if (der_next(&v, &nb) < 0 || der_next(&v, &na) < 0 || cur_left(&v) ||
	    der_parse_time(&nb, &info->not_before) < 0 || der_parse_time(&na, &info->not_after) < 0)
		return err_set("certificate: bad validity times");
	if (parse_cn(&subject, info->cn) < 0)
		return err_set("certificate: bad subject name");
	if (parse_spki(&spki, info) < 0)
		return err_set("certificate: bad public key");
	while (cur_left(&tbs)) {
		if (der_next(&tbs, &t) < 0)
			goto bad;
		if (t.tag == 0xa3 && parse_extensions(&t, info) < 0)
			return err_set("certificate: bad extensions");
		if (t.tag != 0x81 && t.tag != 0x82 && t.tag != 0xa3)
			goto bad;
	}
	info->subject_off = (size_t)(subject.raw - (const uint8_t *)der);
	info->subject_len = subject.raw_len;
	info->spki_off = (size_t)(spki.raw - (const uint8_t *)der);
	info->spki_len = spki.raw_len;
	sha256(info->sha256, der, len);
	sha256(info->spki_sha256, spki.raw, spki.raw_len);
	return 0;
bad:
	return err_set("not a valid DER certificate");
}

int x509_cert_check_time(const struct x509_cert_info *info, int64_t now)
{
	char from[32], to[32];
	time_text(from, info->not_before);
	time_text(to, info->not_after);
	if (now > info->not_after)
		return err_set("Certificate is expired (valid from %s to %s)", from, to);
	if (info->not_before > now + X509_NOT_BEFORE_SLACK_SECONDS)
		return err_set("Certificate not yet valid (valid from %s)", from);
	return 0;
}

int x509_cert_matches_key(const void *der, size_t len, const struct x509_key *key)
{
	struct x509_cert_info info;
	struct key_ctx k;
	uint8_t spki[RSA_N_MAX + 128];
	size_t off, n;
	if (x509_cert_parse(der, len, &info) < 0)
		return -1;
	if (key_ctx_open(&k, key->der, key->der_len) < 0) {
		key_ctx_wipe(&k);
		return -1;
	}
	struct der_w w = {spki, sizeof(spki), 0, 0};
	der_spki(&w, &k, &off, &n);
	key_ctx_wipe(&k);
	if (w.failed)
		return err_set("public key too large");
	return w.len == info.spki_len &&
	       memcmp(spki, (const uint8_t *)der + info.spki_off, w.len) == 0;
}

void x509_fingerprint_text(char out[X509_FINGERPRINT_SIZE], const uint8_t sha[SHA256_LEN])
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < SHA256_LEN; i++) {
		out[3 * i] = digits[sha[i] >> 4];
		out[3 * i + 1] = digits[sha[i] & 15];
		out[3 * i + 2] = i + 1 < SHA256_LEN ? ':' : 0;
	}
}

/* ---- PEM ------------------------------------------------------------------- */

#define PEM_LINE_BYTES 48 /* 64 base64 characters */

long x509_pem_encode(char *out, size_t cap, const char *label, const void *der, size_t len)
{
	const uint8_t *p = der;
	size_t need = X509_PEM_LEN(len, strlen(label)) + 1;
	if (need > cap)
		return err_set("PEM text needs %zu bytes, have %zu", need, cap);
	int h = snprintf(out, cap, "-----BEGIN %s-----\n", label);
	if (h < 0 || (size_t)h >= cap)
		return err_set("PEM label too long");
	size_t o = (size_t)h;
	for (size_t i = 0; i < len; i += PEM_LINE_BYTES) {
		size_t k = len - i < PEM_LINE_BYTES ? len - i : PEM_LINE_BYTES;
		o += base64_encode(out + o, p + i, k);
		out[o++] = '\n';
	}
	int t = snprintf(out + o, cap - o, "-----END %s-----\n", label);
	if (t < 0 || (size_t)t >= cap - o)
		return err_set("PEM text does not fit");
	return (long)(o + (size_t)t);
}

/* One line of TEXT from *POS: [*S, *E) without the line end and trailing blanks. 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, const char **s, size_t *n)
{
	if (*pos >= len)
		return 0;
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t l = nl ? (size_t)(nl - start) : len - *pos;
	*pos += l + (nl ? 1 : 0);
	while (l > 0 && (start[l - 1] == '\r' || start[l - 1] == ' ' || start[l - 1] == '\t'))
		l--;
	*s = start;
	*n = l;
	return 1;
}

static int has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

int x509_pem_next(const char *text, size_t len, size_t *pos, char label[X509_PEM_LABEL_MAX + 1],
		  uint8_t *der, size_t cap, size_t *der_len)
{
	const char *s;
	size_t n;
	for (;;) {
		if (!next_line(text, len, pos, &s, &n))
			return 0;
		if (has_prefix(s, n, "-----BEGIN ") && n >= 16 &&
		    memcmp(s + n - 5, "-----", 5) == 0)
			break;
	}
	size_t ll = n - 16;
	if (ll == 0 || ll > X509_PEM_LABEL_MAX)
		return err_set("PEM: bad label length %zu", ll);
	for (size_t i = 0; i < ll; i++) {
		char ch = s[11 + i];
		if (!(ch == ' ' || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
			return err_set("PEM: bad label");
	}
	memcpy(label, s + 11, ll);
	label[ll] = 0;

	char q[4];
	size_t qn = 0, out = 0;
	int padded = 0;
	for (;;) {
		if (!next_line(text, len, pos, &s, &n))
			return err_set("PEM %s: no END line", label);
		if (has_prefix(s, n, "-----END ")) {
			if (n != ll + 14 || memcmp(s + 9, label, ll) ||
			    memcmp(s + 9 + ll, "-----", 5))
				return err_set("PEM %s: END line does not match", label);
			break;
		}
		if (memchr(s, ':', n))
			return err_set("PEM %s: headers (encryption) are not supported", label);
		for (size_t i = 0; i < n; i++) {
			if (padded)
				return err_set("PEM %s: data after base64 padding", label);
			q[qn++] = s[i];
			if (qn < 4)
				continue;
			uint8_t b[3];
			long r = base64_decode(b, sizeof(b), q, 4);
			if (r < 0)
				return err_prefix("PEM %s", label);
			if ((size_t)r > cap - out)
				return err_set("PEM %s: more than %zu bytes", label, cap);
			memcpy(der + out, b, (size_t)r);
			out += (size_t)r;
			padded = r < 3;
			qn = 0;
		}
	}
	if (qn)
		return err_set("PEM %s: truncated base64", label);
	*der_len = out;
	return 1;
}

long x509_cert_from_pem(const char *text, size_t len, uint8_t *der, size_t cap)
{
	size_t pos = 0, n;
	char label[X509_PEM_LABEL_MAX + 1];
	int r;
	while ((r = x509_pem_next(text, len, &pos, label, der, cap, &n)) == 1)
		if (strcmp(label, "CERTIFICATE") == 0)
			return (long)n;
	if (r == 0)
		err_set("no CERTIFICATE block found");
	return -1;
}
