/* The registry of keys allowed to migrate here, its locked atomic updates, the generated sshd file, restriction checks. */
#include "core/authkeys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/file.h"
#include "core/match.h"
#include "core/node.h"

#define SSHD_OPTIONS	"no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding"
#define FLAG_SINGLE_USE "single-use"
#define REGISTRY_FIELDS 7 /* name type key ctid from flags comment */

/* ---- Names and patterns ------------------------------------------------------ */

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int authkeys_name_ok(const char *name)
{
	size_t n = strlen(name);
	int all_digits = 1;
	if (n == 0 || n > AUTHKEYS_NAME_MAX || !is_alnum(name[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum(name[i]) && !strchr("_.-", name[i]))
			return 0;
		if (name[i] < '0' || name[i] > '9')
			all_digits = 0;
	}
	return !all_digits;
}

int authkeys_ctid_pattern_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > AUTHKEYS_PATTERN_MAX)
		return err_set("--ctid pattern must have 1 to %d characters", AUTHKEYS_PATTERN_MAX);
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(p[i]) && !strchr("_.:*?[]!-", p[i]))
			return err_set("--ctid pattern '%s': character '%c' not allowed "
				       "(allowed: letters, digits, _ . - : and * ? [ ] !)",
				       p, p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
	const char *colon = strchr(p, ':');
	if (colon && strchr(colon + 1, ':'))
		return err_set("--ctid pattern '%s': at most one ':' (pool:id)", p);
	return 0;
}

int authkeys_from_patterns_ok(const char *patterns)
{
	size_t n = strlen(patterns);
	if (n == 0 || n > AUTHKEYS_PATTERN_MAX)
		return err_set("--from patterns must have 1 to %d characters",
			       AUTHKEYS_PATTERN_MAX);
	const char *p = patterns;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0)
			return err_set("--from '%s': empty pattern between commas", patterns);
		int zone = 0;
		for (size_t i = 0; i < len; i++) {
			char c = p[i];
			if (zone ? (is_alnum(c) || strchr("_.-*?", c))
				 : (is_hex(c) || strchr(".:*?[]!-", c)))
				continue;
			if (c == '%' && !zone && i > 0) {
				zone = 1;
				continue;
			}
			return err_set("--from '%.*s': not an IP address pattern (character '%c'); "
				       "host names are not resolved, give addresses like "
				       "192.168.1.* or fd00::*",
				       (int)len, p, c >= 0x20 && c < 0x7f ? c : '?');
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

/* ---- The registry text ----------------------------------------------------------- */

void authkeys_free(struct authkeys *list)
{
	free(list->keys);
	list->keys = NULL;
	list->count = 0;
}

static int list_append(struct authkeys *list, const struct authkey *k)
{
	if (list->count >= AUTHKEYS_MAX)
		return err_set("the registry is full (%d keys)", AUTHKEYS_MAX);
	struct authkey *n = realloc(list->keys, (list->count + 1) * sizeof(*n));
	if (!n)
		return err_set("out of memory");
	list->keys = n;
	list->keys[list->count++] = *k;
	return 0;
}

static void list_remove(struct authkeys *list, size_t i)
{
	memmove(&list->keys[i], &list->keys[i + 1], (list->count - i - 1) * sizeof(list->keys[0]));
	list->count--;
}

static struct authkey *find_name(const struct authkeys *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (!strcmp(list->keys[i].name, name))
			return &list->keys[i];
	return NULL;
}

static struct authkey *find_key(const struct authkeys *list, const struct sshkey_pub *key)
{
	for (size_t i = 0; i < list->count; i++)
		if (sshkey_same(&list->keys[i].key, key))
			return &list->keys[i];
	return NULL;
}

/* Validates K's name and restrictions and fills its fingerprint. 0 or -1. */
static int check_entry(struct authkey *k)
{
	if (!authkeys_name_ok(k->name))
		return err_set("bad key name '%s': 1 to %d characters of letters, digits, _ . -, "
			       "starting with a letter or digit, not only digits",
			       k->name, AUTHKEYS_NAME_MAX);
	if (k->ctid[0] && authkeys_ctid_pattern_ok(k->ctid) < 0)
		return -1;
	if (k->from[0] && authkeys_from_patterns_ok(k->from) < 0)
		return -1;
	sshkey_fingerprint(&k->key, k->fingerprint);
	return 0;
}

/* Copies FIELD[0..LEN) into DST (CAP bytes) if it fits. 0 or -1. */
static int copy_field(char *dst, size_t cap, const char *field, size_t len, const char *what)
{
	if (len >= cap)
		return err_set("%s longer than %zu characters", what, cap - 1);
	memcpy(dst, field, len);
	dst[len] = 0;
	return 0;
}

/* Parses one registry line LINE[0..LEN) into K. 0 or -1. */
static int parse_entry(struct authkey *k, const char *line, size_t len)
{
	const char *f[REGISTRY_FIELDS];
	size_t fl[REGISTRY_FIELDS], nf = 0;
	const char *p = line, *end = line + len;
	char keyline[SSHKEY_LINE_MAX + 1];

	memset(k, 0, sizeof(*k));
	for (;;) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		if (nf == REGISTRY_FIELDS)
			return err_set("more than %d tab-separated fields", REGISTRY_FIELDS);
		f[nf] = p;
		fl[nf++] = tab ? (size_t)(tab - p) : (size_t)(end - p);
		if (!tab)
			break;
		p = tab + 1;
	}
	if (nf != REGISTRY_FIELDS)
		return err_set("%zu fields instead of %d", nf, REGISTRY_FIELDS);
	if (copy_field(k->name, sizeof(k->name), f[0], fl[0], "name") < 0 ||
	    copy_field(k->ctid, sizeof(k->ctid), f[3], fl[3], "ctid pattern") < 0 ||
	    copy_field(k->from, sizeof(k->from), f[4], fl[4], "from patterns") < 0)
		return -1;
	if (fl[5] == strlen(FLAG_SINGLE_USE) && !memcmp(f[5], FLAG_SINGLE_USE, fl[5]))
		k->single_use = 1;
	else if (fl[5] != 0)
		return err_set("unknown flags '%.*s'", (int)(fl[5] > 40 ? 40 : fl[5]), f[5]);
	int n = snprintf(keyline, sizeof(keyline), "%.*s %.*s %.*s", (int)fl[1], f[1], (int)fl[2],
			 f[2], (int)fl[6], f[6]);
	if (n < 0 || (size_t)n >= sizeof(keyline))
		return err_set("key line too long");
	if (sshkey_parse_line(&k->key, keyline, (size_t)n) < 0)
		return -1;
	return check_entry(k);
}

int authkeys_parse(struct authkeys *list, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t lineno = 0;
	struct authkey *k = NULL;

	list->count = 0;
	list->keys = NULL;
	if (len == 0)
		return 0;
	if (len > AUTHKEYS_FILE_MAX)
		return err_set("registry larger than %u bytes", AUTHKEYS_FILE_MAX);
	k = malloc(sizeof(*k));
	if (!k)
		return err_set("out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			err_set("line %zu: no final newline (truncated file?)", lineno + 1);
			goto fail;
		}
		size_t n = (size_t)(nl - p);
		lineno++;
		if (memchr(p, 0, n)) {
			err_set("line %zu: NUL byte", lineno);
			goto fail;
		}
		if (lineno == 1) {
			if (n != strlen(AUTHKEYS_HEADER) || memcmp(p, AUTHKEYS_HEADER, n)) {
				err_set("line 1: not a ferry allowed-keys v1 file (expected '%s')",
					AUTHKEYS_HEADER);
				goto fail;
			}
		} else if (parse_entry(k, p, n) < 0) {
			err_prefix("line %zu", lineno);
			goto fail;
		} else if (find_name(list, k->name)) {
			err_set("line %zu: name '%s' appears twice", lineno, k->name);
			goto fail;
		} else if (find_key(list, &k->key)) {
			err_set("line %zu: key %s appears twice", lineno, k->fingerprint);
			goto fail;
		} else if (list_append(list, k) < 0) {
			err_prefix("line %zu", lineno);
			goto fail;
		}
		p = nl + 1;
	}
	free(k);
	return 0;
fail:
	free(k);
	authkeys_free(list);
	return -1;
}

/* A growing text buffer for the two formats. */
struct text {
	char *buf;
	size_t len, cap;
	int failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	if (t->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0,
				  fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if (t->buf && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->failed = 1;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

static int text_done(struct text *t, char **out, size_t *len)
{
	if (t->failed) {
		free(t->buf);
		return err_set("out of memory");
	}
	if (!t->buf)
		text_add(t, "%s", "");
	if (t->failed)
		return text_done(t, out, len);
	*out = t->buf;
	*len = t->len;
	return 0;
}

int authkeys_format(const struct authkeys *list, char **out, size_t *len)
{
	struct text t = {0};
	char b64[BASE64_LEN(SSHKEY_BLOB_MAX) + 1];
	text_add(&t, "%s\n", AUTHKEYS_HEADER);
	for (size_t i = 0; i < list->count; i++) {
		const struct authkey *k = &list->keys[i];
		base64_encode(b64, k->key.blob, k->key.blob_len);
		text_add(&t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k->name, sshkey_type_name(k->key.type),
			 b64, k->ctid, k->from, k->single_use ? FLAG_SINGLE_USE : "",
			 k->key.comment);
	}
	return text_done(&t, out, len);
}

/* 1 if S can stand unquoted in a shell command line and inside command="...". */
static int shell_safe_path(const char *s)
{
	if (s[0] != '/')
		return 0;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("/._+,:@%-", *s))
			return 0;
	return 1;
}

int authkeys_format_sshd(const struct authkeys *list, const char *ferry, const char *root,
			 char **out, size_t *len)
{
	struct text t = {0};
	char line[SSHKEY_LINE_MAX + 1];
	if (!shell_safe_path(ferry))
		return err_set(
			"the ferry binary's path '%s' cannot go into sshd's command=\"...\": "
			"it must be absolute and use only letters, digits and / . _ + , : @ %% -",
			ferry);
	if (!shell_safe_path(root))
		return err_set(
			"the state root '%s' cannot go into sshd's command=\"...\": "
			"it must be absolute and use only letters, digits and / . _ + , : @ %% -",
			root);
	int is_default = !strcmp(root, NODE_ROOT_DEFAULT);
	text_add(&t, "# Generated by 'ferry authorized-keys' from %s; edits here are lost.\n",
		 AUTHKEYS_FILE);
	for (size_t i = 0; i < list->count; i++) {
		const struct authkey *k = &list->keys[i];
		if (sshkey_format_line(&k->key, line, sizeof(line)) < 0) {
			free(t.buf);
			return -1;
		}
		text_add(&t, "command=\"%s receive%s%s --key %s\"," SSHD_OPTIONS " %s\n", ferry,
			 is_default ? "" : " --root ", is_default ? "" : root, k->name, line);
	}
	return text_done(&t, out, len);
}

/* ---- Files and the lock ----------------------------------------------------------- */

/* mkdir DIR (MODE) if missing; refuses group/world-writable. 0 or -1. */
static int ensure_dir(int at, const char *dir, mode_t mode, const char *shown)
{
	struct stat st;
	if (mkdirat(at, dir, mode) < 0 && errno != EEXIST)
		return err_set_errno("create %s", shown);
	if (fstatat(at, dir, &st, 0) < 0)
		return err_set_errno("%s", shown);
	if (!S_ISDIR(st.st_mode))
		return err_set("%s: not a directory", shown);
	if (st.st_mode & 022)
		return err_set("%s is writable by group or others (mode %04o): sshd's StrictModes "
			       "would ignore the keys beneath it; chmod go-w it",
			       shown, (unsigned)(st.st_mode & 07777));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return err_set("%s belongs to uid %u, neither root nor us: sshd's StrictModes "
			       "would ignore the keys beneath it",
			       shown, (unsigned)st.st_uid);
	return 0;
}

int authkeys_open_dir(const char *root)
{
	char path[PATH_MAX];
	if (!root[0])
		return err_set("empty state root");
	if (ensure_dir(AT_FDCWD, root, 0755, root) < 0)
		return -1;
	if (node_path(path, sizeof(path), root, NODE_CONF_DIR) < 0 ||
	    ensure_dir(AT_FDCWD, path, AUTHKEYS_DIR_MODE, path) < 0)
		return -1;
	if (node_path(path, sizeof(path), root, NODE_MIGRATION_DIR) < 0 ||
	    ensure_dir(AT_FDCWD, path, AUTHKEYS_DIR_MODE, path) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno("%s", path);
	return fd;
}

static int load_at(int dirfd, const char *shown_dir, struct authkeys *list)
{
	char *text;
	size_t len;
	list->count = 0;
	list->keys = NULL;
	if (file_read_all(dirfd, AUTHKEYS_FILE, AUTHKEYS_FILE_MAX, &text, &len) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_prefix("%s", shown_dir);
	}
	int r = authkeys_parse(list, text, len);
	free(text);
	if (r < 0)
		return err_prefix("%s/%s", shown_dir, AUTHKEYS_FILE);
	return 0;
}

int authkeys_load(const char *root, struct authkeys *list)
{
	char path[PATH_MAX];
	list->count = 0;
	list->keys = NULL;
	if (node_path(path, sizeof(path), root, NODE_MIGRATION_DIR) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set_errno("%s", path);
	}
	int r = load_at(fd, path, list);
	close(fd);
	return r;
}

int authkeys_find(const char *root, const char *name, struct authkey *out)
{
	struct authkeys list;
	if (authkeys_load(root, &list) < 0)
		return -1;
	struct authkey *k = find_name(&list, name);
	if (k)
		*out = *k;
	authkeys_free(&list);
	return k ? 1 : 0;
}

/* The registry locked for a change. */
struct txn {
	int dirfd, lockfd;
	char dir[PATH_MAX];
	char root_abs[PATH_MAX];
	char ferry[PATH_MAX];
	struct authkeys list;
};

static void txn_end(struct txn *t)
{
	authkeys_free(&t->list);
	if (t->lockfd >= 0)
		close(t->lockfd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	t->lockfd = t->dirfd = -1;
}

/* The ferry binary for command=: FERRY, or this process's own executable. */
static int ferry_path(char *buf, size_t cap, const char *ferry)
{
	if (ferry) {
		if (snprintf(buf, cap, "%s", ferry) >= (int)cap)
			return err_set("ferry path too long");
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	if (n <= 0)
		return err_set_errno("cannot find the ferry binary (/proc/self/exe)");
	if ((size_t)n >= cap - 1)
		return err_set("ferry path too long");
	buf[n] = 0;
	return 0;
}

static int txn_begin(struct txn *t, const char *root, const char *ferry)
{
	memset(t, 0, sizeof(*t));
	t->lockfd = -1;
	t->dirfd = authkeys_open_dir(root);
	if (t->dirfd < 0)
		return -1;
	if (!realpath(root, t->root_abs)) {
		err_set_errno("%s", root);
		goto fail;
	}
	if (node_path(t->dir, sizeof(t->dir), t->root_abs, NODE_MIGRATION_DIR) < 0 ||
	    ferry_path(t->ferry, sizeof(t->ferry), ferry) < 0)
		goto fail;
	t->lockfd = file_lock(t->dirfd, AUTHKEYS_LOCK_FILE, LOCK_EX);
	if (t->lockfd < 0) {
		err_prefix("%s", t->dir);
		goto fail;
	}
	if (load_at(t->dirfd, t->dir, &t->list) < 0)
		goto fail;
	return 0;
fail:
	txn_end(t);
	return -1;
}

static int write_text(struct txn *t, const char *name, const char *text, size_t len)
{
	if (file_write_atomic(t->dirfd, name, text, len, AUTHKEYS_MODE) < 0)
		return err_prefix("%s", t->dir);
	return 0;
}

/*
 * Stores the changed list. Both texts are made before anything is written
 * (so a refusal changes nothing); then adding writes the registry first,
 * removing the sshd file first: a crash in between leaves a key less
 * usable, never more.
 */
static int txn_store(struct txn *t, int removing)
{
	char *reg = NULL, *sshd = NULL;
	size_t reg_len, sshd_len;
	int r = -1;
	if (authkeys_format(&t->list, &reg, &reg_len) < 0 ||
	    authkeys_format_sshd(&t->list, t->ferry, t->root_abs, &sshd, &sshd_len) < 0)
		goto out;
	const char *first = removing ? AUTHKEYS_SSHD_FILE : AUTHKEYS_FILE;
	const char *second = removing ? AUTHKEYS_FILE : AUTHKEYS_SSHD_FILE;
	if (write_text(t, first, removing ? sshd : reg, removing ? sshd_len : reg_len) < 0 ||
	    write_text(t, second, removing ? reg : sshd, removing ? reg_len : sshd_len) < 0)
		goto out;
	r = 0;
out:
	free(reg);
	free(sshd);
	return r;
}

static int write_sshd(struct txn *t)
{
	char *text;
	size_t len;
	if (authkeys_format_sshd(&t->list, t->ferry, t->root_abs, &text, &len) < 0)
		return -1;
	int r = write_text(t, AUTHKEYS_SSHD_FILE, text, len);
	free(text);
	return r;
}

/* A default name from COMMENT: its host part, cleaned; "key" if nothing is left. */
static void derive_name(char *out, size_t cap, const char *comment)
{
	const char *at = strrchr(comment, '@');
	const char *s = at ? at + 1 : comment;
	size_t n = 0;
	while (*s && !is_alnum(*s))
		s++;
	for (; *s && n + 1 < cap; s++)
		out[n++] = (is_alnum(*s) || strchr("_.-", *s)) ? *s : '-';
	out[n] = 0;
	if (!authkeys_name_ok(out))
		snprintf(out, cap, "key");
}

int authkeys_add(const char *root, struct authkey *k, const char *ferry)
{
	struct txn t;
	if (!k->name[0]) {
		char base[33]; /* room left in name for "-NNNN" */
		derive_name(base, sizeof(base), k->key.comment);
		snprintf(k->name, sizeof(k->name), "%s", base);
		if (txn_begin(&t, root, ferry) < 0)
			return -1;
		for (unsigned i = 2; find_name(&t.list, k->name) && i < 2 * AUTHKEYS_MAX; i++)
			snprintf(k->name, sizeof(k->name), "%s-%u", base, i);
	} else if (txn_begin(&t, root, ferry) < 0) {
		return -1;
	}
	int r = -1;
	struct authkey *other;
	if (check_entry(k) < 0)
		goto out;
	if ((other = find_key(&t.list, &k->key))) {
		err_set("this key (%s) is already allowed as '%s'; to change its restrictions, "
			"del it and add it again",
			k->fingerprint, other->name);
		goto out;
	}
	if (find_name(&t.list, k->name)) {
		err_set("the name '%s' is already used by another key", k->name);
		goto out;
	}
	if (list_append(&t.list, k) < 0)
		goto out;
	r = txn_store(&t, 0);
out:
	txn_end(&t);
	return r;
}

/* The index in LIST chosen by SELECTOR, or -1 with err_set. */
static long select_key(const struct authkeys *list, const char *sel)
{
	if (sel[0] >= '0' && sel[0] <= '9' && strspn(sel, "0123456789") == strlen(sel)) {
		size_t v = strlen(sel) > 9 ? 0 : (size_t)strtoul(sel, NULL, 10);
		if (v < 1 || v > list->count)
			return err_set("no key number %s (there %s %zu)", sel,
				       list->count == 1 ? "is" : "are", list->count);
		return (long)v - 1;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct authkey *k = &list->keys[i];
		if (!strcmp(k->name, sel) || !strcmp(k->fingerprint, sel))
			return (long)i;
	}
	if (!strncmp(sel, "SHA256:", 7))
		return err_set("no key with fingerprint %s", sel);
	return err_set("no key named '%s'", sel);
}

int authkeys_del(const char *root, const char *selector, struct authkey *removed, const char *ferry)
{
	struct txn t;
	if (txn_begin(&t, root, ferry) < 0)
		return -1;
	int r = -1;
	long i = select_key(&t.list, selector);
	if (i < 0)
		goto out;
	if (removed)
		*removed = t.list.keys[i];
	list_remove(&t.list, (size_t)i);
	r = txn_store(&t, 1);
out:
	txn_end(&t);
	return r;
}

int authkeys_consume(const char *root, const char *name, const char *ferry)
{
	struct txn t;
	if (txn_begin(&t, root, ferry) < 0)
		return -1;
	int r = 0;
	struct authkey *k = find_name(&t.list, name);
	if (k && k->single_use) {
		list_remove(&t.list, (size_t)(k - t.list.keys));
		r = txn_store(&t, 1) < 0 ? -1 : 1;
	}
	txn_end(&t);
	return r;
}

int authkeys_sync(const char *root, const char *ferry)
{
	struct txn t;
	if (txn_begin(&t, root, ferry) < 0)
		return -1;
	int r = write_sshd(&t);
	txn_end(&t);
	return r;
}

int authkeys_sshd_path(const char *root, char *buf, size_t cap)
{
	char abs[PATH_MAX], cwd[PATH_MAX], rel[64];
	/* The root need not exist yet: sshd's config may be written before the first key. */
	if (!realpath(root, abs)) {
		if (errno != ENOENT)
			return err_set_errno("%s", root);
		if (root[0] == '/')
			snprintf(abs, sizeof(abs), "%s", root);
		else if (!getcwd(cwd, sizeof(cwd)) ||
			 snprintf(abs, sizeof(abs), "%s/%s", cwd, root) >= (int)sizeof(abs))
			return err_set("%s: cannot make the path absolute", root);
	}
	snprintf(rel, sizeof(rel), "%s/%s", NODE_MIGRATION_DIR, AUTHKEYS_SSHD_FILE);
	return node_path(buf, cap, abs, rel);
}

/* ---- Restrictions ----------------------------------------------------------------- */

int authkey_allows_ctid(const struct authkey *k, const char *pool, const char *id)
{
	char subject[2 * AUTHKEYS_PATTERN_MAX + 2];
	if (!k->ctid[0])
		return 0;
	if (!id || !id[0])
		return err_set(
			"key '%s' is limited to containers matching '%s': no container given",
			k->name, k->ctid);
	if (strchr(k->ctid, ':')) {
		if (!pool || !pool[0])
			return err_set("key '%s' is limited to containers matching '%s': "
				       "no pool known for '%s'",
				       k->name, k->ctid, id);
		if (snprintf(subject, sizeof(subject), "%s:%s", pool, id) >= (int)sizeof(subject))
			return err_set("key '%s': container name too long", k->name);
	} else if (snprintf(subject, sizeof(subject), "%s", id) >= (int)sizeof(subject)) {
		return err_set("key '%s': container name too long", k->name);
	}
	if (match_glob(k->ctid, subject, 0))
		return 0;
	return err_set("key '%s' is limited to containers matching '%s': '%s' refused", k->name,
		       k->ctid, subject);
}

int authkeys_client_addr(const char *ssh_connection, char *buf, size_t cap)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char addr[INET6_ADDRSTRLEN + 64];
	if (!ssh_connection || !ssh_connection[0])
		return err_set("no client address (SSH_CONNECTION is not set)");
	size_t n = strcspn(ssh_connection, " ");
	if (n == 0 || n >= sizeof(addr))
		return err_set("malformed SSH_CONNECTION");
	memcpy(addr, ssh_connection, n);
	addr[n] = 0;
	/* A zone (fe80::1%eth0) is kept for matching but not part of the address. */
	char *zone = strchr(addr, '%');
	if (zone)
		*zone = 0;
	int ok = inet_pton(AF_INET, addr, bin) == 1 || (inet_pton(AF_INET6, addr, bin) == 1);
	if (zone)
		*zone = '%';
	if (!ok)
		return err_set("malformed SSH_CONNECTION: '%s' is not an IP address", addr);
	if (n >= cap)
		return err_set("client address too long");
	for (size_t i = 0; i <= n; i++)
		buf[i] = (addr[i] >= 'A' && addr[i] <= 'Z') ? (char)(addr[i] - 'A' + 'a') : addr[i];
	return 0;
}

/* 1 if ADDR matches one of the comma-separated PATTERNS. */
static int match_patterns(const char *patterns, const char *addr)
{
	char pat[AUTHKEYS_PATTERN_MAX + 1];
	const char *p = patterns;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (len < sizeof(pat)) {
			memcpy(pat, p, len);
			pat[len] = 0;
			if (match_glob(pat, addr, MATCH_CASEFOLD))
				return 1;
		}
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

int authkey_allows_client(const struct authkey *k, const char *ssh_connection)
{
	char addr[INET6_ADDRSTRLEN + 64];
	if (!k->from[0])
		return 0;
	if (authkeys_client_addr(ssh_connection, addr, sizeof(addr)) < 0)
		return err_prefix("key '%s' is limited to clients matching '%s'", k->name, k->from);
	if (match_patterns(k->from, addr))
		return 0;
	const char *mapped = "::ffff:";
	if (!strncmp(addr, mapped, strlen(mapped)) && strchr(addr, '.') &&
	    match_patterns(k->from, addr + strlen(mapped)))
		return 0;
	return err_set("key '%s' is limited to clients matching '%s': %s refused", k->name, k->from,
		       addr);
}
