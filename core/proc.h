/* Child processes without a shell: fork + execve with an argument vector, redirections, timed waits. */
#ifndef FERRY_PROC_H
#define FERRY_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* What a child's stdin, stdout or stderr is (struct proc_opts); >= 0 is a descriptor to hand over. */
#define PROC_INHERIT (-1) /* the parent's own descriptor 0, 1 or 2 */
#define PROC_NULL    (-2) /* /dev/null */
#define PROC_PIPE    (-3) /* a pipe; the parent's end is in struct proc (in, out, err) */

/* Longest program path proc_find returns, and most arguments proc_split accepts. */
#define PROC_PATH_MAX 4096
#define PROC_ARGS_MAX 64

struct proc_opts {
	/* argv[0]: a path with a '/' (used as is) or a name searched in $PATH. Not NULL. */
	char *const *argv;
	/* The child's environment; NULL: the parent's (environ). */
	char *const *envp;
	/* Each PROC_INHERIT, PROC_NULL, PROC_PIPE or a descriptor the child gets as 0, 1, 2. */
	int fd_in, fd_out, fd_err;
	/* Working directory of the child, or NULL to keep the parent's. */
	const char *dir;
	/* Non-zero: the child calls setsid() (leaves the caller's terminal and process group). */
	int new_session;
	/*
	 * Non-zero: the child gets this signal when the thread that spawned it
	 * exits (prctl PR_SET_PDEATHSIG), so a helper cannot outlive a killed
	 * parent. Spawn such children from a thread that lives as long as they should.
	 */
	int death_signal;
};

/* Initialises O for ARGV with all three descriptors PROC_INHERIT. */
void proc_opts_init(struct proc_opts *o, char *const *argv);

/*
 * A started child. in/out/err are the parent's pipe ends for PROC_PIPE
 * (O_CLOEXEC; -1 otherwise); the caller reads/writes and closes them, or
 * lets proc_close do it. pidfd lets waits have a timeout (-1 on kernels
 * without pidfd_open: waits then poll). status is the wait status once
 * exited is set.
 */
struct proc {
	pid_t pid;
	int in, out, err;
	int pidfd;
	int exited;
	int status;
	char name[64]; /* basename of argv[0], for messages */
};

/*
 * Starts O->argv[0] with O->argv as its arguments. In the child: the three
 * descriptors as asked, every other descriptor closed at exec, all signal
 * dispositions back to default (ferry ignores SIGPIPE; a child must not
 * inherit that) and an empty signal mask. An exec failure (program missing,
 * not executable) is reported here, not as an exit status: -1 with err_set
 * naming the program. On success 0 and *P filled; the caller must later
 * proc_wait (to reap it) and proc_close.
 */
int proc_spawn(struct proc *p, const struct proc_opts *o);

/*
 * Waits for P to exit, at most TIMEOUT_MS milliseconds (< 0: no limit).
 * Returns 0 when it has exited (P->status holds the wait status; later
 * calls return 0 again), 1 when the time ran out (the child still runs),
 * -1 with err_set on error.
 */
int proc_wait(struct proc *p, int timeout_ms);

/* Sends SIG to P unless it was already reaped. 0 or -1 with err_set. */
int proc_kill(struct proc *p, int sig);

/*
 * Closes P's pipe ends and pidfd. Does not wait: call proc_wait first, or
 * proc_reap to kill and reap a child being abandoned.
 */
void proc_close(struct proc *p);

/* Kills P (SIGKILL) if it still runs, reaps it and closes it. For error paths. */
void proc_reap(struct proc *p);

/*
 * Describes a wait status: "exited with status N", "killed by signal N
 * (NAME)". Returns BUF (CAP bytes, always NUL-terminated).
 */
const char *proc_status_str(int status, char *buf, size_t cap);

/*
 * 0 if STATUS is a normal exit with status 0; otherwise -1 with err_set
 * "WHAT exited with status N" (or "killed by signal ...").
 */
int proc_status_check(const char *what, int status);

/*
 * Runs O to completion within TIMEOUT_MS (< 0: no limit). If OUT is not
 * NULL, the child's stdout is captured: at most CAP - 1 bytes are kept in
 * OUT (NUL-terminated; *LEN gets their count if LEN is not NULL), the rest
 * is read and dropped so the child never blocks; O->fd_out is ignored then.
 * A child still running at the deadline is killed (SIGKILL) and reaped, and
 * that is an error. PROC_PIPE is refused (use proc_spawn for pipes).
 * Returns 0 once the child exited (whatever its status,
 * stored in *STATUS), -1 with err_set if it could not be run or timed out.
 */
int proc_run(const struct proc_opts *o, int timeout_ms, char *out, size_t cap, size_t *len,
	     int *status);

/*
 * Finds NAME as execve would run it: a name containing '/' is taken as is;
 * otherwise the first executable regular file NAME in $PATH (default
 * "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"). Writes
 * the path to BUF (CAP bytes). 0 or -1 with err_set ("NAME: not found in
 * PATH").
 */
int proc_find(const char *name, char *buf, size_t cap);

/*
 * Splits LINE on blanks (spaces and tabs) into at most MAX - 1 words,
 * writing them NUL-terminated into BUF (CAP bytes) and pointers into ARGV
 * (MAX slots, NULL-terminated). No quoting, no escapes, no expansion: this
 * is not a shell. Returns the word count, or -1 with err_set if LINE has
 * no word, too many words, or does not fit.
 */
int proc_split(const char *line, char *buf, size_t cap, char **argv, size_t max);

/* What /proc/PID/stat says about a process. */
struct proc_info {
	char state;		      /* 'R', 'S', 'D', 'Z', ... */
	unsigned long long starttime; /* field 22: clock ticks after boot */
	pid_t ppid;
};

/*
 * Reads /proc/PID/stat. Returns 0, 1 if there is no such process, or -1
 * with err_set if it cannot be read or parsed.
 */
int proc_info(pid_t pid, struct proc_info *info);

/*
 * 1 if PID is a live (not zombie) process that started at STARTTIME (so a
 * recycled pid is not mistaken for it), 0 if not, -1 with err_set.
 */
int proc_alive(pid_t pid, unsigned long long starttime);

/*
 * For code that forks without proc_spawn (the container runtime): in the
 * child, sets every signal disposition back to default, empties the signal
 * mask, and marks every descriptor from FIRST on close-on-exec. Never fails
 * (best effort; the calls it makes cannot fail in a sane child).
 */
void proc_child_reset(int first);

/* pidfd_open(2) for PID: a descriptor, or -1 (errno set; ENOSYS on old kernels). */
int proc_pidfd_open(pid_t pid);

/*
 * Waits until the process behind PIDFD has exited (it need not be our
 * child), at most TIMEOUT_MS (< 0: no limit). 0 exited, 1 timed out, -1.
 */
int proc_pidfd_wait(int pidfd, int timeout_ms);

#endif
