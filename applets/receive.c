/* ferry receive: receive migrations: the forced command of the migration key (docs/migration-protocol.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/authkeys.h"
#include "core/ct.h"
#include "core/err.h"
#include "core/io.h"
#include "core/migstate.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/recvcmd.h"
#include "core/runtime.h"
#include "core/skel.h"
#include "core/stream.h"
#include "core/treerecv.h"
#include "core/utc.h"

static const char usage[] =
	"usage: receive skel [pool]\n"
	"       receive base [pool:]<id> <dataset> [snapshot]\n"
	"       receive incremental [pool:]<id> <dataset> [snapshot]\n"
	"       receive transfer [pool:]<id> [start]\n"
	"       receive cancel [pool:]<id>\n"
	"       receive status [pool:]<id>\n"
	"\n"
	"The forced SSH command of migration keys. sshd runs 'ferry receive [--root DIR]\n"
	"--key NAME' for a key added with 'ferry authorized-keys add NAME', and the\n"
	"command the client asked for arrives in SSH_ORIGINAL_COMMAND; by hand (tests,\n"
	"recovery) it is 'ferry receive --key NAME VERB ARGS...'. Exactly the commands\n"
	"above are accepted (docs/migration-protocol.md); anything else is refused.\n"
	"Every command is checked against the key's restrictions (--ctid, --from) and a\n"
	"staged container answers only to the key that staged it. Every command and its\n"
	"result is logged to ROOT/log/receive.log.\n"
	"\n"
	"  skel         stdin: the container's config and datasets; creates it staged\n"
	"  base         stdin: a base tree stream for one dataset of a staged container\n"
	"  incremental  stdin: an incremental tree stream from the snapshot it holds\n"
	"  transfer     hands the container over: no longer staged, started with\n"
	"               'start' (a failed start makes it staged again)\n"
	"  cancel       deletes a staged container\n"
	"  status       what this node holds of the container\n"
	"\n"
	"  --root DIR   state root (default $FERRY_ROOT, else /var/lib/ferry)\n"
	"  --key NAME   the key sshd authenticated (set in authorized_keys)\n"
	"\n"
	"Exit status: 0 done (confirmation on stdout), 1 failed, 2 not a command of\n"
	"the grammar, 3 refused (the key may not do this now).\n";

enum { O_ROOT = 1, O_KEY };

#define EXIT_REFUSED 3
#define LOG_DIR	     "log"
#define LOG_FILE     "receive.log"
#define LOG_LINE_MAX 1024

/* What the log needs to know; filled as the command is understood. */
static struct {
	const char *root;
	const char *key;
	char client[64];
	char command[RECVCMD_MAX + 8]; /* printable ASCII, cut */
} ctx;

/* Appends one line to ROOT/log/receive.log; a log that cannot be written only warns. */
static void log_result(const char *result)
{
	char dir[4096], line[LOG_LINE_MAX], when[32];
	if (utc_format(when, sizeof(when), (int64_t)time(NULL), UTC_ISO8601) < 0)
		snprintf(when, sizeof(when), "-");
	if (node_path(dir, sizeof(dir), ctx.root, LOG_DIR) < 0)
		return;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "ferry receive: warning: log %s: %s\n", dir, strerror(errno));
		return;
	}
	int n = snprintf(line, sizeof(line), "%s key=%s client=%s cmd=\"%s\" %s\n", when,
			 ctx.key ? ctx.key : "-", ctx.client[0] ? ctx.client : "-", ctx.command,
			 result);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	for (int i = 0; i < n - 1; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			line[i] = '?';
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, LOG_FILE);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || io_write_full(fd, line, (size_t)n) < 0)
		fprintf(stderr, "ferry receive: warning: log %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static _Noreturn void finish(int status, const char *kind, const char *fmt, va_list ap)
{
	char msg[ERR_MSG_MAX], result[ERR_MSG_MAX + 32];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(result, sizeof(result), "%s: %s", kind, msg);
	log_result(result);
	if (status == EXIT_USAGE)
		die_usage(usage, "%s", msg);
	fprintf(stderr, "ferry receive: %s\n", msg);
	exit(status);
}

/* The command is not in the grammar: usage on stderr, exit 2. */
static _Noreturn void refuse_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void refuse_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	finish(EXIT_USAGE, "refused", fmt, ap);
}

/* The key may not do this (restrictions, ownership, state): exit 3. */
static _Noreturn void refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void refuse(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	finish(EXIT_REFUSED, "refused", fmt, ap);
}

/* An accepted command failed: exit 1. */
static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	finish(EXIT_FAIL, "failed", fmt, ap);
}

/* Prints the confirmation line(s) on stdout, logs "ok: ...", exits 0. */
static _Noreturn void done(const char *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static _Noreturn void done(const char *out, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX], result[ERR_MSG_MAX + 8];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (io_write_str(1, out) < 0)
		fail("write the confirmation: %s", strerror(errno));
	snprintf(result, sizeof(result), "ok: %s", msg);
	log_result(result);
	exit(EXIT_OK);
}

static void shown_command(const char *line)
{
	size_t n = strlen(line), i;
	for (i = 0; i < n && i < 200; i++)
		ctx.command[i] =
			line[i] >= 0x20 && line[i] < 0x7f && line[i] != '"' ? line[i] : '?';
	if (n > 200)
		memcpy(ctx.command + i, "...", 4);
	else
		ctx.command[i] = 0;
}

/* ---- Checks every verb makes --------------------------------------------------- */

static void check_ctid(const struct authkey *k, const struct ct_ref *ref)
{
	if (authkey_allows_ctid(k, ref->pool, ref->id) < 0)
		refuse("%s", err_msg());
}

/* Opens REF with LOCK; refuses unless it was staged by this key (CT stays open). */
static void open_own(struct ct *ct, const struct ct_ref *ref, int lock, struct migstate *m)
{
	char name[CT_REF_MAX + 1];
	ct_ref_str(ref, name);
	if (ct_open(ct, ctx.root, ref, lock) < 0) {
		if (errno == ENOENT)
			refuse("no container %s here (stage it first: receive skel)", name);
		fail("%s", err_msg());
	}
	if (migstate_load(ct, m) < 0)
		fail("%s", err_msg());
	if (m->role != MIG_ROLE_DEST)
		refuse("container %s was not received by a migration here", name);
	if (strcmp(m->key, ctx.key))
		refuse("container %s was staged with another key: key '%s' may not touch it", name,
		       ctx.key);
}

static void need_staged(const struct ct *ct)
{
	char name[CT_REF_MAX + 1];
	int s = ct_staged(ct);
	if (s < 0)
		fail("%s", err_msg());
	if (!s)
		refuse("container %s is complete here (transferred already)",
		       ct_ref_str(&ct->ref, name));
}

static void consume_key(void)
{
	int r = authkeys_consume(ctx.root, ctx.key, NULL);
	if (r < 0)
		fprintf(stderr, "ferry receive: warning: single-use key '%s' not removed: %s\n",
			ctx.key, err_msg());
}

/* ---- Verbs ----------------------------------------------------------------------- */

static _Noreturn void do_skel(const struct authkey *k, struct recvcmd *c)
{
	struct io_chan in;
	int fd0 = 0;
	struct ct ct;
	struct migstate m;
	char name[CT_REF_MAX + 1], out[CT_REF_MAX + 32];
	struct skel *s = malloc(sizeof(*s));
	if (!s)
		fail("out of memory");
	io_chan_fd(&in, &fd0);
	if (skel_read(&in, s) < 0)
		fail("%s", err_msg());
	snprintf(c->ref.id, sizeof(c->ref.id), "%s", s->id);
	ct_ref_str(&c->ref, name);
	check_ctid(k, &c->ref);
	if (s->config.start_cmd[0] || s->config.stop_cmd[0] || s->config.status_cmd[0])
		refuse("the config of %s sets start_cmd, stop_cmd or status_cmd: commands that "
		       "would run as root on this node are not accepted from a peer (clear them "
		       "on the source; set them here after the transfer)",
		       name);

	int e = ct_exists(ctx.root, &c->ref);
	if (e < 0)
		fail("%s", err_msg());
	if (e) {
		/* A retried skel: only for a container still staged by this same key. */
		open_own(&ct, &c->ref, CT_LOCK_EXCLUSIVE | CT_LOCK_NOWAIT, &m);
		need_staged(&ct);
		if (ct_remove(&ct) < 0)
			fail("replace staged %s: %s", name, err_msg());
	}
	struct ct_create_opts o = {.config = &s->config, .staged = 1, .no_trees = 1};
	if (ct_create(&ct, ctx.root, &c->ref, &o) < 0)
		fail("%s", err_msg());
	migstate_init(&m);
	m.role = MIG_ROLE_DEST;
	m.state = MIG_STAGED;
	m.since = (long long)time(NULL);
	snprintf(m.key, sizeof(m.key), "%s", ctx.key);
	snprintf(m.client, sizeof(m.client), "%s", ctx.client[0] ? ctx.client : "-");
	if (migstate_save(&ct, &m) < 0) {
		char why[ERR_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err_msg());
		ct_remove(&ct);
		fail("%s", why);
	}
	ct_close(&ct);
	free(s);
	snprintf(out, sizeof(out), "ok staged %s\n", name);
	done(out, "staged %s%s", name, e ? " (again)" : "");
}

static const char *dataset_of(const struct ct_config *cfg, const char *ds)
{
	if (!strcmp(ds, CT_DATASET_ROOT))
		return ds;
	return ct_config_dataset(cfg, ds) ? ds : NULL;
}

static _Noreturn void do_stream(const struct authkey *k, const struct recvcmd *c)
{
	struct ct ct;
	struct ct_config *cfg = malloc(sizeof(*cfg));
	struct migstate m;
	char name[CT_REF_MAX + 1], tree[4096], state[4096], out[128];
	struct io_chan in;
	int fd0 = 0;
	struct tree_recv_info info;
	struct tree_stats st;
	const char *verb = recvcmd_verb_name(c->verb);
	if (!cfg)
		fail("out of memory");
	check_ctid(k, &c->ref);
	ct_ref_str(&c->ref, name);
	/* Shared: streams for several datasets may arrive at once; transfer and cancel wait. */
	open_own(&ct, &c->ref, CT_LOCK_SHARED, &m);
	need_staged(&ct);
	if (ct_config_load(&ct, cfg) < 0)
		fail("%s", err_msg());
	if (!dataset_of(cfg, c->dataset))
		refuse("container %s has no dataset %s", name, c->dataset);
	if (ct_dataset_tree(&ct, c->dataset, tree, sizeof(tree)) < 0 ||
	    ct_dataset_state(&ct, c->dataset, state, sizeof(state)) < 0)
		fail("%s", err_msg());
	struct tree_recv_opts o = {
		.dst = tree,
		.state_dir = state,
		.expect_kind = c->verb == RECV_BASE ? STREAM_KIND_BASE : STREAM_KIND_INCREMENTAL,
		.expect_snapshot = c->snapshot[0] ? c->snapshot : NULL,
	};
	io_chan_fd(&in, &fd0);
	memset(&info, 0, sizeof(info));
	if (tree_recv(&o, &in, &info, &st) < 0)
		fail("%s %s dataset %s: %s", verb, name, c->dataset, err_msg());
	ct_close(&ct);
	free(cfg);
	snprintf(out, sizeof(out), "ok %s\n", info.held);
	done(out, "%s %s dataset %s: snapshot %s%s, %llu entries, %llu bytes", verb, name,
	     c->dataset, info.held, info.already ? " (held already)" : "",
	     (unsigned long long)st.entries, (unsigned long long)st.wire_bytes);
}

/* Every dataset of CT (config CFG) holds a snapshot, or refuse. */
static void need_all_held(const struct ct *ct, const struct ct_config *cfg)
{
	char tree[4096], state[4096], held[RECVCMD_SNAP_MAX + 1], name[CT_REF_MAX + 1];
	for (size_t i = 0; i <= cfg->n_datasets; i++) {
		const char *ds = i == 0 ? CT_DATASET_ROOT : cfg->datasets[i - 1].name;
		if (ct_dataset_tree(ct, ds, tree, sizeof(tree)) < 0 ||
		    ct_dataset_state(ct, ds, state, sizeof(state)) < 0)
			fail("%s", err_msg());
		if (tree_recv_recover(state, tree) < 0)
			fail("dataset %s: %s", ds, err_msg());
		int h = tree_held(state, tree, held, sizeof(held));
		if (h < 0)
			fail("dataset %s: %s", ds, err_msg());
		if (h == 0)
			refuse("container %s: dataset %s has received nothing yet (sync first)",
			       ct_ref_str(&ct->ref, name), ds);
	}
}

static _Noreturn void do_transfer(const struct authkey *k, const struct recvcmd *c)
{
	struct ct ct;
	struct ct_config *cfg = malloc(sizeof(*cfg));
	struct migstate m;
	struct runtime_status rs;
	char name[CT_REF_MAX + 1], out[CT_REF_MAX + 64];
	if (!cfg)
		fail("out of memory");
	check_ctid(k, &c->ref);
	ct_ref_str(&c->ref, name);
	open_own(&ct, &c->ref, CT_LOCK_EXCLUSIVE, &m);
	if (ct_config_load(&ct, cfg) < 0)
		fail("%s", err_msg());
	int staged = ct_staged(&ct);
	if (staged < 0)
		fail("%s", err_msg());
	if (!staged) {
		/* A retried transfer whose answer was lost: say what is true, change nothing. */
		if (runtime_status(&ct, cfg, &rs) < 0)
			fail("%s", err_msg());
		snprintf(out, sizeof(out), "ok transferred %s %s\n", name,
			 rs.running ? "running" : "stopped");
		done(out, "transfer %s: transferred already (%s)", name,
		     rs.running ? "running" : "stopped");
	}
	need_all_held(&ct, cfg);
	/* The commit point: from here the container belongs to this node. */
	if (ct_set_staged(&ct, 0) < 0)
		fail("%s", err_msg());
	m.state = MIG_COMPLETE;
	m.since = (long long)time(NULL);
	if (migstate_save(&ct, &m) < 0)
		fprintf(stderr, "ferry receive: warning: %s\n", err_msg());
	if (c->start && runtime_start(&ct, cfg) < 0) {
		char why[ERR_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err_msg());
		/* Back to staged, so the source may restart its copy, retry or cancel. */
		if (ct_set_staged(&ct, 1) < 0)
			fail("start %s failed (%s), and it could not be made staged again: %s",
			     name, why, err_msg());
		m.state = MIG_STAGED;
		if (migstate_save(&ct, &m) < 0)
			fail("start %s failed (%s); it is staged again, but its state file could "
			     "not be written: %s",
			     name, why, err_msg());
		fail("start %s failed: %s; it is staged again here (the source may retry or "
		     "cancel)",
		     name, why);
	}
	ct_close(&ct);
	free(cfg);
	consume_key();
	snprintf(out, sizeof(out), "ok transferred %s %s\n", name,
		 c->start ? "running" : "stopped");
	done(out, "transferred %s%s", name, c->start ? ", started" : "");
}

static _Noreturn void do_cancel(const struct authkey *k, const struct recvcmd *c)
{
	struct ct ct;
	struct migstate m;
	char name[CT_REF_MAX + 1], out[CT_REF_MAX + 32];
	check_ctid(k, &c->ref);
	ct_ref_str(&c->ref, name);
	int e = ct_exists(ctx.root, &c->ref);
	if (e < 0)
		fail("%s", err_msg());
	snprintf(out, sizeof(out), "ok cancelled %s\n", name);
	if (!e) {
		consume_key();
		done(out, "cancel %s: nothing here", name);
	}
	open_own(&ct, &c->ref, CT_LOCK_EXCLUSIVE, &m);
	need_staged(&ct);
	if (ct_remove(&ct) < 0)
		fail("%s", err_msg());
	consume_key();
	done(out, "cancelled %s", name);
}

static _Noreturn void do_status(const struct authkey *k, const struct recvcmd *c)
{
	struct ct ct;
	struct ct_config *cfg = malloc(sizeof(*cfg));
	struct migstate m;
	struct runtime_status rs;
	char name[CT_REF_MAX + 1], tree[4096], state[4096], held[RECVCMD_SNAP_MAX + 1];
	char *out = malloc(8192);
	size_t len = 0;
	if (!cfg || !out)
		fail("out of memory");
	check_ctid(k, &c->ref);
	ct_ref_str(&c->ref, name);
	int e = ct_exists(ctx.root, &c->ref);
	if (e < 0)
		fail("%s", err_msg());
	if (!e) {
		snprintf(out, 8192, "container %s\nstate absent\nok\n", name);
		done(out, "status %s: absent", name);
	}
	open_own(&ct, &c->ref, CT_LOCK_SHARED, &m);
	if (ct_config_load(&ct, cfg) < 0 || runtime_status(&ct, cfg, &rs) < 0)
		fail("%s", err_msg());
	len += (size_t)snprintf(out + len, 8192 - len, "container %s\nstate %s\nrunning %s\n", name,
				rs.staged ? "staged" : "complete", rs.running ? "yes" : "no");
	for (size_t i = 0; i <= cfg->n_datasets; i++) {
		const char *ds = i == 0 ? CT_DATASET_ROOT : cfg->datasets[i - 1].name;
		if (ct_dataset_tree(&ct, ds, tree, sizeof(tree)) < 0 ||
		    ct_dataset_state(&ct, ds, state, sizeof(state)) < 0)
			fail("%s", err_msg());
		/* Finish a receive cut after its commit, so the answer is the truth. */
		if (tree_recv_recover(state, tree) < 0)
			fail("dataset %s: %s", ds, err_msg());
		int h = tree_held(state, tree, held, sizeof(held));
		if (h < 0)
			fail("dataset %s: %s", ds, err_msg());
		len += (size_t)snprintf(out + len, 8192 - len, "dataset %s %s\n", ds,
					h ? held : "-");
	}
	snprintf(out + len, 8192 - len, "ok\n");
	ct_close(&ct);
	done(out, "status %s: %s", name, rs.staged ? "staged" : "complete");
}

int receive_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{O_ROOT, 0, "root", OPT_REQUIRED},
		{O_KEY, 0, "key", OPT_REQUIRED},
		OPT_SPEC_END,
	};
	struct opt_state st;
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	size_t n_words = 0;
	int id;
	if (!words)
		die("out of memory");
	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		if (id == OPT_POSITIONAL)
			words[n_words++] = (char *)st.arg;
		else if (id == O_ROOT)
			ctx.root = st.arg;
		else if (id == O_KEY)
			ctx.key = st.arg;
	}
	ctx.root = node_root(ctx.root);
	const char *conn = getenv("SSH_CONNECTION");
	if (!conn || authkeys_client_addr(conn, ctx.client, sizeof(ctx.client)) < 0)
		snprintf(ctx.client, sizeof(ctx.client), "%s", conn ? "?" : "local");
	const char *line = getenv("SSH_ORIGINAL_COMMAND");
	struct recvcmd c;
	int r;
	if (line) {
		shown_command(line);
		if (n_words)
			refuse_usage("arguments given besides SSH_ORIGINAL_COMMAND");
		r = recvcmd_parse(&c, line);
	} else {
		char joined[RECVCMD_MAX + 1] = "receive";
		size_t len = 7;
		for (size_t i = 0; i < n_words && len < RECVCMD_MAX; i++)
			len += (size_t)snprintf(joined + len, sizeof(joined) - len, " %s",
						words[i]);
		shown_command(n_words ? joined : "");
		r = recvcmd_parse_words(&c, n_words, words);
	}
	if (!ctx.key)
		refuse_usage("--key NAME missing: receive runs as the forced command of a key "
			     "(ferry authorized-keys add)");
	if (!authkeys_name_ok(ctx.key))
		refuse_usage("--key %.64s: not a key name", ctx.key);
	if (r < 0)
		refuse_usage("%s", err_msg());

	struct authkey *k = malloc(sizeof(*k));
	if (!k)
		fail("out of memory");
	int found = authkeys_find(ctx.root, ctx.key, k);
	if (found < 0)
		fail("%s", err_msg());
	if (!found)
		refuse("key '%s' is not allowed here (removed, or single-use and used up)",
		       ctx.key);
	if (authkey_allows_client(k, conn) < 0)
		refuse("%s", err_msg());
	free(words);
	switch (c.verb) {
	case RECV_SKEL:
		do_skel(k, &c);
	case RECV_BASE:
	case RECV_INCREMENTAL:
		do_stream(k, &c);
	case RECV_TRANSFER:
		do_transfer(k, &c);
	case RECV_CANCEL:
		do_cancel(k, &c);
	case RECV_STATUS:
		do_status(k, &c);
	}
	fail("unknown verb");
}
