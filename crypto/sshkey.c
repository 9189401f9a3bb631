/* SSH keys: key pair generation with BearSSL, public key validation and fingerprints (formats: docs/keys.md). */
#include "crypto/sshkey.h"

#include <bearssl.h>
#include <stdio.h>
#include <string.h>

#include "core/codec.h"
#include "core/cursor.h"
#include "core/err.h"
#include "core/sshwire.h"
#include "crypto/rand.h"

struct type_info {
	enum sshkey_type type;
	const char *name;
	const char *curve; /* the curve name inside ECDSA blobs, else NULL */
	int br_curve;	   /* BearSSL's curve id for ECDSA, else 0 */
	unsigned bits;	   /* fixed size (0 for RSA: the modulus decides) */
	const char *label; /* ssh-keygen -l's name */
};

static const struct type_info types[] = {
	{SSHKEY_RSA, "ssh-rsa", NULL, 0, 0, "RSA"},
	{SSHKEY_ECDSA_P256, "ecdsa-sha2-nistp256", "nistp256", BR_EC_secp256r1, 256, "ECDSA"},
	{SSHKEY_ECDSA_P384, "ecdsa-sha2-nistp384", "nistp384", BR_EC_secp384r1, 384, "ECDSA"},
	{SSHKEY_ECDSA_P521, "ecdsa-sha2-nistp521", "nistp521", BR_EC_secp521r1, 521, "ECDSA"},
	{SSHKEY_ED25519, "ssh-ed25519", NULL, 0, 256, "ED25519"},
	{SSHKEY_SK_ECDSA_P256, "sk-ecdsa-sha2-nistp256@openssh.com", "nistp256", BR_EC_secp256r1,
	 256, "ECDSA-SK"},
	{SSHKEY_SK_ED25519, "sk-ssh-ed25519@openssh.com", NULL, 0, 256, "ED25519-SK"},
};
#define TYPE_COUNT (sizeof(types) / sizeof(types[0]))

#define ED25519_KEY_LEN 32
#define CERT_SUFFIX	"-cert-v01@openssh.com"

static const struct type_info *type_info(enum sshkey_type t)
{
	for (size_t i = 0; i < TYPE_COUNT; i++)
		if (types[i].type == t)
			return &types[i];
	return NULL;
}

/* The type named by N[0..LEN), or NULL. */
static const struct type_info *type_by_name(const char *n, size_t len)
{
	for (size_t i = 0; i < TYPE_COUNT; i++)
		if (strlen(types[i].name) == len && memcmp(types[i].name, n, len) == 0)
			return &types[i];
	return NULL;
}

const char *sshkey_type_name(enum sshkey_type type)
{
	const struct type_info *ti = type_info(type);
	return ti ? ti->name : "unknown";
}

const char *sshkey_type_label(enum sshkey_type type)
{
	const struct type_info *ti = type_info(type);
	return ti ? ti->label : "UNKNOWN";
}

const char *sshkey_accepted_types(void)
{
	return "ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, "
	       "ssh-rsa (2048 bits or more), sk-ecdsa-sha2-nistp256@openssh.com, "
	       "sk-ssh-ed25519@openssh.com";
}

void sshkey_wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory"); /* keep the wipe */
}

void sshkey_pair_wipe(struct sshkey_pair *p)
{
	sshkey_wipe(p, sizeof(*p));
}

/* Sets err for a type name that is not one of ours, naming it (printable part only). */
static int refuse_type(const uint8_t *n, size_t len)
{
	char shown[SSHKEY_TYPE_MAX + 4];
	err_printable(shown, sizeof(shown), n, len);
	size_t k = strlen(shown);
	if (!strcmp(shown, "ssh-dss"))
		return err_set("ssh-dss (DSA) keys are not supported: DSA is obsolete and "
			       "disabled in OpenSSH; accepted: %s",
			       sshkey_accepted_types());
	size_t sl = strlen(CERT_SUFFIX);
	if (k > sl && !strcmp(shown + k - sl, CERT_SUFFIX))
		return err_set("certificates (%s) are not supported: give the plain public key",
			       shown);
	return err_set("unknown key type '%s'; accepted: %s", shown, sshkey_accepted_types());
}

/* 1 if the uncompressed point Q[0..LEN) lies on CURVE (BearSSL decodes and checks it in mul). */
static int ec_point_on_curve(int curve, const uint8_t *q, size_t len)
{
	static const unsigned char one[1] = {1};
	unsigned char buf[BR_EC_KBUF_PUB_MAX_SIZE];
	if (len > sizeof(buf))
		return 0;
	memcpy(buf, q, len);
	return br_ec_prime_i31.mul(buf, len, one, sizeof(one), curve) == 1;
}

/* The length of an uncompressed point on a NIST curve of BITS bits: 0x04 || X || Y. */
static size_t ec_point_len(unsigned bits)
{
	return 1 + 2 * (((size_t)bits + 7) / 8);
}

static int parse_ecdsa(struct cursor *c, const struct type_info *ti)
{
	const uint8_t *curve, *q;
	size_t curve_len, q_len;
	if (sshwire_get_string(c, &curve, &curve_len, SSHKEY_TYPE_MAX, "curve name") < 0)
		return -1;
	if (curve_len != strlen(ti->curve) || memcmp(curve, ti->curve, curve_len)) {
		char shown[SSHKEY_TYPE_MAX + 4];
		err_printable(shown, sizeof(shown), curve, curve_len);
		return err_set("curve name '%s' does not match key type %s", shown, ti->name);
	}
	if (sshwire_get_string(c, &q, &q_len, BR_EC_KBUF_PUB_MAX_SIZE, "public point") < 0)
		return -1;
	if (q_len == 0 || q[0] != 0x04)
		return err_set("%s: public point is not in uncompressed form", ti->name);
	if (q_len != ec_point_len(ti->bits))
		return err_set("%s: public point has %zu bytes, expected %zu", ti->name, q_len,
			       ec_point_len(ti->bits));
	if (!ec_point_on_curve(ti->br_curve, q, q_len))
		return err_set("%s: public point is not on the curve", ti->name);
	return 0;
}

static int parse_rsa(struct cursor *c, unsigned *bits)
{
	const uint8_t *e, *n;
	size_t e_len, n_len;
	if (sshwire_get_mpint(c, &e, &e_len, SSHKEY_RSA_E_MAX, "RSA exponent") < 0 ||
	    sshwire_get_mpint(c, &n, &n_len, SSHKEY_RSA_MAX_BITS / 8, "RSA modulus") < 0)
		return -1;
	if (e_len == 0 || !(e[e_len - 1] & 1) || (e_len == 1 && e[0] < 3))
		return err_set("ssh-rsa: public exponent must be odd and at least 3");
	if (n_len == 0 || !(n[n_len - 1] & 1))
		return err_set("ssh-rsa: modulus is not odd");
	*bits = sshwire_bitlen(n, n_len);
	if (*bits < SSHKEY_RSA_MIN_BITS)
		return err_set("ssh-rsa key of %u bits is too small: at least %u bits", *bits,
			       SSHKEY_RSA_MIN_BITS);
	return 0;
}

int sshkey_parse_blob(struct sshkey_pub *k, const void *blob, size_t len)
{
	struct cursor c;
	const uint8_t *name, *p;
	size_t name_len, p_len;
	unsigned bits = 0;

	if (len > SSHKEY_BLOB_MAX)
		return err_set("public key blob of %zu bytes is larger than %u", len,
			       SSHKEY_BLOB_MAX);
	cur_init(&c, blob, len);
	if (sshwire_get_string(&c, &name, &name_len, SSHKEY_TYPE_MAX, "key type") < 0)
		return -1;
	const struct type_info *ti = type_by_name((const char *)name, name_len);
	if (!ti)
		return refuse_type(name, name_len);
	bits = ti->bits;
	switch (ti->type) {
	case SSHKEY_RSA:
		if (parse_rsa(&c, &bits) < 0)
			return -1;
		break;
	case SSHKEY_ECDSA_P256:
	case SSHKEY_ECDSA_P384:
	case SSHKEY_ECDSA_P521:
	case SSHKEY_SK_ECDSA_P256:
		if (parse_ecdsa(&c, ti) < 0)
			return -1;
		break;
	case SSHKEY_ED25519:
	case SSHKEY_SK_ED25519:
		if (sshwire_get_string(&c, &p, &p_len, ED25519_KEY_LEN, "Ed25519 key") < 0)
			return -1;
		if (p_len != ED25519_KEY_LEN)
			return err_set("%s: key has %zu bytes, expected %d", ti->name, p_len,
				       ED25519_KEY_LEN);
		break;
	default:
		return err_set("internal: unhandled key type");
	}
	if (ti->type == SSHKEY_SK_ECDSA_P256 || ti->type == SSHKEY_SK_ED25519) {
		if (sshwire_get_string(&c, &p, &p_len, SSHKEY_SK_APP_MAX, "application") < 0)
			return -1;
	}
	if (cur_left(&c))
		return err_set("%s: %zu trailing bytes after the key", ti->name, cur_left(&c));
	k->type = ti->type;
	k->bits = bits;
	k->blob_len = len;
	memcpy(k->blob, blob, len);
	k->comment[0] = 0;
	return 0;
}

int sshkey_comment_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
			return 0;
	return n <= SSHKEY_COMMENT_MAX;
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The next blank-separated word of S[*pos..len): sets *W and *WLEN, advances *POS. */
static void next_word(const char *s, size_t len, size_t *pos, const char **w, size_t *wlen)
{
	while (*pos < len && is_blank(s[*pos]))
		(*pos)++;
	size_t start = *pos;
	while (*pos < len && !is_blank(s[*pos]))
		(*pos)++;
	*w = s + start;
	*wlen = *pos - start;
}

/* Sets err for a first word that is not a key type: options, a comment, or a strange type. */
static int refuse_first_word(const char *line, size_t len, const char *w, size_t wlen)
{
	size_t pos = (size_t)(w - line) + wlen;
	const char *w2;
	size_t w2len;
	next_word(line, len, &pos, &w2, &w2len);
	if (memchr(w, '=', wlen) || memchr(w, '"', wlen) || memchr(w, ',', wlen) ||
	    (w2len && type_by_name(w2, w2len))) {
		char shown[44];
		err_printable(shown, sizeof(shown), w, wlen);
		return err_set("key options are not accepted (the line starts with '%s'): "
			       "give the bare key line 'TYPE BASE64 [COMMENT]'",
			       shown);
	}
	if (w[0] == '#')
		return err_set("the line is a comment, not a key");
	return refuse_type((const uint8_t *)w, wlen);
}

int sshkey_parse_line(struct sshkey_pub *k, const char *line, size_t len)
{
	uint8_t blob[SSHKEY_BLOB_MAX];
	const char *w;
	size_t wlen, pos = 0;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len >= 10 && !memcmp(line, "-----BEGIN", 10))
		return err_set("this is a PEM block (a private key?), not a public key line: "
			       "give the .pub file");
	if (len > SSHKEY_LINE_MAX)
		return err_set("key line longer than %u bytes", SSHKEY_LINE_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch == '\n')
			return err_set("more than one line: give exactly one key");
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return err_set("control character 0x%02x at byte %zu", ch, i + 1);
	}
	next_word(line, len, &pos, &w, &wlen);
	if (wlen == 0)
		return err_set("no key: expected one line 'TYPE BASE64 [COMMENT]'");
	const struct type_info *ti = type_by_name(w, wlen);
	if (!ti)
		return refuse_first_word(line, len, w, wlen);
	next_word(line, len, &pos, &w, &wlen);
	if (wlen == 0)
		return err_set("%s: the base64 key data is missing", ti->name);
	long n = base64_decode(blob, sizeof(blob), w, wlen);
	if (n < 0)
		return err_prefix("%s: key data", ti->name);
	if (sshkey_parse_blob(k, blob, (size_t)n) < 0)
		return -1;
	if (k->type != ti->type)
		return err_set("key type '%s' does not match the key inside (%s)", ti->name,
			       sshkey_type_name(k->type));
	/* The comment: the rest of the line, blanks trimmed at both ends. */
	while (pos < len && is_blank(line[pos]))
		pos++;
	size_t end = len;
	while (end > pos && is_blank(line[end - 1]))
		end--;
	if (end - pos > SSHKEY_COMMENT_MAX)
		return err_set("comment longer than %u bytes", SSHKEY_COMMENT_MAX);
	memcpy(k->comment, line + pos, end - pos);
	k->comment[end - pos] = 0;
	if (!sshkey_comment_ok(k->comment))
		return err_set("the comment must be printable ASCII (no tabs)");
	return 0;
}

long sshkey_format_line(const struct sshkey_pub *k, char *out, size_t cap)
{
	char b64[BASE64_LEN(SSHKEY_BLOB_MAX) + 1];
	base64_encode(b64, k->blob, k->blob_len);
	int n = snprintf(out, cap, "%s %s%s%s", sshkey_type_name(k->type), b64,
			 k->comment[0] ? " " : "", k->comment);
	if (n < 0 || (size_t)n >= cap)
		return err_set("key line does not fit in %zu bytes", cap);
	return n;
}

void sshkey_fingerprint(const struct sshkey_pub *k, char out[SSHKEY_FP_SIZE])
{
	br_sha256_context h;
	unsigned char sum[32];
	char b64[BASE64_LEN(32) + 1];
	br_sha256_init(&h);
	br_sha256_update(&h, k->blob, k->blob_len);
	br_sha256_out(&h, sum);
	size_t n = base64_encode(b64, sum, sizeof(sum));
	while (n > 0 && b64[n - 1] == '=')
		n--;
	/* 32 bytes are 43 base64 characters without padding: exactly SSHKEY_FP_SIZE - 8. */
	memcpy(out, "SHA256:", 7);
	memcpy(out + 7, b64, n);
	out[7 + n] = 0;
}

int sshkey_same(const struct sshkey_pub *a, const struct sshkey_pub *b)
{
	return a->type == b->type && a->blob_len == b->blob_len &&
	       memcmp(a->blob, b->blob, a->blob_len) == 0;
}

/* ---- Key pairs ---------------------------------------------------------- */

/* The public blob of an ECDSA key with curve TI and point Q (wire format, docs/keys.md). */
static void put_ecdsa_public(struct sshwire_out *o, const struct type_info *ti, const void *q,
			     size_t qlen)
{
	sshwire_put_cstring(o, ti->name);
	sshwire_put_cstring(o, ti->curve);
	sshwire_put_string(o, q, qlen);
}

static void put_rsa_public(struct sshwire_out *o, const br_rsa_public_key *pk)
{
	sshwire_put_cstring(o, "ssh-rsa");
	sshwire_put_mpint(o, pk->e, pk->elen);
	sshwire_put_mpint(o, pk->n, pk->nlen);
}

/* Stores the finished public blob of O into OUT->pub with COMMENT. */
static int set_public(struct sshkey_pub *pub, const struct sshwire_out *o, const char *comment)
{
	long n = sshwire_out_done(o);
	if (n < 0 || sshkey_parse_blob(pub, o->buf, (size_t)n) < 0)
		return err_prefix("internal: generated public key");
	snprintf(pub->comment, sizeof(pub->comment), "%s", comment);
	return 0;
}

/* DER into PEM with BANNER; 0 or -1. */
static int to_pem(struct sshkey_pair *out, const void *der, size_t der_len, const char *banner)
{
	size_t n = br_pem_encode(NULL, der, der_len, banner, BR_PEM_LINE64);
	if (n + 1 > sizeof(out->pem))
		return err_set("internal: PEM key larger than %u bytes", SSHKEY_PEM_MAX);
	out->pem_len = br_pem_encode(out->pem, der, der_len, banner, BR_PEM_LINE64);
	return 0;
}

static int generate_ecdsa(struct sshkey_pair *out, const struct type_info *ti,
			  const br_prng_class **rng, const char *comment)
{
	const br_ec_impl *impl = &br_ec_prime_i31;
	unsigned char kpriv[BR_EC_KBUF_PRIV_MAX_SIZE], kpub[BR_EC_KBUF_PUB_MAX_SIZE];
	unsigned char der[512];
	uint8_t blob[512];
	br_ec_private_key sk;
	br_ec_public_key pk;
	struct sshwire_out o;
	int r = -1;

	if (!br_ec_keygen(rng, impl, &sk, kpriv, ti->br_curve) ||
	    !br_ec_compute_pub(impl, &pk, kpub, &sk)) {
		err_set("BearSSL cannot make %s keys", ti->name);
		goto out;
	}
	size_t der_len = br_encode_ec_raw_der(NULL, &sk, &pk);
	if (der_len == 0 || der_len > sizeof(der)) {
		err_set("internal: cannot encode the %s private key", ti->name);
		goto out;
	}
	br_encode_ec_raw_der(der, &sk, &pk);
	if (to_pem(out, der, der_len, "EC PRIVATE KEY") < 0)
		goto out;

	sshwire_out_init(&o, blob, sizeof(blob));
	put_ecdsa_public(&o, ti, pk.q, pk.qlen);
	if (set_public(&out->pub, &o, comment) < 0)
		goto out;

	/* Dropbear: the public fields, then mpint d. */
	sshwire_out_init(&o, out->dropbear, sizeof(out->dropbear));
	put_ecdsa_public(&o, ti, pk.q, pk.qlen);
	sshwire_put_mpint(&o, sk.x, sk.xlen);
	long n = sshwire_out_done(&o);
	if (n < 0) {
		err_prefix("internal: Dropbear key");
		goto out;
	}
	out->dropbear_len = (size_t)n;
	r = 0;
out:
	sshkey_wipe(kpriv, sizeof(kpriv));
	sshkey_wipe(der, sizeof(der));
	sshkey_wipe(&sk, sizeof(sk));
	return r;
}

static int generate_rsa(struct sshkey_pair *out, unsigned bits, const br_prng_class **rng,
			const char *comment)
{
	unsigned char kpriv[BR_RSA_KBUF_PRIV_SIZE(SSHKEY_GEN_RSA_MAX_BITS)];
	unsigned char kpub[BR_RSA_KBUF_PUB_SIZE(SSHKEY_GEN_RSA_MAX_BITS)];
	unsigned char d[SSHKEY_GEN_RSA_MAX_BITS / 8];
	unsigned char der[SSHKEY_PEM_MAX];
	uint8_t blob[SSHKEY_GEN_RSA_MAX_BITS / 8 + 64];
	br_rsa_private_key sk;
	br_rsa_public_key pk;
	struct sshwire_out o;
	int r = -1;

	if (!br_rsa_keygen_get_default()(rng, &sk, kpriv, &pk, kpub, bits, SSHKEY_GEN_RSA_E)) {
		err_set("BearSSL cannot make an RSA key of %u bits", bits);
		goto out;
	}
	size_t d_len = br_rsa_compute_privexp_get_default()(d, &sk, SSHKEY_GEN_RSA_E);
	if (d_len == 0 || d_len > sizeof(d)) {
		err_set("internal: cannot compute the RSA private exponent");
		goto out;
	}
	size_t der_len = br_encode_rsa_raw_der(NULL, &sk, &pk, d, d_len);
	if (der_len == 0 || der_len > sizeof(der)) {
		err_set("internal: cannot encode the RSA private key");
		goto out;
	}
	br_encode_rsa_raw_der(der, &sk, &pk, d, d_len);
	if (to_pem(out, der, der_len, "RSA PRIVATE KEY") < 0)
		goto out;

	sshwire_out_init(&o, blob, sizeof(blob));
	put_rsa_public(&o, &pk);
	if (set_public(&out->pub, &o, comment) < 0)
		goto out;

	/* Dropbear: "ssh-rsa", e, n, then d, p, q. */
	sshwire_out_init(&o, out->dropbear, sizeof(out->dropbear));
	put_rsa_public(&o, &pk);
	sshwire_put_mpint(&o, d, d_len);
	sshwire_put_mpint(&o, sk.p, sk.plen);
	sshwire_put_mpint(&o, sk.q, sk.qlen);
	long n = sshwire_out_done(&o);
	if (n < 0) {
		err_prefix("internal: Dropbear key");
		goto out;
	}
	out->dropbear_len = (size_t)n;
	r = 0;
out:
	sshkey_wipe(kpriv, sizeof(kpriv));
	sshkey_wipe(d, sizeof(d));
	sshkey_wipe(der, sizeof(der));
	sshkey_wipe(&sk, sizeof(sk));
	return r;
}

int sshkey_generate(struct sshkey_pair *out, enum sshkey_type type, unsigned bits,
		    const char *comment)
{
	int r;
	memset(out, 0, sizeof(*out));
	if (!comment || !sshkey_comment_ok(comment))
		return err_set("the key comment must be printable ASCII, at most %u bytes",
			       SSHKEY_COMMENT_MAX);
	if (type == SSHKEY_RSA &&
	    (bits < SSHKEY_GEN_RSA_MIN_BITS || bits > SSHKEY_GEN_RSA_MAX_BITS))
		return err_set("RSA keys have %u to %u bits, not %u", SSHKEY_GEN_RSA_MIN_BITS,
			       SSHKEY_GEN_RSA_MAX_BITS, bits);
	if (type != SSHKEY_RSA && type != SSHKEY_ECDSA_P256 && type != SSHKEY_ECDSA_P384 &&
	    type != SSHKEY_ECDSA_P521)
		return err_set("%s: not supported: ferry keygen makes ecdsa and rsa keys",
			       sshkey_type_name(type));
	const br_prng_class **rng = (const br_prng_class **)rand_prng();
	if (!rng)
		return -1;
	if (type == SSHKEY_RSA)
		r = generate_rsa(out, bits, rng, comment);
	else
		r = generate_ecdsa(out, type_info(type), rng, comment);
	if (r < 0)
		sshkey_pair_wipe(out);
	return r;
}

/* ---- Reading private keys back -------------------------------------------- */

/* The PEM body goes to BearSSL's key decoder, which must not be pushed
 * more bytes once it has finished (it would run from a NULL instruction
 * pointer): bytes after the key's end are noted as an error instead. */
struct skey_sink {
	br_skey_decoder_context dec;
	int trailing;
};

static void skey_push(void *ctx, const void *data, size_t len)
{
	struct skey_sink *s = ctx;
	if (s->dec.cpu.ip == NULL) { /* the T0 program has ended (key done or error) */
		s->trailing |= len != 0;
		return;
	}
	br_skey_decoder_push(&s->dec, data, len);
}

/* The public key of the decoded private key in SK into OUT. 0 or -1. */
static int public_of_skey(struct sshkey_pub *out, const br_skey_decoder_context *sk)
{
	uint8_t blob[SSHKEY_BLOB_MAX];
	struct sshwire_out o;
	sshwire_out_init(&o, blob, sizeof(blob));

	const br_ec_private_key *ec = br_skey_decoder_get_ec(sk);
	const br_rsa_private_key *rsa = br_skey_decoder_get_rsa(sk);
	if (ec) {
		const struct type_info *ti = NULL;
		for (size_t i = 0; i < TYPE_COUNT; i++)
			if (types[i].br_curve == ec->curve && types[i].curve &&
			    !strncmp(types[i].name, "ecdsa-", 6))
				ti = &types[i];
		if (!ti)
			return err_set("EC private key on a curve SSH does not use (%d)",
				       ec->curve);
		unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
		br_ec_public_key pk;
		if (!br_ec_compute_pub(&br_ec_prime_i31, &pk, q, ec))
			return err_set("EC private key: cannot compute its public key");
		put_ecdsa_public(&o, ti, pk.q, pk.qlen);
	} else if (rsa) {
		unsigned char n[SSHKEY_GEN_RSA_MAX_BITS / 8];
		unsigned char e[4];
		size_t n_len = br_rsa_compute_modulus_get_default()(NULL, rsa);
		if (n_len == 0 || n_len > sizeof(n))
			return err_set("RSA private key: modulus too large for BearSSL");
		br_rsa_compute_modulus_get_default()(n, rsa);
		uint32_t ev = br_rsa_compute_pubexp_get_default()(rsa);
		if (ev == 0)
			return err_set("RSA private key: cannot recover its public exponent");
		put_u32(e, ev);
		sshwire_put_cstring(&o, "ssh-rsa");
		sshwire_put_mpint(&o, e, sizeof(e));
		sshwire_put_mpint(&o, n, n_len);
	} else {
		return err_set("not an EC or RSA private key");
	}
	long len = sshwire_out_done(&o);
	if (len < 0)
		return -1;
	return sshkey_parse_blob(out, blob, (size_t)len);
}

int sshkey_pem_public(struct sshkey_pub *out, const char *pem, size_t len)
{
	br_pem_decoder_context pc;
	struct skey_sink sk;
	int in_key = 0, done = 0, r = -1;

	br_pem_decoder_init(&pc);
	br_skey_decoder_init(&sk.dec);
	sk.trailing = 0;
	while (!done) {
		size_t n = br_pem_decoder_push(&pc, pem, len);
		pem += n;
		len -= n;
		int ev = br_pem_decoder_event(&pc);
		if (ev == BR_PEM_BEGIN_OBJ) {
			const char *name = br_pem_decoder_name(&pc);
			if (in_key ||
			    (strcmp(name, "EC PRIVATE KEY") && strcmp(name, "RSA PRIVATE KEY") &&
			     strcmp(name, "PRIVATE KEY"))) {
				err_set("PEM object '%s' is not a private key ferry reads", name);
				goto out;
			}
			br_pem_decoder_setdest(&pc, skey_push, &sk);
			in_key = 1;
		} else if (ev == BR_PEM_END_OBJ) {
			done = in_key;
		} else if (ev == BR_PEM_ERROR) {
			err_set("bad PEM encoding");
			goto out;
		} else if (len == 0) {
			break;
		}
	}
	if (!done) {
		err_set("no complete PEM private key found");
		goto out;
	}
	if (br_skey_decoder_last_error(&sk.dec) != 0) {
		err_set("cannot decode the private key (BearSSL error %d)",
			br_skey_decoder_last_error(&sk.dec));
		goto out;
	}
	if (sk.trailing) {
		err_set("bytes after the end of the private key");
		goto out;
	}
	r = public_of_skey(out, &sk.dec);
out:
	sshkey_wipe(&pc, sizeof(pc));
	sshkey_wipe(&sk, sizeof(sk));
	return r;
}

int sshkey_dropbear_public(struct sshkey_pub *out, const void *data, size_t len)
{
	struct cursor c;
	const uint8_t *name, *p;
	size_t name_len, p_len;
	int fields;

	cur_init(&c, data, len);
	if (sshwire_get_string(&c, &name, &name_len, SSHKEY_TYPE_MAX, "key type") < 0)
		return err_prefix("Dropbear key");
	const struct type_info *ti = type_by_name((const char *)name, name_len);
	if (!ti || (ti->type != SSHKEY_RSA && strncmp(ti->name, "ecdsa-", 6)))
		return err_set("Dropbear key: type '%.*s' is not one ferry writes", (int)name_len,
			       (const char *)name);
	/* Public fields (the blob), then the private ones. */
	int bad;
	if (ti->type == SSHKEY_RSA) {
		bad = sshwire_get_mpint(&c, &p, &p_len, SSHKEY_RSA_E_MAX, "RSA exponent") < 0 ||
		      sshwire_get_mpint(&c, &p, &p_len, SSHKEY_RSA_MAX_BITS / 8, "RSA modulus") < 0;
		fields = 3; /* d, p, q */
	} else {
		bad = sshwire_get_string(&c, &p, &p_len, SSHKEY_TYPE_MAX, "curve name") < 0 ||
		      sshwire_get_string(&c, &p, &p_len, BR_EC_KBUF_PUB_MAX_SIZE, "public point") <
			      0;
		fields = 1; /* d */
	}
	if (bad)
		return err_prefix("Dropbear key");
	size_t blob_len = c.off;
	for (int i = 0; i < fields; i++)
		if (sshwire_get_mpint(&c, &p, &p_len, SSHKEY_RSA_MAX_BITS / 8, "private value") < 0)
			return err_prefix("Dropbear key");
	if (cur_left(&c))
		return err_set("Dropbear key: %zu trailing bytes", cur_left(&c));
	if (sshkey_parse_blob(out, data, blob_len) < 0)
		return err_prefix("Dropbear key");
	return 0;
}
