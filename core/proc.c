/* Child processes without a shell: fork + execve with an argument vector, redirections, timed waits. */
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/io.h"

extern char **environ;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define PROC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Poll interval when the kernel has no pidfd_open. */
#define PROC_POLL_MS 10

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until DEADLINE (-1: none), never negative. */
static int ms_left(long long deadline)
{
	if (deadline < 0)
		return -1;
	long long left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > 1000000000 ? 1000000000 : (int)left;
}

void proc_opts_init(struct proc_opts *o, char *const *argv)
{
	memset(o, 0, sizeof(*o));
	o->argv = argv;
	o->fd_in = o->fd_out = o->fd_err = PROC_INHERIT;
}

int proc_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int proc_pidfd_wait(int pidfd, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		int r = poll(&pfd, 1, ms_left(deadline));
		if (r > 0)
			return 0;
		if (r == 0)
			return 1;
		if (errno != EINTR)
			return err_set_errno("poll pidfd");
	}
}

/* The kernel's struct sigaction (x86-64 and the generic layout): libc refuses its reserved signals. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

void proc_child_reset(int first)
{
	/* Raw rt_sigaction, so even signals libc keeps for itself (32, 33...) are reset. */
	struct kernel_sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.handler = SIG_DFL;
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask));
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	struct rlimit rl;
	int max = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	for (int fd = first; fd < max; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int proc_find(const char *name, char *buf, size_t cap)
{
	if (!name || !*name)
		return err_set("empty program name");
	if (strchr(name, '/')) {
		if (strlen(name) >= cap)
			return err_set("program path too long: %s", name);
		strcpy(buf, name);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = PROC_DEFAULT_PATH;
	for (const char *p = path; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0) { /* an empty entry would mean the current directory: not searched */
			int w = snprintf(buf, cap, "%.*s/%s", (int)n, p, name);
			struct stat st;
			if (w > 0 && (size_t)w < cap && stat(buf, &st) == 0 &&
			    S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
				return 0;
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return err_set("%s: not found in PATH", name);
}

int proc_split(const char *line, char *buf, size_t cap, char **argv, size_t max)
{
	size_t n = 0, w = 0;
	const char *p = line;
	if (max < 2)
		return err_set("no room for arguments");
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n + 1 >= max)
			return err_set("too many words (at most %zu)", max - 1);
		argv[n++] = buf + w;
		while (*p && *p != ' ' && *p != '\t') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return err_set("control character in command");
			if (w + 1 >= cap)
				return err_set("command too long");
			buf[w++] = *p++;
		}
		if (w >= cap)
			return err_set("command too long");
		buf[w++] = 0;
	}
	argv[n] = NULL;
	if (n == 0)
		return err_set("empty command");
	return (int)n;
}

/* What a failed child reports through its close-on-exec pipe. */
struct spawn_failure {
	int step; /* 0 exec, 1 chdir, 2 setting up descriptors */
	int err;
};

static void child_fail(int fd, int step)
{
	struct spawn_failure f = {step, errno};
	ssize_t w = write(fd, &f, sizeof(f));
	(void)w;
	_exit(127);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int proc_spawn(struct proc *p, const struct proc_opts *o)
{
	char path[PROC_PATH_MAX];
	int spec[3] = {o->fd_in, o->fd_out, o->fd_err};
	int child_end[3] = {-1, -1, -1}, parent_end[3] = {-1, -1, -1};
	int devnull = -1, report[2] = {-1, -1};
	const char *base;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->in = p->out = p->err = p->pidfd = -1;
	if (!o->argv || !o->argv[0])
		return err_set("no program to run");
	base = strrchr(o->argv[0], '/');
	snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : o->argv[0]);
	if (proc_find(o->argv[0], path, sizeof(path)) < 0)
		return -1;

	for (int i = 0; i < 3; i++) {
		if (spec[i] == PROC_PIPE) {
			int fds[2];
			if (pipe2(fds, O_CLOEXEC) < 0) {
				err_set_errno("pipe");
				goto fail;
			}
			child_end[i] = i == 0 ? fds[0] : fds[1];
			parent_end[i] = i == 0 ? fds[1] : fds[0];
		} else if (spec[i] == PROC_NULL && devnull < 0) {
			devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (devnull < 0) {
				err_set_errno("/dev/null");
				goto fail;
			}
		} else if (spec[i] < 0 && spec[i] != PROC_INHERIT && spec[i] != PROC_NULL) {
			err_set("bad descriptor %d for the child", spec[i]);
			goto fail;
		}
	}
	if (pipe2(report, O_CLOEXEC) < 0) {
		err_set_errno("pipe");
		goto fail;
	}

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		err_set_errno("fork for %s", p->name);
		goto fail;
	}
	if (pid == 0) {
		int src[3];
		for (int i = 0; i < 3; i++) {
			int from = spec[i] == PROC_PIPE	  ? child_end[i]
				   : spec[i] == PROC_NULL ? devnull
							  : spec[i];
			/* Move every source above 2 first, so no dup2 below clobbers another source. */
			src[i] = from >= 0 ? fcntl(from, F_DUPFD_CLOEXEC, 3) : -1;
			if (from >= 0 && src[i] < 0)
				child_fail(report[1], 2);
		}
		for (int i = 0; i < 3; i++)
			if (src[i] >= 0 && dup2(src[i], i) < 0)
				child_fail(report[1], 2);
		if (o->new_session)
			setsid();
		if (o->death_signal &&
		    (prctl(PR_SET_PDEATHSIG, o->death_signal) < 0 || getppid() != parent))
			child_fail(report[1], 2); /* the parent is gone already */
		if (o->dir && chdir(o->dir) < 0)
			child_fail(report[1], 1);
		proc_child_reset(3);
		execve(path, o->argv, o->envp ? o->envp : environ);
		child_fail(report[1], 0);
	}

	close_fd(&report[1]);
	for (int i = 0; i < 3; i++)
		close_fd(&child_end[i]);
	close_fd(&devnull);
	struct spawn_failure f;
	ssize_t n;
	do
		n = read(report[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close_fd(&report[0]);
	if (n != 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		for (int i = 0; i < 3; i++)
			close_fd(&parent_end[i]);
		if (n != (ssize_t)sizeof(f))
			return err_set("start %s: lost the child's report", path);
		errno = f.err;
		return err_set_errno("%s %s",
				     f.step == 0   ? "run"
				     : f.step == 1 ? "chdir for"
						   : "set up",
				     f.step == 1 ? o->dir : path);
	}
	p->pid = pid;
	p->in = parent_end[0];
	p->out = parent_end[1];
	p->err = parent_end[2];
	p->pidfd = proc_pidfd_open(pid);
	if (p->pidfd >= 0)
		fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
	return 0;

fail:
	for (int i = 0; i < 3; i++) {
		close_fd(&child_end[i]);
		close_fd(&parent_end[i]);
	}
	close_fd(&devnull);
	close_fd(&report[0]);
	close_fd(&report[1]);
	return -1;
}

/* Reaps P without blocking: 0 reaped, 1 still running, -1 error. */
static int reap_now(struct proc *p)
{
	int st;
	pid_t r;
	do
		r = waitpid(p->pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_set_errno("wait for %s", p->name);
	if (r == 0)
		return 1;
	p->exited = 1;
	p->status = st;
	return 0;
}

int proc_wait(struct proc *p, int timeout_ms)
{
	if (p->exited)
		return 0;
	if (p->pid <= 0)
		return err_set("wait: no child");
	if (timeout_ms < 0) {
		int st;
		while (waitpid(p->pid, &st, 0) < 0)
			if (errno != EINTR)
				return err_set_errno("wait for %s", p->name);
		p->exited = 1;
		p->status = st;
		return 0;
	}
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		int r = reap_now(p);
		if (r <= 0)
			return r;
		int left = ms_left(deadline);
		if (left == 0)
			return 1;
		if (p->pidfd >= 0) {
			if (proc_pidfd_wait(p->pidfd, left) < 0)
				return -1;
		} else {
			struct timespec ts = {0, (left < PROC_POLL_MS ? left : PROC_POLL_MS) *
							 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

int proc_kill(struct proc *p, int sig)
{
	if (p->exited || p->pid <= 0)
		return 0;
	if (kill(p->pid, sig) < 0 && errno != ESRCH)
		return err_set_errno("signal %s", p->name);
	return 0;
}

void proc_close(struct proc *p)
{
	close_fd(&p->in);
	close_fd(&p->out);
	close_fd(&p->err);
	close_fd(&p->pidfd);
}

void proc_reap(struct proc *p)
{
	if (p->pid > 0 && !p->exited) {
		proc_kill(p, SIGKILL);
		proc_wait(p, -1);
	}
	proc_close(p);
}

const char *proc_status_str(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "stopped with wait status 0x%x", (unsigned)status);
	return buf;
}

int proc_status_check(const char *what, int status)
{
	char buf[96];
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return err_set("%s %s", what, proc_status_str(status, buf, sizeof(buf)));
}

int proc_run(const struct proc_opts *o, int timeout_ms, char *out, size_t cap, size_t *len,
	     int *status)
{
	struct proc_opts mine = *o;
	struct proc p;
	size_t kept = 0;
	char sink[4096];
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	if (o->fd_in == PROC_PIPE || o->fd_err == PROC_PIPE || (!out && o->fd_out == PROC_PIPE))
		return err_set("proc_run: PROC_PIPE needs proc_spawn");
	if (out) {
		if (cap == 0)
			return err_set("no room for output");
		mine.fd_out = PROC_PIPE;
		out[0] = 0;
	}
	if (proc_spawn(&p, &mine) < 0)
		return -1;
	if (p.out >= 0)
		fcntl(p.out, F_SETFL, O_NONBLOCK);
	for (;;) {
		if (reap_now(&p) < 0)
			goto fail;
		/* Read what the pipe holds; after the exit, only what is there (a daemon may keep it open). */
		while (p.out >= 0) {
			ssize_t r = read(p.out, kept + 1 < cap ? out + kept : sink,
					 kept + 1 < cap ? cap - 1 - kept : sizeof(sink));
			if (r > 0) {
				if (kept + 1 < cap)
					kept += (size_t)r;
				continue;
			}
			if (r == 0)
				close_fd(&p.out);
			else if (errno == EINTR)
				continue;
			else if (errno != EAGAIN) {
				err_set_errno("read output of %s", p.name);
				goto fail;
			}
			break;
		}
		if (p.exited)
			break;
		int left = ms_left(deadline);
		if (left == 0) {
			err_set("%s did not finish within %d ms; killed", p.name, timeout_ms);
			goto fail;
		}
		struct pollfd pfd[2];
		int nfd = 0;
		if (p.out >= 0)
			pfd[nfd++] = (struct pollfd){.fd = p.out, .events = POLLIN};
		if (p.pidfd >= 0)
			pfd[nfd++] = (struct pollfd){.fd = p.pidfd, .events = POLLIN};
		int wait = p.pidfd >= 0 ? left
					: (left < 0 || left > PROC_POLL_MS ? PROC_POLL_MS : left);
		if (poll(pfd, (nfds_t)nfd, wait) < 0 && errno != EINTR) {
			err_set_errno("poll");
			goto fail;
		}
	}
	if (out)
		out[kept] = 0;
	if (len)
		*len = kept;
	*status = p.status;
	proc_close(&p);
	return 0;
fail:
	proc_reap(&p);
	return -1;
}

int proc_info(pid_t pid, struct proc_info *info)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return 1;
		return err_set_errno("%s", path);
	}
	ssize_t n = io_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		if (errno == ESRCH)
			return 1; /* it went away while we read */
		return err_prefix("%s", path);
	}
	buf[n] = 0;
	/* "PID (COMM) STATE PPID ..." where COMM may hold spaces and parentheses: skip to the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return err_set("%s: cannot parse", path);
	p += 2;
	memset(info, 0, sizeof(*info));
	for (int field = 3; field <= 22; field++) {
		char *end;
		if (!*p)
			return err_set("%s: too few fields", path);
		if (field == 3) {
			info->state = *p;
		} else if (field == 4 || field == 22) {
			errno = 0;
			unsigned long long v = strtoull(p, &end, 10);
			if (errno || end == p || (*end != ' ' && *end != '\n' && *end))
				return err_set("%s: bad field %d", path, field);
			if (field == 4)
				info->ppid = (pid_t)v;
			else
				info->starttime = v;
		}
		p = strchr(p, ' ');
		if (!p) {
			if (field < 22)
				return err_set("%s: too few fields", path);
			break;
		}
		p++;
	}
	return 0;
}

int proc_alive(pid_t pid, unsigned long long starttime)
{
	struct proc_info info;
	if (pid <= 0)
		return 0;
	int r = proc_info(pid, &info);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (info.starttime != starttime)
		return 0; /* the pid was recycled */
	return info.state != 'Z' && info.state != 'X' && info.state != 'x';
}
