/* Ganeti-compatible signatures with the cluster domain secret (formats: docs/cluster-crypto.md). */
#ifndef FERRY_SIGN_H
#define FERRY_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hmac.h"
#include "crypto/x509.h"

/* The domain secret file: at most this many bytes, its key line at most SIGN_SECRET_MAX. */
#define SIGN_SECRET_FILE_MAX 4096
#define SIGN_SECRET_MAX	     1024
/* A generated secret: 20 random bytes as 40 lowercase hex digits (Ganeti's default). */
#define SIGN_SECRET_GEN_LEN 40

/* Salts we make: 16 lowercase hex digits. Salts we accept: 1..SIGN_SALT_MAX of [a-zA-Z0-9]. */
#define SIGN_SALT_LEN 16
#define SIGN_SALT_MAX 64
/* Signatures are lowercase hex HMAC-SHA1: 40 digits (compared case-insensitively, as Ganeti does). */
#define SIGN_HMAC_LEN SHA1_HEX_SIZE

/* Remote import/export protocol version and handshake message ("%d:" prefixed). */
#define SIGN_RIE_VERSION   0
#define SIGN_HANDSHAKE_MSG "Hi, I'm Ganeti"
/* The header of a signed certificate. */
#define SIGN_CERT_HEADER "X-Ganeti-Signature"
/* Magic: a base of 12 random hex digits; valid magics match ^[-_.a-zA-Z0-9]{5,100}$. */
#define SIGN_MAGIC_BASE_LEN 12
#define SIGN_MAGIC_MIN	    5
#define SIGN_MAGIC_MAX	    100
/* Longest host and instance names accepted in signed messages. */
#define SIGN_NAME_MAX 255

/*
 * The cluster domain secret: the HMAC key is the bytes of the file's one
 * non-empty line exactly as written (not hex-decoded, spaces kept). Wipe
 * with sign_secret_wipe.
 */
struct sign_secret {
	size_t len;
	char key[SIGN_SECRET_MAX + 1];
};

/*
 * Parses a domain secret file's contents TEXT[0..LEN) the way Ganeti reads
 * it (ReadOneLineFile, strict): lines end at LF, CR LF or CR; the key is
 * the first non-empty line; a second non-empty line is an error, as is a
 * file without one. Bytes other than printable ASCII and tab are refused
 * (Ganeti would split lines at some of them). 0 or -1 with err_set.
 */
int sign_secret_parse(struct sign_secret *s, const char *text, size_t len);
/* sign_secret_parse on the file PATH (not a symlink; read buffer wiped). 0 or -1. */
int sign_secret_load(struct sign_secret *s, const char *path);
void sign_secret_wipe(struct sign_secret *s);
/* Writes a new random secret, SIGN_SECRET_GEN_LEN hex digits + NUL, into OUT. 0 or -1. */
int sign_secret_generate(char out[SIGN_SECRET_GEN_LEN + 1]);
/*
 * A fingerprint safe to show and compare between clusters: the first 16
 * bytes of HMAC-SHA256(secret, "ferry domain secret fingerprint v1") as 32
 * lowercase hex digits + NUL. (It allows offline guessing of a weak secret,
 * like any public check value; generated secrets have 160 random bits.)
 */
#define SIGN_FINGERPRINT_SIZE 33
void sign_secret_fingerprint(const struct sign_secret *s, char out[SIGN_FINGERPRINT_SIZE]);

/* A fresh salt: SIGN_SALT_LEN random lowercase hex digits + NUL. 0 or -1. */
int sign_salt(char out[SIGN_SALT_LEN + 1]);
/* 1 if SALT is 1..SIGN_SALT_MAX characters of [a-zA-Z0-9], else 0. */
int sign_salt_ok(const char *salt);

/*
 * Ganeti's Sha1Hmac: lowercase_hex(HMAC-SHA1(secret, SALT || MSG)) into
 * OUT. SALT may be "" (nothing prepended).
 */
void sign_hmac(const struct sign_secret *s, const char *salt, const void *msg, size_t len,
	       char out[SIGN_HMAC_LEN]);
/*
 * Checks DIGEST (hex, either case) against sign_hmac of MSG in constant
 * time. 0 if it matches; -1 with err_set("HMAC is wrong") if not, or if
 * DIGEST or SALT is malformed.
 */
int sign_hmac_check(const struct sign_secret *s, const char *salt, const void *msg, size_t len,
		    const char *digest);

/*
 * The handshake [SIGN_RIE_VERSION, hmac("0:Hi, I'm Ganeti"), salt]: makes a
 * fresh SALT and its HMAC. 0 or -1.
 */
int sign_handshake(const struct sign_secret *s, char salt[SIGN_SALT_LEN + 1],
		   char hmac[SIGN_HMAC_LEN]);
/*
 * Checks a received handshake [VERSION, HMAC, SALT] as Ganeti does: the
 * HMAC over "VERSION:Hi, I'm Ganeti" first, then the version. On failure
 * -1 with err_set of Ganeti's message, "Invalid handshake: Hash didn't
 * match, clusters don't share the same domain secret" or "Invalid
 * handshake: Clusters don't have the same remote import/export protocol
 * (local=0, remote=V)".
 */
int sign_handshake_check(const struct sign_secret *s, long long version, const char *hmac,
			 const char *salt);

/*
 * A signed certificate: "X-Ganeti-Signature: SALT/HMAC\n\n" followed by
 * the canonical PEM of DER[0..LEN), the HMAC taken over that PEM text.
 * Written NUL-terminated into OUT (CAP bytes); returns its length or -1.
 */
long sign_cert(const struct sign_secret *s, const char *salt, const void *der, size_t len,
	       char *out, size_t cap);
/* Room sign_cert needs for a certificate of N DER bytes (including the NUL). */
#define SIGN_CERT_SIZE(n) (X509_PEM_LEN(n, 11) + sizeof(SIGN_CERT_HEADER) + SIGN_SALT_MAX + 48)
/*
 * Verifies a signed certificate TEXT[0..LEN) as Ganeti does: the header is
 * looked for among the lines before the first line starting with "---"
 * (each line trimmed; case-insensitive "X-Ganeti-Signature:", optional
 * blanks, SALT/HMAC of [a-zA-Z0-9]); the first CERTIFICATE block is decoded
 * into DER (CAP bytes, *DER_LEN), re-encoded canonically and the HMAC
 * checked over that. SALT_OUT (may be NULL) gets the salt. Errors:
 * "X509 certificate signature is missing", "X509 certificate signature is
 * invalid", or why the certificate cannot be read. The validity dates are
 * not checked here (x509_cert_check_time). 0 or -1 with err_set.
 */
int sign_cert_verify(const struct sign_secret *s, const char *text, size_t len, uint8_t *der,
		     size_t cap, size_t *der_len, char salt_out[SIGN_SALT_MAX + 1]);

/*
 * Signed disk info [host, port, magic, hmac, salt]: the HMAC of
 * "IDX:HOST:PORT:MAGIC" under SALT into HMAC. HOST is an IP literal or
 * name (no brackets), PORT 1..65535. 0 or -1 (bad arguments).
 */
int sign_disk_info(const struct sign_secret *s, unsigned idx, const char *host, unsigned port,
		   const char *magic, const char *salt, char hmac[SIGN_HMAC_LEN]);
/*
 * Checks received disk info for disk IDX as Ganeti does: host, port and
 * magic present (port non-zero), the HMAC, then port in [0, 65536) and the
 * magic's form. On failure -1 with err_set("Target info for disk IDX:
 * WHY"), WHY one of "Missing destination host, port or magic", "HMAC is
 * wrong", "Invalid port P", "Invalid magic".
 */
int sign_disk_info_check(const struct sign_secret *s, unsigned idx, const char *host,
			 long long port, const char *magic, const char *hmac, const char *salt);

/* A fresh magic base: SIGN_MAGIC_BASE_LEN random lowercase hex digits + NUL. 0 or -1. */
int sign_magic_base(char out[SIGN_MAGIC_BASE_LEN + 1]);
/* The magic of disk IDX: sha1_hex("0" + BASE + INSTANCE + decimal IDX). */
void sign_magic(char out[SHA1_HEX_SIZE], const char *base, const char *instance, unsigned idx);
/* 1 if MAGIC matches ^[-_.a-zA-Z0-9]{5,100}$, else 0. */
int sign_magic_ok(const char *magic);

#endif
