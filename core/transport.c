/* SSH sessions to `ferry receive`: argv built here (no shell), a pump thread for the client's stdout and stderr. */
#include "core/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/io.h"
#include "core/knownhosts.h"
#include "core/migstate.h"
#include "core/node.h"

#define ENV_MAX		256
#define DROPBEAR_PROMPT "Do you want to continue connecting? (y/n) "

extern char **environ;

enum transport_kind transport_kind_of(const char *ssh)
{
	const char *base = ssh ? strrchr(ssh, '/') : NULL;
	base = base ? base + 1 : ssh ? ssh : "ssh";
	return strstr(base, "dbclient") ? TRANSPORT_DROPBEAR : TRANSPORT_OPENSSH;
}

/* Appends a string to BUF (at *OFF) and its pointer to ARGV (at *N). */
static int arg(char *buf, size_t cap, size_t *off, char **argv, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static int arg(char *buf, size_t cap, size_t *off, char **argv, size_t *n, const char *fmt, ...)
{
	va_list ap;
	if (*n + 1 >= TRANSPORT_ARGS_MAX)
		return err_set("too many arguments for the SSH client");
	va_start(ap, fmt);
	int len = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= cap - *off)
		return err_set("SSH client arguments too long");
	argv[(*n)++] = buf + *off;
	argv[*n] = NULL;
	*off += (size_t)len + 1;
	return 0;
}

#define ARG(...)                                                                                   \
	do {                                                                                       \
		if (arg(buf, cap, &off, argv, &n, __VA_ARGS__) < 0)                                \
			return -1;                                                                 \
	} while (0)

int transport_argv(const struct transport_opts *o, const char *command, char *buf, size_t cap,
		   char **argv)
{
	const char *ssh = o->ssh ? o->ssh : "ssh";
	char dir[4096];
	size_t off = 0, n = 0;
	if (!migstate_ssh_ok(ssh))
		return err_set("bad SSH client name '%s'", ssh);
	if (!o->host || !migstate_host_ok(o->host))
		return err_set("bad destination host '%s' (letters, digits, . _ : -, not starting "
			       "with -)",
			       o->host ? o->host : "");
	if (!o->user || !migstate_user_ok(o->user))
		return err_set("bad remote user '%s'", o->user ? o->user : "");
	if (o->port > 65535)
		return err_set("bad port %u", o->port);
	if (node_path(dir, sizeof(dir), o->root, NODE_MIGRATION_DIR) < 0)
		return -1;
	ARG("%s", ssh);
	if (transport_kind_of(ssh) == TRANSPORT_OPENSSH) {
		ARG("-T");
		ARG("-o");
		ARG("BatchMode=yes");
		ARG("-o");
		ARG("UserKnownHostsFile=%s/%s", dir, TRANSPORT_KNOWN_HOSTS);
		ARG("-o");
		ARG("GlobalKnownHostsFile=/dev/null");
		ARG("-o");
		ARG("StrictHostKeyChecking=%s", o->pin ? "accept-new" : "yes");
		ARG("-o");
		ARG("HashKnownHosts=no"); /* readable by dbclient's sessions and by people */
		ARG("-o");
		ARG("IdentitiesOnly=yes");
		ARG("-o");
		ARG("ConnectTimeout=%d", TRANSPORT_CONNECT_TIMEOUT);
		ARG("-o");
		ARG("ServerAliveInterval=%d", TRANSPORT_ALIVE_INTERVAL);
		ARG("-o");
		ARG("ServerAliveCountMax=%d", TRANSPORT_ALIVE_COUNT);
		ARG("-i");
		ARG("%s/%s", dir, TRANSPORT_KEY);
		ARG("-l");
		ARG("%s", o->user);
		if (o->port) {
			ARG("-p");
			ARG("%u", o->port);
		}
		if (o->control_path && !command) {
			ARG("-M");
			ARG("-N");
			ARG("-o");
			ARG("ControlPath=%s", o->control_path);
			ARG("-o");
			ARG("ControlPersist=no");
		} else if (o->control_path) {
			ARG("-o");
			ARG("ControlPath=%s", o->control_path);
			ARG("-o");
			ARG("ControlMaster=no");
		}
	} else {
		ARG("-T");
		ARG("-i");
		ARG("%s/%s", dir, TRANSPORT_KEY_DROPBEAR);
		/* No -y: it would accept an unknown key without pinning it (transport_pin does). */
		if (o->port) {
			ARG("-p");
			ARG("%u", o->port);
		}
		ARG("-l");
		ARG("%s", o->user);
	}
	ARG("%s", o->host);
	if (command)
		ARG("%s", command);
	return (int)n;
}

/* ROOT/conf/migration/dropbear and its .ssh, 0700: dbclient's HOME. */
static int dropbear_home(const char *root, char *buf, size_t cap)
{
	char ssh[4096];
	if (node_path(buf, cap, root, NODE_MIGRATION_DIR "/" TRANSPORT_DROPBEAR_HOME) < 0)
		return -1;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return err_set_errno("create %s", buf);
	if (snprintf(ssh, sizeof(ssh), "%s/.ssh", buf) >= (int)sizeof(ssh))
		return err_set("path too long");
	if (mkdir(ssh, 0700) < 0 && errno != EEXIST)
		return err_set_errno("create %s", ssh);
	return 0;
}

/*
 * dbclient reads only HOME/.ssh/known_hosts and matches host names without
 * the port: its file is made, before every session, of the node's store
 * (ROOT/conf/migration/known_hosts) lines for exactly [HOST]:PORT,
 * rewritten to plain HOST. Returns how many keys it got, or -1 with err_set.
 */
static int dropbear_known(const struct transport_opts *o, char *home, size_t cap)
{
	char store[4096], file[4200], name[KNOWNHOSTS_NAME_MAX], *text = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	int n = -1;
	if (dropbear_home(o->root, home, cap) < 0 ||
	    node_path(store, sizeof(store), o->root, NODE_MIGRATION_DIR "/" TRANSPORT_KNOWN_HOSTS) <
		    0 ||
	    knownhosts_name(name, sizeof(name), o->host, o->port) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/.ssh/known_hosts", home);
	if (file_read_all(AT_FDCWD, store, KNOWNHOSTS_FILE_MAX, &text, &len) < 0) {
		if (errno != ENOENT)
			return -1;
		text = NULL;
		len = 0;
	}
	out = malloc(KNOWNHOSTS_FILE_MAX);
	if (!out)
		err_set("out of memory");
	else if ((n = knownhosts_select(text ? text : "", len, name, o->host, out,
					KNOWNHOSTS_FILE_MAX, &out_len)) >= 0 &&
		 file_write_atomic_path(file, out, out_len, 0600) < 0)
		n = -1;
	free(text);
	free(out);
	return n;
}

/* After dbclient pinned a key in HOME: the store gets it as [HOST]:PORT. 0 or -1. */
static int dropbear_pin_back(const struct transport_opts *o, const char *home)
{
	char store[4096], file[4200], name[KNOWNHOSTS_NAME_MAX], *text = NULL,
								 out[KNOWNHOSTS_LINE_MAX];
	size_t len = 0, out_len = 0;
	snprintf(file, sizeof(file), "%s/.ssh/known_hosts", home);
	if (node_path(store, sizeof(store), o->root, NODE_MIGRATION_DIR "/" TRANSPORT_KNOWN_HOSTS) <
		    0 ||
	    knownhosts_name(name, sizeof(name), o->host, o->port) < 0 ||
	    file_read_all(AT_FDCWD, file, KNOWNHOSTS_FILE_MAX, &text, &len) < 0)
		return -1;
	int n = knownhosts_select(text, len, o->host, name, out, sizeof(out), &out_len);
	free(text);
	if (n <= 0)
		return n < 0 ? -1
			     : err_set("%s: dbclient accepted a host key but did not save it",
				       o->host);
	int fd = open(store, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || io_write_full(fd, out, out_len) < 0 || fsync(fd) < 0) {
		err_set_errno("%s", store);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* ---- The pump: the client's stdout and stderr ------------------------------ */

static void emit_line(struct transport *t)
{
	char out[600];
	t->line[t->line_len] = 0;
	if (t->err_prefix && t->line_len) {
		int n = snprintf(out, sizeof(out), "%s%s\n", t->err_prefix, t->line);
		if (n > 0)
			(void)io_write_full(2, out,
					    (size_t)n < sizeof(out) ? (size_t)n : sizeof(out));
	}
	t->line_len = 0;
}

static void take_err(struct transport *t, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		/* the tail, for messages */
		if (t->err_len == TRANSPORT_ERR_TAIL) {
			memmove(t->err_tail, t->err_tail + 1, TRANSPORT_ERR_TAIL - 1);
			t->err_len--;
		}
		t->err_tail[t->err_len++] = c;
		t->err_tail[t->err_len] = 0;
		if (c == ' ' && t->answer_prompt && !t->answered &&
		    strstr(t->err_tail, DROPBEAR_PROMPT)) {
			/* dbclient without a terminal reads the answer from its stdin */
			t->answered = 1;
			if (io_write_full(t->in, "y\n", 2) < 0)
				t->answered = -1;
		}
		/* lines, passed on */
		if (c == '\n') {
			emit_line(t);
		} else if (c != '\r') {
			if (t->line_len == sizeof(t->line) - 1)
				emit_line(t);
			t->line[t->line_len++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '?';
		}
	}
}

static void *pump_main(void *arg)
{
	struct transport *t = arg;
	char buf[8192];
	struct pollfd fds[2] = {{t->p.out, POLLIN, 0}, {t->p.err, POLLIN, 0}};
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				size_t room = TRANSPORT_REPLY_MAX - t->reply_len;
				size_t take = (size_t)n < room ? (size_t)n : room;
				memcpy(t->reply + t->reply_len, buf, take);
				t->reply_len += take;
				t->reply[t->reply_len] = 0;
				if (take < (size_t)n)
					t->reply_truncated = 1;
			} else {
				take_err(t, buf, (size_t)n);
			}
		}
	}
	if (t->line_len)
		emit_line(t);
	return NULL;
}

/* ---- Sessions --------------------------------------------------------------- */

static int start(struct transport *t, const struct transport_opts *o, const char *command,
		 int answer_prompt);

/* A Dropbear session to a host whose key was never pinned: refused before dbclient could ask. */
static int unpinned(const struct transport_opts *o)
{
	char name[KNOWNHOSTS_NAME_MAX];
	if (knownhosts_name(name, sizeof(name), o->host, o->port) < 0)
		return TRANSPORT_LOCAL;
	err_set("%s: host key verification failed: no key pinned for %s in %s/%s/%s (ferry "
		"migrate stage pins it on first contact)",
		o->host, name, o->root, NODE_MIGRATION_DIR, TRANSPORT_KNOWN_HOSTS);
	return TRANSPORT_HOSTKEY;
}

int transport_start(struct transport *t, const struct transport_opts *o, const char *command)
{
	return start(t, o, command, 0);
}

static int start(struct transport *t, const struct transport_opts *o, const char *command,
		 int answer_prompt)
{
	char buf[8192], home[4096], home_env[4200];
	char *argv[TRANSPORT_ARGS_MAX];
	char *envp[ENV_MAX];
	struct proc_opts po;
	memset(t, 0, sizeof(*t));
	t->in = -1;
	t->p.pid = -1;
	t->p.in = t->p.out = t->p.err = t->p.pidfd = -1;
	if (transport_argv(o, command, buf, sizeof(buf), argv) < 0)
		return TRANSPORT_LOCAL;
	t->kind = transport_kind_of(o->ssh);
	t->answer_prompt = answer_prompt;
	snprintf(t->host, sizeof(t->host), "%s", o->host);
	t->err_prefix = o->err_prefix;
	proc_opts_init(&po, argv);
	po.fd_in = po.fd_out = po.fd_err = PROC_PIPE;
	po.new_session = 1;
	if (t->kind == TRANSPORT_DROPBEAR) {
		size_t n = 0;
		int keys = dropbear_known(o, home, sizeof(home));
		if (keys < 0)
			return TRANSPORT_LOCAL;
		if (keys == 0 && !answer_prompt)
			return unpinned(o);
		if (snprintf(home_env, sizeof(home_env), "HOME=%s", home) >= (int)sizeof(home_env))
			return err_set("path too long");
		envp[n++] = home_env;
		for (char **e = environ; *e && n < ENV_MAX - 1; e++)
			if (strncmp(*e, "HOME=", 5))
				envp[n++] = *e;
		envp[n] = NULL;
		po.envp = envp;
	}
	po.death_signal = command ? 0 : SIGTERM; /* a master never outlives us */
	if (proc_spawn(&t->p, &po) < 0)
		return TRANSPORT_LOCAL;
	t->in = t->p.in;
	t->p.in = -1;
	if (pthread_create(&t->pump, NULL, pump_main, t) != 0) {
		err_set("cannot start a thread for %s", t->p.name);
		transport_abort(t);
		return TRANSPORT_LOCAL;
	}
	t->pump_started = 1;
	return 0;
}

void transport_close_in(struct transport *t)
{
	if (t->in >= 0) {
		close(t->in);
		t->in = -1;
	}
}

static void join_pump(struct transport *t)
{
	if (t->pump_started) {
		pthread_join(t->pump, NULL);
		t->pump_started = 0;
	}
}

/* The last non-empty line of the stderr tail into BUF. */
static void last_err_line(const struct transport *t, char *buf, size_t cap)
{
	size_t end = t->err_len;
	while (end > 0 && (t->err_tail[end - 1] == '\n' || t->err_tail[end - 1] == '\r'))
		end--;
	size_t start = end;
	while (start > 0 && t->err_tail[start - 1] != '\n')
		start--;
	size_t n = end - start < cap - 1 ? end - start : cap - 1;
	for (size_t i = 0; i < n; i++) {
		char c = t->err_tail[start + i];
		buf[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	buf[n] = 0;
}

/* Case-insensitive: client versions differ ("Host key mismatch", "host key mismatch"). */
static int tail_has(const struct transport *t, const char *s)
{
	return strcasestr(t->err_tail, s) != NULL;
}

/* Records the message and returns CODE (an enum transport_result). */
static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set("%s", msg);
	return code;
}

int transport_finish(struct transport *t, int timeout_ms)
{
	char last[256], st[64];
	/* A session that may still have to answer dbclient's question keeps its stdin open. */
	if (!t->answer_prompt)
		transport_close_in(t);
	int w = proc_wait(&t->p, timeout_ms);
	if (w != 0) {
		proc_kill(&t->p, SIGKILL);
		proc_wait(&t->p, -1);
	}
	join_pump(t);
	transport_close_in(t);
	int status = t->p.status;
	proc_close(&t->p);
	if (w < 0)
		return TRANSPORT_LOCAL;
	if (w == 1)
		return fail(TRANSPORT_LOCAL, "%s: no answer within %d s (killed)", t->host,
			    timeout_ms / 1000);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return TRANSPORT_OK;
	last_err_line(t, last, sizeof(last));
	if (t->kind == TRANSPORT_OPENSSH) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 255) {
			if (tail_has(t, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
			    tail_has(t, "Host key verification failed") ||
			    tail_has(t, "host key for") /* "No ... host key for X is known" */)
				return fail(TRANSPORT_HOSTKEY,
					    "%s: host key verification failed: %s", t->host, last);
			return fail(TRANSPORT_CONNECT, "%s: SSH session failed: %s", t->host,
				    last[0] ? last : "ssh exited with status 255");
		}
	} else {
		if (tail_has(t, "host key mismatch") || tail_has(t, "Bad host key") ||
		    tail_has(t, "Didn't validate host key"))
			return fail(TRANSPORT_HOSTKEY, "%s: host key verification failed: %s",
				    t->host, last);
		if (tail_has(t, "dbclient: Connection to") || tail_has(t, "dbclient: Exited:"))
			return fail(TRANSPORT_CONNECT, "%s: SSH session failed: %s", t->host, last);
	}
	if (!WIFEXITED(status))
		return fail(TRANSPORT_CONNECT, "%s: %s", t->p.name,
			    proc_status_str(status, st, sizeof(st)));
	/* The remote's own message, without its "ferry receive: " prefix, behind the host. */
	const char *msg = last;
	if (!strncmp(msg, "ferry receive: ", 15))
		msg += 15;
	return fail(TRANSPORT_REMOTE, "%s: %s", t->host,
		    msg[0] ? msg : "the remote command failed without a message");
}

int transport_master_start(struct transport_master *m, const struct transport_opts *o)
{
	struct transport_opts mo = *o;
	struct stat st;
	const char *tmp = getenv("TMPDIR");
	memset(m, 0, sizeof(*m));
	if (transport_kind_of(o->ssh) != TRANSPORT_OPENSSH) {
		/* No multiplexing; but an unpinned host fails here, before the step begins. */
		char home[4096];
		int keys = o->pin ? 1 : dropbear_known(o, home, sizeof(home));
		if (keys < 0)
			return TRANSPORT_LOCAL;
		return keys == 0 ? unpinned(o) : TRANSPORT_OK;
	}
	if (!tmp || !*tmp || strlen(tmp) > 24)
		tmp = "/tmp";
	snprintf(m->dir, sizeof(m->dir), "%s/ferry-ssh-XXXXXX", tmp);
	if (!mkdtemp(m->dir)) {
		err_set_errno("create %s", m->dir);
		return TRANSPORT_LOCAL;
	}
	snprintf(m->path, sizeof(m->path), "%s/s", m->dir);
	mo.control_path = m->path;
	int sr = start(&m->t, &mo, NULL, 0);
	if (sr < 0) {
		rmdir(m->dir);
		return sr;
	}
	m->active = 1;
	/* Ready when the socket exists; failed when ssh exits first. */
	for (int waited = 0; waited < (TRANSPORT_CONNECT_TIMEOUT + 10) * 1000; waited += 20) {
		if (stat(m->path, &st) == 0 && S_ISSOCK(st.st_mode))
			return TRANSPORT_OK;
		int w = proc_wait(&m->t.p, 20);
		if (w < 0)
			break;
		if (w == 0) {
			int r = transport_finish(&m->t, 0);
			m->active = 0;
			rmdir(m->dir);
			if (r == TRANSPORT_OK)
				return fail(TRANSPORT_CONNECT, "%s: the SSH master exited",
					    o->host);
			return r;
		}
	}
	transport_master_stop(m);
	return fail(TRANSPORT_CONNECT, "%s: no SSH connection within %d s", o->host,
		    TRANSPORT_CONNECT_TIMEOUT + 10);
}

void transport_master_stop(struct transport_master *m)
{
	if (!m->active)
		return;
	m->active = 0;
	proc_kill(&m->t.p, SIGTERM);
	if (proc_wait(&m->t.p, 5000) != 0)
		proc_kill(&m->t.p, SIGKILL);
	transport_finish(&m->t, -1);
	unlink(m->path);
	rmdir(m->dir);
}

int transport_pin(const struct transport_opts *o, const char *probe)
{
	if (transport_kind_of(o->ssh) != TRANSPORT_DROPBEAR)
		return TRANSPORT_OK;
	char home[4096];
	int keys = dropbear_known(o, home, sizeof(home));
	if (keys < 0)
		return TRANSPORT_LOCAL;
	if (keys > 0)
		return TRANSPORT_OK; /* pinned already: the sessions check it */
	struct transport *t = malloc(sizeof(*t));
	if (!t) {
		err_set("out of memory");
		return TRANSPORT_LOCAL;
	}
	int r = start(t, o, probe, 1);
	if (r < 0) {
		free(t);
		return r;
	}
	r = transport_finish(t, TRANSPORT_CONNECT_TIMEOUT * 1000 * 4);
	free(t);
	if (r == TRANSPORT_OK && dropbear_pin_back(o, home) < 0)
		return TRANSPORT_LOCAL;
	return r;
}

void transport_abort(struct transport *t)
{
	transport_close_in(t);
	if (t->p.pid > 0 && !t->p.exited) {
		proc_kill(&t->p, SIGKILL);
		proc_wait(&t->p, -1);
	}
	join_pump(t);
	proc_close(&t->p);
}

int transport_reply_line(const struct transport *t, const char *word, char *out, size_t cap)
{
	size_t wl = strlen(word);
	int found = 0;
	for (size_t off = 0; off < t->reply_len;) {
		const char *line = t->reply + off;
		const char *nl = memchr(line, '\n', t->reply_len - off);
		size_t n = nl ? (size_t)(nl - line) : t->reply_len - off;
		if (n >= wl && !memcmp(line, word, wl) && (n == wl || line[wl] == ' ')) {
			size_t rest = n > wl ? n - wl - 1 : 0;
			if (rest >= cap)
				rest = cap - 1;
			memcpy(out, line + (n > wl ? wl + 1 : wl), rest);
			out[rest] = 0;
			found = 1;
		}
		off += n + 1;
	}
	return found;
}
