/* ferry node: set up this node: state root, migration user, sshd (docs/privileges.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/authkeys.h"
#include "core/err.h"
#include "core/file.h"
#include "core/io.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/proc.h"
#include "core/sshdconf.h"
#include "crypto/sshkey.h"

static const char usage[] =
	"usage: ferry node init [--root DIR]\n"
	"       ferry node sshd-config [--root DIR] [--user NAME]\n"
	"       ferry node setup [--root DIR] [--user NAME] [--sshd-config FILE]\n"
	"       ferry node show [--root DIR] [--user NAME]\n"
	"\n"
	"Set up this node to receive migrations over SSH (docs/privileges.md).\n"
	"Received containers keep numeric owners, modes, xattrs and device nodes,\n"
	"so 'ferry receive' runs as root: the migration user is a second uid-0\n"
	"account that sshd lets in only with keys whose forced command is\n"
	"'ferry receive' (ferry authorized-keys writes them).\n"
	"\n"
	"  init         create the state root and its directories with safe modes\n"
	"  sshd-config  print the Match block for sshd_config\n"
	"  setup        init; create the user if missing (useradd -o -u 0, password\n"
	"               field '*', shell /bin/sh: sshd runs the forced command\n"
	"               through it); put the Match block into the sshd config\n"
	"               (between marker comments, replacing an earlier one; checked\n"
	"               with sshd -t first); then reload sshd yourself\n"
	"  show         what this node has: root, key pair, allowed keys, known\n"
	"               hosts, the user, the receive log\n"
	"\n"
	"  --root DIR          state root (default $FERRY_ROOT, else /var/lib/ferry)\n"
	"  --user NAME         the migration user (default migration)\n"
	"  --sshd-config FILE  the sshd config to edit (default /etc/ssh/sshd_config)\n";

enum { O_ROOT = 1, O_USER, O_SSHD_CONFIG };

#define NODE_LOG_DIR	   "log"
#define KNOWN_HOSTS_FILE   "known_hosts"
#define USER_SHELL	   "/bin/sh"
#define USER_HOME	   "/"
#define USER_COMMENT	   "ferry migrations (forced command only)"
#define SSHD_CHECK_TIMEOUT 30000
#define GETENT_TIMEOUT	   30000

struct args {
	const char *root, *user, *sshd_config;
	char *cmd;
	size_t n_pos;
};

/* The state root as an absolute path (it need not exist yet). */
static void root_abs(const struct args *a, char *buf, size_t cap)
{
	char keys[PATH_MAX];
	const char *root = node_root(a->root);
	/* authkeys_sshd_path resolves the root the same way the sshd file's --root does. */
	if (authkeys_sshd_path(root, keys, sizeof(keys)) < 0)
		die_err("%s", root);
	size_t tail = strlen("/" NODE_MIGRATION_DIR "/" AUTHKEYS_SSHD_FILE);
	if (strlen(keys) <= tail || strlen(keys) - tail >= cap)
		die("%s: path too long", root);
	snprintf(buf, cap, "%.*s", (int)(strlen(keys) - tail), keys);
}

static void mkdir_mode(const char *root, const char *rel, mode_t mode)
{
	char path[PATH_MAX];
	struct stat st;
	if (node_path(path, sizeof(path), root, rel) < 0)
		die_err("%s", root);
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		die_errno("create %s", path);
	if (lstat(path, &st) < 0)
		die_errno("%s", path);
	if (!S_ISDIR(st.st_mode))
		die("%s exists and is not a directory", path);
	if (st.st_mode & 022)
		die("%s is writable by group or others: fix it (chmod go-w)", path);
}

/* Creates the state root's directories; prints them. */
static void node_init(const char *root)
{
	int fd = authkeys_open_dir(root); /* ROOT 0755, conf 0755, conf/migration 0755, checked */
	if (fd < 0)
		die_err("state root %s", root);
	close(fd);
	mkdir_mode(root, NODE_CLUSTER_DIR, 0700);
	mkdir_mode(root, NODE_POOLS_DIR, 0700);
	mkdir_mode(root, NODE_LOG_DIR, 0700);
	/* The sshd file exists from the start, so sshd finds it (empty) before the first key. */
	if (authkeys_sync(root, NULL) < 0)
		die_err("write the sshd keys file");
}

static void block_text(const struct args *a, const char *root, char *buf, size_t cap)
{
	char keys[PATH_MAX];
	if (authkeys_sshd_path(root, keys, sizeof(keys)) < 0)
		die_err("%s", root);
	if (sshdconf_block(a->user, keys, buf, cap) < 0)
		die_err("sshd-config");
}

static int cmd_init(const struct args *a)
{
	char root[PATH_MAX];
	root_abs(a, root, sizeof(root));
	node_init(root);
	printf("state root %s ready\n", root);
	return EXIT_OK;
}

static int cmd_sshd_config(const struct args *a)
{
	char root[PATH_MAX], block[SSHDCONF_BLOCK_MAX];
	root_abs(a, root, sizeof(root));
	block_text(a, root, block, sizeof(block));
	fputs(block, stdout);
	if (fflush(stdout) != 0)
		die_errno("write");
	return EXIT_OK;
}

/*
 * Users, read from the files useradd writes, as musl's getpwnam and getspnam
 * read them (those bring ~7 KiB of stdio and nscd code). Names are checked
 * by sshdconf_user_ok ([a-z0-9_-]), so they cannot hold ':' or a newline.
 */
#define ACCOUNT_FILE_MAX (64u << 20)

struct account {
	unsigned uid;
	char shell[PATH_MAX];
};

/* Reads PATH into a malloc'd, NUL-terminated buffer; NULL with errno set when it cannot. */
static char *read_text(const char *path, int flags)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0) {
		if (st.st_size > ACCOUNT_FILE_MAX)
			errno = EFBIG;
		else if ((buf = malloc((size_t)st.st_size + 1))) {
			ssize_t n = io_read_full(fd, buf, (size_t)st.st_size);
			if (n >= 0) {
				buf[n] = 0;
			} else {
				free(buf);
				buf = NULL;
			}
		}
	}
	int e = errno;
	close(fd);
	errno = e;
	return buf;
}

/*
 * Field FIELD (0 is the name) of USER's line in TEXT ("name:f1:f2:..."),
 * copied into BUF (CAP bytes, cut if longer). Returns the field's whole
 * length, or -1 when there is no such line or field.
 */
static long account_field(const char *text, const char *user, int field, char *buf, size_t cap)
{
	size_t ulen = strlen(user);
	for (const char *line = text; *line;) {
		const char *end = line + strcspn(line, "\n");
		if (!strncmp(line, user, ulen) && line[ulen] == ':') {
			const char *f = line;
			for (int i = 0; i < field && f; i++)
				if ((f = memchr(f, ':', (size_t)(end - f))))
					f++;
			if (!f)
				return -1;
			size_t n = strcspn(f, ":\n"), k = n < cap ? n : cap - 1;
			memcpy(buf, f, k);
			buf[k] = 0;
			return (long)n;
		}
		line = *end ? end + 1 : end;
	}
	return -1;
}

/*
 * Finds USER in /etc/passwd, else through `getent passwd USER` (the name
 * service's users, such as a directory's). 1 and *A filled, or 0.
 */
static int user_find(const char *user, struct account *a)
{
	char uid[24], line[PATH_MAX + 256];
	char *text = read_text("/etc/passwd", 0);
	if (!text)
		die_errno("read /etc/passwd");
	int found = account_field(text, user, 2, uid, sizeof(uid)) >= 0 &&
		    account_field(text, user, 6, a->shell, sizeof(a->shell)) >= 0;
	free(text);
	if (!found) {
		char *argv[] = {"getent", "passwd", (char *)user, NULL};
		struct proc_opts o;
		int status;
		proc_opts_init(&o, argv);
		o.fd_in = o.fd_err = PROC_NULL;
		found = proc_run(&o, GETENT_TIMEOUT, line, sizeof(line), NULL, &status) == 0 &&
			status == 0 && account_field(line, user, 2, uid, sizeof(uid)) >= 0 &&
			account_field(line, user, 6, a->shell, sizeof(a->shell)) >= 0;
	}
	uint64_t v;
	if (!found)
		return 0;
	if (parse_uint(uid, 0, UINT32_MAX, &v) < 0)
		die_err("user %s: uid", user);
	a->uid = (unsigned)v;
	return 1;
}

/*
 * 1 if the shadow password field of USER locks it for sshd without PAM
 * ("!..."), 0 if not, -1 unknown. Like getspnam: /etc/tcb/USER/shadow when
 * there is one, else /etc/shadow.
 */
static int user_locked(const char *user)
{
	char path[PATH_MAX], pw[2];
	snprintf(path, sizeof(path), "/etc/tcb/%s/shadow", user); /* the name is short */
	char *text = read_text(path, O_NOFOLLOW);
	if (!text && (errno == ENOENT || errno == ENOTDIR))
		text = read_text("/etc/shadow", 0);
	if (!text)
		return -1;
	long found = account_field(text, user, 1, pw, sizeof(pw));
	free(text);
	return found < 0 ? -1 : pw[0] == '!';
}

/* Checks an existing user; dies when it cannot serve as the migration user. */
static void check_user(const char *user, const struct account *a)
{
	if (a->uid != 0)
		die("user %s exists with uid %u: the migration user must have uid 0 (receive "
		    "keeps numeric owners, modes and device nodes; see docs/privileges.md)",
		    user, a->uid);
	const char *sh = *a->shell ? a->shell : USER_SHELL;
	if (strstr(sh, "nologin") || strstr(sh, "false"))
		die("user %s has the shell %s: sshd runs the forced command through the user's "
		    "shell, so it must be a shell such as %s (usermod -s %s %s)",
		    user, sh, USER_SHELL, USER_SHELL, user);
}

/* Creates USER (uid 0, '*' password field, /bin/sh) unless it exists. Returns 1 if created. */
static int ensure_user(const char *user)
{
	struct account a;
	if (user_find(user, &a)) {
		check_user(user, &a);
		if (user_locked(user) == 1)
			warn("user %s is locked (password field '!...'): sshd without PAM refuses "
			     "it; unlock with: usermod -p '*' %s",
			     user, user);
		return 0;
	}
	char *argv[] = {"useradd",    "-o", "-u",      "0",	     "-g",	 "0",
			"-M",	      "-d", USER_HOME, "-s",	     USER_SHELL, "-c",
			USER_COMMENT, "-p", "*",       (char *)user, NULL};
	struct proc_opts o;
	int status;
	proc_opts_init(&o, argv);
	o.fd_in = PROC_NULL;
	if (proc_run(&o, 60000, NULL, 0, NULL, &status) < 0)
		die_err("create user %s", user);
	if (proc_status_check("useradd", status) < 0)
		die_err("create user %s", user);
	if (!user_find(user, &a))
		die("create user %s: useradd succeeded but the user is not there", user);
	check_user(user, &a);
	return 1;
}

/* Runs sshd -t on TEXT (written next to FILE): 0 valid, dies with sshd's words otherwise. */
static int sshd_check(const char *file, const char *text, size_t len, mode_t mode)
{
	char sshd[PROC_PATH_MAX], tmp[PATH_MAX], out[4096];
	if (access("/usr/sbin/sshd", X_OK) == 0)
		snprintf(sshd, sizeof(sshd), "/usr/sbin/sshd");
	else if (proc_find("sshd", sshd, sizeof(sshd)) < 0)
		return 1; /* no OpenSSH server here to ask */
	if (snprintf(tmp, sizeof(tmp), "%s.ferry-check-%d", file, (int)getpid()) >=
	    (int)sizeof(tmp))
		die("%s: path too long", file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0644);
	if (fd < 0)
		die_errno("create %s", tmp);
	int w = io_write_full(fd, text, len);
	close(fd);
	if (w < 0) {
		unlink(tmp);
		die_errno("write %s", tmp);
	}
	char *argv[] = {sshd, "-t", "-f", tmp, NULL};
	struct proc_opts o;
	int status;
	size_t n = 0;
	proc_opts_init(&o, argv);
	o.fd_in = PROC_NULL;
	o.fd_err = PROC_INHERIT;
	int r = proc_run(&o, SSHD_CHECK_TIMEOUT, out, sizeof(out), &n, &status);
	unlink(tmp);
	if (r < 0)
		die_err("sshd -t");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s: sshd -t refuses the config with ferry's block (see above); nothing "
		    "changed",
		    file);
	return 0;
}

static int cmd_setup(const struct args *a)
{
	char root[PATH_MAX], block[SSHDCONF_BLOCK_MAX];
	const char *file = a->sshd_config ? a->sshd_config : SSHDCONF_FILE_DEFAULT;
	root_abs(a, root, sizeof(root));
	block_text(a, root, block, sizeof(block));

	/* Read and splice before changing anything, so a bad config stops setup early. */
	char *old = NULL, *text = NULL;
	size_t old_len = 0, len = 0;
	int changed = 0;
	struct stat st;
	if (stat(file, &st) < 0)
		die_errno("sshd config %s", file);
	if (file_read_all(AT_FDCWD, file, SSHDCONF_FILE_MAX, &old, &old_len) < 0)
		die_err("sshd config %s", file);
	if (sshdconf_splice(old, old_len, a->user, block, &text, &len, &changed) < 0)
		die_err("sshd config %s", file);

	node_init(root);
	printf("state root %s ready\n", root);
	if (ensure_user(a->user))
		printf("created user %s (uid 0, no password, shell %s)\n", a->user, USER_SHELL);
	else
		printf("user %s exists (uid 0)\n", a->user);
	if (!changed) {
		printf("%s already has the block for user %s: nothing to change\n", file, a->user);
	} else {
		sshd_check(file, text, len, st.st_mode);
		if (file_write_atomic_path(file, text, len, st.st_mode & 07777) < 0)
			die_err("write %s", file);
		printf("%s: block for user %s written\n", file, a->user);
		printf("reload sshd now (systemctl reload ssh, or kill -HUP the sshd "
		       "listener)\n");
	}
	free(old);
	free(text);
	if (fflush(stdout) != 0)
		die_errno("write");
	return EXIT_OK;
}

/* Non-comment, non-empty lines of ROOT/REL: -1 if the file is missing. */
static long count_lines(const char *root, const char *rel)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	long n = 0;
	if (node_path(path, sizeof(path), root, rel) < 0)
		return -1;
	if (file_read_all(AT_FDCWD, path, AUTHKEYS_FILE_MAX, &text, &len) < 0)
		return -1;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (end > i && text[i] != '#')
			n++;
		i = end + 1;
	}
	free(text);
	return n;
}

static int cmd_show(const struct args *a)
{
	char root[PATH_MAX], path[PATH_MAX], keys[PATH_MAX], *text = NULL;
	size_t len = 0;
	struct sshkey_pub k;
	struct authkeys list;
	root_abs(a, root, sizeof(root));
	printf("root          %s%s\n", root,
	       access(root, F_OK) == 0 ? "" : " (missing: ferry node init)");
	if (node_path(path, sizeof(path), root, NODE_MIGRATION_DIR "/key.pub") < 0)
		die_err("%s", root);
	if (file_read_all(AT_FDCWD, path, SSHKEY_LINE_MAX, &text, &len) == 0 &&
	    sshkey_parse_line(&k, text, len) == 0) {
		char fp[SSHKEY_FP_SIZE];
		sshkey_fingerprint(&k, fp);
		printf("key           %s %s %s\n", path, sshkey_type_label(k.type), fp);
	} else {
		printf("key           none (ferry keygen)\n");
	}
	free(text);
	if (authkeys_load(root, &list) < 0)
		die_err("allowed keys");
	if (authkeys_sshd_path(root, keys, sizeof(keys)) < 0)
		die_err("%s", root);
	printf("allowed keys  %zu (ferry authorized-keys list), sshd file %s\n", list.count, keys);
	authkeys_free(&list);
	long hosts = count_lines(root, NODE_MIGRATION_DIR "/" KNOWN_HOSTS_FILE);
	if (hosts < 0)
		printf("known hosts   none yet (pinned by ferry migrate stage)\n");
	else
		printf("known hosts   %ld in %s/%s/%s\n", hosts, root, NODE_MIGRATION_DIR,
		       KNOWN_HOSTS_FILE);
	struct account acc;
	if (!user_find(a->user, &acc))
		printf("user          %s missing (ferry node setup)\n", a->user);
	else
		printf("user          %s uid %u shell %s%s\n", a->user, acc.uid, acc.shell,
		       user_locked(a->user) == 1 ? " LOCKED (usermod -p '*')" : "");
	printf("receive log   %s/%s/receive.log\n", root, NODE_LOG_DIR);
	if (fflush(stdout) != 0)
		die_errno("write");
	return EXIT_OK;
}

struct command {
	const char *name;
	int (*run)(const struct args *a);
	int user, sshd_config; /* options that apply */
};

static const struct command commands[] = {
	{"init", cmd_init, 0, 0},
	{"setup", cmd_setup, 1, 1},
	{"show", cmd_show, 1, 0},
	{"sshd-config", cmd_sshd_config, 1, 0},
};

int node_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{O_ROOT, 0, "root", OPT_REQUIRED},
		{O_USER, 0, "user", OPT_REQUIRED},
		{O_SSHD_CONFIG, 0, "sshd-config", OPT_REQUIRED},
		OPT_SPEC_END,
	};
	struct args a = {.user = SSHDCONF_USER_DEFAULT};
	struct opt_state st;
	int id, user_given = 0;
	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		switch (id) {
		case OPT_POSITIONAL:
			if (a.n_pos++ == 0)
				a.cmd = (char *)st.arg;
			else
				die_usage(usage, "unexpected argument '%s'", st.arg);
			break;
		case O_ROOT:
			if (!*st.arg)
				die_usage(usage, "--root: empty directory name");
			a.root = st.arg;
			break;
		case O_USER:
			if (!sshdconf_user_ok(st.arg))
				die_usage(usage,
					  "--user %s: not a user name ferry accepts (a-z 0-9 _ -, "
					  "starting with a-z or _, at most %d)",
					  st.arg, SSHDCONF_USER_MAX);
			a.user = st.arg;
			user_given = 1;
			break;
		case O_SSHD_CONFIG:
			a.sshd_config = st.arg;
			break;
		}
	}
	if (!a.cmd)
		die_usage(usage, "missing command");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strcmp(c->name, a.cmd))
			continue;
		if (user_given && !c->user)
			die_usage(usage, "%s: --user does not apply", c->name);
		if (a.sshd_config && !c->sshd_config)
			die_usage(usage, "%s: --sshd-config does not apply", c->name);
		return c->run(&a);
	}
	die_usage(usage, "unknown command '%s'", a.cmd);
}
