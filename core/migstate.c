/* The migration state file: a strict "key = value" text, parsed as untrusted input, written atomically. */
#include "core/migstate.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/opt.h"

#define LINE_MAX_LEN 1024

static const char *const state_names[] = {
	[MIG_NONE] = "none",
	[MIG_STAGED] = "staged",
	[MIG_SYNCED] = "synced",
	[MIG_TRANSFERRING] = "transferring",
	[MIG_TRANSFERRED] = "transferred",
	[MIG_KEPT] = "kept",
	[MIG_COMPLETE] = "complete",
};
#define STATE_COUNT (sizeof(state_names) / sizeof(state_names[0]))

const char *migstate_state_name(enum migstate_state s)
{
	return (size_t)s < STATE_COUNT ? state_names[s] : "?";
}

static int charset_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr(extra, c))
			return 0;
	}
	return 1;
}

int migstate_host_ok(const char *host)
{
	return charset_ok(host, MIGSTATE_HOST_MAX, "._:-");
}

int migstate_user_ok(const char *user)
{
	return charset_ok(user, MIGSTATE_USER_MAX, "._-");
}

int migstate_ssh_ok(const char *ssh)
{
	return charset_ok(ssh, MIGSTATE_SSH_MAX, "/._+-");
}

void migstate_init(struct migstate *m)
{
	memset(m, 0, sizeof(*m));
}

static int dataset_cmp(const void *a, const void *b)
{
	const char *x = ((const struct migstate_dataset *)a)->name;
	const char *y = ((const struct migstate_dataset *)b)->name;
	/* "/" sorts first: the root dataset is sent first. */
	int xr = !strcmp(x, "/"), yr = !strcmp(y, "/");
	if (xr || yr)
		return yr - xr;
	return strcmp(x, y);
}

struct migstate_dataset *migstate_dataset(struct migstate *m, const char *name)
{
	for (size_t i = 0; i < m->n_datasets; i++)
		if (!strcmp(m->datasets[i].name, name))
			return &m->datasets[i];
	return NULL;
}

int migstate_dataset_add(struct migstate *m, const char *name)
{
	if (ct_dataset_name_check(name) < 0)
		return -1;
	if (migstate_dataset(m, name))
		return err_set("dataset %s listed twice", name);
	if (m->n_datasets >= MIGSTATE_DATASETS)
		return err_set("too many datasets (at most %d)", MIGSTATE_DATASETS);
	struct migstate_dataset *d = &m->datasets[m->n_datasets++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	qsort(m->datasets, m->n_datasets, sizeof(m->datasets[0]), dataset_cmp);
	return 0;
}

/* ---- Parsing --------------------------------------------------------------- */

enum key {
	K_ROLE,
	K_STATE,
	K_SINCE,
	K_DEST,
	K_PORT,
	K_SSH,
	K_USER,
	K_CONFIG,
	K_WAS_RUNNING,
	K_KEY,
	K_CLIENT,
	K_COUNT
};
static const char *const key_names[K_COUNT] = {
	[K_ROLE] = "role",
	[K_STATE] = "state",
	[K_SINCE] = "since",
	[K_DEST] = "dest",
	[K_PORT] = "port",
	[K_SSH] = "ssh",
	[K_USER] = "user",

	[K_CONFIG] = "config_sha256",
	[K_WAS_RUNNING] = "was_running",
	[K_KEY] = "key",
	[K_CLIENT] = "client",
};
/* Which role may carry a key: 1 source, 2 destination, 3 both. */
static const int key_roles[K_COUNT] = {
	[K_ROLE] = 3,	     [K_STATE] = 3, [K_SINCE] = 3,  [K_DEST] = 1,
	[K_PORT] = 1,	     [K_SSH] = 1,   [K_USER] = 1,   [K_CONFIG] = 1,
	[K_WAS_RUNNING] = 1, [K_KEY] = 2,   [K_CLIENT] = 2,
};

static int copy_value(char *dst, size_t cap, const char *v, int (*ok)(const char *),
		      const char *what)
{
	if (strlen(v) >= cap || !ok(v))
		return err_set("bad %s", what);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int snap_or_none(char *dst, const char *v)
{
	if (!strcmp(v, "-")) {
		dst[0] = 0;
		return 0;
	}
	if (!recvcmd_snap_ok(v))
		return err_set("bad snapshot name");
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int key_name_ok(const char *s)
{
	return charset_ok(s, MIGSTATE_KEY_MAX, "._-");
}

static int addr_ok(const char *s)
{
	return charset_ok(s, MIGSTATE_ADDR_MAX, ".:%") || !strcmp(s, "-");
}

static int hex64_ok(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (size_t i = 0; i < 64; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

/* "dataset.NAME = CONFIRMED PENDING" */
static int parse_dataset(struct migstate *m, const char *name, const char *value)
{
	char conf[RECVCMD_SNAP_MAX + 2], pend[RECVCMD_SNAP_MAX + 2];
	const char *sp = strchr(value, ' ');
	if (!sp || strchr(sp + 1, ' ') || (size_t)(sp - value) > RECVCMD_SNAP_MAX ||
	    strlen(sp + 1) > RECVCMD_SNAP_MAX)
		return err_set("dataset %s: expected 'CONFIRMED PENDING' (- for none)", name);
	snprintf(conf, sizeof(conf), "%.*s", (int)(sp - value), value);
	snprintf(pend, sizeof(pend), "%s", sp + 1);
	if (migstate_dataset_add(m, name) < 0)
		return -1;
	struct migstate_dataset *d = migstate_dataset(m, name);
	if (snap_or_none(d->confirmed, conf) < 0 || snap_or_none(d->pending, pend) < 0)
		return err_prefix("dataset %s", name);
	return 0;
}

static int parse_line(struct migstate *m, char *line, unsigned *seen)
{
	char *eq = strstr(line, " = ");
	if (!eq)
		return err_set("expected 'key = value'");
	*eq = 0;
	const char *key = line, *v = eq + 3;
	if (!*v)
		return err_set("%s: empty value", key);
	if (!strncmp(key, "dataset.", 8)) {
		if (m->role != MIG_ROLE_SOURCE)
			return err_set("%s: only a source records datasets", key);
		return parse_dataset(m, key + 8, v);
	}
	int k = -1;
	for (int i = 0; i < K_COUNT; i++)
		if (!strcmp(key, key_names[i]))
			k = i;
	if (k < 0)
		return err_set("unknown key '%.64s'", key);
	if (*seen & (1u << k))
		return err_set("%s given twice", key);
	*seen |= 1u << k;
	if (k != K_ROLE && !m->role)
		return err_set("%s before role", key);
	if (k != K_ROLE && !(key_roles[k] & (int)m->role))
		return err_set("%s does not belong to a %s", key,
			       m->role == MIG_ROLE_SOURCE ? "source" : "destination");
	uint64_t u;
	switch (k) {
	case K_ROLE:
		if (!strcmp(v, "source"))
			m->role = MIG_ROLE_SOURCE;
		else if (!strcmp(v, "destination"))
			m->role = MIG_ROLE_DEST;
		else
			return err_set("role: expected source or destination");
		return 0;
	case K_STATE:
		for (size_t s = 1; s < STATE_COUNT; s++)
			if (!strcmp(v, state_names[s])) {
				int dest_state = s == MIG_STAGED || s == MIG_COMPLETE;
				int src_state = s != MIG_COMPLETE;
				if ((m->role == MIG_ROLE_DEST && !dest_state) ||
				    (m->role == MIG_ROLE_SOURCE && !src_state))
					return err_set("state %s does not belong to this role", v);
				m->state = (enum migstate_state)s;
				return 0;
			}
		return err_set("unknown state '%.32s'", v);
	case K_SINCE:
		if (parse_uint(v, 0, (uint64_t)1 << 40, &u) < 0)
			return -1;
		m->since = (long long)u;
		return 0;
	case K_DEST:
		return copy_value(m->dest, sizeof(m->dest), v, migstate_host_ok, "dest");
	case K_PORT:
		if (parse_uint(v, 1, 65535, &u) < 0)
			return -1;
		m->port = (unsigned)u;
		return 0;
	case K_SSH:
		return copy_value(m->ssh, sizeof(m->ssh), v, migstate_ssh_ok, "ssh");
	case K_USER:
		return copy_value(m->user, sizeof(m->user), v, migstate_user_ok, "user");
	case K_CONFIG:
		return copy_value(m->config_sum, sizeof(m->config_sum), v, hex64_ok,
				  "config_sha256");
	case K_WAS_RUNNING:
		if (strcmp(v, "0") && strcmp(v, "1"))
			return err_set("was_running: expected 0 or 1");
		m->was_running = v[0] == '1';
		return 0;
	case K_KEY:
		return copy_value(m->key, sizeof(m->key), v, key_name_ok, "key");
	case K_CLIENT:
		return copy_value(m->client, sizeof(m->client), v, addr_ok, "client");
	}
	return err_set("unknown key");
}

static int parse_text(struct migstate *m, const char *text, size_t len)
{
	char line[LINE_MAX_LEN + 1];
	unsigned seen = 0, lineno = 0;
	size_t off = 0;
	migstate_init(m);
	if (len > CT_MIGRATION_MAX)
		return err_set("migration state too large");
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		if (!nl)
			return err_set("line %u: no newline at the end", lineno + 1);
		size_t n = (size_t)(nl - (text + off));
		lineno++;
		if (n > LINE_MAX_LEN)
			return err_set("line %u: too long", lineno);
		memcpy(line, text + off, n);
		line[n] = 0;
		off += n + 1;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
				return err_set("line %u: control or non-ASCII byte", lineno);
		if (lineno == 1) {
			if (strcmp(line, MIGSTATE_HEADER))
				return err_set("line 1: not a ferry migration state (or another "
					       "version)");
			continue;
		}
		if (parse_line(m, line, &seen) < 0)
			return err_prefix("line %u", lineno);
	}
	if (!lineno)
		return err_set("empty migration state");
	if (!m->role || !m->state)
		return err_set("role or state missing");
	if (m->role == MIG_ROLE_SOURCE &&
	    (!m->dest[0] || !m->ssh[0] || !m->user[0] || !m->config_sum[0] ||
	     !migstate_dataset(m, CT_DATASET_ROOT)))
		return err_set("source state without dest, ssh, user, config_sha256 or dataset./");
	if (m->role == MIG_ROLE_DEST && !m->key[0])
		return err_set("destination state without key");
	return 0;
}

int migstate_parse(struct migstate *m, const char *text, size_t len)
{
	if (parse_text(m, text, len) < 0) {
		migstate_init(m);
		return -1;
	}
	return 0;
}

/* ---- Formatting -------------------------------------------------------------- */

struct out {
	char *buf;
	size_t cap, len;
	int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	if (o->failed)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->failed = 1;
	else
		o->len += (size_t)n;
}

int migstate_format(const struct migstate *m, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, 0};
	if (cap)
		buf[0] = 0;
	if (m->role != MIG_ROLE_SOURCE && m->role != MIG_ROLE_DEST)
		return err_set("migration state without a role");
	put(&o, "%s\n", MIGSTATE_HEADER);
	put(&o, "role = %s\n", m->role == MIG_ROLE_SOURCE ? "source" : "destination");
	put(&o, "state = %s\n", migstate_state_name(m->state));
	put(&o, "since = %lld\n", m->since > 0 ? m->since : 0);
	if (m->role == MIG_ROLE_SOURCE) {
		put(&o, "dest = %s\n", m->dest);
		if (m->port)
			put(&o, "port = %u\n", m->port);
		put(&o, "ssh = %s\n", m->ssh);
		put(&o, "user = %s\n", m->user);
		put(&o, "config_sha256 = %s\n", m->config_sum);
		if (m->state == MIG_TRANSFERRING)
			put(&o, "was_running = %d\n", m->was_running ? 1 : 0);
		for (size_t i = 0; i < m->n_datasets; i++) {
			const struct migstate_dataset *d = &m->datasets[i];
			put(&o, "dataset.%s = %s %s\n", d->name,
			    d->confirmed[0] ? d->confirmed : "-", d->pending[0] ? d->pending : "-");
		}
	} else {
		put(&o, "key = %s\n", m->key);
		put(&o, "client = %s\n", m->client[0] ? m->client : "-");
	}
	if (o.failed)
		return err_set("migration state does not fit");
	/* Never write what we could not read back. */
	struct migstate *check = malloc(sizeof(*check));
	if (!check)
		return err_set("out of memory");
	int r = migstate_parse(check, buf, o.len);
	free(check);
	if (r < 0)
		return err_prefix("invalid migration state");
	return (int)o.len;
}

int migstate_load(const struct ct *ct, struct migstate *m)
{
	char *text = NULL, name[CT_REF_MAX + 1];
	size_t len = 0;
	migstate_init(m);
	int r = ct_file_read(ct, CT_MIGRATION_FILE, CT_MIGRATION_MAX, &text, &len);
	if (r != 0)
		return r;
	r = migstate_parse(m, text, len);
	free(text);
	if (r < 0)
		return err_prefix("%s/%s (migration state of %s)", ct->dir, CT_MIGRATION_FILE,
				  ct_ref_str(&ct->ref, name));
	return 0;
}

int migstate_save(struct ct *ct, const struct migstate *m)
{
	char *buf = malloc(CT_MIGRATION_MAX);
	if (!buf)
		return err_set("out of memory");
	int n = migstate_format(m, buf, CT_MIGRATION_MAX);
	int r = n < 0 ? -1 : ct_file_write(ct, CT_MIGRATION_FILE, buf, (size_t)n);
	free(buf);
	return r;
}
