/* The cluster API's users file (Ganeti's RAPI users format) and the Basic auth check. */
#include "core/rapiusers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/file.h"
#include "core/io.h"
#include "crypto/hmac.h"
#include "crypto/rand.h"

enum scheme { SCHEME_CLEAR, SCHEME_HA1 };

struct rapi_user {
	char *name;
	enum scheme scheme;
	/* SCHEME_CLEAR: SHA-256 of the password (compared against the
	   SHA-256 of the offered one, so lengths leak nothing);
	   SCHEME_HA1: the 16 bytes of md5("name:realm:password"). */
	uint8_t digest[SHA256_LEN];
	int write;
};

struct rapiusers {
	size_t n;
	struct rapi_user *users; /* sorted by name */
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static void users_wipe_free(struct rapi_user *users, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(users[i].name);
		explicit_bzero(users[i].digest, sizeof(users[i].digest));
	}
	free(users);
}

void rapiusers_free(struct rapiusers *u)
{
	if (!u)
		return;
	users_wipe_free(u->users, u->n);
	free(u);
}

size_t rapiusers_count(const struct rapiusers *u)
{
	return u ? u->n : 0;
}

static int user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rapi_user *)a)->name, ((const struct rapi_user *)b)->name);
}

/* Next blank-separated field of LINE[*POS..LEN) into *F and *FLEN; 0 if none is left. */
static int next_field(const char *line, size_t len, size_t *pos, const char **f, size_t *flen)
{
	size_t i = *pos;
	while (i < len && is_blank(line[i]))
		i++;
	if (i == len)
		return 0;
	size_t start = i;
	while (i < len && !is_blank(line[i]))
		i++;
	*f = line + start;
	*flen = i - start;
	*pos = i;
	return 1;
}

/* Parses the options field ("read", "write", comma-separated). 0 or -1. */
static int parse_options(const char *s, size_t len, int *write, unsigned lineno)
{
	size_t i = 0;
	*write = 0;
	while (i <= len) {
		size_t start = i;
		while (i < len && s[i] != ',')
			i++;
		size_t a = start, b = i;
		while (a < b && is_blank(s[a]))
			a++;
		while (b > a && is_blank(s[b - 1]))
			b--;
		if (b - a == 5 && memcmp(s + a, "write", 5) == 0)
			*write = 1;
		else if (b - a == 4 && memcmp(s + a, "read", 4) == 0)
			;
		else if (b > a)
			return err_set(
				"line %u: unknown option '%.*s' (options are read and write)",
				lineno, (int)(b - a > 40 ? 40 : b - a), s + a);
		i++;
	}
	return 0;
}

/* Fills U from the password field P[0..LEN) of user NAME. 0 or -1. */
static int parse_password(struct rapi_user *u, const char *p, size_t len, unsigned lineno)
{
	if (len > RAPIUSERS_PASSWORD_MAX)
		return err_set("line %u: password longer than %d bytes", lineno,
			       RAPIUSERS_PASSWORD_MAX);
	const char *pw = p;
	size_t pwlen = len;
	u->scheme = SCHEME_CLEAR;
	if (len && p[0] == '{') {
		const char *end = memchr(p, '}', len);
		if (!end || end == p + 1)
			return err_set("line %u: malformed password scheme", lineno);
		size_t slen = (size_t)(end - p) + 1;
		pw = end + 1;
		pwlen = len - slen;
		if (slen == 11 && strncasecmp(p, "{CLEARTEXT}", 11) == 0) {
			u->scheme = SCHEME_CLEAR;
		} else if (slen == 5 && strncasecmp(p, "{HA1}", 5) == 0) {
			u->scheme = SCHEME_HA1;
		} else {
			return err_set(
				"line %u: unknown password scheme '%.*s' (known: {CLEARTEXT}, "
				"{HA1})",
				lineno, (int)(slen > 20 ? 20 : slen), p);
		}
	}
	if (u->scheme == SCHEME_HA1) {
		memset(u->digest, 0, sizeof(u->digest));
		if (hex_decode(u->digest, MD5_LEN, pw, pwlen) < 0)
			return err_set("line %u: {HA1} needs 32 hex digits (md5 of "
				       "\"user:" RAPIUSERS_REALM ":password\")",
				       lineno);
		return 0;
	}
	sha256(u->digest, pw, pwlen);
	return 0;
}

int rapiusers_parse(struct rapiusers **out, const char *text, size_t len)
{
	struct rapi_user *users = NULL;
	size_t n = 0, cap = 0;
	unsigned lineno = 0;
	size_t pos = 0;
	*out = NULL;
	if (len > RAPIUSERS_FILE_MAX)
		return err_set("larger than %u bytes", RAPIUSERS_FILE_MAX);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *line = text + pos;
		size_t llen = end - pos;
		pos = end + 1;
		lineno++;
		if (llen > RAPIUSERS_LINE_MAX) {
			err_set("line %u: longer than %d bytes", lineno, RAPIUSERS_LINE_MAX);
			goto fail;
		}
		for (size_t i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)line[i];
			if ((c < 0x20 && c != '\t' && c != '\r' && c != '\v' && c != '\f') ||
			    c == 0x7f) {
				err_set("line %u: control character", lineno);
				goto fail;
			}
		}
		size_t fp = 0;
		const char *name, *pw;
		size_t nlen, plen;
		if (!next_field(line, llen, &fp, &name, &nlen) || name[0] == '#')
			continue;
		if (!next_field(line, llen, &fp, &pw, &plen)) {
			err_set("line %u: a user needs a name and a password", lineno);
			goto fail;
		}
		if (nlen > RAPIUSERS_NAME_MAX || memchr(name, ':', nlen)) {
			err_set("line %u: bad user name (at most %d bytes, no ':')", lineno,
				RAPIUSERS_NAME_MAX);
			goto fail;
		}
		if (n == RAPIUSERS_MAX) {
			err_set("line %u: more than %d users", lineno, RAPIUSERS_MAX);
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct rapi_user *nu = realloc(users, ncap * sizeof(*nu));
			if (!nu) {
				err_set("out of memory");
				goto fail;
			}
			users = nu;
			cap = ncap;
		}
		struct rapi_user *u = &users[n];
		memset(u, 0, sizeof(*u));
		u->name = strndup(name, nlen);
		if (!u->name) {
			err_set("out of memory");
			goto fail;
		}
		n++;
		if (parse_password(u, pw, plen, lineno) < 0)
			goto fail;
		while (fp < llen && is_blank(line[fp]))
			fp++;
		if (parse_options(line + fp, llen - fp, &u->write, lineno) < 0)
			goto fail;
	}
	if (n > 1) {
		qsort(users, n, sizeof(*users), user_cmp);
		for (size_t i = 1; i < n; i++)
			if (strcmp(users[i - 1].name, users[i].name) == 0) {
				err_set("user '%.40s' is listed twice", users[i].name);
				goto fail;
			}
	}
	struct rapiusers *u = malloc(sizeof(*u));
	if (!u) {
		err_set("out of memory");
		goto fail;
	}
	u->n = n;
	u->users = users;
	*out = u;
	return 0;
fail:
	users_wipe_free(users, n);
	return -1;
}

int rapiusers_load(struct rapiusers **out, const char *path)
{
	char *text;
	size_t len;
	*out = NULL;
	if (file_read_all(AT_FDCWD, path, RAPIUSERS_FILE_MAX, &text, &len) < 0) {
		if (errno == ENOENT) {
			err_set("%s does not exist", path);
			return -2;
		}
		return -1;
	}
	int r = rapiusers_parse(out, text, len);
	explicit_bzero(text, len);
	free(text);
	if (r < 0)
		return err_prefix("%s", path);
	return 0;
}

int rapiusers_check(const struct rapiusers *u, const char *user, const char *password)
{
	if (!u || !user || !password)
		return RAPIUSERS_DENIED;
	struct rapi_user key = {.name = (char *)user};
	const struct rapi_user *found =
		u->n ? bsearch(&key, u->users, u->n, sizeof(*u->users), user_cmp) : NULL;
	uint8_t got[SHA256_LEN] = {0};
	size_t n;
	if (found && found->scheme == SCHEME_HA1) {
		char a1[RAPIUSERS_NAME_MAX + sizeof(RAPIUSERS_REALM) + RAPIUSERS_PASSWORD_MAX + 4];
		char hex[MD5_HEX_SIZE];
		int len = snprintf(a1, sizeof(a1), "%s:%s:%s", user, RAPIUSERS_REALM, password);
		if (len < 0 || (size_t)len >= sizeof(a1))
			return RAPIUSERS_DENIED;
		md5_hex(hex, a1, (size_t)len);
		hex_decode(got, MD5_LEN, hex, 2 * MD5_LEN);
		explicit_bzero(a1, sizeof(a1));
		n = MD5_LEN;
	} else {
		sha256(got, password, strlen(password));
		n = SHA256_LEN;
	}
	int ok = found && hmac_equal(got, found->digest, n);
	explicit_bzero(got, sizeof(got));
	if (!ok)
		return RAPIUSERS_DENIED;
	return found->write ? RAPIUSERS_WRITE : RAPIUSERS_READ;
}

/* Creates PATH with O_EXCL, mode 0600, holding TEXT. 0 or -1. */
static int create_secret_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set_errno("create %s", path);
	if (io_write_full(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		err_set_errno("write %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		err_set_errno("close %s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

int rapiusers_generate(const char *path, const char *pass_path, char *password)
{
	uint8_t raw[RAPIUSERS_GEN_LEN / 2];
	char pw[RAPIUSERS_GEN_LEN + 1];
	char text[512];
	if (rand_bytes(raw, sizeof(raw)) < 0)
		return -1;
	hex_encode(pw, raw, sizeof(raw));
	explicit_bzero(raw, sizeof(raw));
	int n = snprintf(
		text, sizeof(text),
		"# ferry rapi users (docs/rapi.md): NAME PASSWORD [read|write]\n"
		"# PASSWORD is cleartext, {CLEARTEXT}pw or {HA1}md5(\"NAME:" RAPIUSERS_REALM
		":pw\"). Reloaded on SIGHUP.\n" RAPIUSERS_GEN_USER " %s write\n",
		pw);
	int rc = -1;
	if (n < 0 || (size_t)n >= sizeof(text)) {
		err_set("users file text too long");
		goto out;
	}
	if (create_secret_file(path, text) < 0)
		goto out;
	snprintf(text, sizeof(text), "%s\n", pw);
	if (create_secret_file(pass_path, text) < 0) {
		unlink(path);
		goto out;
	}
	if (password)
		memcpy(password, pw, sizeof(pw));
	rc = 0;
out:
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(text, sizeof(text));
	return rc;
}
