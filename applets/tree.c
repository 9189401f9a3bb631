/* ferry tree: send and receive directory trees as ferry streams, through files or pipes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/io.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/progress.h"
#include "core/treerecv.h"
#include "core/treesend.h"

static const char usage[] =
	"usage: ferry tree send [--state DIR] --snapshot NAME [--from NAME] [--no-compress] SRC > FILE\n"
	"       ferry tree recv [--state DIR] DST < FILE\n"
	"       ferry tree snapshots [--state DIR] [SRC]\n"
	"       ferry tree drop [--state DIR] --snapshot NAME [SRC]\n"
	"       ferry tree held [--state DIR] DST\n"
	"\n"
	"Send a directory tree as a ferry stream (docs/stream-format.md) and\n"
	"receive it elsewhere: a base stream carries the whole tree, an\n"
	"incremental one (--from) only what changed since an earlier snapshot.\n"
	"Files keep their holes, hard links, owners, modes, nanosecond mtimes,\n"
	"devices, FIFOs and extended attributes (ACLs, capabilities).\n"
	"\n"
	"send       writes the stream of SRC to stdout and records snapshot NAME\n"
	"           (a manifest of what was sent) once the stream is complete\n"
	"recv       reads a stream from stdin into DST. A base stream creates DST\n"
	"           (which must be missing or empty) and makes it appear only when\n"
	"           the stream verified; an incremental applies to the snapshot DST\n"
	"           holds, all or nothing; an interrupted one is finished or undone\n"
	"           by the next recv\n"
	"snapshots  lists the snapshots recorded for SRC (sending side)\n"
	"drop       deletes snapshot NAME's record (sending side)\n"
	"held       prints the snapshot DST holds (receiving side)\n"
	"\n"
	"  --state DIR      where this tree's snapshot records live (default:\n"
	"                   $FERRY_ROOT or /var/lib/ferry, then trees/HASH, HASH\n"
	"                   derived from the tree's absolute path)\n"
	"  --snapshot NAME  the snapshot to record (1-64 of A-Z a-z 0-9 . _ -)\n"
	"  --from NAME      send only the changes since snapshot NAME\n"
	"  --no-compress    send file data uncompressed (default: LZ4 blocks)\n"
	"\n"
	"Progress and a summary go to stderr when it is a terminal.\n";

enum { O_STATE = 1, O_SNAPSHOT, O_FROM, O_NO_COMPRESS };

static void print_warning(void *ctx, const char *msg)
{
	(void)ctx;
	warn("%s", msg);
}

/* The state directory: --state, or the default one of TREE. */
static const char *state_dir(const char *opt, const char *tree, char *buf, size_t cap)
{
	if (opt)
		return opt;
	if (!tree)
		die_usage(usage, "name the tree or give --state");
	if (tree_state_default(buf, cap, node_root(NULL), tree) < 0)
		die_err("%s", tree);
	return buf;
}

static void summary(const char *what, const struct tree_stats *st, const struct progress *p)
{
	char a[32], b[32], c[32];
	double el = progress_elapsed(p);
	fprintf(stderr, "ferry tree: %s: %llu entries, %llu files, %s of data, %s on the wire",
		what, (unsigned long long)st->entries, (unsigned long long)st->files,
		progress_bytes(a, sizeof(a), (double)st->data_bytes),
		progress_bytes(b, sizeof(b), (double)st->wire_bytes));
	if (st->wire_bytes)
		fprintf(stderr, " (ratio %.2f)", (double)st->raw_bytes / (double)st->wire_bytes);
	fprintf(stderr, ", %llu deleted, in %.1f s (%s/s)\n", (unsigned long long)st->deleted, el,
		progress_bytes(c, sizeof(c), el > 0 ? (double)st->data_bytes / el : 0));
}

static int cmd_send(struct opt_state *st)
{
	static const struct opt_spec specs[] = {{O_STATE, 0, "state", OPT_REQUIRED},
						{O_SNAPSHOT, 0, "snapshot", OPT_REQUIRED},
						{O_FROM, 0, "from", OPT_REQUIRED},
						{O_NO_COMPRESS, 0, "no-compress", OPT_NOARG},
						OPT_SPEC_END};
	const char *state = NULL, *src = NULL;
	struct tree_send_opts o = {.compress = 1, .warn = print_warning};
	char buf[PATH_MAX];
	int id;
	while ((id = xopt_next(st, specs, usage)) != OPT_END) {
		switch (id) {
		case O_STATE:
			state = st->arg;
			break;
		case O_SNAPSHOT:
			o.snapshot = st->arg;
			break;
		case O_FROM:
			o.from = st->arg;
			break;
		case O_NO_COMPRESS:
			o.compress = 0;
			break;
		case OPT_POSITIONAL:
			if (src)
				die_usage(usage, "send takes one SRC");
			src = st->arg;
			break;
		}
	}
	if (!src)
		die_usage(usage, "send needs SRC");
	if (!o.snapshot)
		die_usage(usage, "send needs --snapshot NAME");
	if (isatty(STDOUT_FILENO))
		die("refusing to write a stream to a terminal: redirect stdout to a file or pipe");
	o.src = src;
	o.state_dir = state_dir(state, src, buf, sizeof(buf));
	struct progress p;
	progress_init(&p, "send", STDERR_FILENO, PROGRESS_AUTO);
	if (p.draw) {
		uint64_t files;
		if (tree_estimate(src, &p.total_bytes, &files) == 0)
			o.size_hint = p.total_bytes;
		o.progress = &p;
	}
	int fd = STDOUT_FILENO;
	struct io_chan ch;
	struct tree_stats ts;
	io_chan_fd(&ch, &fd);
	if (tree_send(&o, &ch, &ts) < 0) {
		progress_done(&p);
		if (errno == EPIPE && strstr(err_msg(), "Broken pipe"))
			die("send %s: the receiving side went away", src);
		die_err("send %s", src);
	}
	progress_done(&p);
	if (p.draw) {
		char what[128];
		snprintf(what, sizeof(what), "sent snapshot %s", o.snapshot);
		summary(what, &ts, &p);
	}
	return EXIT_OK;
}

static int cmd_recv(struct opt_state *st)
{
	static const struct opt_spec specs[] = {{O_STATE, 0, "state", OPT_REQUIRED}, OPT_SPEC_END};
	const char *state = NULL, *dst = NULL;
	char buf[PATH_MAX];
	int id;
	while ((id = xopt_next(st, specs, usage)) != OPT_END) {
		if (id == O_STATE)
			state = st->arg;
		else if (id == OPT_POSITIONAL) {
			if (dst)
				die_usage(usage, "recv takes one DST");
			dst = st->arg;
		}
	}
	if (!dst)
		die_usage(usage, "recv needs DST");
	if (isatty(STDIN_FILENO))
		die("refusing to read a stream from a terminal: redirect stdin from a file or pipe");
	struct tree_recv_opts o = {.dst = dst,
				   .state_dir = state_dir(state, dst, buf, sizeof(buf))};
	struct progress p;
	struct stat in_st;
	progress_init(&p, "receive", STDERR_FILENO, PROGRESS_AUTO);
	/* in a pipe from `tree send` on the same terminal, the sender draws */
	if (p.draw && fstat(STDIN_FILENO, &in_st) == 0 && S_ISREG(in_st.st_mode))
		o.progress = &p;
	else
		p.draw = 0;
	int fd = STDIN_FILENO;
	struct io_chan ch;
	struct tree_recv_info info;
	struct tree_stats ts;
	io_chan_fd(&ch, &fd);
	if (tree_recv(&o, &ch, &info, &ts) < 0) {
		progress_done(&p);
		die_err("receive into %s", dst);
	}
	progress_done(&p);
	if (info.already)
		warn("%s already holds snapshot %s: nothing to do", dst, info.snapshot);
	if (p.draw) {
		char what[128];
		snprintf(what, sizeof(what), "received snapshot %s", info.snapshot);
		summary(what, &ts, &p);
	}
	return EXIT_OK;
}

static int print_name(void *ctx, const char *name)
{
	(void)ctx;
	return printf("%s\n", name) < 0 ? -1 : 0;
}

static int cmd_query(struct opt_state *st, const char *sub)
{
	static const struct opt_spec specs[] = {{O_STATE, 0, "state", OPT_REQUIRED},
						{O_SNAPSHOT, 0, "snapshot", OPT_REQUIRED},
						OPT_SPEC_END};
	const char *state = NULL, *tree = NULL, *snap = NULL;
	char buf[PATH_MAX];
	int id;
	while ((id = xopt_next(st, specs, usage)) != OPT_END) {
		if (id == O_STATE)
			state = st->arg;
		else if (id == O_SNAPSHOT)
			snap = st->arg;
		else if (id == OPT_POSITIONAL) {
			if (tree)
				die_usage(usage, "%s takes one tree", sub);
			tree = st->arg;
		}
	}
	if (!strcmp(sub, "snapshots")) {
		if (snap)
			die_usage(usage, "snapshots takes no --snapshot");
		if (tree_snapshot_list(state_dir(state, tree, buf, sizeof(buf)), print_name, NULL) <
		    0)
			die_err("snapshots");
		return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
	}
	if (!strcmp(sub, "drop")) {
		if (!snap)
			die_usage(usage, "drop needs --snapshot NAME");
		int r = tree_snapshot_drop(state_dir(state, tree, buf, sizeof(buf)), snap);
		if (r < 0)
			die_err("drop %s", snap);
		if (r == 1)
			die("drop %s: no such snapshot", snap);
		return EXIT_OK;
	}
	/* held */
	if (!tree || snap)
		die_usage(usage, "held needs DST (and no --snapshot)");
	char name[STREAM_SNAP_NAME_MAX + 1];
	int r = tree_held(state_dir(state, tree, buf, sizeof(buf)), tree, name, sizeof(name));
	if (r < 0)
		die_err("held %s", tree);
	if (r == 0)
		die("%s holds no snapshot", tree);
	printf("%s\n", name);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}

int tree_main(int argc, char **argv)
{
	struct opt_state st;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		print_help(usage);
	if (argc < 2)
		die_usage(usage, "missing command (send, recv, snapshots, drop, held)");
	const char *sub = argv[1];
	opt_init(&st, argc - 1, argv + 1);
	if (!strcmp(sub, "send"))
		return cmd_send(&st);
	if (!strcmp(sub, "recv"))
		return cmd_recv(&st);
	if (!strcmp(sub, "snapshots") || !strcmp(sub, "drop") || !strcmp(sub, "held"))
		return cmd_query(&st, sub);
	if (sub[0] == '-') {
		static const struct opt_spec none[] = {OPT_SPEC_END};
		opt_init(&st, argc, argv);
		xopt_next(&st, none, usage);
	}
	die_usage(usage, "unknown command '%s'", sub);
}
