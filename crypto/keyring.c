/* The node's cluster crypto files: locked, atomic, mode 0600; loaders for the API server and move jobs. */
#include "crypto/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/node.h"

int keyring_path(char *buf, size_t cap, const char *root, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s/%s", root, NODE_CLUSTER_DIR, name);
	if (n < 0 || (size_t)n >= cap)
		return err_set("path too long: %s/%s/%s", root, NODE_CLUSTER_DIR, name);
	return 0;
}

/* KEYRING_MISSING with a hint if PATH does not exist, else 0. */
static int missing(const char *path, const char *what, const char *hint)
{
	struct stat st;
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		err_set("%s: no %s (create one with `ferry renew-crypto %s`)", path, what, hint);
		return KEYRING_MISSING;
	}
	return 0;
}

int keyring_secret_load(const char *root, struct sign_secret *s)
{
	char path[PATH_MAX];
	memset(s, 0, sizeof(*s));
	if (keyring_path(path, sizeof(path), root, KEYRING_SECRET_FILE) < 0)
		return -1;
	int m = missing(path, "cluster domain secret", "--new-cluster-domain-secret");
	if (m)
		return m;
	return sign_secret_load(s, path);
}

/* Writes NAME in ROOT's cluster directory under the lock, refusing to replace it without FORCE. */
static int store(const char *root, const char *name, const char *what, const void *data, size_t len,
		 int force)
{
	char dir[PATH_MAX];
	if (node_mkdir(root, NODE_CLUSTER_DIR) < 0 ||
	    node_path(dir, sizeof(dir), root, NODE_CLUSTER_DIR) < 0)
		return -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set_errno("%s", dir);
	int lock = file_lock(dfd, KEYRING_LOCK_FILE, LOCK_EX);
	int r = -1;
	struct stat st;
	if (lock < 0) {
		err_prefix("%s", dir);
	} else if (!force && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		err_set("%s/%s: %s exists already; use -f to replace it", dir, name, what);
	} else if (file_write_atomic(dfd, name, data, len, 0600) < 0) {
		err_prefix("%s", dir);
	} else {
		r = 0;
	}
	if (lock >= 0)
		close(lock);
	close(dfd);
	return r;
}

int keyring_secret_store(const char *root, const struct sign_secret *s, int force)
{
	char line[SIGN_SECRET_MAX + 2];
	if (s->len == 0 || s->len > SIGN_SECRET_MAX)
		return err_set("empty or oversized domain secret");
	memcpy(line, s->key, s->len);
	line[s->len] = '\n';
	int r = store(root, KEYRING_SECRET_FILE, "a cluster domain secret", line, s->len + 1,
		      force);
	explicit_bzero(line, sizeof(line));
	return r;
}

int keyring_rapi_generate(struct x509_identity *id, enum x509_key_type type,
			  const char *const *names)
{
	char host[256];
	const char *defaults[5];
	if (!names || !names[0]) {
		size_t n = 0;
		if (gethostname(host, sizeof(host)) == 0 && host[0]) {
			host[sizeof(host) - 1] = 0;
			defaults[n++] = host;
		}
		defaults[n++] = "localhost";
		defaults[n++] = "127.0.0.1";
		defaults[n++] = "::1";
		defaults[n] = NULL;
		names = defaults;
	}
	return x509_identity_generate(id, type, names, KEYRING_RAPI_LIFETIME_SECONDS);
}

int keyring_rapi_load(const char *root, struct x509_identity *id)
{
	char path[PATH_MAX], *text;
	size_t len;
	memset(id, 0, sizeof(*id));
	if (keyring_path(path, sizeof(path), root, KEYRING_RAPI_FILE) < 0)
		return -1;
	int m = missing(path, "API key and certificate", "--new-rapi-certificate");
	if (m)
		return m;
	if (file_read_all(AT_FDCWD, path, KEYRING_RAPI_FILE_MAX, &text, &len) < 0)
		return -1;
	int rc = x509_identity_from_pem(id, text, len);
	explicit_bzero(text, len);
	free(text);
	if (rc < 0)
		err_prefix("%s", path);
	return rc;
}

int keyring_rapi_store(const char *root, const struct x509_identity *id, int force)
{
	char *text;
	size_t len;
	if (x509_identity_to_pem(id, &text, &len) < 0)
		return -1;
	int rc = store(root, KEYRING_RAPI_FILE, "an API key and certificate", text, len, force);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

int keyring_rapi_ensure(const char *root, struct x509_identity *id, int *created)
{
	*created = 0;
	int rc = keyring_rapi_load(root, id);
	if (rc != KEYRING_MISSING)
		return rc;
	if (keyring_rapi_generate(id, X509_KEY_EC, NULL) < 0)
		return -1;
	if (keyring_rapi_store(root, id, 0) == 0) {
		*created = 1;
		return 0;
	}
	/* Someone else created it meanwhile: use theirs. */
	x509_identity_wipe(id);
	return keyring_rapi_load(root, id) == 0 ? 0 : -1;
}
