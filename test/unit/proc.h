/* Unit-test helpers for running independent tools (openssl, curl) without a shell, and temp files. */
#ifndef FERRY_TEST_PROC_H
#define FERRY_TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Starts ARGV (searched in PATH). With IN_FD/OUT_FD not NULL, the child's
 * stdin/stdout are pipes whose other ends come back there; else /dev/null
 * (stdin) and our stderr (stdout). The child's stderr is ours. Returns the
 * pid or -1.
 */
static __attribute__((unused)) pid_t proc_spawn(char *const argv[], int *in_fd, int *out_fd)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1};
	if ((in_fd && pipe2(pin, O_CLOEXEC) < 0) || (out_fd && pipe2(pout, O_CLOEXEC) < 0))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(in_fd ? pin[0] : devnull, 0);
		dup2(out_fd ? pout[1] : 2, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (in_fd) {
		close(pin[0]);
		*in_fd = pin[1];
	}
	if (out_fd) {
		close(pout[1]);
		*out_fd = pout[0];
	}
	return pid;
}

/* Waits for PID; returns its exit status, 128 + signal if killed, or -1. */
static __attribute__((unused)) int proc_wait(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Reads FD to its end into OUT (CAP bytes, NUL-terminated; the rest is dropped) and closes it. */
static __attribute__((unused)) size_t proc_slurp(int fd, char *out, size_t cap)
{
	size_t len = 0;
	char sink[4096];
	for (;;) {
		ssize_t r;
		if (len + 1 < cap)
			r = read(fd, out + len, cap - 1 - len);
		else
			r = read(fd, sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (len + 1 < cap)
			len += (size_t)r;
	}
	close(fd);
	if (cap)
		out[len] = 0;
	return len;
}

/*
 * Runs ARGV with IN (may be NULL: empty stdin) on its stdin and its stdout
 * in OUT (CAP bytes, may be NULL to discard). Returns the exit status.
 */
static __attribute__((unused)) int proc_run(char *const argv[], const char *in, char *out,
					    size_t cap)
{
	int ifd, ofd;
	char sink[16];
	pid_t pid = proc_spawn(argv, &ifd, &ofd);
	if (pid < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	if (in && write(ifd, in, strlen(in)) < 0)
		perror("write to child");
	close(ifd);
	if (out)
		proc_slurp(ofd, out, cap);
	else
		proc_slurp(ofd, sink, sizeof(sink));
	return proc_wait(pid);
}

/* Writes DATA[0..LEN) to PATH (created or truncated, mode 0600). 0 or -1. */
static __attribute__((unused)) int proc_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int ok = write(fd, data, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

/* Removes the directory DIR and the plain files in it. */
static __attribute__((unused)) void proc_rm_dir(const char *dir)
{
	char *argv[] = {"rm", "-rf", (char *)dir, NULL};
	proc_run(argv, NULL, NULL, 0);
}

#endif
