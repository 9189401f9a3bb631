/* TCP for the cluster API and the move data path: listen, accept and connect with deadlines, addresses as text. */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stddef.h>

/* Room for an IP address as text (an IPv6 literal with a zone is at most 46 + 1 bytes). */
#define NET_IP_MAX 64
/* Room for "IP:PORT" or "[IPv6]:PORT". */
#define NET_ADDR_MAX (NET_IP_MAX + 8)
/* Longest host name net_connect resolves. */
#define NET_HOST_MAX 255

/*
 * 1 if S is an IPv4 literal (dotted quad) or an IPv6 literal (without
 * brackets), else 0.
 */
int net_ip_ok(const char *s);

/*
 * Opens a listening TCP socket (close-on-exec, SO_REUSEADDR) on the IP
 * literal HOST and PORT (0: an ephemeral port the kernel picks). HOST NULL
 * or "" means every address: IPv6 "::" accepting IPv4 too, or "0.0.0.0"
 * when the kernel has no IPv6. Returns the descriptor, or -1 with err_set
 * naming the address ("listen on 127.0.0.4:5080: Address already in use").
 */
int net_listen(const char *host, unsigned port, int backlog);

/* The local port of socket FD into *PORT. 0 or -1. */
int net_local_port(int fd, unsigned *port);
/*
 * The local (or, with net_peer_ip, remote) IP address of the connected
 * socket FD as text into BUF (NET_IP_MAX bytes); an IPv4-mapped IPv6
 * address is written as plain IPv4. 0 or -1.
 */
int net_local_ip(int fd, char *buf, size_t cap);
int net_peer_ip(int fd, char *buf, size_t cap);
/* "IP:PORT" (or "[IP]:PORT") of the peer of FD into BUF (NET_ADDR_MAX bytes); "?" if unknown. */
void net_peer_text(int fd, char *buf, size_t cap);
/* Formats HOST and PORT as "HOST:PORT", or "[HOST]:PORT" when HOST contains ':'. 0 or -1. */
int net_join_host_port(char *buf, size_t cap, const char *host, unsigned port);

/*
 * Waits at most TIMEOUT_MS (< 0: no limit) for a connection on the
 * listening socket LFD and accepts it (close-on-exec). Returns the new
 * descriptor, -2 when the time ran out (err_set "no connection within N
 * seconds"), or -1 with err_set. EINTR is retried with the remaining time.
 */
int net_accept(int lfd, int timeout_ms);

/*
 * Connects to HOST (an IP literal or a name resolved with getaddrinfo,
 * each address tried in turn) on PORT within TIMEOUT_MS per address.
 * Returns the connected descriptor (close-on-exec, blocking), or -1 with
 * err_set ("connect to 192.0.2.1:5080: Connection refused").
 */
int net_connect(const char *host, unsigned port, int timeout_ms);

/*
 * Sets SO_RCVTIMEO and SO_SNDTIMEO of FD to TIMEOUT_MS (0: none), and
 * TCP keepalive (idle 60 s, 10 probes 10 s apart) so a vanished peer ends
 * a blocked read. 0 or -1.
 */
int net_set_timeouts(int fd, int timeout_ms);

/*
 * Closes a connection after an answer: shuts down the sending side, reads
 * and drops what the peer still sends for at most LINGER_MS, then closes.
 * Closing with unread data would make the kernel send a reset, which can
 * destroy the answer before the peer reads it. FD may be -1.
 */
void net_close_gracefully(int fd, int linger_ms);

#endif
