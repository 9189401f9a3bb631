/* ferry ct: create, start, stop and inspect containers on this node. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ct.h"
#include "core/err.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/runtime.h"
#include "core/utc.h"

static const char usage[] =
	"usage: ferry ct create [--root DIR] CT [--from DIR | --from-tar FILE] [--hostname NAME]\n"
	"                       [--init CMD] [--dataset NAME:MOUNTPOINT]... [--staged]\n"
	"       ferry ct list [--root DIR] [-H] [-o FIELD,...] [POOL]\n"
	"       ferry ct show [--root DIR] CT [KEY]\n"
	"       ferry ct start [--root DIR] CT\n"
	"       ferry ct stop [--root DIR] [-t SECONDS] CT\n"
	"       ferry ct delete [--root DIR] [-f] CT\n"
	"       ferry ct set [--root DIR] CT KEY VALUE\n"
	"       ferry ct unset [--root DIR] CT KEY\n"
	"       ferry ct dataset add [--root DIR] CT NAME MOUNTPOINT\n"
	"       ferry ct dataset del [--root DIR] CT NAME\n"
	"       ferry ct unstage [--root DIR] CT\n"
	"\n"
	"Manage the containers of this node. CT is [POOL:]ID (pool \"default\" when\n"
	"omitted); pools and ids are 1 to 63 characters of a-z, 0-9, '_', '.' and '-',\n"
	"starting with a-z or 0-9. State lives under --root DIR, else $FERRY_ROOT,\n"
	"else /var/lib/ferry (docs/node-state.md). Config keys: docs/container-config.md.\n"
	"\n"
	"  create   a container with an empty root file system, a copy of DIR (cp -a,\n"
	"           one file system) or the contents of a tar archive (FILE, - for\n"
	"           stdin; GNU tar with xattrs, ACLs and numeric owners). --dataset adds\n"
	"           an empty sub-dataset mounted at MOUNTPOINT (repeatable). --staged\n"
	"           creates it not startable, as a migration's destination does.\n"
	"  list     one line per container: POOL ID STATE PID (STATE is running,\n"
	"           stopped or staged). -o picks fields from pool, id, name, state,\n"
	"           pid, hostname, runtime, started; -H prints no header and separates\n"
	"           fields by tabs. POOL lists only that pool.\n"
	"  show     state, paths and every config key, one per line; with KEY only\n"
	"           that line's value\n"
	"  start    start it: the built-in runtime runs init as PID 1 of new PID,\n"
	"           mount, UTS and IPC namespaces on the root dataset; or start_cmd\n"
	"  stop     SIGTERM to its init, SIGKILL after stop_timeout seconds (-t,\n"
	"           --timeout overrides); stopping a stopped container is no error\n"
	"  delete   delete it with all its data; refuses while it runs unless -f\n"
	"           (--force), which stops it first\n"
	"  set      set a config key; unset resets it to its default\n"
	"  dataset  add an empty sub-dataset, or del one with all its data\n"
	"  unstage  clear the staged flag (recovery after a failed migration: make\n"
	"           sure the container does not run on the other node)\n";

enum {
	O_ROOT = 1,
	O_FROM,
	O_FROM_TAR,
	O_HOSTNAME,
	O_INIT,
	O_DATASET,
	O_STAGED,
	O_NOHEADER,
	O_FIELDS,
	O_TIMEOUT,
	O_FORCE,
	O_COUNT
};

static const char *const option_names[O_COUNT] = {
	[O_ROOT] = "--root",	     [O_FROM] = "--from",   [O_FROM_TAR] = "--from-tar",
	[O_HOSTNAME] = "--hostname", [O_INIT] = "--init",   [O_DATASET] = "--dataset",
	[O_STAGED] = "--staged",     [O_NOHEADER] = "-H",   [O_FIELDS] = "-o",
	[O_TIMEOUT] = "--timeout",   [O_FORCE] = "--force",
};

#define DATASET_ARGS_MAX CT_DATASETS_MAX

/* The command line, parsed once for every sub-command. */
struct args {
	const char *root;
	const char *from, *from_tar, *hostname, *init, *fields;
	const char *datasets[DATASET_ARGS_MAX];
	size_t n_datasets;
	int staged, no_header, force;
	int timeout;   /* -1: the config's */
	unsigned used; /* bit per option id */
	char **pos;
	size_t n_pos;
};

static const char *root_dir(const struct args *a)
{
	return node_root(a->root);
}

static void ref_from(struct ct_ref *ref, const char *s)
{
	if (ct_ref_parse(ref, s) < 0)
		die("%s", err_msg());
}

/* Opens CT with LOCK and loads its config; dies with a clear message on failure. */
static void open_ct(struct ct *ct, struct ct_config *c, const struct args *a, const char *name,
		    int lock)
{
	struct ct_ref ref;
	ref_from(&ref, name);
	if (ct_open(ct, root_dir(a), &ref, lock) < 0)
		die("%s", err_msg());
	if (c && ct_config_load(ct, c) < 0)
		die("%s", err_msg());
}

/* ---- create ---------------------------------------------------------------- */

static int cmd_create(const struct args *a)
{
	struct ct_ref ref;
	struct ct ct;
	struct ct_config c;
	char name[CT_REF_MAX + 1];
	ref_from(&ref, a->pos[1]);
	ct_ref_str(&ref, name);
	ct_config_init(&c);
	if (a->hostname && ct_config_set(&c, "hostname", a->hostname) < 0)
		die_usage(usage, "--hostname: %s", err_msg());
	if (a->init && ct_config_set(&c, "init", a->init) < 0)
		die_usage(usage, "--init: %s", err_msg());
	for (size_t i = 0; i < a->n_datasets; i++) {
		char key[CT_DATASET_NAME_MAX + 16];
		const char *colon = strchr(a->datasets[i], ':');
		if (!colon || (size_t)(colon - a->datasets[i]) > CT_DATASET_NAME_MAX)
			die_usage(usage, "--dataset %s: expected NAME:MOUNTPOINT", a->datasets[i]);
		snprintf(key, sizeof(key), "dataset.%.*s", (int)(colon - a->datasets[i]),
			 a->datasets[i]);
		if (ct_config_dataset(&c, key + 8))
			die_usage(usage, "--dataset %.*s given twice",
				  (int)(colon - a->datasets[i]), a->datasets[i]);
		if (ct_config_set(&c, key, colon + 1) < 0)
			die_usage(usage, "--dataset %s: %s", a->datasets[i], err_msg());
	}
	if (a->from && a->from_tar)
		die_usage(usage, "--from and --from-tar exclude each other");
	struct ct_create_opts o = {&c, a->from, a->from_tar, a->staged, 0};
	if (ct_create(&ct, root_dir(a), &ref, &o) < 0)
		die("%s", err_msg());
	ct_close(&ct);
	return EXIT_OK;
}

/* ---- list ------------------------------------------------------------------- */

enum field { F_POOL, F_ID, F_NAME, F_STATE, F_PID, F_HOSTNAME, F_RUNTIME, F_STARTED, F_COUNT };
static const char *const field_names[F_COUNT] = {"pool", "id",	     "name",	"state",
						 "pid",	 "hostname", "runtime", "started"};

#define LIST_FIELDS_MAX 16
#define CELL_MAX	(CT_REF_MAX + 32)

struct list_state {
	const struct args *a;
	int fields[LIST_FIELDS_MAX];
	size_t n_fields;
	char (*cells)[CELL_MAX]; /* rows * n_fields */
	size_t rows, cap;
	int failed;
};

static void time_str(long long t, char *buf, size_t cap)
{
	if (t <= 0 || utc_format(buf, cap, t, UTC_ISO8601) < 0)
		snprintf(buf, cap, "-");
}

static const char *state_str(const struct runtime_status *st)
{
	return st->running ? "running" : st->staged ? "staged" : "stopped";
}

/* One container's values for every field (F_*). On failure, state "error" and a warning. */
static void ct_fields(const struct args *a, const struct ct_ref *ref, char out[F_COUNT][CELL_MAX],
		      int *failed)
{
	struct ct ct;
	struct ct_config *c = malloc(sizeof(*c));
	struct runtime_status st;
	if (!c)
		die("out of memory");
	for (int f = 0; f < F_COUNT; f++)
		snprintf(out[f], CELL_MAX, "-");
	snprintf(out[F_POOL], CELL_MAX, "%s", ref->pool);
	snprintf(out[F_ID], CELL_MAX, "%s", ref->id);
	ct_ref_str(ref, out[F_NAME]);
	if (ct_open(&ct, root_dir(a), ref, CT_LOCK_NONE) < 0 || ct_config_load(&ct, c) < 0 ||
	    runtime_status(&ct, c, &st) < 0) {
		if (errno == ENOENT && !ct_exists(root_dir(a), ref)) {
			snprintf(out[F_STATE], CELL_MAX, "deleted"); /* went away while listing */
		} else {
			warn("%s", err_msg());
			snprintf(out[F_STATE], CELL_MAX, "error");
			*failed = 1;
		}
		ct_close(&ct);
		free(c);
		return;
	}
	snprintf(out[F_STATE], CELL_MAX, "%s", state_str(&st));
	if (st.pid)
		snprintf(out[F_PID], CELL_MAX, "%d", (int)st.pid);
	snprintf(out[F_HOSTNAME], CELL_MAX, "%s", ct_config_hostname(c, ref));
	snprintf(out[F_RUNTIME], CELL_MAX, "%s", st.external ? "external" : "builtin");
	if (st.running)
		time_str(st.started, out[F_STARTED], CELL_MAX);
	ct_close(&ct);
	free(c);
}

static int list_one(const struct ct_ref *ref, void *arg)
{
	struct list_state *ls = arg;
	char all[F_COUNT][CELL_MAX];
	ct_fields(ls->a, ref, all, &ls->failed);
	if (ls->rows == ls->cap) {
		ls->cap = ls->cap ? ls->cap * 2 : 16;
		ls->cells = realloc(ls->cells, ls->cap * ls->n_fields * CELL_MAX);
		if (!ls->cells)
			die("out of memory");
	}
	for (size_t i = 0; i < ls->n_fields; i++)
		memcpy(ls->cells[ls->rows * ls->n_fields + i], all[ls->fields[i]], CELL_MAX);
	ls->rows++;
	return 0;
}

static void parse_fields(struct list_state *ls, const char *spec)
{
	char buf[256];
	if (strlen(spec) >= sizeof(buf))
		die_usage(usage, "-o: too long");
	strcpy(buf, spec);
	ls->n_fields = 0;
	for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int f = -1;
		for (int i = 0; i < F_COUNT; i++)
			if (!strcmp(w, field_names[i]))
				f = i;
		if (f < 0)
			die_usage(usage, "-o: unknown field '%s'", w);
		if (ls->n_fields >= LIST_FIELDS_MAX)
			die_usage(usage, "-o: too many fields");
		ls->fields[ls->n_fields++] = f;
	}
	if (!ls->n_fields)
		die_usage(usage, "-o: no fields");
}

/* An aligned cell: padded to WIDTH and two spaces, or the last one of its line. */
static void print_cell(const char *cell, size_t width, int last)
{
	if (last)
		printf("%s\n", cell);
	else
		printf("%-*s  ", (int)width, cell);
}

static int cmd_list(const struct args *a)
{
	struct list_state ls = {.a = a};
	size_t width[LIST_FIELDS_MAX] = {0};
	parse_fields(&ls, a->fields ? a->fields : "pool,id,state,pid");
	const char *pool = a->n_pos > 1 ? a->pos[1] : NULL;
	if (pool && ct_name_check("pool", pool) < 0)
		die("%s", err_msg());
	if (ct_list(root_dir(a), pool, list_one, &ls) < 0)
		die("list: %s", err_msg());
	for (size_t i = 0; i < ls.n_fields; i++) {
		width[i] = strlen(field_names[ls.fields[i]]);
		for (size_t r = 0; r < ls.rows; r++) {
			size_t w = strlen(ls.cells[r * ls.n_fields + i]);
			if (w > width[i])
				width[i] = w;
		}
	}
	if (!a->no_header) {
		for (size_t i = 0; i < ls.n_fields; i++) {
			char up[16];
			size_t j = 0;
			for (const char *p = field_names[ls.fields[i]]; *p; p++)
				up[j++] = (char)(*p - 'a' + 'A');
			up[j] = 0;
			print_cell(up, width[i], i + 1 == ls.n_fields);
		}
	}
	for (size_t r = 0; r < ls.rows; r++)
		for (size_t i = 0; i < ls.n_fields; i++) {
			const char *cell = ls.cells[r * ls.n_fields + i];
			if (a->no_header)
				printf("%s%c", cell, i + 1 < ls.n_fields ? '\t' : '\n');
			else
				print_cell(cell, width[i], i + 1 == ls.n_fields);
		}
	free(ls.cells);
	if (fflush(stdout) != 0)
		die_errno("write");
	return ls.failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- show -------------------------------------------------------------------- */

#define SHOW_ROWS_MAX (32 + CT_DATASETS_MAX * 2 + CT_USER_MAX)

struct show_rows {
	size_t n;
	char key[SHOW_ROWS_MAX][CT_USER_KEY_MAX + CT_DATASET_NAME_MAX];
	char value[SHOW_ROWS_MAX][4096 + 64];
};

static void row(struct show_rows *s, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void row(struct show_rows *s, const char *key, const char *fmt, ...)
{
	va_list ap;
	if (s->n >= SHOW_ROWS_MAX)
		return;
	snprintf(s->key[s->n], sizeof(s->key[0]), "%s", key);
	va_start(ap, fmt);
	vsnprintf(s->value[s->n], sizeof(s->value[0]), fmt, ap);
	va_end(ap);
	s->n++;
}

static int cmd_show(const struct args *a)
{
	struct ct ct;
	struct ct_config c;
	struct runtime_status st;
	char name[CT_REF_MAX + 1], path[4096], when[64], v[CT_CMD_MAX + 1], key[300];
	static const char *const keys[] = {"hostname", "init",	    "stop_timeout", "start_timeout",
					   "network",  "start_cmd", "stop_cmd",	    "status_cmd"};
	struct show_rows *s = calloc(1, sizeof(*s));
	if (!s)
		die("out of memory");
	open_ct(&ct, &c, a, a->pos[1], CT_LOCK_NONE);
	if (runtime_status(&ct, &c, &st) < 0)
		die("%s", err_msg());
	row(s, "name", "%s", ct_ref_str(&ct.ref, name));
	row(s, "state", "%s", state_str(&st));
	row(s, "staged", "%s", st.staged ? "yes" : "no");
	if (st.pid)
		row(s, "pid", "%d", (int)st.pid);
	else
		row(s, "pid", "-");
	time_str(st.running ? st.started : 0, when, sizeof(when));
	row(s, "started", "%s", when);
	row(s, "runtime", "%s", st.external ? "external" : "builtin");
	row(s, "dir", "%s", ct.dir);
	if (ct_file_path(&ct, CT_LOG_FILE, path, sizeof(path)) == 0)
		row(s, "log", "%s", path);
	if (ct_dataset_tree(&ct, CT_DATASET_ROOT, path, sizeof(path)) == 0)
		row(s, "rootfs", "%s", path);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (ct_config_get(&c, keys[i], v, sizeof(v)) < 0)
			die("%s", err_msg());
		if (!strcmp(keys[i], "hostname"))
			row(s, keys[i], "%s", ct_config_hostname(&c, &ct.ref));
		else
			row(s, keys[i], "%s", *v ? v : "-");
	}
	for (size_t i = 0; i < c.n_datasets; i++) {
		snprintf(key, sizeof(key), "dataset.%s", c.datasets[i].name);
		row(s, key, "%s", c.datasets[i].mountpoint);
		snprintf(key, sizeof(key), "tree.%s", c.datasets[i].name);
		if (ct_dataset_tree(&ct, c.datasets[i].name, path, sizeof(path)) == 0)
			row(s, key, "%s", path);
	}
	for (size_t i = 0; i < c.n_user; i++)
		row(s, c.user[i].key, "%s", c.user[i].value);
	ct_close(&ct);

	if (a->n_pos > 2) {
		for (size_t i = 0; i < s->n; i++)
			if (!strcmp(s->key[i], a->pos[2])) {
				printf("%s\n", s->value[i]);
				free(s);
				return EXIT_OK;
			}
		die("%s: no key '%s' (see ferry ct show %s)", name, a->pos[2], name);
	}
	size_t w = 0;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->key[i]) > w)
			w = strlen(s->key[i]);
	for (size_t i = 0; i < s->n; i++)
		printf("%-*s  %s\n", (int)w, s->key[i], s->value[i]);
	free(s);
	if (fflush(stdout) != 0)
		die_errno("write");
	return EXIT_OK;
}

/* ---- start, stop, delete ------------------------------------------------------ */

static int cmd_start(const struct args *a)
{
	struct ct ct;
	struct ct_config c;
	open_ct(&ct, &c, a, a->pos[1], CT_LOCK_EXCLUSIVE);
	if (runtime_start(&ct, &c) < 0)
		die("%s", err_msg());
	ct_close(&ct);
	return EXIT_OK;
}

static int cmd_stop(const struct args *a)
{
	struct ct ct;
	struct ct_config c;
	char name[CT_REF_MAX + 1];
	int was;
	open_ct(&ct, &c, a, a->pos[1], CT_LOCK_EXCLUSIVE);
	if (runtime_stop(&ct, &c, a->timeout, &was) < 0)
		die("%s", err_msg());
	if (!was)
		warn("container %s was not running", ct_ref_str(&ct.ref, name));
	ct_close(&ct);
	return EXIT_OK;
}

static int cmd_delete(const struct args *a)
{
	struct ct ct;
	struct ct_config c;
	open_ct(&ct, &c, a, a->pos[1], CT_LOCK_EXCLUSIVE);
	if (a->force && runtime_stop(&ct, &c, a->timeout, NULL) < 0)
		die("%s", err_msg());
	if (runtime_delete(&ct, &c) < 0)
		die("%s", err_msg());
	return EXIT_OK;
}

/* ---- set, unset, dataset, unstage ---------------------------------------------- */

static int cmd_set(const struct args *a)
{
	struct ct ct;
	struct ct_config c;
	const char *key = a->pos[2];
	open_ct(&ct, &c, a, a->pos[1], CT_LOCK_EXCLUSIVE);
	if (!strncmp(key, "dataset.", 8) && !ct_config_dataset(&c, key + 8))
		die("%s: no such dataset (add one with: ferry ct dataset add)", key);
	if (ct_config_set(&c, key, a->pos[3]) < 0 || ct_config_save(&ct, &c) < 0)
		die("%s", err_msg());
	ct_close(&ct);
	return EXIT_OK;
}

static int cmd_unset(const struct args *a)
{
	struct ct ct;
	struct ct_config c;
	const char *key = a->pos[2];
	if (!strncmp(key, "dataset.", 8))
		die("%s: remove a dataset with: ferry ct dataset del", key);
	open_ct(&ct, &c, a, a->pos[1], CT_LOCK_EXCLUSIVE);
	int r = ct_config_unset(&c, key);
	if (r < 0)
		die("%s", err_msg());
	if (r == 0 && ct_config_save(&ct, &c) < 0)
		die("%s", err_msg());
	ct_close(&ct);
	return EXIT_OK;
}

static int cmd_dataset(const struct args *a)
{
	struct ct ct;
	struct ct_config c;
	struct runtime_status st;
	char name[CT_REF_MAX + 1];
	const char *verb = a->pos[1];
	int add = !strcmp(verb, "add");
	if (!add && strcmp(verb, "del"))
		die_usage(usage, "dataset: unknown action '%s' (add or del)", verb);
	if (a->n_pos != (size_t)(add ? 5 : 4))
		die_usage(usage, "dataset %s: wrong number of arguments", verb);
	open_ct(&ct, &c, a, a->pos[2], CT_LOCK_EXCLUSIVE);
	if (runtime_status(&ct, &c, &st) < 0)
		die("%s", err_msg());
	if (st.running)
		die("container %s is running: stop it before changing its datasets",
		    ct_ref_str(&ct.ref, name));
	if (add ? ct_dataset_add(&ct, &c, a->pos[3], a->pos[4], 0) < 0
		: ct_dataset_remove(&ct, &c, a->pos[3]) < 0)
		die("%s", err_msg());
	ct_close(&ct);
	return EXIT_OK;
}

static int cmd_unstage(const struct args *a)
{
	struct ct ct;
	open_ct(&ct, NULL, a, a->pos[1], CT_LOCK_EXCLUSIVE);
	if (ct_set_staged(&ct, 0) < 0)
		die("%s", err_msg());
	ct_close(&ct);
	return EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------------- */

#define OPT(x) (1u << (x))

struct command {
	const char *name;
	size_t min_pos, max_pos; /* positionals including the command's own name */
	unsigned options;	 /* OPT() bits besides --root */
	int (*run)(const struct args *a);
};

static const struct command commands[] = {
	{"create", 2, 2,
	 OPT(O_FROM) | OPT(O_FROM_TAR) | OPT(O_HOSTNAME) | OPT(O_INIT) | OPT(O_DATASET) |
		 OPT(O_STAGED),
	 cmd_create},
	{"dataset", 4, 5, 0, cmd_dataset},
	{"delete", 2, 2, OPT(O_FORCE) | OPT(O_TIMEOUT), cmd_delete},
	{"list", 1, 2, OPT(O_NOHEADER) | OPT(O_FIELDS), cmd_list},
	{"set", 4, 4, 0, cmd_set},
	{"show", 2, 3, 0, cmd_show},
	{"start", 2, 2, 0, cmd_start},
	{"stop", 2, 2, OPT(O_TIMEOUT), cmd_stop},
	{"unset", 3, 3, 0, cmd_unset},
	{"unstage", 2, 2, 0, cmd_unstage},
};

int ct_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{O_ROOT, 0, "root", OPT_REQUIRED},
		{O_FROM, 0, "from", OPT_REQUIRED},
		{O_FROM_TAR, 0, "from-tar", OPT_REQUIRED},
		{O_HOSTNAME, 0, "hostname", OPT_REQUIRED},
		{O_INIT, 0, "init", OPT_REQUIRED},
		{O_DATASET, 0, "dataset", OPT_REQUIRED},
		{O_STAGED, 0, "staged", OPT_NOARG},
		{O_NOHEADER, 'H', NULL, OPT_NOARG},
		{O_FIELDS, 'o', NULL, OPT_REQUIRED},
		{O_TIMEOUT, 't', "timeout", OPT_REQUIRED},
		{O_FORCE, 'f', "force", OPT_NOARG},
		OPT_SPEC_END,
	};
	struct args a;
	struct opt_state st;
	int id;
	memset(&a, 0, sizeof(a));
	a.timeout = -1;
	a.pos = calloc((size_t)argc + 1, sizeof(*a.pos));
	if (!a.pos)
		die("out of memory");
	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		if (id == OPT_POSITIONAL) {
			a.pos[a.n_pos++] = (char *)st.arg;
			continue;
		}
		if ((a.used & OPT(id)) && id != O_DATASET)
			die_usage(usage, "%s given twice", option_names[id]);
		a.used |= OPT(id);
		switch (id) {
		case O_ROOT:
			if (!*st.arg)
				die_usage(usage, "--root: empty directory name");
			a.root = st.arg;
			break;
		case O_FROM:
			a.from = st.arg;
			break;
		case O_FROM_TAR:
			a.from_tar = st.arg;
			break;
		case O_HOSTNAME:
			a.hostname = st.arg;
			break;
		case O_INIT:
			a.init = st.arg;
			break;
		case O_DATASET:
			if (a.n_datasets >= DATASET_ARGS_MAX)
				die_usage(usage, "too many --dataset (at most %d)",
					  DATASET_ARGS_MAX);
			a.datasets[a.n_datasets++] = st.arg;
			break;
		case O_STAGED:
			a.staged = 1;
			break;
		case O_NOHEADER:
			a.no_header = 1;
			break;
		case O_FIELDS:
			a.fields = st.arg;
			break;
		case O_TIMEOUT:
			a.timeout = (int)xparse_uint(st.arg, 0, CT_TIMEOUT_MAX, "--timeout", usage);
			break;
		case O_FORCE:
			a.force = 1;
			break;
		}
	}
	if (a.n_pos == 0)
		die_usage(usage, "missing command");
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, a.pos[0]))
			cmd = &commands[i];
	if (!cmd)
		die_usage(usage, "unknown command '%s'", a.pos[0]);
	for (int o = 1; o < O_COUNT; o++)
		if (o != O_ROOT && (a.used & OPT(o)) && !(cmd->options & OPT(o)))
			die_usage(usage, "%s: option %s does not apply", cmd->name,
				  option_names[o]);
	if (a.n_pos < cmd->min_pos)
		die_usage(usage, "%s: missing arguments", cmd->name);
	if (a.n_pos > cmd->max_pos)
		die_usage(usage, "%s: too many arguments", cmd->name);
	int r = cmd->run(&a);
	free(a.pos);
	return r;
}
