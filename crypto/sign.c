/* Ganeti's HMAC-SHA1 signatures with the cluster domain secret: handshake, certificates, disk info, magic. */
#include "crypto/sign.h"

#include <bearssl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/file.h"
#include "crypto/rand.h"
#include "crypto/x509.h"

/* ---- The domain secret ----------------------------------------------------- */

int sign_secret_parse(struct sign_secret *s, const char *text, size_t len)
{
	size_t found = 0, lines = 0;
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < len;) {
		size_t start = i;
		while (i < len && text[i] != '\n' && text[i] != '\r')
			i++;
		size_t n = i - start;
		if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			i++;
		if (i < len)
			i++; /* the line end */
		if (n == 0)
			continue;
		for (size_t k = start; k < start + n; k++) {
			unsigned char c = (unsigned char)text[k];
			if ((c < 0x20 && c != '\t') || c > 0x7e) {
				memset(s, 0, sizeof(*s));
				return err_set("domain secret: byte 0x%02x is not printable ASCII",
					       c);
			}
		}
		if (++lines > 1) {
			explicit_bzero(s, sizeof(*s));
			return err_set("domain secret: more than one non-empty line");
		}
		if (n > SIGN_SECRET_MAX)
			return err_set("domain secret: longer than %d bytes", SIGN_SECRET_MAX);
		memcpy(s->key, text + start, n);
		s->key[n] = 0;
		found = n;
	}
	if (lines == 0)
		return err_set("domain secret: no data (the file has no non-empty line)");
	s->len = found;
	return 0;
}

int sign_secret_load(struct sign_secret *s, const char *path)
{
	char *text;
	size_t len;
	memset(s, 0, sizeof(*s));
	if (file_read_all(AT_FDCWD, path, SIGN_SECRET_FILE_MAX, &text, &len) < 0)
		return -1;
	int r = sign_secret_parse(s, text, len);
	explicit_bzero(text, len);
	free(text);
	if (r < 0)
		err_prefix("%s", path);
	return r;
}

void sign_secret_wipe(struct sign_secret *s)
{
	explicit_bzero(s, sizeof(*s));
}

int sign_secret_generate(char out[SIGN_SECRET_GEN_LEN + 1])
{
	uint8_t b[SIGN_SECRET_GEN_LEN / 2];
	if (rand_bytes(b, sizeof(b)) < 0)
		return -1;
	hex_encode(out, b, sizeof(b));
	explicit_bzero(b, sizeof(b));
	return 0;
}

void sign_secret_fingerprint(const struct sign_secret *s, char out[SIGN_FINGERPRINT_SIZE])
{
	static const char label[] = "ferry domain secret fingerprint v1";
	uint8_t mac[SHA256_LEN];
	hmac_sha256(mac, s->key, s->len, label, sizeof(label) - 1, NULL, 0);
	hex_encode(out, mac, (SIGN_FINGERPRINT_SIZE - 1) / 2);
}

/* ---- Salts and HMACs ------------------------------------------------------- */

static int random_hex(char *out, size_t digits)
{
	uint8_t b[32];
	if (digits / 2 > sizeof(b) || rand_bytes(b, digits / 2) < 0)
		return -1;
	hex_encode(out, b, digits / 2);
	return 0;
}

int sign_salt(char out[SIGN_SALT_LEN + 1])
{
	return random_hex(out, SIGN_SALT_LEN);
}

static int alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int sign_salt_ok(const char *salt)
{
	size_t n = strnlen(salt, SIGN_SALT_MAX + 1);
	if (n == 0 || n > SIGN_SALT_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!alnum(salt[i]))
			return 0;
	return 1;
}

void sign_hmac(const struct sign_secret *s, const char *salt, const void *msg, size_t len,
	       char out[SIGN_HMAC_LEN])
{
	uint8_t mac[SHA1_LEN];
	hmac_sha1(mac, s->key, s->len, salt, strlen(salt), msg, len);
	hex_encode(out, mac, sizeof(mac));
}

int sign_hmac_check(const struct sign_secret *s, const char *salt, const void *msg, size_t len,
		    const char *digest)
{
	char want[SIGN_HMAC_LEN], got[SIGN_HMAC_LEN];
	if (!sign_salt_ok(salt) && salt[0])
		return err_set("HMAC is wrong (malformed salt)");
	if (strnlen(digest, SIGN_HMAC_LEN) != SIGN_HMAC_LEN - 1)
		return err_set("HMAC is wrong");
	for (size_t i = 0; i < SIGN_HMAC_LEN - 1; i++) {
		char c = digest[i];
		got[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; /* Ganeti lowercases */
	}
	got[SIGN_HMAC_LEN - 1] = 0;
	sign_hmac(s, salt, msg, len, want);
	if (!hmac_equal(want, got, SIGN_HMAC_LEN - 1))
		return err_set("HMAC is wrong");
	return 0;
}

/* ---- Handshake ------------------------------------------------------------- */

static size_t handshake_message(char *buf, size_t cap, long long version)
{
	int n = snprintf(buf, cap, "%lld:%s", version, SIGN_HANDSHAKE_MSG);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int sign_handshake(const struct sign_secret *s, char salt[SIGN_SALT_LEN + 1],
		   char hmac[SIGN_HMAC_LEN])
{
	char msg[64];
	if (sign_salt(salt) < 0)
		return -1;
	size_t n = handshake_message(msg, sizeof(msg), SIGN_RIE_VERSION);
	sign_hmac(s, salt, msg, n, hmac);
	return 0;
}

int sign_handshake_check(const struct sign_secret *s, long long version, const char *hmac,
			 const char *salt)
{
	char msg[64];
	size_t n = handshake_message(msg, sizeof(msg), version);
	if (n == 0 || sign_hmac_check(s, salt, msg, n, hmac) < 0)
		return err_set("Invalid handshake: Hash didn't match, clusters don't share the "
			       "same domain secret");
	if (version != SIGN_RIE_VERSION)
		return err_set("Invalid handshake: Clusters don't have the same remote "
			       "import/export protocol (local=%d, remote=%lld)",
			       SIGN_RIE_VERSION, version);
	return 0;
}

/* ---- Signed certificates ---------------------------------------------------- */

long sign_cert(const struct sign_secret *s, const char *salt, const void *der, size_t len,
	       char *out, size_t cap)
{
	char hmac[SIGN_HMAC_LEN];
	if (!sign_salt_ok(salt))
		return err_set("bad salt");
	/* The header first with a placeholder HMAC, then the PEM, then the HMAC over the PEM. */
	int h = snprintf(out, cap, "%s: %s/%040d\n\n", SIGN_CERT_HEADER, salt, 0);
	if (h < 0 || (size_t)h >= cap)
		return err_set("signed certificate does not fit in %zu bytes", cap);
	long p = x509_pem_encode(out + h, cap - (size_t)h, "CERTIFICATE", der, len);
	if (p < 0)
		return -1;
	sign_hmac(s, salt, out + h, (size_t)p, hmac);
	memcpy(out + h - 2 - (SIGN_HMAC_LEN - 1), hmac, SIGN_HMAC_LEN - 1);
	return h + p;
}

/* Matches a trimmed line against ^X-Ganeti-Signature:\s*([a-zA-Z0-9]+)/([a-zA-Z0-9]+)$ (any case). */
static int parse_signature_line(const char *s, size_t n, char salt[SIGN_SALT_MAX + 1],
				char hmac[SIGN_HMAC_LEN])
{
	static const char hdr[] = SIGN_CERT_HEADER ":";
	size_t k = sizeof(hdr) - 1, i;
	if (n < k || strncasecmp(s, hdr, k) != 0)
		return 0;
	i = k;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f' || s[i] == '\v'))
		i++;
	size_t a = i;
	while (i < n && alnum(s[i]))
		i++;
	size_t salt_len = i - a;
	if (salt_len == 0 || i >= n || s[i] != '/')
		return 0;
	size_t b = ++i;
	while (i < n && alnum(s[i]))
		i++;
	size_t sig_len = i - b;
	if (sig_len == 0 || i != n)
		return 0;
	/* Well-formed but out of our bounds: a signature that cannot match. */
	if (salt_len > SIGN_SALT_MAX || sig_len != SIGN_HMAC_LEN - 1)
		return -1;
	memcpy(salt, s + a, salt_len);
	salt[salt_len] = 0;
	memcpy(hmac, s + b, sig_len);
	hmac[sig_len] = 0;
	return 1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int sign_cert_verify(const struct sign_secret *s, const char *text, size_t len, uint8_t *der,
		     size_t cap, size_t *der_len, char salt_out[SIGN_SALT_MAX + 1])
{
	char salt[SIGN_SALT_MAX + 1], hmac[SIGN_HMAC_LEN];
	int found = 0;
	for (size_t pos = 0; pos < len && !found;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + 1;
		if (n >= 3 && memcmp(line, "---", 3) == 0)
			break;
		while (n && is_space(line[0])) {
			line++;
			n--;
		}
		while (n && is_space(line[n - 1]))
			n--;
		found = parse_signature_line(line, n, salt, hmac);
	}
	if (found == 0)
		return err_set("X509 certificate signature is missing");
	if (found < 0)
		return err_set("X509 certificate signature is invalid");
	long d = x509_cert_from_pem(text, len, der, cap);
	struct x509_cert_info info;
	if (d < 0 || x509_cert_parse(der, (size_t)d, &info) < 0)
		return err_prefix("X509 certificate");
	/* Ganeti re-dumps the certificate so that only its canonical PEM is signed. */
	size_t pem_cap = X509_PEM_LEN((size_t)d, 11) + 1;
	char *pem = malloc(pem_cap);
	if (!pem)
		return err_set("out of memory");
	long p = x509_pem_encode(pem, pem_cap, "CERTIFICATE", der, (size_t)d);
	int r = p < 0 ? -1 : sign_hmac_check(s, salt, pem, (size_t)p, hmac);
	free(pem);
	if (r < 0)
		return err_set("X509 certificate signature is invalid");
	*der_len = (size_t)d;
	if (salt_out)
		memcpy(salt_out, salt, strlen(salt) + 1);
	return 0;
}

/* ---- Disk info and magic --------------------------------------------------- */

static int disk_message(char *buf, size_t cap, unsigned idx, const char *host, long long port,
			const char *magic)
{
	int n = snprintf(buf, cap, "%u:%s:%lld:%s", idx, host, port, magic);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int sign_disk_info(const struct sign_secret *s, unsigned idx, const char *host, unsigned port,
		   const char *magic, const char *salt, char hmac[SIGN_HMAC_LEN])
{
	char msg[2 * SIGN_NAME_MAX + 64];
	if (!host[0] || strlen(host) > SIGN_NAME_MAX || port == 0 || port > 65535 ||
	    !sign_magic_ok(magic) || !sign_salt_ok(salt))
		return err_set("disk info: bad host, port, magic or salt");
	int n = disk_message(msg, sizeof(msg), idx, host, port, magic);
	if (n < 0)
		return err_set("disk info: message too long");
	sign_hmac(s, salt, msg, (size_t)n, hmac);
	return 0;
}

int sign_disk_info_check(const struct sign_secret *s, unsigned idx, const char *host,
			 long long port, const char *magic, const char *hmac, const char *salt)
{
	char msg[2 * SIGN_NAME_MAX + 64];
	if (!host || !host[0] || port == 0 || !magic || !magic[0])
		return err_set("Target info for disk %u: Missing destination host, port or magic",
			       idx);
	int n = strlen(host) > SIGN_NAME_MAX || strlen(magic) > SIGN_NAME_MAX
			? -1
			: disk_message(msg, sizeof(msg), idx, host, port, magic);
	if (n < 0 || sign_hmac_check(s, salt, msg, (size_t)n, hmac) < 0)
		return err_set("Target info for disk %u: HMAC is wrong", idx);
	if (port < 0 || port >= 65536)
		return err_set("Target info for disk %u: Invalid port %lld", idx, port);
	if (!sign_magic_ok(magic))
		return err_set("Target info for disk %u: Invalid magic", idx);
	return 0;
}

int sign_magic_base(char out[SIGN_MAGIC_BASE_LEN + 1])
{
	return random_hex(out, SIGN_MAGIC_BASE_LEN);
}

void sign_magic(char out[SHA1_HEX_SIZE], const char *base, const char *instance, unsigned idx)
{
	char num[24];
	uint8_t d[SHA1_LEN];
	br_sha1_context c;
	br_sha1_init(&c);
	int n = snprintf(num, sizeof(num), "%d", SIGN_RIE_VERSION);
	br_sha1_update(&c, num, (size_t)n);
	br_sha1_update(&c, base, strlen(base));
	br_sha1_update(&c, instance, strlen(instance));
	n = snprintf(num, sizeof(num), "%u", idx);
	br_sha1_update(&c, num, (size_t)n);
	br_sha1_out(&c, d);
	hex_encode(out, d, sizeof(d));
}

int sign_magic_ok(const char *magic)
{
	size_t n = strnlen(magic, SIGN_MAGIC_MAX + 1);
	if (n < SIGN_MAGIC_MIN || n > SIGN_MAGIC_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!alnum(magic[i]) && magic[i] != '-' && magic[i] != '_' && magic[i] != '.')
			return 0;
	return 1;
}
