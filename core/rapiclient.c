/* An HTTPS client of the cluster API (Ganeti's RAPI): one request per connection, JSON in and out, Basic auth, CA-file trust. */
#include "core/rapiclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/http.h"
#include "core/io.h"

#define RAPICLIENT_BUF (16u << 10)

int rapiclient_init(struct rapiclient *c, const char *host, unsigned port,
		    const struct tls_trust *trust, const char *user, const char *password)
{
	memset(c, 0, sizeof(*c));
	if (!host || !*host || strlen(host) > NET_HOST_MAX)
		return err_set("bad host name");
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->trust = trust;
	snprintf(c->where, sizeof(c->where), "https://%s%s%s:%u", strchr(host, ':') ? "[" : "",
		 host, strchr(host, ':') ? "]" : "", port);
	if (user) {
		if (!password)
			return err_set("a user needs a password");
		if (strlen(user) > RAPICLIENT_USER_MAX ||
		    strlen(password) > RAPICLIENT_PASSWORD_MAX)
			return err_set("user name or password too long");
		if (http_basic_auth(c->auth, sizeof(c->auth), user, password) < 0)
			return -1;
		c->has_auth = 1;
	}
	return 0;
}

void rapiclient_wipe(struct rapiclient *c)
{
	explicit_bzero(c->auth, sizeof(c->auth));
}

struct call {
	struct tls_conn tls;
	struct io_chan ch;
	struct io_in in;
	struct io_out out;
	struct http_response resp;
	uint8_t inbuf[RAPICLIENT_BUF], outbuf[RAPICLIENT_BUF];
};

int rapiclient_call(struct rapiclient *c, const char *method, const char *path, const char *body,
		    struct json_doc *out, int *status)
{
	struct json_doc empty = {0};
	*out = empty;
	if (status)
		*status = 0;
	struct call *k = malloc(sizeof(*k));
	if (!k)
		return err_set("out of memory");
	memset(&k->resp, 0, sizeof(k->resp));
	int rc = -1, tls_up = 0;
	int fd = net_connect(c->host, c->port, RAPICLIENT_CONNECT_MS);
	if (fd < 0) {
		err_prefix("%s", c->where);
		free(k);
		return -1;
	}
	net_set_timeouts(fd, RAPICLIENT_IO_MS);
	struct tls_config cfg = {.trust = c->trust};
	if (tls_client_connect(&k->tls, fd, &cfg) < 0) {
		err_prefix("%s", c->where);
		goto out;
	}
	tls_up = 1;
	tls_chan(&k->tls, &k->ch);
	io_in_init(&k->in, &k->ch, k->inbuf, sizeof(k->inbuf));
	io_out_init(&k->out, &k->ch, k->outbuf, sizeof(k->outbuf));
	struct http_header h[4] = {
		{"Accept", "application/json"},
		{"Content-Type", "application/json"},
		{"User-Agent", RAPICLIENT_USER_AGENT},
		{"Authorization", c->auth},
	};
	if (http_request_write(&k->out, method, c->host, path, h, c->has_auth ? 4 : 3,
			       body ? body : "", body ? strlen(body) : 0) < 0 ||
	    http_response_read(&k->resp, &k->in, method, RAPICLIENT_RESPONSE_MAX) < 0) {
		err_prefix("%s %s %s", c->where, method, path);
		goto out;
	}
	if (status)
		*status = k->resp.status;
	if (http_response_check(&k->resp) < 0) {
		err_prefix("%s %s %s", c->where, method, path);
		goto out;
	}
	if (json_parse(out, (const char *)k->resp.body, k->resp.body_len) < 0) {
		err_prefix("%s %s %s: the answer is not JSON", c->where, method, path);
		goto out;
	}
	rc = 0;
out:
	if (tls_up)
		tls_close(&k->tls);
	tls_wipe(&k->tls);
	http_response_free(&k->resp);
	close(fd);
	free(k);
	return rc;
}
