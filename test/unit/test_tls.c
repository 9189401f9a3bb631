/* Unit tests of crypto/tls: pinned mutual TLS, CA trust, refusals, truncation, tampering, curl and openssl peers. */
#define CHECK_SUITE "tls"
#include "test/unit/check.h"
#include "test/unit/proc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "core/err.h"
#include "core/cursor.h"
#include "core/io.h"
#include "crypto/hmac.h"
#include "crypto/tls.h"
#include "crypto/x509.h"

#define IO_TIMEOUT_SECONDS 30

static char dir[] = "/tmp/ferry-tls.XXXXXX";

static const char *path(const char *name)
{
	static char buf[8][256];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int has(const char *hay, const char *needle)
{
	if (hay && strstr(hay, needle))
		return 1;
	fprintf(stderr, "    missing \"%s\" in \"%s\"\n", needle, hay ? hay : "(null)");
	return 0;
}

static const char *const alt[] = {"node1.example.com", "127.0.0.1", NULL};

static void ident_make(struct x509_identity *id, enum x509_key_type type, const char *cn,
		       int64_t not_before, uint32_t life)
{
	struct x509_cert_spec spec = {cn, alt, not_before, life};
	CHECK_INT(x509_key_generate(&id->key, type, type == X509_KEY_RSA ? 2048 : 256), 0);
	long n = x509_cert_create(&id->key, &spec, id->cert, sizeof(id->cert));
	CHECK(n > 0);
	id->cert_len = n > 0 ? (size_t)n : 0;
}

/* Writes the certificate (and key if KEY_NAME) as PEM files in the test directory. */
static void ident_write(const struct x509_identity *id, const char *cert_name, const char *key_name)
{
	char pem[8192];
	long n = x509_pem_encode(pem, sizeof(pem), "CERTIFICATE", id->cert, id->cert_len);
	CHECK(n > 0);
	CHECK_INT(proc_write_file(path(cert_name), pem, (size_t)n), 0);
	if (key_name)
		CHECK_INT(x509_key_save(&id->key, path(key_name)), 0);
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 11));
}

/* ---- Our client against our server over a socketpair ---------------------- */

enum server_mode {
	SERVE_DIGEST, /* read "len + data", answer sha256 + REPLY_LEN pattern bytes, close */
	SERVE_CUT,    /* send some data, then close the socket without close_notify */
	SERVE_HTTP,   /* read one HTTP request, answer "ok\n", close */
	SERVE_LINE,   /* read one line, answer "pong LINE", close */
};

#define REPLY_LEN (1 << 20)

struct server {
	const struct tls_config *cfg;
	int fd; /* connected socket, or -1 to accept on LISTEN_FD */
	int listen_fd;
	enum server_mode mode;
	int rc;
	char err[ERR_MSG_MAX];
	uint64_t got;
	char line[256];
};

static int serve_digest(struct tls_conn *c)
{
	struct io_chan ch;
	struct io_in in;
	struct io_out o;
	static _Thread_local uint8_t ibuf[65536], obuf[65536], chunk[100000];
	uint8_t len[8];
	tls_chan(c, &ch);
	io_in_init(&in, &ch, ibuf, sizeof(ibuf));
	if (io_in_read(&in, len, 8) < 0)
		return -1;
	uint64_t want = get_u64(len), done = 0;
	uint8_t digest[SHA256_LEN];
	/* Hash what arrives, in uneven pieces. */
	uint8_t *all = malloc(want ? want : 1);
	while (done < want) {
		size_t k = want - done < sizeof(chunk) ? (size_t)(want - done) : sizeof(chunk);
		if (io_in_read(&in, chunk, k) < 0) {
			free(all);
			return -1;
		}
		memcpy(all + done, chunk, k);
		done += k;
	}
	sha256(digest, all, want);
	free(all);
	io_out_init(&o, &ch, obuf, sizeof(obuf));
	if (io_out_write(&o, digest, sizeof(digest)) < 0)
		return -1;
	for (size_t i = 0; i < REPLY_LEN; i++) {
		uint8_t b = pattern(i);
		if (io_out_write(&o, &b, 1) < 0)
			return -1;
	}
	if (io_out_flush(&o) < 0)
		return -1;
	/* The client closes first: its close_notify arrives as end of input. */
	uint8_t extra;
	int r = io_in_read_or_eof(&in, &extra, 1);
	if (r != 1)
		return r < 0 ? -1 : err_set("data after the request");
	return tls_close(c);
}

static int serve_until_blank_line(struct tls_conn *c, char *got, size_t cap, const char *end)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = tls_read(c, got + n, 1);
		if (r <= 0)
			return r < 0 ? -1 : err_set("end of input before the request ended");
		n++;
		got[n] = 0;
		if (strstr(got, end))
			return 0;
	}
	return err_set("request too long");
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct tls_conn *c = malloc(sizeof(*c));
	int fd = s->fd;
	s->rc = -1;
	if (fd < 0) {
		fd = accept(s->listen_fd, NULL, NULL);
		if (fd < 0) {
			snprintf(s->err, sizeof(s->err), "accept: %s", strerror(errno));
			free(c);
			return NULL;
		}
		set_timeouts(fd, IO_TIMEOUT_SECONDS * 1000);
	}
	if (tls_server_accept(c, fd, s->cfg) < 0)
		goto out;
	switch (s->mode) {
	case SERVE_DIGEST:
		if (serve_digest(c) < 0)
			goto out;
		break;
	case SERVE_CUT: {
		static const char data[] = "partial data";
		if (tls_write(c, data, sizeof(data) - 1) < 0)
			goto out;
		shutdown(fd, SHUT_RDWR);
		break;
	}
	case SERVE_HTTP: {
		static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					    "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";
		if (serve_until_blank_line(c, s->line, sizeof(s->line), "\r\n\r\n") < 0 ||
		    tls_write(c, reply, sizeof(reply) - 1) < 0 || tls_close(c) < 0)
			goto out;
		break;
	}
	case SERVE_LINE: {
		char reply[300];
		if (serve_until_blank_line(c, s->line, sizeof(s->line), "\n") < 0)
			goto out;
		int n = snprintf(reply, sizeof(reply), "pong %s", s->line);
		if (tls_write(c, reply, (size_t)n) < 0 || tls_close(c) < 0)
			goto out;
		break;
	}
	}
	s->rc = 0;
out:
	if (s->rc < 0) {
		snprintf(s->err, sizeof(s->err), "%s", err_msg());
		shutdown(fd, SHUT_RDWR); /* as closing it would: the client stops waiting */
	}
	tls_wipe(c);
	free(c);
	if (s->fd < 0)
		close(fd);
	return NULL;
}

struct client_result {
	int rc;
	char err[ERR_MSG_MAX];
	char cipher[64];
};

/* The client side of SERVE_DIGEST: sends LEN pattern bytes, checks the digest and the reply. */
static void client_digest(int fd, const struct tls_config *cfg, size_t len,
			  struct client_result *res)
{
	struct tls_conn *c = malloc(sizeof(*c));
	struct io_chan ch;
	struct io_out o;
	struct io_in in;
	static uint8_t obuf[65536], ibuf[65536];
	uint8_t hdr[8], digest[SHA256_LEN], want[SHA256_LEN];
	res->rc = -1;
	if (tls_client_connect(c, fd, cfg) < 0)
		goto out;
	snprintf(res->cipher, sizeof(res->cipher), "%s", tls_cipher_name(c));
	tls_chan(c, &ch);
	io_out_init(&o, &ch, obuf, sizeof(obuf));
	put_u64(hdr, len);
	uint8_t *data = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		data[i] = pattern(i);
	sha256(want, data, len);
	int w = io_out_write(&o, hdr, 8) < 0 || io_out_write(&o, data, len) < 0 ||
		io_out_flush(&o) < 0;
	free(data);
	if (w)
		goto out;
	io_in_init(&in, &ch, ibuf, sizeof(ibuf));
	if (io_in_read(&in, digest, sizeof(digest)) < 0)
		goto out;
	if (memcmp(digest, want, sizeof(want)) != 0) {
		err_set("server's digest differs");
		goto out;
	}
	for (size_t i = 0; i < REPLY_LEN; i++) {
		uint8_t b;
		if (io_in_read(&in, &b, 1) < 0)
			goto out;
		if (b != pattern(i)) {
			err_set("reply byte %zu differs", i);
			goto out;
		}
	}
	if (tls_close(c) < 0)
		goto out;
	res->rc = 0;
out:
	if (res->rc < 0)
		snprintf(res->err, sizeof(res->err), "%s", err_msg());
	tls_wipe(c);
	free(c);
}

/* Runs SERVE_DIGEST between SCFG and CCFG over a socketpair; results in SRV and CLI. */
static void run_pair(const struct tls_config *scfg, const struct tls_config *ccfg, size_t len,
		     struct server *srv, struct client_result *cli)
{
	int sv[2];
	pthread_t t;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	set_timeouts(sv[0], IO_TIMEOUT_SECONDS * 1000);
	set_timeouts(sv[1], IO_TIMEOUT_SECONDS * 1000);
	memset(srv, 0, sizeof(*srv));
	srv->cfg = scfg;
	srv->fd = sv[0];
	srv->mode = SERVE_DIGEST;
	pthread_create(&t, NULL, server_main, srv);
	client_digest(sv[1], ccfg, len, cli);
	/* A failed client must not leave the server waiting. */
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
}

static struct x509_identity srv_ec, srv_rsa, cli_ec, cli_rsa, impostor, expired;

static void test_pinned_mutual(void)
{
	struct server srv;
	struct client_result cli;
	/* EC server, RSA client; then RSA server, EC client. */
	struct tls_config s1 = {&srv_ec, cli_rsa.cert, cli_rsa.cert_len, NULL, NULL, 1};
	struct tls_config c1 = {&cli_rsa, srv_ec.cert, srv_ec.cert_len, NULL, NULL, 0};
	run_pair(&s1, &c1, 3 * 1000 * 1000 + 17, &srv, &cli);
	CHECK_INT(srv.rc, 0);
	CHECK_INT(cli.rc, 0);
	if (srv.rc || cli.rc)
		fprintf(stderr, "    server: %s\n    client: %s\n", srv.err, cli.err);
	CHECK(has(cli.cipher, "ECDHE-ECDSA-"));
	CHECK(strstr(cli.cipher, "GCM") || strstr(cli.cipher, "CHACHA20"));

	struct tls_config s2 = {&srv_rsa, cli_ec.cert, cli_ec.cert_len, NULL, NULL, 1};
	struct tls_config c2 = {&cli_ec, srv_rsa.cert, srv_rsa.cert_len, NULL, NULL, 0};
	run_pair(&s2, &c2, 0, &srv, &cli);
	CHECK_INT(srv.rc, 0);
	CHECK_INT(cli.rc, 0);
	CHECK(has(cli.cipher, "ECDHE-RSA-"));
}

/* The impostor has a fresh key and a certificate with the same CN and names. */
static void test_pinned_wrong_server(void)
{
	struct server srv;
	struct client_result cli;
	struct tls_config s = {&impostor, cli_ec.cert, cli_ec.cert_len, NULL, NULL, 1};
	struct tls_config c = {&cli_ec, srv_ec.cert, srv_ec.cert_len, NULL, NULL, 0};
	run_pair(&s, &c, 10, &srv, &cli);
	CHECK_INT(cli.rc, -1);
	CHECK(has(cli.err, "TLS handshake: peer certificate is not the pinned certificate"));
	CHECK_INT(srv.rc, -1);
	CHECK(has(srv.err, "TLS handshake"));
}

static void test_pinned_wrong_client(void)
{
	struct server srv;
	struct client_result cli;
	struct tls_config s = {&srv_ec, cli_ec.cert, cli_ec.cert_len, NULL, NULL, 1};
	struct tls_config c = {&impostor, srv_ec.cert, srv_ec.cert_len, NULL, NULL, 0};
	run_pair(&s, &c, 10, &srv, &cli);
	CHECK_INT(srv.rc, -1);
	CHECK(has(srv.err, "peer certificate is not the pinned certificate"));
	CHECK_INT(cli.rc, -1);
	CHECK(has(cli.err, "peer sent fatal alert 42 (bad_certificate)"));
	/* No client certificate at all. */
	struct tls_config anon = {NULL, srv_ec.cert, srv_ec.cert_len, NULL, NULL, 0};
	run_pair(&s, &anon, 10, &srv, &cli);
	CHECK_INT(srv.rc, -1);
	CHECK(has(srv.err, "client sent no certificate"));
	CHECK_INT(cli.rc, -1);
	CHECK(has(cli.err, "peer sent fatal alert 40 (handshake_failure)"));
	/* The right certificate with the wrong key: the client cannot prove it holds it. */
	static struct x509_identity stolen;
	stolen = cli_ec;
	stolen.key = impostor.key;
	struct tls_config thief = {&stolen, srv_ec.cert, srv_ec.cert_len, NULL, NULL, 0};
	run_pair(&s, &thief, 10, &srv, &cli);
	CHECK_INT(cli.rc, -1);
	CHECK(has(cli.err, "own certificate does not match the private key"));
}

static void test_pinned_expired(void)
{
	struct tls_conn *c = malloc(sizeof(*c));
	struct tls_config cfg = {NULL, expired.cert, expired.cert_len, NULL, NULL, 0};
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK_INT(tls_client_connect(c, sv[0], &cfg), -1);
	CHECK(has(err_msg(), "pinned peer certificate: Certificate is expired"));
	struct tls_config none = {NULL, NULL, 0, NULL, NULL, 0};
	CHECK_INT(tls_client_connect(c, sv[0], &none), -1);
	CHECK(has(err_msg(), "no way to check the server"));
	struct tls_config nokey = {NULL, NULL, 0, NULL, NULL, 0};
	CHECK_INT(tls_server_accept(c, sv[0], &nokey), -1);
	struct tls_config unchecked = {&srv_ec, NULL, 0, NULL, NULL, 1};
	CHECK_INT(tls_server_accept(c, sv[0], &unchecked), -1);
	CHECK(has(err_msg(), "nothing to check them against"));
	tls_wipe(c);
	free(c);
	close(sv[0]);
	close(sv[1]);
}

static struct tls_trust *trust_of(const struct x509_identity *id)
{
	char pem[8192];
	struct tls_trust *t = NULL;
	long n = x509_pem_encode(pem, sizeof(pem), "CERTIFICATE", id->cert, id->cert_len);
	CHECK_INT(tls_trust_from_pem(&t, pem, (size_t)n), 0);
	return t;
}

static void test_ca_trust(void)
{
	struct server srv;
	struct client_result cli;
	struct tls_trust *t_srv = trust_of(&srv_ec), *t_other = trust_of(&impostor);
	struct tls_trust *t_cli = trust_of(&cli_rsa);
	struct tls_config s = {&srv_ec, NULL, 0, NULL, NULL, 0};
	struct tls_config c = {NULL, NULL, 0, t_srv, NULL, 0};
	run_pair(&s, &c, 100000, &srv, &cli);
	CHECK_INT(cli.rc, 0);
	CHECK_INT(srv.rc, 0);
	/* With a host name check: a name in the certificate passes, another does not. */
	c.server_name = "node1.example.com";
	run_pair(&s, &c, 10, &srv, &cli);
	CHECK_INT(cli.rc, 0);
	c.server_name = "other.example.com";
	run_pair(&s, &c, 10, &srv, &cli);
	CHECK_INT(cli.rc, -1);
	CHECK(has(cli.err, "not for this server name"));
	/* The wrong CA: the impostor's certificate has the same subject but another key. */
	struct tls_config wrong = {NULL, NULL, 0, t_other, NULL, 0};
	run_pair(&s, &wrong, 10, &srv, &cli);
	CHECK_INT(cli.rc, -1);
	CHECK(has(cli.err, "TLS handshake: certificate not trusted (no matching CA)"));
	CHECK_INT(srv.rc, -1);
	/* Client certificates checked against a CA file. */
	struct tls_config s_ca = {&srv_ec, NULL, 0, t_cli, NULL, 1};
	struct tls_config c_ok = {&cli_rsa, NULL, 0, t_srv, NULL, 0};
	run_pair(&s_ca, &c_ok, 10, &srv, &cli);
	CHECK_INT(srv.rc, 0);
	CHECK_INT(cli.rc, 0);
	struct tls_config c_bad = {&cli_ec, NULL, 0, t_srv, NULL, 0};
	run_pair(&s_ca, &c_bad, 10, &srv, &cli);
	CHECK_INT(srv.rc, -1);
	CHECK(has(srv.err, "TLS handshake"));
	CHECK_INT(cli.rc, -1);
	tls_trust_free(t_srv);
	tls_trust_free(t_other);
	tls_trust_free(t_cli);
}

static void test_trust_files(void)
{
	struct tls_trust *t = NULL;
	char two[16384];
	ident_write(&srv_ec, "a.pem", NULL);
	ident_write(&cli_rsa, "b.pem", NULL);
	char *cat[] = {"cat", (char *)path("a.pem"), (char *)path("b.pem"), NULL};
	CHECK_INT(proc_run(cat, NULL, two, sizeof(two)), 0);
	CHECK_INT(proc_write_file(path("ab.pem"), two, strlen(two)), 0);
	CHECK_INT(tls_trust_load(&t, path("ab.pem")), 0);
	tls_trust_free(t);
	CHECK(symlink(path("ab.pem"), path("link.pem")) == 0);
	CHECK_INT(tls_trust_load(&t, path("link.pem")), 0); /* CA files may be symlinks */
	tls_trust_free(t);
	CHECK_INT(tls_trust_load(&t, path("none.pem")), -1);
	CHECK(has(err_msg(), "CA file"));
	CHECK_INT(proc_write_file(path("empty.pem"), "hello\n", 6), 0);
	CHECK_INT(tls_trust_load(&t, path("empty.pem")), -1);
	CHECK(has(err_msg(), "no CERTIFICATE"));
	CHECK(t == NULL);
	const char *junk = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
	CHECK_INT(proc_write_file(path("junk.pem"), junk, strlen(junk)), 0);
	CHECK_INT(tls_trust_load(&t, path("junk.pem")), -1);
	CHECK(has(err_msg(), "cannot be decoded"));
}

/* An identity made by openssl (RSA, CA:FALSE) serves, and a CA file holding it trusts it directly. */
static void test_openssl_identity(void)
{
	static struct x509_identity id;
	struct server srv;
	struct client_result cli;
	char *req[] = {"openssl",  "req",
		       "-x509",	   "-newkey",
		       "rsa:2048", "-nodes",
		       "-subj",	   "/CN=leaf.example.com",
		       "-days",	   "1",
		       "-addext",  "basicConstraints=critical,CA:FALSE",
		       "-addext",  "keyUsage=critical,digitalSignature",
		       "-keyout",  (char *)path("leaf.key"),
		       "-out",	   (char *)path("leaf.crt"),
		       NULL};
	CHECK_INT(proc_run(req, NULL, NULL, 0), 0);
	char text[16384];
	char *cat[] = {"cat", (char *)path("leaf.key"), (char *)path("leaf.crt"), NULL};
	CHECK_INT(proc_run(cat, NULL, text, sizeof(text)), 0);
	CHECK_INT(x509_identity_from_pem(&id, text, strlen(text)), 0);
	struct tls_trust *t = NULL;
	CHECK_INT(tls_trust_load(&t, path("leaf.crt")), 0);
	struct tls_config s = {&id, NULL, 0, NULL, NULL, 0};
	struct tls_config c = {NULL, NULL, 0, t, NULL, 0};
	run_pair(&s, &c, 1000, &srv, &cli);
	CHECK_INT(srv.rc, 0);
	CHECK_INT(cli.rc, 0);
	CHECK(has(cli.cipher, "ECDHE-RSA-"));
	tls_trust_free(t);
	x509_identity_wipe(&id);
}

/* A server that stops sending without close_notify: the reader must see an error, not an end. */
static void test_truncation(void)
{
	int sv[2];
	pthread_t t;
	struct server srv = {0};
	struct tls_trust *tr = trust_of(&srv_ec);
	struct tls_config s = {&srv_ec, NULL, 0, NULL, NULL, 0};
	struct tls_config cfg = {NULL, NULL, 0, tr, NULL, 0};
	struct tls_conn *c = malloc(sizeof(*c));
	char buf[64];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	set_timeouts(sv[1], IO_TIMEOUT_SECONDS * 1000);
	srv.cfg = &s;
	srv.fd = sv[0];
	srv.mode = SERVE_CUT;
	pthread_create(&t, NULL, server_main, &srv);
	CHECK_INT(tls_client_connect(c, sv[1], &cfg), 0);
	CHECK_INT(tls_read(c, buf, sizeof(buf)), 12);
	CHECK_INT(tls_read(c, buf, sizeof(buf)), -1);
	CHECK(has(err_msg(), "without TLS close_notify (truncated)"));
	pthread_join(t, NULL);
	tls_wipe(c);
	free(c);
	close(sv[0]);
	close(sv[1]);
	tls_trust_free(tr);
}

/* A relay that flips one bit of client data in flight: the server must refuse the record. */
struct relay {
	int a, b;
	size_t flip_at;
};

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	uint8_t buf[4096];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(r->a, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (total <= r->flip_at && r->flip_at < total + (size_t)n)
			buf[r->flip_at - total] ^= 0x01;
		total += (size_t)n;
		if (write(r->b, buf, (size_t)n) != n) {
			shutdown(r->a, SHUT_RDWR); /* the server hung up: so does the relay */
			break;
		}
	}
	shutdown(r->b, SHUT_WR);
	return NULL;
}

static void *relay_back(void *arg)
{
	struct relay *r = arg;
	uint8_t buf[4096];
	ssize_t n;
	while ((n = read(r->b, buf, sizeof(buf))) > 0)
		if (write(r->a, buf, (size_t)n) != n)
			break;
	shutdown(r->a, SHUT_WR);
	return NULL;
}

static void test_tampered_record(void)
{
	int cs[2], ss[2];
	pthread_t t_srv, t_fwd, t_back;
	struct server srv = {0};
	struct client_result cli;
	struct tls_config s = {&srv_ec, cli_ec.cert, cli_ec.cert_len, NULL, NULL, 1};
	struct tls_config c = {&cli_ec, srv_ec.cert, srv_ec.cert_len, NULL, NULL, 0};
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, cs) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, ss) == 0);
	set_timeouts(cs[1], IO_TIMEOUT_SECONDS * 1000);
	set_timeouts(ss[0], IO_TIMEOUT_SECONDS * 1000);
	struct relay r = {cs[0], ss[1], 500000}; /* well inside the application data */
	srv.cfg = &s;
	srv.fd = ss[0];
	srv.mode = SERVE_DIGEST;
	pthread_create(&t_srv, NULL, server_main, &srv);
	pthread_create(&t_fwd, NULL, relay_main, &r);
	pthread_create(&t_back, NULL, relay_back, &r);
	client_digest(cs[1], &c, 1000000, &cli);
	shutdown(cs[1], SHUT_RDWR);
	pthread_join(t_srv, NULL);
	shutdown(ss[0], SHUT_RDWR);
	pthread_join(t_fwd, NULL);
	pthread_join(t_back, NULL);
	CHECK_INT(srv.rc, -1);
	CHECK(has(srv.err, "bad record MAC"));
	CHECK_INT(cli.rc, -1);
	for (int i = 0; i < 2; i++) {
		close(cs[i]);
		close(ss[i]);
	}
}

static void test_timeout(void)
{
	int sv[2];
	struct tls_trust *tr = trust_of(&srv_ec);
	struct tls_config cfg = {NULL, NULL, 0, tr, NULL, 0};
	struct tls_conn *c = malloc(sizeof(*c));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	set_timeouts(sv[1], 200); /* the peer never answers */
	CHECK_INT(tls_client_connect(c, sv[1], &cfg), -1);
	CHECK(has(err_msg(), "TLS handshake: timed out"));
	tls_wipe(c);
	free(c);
	close(sv[0]);
	close(sv[1]);
	tls_trust_free(tr);
}

/* ---- Independent peers: curl, openssl s_client, openssl s_server ------------ */

static int listen_local(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	set_timeouts(fd, IO_TIMEOUT_SECONDS * 1000); /* accept gives up if no client comes */
	return fd;
}

/* Serves one connection in MODE on a loopback port while ARGV (with "@PORT" substituted) runs. */
static int with_server(const struct tls_config *cfg, enum server_mode mode, char **argv,
		       const char *in, char *out, size_t cap, struct server *srv)
{
	int port;
	pthread_t t;
	char portbuf[64], url[128];
	memset(srv, 0, sizeof(*srv));
	srv->listen_fd = listen_local(&port);
	srv->fd = -1;
	srv->cfg = cfg;
	srv->mode = mode;
	snprintf(portbuf, sizeof(portbuf), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/2/info", port);
	for (int i = 0; argv[i]; i++) {
		if (strcmp(argv[i], "@PORT") == 0)
			argv[i] = portbuf;
		else if (strcmp(argv[i], "@URL") == 0)
			argv[i] = url;
	}
	pthread_create(&t, NULL, server_main, srv);
	int rc = proc_run(argv, in, out, cap);
	/* If the tool never connected, wake the accept up. */
	shutdown(srv->listen_fd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(srv->listen_fd);
	return rc;
}

static void test_curl(void)
{
	struct server srv;
	char out[4096];
	const struct x509_identity *ids[] = {&srv_ec, &srv_rsa};
	for (int i = 0; i < 2; i++) {
		const struct x509_identity *id = ids[i];
		struct tls_config s = {id, NULL, 0, NULL, NULL, 0};
		ident_write(id, "api.pem", NULL);
		ident_write(&impostor, "other.pem", NULL);
		/* curl checks the host name too: the certificate carries IP 127.0.0.1. */
		char *ok[] = {"curl", "-sS", "--cacert", (char *)path("api.pem"), "@URL", NULL};
		CHECK_INT(with_server(&s, SERVE_HTTP, ok, NULL, out, sizeof(out), &srv), 0);
		CHECK_STR(out, "ok\n");
		CHECK_INT(srv.rc, 0);
		CHECK(has(srv.line, "GET /2/info HTTP/1.1\r\n"));
		/* Another CA file: curl refuses (60: peer certificate cannot be authenticated). */
		char *bad[] = {"curl", "-sS", "--cacert", (char *)path("other.pem"), "@URL", NULL};
		CHECK_INT(with_server(&s, SERVE_HTTP, bad, NULL, out, sizeof(out), &srv), 60);
		CHECK_INT(srv.rc, -1);
		CHECK(has(srv.err, "TLS handshake"));
	}
}

/* Ganeti's RAPI client stack: pycurl over GnuTLS, CA file, no host name check. */
static const char pycurl_script[] =
	"import io, sys, pycurl\n"
	"c = pycurl.Curl(); b = io.BytesIO()\n"
	"c.setopt(pycurl.URL, sys.argv[1]); c.setopt(pycurl.CAINFO, sys.argv[2])\n"
	"c.setopt(pycurl.SSL_VERIFYPEER, True); c.setopt(pycurl.SSL_VERIFYHOST, 0)\n"
	"c.setopt(pycurl.WRITEFUNCTION, b.write)\n"
	"try:\n"
	"    c.perform()\n"
	"except pycurl.error as e:\n"
	"    print('error', e.args[0]); sys.exit(3)\n"
	"sys.stdout.write(b.getvalue().decode())\n";

static int have_pycurl(void)
{
	char *argv[] = {"/usr/bin/python3", "-c", "import pycurl", NULL};
	return access(argv[0], X_OK) == 0 && proc_run(argv, NULL, NULL, 0) == 0;
}

static void test_pycurl_gnutls(void)
{
	struct server srv;
	char out[4096];
	if (!have_pycurl()) {
		printf("SKIP tls:test_pycurl_gnutls: /usr/bin/python3 has no pycurl (python3-pycurl)\n");
		return;
	}
	const struct x509_identity *ids[] = {&srv_ec, &srv_rsa};
	for (int i = 0; i < 2; i++) {
		struct tls_config s = {ids[i], NULL, 0, NULL, NULL, 0};
		ident_write(ids[i], "api.pem", NULL);
		ident_write(&impostor, "other.pem", NULL);
		char *ok[] = {"/usr/bin/python3",      "-c", (char *)pycurl_script, "@URL",
			      (char *)path("api.pem"), NULL};
		CHECK_INT(with_server(&s, SERVE_HTTP, ok, NULL, out, sizeof(out), &srv), 0);
		CHECK_STR(out, "ok\n");
		CHECK_INT(srv.rc, 0);
		char *bad[] = {"/usr/bin/python3",	  "-c", (char *)pycurl_script, "@URL",
			       (char *)path("other.pem"), NULL};
		CHECK_INT(with_server(&s, SERVE_HTTP, bad, NULL, out, sizeof(out), &srv), 3);
		CHECK_STR(out, "error 60\n");
	}
}

static void test_openssl_s_client(void)
{
	struct server srv;
	char out[8192];
	struct tls_config s = {&srv_rsa, NULL, 0, NULL, NULL, 0};
	ident_write(&srv_rsa, "api.pem", NULL);
	ident_write(&impostor, "other.pem", NULL);
	char *ok[] = {"openssl",
		      "s_client",
		      "-connect",
		      "@PORT",
		      "-CAfile",
		      (char *)path("api.pem"),
		      "-verify_return_error",
		      "-quiet",
		      NULL};
	CHECK_INT(with_server(&s, SERVE_LINE, ok, "ping\n", out, sizeof(out), &srv), 0);
	CHECK_STR(out, "pong ping\n");
	CHECK_INT(srv.rc, 0);
	char *bad[] = {"openssl",
		       "s_client",
		       "-connect",
		       "@PORT",
		       "-CAfile",
		       (char *)path("other.pem"),
		       "-verify_return_error",
		       "-quiet",
		       NULL};
	CHECK(with_server(&s, SERVE_LINE, bad, "ping\n", out, sizeof(out), &srv) != 0);
	CHECK_INT(srv.rc, -1);
	/* Each record protection our server offers, chosen by the client (crypto/tls.c chapol_setup). */
	static const char *suites[] = {"ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES128-GCM-SHA256",
				       "ECDHE-RSA-AES256-GCM-SHA384"};
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		char *one[] = {"openssl",	  "s_client",
			       "-connect",	  "@PORT",
			       "-CAfile",	  (char *)path("api.pem"),
			       "-tls1_2",	  "-cipher",
			       (char *)suites[i], "-verify_return_error",
			       "-quiet",	  NULL};
		CHECK_INT(with_server(&s, SERVE_LINE, one, "suite\n", out, sizeof(out), &srv), 0);
		CHECK_STR(out, "pong suite\n");
		CHECK_INT(srv.rc, 0);
	}
	/* Each key exchange curve (crypto/tls.c ec_all: X25519 apart, the NIST curves generic). */
	static const char *groups[] = {"X25519", "P-256", "P-384", "P-521"};
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		char *one[] = {"openssl",	  "s_client",
			       "-connect",	  "@PORT",
			       "-CAfile",	  (char *)path("api.pem"),
			       "-tls1_2",	  "-groups",
			       (char *)groups[i], "-verify_return_error",
			       "-quiet",	  NULL};
		CHECK_INT(with_server(&s, SERVE_LINE, one, "group\n", out, sizeof(out), &srv), 0);
		CHECK_STR(out, "pong group\n");
		CHECK_INT(srv.rc, 0);
	}
	char *none[] = {"openssl", "s_client", "-connect",
			"@PORT",   "-CAfile",  (char *)path("api.pem"),
			"-tls1_2", "-cipher",  "ECDHE-RSA-AES128-SHA",
			"-quiet",  NULL};
	CHECK(with_server(&s, SERVE_LINE, none, "cbc\n", out, sizeof(out), &srv) != 0);
	CHECK_INT(srv.rc, -1);
	/* Client certificates against a server pinning them. */
	ident_write(&cli_ec, "cli.pem", "cli.key");
	struct tls_config pin = {&srv_rsa, cli_ec.cert, cli_ec.cert_len, NULL, NULL, 1};
	char *mtls[] = {"openssl",
			"s_client",
			"-connect",
			"@PORT",
			"-CAfile",
			(char *)path("api.pem"),
			"-cert",
			(char *)path("cli.pem"),
			"-key",
			(char *)path("cli.key"),
			"-verify_return_error",
			"-quiet",
			NULL};
	CHECK_INT(with_server(&pin, SERVE_LINE, mtls, "mutual\n", out, sizeof(out), &srv), 0);
	CHECK_STR(out, "pong mutual\n");
	CHECK_INT(srv.rc, 0);
	char *anon[] = {"openssl", "s_client", "-connect",
			"@PORT",   "-CAfile",  (char *)path("api.pem"),
			"-quiet",  NULL};
	with_server(&pin, SERVE_LINE, anon, "anon\n", out, sizeof(out), &srv);
	CHECK_INT(srv.rc, -1);
	CHECK(has(srv.err, "client sent no certificate"));
}

static char last_cipher[64]; /* the suite of the last s_server_exchange */

/* Our client against openssl s_server -rev (it answers each line reversed). */
static int s_server_exchange(const struct tls_config *cfg, char **extra, const char *line,
			     char *reply, size_t cap, char *err, size_t err_cap)
{
	int port, lfd = listen_local(&port); /* find a free port, then give it to s_server */
	char portbuf[16];
	close(lfd);
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	char *argv[32] = {"openssl",
			  "s_server",
			  "-4",
			  "-accept",
			  portbuf,
			  "-cert",
			  (char *)path("srv.pem"),
			  "-key",
			  (char *)path("srv.key"),
			  "-naccept",
			  "1",
			  "-rev"};
	int n = 12;
	for (int i = 0; extra && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	int ofd;
	pid_t pid = proc_spawn(argv, NULL, &ofd);
	char banner[256];
	size_t bl = 0;
	while (bl + 1 < sizeof(banner) && read(ofd, banner + bl, 1) == 1) {
		banner[++bl] = 0;
		if (strstr(banner, "ACCEPT\n"))
			break;
	}
	int rc = -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	set_timeouts(fd, IO_TIMEOUT_SECONDS * 1000);
	struct tls_conn *c = malloc(sizeof(*c));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(err, err_cap, "connect: %s", strerror(errno));
	} else if (tls_client_connect(c, fd, cfg) < 0 || tls_write(c, line, strlen(line)) < 0) {
		snprintf(err, err_cap, "%s", err_msg());
	} else {
		snprintf(last_cipher, sizeof(last_cipher), "%s", tls_cipher_name(c));
		size_t got = 0;
		while (got + 1 < cap && !memchr(reply, '\n', got)) {
			ssize_t r = tls_read(c, reply + got, cap - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		reply[got] = 0;
		rc = tls_close(c);
		if (rc < 0)
			snprintf(err, err_cap, "%s", err_msg());
	}
	tls_wipe(c);
	free(c);
	close(fd);
	kill(pid, SIGTERM);
	char sink[4096];
	proc_slurp(ofd, sink, sizeof(sink));
	proc_wait(pid);
	return rc;
}

static void test_openssl_s_server(void)
{
	char reply[256] = "", err[ERR_MSG_MAX] = "";
	ident_write(&srv_ec, "srv.pem", "srv.key");
	ident_write(&cli_rsa, "cli.pem", NULL);
	struct tls_trust *t = trust_of(&srv_ec), *other = trust_of(&impostor);
	struct tls_config c = {NULL, NULL, 0, t, NULL, 0};
	CHECK_INT(s_server_exchange(&c, NULL, "hello\n", reply, sizeof(reply), err, sizeof(err)),
		  0);
	CHECK_STR(reply, "olleh\n");
	/* Pinned server certificate, and mutual TLS with s_server requiring a client certificate. */
	struct tls_config pin = {&cli_rsa, srv_ec.cert, srv_ec.cert_len, NULL, NULL, 0};
	char *verify[] = {
		"-Verify", "1", "-CAfile", (char *)path("cli.pem"), "-verify_return_error", NULL};
	reply[0] = 0;
	CHECK_INT(
		s_server_exchange(&pin, verify, "mutual\n", reply, sizeof(reply), err, sizeof(err)),
		0);
	CHECK_STR(reply, "lautum\n");
	/* Without a client certificate s_server refuses us. */
	CHECK_INT(s_server_exchange(&c, verify, "x\n", reply, sizeof(reply), err, sizeof(err)), -1);
	CHECK(has(err, "alert"));
	/* The wrong CA: we refuse s_server. */
	struct tls_config wrong = {NULL, NULL, 0, other, NULL, 0};
	CHECK_INT(s_server_exchange(&wrong, NULL, "x\n", reply, sizeof(reply), err, sizeof(err)),
		  -1);
	CHECK(has(err, "TLS handshake"));
	tls_trust_free(t);
	tls_trust_free(other);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	ident_make(&srv_ec, X509_KEY_EC, "node1.example.com", 0, 86400);
	ident_make(&srv_rsa, X509_KEY_RSA, "node1.example.com", 0, 86400);
	ident_make(&cli_ec, X509_KEY_EC, "node2.example.com", 0, 86400);
	ident_make(&cli_rsa, X509_KEY_RSA, "node2.example.com", 0, 86400);
	ident_make(&impostor, X509_KEY_EC, "node1.example.com", 0, 86400);
	ident_make(&expired, X509_KEY_EC, "node1.example.com", time(NULL) - 3 * 86400, 86400);
	RUN(test_pinned_mutual);
	RUN(test_pinned_wrong_server);
	RUN(test_pinned_wrong_client);
	RUN(test_pinned_expired);
	RUN(test_ca_trust);
	RUN(test_trust_files);
	RUN(test_openssl_identity);
	RUN(test_truncation);
	RUN(test_tampered_record);
	RUN(test_timeout);
	RUN(test_curl);
	RUN(test_pycurl_gnutls);
	RUN(test_openssl_s_client);
	RUN(test_openssl_s_server);
	proc_rm_dir(dir);
	return CHECK_DONE();
}
