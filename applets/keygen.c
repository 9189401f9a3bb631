/* ferry keygen: create this node's migration key pair, or print where it is. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/authkeys.h"
#include "core/err.h"
#include "core/file.h"
#include "core/io.h"
#include "core/node.h"
#include "core/opt.h"
#include "crypto/sshkey.h"

static const char usage[] =
	"usage: ferry keygen [--root DIR] [-t ecdsa|rsa] [-b BITS] [-f]\n"
	"       ferry keygen [--root DIR] path [public|private|dropbear]\n"
	"\n"
	"Create the key pair this node uses to migrate containers to other nodes,\n"
	"in ROOT/conf/migration/: key (private key, PEM, for ssh -i), key.pub (public\n"
	"key line for 'ferry authorized-keys add' on the destination) and\n"
	"key.dropbear (private key in Dropbear's format, for dbclient -i). The\n"
	"comment is root@HOSTNAME. Prints the new key as ssh-keygen -l does.\n"
	"\n"
	"  -t ecdsa|rsa  key type (default ecdsa)\n"
	"  -b BITS       ecdsa: 256, 384 or 521 (default 521); rsa: 2048 to 4096 (default 4096)\n"
	"  -f            replace an existing key pair\n"
	"  --root DIR    state root (default $FERRY_ROOT, else /var/lib/ferry)\n"
	"\n"
	"'keygen path' prints the absolute path of the public key (default), the\n"
	"private key or the Dropbear key; it fails when there is no key yet.\n"
	"Not supported: ed25519 (BearSSL cannot sign with it) and dsa.\n";

#define KEY_FILE      "key"
#define KEY_PUB_FILE  "key.pub"
#define KEY_DB_FILE   "key.dropbear"
#define KEY_LOCK_FILE "key.lock"

enum { OPT_ROOT = 1, OPT_TYPE, OPT_BITS, OPT_FORCE };

/* Prints the path of the key file WHICH names, if it exists. */
static int print_path(const char *root, const char *which)
{
	const char *name;
	char rel[64], path[PATH_MAX], abs[PATH_MAX];
	if (!strcmp(which, "public"))
		name = KEY_PUB_FILE;
	else if (!strcmp(which, "private"))
		name = KEY_FILE;
	else if (!strcmp(which, "dropbear"))
		name = KEY_DB_FILE;
	else
		die_usage(usage, "path: '%s' is not public, private or dropbear", which);
	snprintf(rel, sizeof(rel), "%s/%s", NODE_MIGRATION_DIR, name);
	if (node_path(path, sizeof(path), root, rel) < 0)
		die_err("path");
	if (!realpath(path, abs)) {
		if (errno == ENOENT)
			die("no key yet: run 'ferry keygen' first (%s does not exist)", path);
		die_errno("%s", path);
	}
	printf("%s\n", abs);
	return EXIT_OK;
}

/*
 * Writes DIRFD/NAME. With REPLACE, atomically over any old file; else the
 * file is created with O_EXCL, so an existing key is never overwritten.
 */
static void write_key_file(int dirfd, const char *dir, const char *name, const void *data,
			   size_t len, mode_t mode, int replace)
{
	if (replace) {
		if (file_write_atomic(dirfd, name, data, len, mode) < 0)
			die_err("%s/%s", dir, name);
		return;
	}
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		die_errno("create %s/%s", dir, name);
	if (io_write_full(fd, data, len) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		unlinkat(dirfd, name, 0);
		errno = e;
		die_errno("write %s/%s", dir, name);
	}
}

/* "root@HOSTNAME", with anything unprintable in the host name replaced. */
static void key_comment(char *buf, size_t cap)
{
	char host[SSHKEY_COMMENT_MAX - 8];
	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	for (char *p = host; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			*p = '-';
	snprintf(buf, cap, "root@%s", host);
}

static struct sshkey_pair pair; /* secrets: wiped before exit */

static int generate(const char *root, enum sshkey_type type, unsigned bits, int force)
{
	char dir[PATH_MAX], comment[SSHKEY_COMMENT_MAX + 1], fp[SSHKEY_FP_SIZE];
	char line[SSHKEY_LINE_MAX + 2];
	static const char *const files[] = {KEY_FILE, KEY_PUB_FILE, KEY_DB_FILE};

	if (node_path(dir, sizeof(dir), root, NODE_MIGRATION_DIR) < 0)
		die_err("state root");
	int dirfd = authkeys_open_dir(root);
	if (dirfd < 0)
		die_err("cannot prepare %s", dir);
	int lock = file_lock(dirfd, KEY_LOCK_FILE, LOCK_EX);
	if (lock < 0)
		die_err("%s", dir);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !force; i++) {
		struct stat st;
		if (fstatat(dirfd, files[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			die("a key pair already exists (%s/%s): use -f to replace it", dir,
			    files[i]);
		if (errno != ENOENT)
			die_errno("%s/%s", dir, files[i]);
	}

	key_comment(comment, sizeof(comment));
	if (sshkey_generate(&pair, type, bits, comment) < 0)
		die_err("cannot make the key");
	long n = sshkey_format_line(&pair.pub, line, sizeof(line) - 1);
	if (n < 0)
		die_err("public key");
	line[n++] = '\n';
	/* The private files first, the .pub last: a .pub always has its private key. */
	write_key_file(dirfd, dir, KEY_FILE, pair.pem, pair.pem_len, 0600, force);
	write_key_file(dirfd, dir, KEY_DB_FILE, pair.dropbear, pair.dropbear_len, 0600, force);
	write_key_file(dirfd, dir, KEY_PUB_FILE, line, (size_t)n, 0644, force);
	if (file_fsync_dir(dirfd) < 0)
		die_err("%s", dir);
	sshkey_fingerprint(&pair.pub, fp);
	printf("%u %s %s (%s)\n", pair.pub.bits, fp, pair.pub.comment,
	       sshkey_type_label(pair.pub.type));
	sshkey_pair_wipe(&pair);
	close(lock);
	close(dirfd);
	return EXIT_OK;
}

int keygen_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{OPT_ROOT, 0, "root", OPT_REQUIRED},
		{OPT_TYPE, 't', "type", OPT_REQUIRED},
		{OPT_BITS, 'b', "bits", OPT_REQUIRED},
		{OPT_FORCE, 'f', "force", OPT_NOARG},
		OPT_SPEC_END,
	};
	struct opt_state st;
	const char *root_opt = NULL, *type_name = NULL, *bits_arg = NULL, *pos[3];
	int force = 0, npos = 0, id;

	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		switch (id) {
		case OPT_ROOT:
			root_opt = st.arg;
			break;
		case OPT_TYPE:
			type_name = st.arg;
			break;
		case OPT_BITS:
			bits_arg = st.arg;
			break;
		case OPT_FORCE:
			force = 1;
			break;
		case OPT_POSITIONAL:
			if (npos == 3)
				die_usage(usage, "too many arguments");
			pos[npos++] = st.arg;
			break;
		}
	}
	const char *root = node_root(root_opt);

	if (npos > 0) {
		if (strcmp(pos[0], "path"))
			die_usage(usage, "unknown command '%s'", pos[0]);
		if (npos > 2)
			die_usage(usage, "path takes one of public, private, dropbear");
		if (type_name || bits_arg || force)
			die_usage(usage, "path takes no -t, -b or -f");
		return print_path(root, npos == 2 ? pos[1] : "public");
	}

	enum sshkey_type type;
	unsigned bits = 0;
	if (!type_name || !strcmp(type_name, "ecdsa")) {
		uint64_t b = bits_arg ? xparse_uint(bits_arg, 0, 100000, "-b", usage) : 521;
		if (b == 256)
			type = SSHKEY_ECDSA_P256;
		else if (b == 384)
			type = SSHKEY_ECDSA_P384;
		else if (b == 521)
			type = SSHKEY_ECDSA_P521;
		else
			die_usage(usage, "-b %s: ecdsa keys have 256, 384 or 521 bits", bits_arg);
	} else if (!strcmp(type_name, "rsa")) {
		type = SSHKEY_RSA;
		bits = bits_arg ? (unsigned)xparse_uint(bits_arg, SSHKEY_GEN_RSA_MIN_BITS,
							SSHKEY_GEN_RSA_MAX_BITS, "-b", usage)
				: SSHKEY_GEN_RSA_MAX_BITS;
	} else if (!strcmp(type_name, "ed25519") || !strcmp(type_name, "dsa")) {
		die_usage(usage, "-t %s: not supported: ferry keygen makes ecdsa and rsa keys%s",
			  type_name,
			  strcmp(type_name, "dsa") ? " (BearSSL has no Ed25519 signing)" : "");
	} else {
		die_usage(usage, "-t %s: unknown key type (ecdsa or rsa)", type_name);
	}
	return generate(root, type, bits, force);
}
