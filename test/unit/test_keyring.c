/* Unit tests of crypto/keyring: missing files, store/load round trips, -f semantics, first-start generation. */
#define CHECK_SUITE "keyring"
#include "test/unit/check.h"
#include "test/unit/proc.h"

#include "core/err.h"
#include "crypto/keyring.h"

static char root[] = "/tmp/ferry-keyring.XXXXXX";

static void test_secret(void)
{
	struct sign_secret s, back;
	CHECK_INT(keyring_secret_load(root, &s), KEYRING_MISSING);
	CHECK(strstr(err_msg(), "--new-cluster-domain-secret") != NULL);
	CHECK_INT(sign_secret_parse(&s, "first secret\n", 13), 0);
	CHECK_INT(keyring_secret_store(root, &s, 0), 0);
	CHECK_INT(keyring_secret_load(root, &back), 0);
	CHECK_STR(back.key, "first secret");
	CHECK_INT(sign_secret_parse(&s, "second", 6), 0);
	CHECK_INT(keyring_secret_store(root, &s, 0), -1);
	CHECK(strstr(err_msg(), "use -f") != NULL);
	CHECK_INT(keyring_secret_load(root, &back), 0);
	CHECK_STR(back.key, "first secret");
	CHECK_INT(keyring_secret_store(root, &s, 1), 0);
	CHECK_INT(keyring_secret_load(root, &back), 0);
	CHECK_STR(back.key, "second");
	char path[512];
	struct stat st;
	CHECK_INT(keyring_path(path, sizeof(path), root, KEYRING_SECRET_FILE), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	/* A broken file is an error, not "missing". */
	CHECK_INT(proc_write_file(path, "a\nb\n", 4), 0);
	CHECK_INT(keyring_secret_load(root, &back), -1);
	CHECK(strstr(err_msg(), path) != NULL);
}

static void test_rapi(void)
{
	static struct x509_identity a, b;
	int created = -1;
	CHECK_INT(keyring_rapi_load(root, &a), KEYRING_MISSING);
	CHECK_INT(keyring_rapi_ensure(root, &a, &created), 0);
	CHECK_INT(created, 1);
	CHECK_INT(keyring_rapi_ensure(root, &b, &created), 0);
	CHECK_INT(created, 0);
	CHECK_EQUALS(b.cert, b.cert_len, a.cert, a.cert_len);
	CHECK_EQUALS(b.key.der, b.key.der_len, a.key.der, a.key.der_len);
	struct x509_cert_info info;
	CHECK_INT(x509_cert_parse(a.cert, a.cert_len, &info), 0);
	CHECK_INT(info.not_after - info.not_before, KEYRING_RAPI_LIFETIME_SECONDS);
	CHECK_INT(info.is_ca, 1);
	/* Replacing needs force; the stored pair always matches. */
	const char *names[] = {"api.example.com", "10.1.2.3", NULL};
	CHECK_INT(keyring_rapi_generate(&b, X509_KEY_EC, names), 0);
	CHECK_INT(x509_cert_parse(b.cert, b.cert_len, &info), 0);
	CHECK_STR(info.cn, "api.example.com");
	CHECK_INT(keyring_rapi_store(root, &b, 0), -1);
	CHECK_INT(keyring_rapi_store(root, &b, 1), 0);
	CHECK_INT(keyring_rapi_load(root, &a), 0);
	CHECK_EQUALS(a.cert, a.cert_len, b.cert, b.cert_len);
	/* A certificate with someone else's key is refused. */
	static struct x509_identity c;
	CHECK_INT(keyring_rapi_generate(&c, X509_KEY_EC, NULL), 0);
	c.key = a.key;
	memcpy(c.key.der, a.key.der, a.key.der_len);
	CHECK_INT(keyring_rapi_store(root, &c, 1), 0); /* the store does not judge ... */
	CHECK_INT(keyring_rapi_load(root, &b), -1);    /* ... the load does */
	CHECK(strstr(err_msg(), "not for the private key") != NULL);
	x509_identity_wipe(&a);
	CHECK_INT(a.cert_len, 0);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_secret);
	RUN(test_rapi);
	proc_rm_dir(root);
	return CHECK_DONE();
}
