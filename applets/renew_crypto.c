/* ferry renew-crypto: manage the cluster domain secret and the API key and certificate. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/io.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/utc.h"
#include "crypto/keyring.h"
#include "crypto/sign.h"
#include "crypto/x509.h"

static const char usage[] =
	"usage: ferry renew-crypto [--root DIR] [-f] [--new-cluster-domain-secret | --cluster-domain-secret=FILE]\n"
	"                          [--new-rapi-certificate [--rapi-key-type=ec|rsa] [--rapi-name=NAME]... |\n"
	"                           --rapi-certificate=FILE] [--show] [--show-rapi-certificate]\n"
	"\n"
	"Manage this node's cluster crypto files in ROOT/conf/cluster (docs/cluster-crypto.md): the\n"
	"cluster domain secret, which clusters that move instances between each other must share, and\n"
	"the key and certificate of the API server (ferry rapi). Option names follow Ganeti's\n"
	"gnt-cluster renew-crypto. Changes come first, then what --show asks for.\n"
	"\n"
	"  --new-cluster-domain-secret   generate a new random secret (40 hex digits)\n"
	"  --cluster-domain-secret=FILE  install the secret in FILE (its one non-empty line, as Ganeti\n"
	"                                reads it), e.g. a copy of another cluster's; - is stdin\n"
	"  --new-rapi-certificate        generate a new API key and self-signed certificate (5 years)\n"
	"  --rapi-key-type=ec|rsa        its key: ECDSA P-256 (default) or RSA 2048\n"
	"  --rapi-name=NAME              a host name or IP address for it (repeatable; the first is the\n"
	"                                CN); default: this host's name, localhost, 127.0.0.1, ::1\n"
	"  --rapi-certificate=FILE       install a PEM file holding a private key and its certificate\n"
	"  -f, --force                   replace an existing secret or certificate\n"
	"  --show                        print the secret's fingerprint (never the secret: compare it\n"
	"                                between clusters) and the API certificate's names, validity\n"
	"                                and SHA-256 fingerprint\n"
	"  --show-rapi-certificate       print the API certificate (PEM), for clients' CA files\n"
	"  --root DIR                    state root (default: $FERRY_ROOT or /var/lib/ferry)\n";

enum {
	OPT_ROOT = 1,
	OPT_NEW_SECRET,
	OPT_SECRET,
	OPT_NEW_RAPI,
	OPT_RAPI,
	OPT_KEY_TYPE,
	OPT_NAME,
	OPT_FORCE,
	OPT_SHOW,
	OPT_SHOW_RAPI,
};

/* Reads FILE ("-": stdin), following symlinks, at most MAX bytes, into a malloc'd NUL-terminated buffer. */
static char *read_input(const char *file, size_t max, size_t *len)
{
	int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		die_errno("%s", file);
	char *buf = malloc(max + 2);
	if (!buf)
		die("out of memory");
	ssize_t n = io_read_full(fd, buf, max + 1);
	if (n < 0)
		die_err("%s", file);
	if ((size_t)n > max)
		die("%s: larger than %zu bytes", file, max);
	if (fd != 0)
		close(fd);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static void time_text(char *out, size_t cap, int64_t t)
{
	if (utc_format(out, cap, t, UTC_TEXT) < 0)
		snprintf(out, cap, "@%lld", (long long)t);
}

static void new_secret(const char *root, const char *file, int force)
{
	struct sign_secret s;
	char fp[SIGN_FINGERPRINT_SIZE], path[PATH_MAX];
	if (file) {
		size_t len;
		char *text = read_input(file, SIGN_SECRET_FILE_MAX, &len);
		int r = sign_secret_parse(&s, text, len);
		explicit_bzero(text, len);
		free(text);
		if (r < 0)
			die_err("%s", file);
	} else {
		char hex[SIGN_SECRET_GEN_LEN + 1];
		if (sign_secret_generate(hex) < 0 || sign_secret_parse(&s, hex, strlen(hex)) < 0)
			die_err("generate the domain secret");
		explicit_bzero(hex, sizeof(hex));
	}
	if (keyring_secret_store(root, &s, force) < 0)
		die_err("write the cluster domain secret");
	sign_secret_fingerprint(&s, fp);
	sign_secret_wipe(&s);
	keyring_path(path, sizeof(path), root, KEYRING_SECRET_FILE);
	printf("cluster domain secret written to %s (fingerprint %s)\n", path, fp);
}

static void new_rapi(const char *root, const char *file, enum x509_key_type type,
		     const char *const *names, int force)
{
	struct x509_identity *r = malloc(sizeof(*r));
	struct x509_cert_info info;
	char fp[X509_FINGERPRINT_SIZE], path[PATH_MAX];
	if (!r)
		die("out of memory");
	if (file) {
		size_t len;
		char *text = read_input(file, KEYRING_RAPI_FILE_MAX, &len);
		int rc = x509_identity_from_pem(r, text, len);
		explicit_bzero(text, len);
		free(text);
		if (rc < 0)
			die_err("%s", file);
		if (x509_cert_parse(r->cert, r->cert_len, &info) < 0 ||
		    x509_cert_check_time(&info, (int64_t)time(NULL)) < 0)
			die_err("%s", file);
	} else if (keyring_rapi_generate(r, type, names) < 0) {
		die_err("generate the API key and certificate");
	}
	if (keyring_rapi_store(root, r, force) < 0)
		die_err("write the API key and certificate");
	if (x509_cert_parse(r->cert, r->cert_len, &info) < 0)
		die_err("read back the API certificate");
	x509_identity_wipe(r);
	free(r);
	x509_fingerprint_text(fp, info.sha256);
	keyring_path(path, sizeof(path), root, KEYRING_RAPI_FILE);
	printf("API key and certificate written to %s (CN %s, SHA256 %s)\n", path, info.cn, fp);
}

static void show(const char *root, int secret_and_facts, int pem)
{
	struct sign_secret s;
	int r = keyring_secret_load(root, &s);
	if (secret_and_facts) {
		if (r == KEYRING_MISSING) {
			printf("domain-secret: none\n");
		} else if (r < 0) {
			die_err("cluster domain secret");
		} else {
			char fp[SIGN_FINGERPRINT_SIZE];
			sign_secret_fingerprint(&s, fp);
			printf("domain-secret: fingerprint %s\n", fp);
		}
	}
	sign_secret_wipe(&s);

	struct x509_identity *k = malloc(sizeof(*k));
	if (!k)
		die("out of memory");
	r = keyring_rapi_load(root, k);
	if (r == KEYRING_MISSING && secret_and_facts && !pem) {
		printf("rapi-certificate: none\n");
		free(k);
		return;
	}
	if (r < 0)
		die_err("API certificate");
	struct x509_cert_info info;
	if (x509_cert_parse(k->cert, k->cert_len, &info) < 0)
		die_err("API certificate");
	if (secret_and_facts) {
		char from[32], to[32], fp[X509_FINGERPRINT_SIZE];
		time_text(from, sizeof(from), info.not_before);
		time_text(to, sizeof(to), info.not_after);
		x509_fingerprint_text(fp, info.sha256);
		printf("rapi-certificate: CN %s, %s %u bits, valid from %s to %s UTC%s\n", info.cn,
		       info.key_type == X509_KEY_RSA ? "RSA" : "EC", info.key_bits, from, to,
		       x509_cert_check_time(&info, (int64_t)time(NULL)) < 0 ? " (NOT VALID NOW)"
									    : "");
		printf("rapi-certificate: SHA256 Fingerprint=%s\n", fp);
	}
	if (pem) {
		char text[X509_PEM_LEN(X509_CERT_DER_MAX, 11) + 1];
		long n = x509_pem_encode(text, sizeof(text), "CERTIFICATE", k->cert, k->cert_len);
		if (n < 0)
			die_err("API certificate");
		fputs(text, stdout);
	}
	x509_identity_wipe(k);
	free(k);
}

int renew_crypto_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{OPT_ROOT, 0, "root", OPT_REQUIRED},
		{OPT_NEW_SECRET, 0, "new-cluster-domain-secret", OPT_NOARG},
		{OPT_SECRET, 0, "cluster-domain-secret", OPT_REQUIRED},
		{OPT_NEW_RAPI, 0, "new-rapi-certificate", OPT_NOARG},
		{OPT_RAPI, 0, "rapi-certificate", OPT_REQUIRED},
		{OPT_KEY_TYPE, 0, "rapi-key-type", OPT_REQUIRED},
		{OPT_NAME, 0, "rapi-name", OPT_REQUIRED},
		{OPT_FORCE, 'f', "force", OPT_NOARG},
		{OPT_SHOW, 0, "show", OPT_NOARG},
		{OPT_SHOW_RAPI, 0, "show-rapi-certificate", OPT_NOARG},
		OPT_SPEC_END,
	};
	const char *root = NULL, *secret_file = NULL, *rapi_file = NULL;
	const char *names[X509_NAMES_MAX + 1] = {NULL};
	size_t n_names = 0;
	int new_secret_opt = 0, new_rapi_opt = 0, force = 0, show_opt = 0, show_pem = 0;
	enum x509_key_type type = X509_KEY_EC;
	int key_type_given = 0;
	struct opt_state st;
	int id;
	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		switch (id) {
		case OPT_ROOT:
			root = st.arg;
			break;
		case OPT_NEW_SECRET:
			new_secret_opt = 1;
			break;
		case OPT_SECRET:
			secret_file = st.arg;
			break;
		case OPT_NEW_RAPI:
			new_rapi_opt = 1;
			break;
		case OPT_RAPI:
			rapi_file = st.arg;
			break;
		case OPT_KEY_TYPE:
			key_type_given = 1;
			if (strcmp(st.arg, "ec") == 0)
				type = X509_KEY_EC;
			else if (strcmp(st.arg, "rsa") == 0)
				type = X509_KEY_RSA;
			else
				die_usage(usage, "--rapi-key-type: '%s' is not ec or rsa", st.arg);
			break;
		case OPT_NAME:
			if (n_names == X509_NAMES_MAX)
				die_usage(usage, "more than %d --rapi-name options",
					  X509_NAMES_MAX);
			names[n_names++] = st.arg;
			break;
		case OPT_FORCE:
			force = 1;
			break;
		case OPT_SHOW:
			show_opt = 1;
			break;
		case OPT_SHOW_RAPI:
			show_pem = 1;
			break;
		case OPT_POSITIONAL:
			die_usage(usage, "unexpected argument '%s'", st.arg);
		}
	}
	if (new_secret_opt && secret_file)
		die_usage(usage, "--new-cluster-domain-secret and --cluster-domain-secret exclude "
				 "each other");
	if (new_rapi_opt && rapi_file)
		die_usage(usage,
			  "--new-rapi-certificate and --rapi-certificate exclude each other");
	if ((key_type_given || n_names) && !new_rapi_opt)
		die_usage(usage, "--rapi-key-type and --rapi-name go with --new-rapi-certificate");
	if (!new_secret_opt && !secret_file && !new_rapi_opt && !rapi_file && !show_opt &&
	    !show_pem)
		die_usage(usage, "nothing to do");

	root = node_root(root);
	if (new_secret_opt || secret_file)
		new_secret(root, secret_file, force);
	if (new_rapi_opt || rapi_file)
		new_rapi(root, rapi_file, type, n_names ? names : NULL, force);
	if (show_opt || show_pem)
		show(root, show_opt, show_pem);
	if (fflush(stdout) != 0)
		die_errno("write");
	return EXIT_OK;
}
