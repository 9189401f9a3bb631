/* X.509 for the cluster API and data path: key pairs, self-signed certificates, PEM, parsing (docs/cluster-crypto.md). */
#ifndef FERRY_X509_H
#define FERRY_X509_H

#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "crypto/hmac.h"

enum x509_key_type {
	X509_KEY_NONE = 0,
	X509_KEY_EC = 1,  /* ECDSA: P-256 when generated; P-384 and P-521 read from files */
	X509_KEY_RSA = 2, /* RSA with e = 65537 when generated, 2048 to 4096 bits */
};

/* Largest private key DER we hold: an RSA 4096 PKCS#1 key is about 2350 bytes. */
#define X509_KEY_DER_MAX 2600
/* Largest certificate accepted anywhere (from files or peers). */
#define X509_CERT_DER_MAX 16384
/* Longest PEM label ("RSA PRIVATE KEY"...) and PEM line we read. */
#define X509_PEM_LABEL_MAX 40
/* Subject common name bytes kept by x509_cert_parse (RFC 5280's limit is 64 characters). */
#define X509_CN_MAX 256
/* Longest common name or alternative name x509_cert_create accepts. */
#define X509_NAME_MAX 255
/* Ganeti's tolerance for a peer clock ahead of ours: not-before may be this far in the future. */
#define X509_NOT_BEFORE_SLACK_SECONDS 150

/*
 * A private key, always held in one normalised DER form: SEC1
 * ECPrivateKey (with its public key) or PKCS#1 RSAPrivateKey. It is a
 * secret: wipe it with x509_key_wipe when done.
 */
struct x509_key {
	enum x509_key_type type;
	unsigned bits; /* curve size (256, 384, 521) or RSA modulus size */
	size_t der_len;
	uint8_t der[X509_KEY_DER_MAX];
};

/*
 * Generates a fresh key with the per-thread DRBG (crypto/rand.h): TYPE
 * X509_KEY_EC with BITS 256 (NIST P-256), or X509_KEY_RSA with BITS 2048
 * to 4096 (multiple of 8; e = 65537; takes about a second for 2048). 0 or
 * -1 with err_set.
 */
int x509_key_generate(struct x509_key *key, enum x509_key_type type, unsigned bits);
/* Overwrites KEY with zeros (explicit_bzero). */
void x509_key_wipe(struct x509_key *key);

/*
 * Writes KEY as PEM ("EC PRIVATE KEY" or "RSA PRIVATE KEY", canonical
 * 64-character lines) into OUT (CAP bytes, NUL-terminated). Returns the
 * text length, or -1 with err_set if CAP is too small. The text is secret.
 */
long x509_key_to_pem(const struct x509_key *key, char *out, size_t cap);
/*
 * Reads the first private key of TEXT[0..LEN): "EC PRIVATE KEY" (SEC1),
 * "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY" (unencrypted PKCS#8); other
 * PEM blocks (certificates, "EC PARAMETERS") are skipped. Encrypted keys
 * are refused. KEY is normalised as described above. 0 or -1 with err_set.
 */
int x509_key_from_pem(struct x509_key *key, const char *text, size_t len);
/* x509_key_from_pem on the file PATH (at most 64 KiB; read buffer wiped). 0 or -1. */
int x509_key_load(struct x509_key *key, const char *path);
/*
 * Writes KEY as PEM to PATH, replacing it atomically; the file is created
 * O_EXCL with mode 0600 from the start (file_write_atomic). 0 or -1.
 */
int x509_key_save(const struct x509_key *key, const char *path);

/* What a self-signed certificate says (see x509_cert_create). */
struct x509_cert_spec {
	const char *cn; /* subject and issuer common name: 1..X509_NAME_MAX printable ASCII bytes */
	/* subjectAltName entries, NULL-terminated (or NULL for none): IPv4/IPv6
	   literals become iPAddress, anything else a dNSName (printable ASCII). */
	const char *const *alt_names;
	int64_t not_before;	   /* unix time; 0 means now */
	uint32_t lifetime_seconds; /* not_after = not_before + lifetime (at least 1) */
};

/*
 * Creates a self-signed X.509 v3 certificate for KEY into DER (CAP bytes):
 * random positive 64-bit serial, signature ecdsa-with-SHA256 or
 * sha256WithRSAEncryption, basicConstraints CA:TRUE (critical), keyUsage
 * digitalSignature + keyCertSign (+ keyEncipherment for RSA; critical),
 * subject and authority key identifiers (SHA-1 of the public key),
 * subjectAltName if given. Times are UTCTime up to 2049, else
 * GeneralizedTime. Returns the DER length, or -1 with err_set.
 */
long x509_cert_create(const struct x509_key *key, const struct x509_cert_spec *spec, uint8_t *der,
		      size_t cap);

/* Facts read from a certificate by x509_cert_parse. */
struct x509_cert_info {
	int64_t not_before, not_after;	 /* unix time */
	char cn[X509_CN_MAX + 1];	 /* first subject CN ("" if none or not a string type) */
	enum x509_key_type key_type;	 /* X509_KEY_NONE for other algorithms */
	unsigned key_bits;		 /* curve size or RSA modulus size (0 if unknown) */
	int is_ca;			 /* basicConstraints cA is TRUE */
	uint8_t sha256[SHA256_LEN];	 /* fingerprint: SHA-256 of the whole DER */
	uint8_t spki_sha256[SHA256_LEN]; /* SHA-256 of the SubjectPublicKeyInfo DER (key pin) */
	/* Where the subject Name and the SubjectPublicKeyInfo lie inside the DER. */
	size_t subject_off, subject_len;
	size_t spki_off, spki_len;
};

/*
 * Parses the DER certificate DER[0..LEN) (strict DER, at most
 * X509_CERT_DER_MAX bytes, nothing after it) into INFO. Does not verify
 * the signature. 0 or -1 with err_set.
 */
int x509_cert_parse(const void *der, size_t len, struct x509_cert_info *info);

/*
 * Ganeti's validity check at time NOW: an error if the certificate has
 * expired ("Certificate is expired (valid from A to B)") or if notBefore
 * lies more than X509_NOT_BEFORE_SLACK_SECONDS after NOW ("Certificate not
 * yet valid (valid from A)"). Times print as UTC "YYYY-MM-DD HH:MM:SS".
 * 0 or -1 with err_set.
 */
int x509_cert_check_time(const struct x509_cert_info *info, int64_t now);

/*
 * 1 if the certificate DER[0..LEN) carries KEY's public key, 0 if another
 * key, -1 with err_set if either cannot be read.
 */
int x509_cert_matches_key(const void *der, size_t len, const struct x509_key *key);

/* Lifetime of a per-move certificate, as Ganeti's: one day. */
#define X509_MOVE_LIFETIME_SECONDS 86400
/* Most names x509_identity_generate puts in one certificate. */
#define X509_NAMES_MAX 16

/*
 * A private key with its certificate: what a TLS endpoint presents (the API
 * server's, a node's per-move one). About 19 KiB: keep it off small stacks.
 * Secret: wipe it with x509_identity_wipe.
 */
struct x509_identity {
	struct x509_key key;
	uint8_t cert[X509_CERT_DER_MAX];
	size_t cert_len;
};

/*
 * Makes a fresh key (X509_KEY_EC: P-256; X509_KEY_RSA: 2048 bits) and a
 * self-signed certificate for it valid LIFETIME seconds from now. NAMES
 * (NULL-terminated, 1..X509_NAMES_MAX) are host names or IP literals: the
 * first is the CN, all go to subjectAltName. 0 or -1 with err_set.
 */
int x509_identity_generate(struct x509_identity *id, enum x509_key_type type,
			   const char *const *names, uint32_t lifetime_seconds);
/*
 * Reads a private key and the first certificate from PEM TEXT[0..LEN) (any
 * order, as in Ganeti's rapi.pem) and checks that they belong together.
 * 0 or -1 with err_set.
 */
int x509_identity_from_pem(struct x509_identity *id, const char *text, size_t len);
/*
 * Writes ID as key PEM followed by certificate PEM into a malloc'd buffer
 * (*OUT, *LEN; secret: wipe and free it). 0 or -1.
 */
int x509_identity_to_pem(const struct x509_identity *id, char **out, size_t *len);
void x509_identity_wipe(struct x509_identity *id);

/* Formats a SHA-256 fingerprint as openssl does: "AB:CD:...", 95 characters + NUL. */
#define X509_FINGERPRINT_SIZE (3 * SHA256_LEN)
void x509_fingerprint_text(char out[X509_FINGERPRINT_SIZE], const uint8_t sha[SHA256_LEN]);

/* Length of the canonical PEM text (without NUL) of N DER bytes under a label of LABEL_LEN bytes. */
#define X509_PEM_LEN(n, label_len)                                                                 \
	(2 * (label_len) + 32 + BASE64_LEN(n) + (BASE64_LEN(n) + 63) / 64)

/*
 * Canonical PEM: "-----BEGIN LABEL-----\n", base64 in 64-character lines,
 * "-----END LABEL-----\n", NUL-terminated in OUT (CAP bytes). Returns the
 * text length, or -1 with err_set if CAP is too small.
 */
long x509_pem_encode(char *out, size_t cap, const char *label, const void *der, size_t len);

/*
 * Finds the next PEM block in TEXT[*POS..LEN) and decodes it into DER (CAP
 * bytes): *DER_LEN gets its length, LABEL its label, *POS moves past its
 * END line. Text outside blocks is ignored; inside a block only base64
 * lines (any length, CR LF allowed) are accepted, so encrypted PEM with
 * headers is refused. Returns 1 for a block, 0 when no block is left, -1
 * with err_set on a malformed block.
 */
int x509_pem_next(const char *text, size_t len, size_t *pos, char label[X509_PEM_LABEL_MAX + 1],
		  uint8_t *der, size_t cap, size_t *der_len);

/*
 * The first "CERTIFICATE" block of TEXT[0..LEN) into DER (CAP bytes).
 * Returns its length, or -1 with err_set (also when there is none).
 */
long x509_cert_from_pem(const char *text, size_t len, uint8_t *der, size_t cap);

#endif
