/* ferry migrate: move a container to another node over SSH, step by step (docs/migration.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/ct.h"
#include "core/err.h"
#include "core/file.h"
#include "core/io.h"
#include "core/json.h"
#include "core/migstate.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/progress.h"
#include "core/recvcmd.h"
#include "core/runtime.h"
#include "core/skel.h"
#include "core/transport.h"
#include "core/treesend.h"
#include "core/utc.h"
#include "core/codec.h"
#include "crypto/hmac.h"
#include "crypto/rand.h"

static const char usage[] =
	"usage: ferry migrate stage CT DEST [-p PORT] [--ssh CMD] [--user USER]\n"
	"       ferry migrate sync CT [--parallel N] [--bwlimit RATE]\n"
	"       ferry migrate transfer CT [--no-start] [--parallel N] [--bwlimit RATE]\n"
	"       ferry migrate cleanup CT [--no-delete] [-f|--force]\n"
	"       ferry migrate cancel CT [-f|--force] [-l|--local]\n"
	"       ferry migrate now CT DEST [-p PORT] [--ssh CMD] [--user USER] [--no-delete]\n"
	"                     [--no-start] [--parallel N] [--bwlimit RATE]\n"
	"       ferry migrate status [CT]\n"
	"Every command also takes --root DIR, -q (--quiet) and -j (--json).\n"
	"\n"
	"Move container CT ([POOL:]ID) of this node to node DEST over SSH, where\n"
	"'ferry receive' is the forced command of this node's key (ferry keygen on\n"
	"this node, ferry authorized-keys add on DEST). docs/migration.md explains\n"
	"the steps, their states and what to do when one fails.\n"
	"\n"
	"  stage     create CT on DEST, staged (not startable), from its config, with\n"
	"            empty datasets; pins DEST's host key on first contact\n"
	"  sync      send every dataset: a base stream first, then incrementals\n"
	"            (repeatable); a snapshot counts only once DEST confirmed it\n"
	"  transfer  sync while CT runs, stop it, send the last changes, start it on\n"
	"            DEST (if it ran here, unless --no-start); if anything fails after\n"
	"            the stop, CT starts here again and the migration stays retryable\n"
	"  cleanup   after a transfer: delete CT here (--no-delete keeps its data,\n"
	"            staged so that it cannot be started by mistake)\n"
	"  cancel    until the transfer: delete the staged CT on DEST and forget the\n"
	"            migration here (--force even when DEST fails or refuses, --local\n"
	"            without asking DEST)\n"
	"  now       stage (unless staged for DEST already), sync, transfer, cleanup\n"
	"  status    the migration state of CT, or of every container being migrated\n"
	"\n"
	"  -p, --port PORT   DEST's SSH port (default: the client's)\n"
	"  --ssh CMD         ssh (default) or dbclient, or a path to either\n"
	"  --user USER       the migration user on DEST (default migration)\n"
	"  --parallel N      datasets sent at once, one SSH session each (default 2)\n"
	"  --bwlimit RATE    at most RATE bytes/s on the wire in all (suffix K, M, G)\n"
	"  --no-start        leave CT stopped on DEST after the transfer\n"
	"  --no-delete       keep CT's data here after the transfer\n"
	"  -f, --force       cancel: reset this node even if DEST fails or refuses;\n"
	"                    cleanup: accept a transfer whose outcome is unknown\n"
	"  -l, --local       cancel: touch only this node\n"
	"  -q, --quiet       print only errors\n"
	"  -j, --json        JSON lines on stdout: steps, progress, summary\n"
	"  --root DIR        state root (default $FERRY_ROOT, else /var/lib/ferry)\n";

enum {
	O_ROOT = 1,
	O_PORT,
	O_SSH,
	O_USER,
	O_PARALLEL,
	O_BWLIMIT,
	O_NO_START,
	O_NO_DELETE,
	O_FORCE,
	O_LOCAL,
	O_QUIET,
	O_JSON,
	O_COUNT
};

static const char *const option_names[O_COUNT] = {
	[O_ROOT] = "--root",	     [O_PORT] = "--port",	    [O_SSH] = "--ssh",
	[O_USER] = "--user",	     [O_PARALLEL] = "--parallel",   [O_BWLIMIT] = "--bwlimit",
	[O_NO_START] = "--no-start", [O_NO_DELETE] = "--no-delete", [O_FORCE] = "--force",
	[O_LOCAL] = "--local",	     [O_QUIET] = "--quiet",	    [O_JSON] = "--json",
};

#define OPT(x)		 (1u << (x))
#define PARALLEL_DEFAULT 2
#define PARALLEL_MAX	 16
#define USER_DEFAULT	 "migration"
#define LOCK_FILE	 "migration.lock"
#define SESSION_TIMEOUT	 (-1)	     /* a stream may take as long as it takes */
#define SHORT_TIMEOUT_MS (5 * 60000) /* skel, transfer, cancel, status */
#define SNAP_PREFIX	 "ferry-mig"

struct args {
	const char *root, *ct, *dest, *ssh, *user;
	unsigned port;
	unsigned parallel;
	uint64_t bwlimit; /* bytes per second, 0 = none */
	int no_start, no_delete, force, local, quiet, json;
	unsigned used;
	const char *cmd;
};

/* One migration step in progress: the container, its lock and its state. */
struct mig {
	const struct args *a;
	const char *root;
	struct ct_ref ref;
	char name[CT_REF_MAX + 1]; /* pool:id, for JSON */
	const char *shown;	   /* CT as the user wrote it, for messages */
	struct ct ct;		   /* open without the container lock */
	int mlock;		   /* the migration lock (LOCK_FILE) */
	struct migstate m;
	struct ct_config cfg;
	pthread_mutex_t mu; /* state changes and output from sync workers */
	char err_prefix[300];
	/* totals of the current step, for its summary */
	uint64_t wire_bytes, raw_bytes, data_bytes, files, entries;
};

/* ---- Output: human lines, JSON lines --------------------------------------------------- */

static const struct args *out_args;

/* A human line on stdout (not with -q or -j). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	if (out_args->quiet || out_args->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Writes one finished JSON object as a line on stdout (-j only). */
static void json_emit(struct json_writer *w)
{
	char *text;
	size_t len;
	if (json_writer_finish(w, &text, &len) == 0) {
		text[len] = 0;
		printf("%s\n", text);
		fflush(stdout);
		free(text);
	}
	json_writer_free(w);
}

/* {"event":EVENT,"step":STEP,"ct":CT, ...then KEY,VALUE string pairs (NULL-ended)} */
static void event(const struct mig *g, const char *ev, const char *step, ...)
{
	struct json_writer w;
	va_list ap;
	if (!out_args->json)
		return;
	json_writer_init(&w, 0);
	json_write_object_begin(&w);
	json_write_key(&w, "event");
	json_write_string(&w, ev);
	json_write_key(&w, "step");
	json_write_string(&w, step);
	json_write_key(&w, "ct");
	json_write_string(&w, g->name);
	va_start(ap, step);
	for (const char *k; (k = va_arg(ap, const char *));) {
		const char *v = va_arg(ap, const char *);
		json_write_key(&w, k);
		if (v)
			json_write_string(&w, v);
		else
			json_write_null(&w);
	}
	va_end(ap);
	json_write_object_end(&w);
	json_emit(&w);
}

/* ---- Dying with the migration's state in the message -------------------------------------- */

static struct mig *current; /* for step_fail: the step in progress */
static const char *current_step;

static _Noreturn void step_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void step_fail(const char *fmt, ...)
{
	char msg[2 * ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (current && current_step)
		event(current, "step", current_step, "phase", "failed", "state",
		      migstate_state_name(current->m.state), "error", msg, NULL);
	die("%s", msg);
}

/* ---- The container, its locks and its state ---------------------------------------------- */

static void mig_open(struct mig *g, const struct args *a)
{
	memset(g, 0, sizeof(*g));
	g->a = a;
	g->root = node_root(a->root);
	g->mlock = -1;
	pthread_mutex_init(&g->mu, NULL);
	if (ct_ref_parse(&g->ref, a->ct) < 0)
		die("%s", err_msg());
	ct_ref_str(&g->ref, g->name);
	g->shown = a->ct;
	if (ct_open(&g->ct, g->root, &g->ref, CT_LOCK_NONE) < 0)
		die("%s", err_msg());
	g->mlock = file_lock(g->ct.dirfd, LOCK_FILE, LOCK_EX | LOCK_NB);
	if (g->mlock < 0) {
		if (errno == EWOULDBLOCK)
			die("another 'ferry migrate' command is working on %s right now", g->shown);
		die("%s: lock: %s", g->shown, err_msg());
	}
	if (migstate_load(&g->ct, &g->m) < 0)
		die("%s", err_msg());
	if (g->m.role == MIG_ROLE_DEST) {
		if (g->m.state == MIG_STAGED)
			die("%s is staged on this node by a migration from elsewhere: it is not this "
			    "node's to migrate",
			    g->shown);
		migstate_init(&g->m); /* it arrived here once; that is over */
	}
	if (ct_config_load(&g->ct, &g->cfg) < 0)
		die("%s", err_msg());
	snprintf(g->err_prefix, sizeof(g->err_prefix), "ferry migrate: %s: ",
		 g->m.dest[0] ? g->m.dest
		 : a->dest    ? a->dest
			      : "?");
	current = g;
}

/* Runs with the container's own lock (exclusive) held on a second handle. */
static int with_ct_lock(struct mig *g, struct ct *x)
{
	if (ct_open(x, g->root, &g->ref, CT_LOCK_EXCLUSIVE) < 0)
		return -1;
	return 0;
}

/* Saves the migration state (or removes the file when the state is none). 0 or -1. */
static int state_save(struct mig *g)
{
	struct ct x;
	if (with_ct_lock(g, &x) < 0)
		return -1;
	int r = g->m.state == MIG_NONE ? ct_file_remove(&x, CT_MIGRATION_FILE)
				       : migstate_save(&x, &g->m);
	ct_close(&x);
	return r;
}

static void xstate_save(struct mig *g)
{
	if (state_save(g) < 0)
		step_fail("save the migration state of %s: %s", g->shown, err_msg());
}

static void set_state(struct mig *g, enum migstate_state s)
{
	if (g->m.state != s)
		g->m.since = (long long)time(NULL);
	g->m.state = s;
	xstate_save(g);
}

/* The state as a sentence for refusals: "(state: staged)". */
static const char *state_of(const struct mig *g)
{
	return migstate_state_name(g->m.state);
}

static int is_running(struct mig *g)
{
	struct runtime_status st;
	if (runtime_status(&g->ct, &g->cfg, &st) < 0)
		step_fail("%s", err_msg());
	return st.running;
}

/* Stops CT and marks it staged (not startable) in one go. 0 or -1. */
static int stop_and_hold(struct mig *g)
{
	struct ct x;
	if (with_ct_lock(g, &x) < 0)
		return -1;
	int r = runtime_stop(&x, &g->cfg, -1, NULL);
	if (r == 0)
		r = ct_set_staged(&x, 1);
	ct_close(&x);
	return r;
}

/* Clears the staged flag and starts CT if START. 0 or -1. */
static int release_and_start(struct mig *g, int start)
{
	struct ct x;
	if (with_ct_lock(g, &x) < 0)
		return -1;
	int r = ct_set_staged(&x, 0);
	if (r == 0 && start)
		r = runtime_start(&x, &g->cfg);
	ct_close(&x);
	return r;
}

static int set_held(struct mig *g, int staged)
{
	struct ct x;
	if (with_ct_lock(g, &x) < 0)
		return -1;
	int r = ct_set_staged(&x, staged);
	ct_close(&x);
	return r;
}

/* ---- Remote commands ---------------------------------------------------------------------- */

static struct transport_master master; /* the step's shared SSH connection (OpenSSH) */
static const char *transport_hint(struct mig *g, int r, char *buf, size_t cap);

static void transport_opts_of(struct mig *g, struct transport_opts *o, int pin)
{
	memset(o, 0, sizeof(*o));
	o->root = g->root;
	o->ssh = g->m.ssh;
	o->host = g->m.dest;
	o->port = g->m.port;
	o->user = g->m.user;
	o->pin = pin;
	o->err_prefix = g->a->quiet ? NULL : g->err_prefix;
	o->control_path = master.active ? master.path : NULL;
}

/* Stops the shared connection when the command ends, however it ends. */
static void master_cleanup(void)
{
	transport_master_stop(&master);
}

/*
 * Opens the step's shared SSH connection (OpenSSH; nothing for dbclient).
 * PIN: accept and pin an unknown host key (stage). Returns an enum
 * transport_result; the sessions fall back to their own connections
 * when there is none.
 */
static int connect_dest(struct mig *g, int pin)
{
	struct transport_opts o;
	if (master.active)
		return TRANSPORT_OK;
	transport_opts_of(g, &o, pin);
	int r = transport_master_start(&master, &o);
	if (r == TRANSPORT_OK && master.active)
		atexit(master_cleanup);
	return r;
}

/* connect_dest for steps that cannot go on without DEST. */
static void need_dest(struct mig *g, int pin, const char *step)
{
	char hint[1024];
	int r = connect_dest(g, pin);
	if (r != TRANSPORT_OK)
		step_fail("%s %s: %s%s (nothing changed; state: %s)", step, g->shown, err_msg(),
			  transport_hint(g, r, hint, sizeof(hint)), state_of(g));
}

/* The advice that goes with a transport failure. */
static const char *transport_hint(struct mig *g, int r, char *buf, size_t cap)
{
	if (r == TRANSPORT_HOSTKEY) {
		snprintf(
			buf, cap,
			"; the migration stops here. If DEST's host key really changed, remove the "
			"old one with: ssh-keygen -f %s/%s/%s -R '%s%s%s%.0u' and run the step again",
			g->root, NODE_MIGRATION_DIR, TRANSPORT_KNOWN_HOSTS,
			g->m.port && g->m.port != 22 ? "[" : "", g->m.dest,
			g->m.port && g->m.port != 22 ? "]:" : "",
			g->m.port && g->m.port != 22 ? g->m.port : 0);
		return buf;
	}
	buf[0] = 0;
	return buf;
}

/*
 * Runs C on DEST with no input; the reply stays in *T (caller frees nothing).
 * Returns the enum transport_result.
 */
static int remote_call(struct mig *g, const struct recvcmd *c, int pin, struct transport *t)
{
	char line[RECVCMD_MAX + 1];
	struct transport_opts o;
	if (recvcmd_format(c, line, sizeof(line)) < 0)
		return TRANSPORT_LOCAL;
	transport_opts_of(g, &o, pin);
	int r = transport_start(t, &o, line);
	if (r < 0)
		return r;
	return transport_finish(t, SHORT_TIMEOUT_MS);
}

/* What `receive status` says. */
struct remote_status {
	char state[16]; /* absent, staged, complete */
	int running;
	size_t n;
	char ds[MIGSTATE_DATASETS][CT_DATASET_NAME_MAX + 1];
	char held[MIGSTATE_DATASETS][RECVCMD_SNAP_MAX + 1]; /* "" = none */
};

/* One "dataset NAME SNAP|-" line of a status answer into RS. 0, or -1 if malformed. */
static int status_dataset(struct remote_status *rs, const char *line, size_t n)
{
	char buf[CT_DATASET_NAME_MAX + RECVCMD_SNAP_MAX + 4];
	if (n >= sizeof(buf) || rs->n >= MIGSTATE_DATASETS)
		return -1;
	memcpy(buf, line, n);
	buf[n] = 0;
	char *sp = strchr(buf, ' ');
	if (!sp || strchr(sp + 1, ' '))
		return -1;
	*sp = 0;
	const char *snap = sp + 1;
	if (ct_dataset_name_check(buf) < 0 || (strcmp(snap, "-") && !recvcmd_snap_ok(snap)))
		return -1;
	memcpy(rs->ds[rs->n], buf, strlen(buf) + 1);
	memcpy(rs->held[rs->n], strcmp(snap, "-") ? snap : "",
	       strcmp(snap, "-") ? strlen(snap) + 1 : 1);
	rs->n++;
	return 0;
}

/* Asks DEST for the truth. 0, or a negative enum transport_result with err_set. */
static int remote_status(struct mig *g, struct remote_status *rs)
{
	struct recvcmd c = {.verb = RECV_STATUS, .ref = g->ref};
	struct transport *t = malloc(sizeof(*t));
	memset(rs, 0, sizeof(*rs));
	if (!t) {
		err_set("out of memory");
		return TRANSPORT_LOCAL;
	}
	int r = remote_call(g, &c, 0, t);
	if (r == TRANSPORT_OK) {
		char ok[8];
		int good = transport_reply_line(t, "ok", ok, sizeof(ok)) &&
			   transport_reply_line(t, "state", rs->state, sizeof(rs->state));
		for (const char *p = t->reply; good && *p;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			if (n == 11 && !memcmp(p, "running yes", 11))
				rs->running = 1;
			if (n > 8 && !memcmp(p, "dataset ", 8) &&
			    status_dataset(rs, p + 8, n - 8) < 0)
				good = 0;
			p += n + (nl ? 1 : 0);
		}
		if (!good) {
			err_set("%s: malformed answer to 'receive status'", g->m.dest);
			r = TRANSPORT_REMOTE;
		}
	}
	free(t);
	return r;
}

static const char *remote_held(const struct remote_status *rs, const char *ds)
{
	for (size_t i = 0; i < rs->n; i++)
		if (!strcmp(rs->ds[i], ds))
			return rs->held[i];
	return NULL;
}

/* ---- Snapshot records on this node -------------------------------------------------------- */

static void ds_state_dir(struct mig *g, const char *ds, char *buf, size_t cap)
{
	if (ct_dataset_state(&g->ct, ds, buf, cap) < 0)
		step_fail("%s", err_msg());
}

static void drop_snapshot(struct mig *g, const char *ds, const char *snap)
{
	char state[4096];
	if (!snap || !snap[0])
		return;
	ds_state_dir(g, ds, state, sizeof(state));
	if (tree_snapshot_drop(state, snap) < 0)
		warn("dataset %s: drop snapshot record %s: %s", ds, snap, err_msg());
}

/* Forgets every snapshot this migration recorded (cancel, cleanup --no-delete). */
static void drop_all_snapshots(struct mig *g)
{
	for (size_t i = 0; i < g->m.n_datasets; i++) {
		drop_snapshot(g, g->m.datasets[i].name, g->m.datasets[i].confirmed);
		drop_snapshot(g, g->m.datasets[i].name, g->m.datasets[i].pending);
		g->m.datasets[i].confirmed[0] = g->m.datasets[i].pending[0] = 0;
	}
}

/*
 * A pending snapshot was sent but not confirmed (the session failed): ask
 * DEST which one it holds and keep only that.
 */
static void reconcile(struct mig *g)
{
	int any = 0;
	for (size_t i = 0; i < g->m.n_datasets; i++)
		any |= g->m.datasets[i].pending[0] != 0;
	if (!any)
		return;
	struct remote_status *rs = malloc(sizeof(*rs));
	char hint[1024];
	if (!rs)
		step_fail("out of memory");
	int r = remote_status(g, rs);
	if (r != TRANSPORT_OK)
		step_fail("an earlier sync of %s was cut off and %s cannot say what it holds: %s%s",
			  g->shown, g->m.dest, err_msg(), transport_hint(g, r, hint, sizeof(hint)));
	if (strcmp(rs->state, "staged"))
		step_fail(
			"%s is %s on %s, not staged: cancel this migration ('ferry migrate cancel "
			"%s') and stage again",
			g->shown, rs->state, g->m.dest, g->a->ct);
	for (size_t i = 0; i < g->m.n_datasets; i++) {
		struct migstate_dataset *d = &g->m.datasets[i];
		if (!d->pending[0])
			continue;
		const char *held = remote_held(rs, d->name);
		if (held && !strcmp(held, d->pending)) {
			drop_snapshot(g, d->name, d->confirmed);
			snprintf(d->confirmed, sizeof(d->confirmed), "%s", d->pending);
		} else if (held && !strcmp(held, d->confirmed)) {
			drop_snapshot(g, d->name, d->pending);
		} else {
			step_fail(
				"dataset %s of %s: %s holds snapshot %s, but this node sent %s%s%s: "
				"cancel this migration and stage again",
				d->name, g->shown, g->m.dest, held && held[0] ? held : "(none)",
				d->confirmed[0] ? d->confirmed : "", d->confirmed[0] ? " or " : "",
				d->pending);
		}
		d->pending[0] = 0;
	}
	free(rs);
	xstate_save(g);
}

/* ---- Bandwidth limit: a token bucket shared by all sessions of the step ------------------- */

static struct {
	pthread_mutex_t mu;
	uint64_t rate; /* bytes per second; 0 = none */
	double start;
	uint64_t sent;
} bw = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A channel writing to a session's stdin, paced by the bucket. */
struct paced {
	int fd;
};

static ssize_t paced_write(void *ctx, const void *buf, size_t n)
{
	struct paced *p = ctx;
	if (bw.rate) {
		pthread_mutex_lock(&bw.mu);
		if (bw.start == 0)
			bw.start = now_s();
		bw.sent += n;
		double due = bw.start + (double)bw.sent / (double)bw.rate;
		pthread_mutex_unlock(&bw.mu);
		double wait = due - now_s();
		if (wait > 0) {
			struct timespec ts = {(time_t)wait,
					      (long)((wait - (double)(time_t)wait) * 1e9)};
			nanosleep(&ts, NULL);
		}
	}
	if (io_write_full(p->fd, buf, n) < 0)
		return err_set_errno("write to the SSH session");
	return (ssize_t)n;
}

static ssize_t no_read(void *ctx, void *buf, size_t n)
{
	(void)ctx;
	(void)buf;
	(void)n;
	return err_set("not readable");
}

/* ---- Progress: one line (or JSON events) for all datasets of a step ---------------------- */

struct meter {
	pthread_mutex_t mu;
	struct progress all; /* sums of the workers' */
	uint64_t bytes[MIGSTATE_DATASETS], files[MIGSTATE_DATASETS];
	struct mig *g;
	const char *step;
};

static void meter_hook(void *ctx, const struct progress *p, int final)
{
	struct meter *mt = ctx;
	char line[512];
	(void)p;
	if (!out_args->json)
		return;
	int n = progress_json(&mt->all, final, line, sizeof(line));
	if (n > 2) {
		/* {"event":"progress","step":... plus the container */
		printf("{\"ct\":\"%s\",%s\n", mt->g->name, line + 1);
		fflush(stdout);
	}
}

static void meter_init(struct meter *mt, struct mig *g, const char *step)
{
	memset(mt, 0, sizeof(*mt));
	pthread_mutex_init(&mt->mu, NULL);
	mt->g = g;
	mt->step = step;
	progress_init(&mt->all, step, 2,
		      out_args->quiet || out_args->json ? PROGRESS_OFF : PROGRESS_AUTO);
	mt->all.hook = meter_hook;
	mt->all.hook_ctx = mt;
}

/* A worker's progress for dataset slot I. */
struct worker_progress {
	struct progress p;
	struct meter *mt;
	size_t slot;
};

static void worker_hook(void *ctx, const struct progress *p, int final)
{
	struct worker_progress *wp = ctx;
	struct meter *mt = wp->mt;
	(void) final;
	pthread_mutex_lock(&mt->mu);
	mt->bytes[wp->slot] = p->bytes;
	mt->files[wp->slot] = p->files;
	uint64_t b = 0, f = 0;
	for (size_t i = 0; i < MIGSTATE_DATASETS; i++) {
		b += mt->bytes[i];
		f += mt->files[i];
	}
	progress_add(&mt->all, b - mt->all.bytes, f - mt->all.files);
	pthread_mutex_unlock(&mt->mu);
}

/* ---- Sync: every dataset, in parallel sessions -------------------------------------------- */

struct sync_job {
	struct mig *g;
	struct meter *mt;
	pthread_mutex_t mu;
	size_t next;
	int failed;
	char first_error[ERR_MSG_MAX];
	int estimate;
};

static void job_error(struct sync_job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void job_error(struct sync_job *j, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&j->mu);
	if (!j->failed)
		snprintf(j->first_error, sizeof(j->first_error), "%s", msg);
	j->failed = 1;
	pthread_mutex_unlock(&j->mu);
	pthread_mutex_lock(&j->g->mu);
	if (!out_args->json && !out_args->quiet)
		fprintf(stderr, "ferry migrate: %s\n", msg);
	pthread_mutex_unlock(&j->g->mu);
}

static void warn_skip(void *ctx, const char *msg)
{
	struct mig *g = ctx;
	pthread_mutex_lock(&g->mu);
	if (!out_args->quiet)
		fprintf(stderr, "ferry migrate: %s: warning: %s\n", g->shown, msg);
	pthread_mutex_unlock(&g->mu);
}

/* Sends dataset slot I: one session. 0 or -1 (reported through job_error). */
static int sync_one(struct sync_job *j, size_t i)
{
	struct mig *g = j->g;
	struct migstate_dataset *d = &g->m.datasets[i];
	char tree[4096], state[4096], snap[RECVCMD_SNAP_MAX + 1], from[RECVCMD_SNAP_MAX + 1];
	char line[RECVCMD_MAX + 1], hint[1024], ok[RECVCMD_SNAP_MAX + 16];
	struct recvcmd c;
	struct transport_opts o;
	struct tree_stats st;
	struct worker_progress wp;

	if (ct_dataset_tree(&g->ct, d->name, tree, sizeof(tree)) < 0 ||
	    ct_dataset_state(&g->ct, d->name, state, sizeof(state)) < 0) {
		job_error(j, "dataset %s: %s", d->name, err_msg());
		return -1;
	}
	/* A fresh name, recorded as pending before anything is sent. */
	pthread_mutex_lock(&g->mu);
	uint8_t rnd[6];
	char hex[13];
	if (rand_bytes(rnd, sizeof(rnd)) < 0) {
		pthread_mutex_unlock(&g->mu);
		job_error(j, "%s", err_msg());
		return -1;
	}
	hex_encode(hex, rnd, sizeof(rnd));
	snprintf(snap, sizeof(snap), "%s-%lld-%s", SNAP_PREFIX, (long long)time(NULL), hex);
	snprintf(from, sizeof(from), "%s", d->confirmed);
	snprintf(d->pending, sizeof(d->pending), "%s", snap);
	int saved = state_save(g);
	pthread_mutex_unlock(&g->mu);
	if (saved < 0) {
		job_error(j, "save the migration state: %s", err_msg());
		return -1;
	}
	const char *kind = from[0] ? "incremental" : "base";
	event(g, "dataset", j->mt->step, "dataset", d->name, "kind", kind, "snapshot", snap,
	      "phase", "start", NULL);

	memset(&c, 0, sizeof(c));
	c.verb = from[0] ? RECV_INCREMENTAL : RECV_BASE;
	c.ref = g->ref;
	snprintf(c.dataset, sizeof(c.dataset), "%s", d->name);
	snprintf(c.snapshot, sizeof(c.snapshot), "%s", snap);
	if (recvcmd_format(&c, line, sizeof(line)) < 0) {
		job_error(j, "dataset %s: %s", d->name, err_msg());
		return -1;
	}

	wp.mt = j->mt;
	wp.slot = i;
	progress_init(&wp.p, "send", 2, PROGRESS_OFF);
	wp.p.hook = worker_hook;
	wp.p.hook_ctx = &wp;
	uint64_t size_hint = 0, nfiles = 0;
	if (!from[0] && j->estimate && tree_estimate(tree, &size_hint, &nfiles) == 0) {
		pthread_mutex_lock(&j->mt->mu);
		j->mt->all.total_bytes += size_hint;
		pthread_mutex_unlock(&j->mt->mu);
	}

	struct transport *t = malloc(sizeof(*t));
	if (!t) {
		job_error(j, "out of memory");
		return -1;
	}
	transport_opts_of(g, &o, 0);
	if (transport_start(t, &o, line) < 0) {
		job_error(j, "dataset %s: %s", d->name, err_msg());
		free(t);
		return -1;
	}
	struct paced pc = {t->in};
	struct io_chan ch = {&pc, no_read, paced_write};
	struct tree_send_opts so = {
		.src = tree,
		.state_dir = state,
		.snapshot = snap,
		.from = from[0] ? from : NULL,
		.compress = 1,
		.size_hint = size_hint,
		.progress = &wp.p,
		.warn = warn_skip,
		.warn_ctx = g,
	};
	memset(&st, 0, sizeof(st));
	int sent = tree_send(&so, &ch, &st);
	char send_err[ERR_MSG_MAX];
	snprintf(send_err, sizeof(send_err), "%s", sent < 0 ? err_msg() : "");
	int r = transport_finish(t, SESSION_TIMEOUT);
	int got = r == TRANSPORT_OK && transport_reply_line(t, "ok", ok, sizeof(ok));
	free(t);
	if (r == TRANSPORT_HOSTKEY) {
		/* ssh stopped before authenticating: nothing reached DEST, forget the attempt. */
		pthread_mutex_lock(&g->mu);
		drop_snapshot(g, d->name, snap);
		d->pending[0] = 0;
		if (state_save(g) < 0)
			warn("save the migration state: %s", err_msg());
		pthread_mutex_unlock(&g->mu);
	}
	if (sent < 0 || r != TRANSPORT_OK || !got || strcmp(ok, snap)) {
		/* The remote's word first: a refused header also breaks our pipe. */
		if (r != TRANSPORT_OK)
			job_error(j, "dataset %s: %s%s", d->name, err_msg(),
				  transport_hint(g, r, hint, sizeof(hint)));
		else if (sent < 0)
			job_error(j, "dataset %s: send: %s", d->name, send_err);
		else
			job_error(j, "dataset %s: %s did not confirm snapshot %s", d->name,
				  g->m.dest, snap);
		event(g, "dataset", j->mt->step, "dataset", d->name, "kind", kind, "snapshot", snap,
		      "phase", "failed", NULL);
		return -1;
	}
	/* Confirmed: the new snapshot replaces the old one on both sides. */
	pthread_mutex_lock(&g->mu);
	drop_snapshot(g, d->name, from);
	snprintf(d->confirmed, sizeof(d->confirmed), "%s", snap);
	d->pending[0] = 0;
	g->wire_bytes += st.wire_bytes;
	g->raw_bytes += st.raw_bytes;
	g->data_bytes += st.data_bytes;
	g->files += st.files;
	g->entries += st.entries;
	saved = state_save(g);
	pthread_mutex_unlock(&g->mu);
	if (saved < 0) {
		job_error(j, "save the migration state: %s", err_msg());
		return -1;
	}
	event(g, "dataset", j->mt->step, "dataset", d->name, "kind", kind, "snapshot", snap,
	      "phase", "done", NULL);
	return 0;
}

static void *sync_worker(void *arg)
{
	struct sync_job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		size_t i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->g->m.n_datasets)
			return NULL;
		sync_one(j, i);
	}
}

/* The datasets recorded at stage must still be the container's. */
static void check_datasets(struct mig *g)
{
	int same = g->m.n_datasets == g->cfg.n_datasets + 1;
	for (size_t i = 0; same && i < g->cfg.n_datasets; i++)
		same = migstate_dataset(&g->m, g->cfg.datasets[i].name) != NULL;
	if (!same)
		step_fail("the datasets of %s changed since it was staged: cancel this migration "
			  "('ferry migrate cancel %s') and stage it again",
			  g->shown, g->a->ct);
}

/* One sync of every dataset. 0, or -1 with the first error in err_msg. */
static int sync_all(struct mig *g, const char *step)
{
	struct meter mt;
	struct sync_job j;
	pthread_t th[PARALLEL_MAX];
	size_t n_threads = g->a->parallel ? g->a->parallel : PARALLEL_DEFAULT;
	check_datasets(g);
	reconcile(g);
	meter_init(&mt, g, step);
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.mu, NULL);
	j.g = g;
	j.mt = &mt;
	j.estimate = mt.all.draw || out_args->json;
	if (n_threads > g->m.n_datasets)
		n_threads = g->m.n_datasets;
	size_t started = 0;
	for (; started < n_threads; started++)
		if (pthread_create(&th[started], NULL, sync_worker, &j) != 0)
			break;
	if (started == 0)
		sync_worker(&j);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	progress_done(&mt.all);
	if (j.failed)
		return err_set("%s", j.first_error);
	return 0;
}

/* ---- Summaries ------------------------------------------------------------------------------- */

static void summary(struct mig *g, const char *step, double duration, double downtime)
{
	char a[32], b[32], ratio[32] = "-", dt[32] = "";
	if (g->wire_bytes)
		snprintf(ratio, sizeof(ratio), "%.2f",
			 (double)g->raw_bytes / (double)g->wire_bytes);
	if (downtime >= 0)
		snprintf(dt, sizeof(dt), ", downtime %.3f s", downtime);
	say("%s %s: %s sent (%s of file data, %llu files, compression ratio %s) in %.1f s%s", step,
	    g->shown, progress_bytes(a, sizeof(a), (double)g->wire_bytes),
	    progress_bytes(b, sizeof(b), (double)g->data_bytes), (unsigned long long)g->files,
	    ratio, duration, dt);
	if (out_args->json) {
		struct json_writer w;
		json_writer_init(&w, 0);
		json_write_object_begin(&w);
		json_write_key(&w, "event");
		json_write_string(&w, "summary");
		json_write_key(&w, "step");
		json_write_string(&w, step);
		json_write_key(&w, "ct");
		json_write_string(&w, g->name);
		json_write_key(&w, "bytes_sent");
		json_write_int(&w, (int64_t)g->wire_bytes);
		json_write_key(&w, "data_bytes");
		json_write_int(&w, (int64_t)g->data_bytes);
		json_write_key(&w, "files");
		json_write_int(&w, (int64_t)g->files);
		json_write_key(&w, "ratio");
		if (g->wire_bytes)
			json_write_double(&w, (double)g->raw_bytes / (double)g->wire_bytes);
		else
			json_write_null(&w);
		json_write_key(&w, "duration");
		json_write_double(&w, duration);
		json_write_key(&w, "downtime");
		if (downtime >= 0)
			json_write_double(&w, downtime);
		else
			json_write_null(&w);
		json_write_object_end(&w);
		json_emit(&w);
	}
}

static void step_begin(struct mig *g, const char *step)
{
	current_step = step;
	g->wire_bytes = g->raw_bytes = g->data_bytes = g->files = g->entries = 0;
	event(g, "step", step, "phase", "start", "state", state_of(g), NULL);
}

static void step_done(struct mig *g, const char *step)
{
	event(g, "step", step, "phase", "done", "state", state_of(g), NULL);
	current_step = NULL;
}

/* ---- An interrupted transfer ---------------------------------------------------------------- */

static void config_sum(const struct ct_config *c, char out[SHA256_HEX_SIZE]);

/*
 * The state says "transferring": an earlier transfer stopped the container
 * and did not finish. Ask DEST what happened and settle it either way.
 */
static void resolve_transferring(struct mig *g)
{
	struct remote_status *rs = malloc(sizeof(*rs));
	char hint[1024];
	if (!rs)
		step_fail("out of memory");
	int r = remote_status(g, rs);
	if (r != TRANSPORT_OK)
		step_fail(
			"an earlier transfer of %s did not finish and %s cannot say how it ended: "
			"%s%s. %s stays stopped here. Run the step again once %s answers; or, "
			"if you know the outcome: when %s runs it, 'ferry migrate cleanup %s "
			"--force'; when it does not, 'ferry migrate cancel %s --force --local'",
			g->shown, g->m.dest, err_msg(), transport_hint(g, r, hint, sizeof(hint)),
			g->shown, g->m.dest, g->m.dest, g->a->ct, g->a->ct);
	if (!strcmp(rs->state, "complete")) {
		say("%s: the interrupted transfer had completed on %s", g->shown, g->m.dest);
		if (set_held(g, 1) < 0)
			warn("%s: %s", g->shown, err_msg());
		set_state(g, MIG_TRANSFERRED);
	} else {
		say("%s: the interrupted transfer did not complete on %s (%s there): restarting it "
		    "here",
		    g->shown, g->m.dest, rs->state);
		int was = g->m.was_running;
		set_state(g, MIG_SYNCED);
		if (release_and_start(g, was) < 0)
			step_fail("%s: restart here: %s", g->shown, err_msg());
	}
	free(rs);
}

/* ---- Steps -------------------------------------------------------------------------------- */

static void config_sum(const struct ct_config *c, char out[SHA256_HEX_SIZE])
{
	char *text = malloc(CT_CONFIG_MAX);
	size_t len = 0;
	if (!text || ct_config_format(c, text, CT_CONFIG_MAX, &len) < 0)
		die("config: %s", text ? err_msg() : "out of memory");
	sha256_hex(out, text, len);
	free(text);
}

static void need_key(struct mig *g)
{
	char path[4096];
	const char *name = transport_kind_of(g->m.ssh) == TRANSPORT_DROPBEAR
				   ? TRANSPORT_KEY_DROPBEAR
				   : TRANSPORT_KEY;
	if (node_path(path, sizeof(path), g->root, NODE_MIGRATION_DIR) < 0 ||
	    strlen(path) + strlen(name) + 2 > sizeof(path))
		step_fail("path too long");
	strcat(path, "/");
	strcat(path, name);
	if (access(path, R_OK) < 0)
		step_fail("no migration key %s (%s): run 'ferry keygen' first", path,
			  strerror(errno));
}

static void do_stage(struct mig *g)
{
	const struct args *a = g->a;
	struct transport *t;
	struct transport_opts o;
	char line[RECVCMD_MAX + 1], ok[CT_REF_MAX + 32], want[CT_REF_MAX + 16], hint[1024];
	if (g->m.state != MIG_NONE && g->m.state != MIG_KEPT)
		step_fail(
			"%s is being migrated to %s already (state: %s); see 'ferry migrate status "
			"%s', or 'ferry migrate cancel %s' first",
			g->shown, g->m.dest, state_of(g), a->ct, a->ct);
	step_begin(g, "stage");
	migstate_init(&g->m);
	g->m.role = MIG_ROLE_SOURCE;
	g->m.state = MIG_NONE;
	snprintf(g->m.dest, sizeof(g->m.dest), "%s", a->dest);
	g->m.port = a->port;
	snprintf(g->m.ssh, sizeof(g->m.ssh), "%s", a->ssh ? a->ssh : "ssh");
	snprintf(g->m.user, sizeof(g->m.user), "%s", a->user ? a->user : USER_DEFAULT);
	snprintf(g->err_prefix, sizeof(g->err_prefix), "ferry migrate: %s: ", g->m.dest);
	if (!migstate_host_ok(g->m.dest))
		die_usage(usage, "bad destination '%s'", g->m.dest);
	if (!migstate_user_ok(g->m.user))
		die_usage(usage, "--user %s: not a user name", g->m.user);
	if (!migstate_ssh_ok(g->m.ssh))
		die_usage(usage, "--ssh %s: a program name or path, without options", g->m.ssh);
	need_key(g);
	need_dest(g, 1, "stage");
	migstate_dataset_add(&g->m, CT_DATASET_ROOT);
	for (size_t i = 0; i < g->cfg.n_datasets; i++)
		if (migstate_dataset_add(&g->m, g->cfg.datasets[i].name) < 0)
			step_fail("%s", err_msg());

	struct recvcmd c = {.verb = RECV_SKEL};
	snprintf(c.ref.pool, sizeof(c.ref.pool), "%s", g->ref.pool);
	if (recvcmd_format(&c, line, sizeof(line)) < 0)
		step_fail("%s", err_msg());
	t = malloc(sizeof(*t));
	if (!t)
		step_fail("out of memory");
	transport_opts_of(g, &o, 1);
	struct recvcmd probe = {.verb = RECV_STATUS, .ref = g->ref};
	char probe_line[RECVCMD_MAX + 1];
	if (recvcmd_format(&probe, probe_line, sizeof(probe_line)) < 0)
		step_fail("%s", err_msg());
	int pr = transport_pin(&o, probe_line);
	if (pr != TRANSPORT_OK)
		step_fail("stage %s on %s: %s%s", g->shown, g->m.dest, err_msg(),
			  transport_hint(g, pr, hint, sizeof(hint)));
	if (transport_start(t, &o, line) < 0)
		step_fail("stage %s: %s", g->shown, err_msg());
	int fd = t->in;
	struct io_chan ch;
	io_chan_fd(&ch, &fd);
	int w = skel_write(&ch, g->ref.id, &g->cfg, g->m.config_sum);
	char werr[ERR_MSG_MAX];
	snprintf(werr, sizeof(werr), "%s", w < 0 ? err_msg() : "");
	int r = transport_finish(t, SHORT_TIMEOUT_MS);
	snprintf(want, sizeof(want), "staged %s", g->name);
	int got = r == TRANSPORT_OK && transport_reply_line(t, "ok", ok, sizeof(ok));
	free(t);
	if (r != TRANSPORT_OK)
		step_fail("stage %s on %s: %s%s", g->shown, g->m.dest, err_msg(),
			  transport_hint(g, r, hint, sizeof(hint)));
	if (w < 0)
		step_fail("stage %s on %s: %s", g->shown, g->m.dest, werr);
	if (!got || strcmp(ok, want))
		step_fail("stage %s on %s: no confirmation from %s", g->shown, g->m.dest,
			  g->m.dest);
	set_state(g, MIG_STAGED);
	say("staged %s on %s (%zu dataset%s); next: ferry migrate sync %s", g->shown, g->m.dest,
	    g->m.n_datasets, g->m.n_datasets == 1 ? "" : "s", a->ct);
	step_done(g, "stage");
}

/* Refuses a step that needs a staged migration, with what to run instead. */
static void need_staged_or_synced(struct mig *g, const char *step)
{
	const char *ct = g->a->ct;
	switch (g->m.state) {
	case MIG_STAGED:
	case MIG_SYNCED:
		return;
	case MIG_NONE:
		step_fail(
			"%s is not being migrated (state: none); run 'ferry migrate stage %s DEST' "
			"first",
			g->shown, ct);
	case MIG_TRANSFERRED:
		step_fail("%s has been transferred to %s already (state: transferred); run 'ferry "
			  "migrate cleanup %s'",
			  g->shown, g->m.dest, ct);
	case MIG_KEPT:
		step_fail(
			"%s was migrated to %s and kept here (state: kept); %s can no longer %s it",
			g->shown, g->m.dest, step, step);
	default:
		step_fail("%s is in state %s: %s is not possible now", g->shown, state_of(g), step);
	}
}

static void do_sync(struct mig *g)
{
	double t0 = now_s();
	if (g->m.state == MIG_TRANSFERRING) {
		connect_dest(g, 0);
		resolve_transferring(g);
	}
	need_staged_or_synced(g, "sync");
	need_dest(g, 0, "sync");
	step_begin(g, "sync");
	if (sync_all(g, "sync") < 0)
		step_fail("sync %s: %s (state: %s; run 'ferry migrate sync %s' again, or 'ferry "
			  "migrate cancel %s')",
			  g->shown, err_msg(), state_of(g), g->a->ct, g->a->ct);
	if (g->m.state == MIG_STAGED)
		set_state(g, MIG_SYNCED);
	summary(g, "sync", now_s() - t0, -1);
	say("synced %s to %s; next: ferry migrate sync %s (again) or ferry migrate transfer %s",
	    g->shown, g->m.dest, g->a->ct, g->a->ct);
	step_done(g, "sync");
}

/* After a failure past the stop: start the container here again and stay retryable. */
static _Noreturn void transfer_rollback(struct mig *g, const char *why)
{
	char msg[2 * ERR_MSG_MAX];
	int was = g->m.was_running;
	int any_confirmed = 0;
	for (size_t i = 0; i < g->m.n_datasets; i++)
		any_confirmed |= g->m.datasets[i].confirmed[0] != 0;
	g->m.state = any_confirmed ? MIG_SYNCED : MIG_STAGED;
	g->m.since = (long long)time(NULL);
	if (state_save(g) < 0)
		warn("save the migration state: %s", err_msg());
	if (release_and_start(g, was) < 0)
		step_fail("transfer %s failed (%s), and starting it here again failed too: %s",
			  g->shown, why, err_msg());
	snprintf(msg, sizeof(msg),
		 "transfer %s failed: %s; %s %s here again (state: %s): run 'ferry migrate "
		 "transfer %s' again, or 'ferry migrate cancel %s'",
		 g->shown, why, g->shown, was ? "runs" : "is startable", state_of(g), g->a->ct,
		 g->a->ct);
	step_fail("%s", msg);
}

static void do_transfer(struct mig *g)
{
	const struct args *a = g->a;
	char sum[SHA256_HEX_SIZE], why[2 * ERR_MSG_MAX], hint[1024], ok[CT_REF_MAX + 64];
	double t0 = now_s(), t_stop = 0, t_up = -1;
	if (g->m.state == MIG_TRANSFERRING) {
		connect_dest(g, 0);
		resolve_transferring(g);
	}
	need_staged_or_synced(g, "transfer");
	config_sum(&g->cfg, sum);
	if (strcmp(sum, g->m.config_sum))
		step_fail("the config of %s changed since it was staged; cancel this migration "
			  "('ferry migrate cancel %s') and stage it again",
			  g->shown, a->ct);
	need_key(g);
	need_dest(g, 0, "transfer");
	step_begin(g, "transfer");
	int running = is_running(g);
	if (running) {
		/* Most of the data moves while the container still runs. */
		if (sync_all(g, "transfer") < 0)
			step_fail(
				"transfer %s: sync before the stop: %s (it still runs here; state: "
				"%s)",
				g->shown, err_msg(), state_of(g));
	}
	g->m.was_running = running;
	set_state(g, MIG_TRANSFERRING);
	t_stop = now_s();
	if (stop_and_hold(g) < 0) {
		snprintf(why, sizeof(why), "stop: %s", err_msg());
		transfer_rollback(g, why);
	}
	event(g, "step", "transfer", "phase", "stopped", "state", state_of(g), NULL);
	if (sync_all(g, "transfer") < 0) {
		snprintf(why, sizeof(why), "final sync: %s", err_msg());
		transfer_rollback(g, why);
	}
	int start = running && !a->no_start;
	struct recvcmd c = {.verb = RECV_TRANSFER, .ref = g->ref, .start = start};
	struct transport *t = malloc(sizeof(*t));
	if (!t)
		step_fail("out of memory");
	int r = remote_call(g, &c, 0, t);
	int got = r == TRANSPORT_OK && transport_reply_line(t, "ok", ok, sizeof(ok)) &&
		  !strncmp(ok, "transferred ", 12);
	snprintf(why, sizeof(why), "%s%s", r == TRANSPORT_OK ? "no confirmation" : err_msg(),
		 transport_hint(g, r, hint, sizeof(hint)));
	free(t);
	if (got) {
		t_up = now_s();
	} else {
		/* Lost, refused or failed: only DEST knows whether it took over. */
		struct remote_status *rs = malloc(sizeof(*rs));
		if (!rs)
			step_fail("out of memory");
		int sr = remote_status(g, rs);
		if (sr != TRANSPORT_OK)
			step_fail(
				"transfer %s: %s; and %s cannot say whether it took the container "
				"over: %s. %s stays stopped here (state: transferring). Run "
				"'ferry migrate transfer %s' again once %s answers; or, if you "
				"know the outcome: when %s runs it, 'ferry migrate cleanup %s "
				"--force'; when it does not, 'ferry migrate cancel %s --force "
				"--local'",
				g->shown, why, g->m.dest, err_msg(), g->shown, a->ct, g->m.dest,
				g->m.dest, a->ct, a->ct);
		int complete = !strcmp(rs->state, "complete");
		free(rs);
		if (!complete)
			transfer_rollback(g, why);
		t_up = now_s();
		say("%s: the transfer's answer was lost, but %s has taken %s over", g->shown,
		    g->m.dest, g->shown);
	}
	set_state(g, MIG_TRANSFERRED);
	summary(g, "transfer", now_s() - t0, running && start ? t_up - t_stop : -1);
	say("transferred %s to %s (%s there); next: ferry migrate cleanup %s", g->shown, g->m.dest,
	    start ? "started" : "not started", a->ct);
	step_done(g, "transfer");
}

static void do_cleanup(struct mig *g)
{
	const struct args *a = g->a;
	if (g->m.state == MIG_TRANSFERRING) {
		if (a->force) {
			warn("%s: the outcome of its transfer is unknown; --force: taking it as "
			     "done",
			     g->shown);
			set_held(g, 1);
			set_state(g, MIG_TRANSFERRED);
		} else {
			connect_dest(g, 0);
			resolve_transferring(g);
		}
	}
	if (g->m.state != MIG_TRANSFERRED) {
		if (g->m.state == MIG_NONE)
			step_fail("%s is not being migrated (state: none): nothing to clean up",
				  g->shown);
		if (g->m.state == MIG_KEPT)
			step_fail("%s was cleaned up already (state: kept)", g->shown);
		step_fail("%s has not been transferred yet (state: %s); run 'ferry migrate "
			  "transfer %s' or 'ferry migrate cancel %s'",
			  g->shown, state_of(g), a->ct, a->ct);
	}
	step_begin(g, "cleanup");
	if (a->no_delete) {
		drop_all_snapshots(g);
		if (set_held(g, 1) < 0)
			step_fail("%s", err_msg());
		set_state(g, MIG_KEPT);
		say("kept %s here, staged so that it cannot start by mistake ('ferry ct unstage %s' "
		    "makes it startable: only if it does not run on %s)",
		    g->shown, a->ct, g->m.dest);
		step_done(g, "cleanup");
		return;
	}
	struct ct x;
	if (with_ct_lock(g, &x) < 0)
		step_fail("%s", err_msg());
	if (runtime_delete(&x, &g->cfg) < 0) {
		ct_close(&x);
		step_fail("delete %s: %s", g->shown, err_msg());
	}
	g->m.state = MIG_NONE;
	say("deleted %s here: it lives on %s now", g->shown, g->m.dest);
	step_done(g, "cleanup");
}

static void do_cancel(struct mig *g)
{
	const struct args *a = g->a;
	char hint[1024], ok[CT_REF_MAX + 32];
	if (g->m.state == MIG_NONE)
		step_fail("%s is not being migrated (state: none): nothing to cancel", g->shown);
	if (g->m.state == MIG_TRANSFERRED || g->m.state == MIG_KEPT)
		step_fail("%s has been transferred to %s (state: %s): cancel is refused; it lives "
			  "there now (move it back with a migration from %s)",
			  g->shown, g->m.dest, state_of(g), g->m.dest);
	step_begin(g, "cancel");
	if (!a->local)
		connect_dest(g, 0); /* a failure shows in the cancel itself (--force goes on) */
	if (g->m.state == MIG_TRANSFERRING && !a->local)
		resolve_transferring(g);
	if (g->m.state == MIG_TRANSFERRED)
		step_fail("%s has been transferred to %s: cancel is refused", g->shown, g->m.dest);
	int restart = 0;
	if (g->m.state == MIG_TRANSFERRING) {
		/* --local: the operator says DEST does not run it. */
		restart = g->m.was_running;
	}
	if (!a->local) {
		struct recvcmd c = {.verb = RECV_CANCEL, .ref = g->ref};
		struct transport *t = malloc(sizeof(*t));
		if (!t)
			step_fail("out of memory");
		int r = remote_call(g, &c, 0, t);
		int got = r == TRANSPORT_OK && transport_reply_line(t, "ok", ok, sizeof(ok));
		free(t);
		if (!got) {
			if (!a->force)
				step_fail(
					"cancel %s on %s: %s%s (nothing changed here; --force resets "
					"this node anyway)",
					g->shown, g->m.dest,
					r == TRANSPORT_OK ? "no confirmation" : err_msg(),
					transport_hint(g, r, hint, sizeof(hint)));
			warn("cancel %s on %s: %s; --force: resetting this node anyway (remove "
			     "the staged container there with 'ferry ct delete')",
			     g->shown, g->m.dest,
			     r == TRANSPORT_OK ? "no confirmation" : err_msg());
		}
	}
	drop_all_snapshots(g);
	g->m.state = MIG_NONE;
	xstate_save(g);
	if (release_and_start(g, restart) < 0)
		step_fail("%s: %s", g->shown, err_msg());
	say("cancelled the migration of %s%s", g->shown, a->local ? " (this node only)" : "");
	step_done(g, "cancel");
}

/* ---- status ------------------------------------------------------------------------------ */

static const char *next_step(enum migstate_state s)
{
	switch (s) {
	case MIG_STAGED:
		return "sync";
	case MIG_SYNCED:
		return "sync or transfer";
	case MIG_TRANSFERRING:
		return "transfer (to settle an interrupted transfer)";
	case MIG_TRANSFERRED:
		return "cleanup";
	default:
		return "-";
	}
}

static void status_json(const struct ct_ref *ref, const struct migstate *m)
{
	struct json_writer w;
	char name[CT_REF_MAX + 1];
	json_writer_init(&w, 0);
	json_write_object_begin(&w);
	json_write_key(&w, "event");
	json_write_string(&w, "status");
	json_write_key(&w, "ct");
	json_write_string(&w, ct_ref_str(ref, name));
	json_write_key(&w, "state");
	json_write_string(&w, migstate_state_name(m->state));
	if (m->role == MIG_ROLE_SOURCE) {
		json_write_key(&w, "dest");
		json_write_string(&w, m->dest);
		json_write_key(&w, "since");
		json_write_int(&w, m->since);
		json_write_key(&w, "datasets");
		json_write_array_begin(&w);
		for (size_t i = 0; i < m->n_datasets; i++) {
			json_write_object_begin(&w);
			json_write_key(&w, "name");
			json_write_string(&w, m->datasets[i].name);
			json_write_key(&w, "confirmed");
			if (m->datasets[i].confirmed[0])
				json_write_string(&w, m->datasets[i].confirmed);
			else
				json_write_null(&w);
			json_write_key(&w, "pending");
			if (m->datasets[i].pending[0])
				json_write_string(&w, m->datasets[i].pending);
			else
				json_write_null(&w);
			json_write_object_end(&w);
		}
		json_write_array_end(&w);
	}
	json_write_object_end(&w);
	json_emit(&w);
}

struct status_list {
	const struct args *a;
	int failed, any;
};

static int status_one(const struct ct_ref *ref, void *arg)
{
	struct status_list *sl = arg;
	struct ct ct;
	struct migstate m;
	char name[CT_REF_MAX + 1];
	if (ct_open(&ct, node_root(sl->a->root), ref, CT_LOCK_NONE) < 0)
		return 0; /* gone while listing */
	int r = migstate_load(&ct, &m);
	ct_close(&ct);
	if (r < 0) {
		warn("%s", err_msg());
		sl->failed = 1;
		return 0;
	}
	if (r == 1 || m.role != MIG_ROLE_SOURCE)
		return 0;
	if (out_args->json) {
		status_json(ref, &m);
	} else {
		if (!sl->any && !out_args->quiet)
			printf("%-24s %-13s %-24s %s\n", "CT", "STATE", "DEST", "NEXT");
		if (!out_args->quiet)
			printf("%-24s %-13s %-24s %s\n", ct_ref_str(ref, name),
			       migstate_state_name(m.state), m.dest, next_step(m.state));
	}
	sl->any = 1;
	return 0;
}

static int cmd_status(const struct args *a)
{
	if (!a->ct) {
		struct status_list sl = {a, 0, 0};
		if (ct_list(node_root(a->root), NULL, status_one, &sl) < 0)
			die("%s", err_msg());
		fflush(stdout);
		return sl.failed ? EXIT_FAIL : EXIT_OK;
	}
	struct ct_ref ref;
	struct ct ct;
	struct migstate m;
	char name[CT_REF_MAX + 1], when[32];
	if (ct_ref_parse(&ref, a->ct) < 0)
		die("%s", err_msg());
	if (ct_open(&ct, node_root(a->root), &ref, CT_LOCK_NONE) < 0)
		die("%s", err_msg());
	if (migstate_load(&ct, &m) < 0)
		die("%s", err_msg());
	ct_close(&ct);
	if (m.role == MIG_ROLE_DEST && m.state == MIG_COMPLETE)
		migstate_init(&m);
	if (out_args->json) {
		status_json(&ref, &m);
		return EXIT_OK;
	}
	if (out_args->quiet)
		return EXIT_OK;
	printf("ct        %s\n", ct_ref_str(&ref, name));
	if (m.role == MIG_ROLE_DEST) {
		printf("state     staged here by a migration (key %s, from %s)\n", m.key, m.client);
		return EXIT_OK;
	}
	printf("state     %s\n", migstate_state_name(m.state));
	if (m.state == MIG_NONE)
		return EXIT_OK;
	if (utc_format(when, sizeof(when), m.since, UTC_ISO8601) < 0)
		snprintf(when, sizeof(when), "-");
	printf("since     %s\n", when);
	printf("dest      %s%s%.0u via %s as %s\n", m.dest, m.port ? " port " : "", m.port, m.ssh,
	       m.user);
	for (size_t i = 0; i < m.n_datasets; i++)
		printf("dataset   %s confirmed %s%s%s\n", m.datasets[i].name,
		       m.datasets[i].confirmed[0] ? m.datasets[i].confirmed : "-",
		       m.datasets[i].pending[0] ? ", unconfirmed " : "", m.datasets[i].pending);
	printf("next      %s\n", next_step(m.state));
	fflush(stdout);
	return EXIT_OK;
}

/* ---- Dispatch --------------------------------------------------------------------------------- */

static int cmd_step(const struct args *a)
{
	struct mig *g = malloc(sizeof(*g));
	if (!g)
		die("out of memory");
	mig_open(g, a);
	current_step = a->cmd; /* a refusal before the step begins is reported as that step's */
	if (!strcmp(a->cmd, "stage")) {
		do_stage(g);
	} else if (!strcmp(a->cmd, "sync")) {
		do_sync(g);
	} else if (!strcmp(a->cmd, "transfer")) {
		do_transfer(g);
	} else if (!strcmp(a->cmd, "cleanup")) {
		do_cleanup(g);
	} else if (!strcmp(a->cmd, "cancel")) {
		do_cancel(g);
	} else if (!strcmp(a->cmd, "now")) {
		double t0 = now_s();
		if (g->m.state == MIG_NONE || g->m.state == MIG_KEPT) {
			do_stage(g);
		} else if (strcmp(g->m.dest, a->dest)) {
			step_fail(
				"%s is being migrated to %s (state: %s), not %s; finish or cancel "
				"that first",
				g->shown, g->m.dest, state_of(g), a->dest);
		} else {
			say("%s: continuing the migration to %s (state: %s)", g->shown, g->m.dest,
			    state_of(g));
		}
		if (g->m.state == MIG_TRANSFERRING)
			resolve_transferring(g);
		if (g->m.state == MIG_STAGED || g->m.state == MIG_SYNCED) {
			do_sync(g);
			do_transfer(g);
		}
		do_cleanup(g);
		say("migrated %s to %s in %.1f s", g->shown, g->m.dest, now_s() - t0);
	}
	return EXIT_OK;
}

struct command {
	const char *name;
	int dest;	  /* 1: takes DEST */
	int ct_optional;  /* status */
	unsigned options; /* OPT() bits besides the common ones */
};

#define COMMON	(OPT(O_ROOT) | OPT(O_QUIET) | OPT(O_JSON))
#define CONNECT (OPT(O_PORT) | OPT(O_SSH) | OPT(O_USER))
#define SENDING (OPT(O_PARALLEL) | OPT(O_BWLIMIT))

static const struct command commands[] = {
	{"cancel", 0, 0, OPT(O_FORCE) | OPT(O_LOCAL)},
	{"cleanup", 0, 0, OPT(O_NO_DELETE) | OPT(O_FORCE)},
	{"now", 1, 0, CONNECT | SENDING | OPT(O_NO_DELETE) | OPT(O_NO_START)},
	{"stage", 1, 0, CONNECT},
	{"status", 0, 1, 0},
	{"sync", 0, 0, SENDING},
	{"transfer", 0, 0, SENDING | OPT(O_NO_START)},
};

/* "10M" -> 10485760 bytes per second. */
static uint64_t parse_rate(const char *s)
{
	char num[32];
	size_t n = strlen(s);
	uint64_t mult = 1, v;
	if (n == 0 || n >= sizeof(num))
		die_usage(usage, "--bwlimit %s: not a rate", s);
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K':
	case 'k':
		mult = 1024;
		break;
	case 'M':
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'G':
	case 'g':
		mult = 1024 * 1024 * 1024;
		break;
	}
	if (mult > 1)
		num[n - 1] = 0;
	v = xparse_uint(num, 1, UINT64_MAX / mult / 1024, "--bwlimit", usage);
	return v * mult;
}

int migrate_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{O_ROOT, 0, "root", OPT_REQUIRED},
		{O_PORT, 'p', "port", OPT_REQUIRED},
		{O_SSH, 0, "ssh", OPT_REQUIRED},
		{O_USER, 0, "user", OPT_REQUIRED},
		{O_PARALLEL, 0, "parallel", OPT_REQUIRED},
		{O_BWLIMIT, 0, "bwlimit", OPT_REQUIRED},
		{O_NO_START, 0, "no-start", OPT_NOARG},
		{O_NO_DELETE, 0, "no-delete", OPT_NOARG},
		{O_FORCE, 'f', "force", OPT_NOARG},
		{O_LOCAL, 'l', "local", OPT_NOARG},
		{O_QUIET, 'q', "quiet", OPT_NOARG},
		{O_JSON, 'j', "json", OPT_NOARG},
		OPT_SPEC_END,
	};
	static struct args a;
	struct opt_state st;
	const char *pos[4];
	size_t n_pos = 0;
	int id;
	memset(&a, 0, sizeof(a));
	out_args = &a;
	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		if (id == OPT_POSITIONAL) {
			if (n_pos == 4)
				die_usage(usage, "too many arguments");
			pos[n_pos++] = st.arg;
			continue;
		}
		if (a.used & OPT(id))
			die_usage(usage, "%s given twice", option_names[id]);
		a.used |= OPT(id);
		switch (id) {
		case O_ROOT:
			if (!*st.arg)
				die_usage(usage, "--root: empty directory name");
			a.root = st.arg;
			break;
		case O_PORT:
			a.port = (unsigned)xparse_uint(st.arg, 1, 65535, "--port", usage);
			break;
		case O_SSH:
			a.ssh = st.arg;
			break;
		case O_USER:
			a.user = st.arg;
			break;
		case O_PARALLEL:
			a.parallel =
				(unsigned)xparse_uint(st.arg, 1, PARALLEL_MAX, "--parallel", usage);
			break;
		case O_BWLIMIT:
			a.bwlimit = parse_rate(st.arg);
			break;
		case O_NO_START:
			a.no_start = 1;
			break;
		case O_NO_DELETE:
			a.no_delete = 1;
			break;
		case O_FORCE:
			a.force = 1;
			break;
		case O_LOCAL:
			a.local = 1;
			break;
		case O_QUIET:
			a.quiet = 1;
			break;
		case O_JSON:
			a.json = 1;
			break;
		}
	}
	if (n_pos == 0)
		die_usage(usage, "missing command");
	a.cmd = pos[0];
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, a.cmd))
			cmd = &commands[i];
	if (!cmd)
		die_usage(usage, "unknown command '%s'", a.cmd);
	for (int o = 1; o < O_COUNT; o++)
		if ((a.used & OPT(o)) && !((cmd->options | COMMON) & OPT(o)))
			die_usage(usage, "%s: option %s does not apply", cmd->name,
				  option_names[o]);
	size_t want = 2 + (size_t)cmd->dest;
	if (n_pos < want && !(cmd->ct_optional && n_pos == 1))
		die_usage(usage, "%s: missing %s", cmd->name, n_pos < 2 ? "CT" : "DEST");
	if (n_pos > want)
		die_usage(usage, "%s: too many arguments", cmd->name);
	a.ct = n_pos > 1 ? pos[1] : NULL;
	a.dest = cmd->dest ? pos[2] : NULL;
	bw.rate = a.bwlimit;
	if (!strcmp(a.cmd, "status"))
		return cmd_status(&a);
	return cmd_step(&a);
}
