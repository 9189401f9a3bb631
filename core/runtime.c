/* Starting and stopping containers: the built-in namespace runtime, or the config's external commands. */
#include "core/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/opt.h"
#include "core/proc.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

extern char **environ;

#define REPORT_MAX 2048 /* bytes of the new container's start report */

static const char *ct_name(const struct ct *ct, char *buf)
{
	return ct_ref_str(&ct->ref, buf);
}

/* ---- External commands -------------------------------------------------- */

/* Values of the placeholders for CT. */
struct subst {
	const char *id, *pool, *ct, *rootfs, *dir, *hostname, *log;
};

static const char *subst_value(const struct subst *s, const char *name, size_t n)
{
	const struct {
		const char *name, *value;
	} table[] = {{"id", s->id},	    {"pool", s->pool}, {"ct", s->ct},
		     {"rootfs", s->rootfs}, {"dir", s->dir},   {"hostname", s->hostname},
		     {"log", s->log}};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strlen(table[i].name) == n && !memcmp(table[i].name, name, n))
			return table[i].value;
	return NULL;
}

/* A command line split into words with placeholders expanded; owned memory. */
struct cmdline {
	char *argv[PROC_ARGS_MAX];
	char *envp[256 + 8];
	char words[CT_CMD_MAX + 1];
	char *expanded[PROC_ARGS_MAX];
	char env_extra[4][4096 + 32];
};

static void cmdline_free(struct cmdline *cl)
{
	for (size_t i = 0; i < PROC_ARGS_MAX; i++)
		free(cl->expanded[i]);
	free(cl);
}

/* Splits LINE and expands %name% in every word (%% is a '%'); builds the environment. */
static struct cmdline *cmdline_build(const char *key, const char *line, const struct subst *s)
{
	struct cmdline *cl = calloc(1, sizeof(*cl));
	char *split[PROC_ARGS_MAX];
	if (!cl) {
		err_set("out of memory");
		return NULL;
	}
	int n = proc_split(line, cl->words, sizeof(cl->words), split, PROC_ARGS_MAX);
	if (n < 0) {
		err_prefix("%s", key);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		size_t cap = 64, len = 0;
		char *out = malloc(cap);
		if (!out)
			goto oom;
		cl->expanded[i] = out;
		for (const char *p = split[i]; *p;) {
			const char *piece = p;
			size_t plen = 1;
			if (*p == '%') {
				const char *end = strchr(p + 1, '%');
				if (!end) {
					err_set("%s: unterminated placeholder", key);
					goto fail;
				}
				if (end == p + 1) {
					piece = "%"; /* %% */
				} else {
					piece = subst_value(s, p + 1, (size_t)(end - p - 1));
					if (!piece) {
						err_set("%s: unknown placeholder", key);
						goto fail;
					}
					plen = strlen(piece);
				}
				p = end + 1;
			} else {
				p++;
			}
			if (len + plen + 1 > cap) {
				while (len + plen + 1 > cap)
					cap *= 2;
				char *bigger = realloc(out, cap);
				if (!bigger)
					goto oom;
				out = cl->expanded[i] = bigger;
			}
			memcpy(out + len, piece, plen);
			len += plen;
		}
		out[len] = 0;
		cl->argv[i] = out;
	}
	cl->argv[n] = NULL;

	/* The caller's environment without FERRY_CT_*, then ours. */
	size_t e = 0;
	for (char **v = environ; v && *v && e < 256; v++)
		if (strncmp(*v, "FERRY_CT_", 9))
			cl->envp[e++] = *v;
	snprintf(cl->env_extra[0], sizeof(cl->env_extra[0]), "FERRY_CT_ID=%s", s->id);
	snprintf(cl->env_extra[1], sizeof(cl->env_extra[1]), "FERRY_CT_POOL=%s", s->pool);
	snprintf(cl->env_extra[2], sizeof(cl->env_extra[2]), "FERRY_CT_ROOTFS=%s", s->rootfs);
	snprintf(cl->env_extra[3], sizeof(cl->env_extra[3]), "FERRY_CT_DIR=%s", s->dir);
	for (int i = 0; i < 4; i++)
		cl->envp[e++] = cl->env_extra[i];
	cl->envp[e] = NULL;
	return cl;
oom:
	err_set("out of memory");
fail:
	cmdline_free(cl);
	return NULL;
}

struct ct_paths {
	char name[CT_REF_MAX + 1];
	char rootfs[4096];
	char log[4096];
};

static int ct_paths(const struct ct *ct, struct ct_paths *p)
{
	ct_ref_str(&ct->ref, p->name);
	if (ct_dataset_tree(ct, CT_DATASET_ROOT, p->rootfs, sizeof(p->rootfs)) < 0 ||
	    ct_file_path(ct, CT_LOG_FILE, p->log, sizeof(p->log)) < 0)
		return -1;
	return 0;
}

/*
 * Runs the config command KEY (LINE) for CT within TIMEOUT_S; stdout into
 * OUT (CAP bytes) if not NULL, else to our stderr. 0 and *STATUS, or -1.
 */
static int run_cmd(const struct ct *ct, const struct ct_config *c, const char *key,
		   const char *line, int timeout_s, char *out, size_t cap, int *status)
{
	struct ct_paths *p = malloc(sizeof(*p));
	struct proc_opts po;
	int r = -1;
	if (!p)
		return err_set("out of memory");
	if (ct_paths(ct, p) < 0) {
		free(p);
		return -1;
	}
	struct subst s = {ct->ref.id, ct->ref.pool, p->name,
			  p->rootfs,  ct->dir,	    ct_config_hostname(c, &ct->ref),
			  p->log};
	struct cmdline *cl = cmdline_build(key, line, &s);
	if (cl) {
		proc_opts_init(&po, cl->argv);
		po.envp = cl->envp;
		po.fd_in = PROC_NULL;
		po.fd_out = out ? PROC_INHERIT : STDERR_FILENO;
		po.dir = ct->dir;
		r = proc_run(&po, timeout_s * 1000, out, cap, NULL, status);
		if (r < 0)
			err_prefix("%s", key);
		cmdline_free(cl);
	}
	free(p);
	return r;
}

/* Finds "pid=N" on a line of OUT. N, or 0 if there is none. */
static pid_t reported_pid(const char *out)
{
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "pid=", 4))
			continue;
		char *end;
		long v = strtol(p + 4, &end, 10);
		if (end > p + 4 && (*end == '\n' || *end == 0) && v > 1 && v < (1L << 22))
			return (pid_t)v;
	}
	return 0;
}

/* ---- Status ------------------------------------------------------------ */

int runtime_status(const struct ct *ct, const struct ct_config *c, struct runtime_status *st)
{
	struct ct_run run;
	char name[CT_REF_MAX + 1];
	memset(st, 0, sizeof(*st));
	st->external = c->start_cmd[0] != 0;
	int staged = ct_staged(ct);
	if (staged < 0)
		return -1;
	st->staged = staged;
	int have = ct_run_load(ct, &run);
	if (have < 0)
		return -1;
	int alive = 0;
	if (have == 0 && run.pid > 0) {
		alive = ct_run_alive(&run);
		if (alive < 0)
			return -1;
	}
	if (st->external && c->status_cmd[0]) {
		int status;
		if (run_cmd(ct, c, "status_cmd", c->status_cmd, RUNTIME_STATUS_TIMEOUT, NULL, 0,
			    &status) < 0)
			return -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
			char b[96];
			return err_set("status of %s: status_cmd %s", ct_name(ct, name),
				       proc_status_str(status, b, sizeof(b)));
		}
		st->running = WEXITSTATUS(status) == 0;
	} else if (have == 0 && (run.pid > 0 || !run.external)) {
		st->running = alive;
	} else {
		st->running = have == 0 && run.external; /* start_cmd succeeded, no stop since */
	}
	if (st->running && have == 0) {
		st->pid = alive ? run.pid : 0;
		st->started = run.started;
	}
	return 0;
}

/* ---- The built-in runtime: the new container's side ------------------------ */

/* Everything the container's first process needs, prepared before the fork. */
struct start_plan {
	char rootfs[4096];
	char hostname[CT_HOSTNAME_MAX + 1];
	char init_words[CT_CMD_MAX + 1];
	char *init_argv[PROC_ARGS_MAX];
	int net_none;
	size_t n_mounts;
	struct {
		char src[4096];
		char mountpoint[CT_MOUNTPOINT_MAX + 1];
		char dataset[CT_DATASET_NAME_MAX + 1];
	} mounts[CT_DATASETS_MAX];
	int log_fd, null_fd;
};

/* Reports "error WHAT: strerror(errno)" to the starter and ends the child. */
static _Noreturn void setup_fail(int fd, const char *what)
{
	char line[600];
	int e = errno;
	int n = snprintf(line, sizeof(line), "error %s: %s\n", what, strerror(e));
	if (n > 0 && (size_t)n < sizeof(line)) {
		ssize_t w = write(fd, line, (size_t)n);
		(void)w;
	}
	_exit(127);
}

/*
 * Opens the directory MP (absolute, checked by ct_mountpoint_check) beneath
 * ROOTFD one component at a time, never following a symlink, creating
 * missing components (0755). A descriptor, or -1 with errno.
 */
static int open_beneath(int rootfd, const char *mp)
{
	char comp[CT_MOUNTPOINT_MAX + 1];
	int fd = dup(rootfd);
	const char *p = mp;
	while (fd >= 0 && *p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		memcpy(comp, p, n);
		comp[n] = 0;
		p += n;
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				int e = errno;
				close(fd);
				errno = e;
				return -1;
			}
			next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		int e = errno;
		close(fd);
		errno = e;
		fd = next;
	}
	return fd;
}

/* mkdir DIR in the new root if it is missing; a symlink or file there is left for mount to judge. */
static void ensure_dir(const char *dir, mode_t mode)
{
	if (mkdir(dir, mode) == 0)
		chmod(dir, mode);
}

static void make_dev(int fd)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
		     {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
	static const struct {
		const char *target, *name;
	} links[] = {{"/proc/self/fd", "/dev/fd"},
		     {"/proc/self/fd/0", "/dev/stdin"},
		     {"/proc/self/fd/1", "/dev/stdout"},
		     {"/proc/self/fd/2", "/dev/stderr"},
		     {"pts/ptmx", "/dev/ptmx"}};
	char what[128];
	ensure_dir("/dev", 0755);
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k") < 0)
		setup_fail(fd, "mount tmpfs on /dev");
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(what, sizeof(what), "mknod %s", nodes[i].name);
		if (mknod(nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) <
			    0 ||
		    chmod(nodes[i].name, 0666) < 0)
			setup_fail(fd, what);
	}
	ensure_dir("/dev/pts", 0755);
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		setup_fail(fd, "mount devpts on /dev/pts");
	ensure_dir("/dev/shm", 01777);
	if (mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k") < 0)
		setup_fail(fd, "mount tmpfs on /dev/shm");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(what, sizeof(what), "symlink %s", links[i].name);
		if (symlink(links[i].target, links[i].name) < 0)
			setup_fail(fd, what);
	}
}

static void loopback_up(int fd)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		setup_fail(fd, "socket for lo");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		setup_fail(fd, "get flags of lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		setup_fail(fd, "bring lo up");
	close(s);
}

/* In the container's first process (PID 1 of its namespace): set up, then exec init. */
static _Noreturn void container_main(const struct start_plan *pl, int fd)
{
	char what[CT_MOUNTPOINT_MAX + 64], src[64], dst[64];
	static char *const envp[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/",
		"TERM=linux", "container=ferry", NULL};
	int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
	if (pl->net_none)
		flags |= CLONE_NEWNET;
	proc_child_reset(3);
	setsid();
	if (unshare(flags) < 0)
		setup_fail(fd, "create mount, UTS, IPC namespaces (unshare)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		setup_fail(fd, "make / private");
	if (mount(pl->rootfs, pl->rootfs, NULL, MS_BIND, NULL) < 0)
		setup_fail(fd, "bind-mount the root dataset onto itself");
	int rootfd = open(pl->rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0)
		setup_fail(fd, "open the root dataset");
	for (size_t i = 0; i < pl->n_mounts; i++) {
		snprintf(what, sizeof(what), "dataset %s: open its tree", pl->mounts[i].dataset);
		int sfd = open(pl->mounts[i].src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			setup_fail(fd, what);
		snprintf(what, sizeof(what), "dataset %s: mount point %s (no symlinks allowed)",
			 pl->mounts[i].dataset, pl->mounts[i].mountpoint);
		int tfd = open_beneath(rootfd, pl->mounts[i].mountpoint);
		if (tfd < 0)
			setup_fail(fd, what);
		snprintf(src, sizeof(src), "/proc/self/fd/%d", sfd);
		snprintf(dst, sizeof(dst), "/proc/self/fd/%d", tfd);
		snprintf(what, sizeof(what), "dataset %s: bind-mount at %s", pl->mounts[i].dataset,
			 pl->mounts[i].mountpoint);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			setup_fail(fd, what);
		close(sfd);
		close(tfd);
	}
	if (fchdir(rootfd) < 0)
		setup_fail(fd, "chdir to the root dataset");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		setup_fail(fd, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		setup_fail(fd, "detach the old root");
	if (chdir("/") < 0)
		setup_fail(fd, "chdir /");
	close(rootfd);
	umask(022);
	if (sethostname(pl->hostname, strlen(pl->hostname)) < 0)
		setup_fail(fd, "sethostname");
	ensure_dir("/proc", 0555);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		setup_fail(fd, "mount /proc");
	make_dev(fd);
	struct stat st;
	if (lstat("/sys", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		setup_fail(fd, "mount /sys read-only");
	if (pl->net_none)
		loopback_up(fd);
	if (dup2(pl->null_fd, 0) < 0 || dup2(pl->log_fd, 1) < 0 || dup2(pl->log_fd, 2) < 0)
		setup_fail(fd, "redirect stdin, stdout and stderr");
	execve(pl->init_argv[0], pl->init_argv, envp);
	snprintf(what, sizeof(what), "run init %s", pl->init_argv[0]);
	setup_fail(fd, what);
}

/*
 * In the helper child: a new PID namespace for its next child, the
 * container's init, whose pid and start time it reports before exiting.
 * The other namespaces are the init's own (a pivot_root in a mount
 * namespace the helper shared would move the helper's root too).
 */
static _Noreturn void helper_main(const struct start_plan *pl, int fd)
{
	if (unshare(CLONE_NEWPID) < 0)
		setup_fail(fd, "create a PID namespace (unshare)");
	pid_t pid = fork();
	if (pid < 0)
		setup_fail(fd, "fork the container's init");
	if (pid == 0)
		container_main(pl, fd);
	/* Until we exit, the init is our child: its /proc entry outlives even an early death. */
	struct proc_info info;
	char line[128];
	if (proc_info(pid, &info) != 0) {
		kill(pid, SIGKILL);
		errno = ESRCH;
		setup_fail(fd, "read the start time of the container's init");
	}
	int n = snprintf(line, sizeof(line), "pid %d %llu\n", (int)pid, info.starttime);
	ssize_t w = write(fd, line, (size_t)n);
	(void)w;
	_exit(0);
}

/* ---- The built-in runtime: the starter's side ------------------------------- */

static int open_log(const struct ct *ct)
{
	struct stat st;
	if (fstatat(ct->dirfd, CT_LOG_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_size > RUNTIME_LOG_ROTATE)
		renameat(ct->dirfd, CT_LOG_FILE, ct->dirfd, CT_LOG_FILE ".old");
	int fd = openat(ct->dirfd, CT_LOG_FILE,
			O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return err_set_errno("%s/%s", ct->dir, CT_LOG_FILE);
	return fd;
}

/* Sorts mounts by mount point, so a parent is mounted before what lies beneath it. */
static void sort_mounts(struct start_plan *pl)
{
	for (size_t i = 1; i < pl->n_mounts; i++)
		for (size_t j = i;
		     j > 0 && strcmp(pl->mounts[j - 1].mountpoint, pl->mounts[j].mountpoint) > 0;
		     j--) {
			__typeof__(pl->mounts[0]) t = pl->mounts[j];
			pl->mounts[j] = pl->mounts[j - 1];
			pl->mounts[j - 1] = t;
		}
}

static int plan_build(const struct ct *ct, const struct ct_config *c, struct start_plan *pl)
{
	struct stat st;
	char name[CT_REF_MAX + 1];
	memset(pl, 0, sizeof(*pl));
	pl->log_fd = pl->null_fd = -1;
	if (ct_dataset_tree(ct, CT_DATASET_ROOT, pl->rootfs, sizeof(pl->rootfs)) < 0)
		return -1;
	if (lstat(pl->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set("container %s has no root file system yet (%s)", ct_name(ct, name),
			       pl->rootfs);
	snprintf(pl->hostname, sizeof(pl->hostname), "%s", ct_config_hostname(c, &ct->ref));
	if (proc_split(c->init, pl->init_words, sizeof(pl->init_words), pl->init_argv,
		       PROC_ARGS_MAX) < 0)
		return err_prefix("init");
	pl->net_none = c->network == CT_NET_NONE;
	for (size_t i = 0; i < c->n_datasets; i++) {
		if (ct_dataset_tree(ct, c->datasets[i].name, pl->mounts[i].src,
				    sizeof(pl->mounts[i].src)) < 0)
			return -1;
		if (lstat(pl->mounts[i].src, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set("dataset %s of %s has no tree yet (%s)", c->datasets[i].name,
				       ct_name(ct, name), pl->mounts[i].src);
		strcpy(pl->mounts[i].mountpoint, c->datasets[i].mountpoint);
		strcpy(pl->mounts[i].dataset, c->datasets[i].name);
	}
	pl->n_mounts = c->n_datasets;
	sort_mounts(pl);
	return 0;
}

/* Reads the start report until every writer is gone (init executed, or a failure). */
static int read_report(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long left =
			RUNTIME_SETUP_TIMEOUT * 1000LL -
			((now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return err_set("the container's set-up did not finish within %d s",
				       RUNTIME_SETUP_TIMEOUT);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno("poll");
		}
		if (r == 0)
			continue;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno("read the start report");
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len >= cap - 1)
			break;
	}
	buf[len] = 0;
	return 0;
}

static int start_builtin(struct ct *ct, const struct ct_config *c)
{
	char name[CT_REF_MAX + 1], report[REPORT_MAX];
	int fds[2] = {-1, -1}, r = -1;
	pid_t helper = -1, pid = 0;
	unsigned long long starttime = 0;
	const char *failure = NULL;

	ct_name(ct, name);
	if (c->stop_cmd[0] || c->status_cmd[0])
		return err_set("container %s: stop_cmd or status_cmd is set but start_cmd is not",
			       name);
	struct start_plan *pl = malloc(sizeof(*pl));
	if (!pl)
		return err_set("out of memory");
	if (plan_build(ct, c, pl) < 0)
		goto out;
	pl->log_fd = open_log(ct);
	if (pl->log_fd < 0)
		goto out;
	pl->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (pl->null_fd < 0) {
		err_set_errno("/dev/null");
		goto out;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err_set_errno("pipe");
		goto out;
	}
	helper = fork();
	if (helper < 0) {
		err_set_errno("fork");
		goto out;
	}
	if (helper == 0) {
		close(fds[0]);
		helper_main(pl, fds[1]);
	}
	close(fds[1]);
	fds[1] = -1;
	int rr = read_report(fds[0], report, sizeof(report));
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	for (char *line = report; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		char *sp = strncmp(line, "pid ", 4) ? NULL : strchr(line + 4, ' ');
		if (sp) { /* "pid PID STARTTIME", as helper_main writes it */
			uint64_t p, st;
			*sp = 0;
			if (parse_uint(line + 4, 1, INT_MAX, &p) == 0 &&
			    parse_uint(sp + 1, 0, UINT64_MAX, &st) == 0) {
				pid = (pid_t)p;
				starttime = st;
			}
		} else if (!strncmp(line, "error ", 6) && !failure) {
			failure = line + 6;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (rr < 0 || failure || pid <= 0) {
		if (pid > 0)
			kill(pid,
			     SIGKILL); /* a set-up that hangs or half-failed must not live on */
		if (failure)
			err_set("%s", failure);
		else if (rr == 0)
			err_set("the container's set-up ended without a report");
		err_prefix("start %s", name);
		goto out;
	}
	struct ct_run run = {0, pid, starttime, (long long)time(NULL)};
	if (ct_run_save(ct, &run) < 0) {
		kill(pid, SIGKILL);
		err_prefix("start %s (stopped it again)", name);
		goto out;
	}
	r = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (pl->log_fd >= 0)
		close(pl->log_fd);
	if (pl->null_fd >= 0)
		close(pl->null_fd);
	free(pl);
	return r;
}

static int start_external(struct ct *ct, const struct ct_config *c)
{
	char name[CT_REF_MAX + 1], out[RUNTIME_CMD_OUTPUT_MAX];
	int status;
	ct_name(ct, name);
	if (run_cmd(ct, c, "start_cmd", c->start_cmd, (int)c->start_timeout, out, sizeof(out),
		    &status) < 0)
		return err_prefix("start %s", name);
	if (proc_status_check("start_cmd", status) < 0)
		return err_prefix("start %s", name);
	struct ct_run run = {1, reported_pid(out), 0, (long long)time(NULL)};
	if (run.pid > 0) {
		struct proc_info info;
		if (proc_info(run.pid, &info) == 0)
			run.starttime = info.starttime;
		else
			run.pid = 0; /* already gone, or not a pid of ours to watch */
	}
	return ct_run_save(ct, &run);
}

int runtime_start(struct ct *ct, const struct ct_config *c)
{
	char name[CT_REF_MAX + 1];
	struct runtime_status st;
	ct_name(ct, name);
	if (ct->lock != CT_LOCK_EXCLUSIVE)
		return err_set("start %s: not locked for writing", name);
	if (runtime_status(ct, c, &st) < 0)
		return err_prefix("start %s", name);
	if (st.staged)
		return err_set("container %s is staged: a migration holds it (not yet transferred "
			       "to this node, or transferred away from it; see 'ferry migrate "
			       "status'): it cannot start here",
			       name);
	if (st.running) {
		if (st.pid)
			return err_set("container %s is already running (pid %d)", name,
				       (int)st.pid);
		return err_set("container %s is already running", name);
	}
	return st.external ? start_external(ct, c) : start_builtin(ct, c);
}

/* ---- Stopping ----------------------------------------------------------- */

/* Signals PID (checked against STARTTIME); 0 sent, 1 it was gone already, -1 error. */
static int signal_pid(int pidfd, pid_t pid, int sig)
{
	long r = pidfd >= 0 ? syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) : kill(pid, sig);
	if (r == 0)
		return 0;
	if (errno == ESRCH)
		return 1;
	return err_set_errno("signal pid %d", (int)pid);
}

/* Waits up to TIMEOUT_MS for PID to exit: 0 gone, 1 still there, -1 error. */
static int wait_gone(int pidfd, pid_t pid, unsigned long long starttime, int timeout_ms)
{
	if (pidfd >= 0)
		return proc_pidfd_wait(pidfd, timeout_ms);
	for (int waited = 0;; waited += 50) {
		int alive = proc_alive(pid, starttime);
		if (alive <= 0)
			return alive < 0 ? -1 : 0;
		if (waited >= timeout_ms)
			return 1;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* SIGTERM, TIMEOUT_S seconds, SIGKILL, until PID (with STARTTIME) is gone. 0 or -1. */
static int stop_pid(const char *name, pid_t pid, unsigned long long starttime, int timeout_s)
{
	int pidfd = proc_pidfd_open(pid);
	int r = -1;
	/* The pidfd pins the process; checking the start time after opening it rules out reuse. */
	int alive = proc_alive(pid, starttime);
	if (alive <= 0) {
		if (pidfd >= 0)
			close(pidfd);
		return alive < 0 ? -1 : 0;
	}
	int s = signal_pid(pidfd, pid, SIGTERM);
	if (s < 0)
		goto out;
	if (s == 0) {
		int w = wait_gone(pidfd, pid, starttime, timeout_s * 1000);
		if (w < 0)
			goto out;
		if (w == 1) {
			s = signal_pid(pidfd, pid, SIGKILL);
			if (s < 0)
				goto out;
			w = wait_gone(pidfd, pid, starttime, RUNTIME_KILL_GRACE * 1000);
			if (w < 0)
				goto out;
			if (w == 1) {
				err_set("%s: pid %d still there %d s after SIGKILL", name, (int)pid,
					RUNTIME_KILL_GRACE);
				goto out;
			}
		}
	}
	r = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	return r;
}

int runtime_stop(struct ct *ct, const struct ct_config *c, int timeout_s, int *was_running)
{
	char name[CT_REF_MAX + 1];
	struct runtime_status st;
	struct ct_run run;
	ct_name(ct, name);
	if (was_running)
		*was_running = 0;
	if (ct->lock != CT_LOCK_EXCLUSIVE)
		return err_set("stop %s: not locked for writing", name);
	if (timeout_s < 0)
		timeout_s = (int)c->stop_timeout;
	if (runtime_status(ct, c, &st) < 0)
		return err_prefix("stop %s", name);
	if (!st.running)
		return ct_run_clear(ct); /* a stale record must not linger */
	if (was_running)
		*was_running = 1;
	if (ct_run_load(ct, &run) != 0)
		memset(&run, 0, sizeof(run));
	if (st.external && c->stop_cmd[0]) {
		int status;
		if (run_cmd(ct, c, "stop_cmd", c->stop_cmd, timeout_s + RUNTIME_STOP_CMD_EXTRA,
			    NULL, 0, &status) < 0 ||
		    proc_status_check("stop_cmd", status) < 0)
			return err_prefix("stop %s", name);
		if (c->status_cmd[0]) {
			if (runtime_status(ct, c, &st) < 0)
				return err_prefix("stop %s", name);
			if (st.running)
				return err_set("stop %s: stop_cmd succeeded but status_cmd still "
					       "says running",
					       name);
		}
	} else if (st.pid > 0) {
		if (stop_pid(name, st.pid, run.starttime, timeout_s) < 0)
			return err_prefix("stop %s", name);
	} else {
		return err_set("stop %s: no stop_cmd and no pid to signal", name);
	}
	return ct_run_clear(ct);
}

int runtime_delete(struct ct *ct, const struct ct_config *c)
{
	char name[CT_REF_MAX + 1];
	struct runtime_status st;
	ct_name(ct, name);
	if (runtime_status(ct, c, &st) < 0)
		return err_prefix("delete %s", name);
	if (st.running)
		return err_set("container %s is running: stop it first", name);
	return ct_remove(ct);
}
