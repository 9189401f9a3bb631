/* Test helper for C unit tests: run a program (no shell) with given stdin, capture its stdout. */
#ifndef FERRY_TEST_SPAWN_H
#define FERRY_TEST_SPAWN_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Runs ARGV (ARGV[0] a full path) with IN[0..IN_LEN) on its stdin and
 * collects at most OUT_CAP-1 bytes of its stdout into OUT (NUL-terminated).
 * Its stderr goes to ours. Returns the exit status (0-255), or -1 if it
 * could not run or died from a signal.
 */
static __attribute__((unused)) int spawn_capture(char *const argv[], const void *in, size_t in_len,
						 char *out, size_t out_cap)
{
	int pin[2], pout[2];
	if (pipe2(pin, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(pout, O_CLOEXEC) < 0) {
		close(pin[0]);
		close(pin[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		extern char **environ;
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	signal(SIGPIPE, SIG_IGN);
	size_t done_in = 0, got = 0;
	int in_open = 1;
	if (in_len == 0) {
		close(pin[1]);
		in_open = 0;
	}
	for (;;) {
		struct pollfd fds[2] = {{pout[0], POLLIN, 0}, {in_open ? pin[1] : -1, POLLOUT, 0}};
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (in_open && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(pin[1], (const char *)in + done_in, in_len - done_in);
			if (w > 0)
				done_in += (size_t)w;
			if (w < 0 || done_in == in_len) {
				close(pin[1]);
				in_open = 0;
			}
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char tmp[4096];
			ssize_t r = read(pout[0], tmp, sizeof(tmp));
			if (r <= 0)
				break;
			size_t k = (size_t)r;
			if (got + k > out_cap - 1)
				k = out_cap - 1 - got;
			memcpy(out + got, tmp, k);
			got += k;
		}
	}
	if (in_open)
		close(pin[1]);
	close(pout[0]);
	out[got] = 0;
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Starts ARGV (ARGV[0] a full path) with stdin from /dev/null and returns
 * its pid; *OUT_FD gets the read end of its stdout. -1 on failure.
 */
static __attribute__((unused)) pid_t spawn_start(char *const argv[], int *out_fd)
{
	int pout[2];
	if (pipe2(pout, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(pout[1], 1);
		extern char **environ;
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(pout[1]);
	*out_fd = pout[0];
	return pid;
}

/* Reads one line (without its newline) from FD into BUF (CAP bytes). 0, or -1 at end of input. */
static __attribute__((unused)) int spawn_read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

/* Ends a process started by spawn_start (SIGTERM, then waits). Returns its wait status. */
static __attribute__((unused)) int spawn_stop(pid_t pid)
{
	int st = 0;
	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

#endif
