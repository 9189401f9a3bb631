/* Unit tests of core/net: listening, accepting and connecting on loopback, addresses as text, deadlines. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/net.h"
#include "test/unit/check.h"

#define CHECK_SUITE "net"

static void test_ip_ok(void)
{
	CHECK(net_ip_ok("127.0.0.1"));
	CHECK(net_ip_ok("::1"));
	CHECK(net_ip_ok("2001:db8::5"));
	CHECK(!net_ip_ok(""));
	CHECK(!net_ip_ok(NULL));
	CHECK(!net_ip_ok("localhost"));
	CHECK(!net_ip_ok("[::1]"));
	CHECK(!net_ip_ok("127.0.0.1:80"));
	CHECK(!net_ip_ok("256.0.0.1"));
	char buf[NET_ADDR_MAX];
	CHECK_INT(net_join_host_port(buf, sizeof(buf), "::1", 5080), 0);
	CHECK_STR(buf, "[::1]:5080");
	CHECK_INT(net_join_host_port(buf, sizeof(buf), "192.0.2.1", 1), 0);
	CHECK_STR(buf, "192.0.2.1:1");
	CHECK_INT(net_join_host_port(buf, 5, "192.0.2.1", 1), -1);
}

static void test_loopback(void)
{
	int l = net_listen("127.0.0.1", 0, 4);
	unsigned port = 0;
	if (!CHECK(l >= 0))
		return;
	CHECK_INT(net_local_port(l, &port), 0);
	CHECK(port > 0);
	int c = net_connect("127.0.0.1", port, 5000);
	CHECK(c >= 0);
	int a = net_accept(l, 5000);
	CHECK(a >= 0);
	char ip[NET_IP_MAX], text[NET_ADDR_MAX];
	CHECK_INT(net_local_ip(a, ip, sizeof(ip)), 0);
	CHECK_STR(ip, "127.0.0.1");
	CHECK_INT(net_peer_ip(c, ip, sizeof(ip)), 0);
	CHECK_STR(ip, "127.0.0.1");
	net_peer_text(c, text, sizeof(text));
	char want[NET_ADDR_MAX];
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	CHECK_STR(text, want);
	CHECK_INT(net_set_timeouts(a, 100), 0);
	char b;
	/* the receive timeout ends a read from a silent peer */
	CHECK(read(a, &b, 1) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	CHECK(write(c, "x", 1) == 1);
	/* the answer survives a graceful close with unread data from the peer */
	CHECK(write(a, "y", 1) == 1);
	net_close_gracefully(a, 200);
	CHECK(read(c, &b, 1) == 1 && b == 'y');
	CHECK(read(c, &b, 1) == 0);
	close(c);

	/* nobody connects: a deadline, reported as such */
	CHECK_INT(net_accept(l, 50), -2);
	CHECK(strstr(err_msg(), "no connection within 1 seconds") != NULL);
	close(l);
	/* the port is free again: a refused connection names the address */
	CHECK_INT(net_connect("127.0.0.1", port, 5000), -1);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%u: Connection refused", port);
	CHECK_STR(err_msg(), want);
}

static void test_any_and_v6(void)
{
	int l = net_listen(NULL, 0, 4);
	unsigned port;
	if (!CHECK(l >= 0))
		return;
	CHECK_INT(net_local_port(l, &port), 0);
	/* the all-addresses socket takes IPv4 clients, and shows them as IPv4 */
	int c = net_connect("127.0.0.1", port, 5000);
	int a = net_accept(l, 5000);
	CHECK(c >= 0 && a >= 0);
	char ip[NET_IP_MAX];
	CHECK_INT(net_local_ip(a, ip, sizeof(ip)), 0);
	CHECK_STR(ip, "127.0.0.1");
	close(a);
	close(c);
	int c6 = net_connect("::1", port, 5000);
	if (c6 >= 0) { /* hosts without IPv6 loopback skip this */
		a = net_accept(l, 5000);
		CHECK(a >= 0);
		CHECK_INT(net_local_ip(a, ip, sizeof(ip)), 0);
		CHECK_STR(ip, "::1");
		close(a);
		close(c6);
	}
	close(l);
	CHECK_INT(net_listen("localhost", 0, 4), -1);
	CHECK(strstr(err_msg(), "'localhost' is not an IP address") != NULL);
	CHECK_INT(net_listen("127.0.0.1", 70000, 4), -1);
	CHECK_INT(net_connect("127.0.0.1", 0, 100), -1);
}

int main(void)
{
	RUN(test_ip_ok);
	RUN(test_loopback);
	RUN(test_any_and_v6);
	return CHECK_DONE();
}
