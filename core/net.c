/* TCP for the cluster API and the move data path: listen, accept and connect with deadlines, addresses as text. */
#include "core/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

int net_ip_ok(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (!s || !*s)
		return 0;
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int net_join_host_port(char *buf, size_t cap, const char *host, unsigned port)
{
	int n = strchr(host, ':') ? snprintf(buf, cap, "[%s]:%u", host, port)
				  : snprintf(buf, cap, "%s:%u", host, port);
	if (n < 0 || (size_t)n >= cap)
		return err_set("address too long");
	return 0;
}

/* Fills SS with HOST (an IP literal) and PORT. 0 or -1. */
static int sockaddr_from(struct sockaddr_storage *ss, socklen_t *len, const char *host,
			 unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return err_set("'%s' is not an IP address", host);
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len, int backlog, int v6only)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int net_listen(const char *host, unsigned port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char where[NET_ADDR_MAX];
	if (port > 65535)
		return err_set("port %u out of range", port);
	if (!host || !*host) {
		/* every address: dual-stack IPv6, else IPv4 only */
		sockaddr_from(&ss, &len, "::", port);
		int fd = listen_on(&ss, len, backlog, 0);
		if (fd >= 0)
			return fd;
		if (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL)
			return err_set_errno("listen on [::]:%u", port);
		sockaddr_from(&ss, &len, "0.0.0.0", port);
		fd = listen_on(&ss, len, backlog, 0);
		if (fd < 0)
			return err_set_errno("listen on 0.0.0.0:%u", port);
		return fd;
	}
	if (sockaddr_from(&ss, &len, host, port) < 0)
		return -1;
	int fd = listen_on(&ss, len, backlog, 1);
	if (fd < 0) {
		net_join_host_port(where, sizeof(where), host, port);
		return err_set_errno("listen on %s", where);
	}
	return fd;
}

int net_local_port(int fd, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return err_set_errno("getsockname");
	if (ss.ss_family == AF_INET)
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return err_set("not an IP socket");
	return 0;
}

/* IP text of SS; IPv4-mapped IPv6 as IPv4. PORT (may be NULL) gets the port. */
static int ip_text(const struct sockaddr_storage *ss, char *buf, size_t cap, unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		if (!inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)cap))
			return err_set_errno("inet_ntop");
		if (port)
			*port = ntohs(a->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		if (port)
			*port = ntohs(a->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			if (!inet_ntop(AF_INET, a->sin6_addr.s6_addr + 12, buf, (socklen_t)cap))
				return err_set_errno("inet_ntop");
			return 0;
		}
		if (!inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)cap))
			return err_set_errno("inet_ntop");
		return 0;
	}
	return err_set("not an IP socket");
}

int net_local_ip(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return err_set_errno("getsockname");
	return ip_text(&ss, buf, cap, NULL);
}

int net_peer_ip(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return err_set_errno("getpeername");
	return ip_text(&ss, buf, cap, NULL);
}

void net_peer_text(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[NET_IP_MAX];
	unsigned port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    ip_text(&ss, ip, sizeof(ip), &port) < 0 || net_join_host_port(buf, cap, ip, port) < 0)
		snprintf(buf, cap, "?");
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll for EVENTS on FD until DEADLINE (ms, < 0: none). 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		int timeout = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			timeout = left > 0 ? (int)(left > 1 << 30 ? 1 << 30 : left) : 0;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, timeout);
		if (r > 0)
			return 1;
		if (r == 0) {
			if (deadline >= 0 && now_ms() >= deadline)
				return 0;
			continue;
		}
		if (errno != EINTR)
			return err_set_errno("poll");
	}
}

int net_accept(int lfd, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		int r = wait_fd(lfd, POLLIN, deadline);
		if (r < 0)
			return -1;
		if (r == 0) {
			err_set("no connection within %d seconds", (timeout_ms + 999) / 1000);
			return -2;
		}
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		/* a connection that went away before we took it, or a signal: wait on */
		if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN ||
		    errno == EWOULDBLOCK || errno == EPROTO)
			continue;
		return err_set_errno("accept");
	}
}

/* Connects FD to SA within TIMEOUT_MS. 0 or -1 (errno set). */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	int r = connect(fd, sa, len);
	if (r < 0 && errno == EINPROGRESS) {
		int w = wait_fd(fd, POLLOUT, timeout_ms < 0 ? -1 : now_ms() + timeout_ms);
		if (w <= 0) {
			errno = w == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -1;
		if (soerr) {
			errno = soerr;
			return -1;
		}
		r = 0;
	}
	if (r < 0)
		return -1;
	if (fcntl(fd, F_SETFL, flags) < 0)
		return -1;
	return 0;
}

int net_connect(const char *host, unsigned port, int timeout_ms)
{
	char where[NET_ADDR_MAX + NET_HOST_MAX];
	char portstr[8];
	if (!host || !*host || strlen(host) > NET_HOST_MAX)
		return err_set("bad host name");
	if (port == 0 || port > 65535)
		return err_set("port %u out of range", port);
	snprintf(portstr, sizeof(portstr), "%u", port);
	if (net_join_host_port(where, sizeof(where), host, port) < 0)
		return -1;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	if (net_ip_ok(host))
		hints.ai_flags = AI_NUMERICHOST;
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, portstr, &hints, &res);
	if (g != 0)
		return err_set("resolve %s: %s", host, gai_strerror(g));
	int saved = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect_timed(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0) {
			freeaddrinfo(res);
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	errno = saved;
	return err_set_errno("connect to %s", where);
}

int net_set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int one = 1, idle = 60, intvl = 10, cnt = 10;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return err_set_errno("socket timeouts");
	/* keepalive is best effort (not every socket type has it) */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	return 0;
}

void net_close_gracefully(int fd, int linger_ms)
{
	if (fd < 0)
		return;
	shutdown(fd, SHUT_WR);
	long long deadline = now_ms() + linger_ms;
	char buf[4096];
	while (wait_fd(fd, POLLIN, deadline) == 1) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			break;
	}
	close(fd);
}
