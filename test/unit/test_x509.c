/* Unit tests of crypto/x509: certificates and keys checked by openssl, PEM and DER parsing, Ganeti's time rule. */
#define CHECK_SUITE "x509"
#include "test/unit/check.h"
#include "test/unit/proc.h"

#include <stdarg.h>
#include <time.h>

#include "core/err.h"
#include "crypto/x509.h"

static char dir[] = "/tmp/ferry-x509.XXXXXX";
static char out[65536];

static const char *path(const char *name)
{
	static char buf[8][256];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int has(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		return 1;
	fprintf(stderr, "    missing \"%s\" in:\n%s\n", needle, hay);
	return 0;
}

static int err_has(const char *needle)
{
	return has(err_msg(), needle);
}

/* Writes DER as a PEM certificate file NAME. */
static void write_cert(const char *name, const uint8_t *der, size_t len)
{
	char pem[X509_PEM_LEN(X509_CERT_DER_MAX, 11) + 1];
	long n = x509_pem_encode(pem, sizeof(pem), "CERTIFICATE", der, len);
	CHECK(n > 0);
	CHECK_INT(proc_write_file(path(name), pem, (size_t)n), 0);
}

/* Runs openssl with the arguments up to a NULL; returns its status, its output in `out`. */
static int openssl_args(const char *first, ...)
{
	char *argv[24] = {"openssl"};
	va_list ap;
	int n = 1;
	va_start(ap, first);
	for (const char *a = first; a && n < 23; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return proc_run(argv, NULL, out, sizeof(out));
}
#define openssl(...) openssl_args(__VA_ARGS__, NULL)

static void check_with_openssl(const char *name, const uint8_t *der, size_t len, int rsa)
{
	const char *f = path(name);
	write_cert(name, der, len);
	CHECK_INT(openssl("x509", "-in", f, "-noout", "-text"), 0);
	CHECK(has(out, "Version: 3 (0x2)"));
	CHECK(has(out, "Subject: CN = node1.example.com"));
	CHECK(has(out, "Issuer: CN = node1.example.com"));
	CHECK(has(out, "X509v3 Basic Constraints: critical\n                CA:TRUE"));
	CHECK(has(out, "X509v3 Key Usage: critical"));
	CHECK(has(out, "X509v3 Subject Key Identifier"));
	CHECK(has(out, "X509v3 Authority Key Identifier"));
	CHECK(has(out, "DNS:node1.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"));
	if (rsa) {
		CHECK(has(out, "Signature Algorithm: sha256WithRSAEncryption"));
		CHECK(has(out, "Public-Key: (2048 bit)"));
		CHECK(has(out, "Digital Signature, Key Encipherment, Certificate Sign"));
	} else {
		CHECK(has(out, "Signature Algorithm: ecdsa-with-SHA256"));
		CHECK(has(out, "NIST CURVE: P-256"));
		CHECK(has(out, "Digital Signature, Certificate Sign"));
	}
	/* It verifies as its own CA, self-signature included ... */
	CHECK_INT(openssl("verify", "-check_ss_sig", "-CAfile", f, f), 0);
	CHECK(has(out, ": OK"));
	/* ... and openssl's fingerprint is ours. */
	struct x509_cert_info info;
	char fp[X509_FINGERPRINT_SIZE], want[128];
	CHECK_INT(x509_cert_parse(der, len, &info), 0);
	x509_fingerprint_text(fp, info.sha256);
	snprintf(want, sizeof(want), "sha256 Fingerprint=%s\n", fp);
	CHECK_INT(openssl("x509", "-in", f, "-noout", "-fingerprint", "-sha256"), 0);
	CHECK_STR(out, want);

	/* One flipped byte in the signature, or in the signed part: openssl refuses it (a trust
	   anchor's own signature is only checked with -check_ss_sig). */
	uint8_t bad[X509_CERT_DER_MAX];
	memcpy(bad, der, len);
	bad[len - 5] ^= 0x01;
	write_cert("bad.pem", bad, len);
	CHECK_INT(openssl("verify", "-check_ss_sig", "-CAfile", path("bad.pem"), path("bad.pem")),
		  2);
	memcpy(bad, der, len);
	char *cn = memmem(bad, len, "node1", 5);
	CHECK(cn != NULL);
	if (cn)
		cn[0] = 'm';
	write_cert("bad.pem", bad, len);
	CHECK_INT(openssl("verify", "-CAfile", f, path("bad.pem")), 2);
}

static const char *const alt[] = {"node1.example.com", "127.0.0.1", "::1", NULL};

static void test_ec_certificate(void)
{
	struct x509_key key;
	uint8_t der[X509_CERT_DER_MAX];
	struct x509_cert_spec spec = {"node1.example.com", alt, 0, 86400};
	CHECK_INT(x509_key_generate(&key, X509_KEY_EC, 256), 0);
	CHECK_INT(key.type, X509_KEY_EC);
	CHECK_INT(key.bits, 256);
	int64_t before = time(NULL);
	long n = x509_cert_create(&key, &spec, der, sizeof(der));
	CHECK(n > 0);
	if (n <= 0)
		return;
	check_with_openssl("ec.pem", der, (size_t)n, 0);
	struct x509_cert_info info;
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	CHECK_STR(info.cn, "node1.example.com");
	CHECK_INT(info.key_type, X509_KEY_EC);
	CHECK_INT(info.key_bits, 256);
	CHECK_INT(info.is_ca, 1);
	CHECK(info.not_before >= before && info.not_before <= time(NULL));
	CHECK_INT(info.not_after - info.not_before, 86400);
	CHECK_INT(x509_cert_matches_key(der, (size_t)n, &key), 1);
	/* openssl's checkend agrees with the lifetime. */
	CHECK_INT(openssl("x509", "-in", path("ec.pem"), "-noout", "-checkend", "86000"), 0);
	CHECK(openssl("x509", "-in", path("ec.pem"), "-noout", "-checkend", "86500") != 0);
	x509_key_wipe(&key);
	CHECK_INT(key.der_len, 0);
}

static void test_rsa_certificate(void)
{
	struct x509_key key;
	uint8_t der[X509_CERT_DER_MAX];
	struct x509_cert_spec spec = {"node1.example.com", alt, 0, 5 * 365 * 86400u};
	CHECK_INT(x509_key_generate(&key, X509_KEY_RSA, 2048), 0);
	CHECK_INT(key.type, X509_KEY_RSA);
	CHECK_INT(key.bits, 2048);
	long n = x509_cert_create(&key, &spec, der, sizeof(der));
	CHECK(n > 0);
	if (n <= 0)
		return;
	check_with_openssl("rsa.pem", der, (size_t)n, 1);
	struct x509_cert_info info;
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	CHECK_INT(info.key_type, X509_KEY_RSA);
	CHECK_INT(info.key_bits, 2048);
	CHECK_INT(x509_cert_matches_key(der, (size_t)n, &key), 1);
	/* The key file is PKCS#1 that openssl reads, with the certificate's public key. */
	char pem[8192], pub_cert[4096];
	long p = x509_key_to_pem(&key, pem, sizeof(pem));
	CHECK(p > 0 && strncmp(pem, "-----BEGIN RSA PRIVATE KEY-----\n", 32) == 0);
	CHECK_INT(proc_write_file(path("rsa.key"), pem, (size_t)p), 0);
	CHECK_INT(openssl("rsa", "-in", path("rsa.key"), "-check", "-noout"), 0);
	CHECK(has(out, "RSA key ok"));
	CHECK_INT(openssl("x509", "-in", path("rsa.pem"), "-noout", "-pubkey"), 0);
	snprintf(pub_cert, sizeof(pub_cert), "%.*s", (int)sizeof(pub_cert) - 1, out);
	CHECK_INT(openssl("pkey", "-in", path("rsa.key"), "-pubout"), 0);
	CHECK_STR(out, pub_cert);
	x509_key_wipe(&key);
}

static void test_key_files(void)
{
	struct x509_key key, back;
	char pem[4096], pub_cert[1024];
	uint8_t der[X509_CERT_DER_MAX];
	struct x509_cert_spec spec = {"k", NULL, 0, 60};
	CHECK_INT(x509_key_generate(&key, X509_KEY_EC, 256), 0);
	CHECK_INT(x509_key_save(&key, path("ec.key")), 0);
	struct stat st;
	CHECK_INT(stat(path("ec.key"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(x509_key_load(&back, path("ec.key")), 0);
	CHECK_EQUALS(back.der, back.der_len, key.der, key.der_len);
	CHECK_INT(openssl("ec", "-in", path("ec.key"), "-check", "-noout"), 0);
	/* The public key openssl derives from the key file is the certificate's. */
	long n = x509_cert_create(&key, &spec, der, sizeof(der));
	write_cert("k.pem", der, (size_t)n);
	CHECK_INT(openssl("x509", "-in", path("k.pem"), "-noout", "-pubkey"), 0);
	snprintf(pub_cert, sizeof(pub_cert), "%.*s", (int)sizeof(pub_cert) - 1, out);
	CHECK_INT(openssl("pkey", "-in", path("ec.key"), "-pubout"), 0);
	CHECK_STR(out, pub_cert);
	/* Saving again replaces the file. */
	CHECK_INT(x509_key_generate(&key, X509_KEY_EC, 256), 0);
	CHECK_INT(x509_key_save(&key, path("ec.key")), 0);
	CHECK_INT(x509_key_load(&back, path("ec.key")), 0);
	CHECK_EQUALS(back.der, back.der_len, key.der, key.der_len);
	CHECK_INT(x509_cert_matches_key(der, (size_t)n, &key), 0);
	/* Not a key. */
	long c = x509_pem_encode(pem, sizeof(pem), "CERTIFICATE", der, (size_t)n);
	CHECK_INT(x509_key_from_pem(&back, pem, (size_t)c), -1);
	CHECK(err_has("no private key"));
	CHECK_INT(x509_key_load(&back, path("missing.key")), -1);
	CHECK_INT(x509_key_generate(&back, X509_KEY_EC, 384), -1);
	CHECK_INT(x509_key_generate(&back, X509_KEY_RSA, 1024), -1);
}

/* Keys made by openssl in its usual formats load, and certificates made with them carry them. */
static void test_openssl_keys(void)
{
	struct {
		const char *name, *label;
		char *argv[12];
	} gens[] = {
		{"p8ec.key",
		 "PRIVATE KEY",
		 {"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
		  "-out", "@"}},
		{"sec1.key",
		 "EC PARAMETERS",
		 {"openssl", "ecparam", "-genkey", "-name", "prime256v1", "-out", "@"}},
		{"p384.key",
		 "EC PRIVATE KEY",
		 {"openssl", "ecparam", "-noout", "-genkey", "-name", "secp384r1", "-out", "@"}},
		{"pkcs1.key",
		 "RSA PRIVATE KEY",
		 {"openssl", "genrsa", "-traditional", "-out", "@", "2048"}},
		{"p8rsa.key",
		 "PRIVATE KEY",
		 {"openssl", "genpkey", "-algorithm", "RSA", "-out", "@"}},
	};
	for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
		char **argv = gens[i].argv;
		for (int k = 0; argv[k]; k++)
			if (strcmp(argv[k], "@") == 0)
				argv[k] = (char *)path(gens[i].name);
		CHECK_INT(proc_run(argv, NULL, NULL, 0), 0);
		char text[8192];
		int fd = open(path(gens[i].name), O_RDONLY);
		ssize_t tl = read(fd, text, sizeof(text) - 1);
		close(fd);
		CHECK(tl > 0);
		text[tl > 0 ? tl : 0] = 0;
		CHECK(has(text, gens[i].label));

		struct x509_key key;
		uint8_t der[X509_CERT_DER_MAX];
		struct x509_cert_spec spec = {"imported", NULL, 0, 3600};
		if (!CHECK_INT(x509_key_load(&key, path(gens[i].name)), 0))
			fprintf(stderr, "    %s: %s\n", gens[i].name, err_msg());
		long n = x509_cert_create(&key, &spec, der, sizeof(der));
		CHECK(n > 0);
		if (n <= 0)
			continue;
		CHECK_INT(x509_cert_matches_key(der, (size_t)n, &key), 1);
		write_cert("imp.pem", der, (size_t)n);
		char pub[2048];
		CHECK_INT(openssl("x509", "-in", path("imp.pem"), "-noout", "-pubkey"), 0);
		snprintf(pub, sizeof(pub), "%.*s", (int)sizeof(pub) - 1, out);
		CHECK_INT(openssl("pkey", "-in", path(gens[i].name), "-pubout"), 0);
		CHECK_STR(out, pub);
		CHECK_INT(openssl("verify", "-check_ss_sig", "-CAfile", path("imp.pem"),
				  path("imp.pem")),
			  0);
		x509_key_wipe(&key);
	}
	/* An encrypted key is refused with a clear message. */
	char *enc[] = {"openssl",
		       "genpkey",
		       "-algorithm",
		       "EC",
		       "-pkeyopt",
		       "ec_paramgen_curve:P-256",
		       "-aes256",
		       "-pass",
		       "pass:x",
		       "-out",
		       (char *)path("enc.key"),
		       NULL};
	CHECK_INT(proc_run(enc, NULL, NULL, 0), 0);
	struct x509_key key;
	CHECK_INT(x509_key_load(&key, path("enc.key")), -1);
	CHECK(err_has("encrypted private keys are not supported"));
}

/* A certificate made by openssl parses to what openssl says about it. */
static void test_parse_openssl_cert(void)
{
	char *req[] = {"openssl",  "req",
		       "-x509",	   "-newkey",
		       "rsa:2048", "-nodes",
		       "-subj",	   "/O=Example/CN=other.example.com",
		       "-days",	   "2",
		       "-keyout",  (char *)path("o.key"),
		       "-out",	   (char *)path("o.pem"),
		       NULL};
	CHECK_INT(proc_run(req, NULL, NULL, 0), 0);
	char text[8192];
	int fd = open(path("o.pem"), O_RDONLY);
	ssize_t tl = read(fd, text, sizeof(text));
	close(fd);
	uint8_t der[X509_CERT_DER_MAX];
	long n = x509_cert_from_pem(text, tl > 0 ? (size_t)tl : 0, der, sizeof(der));
	CHECK(n > 0);
	struct x509_cert_info info;
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	CHECK_STR(info.cn, "other.example.com");
	CHECK_INT(info.key_type, X509_KEY_RSA);
	CHECK_INT(info.key_bits, 2048);
	CHECK_INT(info.is_ca, 1);
	CHECK_INT(info.not_after - info.not_before, 2 * 86400);
	char fp[X509_FINGERPRINT_SIZE], want[128];
	x509_fingerprint_text(fp, info.sha256);
	snprintf(want, sizeof(want), "sha256 Fingerprint=%s\n", fp);
	CHECK_INT(openssl("x509", "-in", path("o.pem"), "-noout", "-fingerprint", "-sha256"), 0);
	CHECK_STR(out, want);
	/* The SPKI pin is the SHA-256 of the DER public key openssl prints. */
	char *pub[] = {"openssl", "x509", "-in", (char *)path("o.pem"), "-noout", "-pubkey", NULL};
	char pem[2048];
	CHECK_INT(proc_run(pub, NULL, pem, sizeof(pem)), 0);
	uint8_t spki[1024], h[SHA256_LEN];
	size_t pos = 0, sl = 0;
	char label[X509_PEM_LABEL_MAX + 1];
	CHECK_INT(x509_pem_next(pem, strlen(pem), &pos, label, spki, sizeof(spki), &sl), 1);
	CHECK_STR(label, "PUBLIC KEY");
	sha256(h, spki, sl);
	CHECK_EQUALS(info.spki_sha256, sizeof(h), h, sizeof(h));
	/* A non-CA openssl certificate. */
	char *ee[] = {"openssl",
		      "req",
		      "-x509",
		      "-newkey",
		      "ec",
		      "-pkeyopt",
		      "ec_paramgen_curve:P-256",
		      "-nodes",
		      "-subj",
		      "/CN=leaf",
		      "-addext",
		      "basicConstraints=critical,CA:FALSE",
		      "-keyout",
		      (char *)path("l.key"),
		      "-out",
		      (char *)path("l.pem"),
		      NULL};
	CHECK_INT(proc_run(ee, NULL, NULL, 0), 0);
	fd = open(path("l.pem"), O_RDONLY);
	tl = read(fd, text, sizeof(text));
	close(fd);
	n = x509_cert_from_pem(text, tl > 0 ? (size_t)tl : 0, der, sizeof(der));
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	CHECK_INT(info.is_ca, 0);
	CHECK_STR(info.cn, "leaf");
}

static void test_dates(void)
{
	struct x509_key key;
	uint8_t der[X509_CERT_DER_MAX];
	struct x509_cert_info info;
	CHECK_INT(x509_key_generate(&key, X509_KEY_EC, 256), 0);
	/* 2049-12-31 12:00:00 UTC, one day: UTCTime then GeneralizedTime. */
	struct x509_cert_spec spec = {"dates", NULL, 2524521600LL + 43200, 86400};
	long n = x509_cert_create(&key, &spec, der, sizeof(der));
	CHECK(n > 0);
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	CHECK_INT(info.not_before, 2524521600LL + 43200);
	CHECK_INT(info.not_after, 2524521600LL + 43200 + 86400);
	CHECK(memmem(der, (size_t)n,
		     "\x17\x0d"
		     "491231120000Z",
		     15) != NULL);
	CHECK(memmem(der, (size_t)n,
		     "\x18\x0f"
		     "20500101120000Z",
		     17) != NULL);
	write_cert("d.pem", der, (size_t)n);
	CHECK_INT(openssl("x509", "-in", path("d.pem"), "-noout", "-startdate", "-enddate",
			  "-dateopt", "iso_8601"),
		  0);
	CHECK_STR(out, "notBefore=2049-12-31 12:00:00Z\nnotAfter=2050-01-01 12:00:00Z\n");
	/* Leap day, and a time before 1970. */
	struct x509_cert_spec leap = {"leap", NULL, 951782400, 86400}; /* 2000-02-29 */
	n = x509_cert_create(&key, &leap, der, sizeof(der));
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	CHECK_INT(info.not_before, 951782400);
	CHECK(memmem(der, (size_t)n, "000229000000Z", 13) != NULL);
	struct x509_cert_spec old = {"old", NULL, -86400, 3600};
	n = x509_cert_create(&key, &old, der, sizeof(der));
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	CHECK_INT(info.not_before, -86400);
	CHECK(memmem(der, (size_t)n, "691231000000Z", 13) != NULL);
	struct x509_cert_spec zero = {"z", NULL, 0, 0};
	CHECK_INT(x509_cert_create(&key, &zero, der, sizeof(der)), -1);
	struct x509_cert_spec badcn = {"bad\nname", NULL, 0, 10};
	CHECK_INT(x509_cert_create(&key, &badcn, der, sizeof(der)), -1);
	CHECK_INT(x509_cert_create(&key, &spec, der, 100), -1);
	CHECK(err_has("does not fit"));
	x509_key_wipe(&key);
}

static void test_check_time(void)
{
	struct x509_cert_info info = {0};
	info.not_before = 1700000000;
	info.not_after = 1700086400;
	CHECK_INT(x509_cert_check_time(&info, 1700000000), 0);
	CHECK_INT(x509_cert_check_time(&info, 1700086400), 0);
	CHECK_INT(x509_cert_check_time(&info, 1700086401), -1);
	CHECK_STR(err_msg(), "Certificate is expired (valid from 2023-11-14 22:13:20 to "
			     "2023-11-15 22:13:20)");
	/* A peer clock up to 150 s ahead is tolerated, more is not. */
	CHECK_INT(x509_cert_check_time(&info, 1700000000 - 150), 0);
	CHECK_INT(x509_cert_check_time(&info, 1700000000 - 151), -1);
	CHECK_STR(err_msg(), "Certificate not yet valid (valid from 2023-11-14 22:13:20)");
}

static void test_pem(void)
{
	uint8_t der[300], back[300];
	char pem[1024], label[X509_PEM_LABEL_MAX + 1];
	size_t pos = 0, n;
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (uint8_t)(i * 7);
	long p = x509_pem_encode(pem, sizeof(pem), "TEST", der, sizeof(der));
	CHECK_INT(p, X509_PEM_LEN(300, 4));
	CHECK(strncmp(pem, "-----BEGIN TEST-----\n", 21) == 0);
	CHECK(pem[21 + 64] == '\n'); /* 64-character lines */
	CHECK_INT(x509_pem_next(pem, (size_t)p, &pos, label, back, sizeof(back), &n), 1);
	CHECK_STR(label, "TEST");
	CHECK_EQUALS(back, n, der, sizeof(der));
	CHECK_INT(x509_pem_next(pem, (size_t)p, &pos, label, back, sizeof(back), &n), 0);
	CHECK_INT(x509_pem_encode(pem, 100, "TEST", der, sizeof(der)), -1);

	/* Two blocks with text around them and CR LF line ends. */
	const char *two = "junk\r\n-----BEGIN A-----\r\nAAEC\r\n-----END A-----\r\nmid\n"
			  "-----BEGIN B B-----\nAw==\n-----END B B-----";
	pos = 0;
	CHECK_INT(x509_pem_next(two, strlen(two), &pos, label, back, sizeof(back), &n), 1);
	CHECK_STR(label, "A");
	CHECK_EQUALS(back, n, "\x00\x01\x02", 3);
	CHECK_INT(x509_pem_next(two, strlen(two), &pos, label, back, sizeof(back), &n), 1);
	CHECK_STR(label, "B B");
	CHECK_EQUALS(back, n, "\x03", 1);
	CHECK_INT(x509_pem_next(two, strlen(two), &pos, label, back, sizeof(back), &n), 0);

	const char *bad[] = {
		"-----BEGIN A-----\nAAEC\n",		      /* no END */
		"-----BEGIN A-----\nAAEC\n-----END B-----\n", /* END differs */
		"-----BEGIN A-----\nProc-Type: 4,ENCRYPTED\nAAEC\n-----END A-----\n",
		"-----BEGIN A-----\nAAE\n-----END A-----\n",		       /* truncated */
		"-----BEGIN A-----\nAw==AAEC\n-----END A-----\n",	       /* after padding */
		"-----BEGIN A-----\nAA-C\n-----END A-----\n",		       /* bad character */
		"-----BEGIN a-----\nAAEC\n-----END a-----\n",		       /* bad label */
		"-----BEGIN AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-----\n", /* label too long */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pos = 0;
		CHECK_INT(
			x509_pem_next(bad[i], strlen(bad[i]), &pos, label, back, sizeof(back), &n),
			-1);
	}
	/* Decoded data larger than the buffer. */
	pos = 0;
	CHECK_INT(x509_pem_next(pem, (size_t)p, &pos, label, back, 10, &n), -1);
	CHECK_INT(x509_cert_from_pem(two, strlen(two), back, sizeof(back)), -1);
	CHECK(err_has("no CERTIFICATE"));
}

static void test_parse_rejects(void)
{
	struct x509_key key;
	uint8_t der[X509_CERT_DER_MAX + 2];
	struct x509_cert_info info;
	struct x509_cert_spec spec = {"strict", alt, 0, 100};
	CHECK_INT(x509_key_generate(&key, X509_KEY_EC, 256), 0);
	long n = x509_cert_create(&key, &spec, der, sizeof(der));
	CHECK(n > 0);
	CHECK_INT(x509_cert_parse(der, (size_t)n, &info), 0);
	/* Every truncation fails, as does a trailing byte. */
	int all_fail = 1;
	for (long k = 0; k < n; k++)
		if (x509_cert_parse(der, (size_t)k, &info) == 0)
			all_fail = 0;
	CHECK(all_fail);
	der[n] = 0;
	CHECK_INT(x509_cert_parse(der, (size_t)n + 1, &info), -1);
	/* A non-minimal length (BER) is not DER. */
	uint8_t ber[] = {0x30, 0x81, 0x03, 0x02, 0x01, 0x00};
	CHECK_INT(x509_cert_parse(ber, sizeof(ber), &info), -1);
	uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
	CHECK_INT(x509_cert_parse(indefinite, sizeof(indefinite), &info), -1);
	/* A bad month in notAfter. */
	uint8_t copy[X509_CERT_DER_MAX];
	memcpy(copy, der, (size_t)n);
	uint8_t *t = memmem(copy, (size_t)n, "\x17\x0d", 2);
	CHECK(t != NULL);
	if (t) {
		t = memmem(t + 2, (size_t)(copy + n - t - 2), "\x17\x0d", 2);
		CHECK(t != NULL);
		if (t) {
			t[4] = '1';
			t[5] = '3';
			CHECK_INT(x509_cert_parse(copy, (size_t)n, &info), -1);
			CHECK(err_has("validity"));
		}
	}
	CHECK_INT(x509_cert_parse(der, X509_CERT_DER_MAX + 1, &info), -1);
	x509_key_wipe(&key);
}

static void test_identity(void)
{
	static struct x509_identity id, back, other;
	const char *names[] = {"move.example.com", "192.0.2.7", NULL};
	CHECK_INT(x509_identity_generate(&id, X509_KEY_EC, names, X509_MOVE_LIFETIME_SECONDS), 0);
	struct x509_cert_info info;
	CHECK_INT(x509_cert_parse(id.cert, id.cert_len, &info), 0);
	CHECK_STR(info.cn, "move.example.com");
	CHECK_INT(info.not_after - info.not_before, 86400);
	char *pem;
	size_t len;
	CHECK_INT(x509_identity_to_pem(&id, &pem, &len), 0);
	CHECK_INT(x509_identity_from_pem(&back, pem, len), 0);
	CHECK_EQUALS(back.cert, back.cert_len, id.cert, id.cert_len);
	CHECK_EQUALS(back.key.der, back.key.der_len, id.key.der, id.key.der_len);
	/* openssl sees the same pair in the file. */
	CHECK_INT(proc_write_file(path("id.pem"), pem, len), 0);
	char pub[1024];
	CHECK_INT(openssl("pkey", "-in", path("id.pem"), "-pubout"), 0);
	snprintf(pub, sizeof(pub), "%.*s", (int)sizeof(pub) - 1, out);
	CHECK_INT(openssl("x509", "-in", path("id.pem"), "-noout", "-pubkey"), 0);
	CHECK_STR(out, pub);
	free(pem);
	/* A key with someone else's certificate. */
	CHECK_INT(x509_identity_generate(&other, X509_KEY_EC, names, 60), 0);
	other.key = id.key;
	CHECK_INT(x509_identity_to_pem(&other, &pem, &len), 0);
	CHECK_INT(x509_identity_from_pem(&back, pem, len), -1);
	CHECK(err_has("not for the private key"));
	free(pem);
	const char *none[] = {NULL};
	CHECK_INT(x509_identity_generate(&back, X509_KEY_EC, none, 60), -1);
	x509_identity_wipe(&id);
	CHECK_INT(id.cert_len, 0);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_ec_certificate);
	RUN(test_rsa_certificate);
	RUN(test_key_files);
	RUN(test_openssl_keys);
	RUN(test_parse_openssl_cert);
	RUN(test_dates);
	RUN(test_check_time);
	RUN(test_pem);
	RUN(test_parse_rejects);
	RUN(test_identity);
	proc_rm_dir(dir);
	return CHECK_DONE();
}
