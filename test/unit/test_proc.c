/* Unit tests of core/proc: spawning without a shell, redirections, timed waits, /proc/PID/stat. */
#define CHECK_SUITE "proc"
#include "test/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/io.h"
#include "core/proc.h"

/* Reads everything from FD into BUF (NUL-terminated). */
static size_t slurp(int fd, char *buf, size_t cap)
{
	ssize_t n = io_read_full(fd, buf, cap - 1);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	return (size_t)n;
}

static void test_spawn_pipes_both_ways(void)
{
	char *const argv[] = {"tr", "a-z", "A-Z", NULL};
	struct proc_opts o;
	struct proc p;
	char buf[64];
	proc_opts_init(&o, argv);
	o.fd_in = PROC_PIPE;
	o.fd_out = PROC_PIPE;
	CHECK_INT(proc_spawn(&p, &o), 0);
	CHECK(p.in >= 0 && p.out >= 0 && p.err == -1);
	CHECK_INT(io_write_str(p.in, "hello ferry\n"), 0);
	close(p.in);
	p.in = -1;
	slurp(p.out, buf, sizeof(buf));
	CHECK_STR(buf, "HELLO FERRY\n");
	CHECK_INT(proc_wait(&p, -1), 0);
	CHECK(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0);
	CHECK_INT(proc_wait(&p, -1), 0); /* again: still 0, no second waitpid */
	proc_close(&p);
}

static void test_spawn_missing_program_is_an_error(void)
{
	char *const argv[] = {"/nonexistent/prog", NULL};
	char *const bare[] = {"no-such-program-ferry-test", NULL};
	struct proc_opts o;
	struct proc p;
	proc_opts_init(&o, argv);
	CHECK_INT(proc_spawn(&p, &o), -1);
	CHECK(strstr(err_msg(), "/nonexistent/prog") && strstr(err_msg(), "No such file"));
	proc_opts_init(&o, bare);
	CHECK_INT(proc_spawn(&p, &o), -1);
	CHECK_STR(err_msg(), "no-such-program-ferry-test: not found in PATH");
}

static void test_spawn_bad_dir_is_an_error(void)
{
	char *const argv[] = {"true", NULL};
	struct proc_opts o;
	struct proc p;
	proc_opts_init(&o, argv);
	o.dir = "/nonexistent-dir";
	CHECK_INT(proc_spawn(&p, &o), -1);
	CHECK(strstr(err_msg(), "chdir for /nonexistent-dir") != NULL);
}

static void test_exit_status_and_signals(void)
{
	char *const argv[] = {"sh", "-c", "exit 3", NULL};
	char *const killed[] = {"sh", "-c", "kill -9 $$", NULL};
	struct proc_opts o;
	int status;
	char buf[96];
	proc_opts_init(&o, argv);
	CHECK_INT(proc_run(&o, -1, NULL, 0, NULL, &status), 0);
	CHECK_STR(proc_status_str(status, buf, sizeof(buf)), "exited with status 3");
	CHECK_INT(proc_status_check("sh", status), -1);
	CHECK_STR(err_msg(), "sh exited with status 3");
	proc_opts_init(&o, killed);
	CHECK_INT(proc_run(&o, -1, NULL, 0, NULL, &status), 0);
	CHECK(strncmp(proc_status_str(status, buf, sizeof(buf)), "killed by signal 9", 18) == 0);
	CHECK_INT(proc_status_check("sh", 0), 0);
}

static void test_run_captures_bounded_output(void)
{
	char *const argv[] = {"sh", "-c", "echo pid=42; yes x | head -c 100000; echo done >&2",
			      NULL};
	struct proc_opts o;
	char out[16];
	size_t len = 99;
	int status;
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	proc_opts_init(&o, argv);
	o.fd_err = devnull;
	CHECK_INT(proc_run(&o, 20000, out, sizeof(out), &len, &status), 0);
	CHECK_INT(len, 15); /* the rest was read and dropped: the child did not block */
	CHECK_STR(out, "pid=42\nx\nx\nx\nx\n");
	CHECK_INT(proc_status_check("sh", status), 0);
	close(devnull);
}

static void test_run_times_out_and_kills(void)
{
	char *const argv[] = {"sleep", "30", NULL};
	struct proc_opts o;
	int status = -7;
	proc_opts_init(&o, argv);
	CHECK_INT(proc_run(&o, 100, NULL, 0, NULL, &status), -1);
	CHECK(strstr(err_msg(), "sleep did not finish within 100 ms") != NULL);
	CHECK_INT(status, -7);
}

static void test_run_does_not_wait_for_a_daemon_holding_stdout(void)
{
	/* The child exits at once; its background grandchild keeps the pipe open for 30 s. */
	char *const argv[] = {"sh", "-c", "echo ok; sleep 30 & exit 0", NULL};
	struct proc_opts o;
	char out[64];
	int status;
	proc_opts_init(&o, argv);
	CHECK_INT(proc_run(&o, 20000, out, sizeof(out), NULL, &status), 0);
	CHECK_STR(out, "ok\n");
}

static void test_wait_timeout_then_kill(void)
{
	char *const argv[] = {"sleep", "30", NULL};
	struct proc_opts o;
	struct proc p;
	proc_opts_init(&o, argv);
	CHECK_INT(proc_spawn(&p, &o), 0);
	CHECK_INT(proc_wait(&p, 50), 1);
	CHECK_INT(proc_kill(&p, SIGTERM), 0);
	CHECK_INT(proc_wait(&p, 20000), 0);
	CHECK(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGTERM);
	proc_close(&p);
}

static void test_child_gets_default_signals_and_no_stray_fds(void)
{
	/* We ignore SIGPIPE and block SIGUSR1, and hold a descriptor without O_CLOEXEC. */
	char *const argv[] = {
		"sh", "-c", "grep -E '^(SigIgn|SigBlk)' /proc/self/status; ls /proc/self/fd", NULL};
	struct proc_opts o;
	char out[512];
	int status;
	sigset_t set, old;
	void (*prev)(int) = signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	int nul = open("/dev/null", O_RDONLY);
	int stray = fcntl(nul, F_DUPFD, 50); /* no O_CLOEXEC on purpose */
	close(nul);
	proc_opts_init(&o, argv);
	o.fd_in = PROC_NULL;
	CHECK_INT(proc_run(&o, 20000, out, sizeof(out), NULL, &status), 0);
	/* grep runs in a child of sh, which inherited sh's dispositions: none ignored, none blocked. */
	CHECK(strstr(out, "SigIgn:\t0000000000000000") != NULL);
	CHECK(strstr(out, "SigBlk:\t0000000000000000") != NULL);
	char want[16];
	snprintf(want, sizeof(want), "\n%d\n", stray);
	CHECK(stray >= 50 && strstr(out, want) == NULL);
	if (check_failed_now)
		fprintf(stderr, "    child said:\n%s\n", out);
	close(stray);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, prev);
}

static void test_redirect_to_given_fds_even_crossed(void)
{
	/* stdout to the pipe's write end given as fd_err, stderr to it given as fd_out: no clobbering. */
	char *const argv[] = {"sh", "-c", "echo out; echo err >&2", NULL};
	struct proc_opts o;
	int fds[2], status;
	char buf[64];
	CHECK_INT(pipe2(fds, O_CLOEXEC), 0);
	proc_opts_init(&o, argv);
	o.fd_out = fds[1];
	o.fd_err = fds[1];
	CHECK_INT(proc_run(&o, 20000, NULL, 0, NULL, &status), 0);
	close(fds[1]);
	slurp(fds[0], buf, sizeof(buf));
	CHECK_STR(buf, "out\nerr\n");
	close(fds[0]);
}

static void test_split(void)
{
	char buf[64], *argv[4];
	CHECK_INT(proc_split("  /bin/echo \t a  b ", buf, sizeof(buf), argv, 4), 3);
	CHECK_STR(argv[0], "/bin/echo");
	CHECK_STR(argv[1], "a");
	CHECK_STR(argv[2], "b");
	CHECK(argv[3] == NULL);
	CHECK_INT(proc_split("a b c d", buf, sizeof(buf), argv, 4), -1);
	CHECK(strstr(err_msg(), "too many words") != NULL);
	CHECK_INT(proc_split("   ", buf, sizeof(buf), argv, 4), -1);
	CHECK_STR(err_msg(), "empty command");
	CHECK_INT(proc_split("a\nb", buf, sizeof(buf), argv, 4), -1);
	CHECK_INT(proc_split("abcdefgh", buf, 8, argv, 4), -1);
	CHECK_INT(proc_split("abcdefg", buf, 8, argv, 4), 1);
	/* Shell syntax means nothing. */
	CHECK_INT(proc_split("'a b' $(id);x", buf, sizeof(buf), argv, 4), 3);
	CHECK_STR(argv[0], "'a");
	CHECK_STR(argv[2], "$(id);x");
}

static void test_find(void)
{
	char buf[PROC_PATH_MAX];
	CHECK_INT(proc_find("sh", buf, sizeof(buf)), 0);
	CHECK(buf[0] == '/' && access(buf, X_OK) == 0);
	CHECK_INT(proc_find("./relative", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "./relative");
	CHECK_INT(proc_find("", buf, sizeof(buf)), -1);
	CHECK_INT(proc_find("sh", buf, 3), -1);
}

static void test_info_and_alive(void)
{
	struct proc_info me, gone;
	CHECK_INT(proc_info(getpid(), &me), 0);
	CHECK(me.state == 'R');
	CHECK_INT(me.ppid, getppid());
	CHECK(me.starttime > 0);
	CHECK_INT(proc_alive(getpid(), me.starttime), 1);
	CHECK_INT(proc_alive(getpid(), me.starttime + 1), 0); /* a recycled pid */
	CHECK_INT(proc_alive(0, 0), 0);
	CHECK_INT(proc_info(0x3ffffff, &gone), 1);

	/* A zombie is not alive. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	struct proc_info z;
	for (int i = 0; i < 2000; i++) {
		if (proc_info(pid, &z) == 0 && z.state == 'Z')
			break;
		usleep(1000);
	}
	CHECK(z.state == 'Z');
	CHECK_INT(proc_alive(pid, z.starttime), 0);
	waitpid(pid, NULL, 0);
	CHECK_INT(proc_alive(pid, z.starttime), 0);
}

int main(void)
{
	RUN(test_spawn_pipes_both_ways);
	RUN(test_spawn_missing_program_is_an_error);
	RUN(test_spawn_bad_dir_is_an_error);
	RUN(test_exit_status_and_signals);
	RUN(test_run_captures_bounded_output);
	RUN(test_run_times_out_and_kills);
	RUN(test_run_does_not_wait_for_a_daemon_holding_stdout);
	RUN(test_wait_timeout_then_kill);
	RUN(test_child_gets_default_signals_and_no_stray_fds);
	RUN(test_redirect_to_given_fds_even_crossed);
	RUN(test_split);
	RUN(test_find);
	RUN(test_info_and_alive);
	return CHECK_DONE();
}
