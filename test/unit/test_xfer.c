/* Unit tests of core/xfer: a move's data path between two threads on loopback, base and incremental streams, and every refusal. */
#define CHECK_SUITE "xfer"
#include "test/unit/check.h"
#include "test/unit/proc.h"

#include <pthread.h>
#include <sys/socket.h>

#include "core/err.h"
#include "core/file.h"
#include "core/xfer.h"
#include "crypto/x509.h"

static char dir[] = "/tmp/ferry-xfer.XXXXXX";
static struct x509_identity src_id, dst_id, other_id;

static const char *path(const char *name)
{
	static char buf[16][256];
	static int i;
	i = (i + 1) % 16;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int run(char *const argv[])
{
	pid_t pid = proc_spawn(argv, NULL, NULL);
	return pid < 0 ? -1 : proc_wait(pid);
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

/* diff -r --no-dereference A B: the independent oracle. */
static int same_tree(const char *a, const char *b)
{
	char *argv[] = {"diff", "-r", "--no-dereference", (char *)a, (char *)b, NULL};
	return run(argv) == 0;
}

static int has(const char *hay, const char *needle)
{
	if (hay && strstr(hay, needle))
		return 1;
	fprintf(stderr, "    missing \"%s\" in \"%s\"\n", needle, hay ? hay : "(null)");
	return 0;
}

/* The destination, in a thread: accepts one connection and receives until F (or failure). */
struct dst {
	struct xfer_listener l;
	const struct x509_identity *self;
	const uint8_t *peer;
	size_t peer_len;
	const char *magic;
	const char *target, *state;
	int timeout_ms;
	int streams;
	int rc; /* 0: got F and acked; -1: failed (msg) */
	char msg[ERR_MSG_MAX];
	char notes[ERR_MSG_MAX];
};

static void note(void *ctx, const char *m)
{
	struct dst *d = ctx;
	snprintf(d->notes, sizeof(d->notes), "%s", m);
}

static void *dst_main(void *arg)
{
	struct dst *d = arg;
	struct xfer_conn *x = NULL;
	d->rc = -1;
	if (xfer_accept(&d->l, &x, d->self, d->peer, d->peer_len, d->magic, d->timeout_ms, note,
			d) < 0) {
		snprintf(d->msg, sizeof(d->msg), "%s", err_msg());
		return NULL;
	}
	for (;;) {
		struct tree_recv_opts o = {.dst = d->target, .state_dir = d->state};
		int r = xfer_recv_next(x, &o, NULL, NULL);
		if (r < 0) {
			snprintf(d->msg, sizeof(d->msg), "%s", err_msg());
			break;
		}
		if (r == 1) {
			d->rc = xfer_ack_final(x);
			break;
		}
		d->streams++;
	}
	xfer_close(x);
	return NULL;
}

static void dst_start(struct dst *d, pthread_t *t, const char *target, const char *magic)
{
	memset(d, 0, sizeof(*d));
	d->self = &dst_id;
	d->peer = src_id.cert;
	d->peer_len = src_id.cert_len;
	d->magic = magic;
	d->target = path(target);
	d->state = path("dst-state");
	d->timeout_ms = 30000;
	CHECK_INT(xfer_listen(&d->l, "127.0.0.1"), 0);
	CHECK(d->l.port > 0);
	CHECK_INT(pthread_create(t, NULL, dst_main, d), 0);
}

static void dst_join(struct dst *d, pthread_t t)
{
	pthread_join(t, NULL);
	xfer_listener_close(&d->l);
}

static int connect_to(struct dst *d, struct xfer_conn **x, const char *magic)
{
	return xfer_connect(x, "127.0.0.1", d->l.port, &src_id, dst_id.cert, dst_id.cert_len, magic,
			    30000);
}

static void test_move(void)
{
	pthread_t t;
	struct dst d;
	struct xfer_conn *x;
	const char *magic = "fb4ac43ab6b73df33e1c375865e788eb633799c5";
	char *mk[] = {"sh", "-c",
		      "set -e; cd \"$0\"; mkdir -p src/sub; echo hello >src/a; ln -s a src/l;"
		      "head -c 3000000 /dev/urandom >src/sub/big; yes x | head -c 500000 >src/z",
		      dir, NULL};
	CHECK_INT(run(mk), 0);
	dst_start(&d, &t, "got", magic);
	if (!CHECK(connect_to(&d, &x, magic) == 0)) {
		fprintf(stderr, "    %s\n", err_msg());
		return;
	}
	struct tree_send_opts o = {.src = path("src"),
				   .state_dir = path("src-state"),
				   .snapshot = "m1",
				   .compress = 1};
	struct tree_stats st;
	CHECK_INT(xfer_send_tree(x, &o, &st), 0);
	CHECK(st.files == 3);
	/* the destination holds the base now; change the source and send the difference */
	CHECK(same_tree(path("src"), path("got")));
	write_file(path("src/a"), "changed\n");
	unlink(path("src/z"));
	write_file(path("src/new"), "new file\n");
	struct tree_send_opts o2 = {
		.src = path("src"), .state_dir = path("src-state"), .snapshot = "m2", .from = "m1"};
	CHECK_INT(xfer_send_tree(x, &o2, &st), 0);
	CHECK_INT(xfer_send_finish(x), 0);
	CHECK_INT(xfer_wait_final(x, 30000), 0);
	xfer_close(x);
	dst_join(&d, t);
	CHECK_INT(d.rc, 0);
	CHECK_INT(d.streams, 2);
	CHECK(same_tree(path("src"), path("got")));
}

static void test_refusals(void)
{
	pthread_t t;
	struct dst d;
	struct xfer_conn *x = NULL;
	const char *magic = "0123456789abcdef";

	/* a wrong magic: both sides say so */
	dst_start(&d, &t, "r1", magic);
	CHECK_INT(connect_to(&d, &x, "0123456789abcdeX"), -1);
	CHECK(has(err_msg(), "the destination refused the magic: Magic value mismatch"));
	dst_join(&d, t);
	CHECK(has(d.msg, "Magic value mismatch"));

	/* an impostor (a valid certificate, not the relayed one) is refused; waiting goes on */
	dst_start(&d, &t, "r2", magic);
	d.timeout_ms = 3000;
	CHECK_INT(xfer_connect(&x, "127.0.0.1", d.l.port, &other_id, dst_id.cert, dst_id.cert_len,
			       magic, 30000),
		  -1);
	dst_join(&d, t);
	CHECK(has(d.notes, "refused a connection from 127.0.0.1:"));
	CHECK(has(d.msg, "no connection from the source within 3 seconds"));

	/* the source refuses a destination presenting another certificate */
	dst_start(&d, &t, "r3", magic);
	d.self = &other_id;
	d.timeout_ms = 3000;
	CHECK_INT(connect_to(&d, &x, magic), -1);
	CHECK(has(err_msg(), "not the pinned certificate"));
	dst_join(&d, t);

	/* the source fails to read its tree: the destination hears why */
	dst_start(&d, &t, "r4", magic);
	CHECK_INT(connect_to(&d, &x, magic), 0);
	struct tree_send_opts o = {
		.src = path("missing"), .state_dir = path("src-state"), .snapshot = "n1"};
	CHECK_INT(xfer_send_tree(x, &o, NULL), -1);
	xfer_close(x);
	dst_join(&d, t);
	CHECK(has(d.msg, "the source aborted: "));
	CHECK(has(d.msg, "missing"));

	/* the destination cannot take the stream: the source hears why */
	write_file(path("afile"), "in the way\n");
	dst_start(&d, &t, "afile/sub", magic);
	CHECK_INT(connect_to(&d, &x, magic), 0);
	struct tree_send_opts o2 = {
		.src = path("src"), .state_dir = path("src-state"), .snapshot = "n2"};
	CHECK_INT(xfer_send_tree(x, &o2, NULL), -1);
	CHECK(has(err_msg(), "the destination refused the stream: "));
	xfer_close(x);
	dst_join(&d, t);
	CHECK_INT(d.rc, -1);
	/* a failed send records no snapshot */
	CHECK_INT(tree_snapshot_exists(path("src-state"), "n2"), 0);

	/* the source goes away before F: the destination does not take it as complete */
	dst_start(&d, &t, "r5", magic);
	CHECK_INT(connect_to(&d, &x, magic), 0);
	struct tree_send_opts o3 = {
		.src = path("src"), .state_dir = path("src-state"), .snapshot = "n3"};
	CHECK_INT(xfer_send_tree(x, &o3, NULL), 0);
	shutdown(xfer_fd(x), SHUT_RDWR); /* no close_notify, no F */
	xfer_close(x);
	dst_join(&d, t);
	CHECK_INT(d.rc, -1);
	CHECK_INT(d.streams, 1);
	CHECK(has(d.msg, "move channel"));
}

int main(void)
{
	const char *names[] = {"node.example", NULL};
	if (!mkdtemp(dir))
		return 1;
	if (x509_identity_generate(&src_id, X509_KEY_EC, names, 3600) < 0 ||
	    x509_identity_generate(&dst_id, X509_KEY_EC, names, 3600) < 0 ||
	    x509_identity_generate(&other_id, X509_KEY_EC, names, 3600) < 0)
		return 1;
	RUN(test_move);
	RUN(test_refusals);
	file_remove_tree(AT_FDCWD, dir);
	return CHECK_DONE();
}
