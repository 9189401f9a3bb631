/* SSH keys: migration key pairs made with BearSSL, and validated public keys with their fingerprints (docs/keys.md). */
#ifndef FERRY_SSHKEY_H
#define FERRY_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

/* The public key types ferry knows. keygen makes RSA and ECDSA only. */
enum sshkey_type {
	SSHKEY_UNKNOWN = 0,
	SSHKEY_RSA,	      /* ssh-rsa */
	SSHKEY_ECDSA_P256,    /* ecdsa-sha2-nistp256 */
	SSHKEY_ECDSA_P384,    /* ecdsa-sha2-nistp384 */
	SSHKEY_ECDSA_P521,    /* ecdsa-sha2-nistp521 */
	SSHKEY_ED25519,	      /* ssh-ed25519 (accepted, not generated) */
	SSHKEY_SK_ECDSA_P256, /* sk-ecdsa-sha2-nistp256@openssh.com (security key) */
	SSHKEY_SK_ED25519,    /* sk-ssh-ed25519@openssh.com (security key) */
};

/* Bounds on what a peer or an operator can hand us (docs/keys.md, "Limits"). */
#define SSHKEY_RSA_MIN_BITS 2048  /* smaller RSA keys are refused */
#define SSHKEY_RSA_MAX_BITS 16384 /* OpenSSH's own limit */
#define SSHKEY_RSA_E_MAX    4	  /* public exponent: at most 32 bits */
#define SSHKEY_TYPE_MAX	    64	  /* key type and curve name strings */
#define SSHKEY_SK_APP_MAX   256	  /* security key application string */
#define SSHKEY_BLOB_MAX	    2560  /* a whole public key blob */
#define SSHKEY_COMMENT_MAX  256	  /* the comment after the key */
#define SSHKEY_LINE_MAX	    4096  /* one "TYPE BASE64 COMMENT" line */
#define SSHKEY_FP_SIZE	    51	  /* "SHA256:" + 43 base64 characters + NUL */

/* A validated public key. */
struct sshkey_pub {
	enum sshkey_type type;
	unsigned
		bits; /* as ssh-keygen -l shows it: RSA modulus bits, curve size, 256 for Ed25519 */
	size_t blob_len;
	uint8_t blob[SSHKEY_BLOB_MAX]; /* the SSH wire encoding of the key */
	char comment[SSHKEY_COMMENT_MAX + 1];
};

/* The wire name of TYPE ("ecdsa-sha2-nistp521"), or "unknown". */
const char *sshkey_type_name(enum sshkey_type type);
/* The short name ssh-keygen -l prints in parentheses ("ECDSA", "RSA", "ED25519-SK"...). */
const char *sshkey_type_label(enum sshkey_type type);
/* The accepted types as one human-readable list, for messages and --help. */
const char *sshkey_accepted_types(void);

/*
 * Validates the wire-format public key BLOB[0..LEN) and copies it into K
 * (type, bits, blob; the comment is emptied). Accepts the types listed in
 * enum sshkey_type: the curve name must match the type, an ECDSA point must
 * be uncompressed, of the curve's length and on the curve, an Ed25519 key
 * 32 bytes, RSA e odd, >= 3 and at most 32 bits, n odd with
 * SSHKEY_RSA_MIN_BITS..SSHKEY_RSA_MAX_BITS bits. No trailing bytes.
 * ssh-dss, certificates and unknown types are refused naming the type.
 * 0 or -1 with err_set.
 */
int sshkey_parse_blob(struct sshkey_pub *k, const void *blob, size_t len);

/*
 * Parses one authorized_keys-style line "TYPE BASE64 [COMMENT]" from
 * LINE[0..LEN) (at most SSHKEY_LINE_MAX bytes, one optional final "\n").
 * Fields are separated by spaces or tabs. Refuses key options in front of
 * the key ("command=...", "restrict"...), more than one line, NUL and other
 * control characters, a comment that is not printable ASCII or is longer
 * than SSHKEY_COMMENT_MAX, bad base64, a blob that sshkey_parse_blob
 * refuses, and a TYPE that differs from the type inside the blob.
 * 0 or -1 with err_set (K's contents are then unspecified).
 */
int sshkey_parse_line(struct sshkey_pub *k, const char *line, size_t len);

/* 1 if S is an acceptable comment: printable ASCII, at most SSHKEY_COMMENT_MAX bytes. */
int sshkey_comment_ok(const char *s);

/*
 * Writes "TYPE BASE64[ COMMENT]" (no newline) into OUT (CAP bytes, NUL
 * terminated). Returns the length, or -1 with err_set if it does not fit.
 */
long sshkey_format_line(const struct sshkey_pub *k, char *out, size_t cap);

/* Writes the fingerprint as ssh-keygen -l prints it: "SHA256:" + unpadded base64 of sha256(blob). */
void sshkey_fingerprint(const struct sshkey_pub *k, char out[SSHKEY_FP_SIZE]);

/* 1 if A and B are the same key (same blob; comments are ignored), else 0. */
int sshkey_same(const struct sshkey_pub *a, const struct sshkey_pub *b);

/* ---- Key pairs ---------------------------------------------------------- */

/* What keygen can make: ECDSA on the three NIST curves and RSA of these sizes. */
#define SSHKEY_GEN_RSA_MIN_BITS 2048
#define SSHKEY_GEN_RSA_MAX_BITS 4096 /* BearSSL's limit */
#define SSHKEY_GEN_RSA_E	65537
#define SSHKEY_PEM_MAX		4096 /* PEM of an RSA-4096 key is about 3.3 KB */
#define SSHKEY_DROPBEAR_MAX	2048

/*
 * A freshly made key pair in the three files keygen writes (docs/keys.md):
 * PEM is the private key as OpenSSH's `ssh -i` reads it (SEC1 "EC PRIVATE
 * KEY" or PKCS#1 "RSA PRIVATE KEY"), DROPBEAR the same key in Dropbear's
 * own format (for `dbclient -i`), PUB the public key with its comment.
 * Holds secrets: wipe it with sshkey_pair_wipe.
 */
struct sshkey_pair {
	struct sshkey_pub pub;
	size_t pem_len;
	char pem[SSHKEY_PEM_MAX]; /* NUL-terminated */
	size_t dropbear_len;
	uint8_t dropbear[SSHKEY_DROPBEAR_MAX];
};

/*
 * Generates a key pair of TYPE in OUT with the comment COMMENT (see
 * sshkey_comment_ok). TYPE is SSHKEY_ECDSA_P256/P384/P521 (BITS ignored, 0)
 * or SSHKEY_RSA with BITS in SSHKEY_GEN_RSA_MIN_BITS..MAX and public
 * exponent 65537. Other types (Ed25519: BearSSL cannot sign with it) fail
 * with "not supported: ferry keygen makes ecdsa and rsa keys". Randomness
 * comes from rand_prng(). Intermediate secrets are wiped; OUT is wiped on
 * failure. 0 or -1 with err_set.
 */
int sshkey_generate(struct sshkey_pair *out, enum sshkey_type type, unsigned bits,
		    const char *comment);

/* Wipes every byte of P (secrets included), in a way the compiler keeps. */
void sshkey_pair_wipe(struct sshkey_pair *p);
/* Wipes N bytes at P, in a way the compiler keeps. */
void sshkey_wipe(void *p, size_t n);

/*
 * Reads the PEM private key PEM[0..LEN) ("EC PRIVATE KEY", "RSA PRIVATE
 * KEY" or PKCS#8 "PRIVATE KEY" holding one of them) and writes its public
 * key into OUT (no comment). Used to check that a key file and its .pub
 * belong together. Secrets are wiped. 0 or -1 with err_set.
 */
int sshkey_pem_public(struct sshkey_pub *out, const char *pem, size_t len);

/*
 * Reads a Dropbear private key file DATA[0..LEN) (ECDSA or RSA, see
 * docs/keys.md) and writes its public key into OUT (no comment), checking
 * the whole file's structure. 0 or -1 with err_set.
 */
int sshkey_dropbear_public(struct sshkey_pub *out, const void *data, size_t len);

#endif
