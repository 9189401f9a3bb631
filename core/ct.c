/* Containers on disk: names, config, datasets, run record, staged flag, locks (docs/node-state.md). */
#include "core/ct.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/cursor.h"
#include "core/err.h"
#include "core/file.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/proc.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define CT_ROOT_DIRNAME "_root" /* datasets/_root: the root dataset (ids cannot start with '_') */
#define CT_POOL_LOCK	"lock"	/* pools/POOL/lock: held while staging dirs are made or swept */
#define CT_STAGE_NEW	".new-"
#define CT_STAGE_DEL	".del-"
#define CT_RUN_MAX	4096

/* ---- Names ------------------------------------------------------------ */

/* A printable rendering of untrusted S for messages: at most 64 bytes, '?' for odd bytes. */
static const char *shown(const char *s, char *buf, size_t cap)
{
	size_t n = strnlen(s, 65);
	return err_printable(buf, cap < 68 ? cap : 68, s, n);
}

static int name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
	       ch == '-';
}

static int name_first(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* Checks [S, S+N) as a name; 0 ok, else -1 with err_set naming WHAT and FULL. */
static int name_check_n(const char *what, const char *s, size_t n, const char *full)
{
	char b[80];
	if (n == 0)
		return err_set("empty %s in '%s'", what, shown(full, b, sizeof(b)));
	if (n > CT_NAME_MAX)
		return err_set("%s too long in '%s' (at most %d characters)", what,
			       shown(full, b, sizeof(b)), CT_NAME_MAX);
	if (!name_first(s[0]))
		return err_set("bad %s '%s': must start with a-z or 0-9", what,
			       shown(full, b, sizeof(b)));
	for (size_t i = 1; i < n; i++)
		if (!name_char(s[i]))
			return err_set("bad %s '%s': only a-z, 0-9, '_', '.' and '-' are allowed",
				       what, shown(full, b, sizeof(b)));
	return 0;
}

int ct_name_ok(const char *s)
{
	size_t n = s ? strnlen(s, CT_NAME_MAX + 1) : 0;
	if (n == 0 || n > CT_NAME_MAX || !name_first(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!name_char(s[i]))
			return 0;
	return 1;
}

int ct_name_check(const char *what, const char *s)
{
	if (!s)
		return err_set("no %s", what);
	return name_check_n(what, s, strlen(s), s);
}

int ct_ref_set(struct ct_ref *ref, const char *pool, const char *id)
{
	if (!pool)
		pool = CT_POOL_DEFAULT;
	if (ct_name_check("pool", pool) < 0 || ct_name_check("container id", id) < 0)
		return -1;
	memset(ref, 0, sizeof(*ref));
	strcpy(ref->pool, pool);
	strcpy(ref->id, id);
	return 0;
}

int ct_ref_parse(struct ct_ref *ref, const char *s)
{
	char b[80];
	if (!s || !*s)
		return err_set("empty container name");
	const char *colon = strchr(s, ':');
	if (!colon)
		return ct_ref_set(ref, NULL, s);
	if (strchr(colon + 1, ':'))
		return err_set("bad container name '%s': more than one ':'",
			       shown(s, b, sizeof(b)));
	if (name_check_n("pool", s, (size_t)(colon - s), s) < 0 ||
	    ct_name_check("container id", colon + 1) < 0)
		return -1;
	memset(ref, 0, sizeof(*ref));
	memcpy(ref->pool, s, (size_t)(colon - s));
	strcpy(ref->id, colon + 1);
	return 0;
}

const char *ct_ref_str(const struct ct_ref *ref, char *buf)
{
	snprintf(buf, CT_REF_MAX + 1, "%s:%s", ref->pool, ref->id);
	return buf;
}

int ct_dataset_name_check(const char *name)
{
	char b[80];
	if (!name || !*name)
		return err_set("empty dataset name");
	if (!strcmp(name, CT_DATASET_ROOT))
		return 0;
	size_t len = strlen(name);
	if (len > CT_DATASET_NAME_MAX)
		return err_set("dataset name too long (at most %d characters)",
			       CT_DATASET_NAME_MAX);
	if (name[0] == '/')
		return err_set("bad dataset name '%s': relative to the container (no leading '/')",
			       shown(name, b, sizeof(b)));
	int depth = 0;
	for (const char *p = name;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (++depth > CT_DATASET_DEPTH_MAX)
			return err_set("dataset name '%s' is nested too deep (at most %d levels)",
				       shown(name, b, sizeof(b)), CT_DATASET_DEPTH_MAX);
		if (name_check_n("dataset name component", p, n, name) < 0)
			return -1;
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

static int mp_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("._+@,:=~-", ch) != NULL;
}

int ct_mountpoint_check(const char *mp)
{
	char b[80];
	if (!mp || mp[0] != '/')
		return err_set("mount point '%s' is not an absolute path",
			       mp ? shown(mp, b, sizeof(b)) : "");
	if (strlen(mp) > CT_MOUNTPOINT_MAX)
		return err_set("mount point too long (at most %d characters)", CT_MOUNTPOINT_MAX);
	if (!strcmp(mp, "/"))
		return err_set("mount point '/' belongs to the root dataset");
	for (const char *p = mp + 1;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return err_set("bad mount point '%s': empty, '.' or '..' component",
				       shown(mp, b, sizeof(b)));
		for (size_t i = 0; i < n; i++)
			if (!mp_char(p[i]))
				return err_set(
					"bad mount point '%s': only A-Z, a-z, 0-9 and ._+@,:=~- "
					"are allowed in components",
					shown(mp, b, sizeof(b)));
		if (!slash)
			break;
		p = slash + 1;
	}
	static const char *const kernel_dirs[] = {"/proc", "/dev", "/sys"};
	for (size_t i = 0; i < sizeof(kernel_dirs) / sizeof(kernel_dirs[0]); i++) {
		size_t n = strlen(kernel_dirs[i]);
		if (!strncmp(mp, kernel_dirs[i], n) && (mp[n] == 0 || mp[n] == '/'))
			return err_set(
				"mount point %s: %s is the runtime's (it would hide the dataset)",
				mp, kernel_dirs[i]);
	}
	return 0;
}

/* The directory name of a dataset under datasets/: "_root" for "/", '/' -> '+' otherwise. */
static int dataset_dirname(const char *name, char *buf, size_t cap)
{
	if (ct_dataset_name_check(name) < 0)
		return -1;
	if (!strcmp(name, CT_DATASET_ROOT))
		name = CT_ROOT_DIRNAME;
	if (strlen(name) >= cap)
		return err_set("dataset name too long");
	size_t i = 0;
	for (; name[i]; i++)
		buf[i] = name[i] == '/' ? '+' : name[i];
	buf[i] = 0;
	return 0;
}

/* ---- Config: text form ------------------------------------------------ */

/* Reads the next "key = value" line through a bounded cursor. 1 got one, 0 end, -1 error. */
struct kv_reader {
	struct cursor cur;
	unsigned line;
	char buf[CT_CONFIG_LINE_MAX + 1];
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

static int kv_next(struct kv_reader *r, char **key, char **value)
{
	for (;;) {
		size_t n = 0;
		uint8_t ch;
		if (cur_left(&r->cur) == 0)
			return 0;
		r->line++;
		while (cur_left(&r->cur) > 0) {
			cur_u8(&r->cur, &ch);
			if (ch == '\n')
				break;
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return err_set("line %u: control character 0x%02x", r->line, ch);
			if (n >= CT_CONFIG_LINE_MAX)
				return err_set("line %u: longer than %d bytes", r->line,
					       CT_CONFIG_LINE_MAX);
			r->buf[n++] = (char)ch;
		}
		r->buf[n] = 0;
		char *s = trim(r->buf);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			return err_set("line %u: expected 'key = value'", r->line);
		*eq = 0;
		*key = trim(s);
		*value = trim(eq + 1);
		if (!**key)
			return err_set("line %u: empty key", r->line);
		return 1;
	}
}

void ct_config_init(struct ct_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->init, CT_INIT_DEFAULT);
	c->stop_timeout = CT_STOP_TIMEOUT_DEF;
	c->start_timeout = CT_START_TIMEOUT_DEF;
	c->network = CT_NET_HOST;
}

static int hostname_check(const char *v)
{
	char b[80];
	size_t n = strlen(v);
	if (n > CT_HOSTNAME_MAX)
		return err_set("hostname too long (at most %d characters)", CT_HOSTNAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') ||
			 ((ch == '-' || ch == '.' || ch == '_') && i > 0);
		if (!ok)
			return err_set("bad hostname '%s': letters, digits, '-', '.' and '_' "
				       "(not first) only",
				       shown(v, b, sizeof(b)));
	}
	return 0;
}

/* The placeholders of start_cmd, stop_cmd and status_cmd (runtime.c expands them). */
static const char *const placeholders[] = {"id", "pool", "ct", "rootfs", "dir", "hostname", "log"};

/* Checks a command line: words, a first word without placeholders, known placeholders only. */
static int cmd_check(const char *key, const char *v, int absolute, int allow_ph)
{
	char buf[CT_CMD_MAX + 1], *argv[PROC_ARGS_MAX];
	if (strlen(v) > CT_CMD_MAX)
		return err_set("%s too long (at most %d characters)", key, CT_CMD_MAX);
	if (proc_split(v, buf, sizeof(buf), argv, PROC_ARGS_MAX) < 0)
		return err_prefix("%s", key);
	if (absolute && argv[0][0] != '/')
		return err_set("%s: '%s' is not an absolute path", key, argv[0]);
	for (const char *p = v; (p = strchr(p, '%'));) {
		if (!allow_ph || strchr(argv[0], '%'))
			return err_set("%s: '%%' is not allowed %s", key,
				       allow_ph ? "in the program name" : "here");
		const char *end = strchr(p + 1, '%');
		if (!end)
			return err_set("%s: unterminated placeholder (write %%%% for a '%%')", key);
		size_t n = (size_t)(end - p - 1);
		int known = n == 0;
		for (size_t i = 0; !known && i < sizeof(placeholders) / sizeof(placeholders[0]);
		     i++)
			known = strlen(placeholders[i]) == n && !memcmp(placeholders[i], p + 1, n);
		if (!known)
			return err_set("%s: unknown placeholder %%%.*s%%", key,
				       (int)(n > 32 ? 32 : n), p + 1);
		p = end + 1;
	}
	return 0;
}

static int timeout_parse(const char *key, const char *v, unsigned min, unsigned *out)
{
	uint64_t t;
	if (parse_uint(v, min, CT_TIMEOUT_MAX, &t) < 0)
		return err_prefix("%s", key);
	*out = (unsigned)t;
	return 0;
}

static int user_key_check(const char *key)
{
	char b[80];
	const char *s = key + 5; /* after "user." */
	if (strlen(key) > CT_USER_KEY_MAX)
		return err_set("key '%s' too long (at most %d characters)",
			       shown(key, b, sizeof(b)), CT_USER_KEY_MAX);
	if (!*s)
		return err_set("empty user key name");
	for (; *s; s++)
		if (!name_char(*s))
			return err_set("bad key '%s': user.* names use a-z, 0-9, '_', '.', '-'",
				       shown(key, b, sizeof(b)));
	return 0;
}

static struct ct_user_key *user_find(struct ct_config *c, const char *key)
{
	for (size_t i = 0; i < c->n_user; i++)
		if (!strcmp(c->user[i].key, key))
			return &c->user[i];
	return NULL;
}

static struct ct_dataset *dataset_find(struct ct_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_datasets; i++)
		if (!strcmp(c->datasets[i].name, name))
			return &c->datasets[i];
	return NULL;
}

const struct ct_dataset *ct_config_dataset(const struct ct_config *c, const char *name)
{
	return dataset_find((struct ct_config *)c, name);
}

const char *ct_config_hostname(const struct ct_config *c, const struct ct_ref *ref)
{
	return c->hostname[0] ? c->hostname : ref->id;
}

/* Copies SRC (known to fit) into the array DST, zero-filling the rest: equal configs compare equal. */
#define SET_STR(dst, src)                                                                          \
	do {                                                                                       \
		memset((dst), 0, sizeof(dst));                                                     \
		memcpy((dst), (src), strlen(src));                                                 \
	} while (0)

/* Sets a key; with FROM_FILE, a key seen twice is an error (SEEN tracks the fixed keys). */
static int config_set(struct ct_config *c, const char *key, const char *v, unsigned *seen)
{
	static const char *const fixed[] = {"hostname",	     "init",	  "stop_timeout",
					    "start_timeout", "network",	  "start_cmd",
					    "stop_cmd",	     "status_cmd"};
	char b[80];
	int k = -1;
	for (int i = 0; i < (int)(sizeof(fixed) / sizeof(fixed[0])); i++)
		if (!strcmp(key, fixed[i]))
			k = i;
	if (k >= 0 && seen) {
		if (*seen & (1u << k))
			return err_set("duplicate key %s", key);
		*seen |= 1u << k;
	}
	switch (k) {
	case 0:
		if (hostname_check(v) < 0)
			return -1;
		SET_STR(c->hostname, v);
		return 0;
	case 1:
		if (!*v)
			return err_set("init cannot be empty (unset it for %s)", CT_INIT_DEFAULT);
		if (cmd_check(key, v, 1, 0) < 0)
			return -1;
		SET_STR(c->init, v);
		return 0;
	case 2:
		return timeout_parse(key, v, 0, &c->stop_timeout);
	case 3:
		return timeout_parse(key, v, 1, &c->start_timeout);
	case 4:
		if (!strcmp(v, "host"))
			c->network = CT_NET_HOST;
		else if (!strcmp(v, "none"))
			c->network = CT_NET_NONE;
		else
			return err_set("network: '%s' is neither 'host' nor 'none'",
				       shown(v, b, sizeof(b)));
		return 0;
	case 5:
	case 6:
	case 7: {
		if (*v && cmd_check(key, v, 0, 1) < 0)
			return -1;
		if (k == 5)
			SET_STR(c->start_cmd, v);
		else if (k == 6)
			SET_STR(c->stop_cmd, v);
		else
			SET_STR(c->status_cmd, v);
		return 0;
	}
	}
	if (!strncmp(key, "dataset.", 8)) {
		const char *name = key + 8;
		if (ct_dataset_name_check(name) < 0)
			return -1;
		if (!strcmp(name, CT_DATASET_ROOT))
			return err_set("dataset./: the root dataset is always mounted at /");
		if (ct_mountpoint_check(v) < 0)
			return -1;
		struct ct_dataset *d = dataset_find(c, name);
		if (d && seen)
			return err_set("duplicate key %s", key);
		for (size_t i = 0; i < c->n_datasets; i++)
			if (&c->datasets[i] != d && !strcmp(c->datasets[i].mountpoint, v))
				return err_set("mount point %s is already dataset %s's", v,
					       c->datasets[i].name);
		if (!d) {
			if (c->n_datasets >= CT_DATASETS_MAX)
				return err_set("too many datasets (at most %d)", CT_DATASETS_MAX);
			size_t at = 0;
			while (at < c->n_datasets && strcmp(c->datasets[at].name, name) < 0)
				at++;
			memmove(&c->datasets[at + 1], &c->datasets[at],
				(c->n_datasets - at) * sizeof(c->datasets[0]));
			c->n_datasets++;
			d = &c->datasets[at];
			SET_STR(d->name, name);
		}
		SET_STR(d->mountpoint, v);
		return 0;
	}
	if (!strncmp(key, "user.", 5)) {
		if (user_key_check(key) < 0)
			return -1;
		if (strlen(v) > CT_USER_VALUE_MAX)
			return err_set("%s: value too long (at most %d bytes)", key,
				       CT_USER_VALUE_MAX);
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return err_set("%s: control character in value", key);
		struct ct_user_key *u = user_find(c, key);
		if (u && seen)
			return err_set("duplicate key %s", key);
		if (!u) {
			if (c->n_user >= CT_USER_MAX)
				return err_set("too many user.* keys (at most %d)", CT_USER_MAX);
			size_t at = 0;
			while (at < c->n_user && strcmp(c->user[at].key, key) < 0)
				at++;
			memmove(&c->user[at + 1], &c->user[at],
				(c->n_user - at) * sizeof(c->user[0]));
			c->n_user++;
			u = &c->user[at];
			SET_STR(u->key, key);
		}
		SET_STR(u->value, v);
		return 0;
	}
	return err_set("unknown key '%s' (see docs/container-config.md)", shown(key, b, sizeof(b)));
}

int ct_config_set(struct ct_config *c, const char *key, const char *value)
{
	char v[CT_CONFIG_LINE_MAX + 1];
	if (strlen(value) > CT_CONFIG_LINE_MAX)
		return err_set("%s: value too long", key);
	strcpy(v, value);
	return config_set(c, key, trim(v), NULL);
}

int ct_config_unset(struct ct_config *c, const char *key)
{
	struct ct_config def;
	ct_config_init(&def);
	if (!strcmp(key, "hostname"))
		SET_STR(c->hostname, "");
	else if (!strcmp(key, "init"))
		SET_STR(c->init, def.init);
	else if (!strcmp(key, "stop_timeout"))
		c->stop_timeout = def.stop_timeout;
	else if (!strcmp(key, "start_timeout"))
		c->start_timeout = def.start_timeout;
	else if (!strcmp(key, "network"))
		c->network = def.network;
	else if (!strcmp(key, "start_cmd"))
		SET_STR(c->start_cmd, "");
	else if (!strcmp(key, "stop_cmd"))
		SET_STR(c->stop_cmd, "");
	else if (!strcmp(key, "status_cmd"))
		SET_STR(c->status_cmd, "");
	else if (!strncmp(key, "user.", 5)) {
		struct ct_user_key *u = user_find(c, key);
		if (!u)
			return 1;
		size_t at = (size_t)(u - c->user);
		memmove(u, u + 1, (c->n_user - at - 1) * sizeof(*u));
		c->n_user--;
		memset(&c->user[c->n_user], 0, sizeof(*u));
	} else if (!strncmp(key, "dataset.", 8)) {
		struct ct_dataset *d = dataset_find(c, key + 8);
		if (!d)
			return 1;
		size_t at = (size_t)(d - c->datasets);
		memmove(d, d + 1, (c->n_datasets - at - 1) * sizeof(*d));
		c->n_datasets--;
		memset(&c->datasets[c->n_datasets], 0, sizeof(*d));
	} else {
		char b[80];
		return err_set("unknown key '%s'", shown(key, b, sizeof(b)));
	}
	return 0;
}

int ct_config_get(const struct ct_config *c, const char *key, char *buf, size_t cap)
{
	const char *v = NULL;
	char num[24];
	if (!strcmp(key, "hostname"))
		v = c->hostname;
	else if (!strcmp(key, "init"))
		v = c->init;
	else if (!strcmp(key, "stop_timeout")) {
		snprintf(num, sizeof(num), "%u", c->stop_timeout);
		v = num;
	} else if (!strcmp(key, "start_timeout")) {
		snprintf(num, sizeof(num), "%u", c->start_timeout);
		v = num;
	} else if (!strcmp(key, "network"))
		v = c->network == CT_NET_NONE ? "none" : "host";
	else if (!strcmp(key, "start_cmd"))
		v = c->start_cmd;
	else if (!strcmp(key, "stop_cmd"))
		v = c->stop_cmd;
	else if (!strcmp(key, "status_cmd"))
		v = c->status_cmd;
	else if (!strncmp(key, "user.", 5)) {
		struct ct_user_key *u = user_find((struct ct_config *)c, key);
		if (!u)
			return 1;
		v = u->value;
	} else if (!strncmp(key, "dataset.", 8)) {
		const struct ct_dataset *d = ct_config_dataset(c, key + 8);
		if (!d)
			return 1;
		v = d->mountpoint;
	} else {
		char b[80];
		return err_set("unknown key '%s'", shown(key, b, sizeof(b)));
	}
	if (strlen(v) >= cap)
		return err_set("%s: no room for the value", key);
	strcpy(buf, v);
	return 0;
}

int ct_config_parse(struct ct_config *c, const void *text, size_t len)
{
	struct kv_reader *r;
	char *key, *value;
	unsigned seen = 0;
	int got;

	if (len > CT_CONFIG_MAX)
		return err_set("config larger than %d bytes", CT_CONFIG_MAX);
	r = malloc(sizeof(*r));
	if (!r)
		return err_set("out of memory");
	cur_init(&r->cur, text, len);
	r->line = 0;
	ct_config_init(c);
	while ((got = kv_next(r, &key, &value)) == 1) {
		if (config_set(c, key, value, &seen) < 0) {
			err_prefix("line %u", r->line);
			got = -1;
			break;
		}
	}
	free(r);
	return got < 0 ? -1 : 0;
}

/* Appends one formatted line to BUF. */
static int put_line(char *buf, size_t cap, size_t *len, const char *key, const char *value)
{
	int n = snprintf(buf + *len, cap - *len, "%s = %s\n", key, value);
	if (n < 0 || (size_t)n >= cap - *len)
		return err_set("config does not fit in %zu bytes", cap);
	*len += (size_t)n;
	return 0;
}

int ct_config_format(const struct ct_config *c, char *buf, size_t cap, size_t *len)
{
	static const char *const keys[] = {"hostname", "init",	    "stop_timeout", "start_timeout",
					   "network",  "start_cmd", "stop_cmd",	    "status_cmd"};
	char v[CT_CMD_MAX + 1], key[CT_DATASET_NAME_MAX + 16];
	size_t n = 0;
	int w = snprintf(buf, cap, "# ferry container config (docs/container-config.md)\n");
	if (w < 0 || (size_t)w >= cap)
		return err_set("config does not fit in %zu bytes", cap);
	n = (size_t)w;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (ct_config_get(c, keys[i], v, sizeof(v)) < 0)
			return -1;
		if (!*v)
			continue; /* hostname = id, commands unset */
		if (put_line(buf, cap, &n, keys[i], v) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->n_datasets; i++) {
		snprintf(key, sizeof(key), "dataset.%s", c->datasets[i].name);
		if (put_line(buf, cap, &n, key, c->datasets[i].mountpoint) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->n_user; i++)
		if (put_line(buf, cap, &n, c->user[i].key, c->user[i].value) < 0)
			return -1;
	if (len)
		*len = n;
	return 0;
}

/* ---- Paths and handles ------------------------------------------------ */

static int pool_dir_path(const char *root, const char *pool, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s/%s/ct", root, NODE_POOLS_DIR, pool);
	if (n < 0 || (size_t)n >= cap)
		return err_set("path too long under %s", root);
	return 0;
}

int ct_dir_path(const char *root, const struct ct_ref *ref, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s/%s/ct/%s", root, NODE_POOLS_DIR, ref->pool, ref->id);
	if (n < 0 || (size_t)n >= cap)
		return err_set("path too long under %s", root);
	return 0;
}

int ct_file_path(const struct ct *ct, const char *name, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", ct->dir, name);
	if (n < 0 || (size_t)n >= cap)
		return err_set("path too long: %s/%s", ct->dir, name);
	return 0;
}

static int dataset_sub_path(const struct ct *ct, const char *name, const char *sub, char *buf,
			    size_t cap)
{
	char dn[CT_DATASET_NAME_MAX + 1];
	if (dataset_dirname(name, dn, sizeof(dn)) < 0)
		return -1;
	int n = snprintf(buf, cap, "%s/%s/%s%s%s", ct->dir, CT_DATASETS_DIR, dn, sub ? "/" : "",
			 sub ? sub : "");
	if (n < 0 || (size_t)n >= cap)
		return err_set("path too long under %s", ct->dir);
	return 0;
}

int ct_dataset_path(const struct ct *ct, const char *name, char *buf, size_t cap)
{
	return dataset_sub_path(ct, name, NULL, buf, cap);
}

int ct_dataset_tree(const struct ct *ct, const char *name, char *buf, size_t cap)
{
	return dataset_sub_path(ct, name, CT_TREE_DIR, buf, cap);
}

int ct_dataset_state(const struct ct *ct, const char *name, char *buf, size_t cap)
{
	return dataset_sub_path(ct, name, CT_STATE_DIR, buf, cap);
}

static void ct_reset(struct ct *ct)
{
	memset(ct, 0, sizeof(*ct));
	ct->dirfd = ct->lockfd = -1;
}

void ct_close(struct ct *ct)
{
	if (ct->lockfd >= 0)
		close(ct->lockfd);
	if (ct->dirfd >= 0)
		close(ct->dirfd);
	ct->lockfd = ct->dirfd = -1;
	ct->lock = CT_LOCK_NONE;
}

static int same_dir(int fd, const char *path)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0 || lstat(path, &b) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int ct_open(struct ct *ct, const char *root, const struct ct_ref *ref, int lock)
{
	char name[CT_REF_MAX + 1];
	ct_reset(ct);
	ct->ref = *ref;
	if (strlen(root) >= sizeof(ct->root))
		return err_set("state root path too long");
	strcpy(ct->root, root);
	if (ct_dir_path(root, ref, ct->dir, sizeof(ct->dir)) < 0)
		return -1;
	/* A delete renames the directory away while holding the lock: re-check after waiting. */
	for (int attempt = 0; attempt < 10; attempt++) {
		ct->dirfd = open(ct->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ct->dirfd < 0) {
			if (errno == ENOENT || errno == ENOTDIR) {
				err_set("no container %s", ct_ref_str(ref, name));
				errno = ENOENT;
				return -1;
			}
			return err_set_errno("open %s", ct->dir);
		}
		int kind = lock & (CT_LOCK_SHARED | CT_LOCK_EXCLUSIVE);
		if (!kind)
			return 0;
		int op = (kind == CT_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) |
			 (lock & CT_LOCK_NOWAIT ? LOCK_NB : 0);
		ct->lockfd = file_lock(ct->dirfd, CT_LOCK_FILE, op);
		if (ct->lockfd < 0) {
			int e = errno;
			close(ct->dirfd);
			ct->dirfd = -1;
			errno = e;
			if (e == EWOULDBLOCK)
				return err_set(
					"container %s is busy: another ferry command holds its "
					"lock",
					ct_ref_str(ref, name));
			return err_prefix("container %s", ct_ref_str(ref, name));
		}
		if (same_dir(ct->dirfd, ct->dir)) {
			ct->lock = kind;
			return 0;
		}
		ct_close(ct);
	}
	return err_set("container %s keeps changing under us", ct_ref_str(ref, name));
}

int ct_exists(const char *root, const struct ct_ref *ref)
{
	char dir[4096];
	struct stat st;
	if (ct_dir_path(root, ref, dir, sizeof(dir)) < 0)
		return -1;
	if (lstat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 1 : 0;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return err_set_errno("%s", dir);
}

static int need_excl(const struct ct *ct, const char *what)
{
	char name[CT_REF_MAX + 1];
	if (ct->lock != CT_LOCK_EXCLUSIVE || ct->dirfd < 0)
		return err_set("%s of container %s: not locked for writing", what,
			       ct_ref_str(&ct->ref, name));
	return 0;
}

/* ---- Files of a container -------------------------------------------- */

static int reserved_name(const char *name)
{
	static const char *const own[] = {CT_CONFIG_FILE, CT_LOCK_FILE,	   CT_RUN_FILE,
					  CT_STAGED_FILE, CT_DATASETS_DIR, CT_LOG_FILE};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (!strcmp(name, own[i]))
			return 1;
	return 0;
}

int ct_file_read(const struct ct *ct, const char *name, size_t max, char **out, size_t *len)
{
	if (!file_name_ok(name))
		return err_set("bad file name '%s'", name);
	if (file_read_all(ct->dirfd, name, max, out, len) < 0)
		return errno == ENOENT ? 1 : err_prefix("%s", ct->dir);
	return 0;
}

int ct_file_write(struct ct *ct, const char *name, const void *data, size_t len)
{
	if (need_excl(ct, "write") < 0)
		return -1;
	if (!file_name_ok(name) || reserved_name(name))
		return err_set("%s: not a file callers may write", name);
	if (file_write_atomic(ct->dirfd, name, data, len, 0600) < 0)
		return err_prefix("%s", ct->dir);
	return 0;
}

static int remove_file(struct ct *ct, const char *name)
{
	if (unlinkat(ct->dirfd, name, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set_errno("remove %s/%s", ct->dir, name);
	}
	return file_fsync_dir(ct->dirfd);
}

int ct_file_remove(struct ct *ct, const char *name)
{
	if (need_excl(ct, "remove a file") < 0)
		return -1;
	if (!file_name_ok(name) || reserved_name(name))
		return err_set("%s: not a file callers may remove", name);
	return remove_file(ct, name);
}

int ct_config_load(const struct ct *ct, struct ct_config *c)
{
	char *text = NULL, name[CT_REF_MAX + 1];
	size_t len = 0;
	if (file_read_all(ct->dirfd, CT_CONFIG_FILE, CT_CONFIG_MAX, &text, &len) < 0)
		return err_prefix("config of %s", ct_ref_str(&ct->ref, name));
	int r = ct_config_parse(c, text, len);
	free(text);
	if (r < 0)
		return err_prefix("%s/%s", ct->dir, CT_CONFIG_FILE);
	return 0;
}

static int config_write(int dirfd, const struct ct_config *c)
{
	char *buf = malloc(CT_CONFIG_MAX);
	size_t len;
	if (!buf)
		return err_set("out of memory");
	int r = ct_config_format(c, buf, CT_CONFIG_MAX, &len);
	if (r == 0)
		r = file_write_atomic(dirfd, CT_CONFIG_FILE, buf, len, 0600);
	free(buf);
	return r;
}

int ct_config_save(struct ct *ct, const struct ct_config *c)
{
	if (need_excl(ct, "config change") < 0)
		return -1;
	if (config_write(ct->dirfd, c) < 0)
		return err_prefix("%s", ct->dir);
	return 0;
}

int ct_staged(const struct ct *ct)
{
	struct stat st;
	if (fstatat(ct->dirfd, CT_STAGED_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return err_set_errno("%s/%s", ct->dir, CT_STAGED_FILE);
}

static int staged_write(int dirfd)
{
	static const char text[] = "staged: not startable until a migration's transfer completes\n";
	return file_write_atomic(dirfd, CT_STAGED_FILE, text, sizeof(text) - 1, 0600);
}

int ct_set_staged(struct ct *ct, int staged)
{
	if (need_excl(ct, "staged flag change") < 0)
		return -1;
	if (staged)
		return staged_write(ct->dirfd) < 0 ? err_prefix("%s", ct->dir) : 0;
	return remove_file(ct, CT_STAGED_FILE);
}

/* ---- Run record ------------------------------------------------------- */

int ct_run_load(const struct ct *ct, struct ct_run *r)
{
	char *text = NULL, *key, *value;
	size_t len = 0;
	int got;
	memset(r, 0, sizeof(*r));
	if (file_read_all(ct->dirfd, CT_RUN_FILE, CT_RUN_MAX, &text, &len) < 0)
		return errno == ENOENT ? 1 : err_prefix("%s", ct->dir);
	struct kv_reader *kv = malloc(sizeof(*kv));
	if (!kv) {
		free(text);
		return err_set("out of memory");
	}
	cur_init(&kv->cur, text, len);
	kv->line = 0;
	while ((got = kv_next(kv, &key, &value)) == 1) {
		uint64_t v;
		if (!strcmp(key, "runtime")) {
			if (strcmp(value, "builtin") && strcmp(value, "external")) {
				got = err_set("bad runtime '%s'", value);
				break;
			}
			r->external = !strcmp(value, "external");
			continue;
		}
		if (parse_uint(value, 0, INT64_MAX, &v) < 0) {
			got = err_prefix("%s", key);
			break;
		}
		if (!strcmp(key, "pid") && v < INT32_MAX)
			r->pid = (pid_t)v;
		else if (!strcmp(key, "starttime"))
			r->starttime = v;
		else if (!strcmp(key, "started"))
			r->started = (long long)v;
		/* other keys: written by a newer ferry; ignored */
	}
	free(kv);
	free(text);
	if (got < 0)
		return err_prefix("%s/%s", ct->dir, CT_RUN_FILE);
	return 0;
}

int ct_run_save(struct ct *ct, const struct ct_run *r)
{
	char buf[256];
	if (need_excl(ct, "run record") < 0)
		return -1;
	int n = snprintf(
		buf, sizeof(buf), "runtime = %s\npid = %d\nstarttime = %llu\nstarted = %lld\n",
		r->external ? "external" : "builtin", (int)r->pid, r->starttime, r->started);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return err_set("run record too long");
	if (file_write_atomic(ct->dirfd, CT_RUN_FILE, buf, (size_t)n, 0600) < 0)
		return err_prefix("%s", ct->dir);
	return 0;
}

int ct_run_clear(struct ct *ct)
{
	if (need_excl(ct, "run record") < 0)
		return -1;
	return remove_file(ct, CT_RUN_FILE);
}

int ct_run_alive(const struct ct_run *r)
{
	if (r->pid <= 0)
		return 0;
	return proc_alive(r->pid, r->starttime);
}

/* ---- Creating, listing, removing -------------------------------------- */

/* Creates datasets/<name>/{state,tree} under the container directory DIRFD. */
static int dataset_mkdirs(int dirfd, const char *name, int no_tree)
{
	char dn[CT_DATASET_NAME_MAX + 1], rel[CT_DATASET_NAME_MAX + 64];
	if (dataset_dirname(name, dn, sizeof(dn)) < 0)
		return -1;
	if (mkdirat(dirfd, CT_DATASETS_DIR, 0700) < 0 && errno != EEXIST)
		return err_set_errno("mkdir %s", CT_DATASETS_DIR);
	snprintf(rel, sizeof(rel), "%s/%s", CT_DATASETS_DIR, dn);
	if (mkdirat(dirfd, rel, 0700) < 0)
		return err_set_errno("mkdir %s", rel);
	snprintf(rel, sizeof(rel), "%s/%s/%s", CT_DATASETS_DIR, dn, CT_STATE_DIR);
	if (mkdirat(dirfd, rel, 0700) < 0)
		return err_set_errno("mkdir %s", rel);
	if (!no_tree) {
		snprintf(rel, sizeof(rel), "%s/%s/%s", CT_DATASETS_DIR, dn, CT_TREE_DIR);
		if (mkdirat(dirfd, rel, 0755) < 0)
			return err_set_errno("mkdir %s", rel);
		if (fchmodat(dirfd, rel, 0755, 0) < 0) /* whatever the umask */
			return err_set_errno("chmod %s", rel);
	}
	return 0;
}

/* Fills the root tree PATH (not existing yet) from a directory or an archive. */
static int root_fill(const char *tree, const struct ct_create_opts *o)
{
	struct proc_opts po;
	struct stat st;
	int status;
	if (o->from_dir) {
		char *const argv[] = {"cp",
				      "-a",
				      "--one-file-system",
				      "--no-target-directory",
				      "--",
				      (char *)o->from_dir,
				      (char *)tree,
				      NULL};
		if (stat(o->from_dir, &st) < 0)
			return err_set_errno("%s", o->from_dir);
		if (!S_ISDIR(st.st_mode))
			return err_set("%s: not a directory", o->from_dir);
		proc_opts_init(&po, argv);
		po.fd_in = PROC_NULL;
		if (proc_run(&po, -1, NULL, 0, NULL, &status) < 0)
			return -1;
		return proc_status_check("copy with cp", status);
	}
	if (mkdir(tree, 0755) < 0 || chmod(tree, 0755) < 0)
		return err_set_errno("mkdir %s", tree);
	if (!o->from_tar)
		return 0;
	char *const argv[] = {"tar",
			      "--extract",
			      "--file",
			      (char *)o->from_tar,
			      "--directory",
			      (char *)tree,
			      "--numeric-owner",
			      "--same-owner",
			      "--same-permissions",
			      "--xattrs",
			      "--xattrs-include=*",
			      "--acls",
			      NULL};
	if (strcmp(o->from_tar, "-")) {
		if (stat(o->from_tar, &st) < 0)
			return err_set_errno("%s", o->from_tar);
		if (!S_ISREG(st.st_mode))
			return err_set("%s: not a regular file", o->from_tar);
	}
	proc_opts_init(&po, argv);
	po.fd_in = strcmp(o->from_tar, "-") ? PROC_NULL : PROC_INHERIT;
	if (proc_run(&po, -1, NULL, 0, NULL, &status) < 0)
		return -1;
	return proc_status_check("extract with tar", status);
}

/*
 * Removes staging directories (.new-*, .del-*) of POOLFD whose creator is
 * gone: nobody holds their lock. Called with the pool lock held.
 */
static void sweep_stale(int poolfd)
{
	int fd = dup(poolfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, CT_STAGE_NEW, 5) && strncmp(e->d_name, CT_STAGE_DEL, 5))
			continue;
		int sfd =
			openat(poolfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			continue;
		int lfd = file_lock(sfd, CT_LOCK_FILE, LOCK_EX | LOCK_NB);
		if (lfd >= 0) {
			file_remove_tree(poolfd, e->d_name); /* best effort; retried next time */
			close(lfd);
		}
		close(sfd);
	}
	closedir(d);
}

/* Makes a fresh staging dir PREFIX-ID-N in POOLFD, locked; its name goes to NAME. */
static int stage_dir(int poolfd, const char *prefix, const char *id, char *name, size_t cap,
		     int *dirfd, int *lockfd)
{
	static unsigned seq;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, cap, "%s%s-%d-%u", prefix, id, (int)getpid(), seq++);
		if (mkdirat(poolfd, name, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return err_set_errno("mkdir %s", name);
		}
		*dirfd = openat(poolfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*dirfd < 0)
			return err_set_errno("open %s", name);
		*lockfd = file_lock(*dirfd, CT_LOCK_FILE, LOCK_EX);
		if (*lockfd < 0) {
			close(*dirfd);
			return -1;
		}
		return 0;
	}
	return err_set("cannot make a staging directory for %s", id);
}

/* Opens (creating) the pool's container directory; takes the pool lock into *POOL_LOCK. */
static int pool_open(const char *root, const char *pool, int create, int *pool_lock)
{
	char rel[CT_NAME_MAX + 32], path[4096];
	snprintf(rel, sizeof(rel), "%s/%s/ct", NODE_POOLS_DIR, pool);
	if (create && node_mkdir(root, rel) < 0)
		return -1;
	if (pool_dir_path(root, pool, path, sizeof(path)) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno("open %s", path);
	*pool_lock = file_lock(fd, "../" CT_POOL_LOCK, LOCK_EX);
	if (*pool_lock < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int ct_create(struct ct *ct, const char *root, const struct ct_ref *ref,
	      const struct ct_create_opts *o)
{
	char stage[NAME_MAX + 1], tree[4096], name[CT_REF_MAX + 1];
	struct ct_config def;
	const struct ct_config *c = o->config;
	int poolfd, pool_lock = -1, sfd = -1, lfd = -1;

	ct_reset(ct);
	ct_ref_str(ref, name);
	if (!c) {
		ct_config_init(&def);
		c = &def;
	}
	if (o->from_dir && o->from_tar)
		return err_set("create %s: either a directory or an archive, not both", name);
	if (o->no_trees && (o->from_dir || o->from_tar))
		return err_set("create %s: no trees, yet a directory or archive to fill one", name);
	if (ct_name_check("pool", ref->pool) < 0 || ct_name_check("container id", ref->id) < 0)
		return -1;
	if (strlen(root) >= sizeof(ct->root))
		return err_set("state root path too long");
	int ex = ct_exists(root, ref);
	if (ex != 0) {
		if (ex > 0) {
			err_set("container %s already exists", ct_ref_str(ref, name));
			errno = EEXIST;
		}
		return -1;
	}

	poolfd = pool_open(root, ref->pool, 1, &pool_lock);
	if (poolfd < 0)
		return err_prefix("create %s", ct_ref_str(ref, name));
	sweep_stale(poolfd);
	int r = stage_dir(poolfd, CT_STAGE_NEW, ref->id, stage, sizeof(stage), &sfd, &lfd);
	close(pool_lock);
	if (r < 0) {
		close(poolfd);
		return err_prefix("create %s", ct_ref_str(ref, name));
	}

	ct->ref = *ref;
	strcpy(ct->root, root);
	ct_dir_path(root, ref, ct->dir, sizeof(ct->dir));
	r = -1;
	/* Build everything under the staging name; paths go through the stage's own name. */
	int n = snprintf(tree, sizeof(tree), "%s/%s/%s/ct/%s/%s/%s/%s", root, NODE_POOLS_DIR,
			 ref->pool, stage, CT_DATASETS_DIR, CT_ROOT_DIRNAME, CT_TREE_DIR);
	if (n < 0 || (size_t)n >= sizeof(tree)) {
		err_set("path too long under %s", root);
		goto out;
	}
	if (dataset_mkdirs(sfd, CT_DATASET_ROOT, 1) < 0)
		goto out;
	if (!o->no_trees && root_fill(tree, o) < 0)
		goto out;
	for (size_t i = 0; i < c->n_datasets; i++)
		if (dataset_mkdirs(sfd, c->datasets[i].name, o->no_trees) < 0)
			goto out;
	if (config_write(sfd, c) < 0)
		goto out;
	if (o->staged && staged_write(sfd) < 0)
		goto out;
	if (syscall(SYS_renameat2, poolfd, stage, poolfd, ref->id, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			err_set("container %s already exists", name);
			errno = EEXIST;
		} else {
			err_set_errno("rename %s to %s", stage, ref->id);
		}
		goto out;
	}
	if (file_fsync_dir(poolfd) < 0)
		goto out;
	ct->dirfd = sfd;
	ct->lockfd = lfd;
	ct->lock = CT_LOCK_EXCLUSIVE;
	close(poolfd);
	return 0;
out:;
	int e = errno;
	if (strncmp(err_msg(), "container ", 10))
		err_prefix("create %s", name);
	file_remove_tree(poolfd, stage);
	close(sfd);
	close(lfd);
	close(poolfd);
	ct_reset(ct);
	errno = e;
	return r;
}

int ct_remove(struct ct *ct)
{
	char name[CT_REF_MAX + 1], pooldir[4096], gone[NAME_MAX + 1];
	struct ct_run run;
	int pool_lock;
	static unsigned seq;

	if (need_excl(ct, "delete") < 0)
		return -1;
	if (ct_run_load(ct, &run) == 0 && ct_run_alive(&run) > 0)
		return err_set("container %s is running (pid %d): stop it first",
			       ct_ref_str(&ct->ref, name), (int)run.pid);
	if (pool_dir_path(ct->root, ct->ref.pool, pooldir, sizeof(pooldir)) < 0)
		return -1;
	int poolfd = open(pooldir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (poolfd < 0)
		return err_set_errno("open %s", pooldir);
	pool_lock = file_lock(poolfd, "../" CT_POOL_LOCK, LOCK_EX);
	if (pool_lock < 0) {
		close(poolfd);
		return -1;
	}
	int r = -1;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(gone, sizeof(gone), "%s%s-%d-%u", CT_STAGE_DEL, ct->ref.id, (int)getpid(),
			 seq++);
		r = (int)syscall(SYS_renameat2, poolfd, ct->ref.id, poolfd, gone, RENAME_NOREPLACE);
		if (r == 0 || errno != EEXIST)
			break;
	}
	close(pool_lock);
	if (r < 0) {
		err_set_errno("delete %s: rename %s", ct_ref_str(&ct->ref, name), ct->dir);
		close(poolfd);
		return -1;
	}
	file_fsync_dir(poolfd);
	/* The container is gone for everyone now; what remains is garbage (swept if this fails). */
	r = file_remove_tree(poolfd, gone);
	close(poolfd);
	ct_close(ct);
	if (r < 0)
		return err_prefix("delete %s: removing %s/%s (left for a later sweep)",
				  ct_ref_str(&ct->ref, name), pooldir, gone);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The valid names in directory PATH, sorted; *N gets their count. NULL + *N = 0 if PATH is absent. */
static char **names_in(const char *path, size_t *n, int *err)
{
	DIR *d = opendir(path);
	char **v = NULL;
	size_t cap = 0;
	struct dirent *e;
	*n = 0;
	*err = 0;
	if (!d) {
		if (errno != ENOENT)
			*err = err_set_errno("%s", path);
		return NULL;
	}
	while ((e = readdir(d))) {
		if (!ct_name_ok(e->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[*n] = strdup(e->d_name)))
			goto oom;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
oom:
	closedir(d);
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	*n = 0;
	*err = err_set("out of memory listing %s", path);
	return NULL;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int ct_pool_list(const char *root, int (*fn)(const char *pool, void *arg), void *arg)
{
	char path[4096];
	size_t n;
	int err;
	if (node_path(path, sizeof(path), root, NODE_POOLS_DIR) < 0)
		return -1;
	char **pools = names_in(path, &n, &err);
	if (err)
		return -1;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = fn(pools[i], arg);
	names_free(pools, n);
	return r;
}

struct list_ctx {
	const char *root;
	int (*fn)(const struct ct_ref *ref, void *arg);
	void *arg;
};

static int list_pool(const char *pool, void *arg)
{
	struct list_ctx *lc = arg;
	char path[4096];
	size_t n;
	int err;
	if (pool_dir_path(lc->root, pool, path, sizeof(path)) < 0)
		return -1;
	char **ids = names_in(path, &n, &err);
	if (err)
		return -1;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct ct_ref ref;
		if (ct_ref_set(&ref, pool, ids[i]) == 0)
			r = lc->fn(&ref, lc->arg);
	}
	names_free(ids, n);
	return r;
}

int ct_list(const char *root, const char *pool, int (*fn)(const struct ct_ref *ref, void *arg),
	    void *arg)
{
	struct list_ctx lc = {root, fn, arg};
	if (pool) {
		if (ct_name_check("pool", pool) < 0)
			return -1;
		return list_pool(pool, &lc);
	}
	return ct_pool_list(root, list_pool, &lc);
}

/* ---- Datasets --------------------------------------------------------- */

int ct_dataset_add(struct ct *ct, struct ct_config *c, const char *name, const char *mountpoint,
		   int no_tree)
{
	char key[CT_DATASET_NAME_MAX + 16], path[4096];
	if (need_excl(ct, "dataset add") < 0)
		return -1;
	if (ct_dataset_name_check(name) < 0)
		return -1;
	if (!strcmp(name, CT_DATASET_ROOT))
		return err_set("the root dataset always exists");
	if (ct_config_dataset(c, name))
		return err_set("dataset %s already exists", name);
	struct ct_config next = *c;
	snprintf(key, sizeof(key), "dataset.%s", name);
	if (ct_config_set(&next, key, mountpoint) < 0)
		return -1;
	if (ct_dataset_path(ct, name, path, sizeof(path)) < 0)
		return -1;
	/* Leftovers of an earlier failed add or remove are not this dataset's data. */
	char dn[CT_DATASET_NAME_MAX + 1], rel[CT_DATASET_NAME_MAX + 32];
	dataset_dirname(name, dn, sizeof(dn));
	snprintf(rel, sizeof(rel), "%s/%s", CT_DATASETS_DIR, dn);
	if (file_remove_tree(ct->dirfd, rel) < 0)
		return err_prefix("dataset %s", name);
	if (dataset_mkdirs(ct->dirfd, name, no_tree) < 0)
		return err_prefix("dataset %s", name);
	if (ct_config_save(ct, &next) < 0) {
		file_remove_tree(ct->dirfd, rel);
		return -1;
	}
	*c = next;
	return 0;
}

int ct_dataset_remove(struct ct *ct, struct ct_config *c, const char *name)
{
	char key[CT_DATASET_NAME_MAX + 16];
	char dn[CT_DATASET_NAME_MAX + 1], rel[CT_DATASET_NAME_MAX + 32];
	if (need_excl(ct, "dataset remove") < 0)
		return -1;
	if (ct_dataset_name_check(name) < 0)
		return -1;
	if (!strcmp(name, CT_DATASET_ROOT))
		return err_set("the root dataset cannot be removed (delete the container)");
	if (!ct_config_dataset(c, name))
		return err_set("no dataset %s", name);
	struct ct_config next = *c;
	snprintf(key, sizeof(key), "dataset.%s", name);
	ct_config_unset(&next, key);
	if (ct_config_save(ct, &next) < 0)
		return -1;
	*c = next;
	dataset_dirname(name, dn, sizeof(dn));
	snprintf(rel, sizeof(rel), "%s/%s", CT_DATASETS_DIR, dn);
	if (file_remove_tree(ct->dirfd, rel) < 0)
		return err_prefix("dataset %s removed from the config, but its files", name);
	return 0;
}
