/* Unit tests of crypto/sign: Ganeti's vectors, the domain secret file, signed certificates and disk info. */
#define CHECK_SUITE "sign"
#include "test/unit/check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "crypto/sign.h"
#include "crypto/x509.h"

/* The vectors of the research notes (Ganeti's Sha1Hmac checked with Python's hmac). */
#define CDS   "0123456789abcdef0123456789abcdef01234567"
#define SALT  "0011223344556677"
#define MAGIC "3f786850e387550fdab836ed7e6dc881de23001b"

static struct sign_secret secret(const char *text)
{
	struct sign_secret s;
	if (sign_secret_parse(&s, text, strlen(text)) < 0)
		fprintf(stderr, "secret: %s\n", err_msg());
	return s;
}

static int has(const char *needle)
{
	if (strstr(err_msg(), needle))
		return 1;
	fprintf(stderr, "    error was: %s\n    wanted: %s\n", err_msg(), needle);
	return 0;
}

static void test_ganeti_vectors(void)
{
	struct sign_secret s = secret(CDS "\n");
	char mac[SIGN_HMAC_LEN], magic[SHA1_HEX_SIZE];
	const char *hs = "0:Hi, I'm Ganeti", *key_name = "x509-20240101000000-abcdef";
	sign_hmac(&s, SALT, hs, strlen(hs), mac);
	CHECK_STR(mac, "5883446f5475961fdae0b741b519e1b5cf2dc1ba");
	sign_hmac(&s, SALT, key_name, strlen(key_name), mac);
	CHECK_STR(mac, "6ba67c0330078e68b14418f70cd3f30291dccb7c");
	CHECK_INT(sign_disk_info(&s, 0, "192.0.2.10", 40123, MAGIC, SALT, mac), 0);
	CHECK_STR(mac, "351e2d14ab8a57ce05e16b99e741411d6cf31d76");
	sign_magic(magic, "a1b2c3d4e5f6", "inst1.example.com", 0);
	CHECK_STR(magic, "fb4ac43ab6b73df33e1c375865e788eb633799c5");
	/* An empty salt prepends nothing: plain HMAC-SHA1 (RFC 2202 case 2). */
	struct sign_secret jefe = secret("Jefe");
	const char *w = "what do ya want for nothing?";
	sign_hmac(&jefe, "", w, strlen(w), mac);
	CHECK_STR(mac, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

static void test_hmac_check(void)
{
	struct sign_secret s = secret(CDS);
	const char *m = "x509-20240101000000-abcdef";
	CHECK_INT(
		sign_hmac_check(&s, SALT, m, strlen(m), "6ba67c0330078e68b14418f70cd3f30291dccb7c"),
		0);
	/* Ganeti lowercases the received digest before comparing. */
	CHECK_INT(
		sign_hmac_check(&s, SALT, m, strlen(m), "6BA67C0330078E68B14418F70CD3F30291DCCB7C"),
		0);
	CHECK_INT(
		sign_hmac_check(&s, SALT, m, strlen(m), "6ba67c0330078e68b14418f70cd3f30291dccb7d"),
		-1);
	CHECK(has("HMAC is wrong"));
	CHECK_INT(
		sign_hmac_check(&s, SALT, m, strlen(m), "6ba67c0330078e68b14418f70cd3f30291dccb7"),
		-1);
	CHECK_INT(sign_hmac_check(&s, "0011223344556676", m, strlen(m),
				  "6ba67c0330078e68b14418f70cd3f30291dccb7c"),
		  -1);
	CHECK_INT(sign_hmac_check(&s, "00/1", m, strlen(m),
				  "6ba67c0330078e68b14418f70cd3f30291dccb7c"),
		  -1);
	struct sign_secret other = secret("0123456789abcdef0123456789abcdef01234568");
	CHECK_INT(sign_hmac_check(&other, SALT, m, strlen(m),
				  "6ba67c0330078e68b14418f70cd3f30291dccb7c"),
		  -1);
}

static void test_handshake(void)
{
	struct sign_secret s = secret(CDS), other = secret("another secret");
	char salt[SIGN_SALT_LEN + 1], mac[SIGN_HMAC_LEN];
	CHECK_INT(sign_handshake_check(&s, 0, "5883446f5475961fdae0b741b519e1b5cf2dc1ba", SALT), 0);
	CHECK_INT(sign_handshake(&s, salt, mac), 0);
	CHECK_INT(strlen(salt), SIGN_SALT_LEN);
	CHECK_INT(sign_handshake_check(&s, 0, mac, salt), 0);
	CHECK_INT(sign_handshake_check(&other, 0, mac, salt), -1);
	CHECK_STR(err_msg(), "Invalid handshake: Hash didn't match, clusters don't share the same "
			     "domain secret");
	mac[3] ^= 1;
	CHECK_INT(sign_handshake_check(&s, 0, mac, salt), -1);
	/* A correctly signed handshake of another protocol version. */
	const char *v1 = "1:Hi, I'm Ganeti";
	sign_hmac(&s, salt, v1, strlen(v1), mac);
	CHECK_INT(sign_handshake_check(&s, 1, mac, salt), -1);
	CHECK_STR(err_msg(), "Invalid handshake: Clusters don't have the same remote import/export "
			     "protocol (local=0, remote=1)");
	/* ... whose HMAC does not pass for version 0. */
	CHECK_INT(sign_handshake_check(&s, 0, mac, salt), -1);
	CHECK(has("Hash didn't match"));
}

static void test_salts_and_magic(void)
{
	char a[SIGN_SALT_LEN + 1], b[SIGN_SALT_LEN + 1], base[SIGN_MAGIC_BASE_LEN + 1];
	CHECK_INT(sign_salt(a), 0);
	CHECK_INT(sign_salt(b), 0);
	CHECK_INT(strlen(a), 16);
	CHECK(strspn(a, "0123456789abcdef") == 16);
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(sign_magic_base(base), 0);
	CHECK_INT(strlen(base), 12);
	CHECK(strspn(base, "0123456789abcdef") == 12);
	CHECK_INT(sign_salt_ok(a), 1);
	CHECK_INT(sign_salt_ok(""), 0);
	CHECK_INT(sign_salt_ok("ab-cd"), 0);
	CHECK_INT(sign_magic_ok(MAGIC), 1);
	CHECK_INT(sign_magic_ok("a-b_c.d"), 1);
	CHECK_INT(sign_magic_ok("abcd"), 0); /* fewer than 5 */
	CHECK_INT(sign_magic_ok("abc/def"), 0);
	char big[102];
	memset(big, 'a', 101);
	big[101] = 0;
	CHECK_INT(sign_magic_ok(big), 0);
	big[100] = 0;
	CHECK_INT(sign_magic_ok(big), 1);
}

static void test_disk_info(void)
{
	struct sign_secret s = secret(CDS), other = secret("x");
	const char *mac = "351e2d14ab8a57ce05e16b99e741411d6cf31d76";
	CHECK_INT(sign_disk_info_check(&s, 0, "192.0.2.10", 40123, MAGIC, mac, SALT), 0);
	CHECK_INT(sign_disk_info_check(&other, 0, "192.0.2.10", 40123, MAGIC, mac, SALT), -1);
	CHECK_STR(err_msg(), "Target info for disk 0: HMAC is wrong");
	/* Redirection attempts: another disk index, host or port under the same HMAC. */
	CHECK_INT(sign_disk_info_check(&s, 1, "192.0.2.10", 40123, MAGIC, mac, SALT), -1);
	CHECK_STR(err_msg(), "Target info for disk 1: HMAC is wrong");
	CHECK_INT(sign_disk_info_check(&s, 0, "192.0.2.11", 40123, MAGIC, mac, SALT), -1);
	CHECK_INT(sign_disk_info_check(&s, 0, "192.0.2.10", 40124, MAGIC, mac, SALT), -1);
	CHECK_INT(sign_disk_info_check(&s, 0, "", 40123, MAGIC, mac, SALT), -1);
	CHECK_STR(err_msg(), "Target info for disk 0: Missing destination host, port or magic");
	CHECK_INT(sign_disk_info_check(&s, 0, "192.0.2.10", 0, MAGIC, mac, SALT), -1);
	CHECK(has("Missing destination"));
	/* Signed, but the port is out of range. */
	char m[SIGN_HMAC_LEN];
	const char *msg = "2:192.0.2.10:70000:" MAGIC;
	sign_hmac(&s, SALT, msg, strlen(msg), m);
	CHECK_INT(sign_disk_info_check(&s, 2, "192.0.2.10", 70000, MAGIC, m, SALT), -1);
	CHECK_STR(err_msg(), "Target info for disk 2: Invalid port 70000");
	/* IPv6 literals go in without brackets. */
	CHECK_INT(sign_disk_info(&s, 3, "2001:db8::1", 1234, MAGIC, SALT, m), 0);
	CHECK_INT(sign_disk_info_check(&s, 3, "2001:db8::1", 1234, MAGIC, m, SALT), 0);
	CHECK_INT(sign_disk_info(&s, 3, "h", 0, MAGIC, SALT, m), -1);
	CHECK_INT(sign_disk_info(&s, 3, "h", 1, "bad/magic", SALT, m), -1);
}

static void test_secret_parse(void)
{
	struct sign_secret s;
	CHECK_INT(sign_secret_parse(&s, CDS "\n", 41), 0);
	CHECK_STR(s.key, CDS);
	CHECK_INT(s.len, 40);
	/* Empty lines around it do not count; CR LF and CR end lines too. */
	const char *t = "\n\r\n" CDS "\r\n\n";
	CHECK_INT(sign_secret_parse(&s, t, strlen(t)), 0);
	CHECK_STR(s.key, CDS);
	/* Spaces are part of the key (Ganeti does not strip them). */
	CHECK_INT(sign_secret_parse(&s, " a b \n", 6), 0);
	CHECK_STR(s.key, " a b ");
	CHECK_INT(sign_secret_parse(&s, "abc", 3), 0); /* no final newline */
	CHECK_STR(s.key, "abc");
	CHECK_INT(sign_secret_parse(&s, "abc\ndef\n", 8), -1);
	CHECK(has("more than one non-empty line"));
	CHECK_INT(sign_secret_parse(&s, "abc\rdef", 7), -1);
	CHECK_INT(sign_secret_parse(&s, " \nabc\n", 6), -1); /* a line of blanks is not empty */
	CHECK_INT(sign_secret_parse(&s, "\n\n", 2), -1);
	CHECK(has("no data"));
	CHECK_INT(sign_secret_parse(&s, "", 0), -1);
	CHECK_INT(sign_secret_parse(&s, "ab\0c\n", 5), -1);
	CHECK(has("not printable"));
	CHECK_INT(sign_secret_parse(&s, "ab\vc\n", 5), -1);
	CHECK_INT(sign_secret_parse(&s, "caf\xc3\xa9\n", 6), -1);
	char big[SIGN_SECRET_MAX + 2];
	memset(big, 'k', sizeof(big));
	CHECK_INT(sign_secret_parse(&s, big, SIGN_SECRET_MAX), 0);
	CHECK_INT(sign_secret_parse(&s, big, SIGN_SECRET_MAX + 1), -1);
	sign_secret_wipe(&s);
	CHECK_INT(s.len, 0);
}

static void test_secret_file(void)
{
	char dir[] = "/tmp/ferry-sign.XXXXXX", path[64], link[64];
	struct sign_secret s;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/domain-secret", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	char gen[SIGN_SECRET_GEN_LEN + 1], gen2[SIGN_SECRET_GEN_LEN + 1];
	CHECK_INT(sign_secret_generate(gen), 0);
	CHECK_INT(sign_secret_generate(gen2), 0);
	CHECK_INT(strlen(gen), 40);
	CHECK(strspn(gen, "0123456789abcdef") == 40);
	CHECK(strcmp(gen, gen2) != 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, gen, 40) == 40 && write(fd, "\n", 1) == 1);
	close(fd);
	CHECK_INT(sign_secret_load(&s, path), 0);
	CHECK_STR(s.key, gen);
	CHECK(symlink(path, link) == 0);
	CHECK_INT(sign_secret_load(&s, link), -1);
	CHECK_INT(sign_secret_load(&s, "/nonexistent/secret"), -1);
	CHECK(has("/nonexistent/secret"));
	unlink(link);
	unlink(path);
	rmdir(dir);
}

static void test_fingerprint(void)
{
	struct sign_secret a = secret(CDS), b = secret(CDS "\n"), c = secret("other");
	char fa[SIGN_FINGERPRINT_SIZE], fb[SIGN_FINGERPRINT_SIZE], fc[SIGN_FINGERPRINT_SIZE];
	sign_secret_fingerprint(&a, fa);
	sign_secret_fingerprint(&b, fb);
	sign_secret_fingerprint(&c, fc);
	CHECK_INT(strlen(fa), 32);
	CHECK_STR(fa, fb);
	CHECK(strcmp(fa, fc) != 0);
	CHECK(strstr(fa, "0123456789") == NULL);
}

/* An openssl certificate signed the way Ganeti does it, computed with Python's hmac. */
static const char openssl_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBcjCCARegAwIBAgIUXnTMj/Ef0yiUtvfeb2Kl/32fw2UwCgYIKoZIzj0EAwIw\n"
	"DjEMMAoGA1UEAwwDZm9vMB4XDTI2MTEyNDIyMDY1OFoXDTI2MTEyNjIyMDY1OFow\n"
	"DjEMMAoGA1UEAwwDZm9vMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMIIMsbA6\n"
	"sZAsUI98Jq54wAAkHyMUpg2g682DBCWi8lqcQPQQSNhB1ueCDD2/vQ1F13aBjVrQ\n"
	"dg/0QPvlLR34Y6NTMFEwHQYDVR0OBBYEFJwq5VfPW3qvo+gvU7smPQnIcIvuMB8G\n"
	"A1UdIwQYMBaAFJwq5VfPW3qvo+gvU7smPQnIcIvuMA8GA1UdEwEB/wQFMAMBAf8w\n"
	"CgYIKoZIzj0EAwIDSQAwRgIhAPCC9K56xOq5S6ganh2SQnYNhxclkm/gNe3bBajh\n"
	"sChlAiEA7wqyzQ1+vSPyms6Zek3C+8QtmPuHo82XVWKu1Chuv7I=\n"
	"-----END CERTIFICATE-----\n";
#define OPENSSL_PEM_SIG "X-Ganeti-Signature: " SALT "/020baecbdeacb740c5b03de65a424bb9ac14a298\n\n"

static void test_signed_cert_vector(void)
{
	struct sign_secret s = secret(CDS);
	uint8_t der[X509_CERT_DER_MAX], back[X509_CERT_DER_MAX];
	size_t back_len = 0;
	char text[SIGN_CERT_SIZE(1024)];
	long n = x509_cert_from_pem(openssl_pem, strlen(openssl_pem), der, sizeof(der));
	CHECK(n > 0);
	long t = sign_cert(&s, SALT, der, (size_t)n, text, sizeof(text));
	CHECK_STR(text, OPENSSL_PEM_SIG
		  "-----BEGIN CERTIFICATE-----\n"
		  "MIIBcjCCARegAwIBAgIUXnTMj/Ef0yiUtvfeb2Kl/32fw2UwCgYIKoZIzj0EAwIw\n"
		  "DjEMMAoGA1UEAwwDZm9vMB4XDTI2MTEyNDIyMDY1OFoXDTI2MTEyNjIyMDY1OFow\n"
		  "DjEMMAoGA1UEAwwDZm9vMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMIIMsbA6\n"
		  "sZAsUI98Jq54wAAkHyMUpg2g682DBCWi8lqcQPQQSNhB1ueCDD2/vQ1F13aBjVrQ\n"
		  "dg/0QPvlLR34Y6NTMFEwHQYDVR0OBBYEFJwq5VfPW3qvo+gvU7smPQnIcIvuMB8G\n"
		  "A1UdIwQYMBaAFJwq5VfPW3qvo+gvU7smPQnIcIvuMA8GA1UdEwEB/wQFMAMBAf8w\n"
		  "CgYIKoZIzj0EAwIDSQAwRgIhAPCC9K56xOq5S6ganh2SQnYNhxclkm/gNe3bBajh\n"
		  "sChlAiEA7wqyzQ1+vSPyms6Zek3C+8QtmPuHo82XVWKu1Chuv7I=\n"
		  "-----END CERTIFICATE-----\n");
	CHECK_INT(t, (long)strlen(text));
	CHECK_INT(sign_cert_verify(&s, text, (size_t)t, back, sizeof(back), &back_len, NULL), 0);
	CHECK_EQUALS(back, back_len, der, (size_t)n);
}

/* A fresh EC certificate for the signed-PEM tests. */
static long make_cert(uint8_t *der, size_t cap)
{
	struct x509_key key;
	struct x509_cert_spec spec = {"node1.example.com", NULL, 0, 86400};
	if (x509_key_generate(&key, X509_KEY_EC, 256) < 0)
		return -1;
	long n = x509_cert_create(&key, &spec, der, cap);
	x509_key_wipe(&key);
	return n;
}

static void test_signed_cert(void)
{
	struct sign_secret s = secret(CDS), other = secret("not the same secret");
	uint8_t der[X509_CERT_DER_MAX], back[X509_CERT_DER_MAX];
	size_t back_len = 0;
	char text[SIGN_CERT_SIZE(2048)], salt[SIGN_SALT_MAX + 1];
	long n = make_cert(der, sizeof(der));
	CHECK(n > 0);
	long t = sign_cert(&s, SALT, der, (size_t)n, text, sizeof(text));
	CHECK(t > 0);
	CHECK(strncmp(text, "X-Ganeti-Signature: " SALT "/", 37) == 0);
	CHECK(strstr(text, "\n\n-----BEGIN CERTIFICATE-----\n") != NULL);
	/* The HMAC is over exactly the PEM after the blank line. */
	char mac[SIGN_HMAC_LEN];
	const char *pem = strstr(text, "-----BEGIN");
	sign_hmac(&s, SALT, pem, strlen(pem), mac);
	CHECK(strncmp(text + 37, mac, 40) == 0);

	CHECK_INT(sign_cert_verify(&s, text, (size_t)t, back, sizeof(back), &back_len, salt), 0);
	CHECK_EQUALS(back, back_len, der, (size_t)n);
	CHECK_STR(salt, SALT);

	CHECK_INT(sign_cert_verify(&other, text, (size_t)t, back, sizeof(back), &back_len, NULL),
		  -1);
	CHECK_STR(err_msg(), "X509 certificate signature is invalid");

	/* Tampered signature, tampered certificate body, missing header. */
	char bad[sizeof(text)];
	memcpy(bad, text, (size_t)t + 1);
	bad[40] = bad[40] == 'a' ? 'b' : 'a';
	CHECK_INT(sign_cert_verify(&s, bad, (size_t)t, back, sizeof(back), &back_len, NULL), -1);
	CHECK(has("signature is invalid"));
	memcpy(bad, text, (size_t)t + 1);
	char *body = strstr(bad, "-----BEGIN CERTIFICATE-----\n") + 28 + 100;
	*body = *body == 'A' ? 'B' : 'A';
	CHECK_INT(sign_cert_verify(&s, bad, (size_t)t, back, sizeof(back), &back_len, NULL), -1);
	CHECK_INT(sign_cert_verify(&s, pem, strlen(pem), back, sizeof(back), &back_len, NULL), -1);
	CHECK_STR(err_msg(), "X509 certificate signature is missing");
	/* A header after the BEGIN line does not count. */
	snprintf(bad, sizeof(bad), "%s%.*s", pem, 59, text);
	CHECK_INT(sign_cert_verify(&s, bad, strlen(bad), back, sizeof(back), &back_len, NULL), -1);
	CHECK(has("missing"));
}

static void test_signed_cert_lenient_forms(void)
{
	struct sign_secret s = secret(CDS);
	uint8_t der[X509_CERT_DER_MAX], back[X509_CERT_DER_MAX];
	size_t back_len;
	char text[SIGN_CERT_SIZE(2048)], odd[SIGN_CERT_SIZE(2048) + 256], mac[SIGN_HMAC_LEN];
	long n = make_cert(der, sizeof(der));
	long t = sign_cert(&s, SALT, der, (size_t)n, text, sizeof(text));
	CHECK(n > 0 && t > 0);
	const char *pem = strstr(text, "-----BEGIN");
	memcpy(mac, text + 37, 40);
	mac[40] = 0;
	for (char *p = mac; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
	/* Other case, blanks, other lines before it: Ganeti's regex still finds it. */
	snprintf(odd, sizeof(odd), "Some: comment\n  x-ganeti-signature:\t" SALT "/%s  \r\n\n%s",
		 mac, pem);
	CHECK_INT(sign_cert_verify(&s, odd, strlen(odd), back, sizeof(back), &back_len, NULL), 0);
	CHECK_EQUALS(back, back_len, der, (size_t)n);

	/* Non-canonical PEM (32-character lines) is re-encoded before the HMAC check,
	   so the signature over the canonical form holds ... */
	char *o = odd;
	o += sprintf(o, "X-Ganeti-Signature: %s/%.40s\n\n-----BEGIN CERTIFICATE-----\n", SALT,
		     text + 37);
	const char *b64 = pem + 28;
	const char *end = strstr(b64, "-----END");
	for (const char *p = b64; p < end; p++) {
		if (*p == '\n')
			continue;
		*o++ = *p;
		if ((o - odd) % 33 == 0)
			*o++ = '\n';
	}
	o += sprintf(o, "\n-----END CERTIFICATE-----\n");
	CHECK_INT(sign_cert_verify(&s, odd, (size_t)(o - odd), back, sizeof(back), &back_len, NULL),
		  0);
	CHECK_EQUALS(back, back_len, der, (size_t)n);
	/* ... and a signature over the non-canonical text does not. */
	const char *odd_pem = strstr(odd, "-----BEGIN");
	char mac2[SIGN_HMAC_LEN];
	sign_hmac(&s, SALT, odd_pem, strlen(odd_pem), mac2);
	memcpy(odd + 37, mac2, 40);
	CHECK_INT(sign_cert_verify(&s, odd, strlen(odd), back, sizeof(back), &back_len, NULL), -1);
	CHECK(has("invalid"));
}

int main(void)
{
	RUN(test_ganeti_vectors);
	RUN(test_hmac_check);
	RUN(test_handshake);
	RUN(test_salts_and_magic);
	RUN(test_disk_info);
	RUN(test_secret_parse);
	RUN(test_secret_file);
	RUN(test_fingerprint);
	RUN(test_signed_cert_vector);
	RUN(test_signed_cert);
	RUN(test_signed_cert_lenient_forms);
	return CHECK_DONE();
}
