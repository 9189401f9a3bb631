/* An HTTPS client of the cluster API (Ganeti's RAPI): one request per connection, JSON in and out, Basic auth, CA-file trust (docs/rapi.md). */
#ifndef FERRY_RAPICLIENT_H
#define FERRY_RAPICLIENT_H

#include <stddef.h>

#include "core/json.h"
#include "core/net.h"
#include "crypto/tls.h"

#define RAPICLIENT_USER_MAX	255
#define RAPICLIENT_PASSWORD_MAX 1024
#define RAPICLIENT_CONNECT_MS	30000  /* TCP connect */
#define RAPICLIENT_IO_MS	120000 /* TLS and HTTP reads and writes (a job wait takes ~10 s) */
#define RAPICLIENT_PATH_MAX	1024
#define RAPICLIENT_RESPONSE_MAX (8u << 20)
#define RAPICLIENT_USER_AGENT	"ferry move-instance"

/*
 * One API endpoint: where it is, whom it trusts, who we are. The server
 * certificate is checked against TRUST (like curl --cacert) but not
 * against the host name, as Ganeti's client does. Holds the password:
 * wipe with rapiclient_wipe.
 */
struct rapiclient {
	char host[NET_HOST_MAX + 1];
	unsigned port;
	const struct tls_trust *trust;
	int has_auth;
	char auth[16 + 2 * (RAPICLIENT_USER_MAX + RAPICLIENT_PASSWORD_MAX)]; /* "Basic ..." */
	char where[NET_ADDR_MAX + NET_HOST_MAX + 16];			     /* for messages */
};

/*
 * Sets up C for HOST:PORT trusting TRUST (must outlive C). USER NULL means
 * no authentication; otherwise PASSWORD must not be NULL (an empty user
 * is allowed, as in Ganeti's client). 0 or -1 with err_set.
 */
int rapiclient_init(struct rapiclient *c, const char *host, unsigned port,
		    const struct tls_trust *trust, const char *user, const char *password);
void rapiclient_wipe(struct rapiclient *c);

/*
 * Sends METHOD PATH (an encoded origin-form target with its query) with
 * the JSON text BODY (NULL: an empty body, Content-Length: 0) and the
 * headers Ganeti's client sends (Accept and Content-Type
 * application/json, Authorization), over a new TLS connection. A 200
 * answer's JSON is parsed into *OUT (free with json_doc_free; the JSON
 * null is a JSON_NULL root). Any other status is an error: -1 with err_set
 * "CODE MESSAGE: EXPLAIN" (Ganeti's form) and *STATUS (may be NULL) set;
 * failures before an answer leave *STATUS 0. 0 or -1.
 */
int rapiclient_call(struct rapiclient *c, const char *method, const char *path, const char *body,
		    struct json_doc *out, int *status);

#endif
