/* Unit tests of core/jobq: job lifecycle, Ganeti's wait semantics, cancel, records on disk, recovery after a restart. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/jobq.h"
#include "core/json.h"
#include "test/unit/check.h"

#define CHECK_SUITE "jobq"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ferry-jobq.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static void remove_dir(void)
{
	file_remove_tree(AT_FDCWD, dir);
}

/* A job that says it started, logs "hello", then waits for a byte on a pipe. */
struct gate {
	int started[2]; /* job -> test */
	int go[2];	/* test -> job */
	int sock[2];	/* for cancel tests: the job reads sock[0] */
	int watch;
};

static void gate_job(struct job *j, void *arg)
{
	struct gate *g = arg;
	char c = 0;
	job_message(j, "hello %d", 42);
	if (g->watch && job_watch_fd(j, g->sock[0]) < 0) {
		job_fail(j, "OpExecError", err_msg(), NULL);
		return;
	}
	if (write(g->started[1], "s", 1) != 1)
		abort();
	if (g->watch) {
		ssize_t r = read(g->sock[0], &c, 1);
		job_unwatch_fd(j, g->sock[0]);
		if (r <= 0) {
			job_fail(j, "OpExecError", "the socket was shut down", NULL);
			return;
		}
	} else if (read(g->go[0], &c, 1) != 1) {
		abort();
	}
	if (c == 'f')
		job_fail(j, "OpPrereqError", "it went wrong", "wrong_input");
	else
		job_succeed(j, "{\"answer\":[1,2]}");
}

static void gate_init(struct gate *g, int watch)
{
	memset(g, 0, sizeof(*g));
	if (pipe(g->started) < 0 || pipe(g->go) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, g->sock) < 0)
		abort();
	g->watch = watch;
}

static void gate_close(struct gate *g)
{
	close(g->started[0]);
	close(g->started[1]);
	close(g->go[0]);
	close(g->go[1]);
	close(g->sock[0]);
	close(g->sock[1]);
}

static void wait_started(struct gate *g)
{
	char c;
	if (read(g->started[0], &c, 1) != 1)
		abort();
}

/* jobq_wait with FIELDS_TEXT and PREV_TEXT (NULL: none); returns the answer text. */
static char *wait_text(struct jobq *q, int64_t id, const char *fields_text, const char *prev_text,
		       int64_t serial, int timeout_ms, int *rc)
{
	struct json_doc f = {0}, p = {0};
	char *out = NULL;
	json_parse(&f, fields_text, strlen(fields_text));
	if (prev_text)
		json_parse(&p, prev_text, strlen(prev_text));
	*rc = jobq_wait(q, id, f.root, prev_text ? p.root : NULL, serial, timeout_ms, &out, NULL);
	json_doc_free(&f);
	json_doc_free(&p);
	return out;
}

/* The text of the member path KEY of JSON text TEXT, e.g. "job_info". */
static char *member(const char *text, const char *key)
{
	struct json_doc d = {0};
	struct json_writer w;
	char *out = NULL;
	if (json_parse(&d, text, strlen(text)) < 0)
		return strdup("(unparsable)");
	const struct json *v = json_get(d.root, key);
	json_writer_init(&w, JSON_WRITE_SORTED);
	if (v)
		json_write_value(&w, v);
	else
		json_write_string(&w, "(missing)");
	json_writer_finish(&w, &out, NULL);
	json_doc_free(&d);
	return out;
}

static void test_lifecycle(void)
{
	struct jobq *q;
	struct gate g;
	int rc;
	make_dir();
	gate_init(&g, 0);
	if (!CHECK(jobq_open(&q, dir, NULL, NULL) == 0))
		return;
	int64_t id = jobq_submit(q, "{\"OP_ID\":\"OP_TEST\",\"instance_name\":\"web\"}",
				 "TEST(web)", gate_job, &g, NULL);
	CHECK_INT(id, 1);
	wait_started(&g);
	CHECK_INT(jobq_running(q), 1);

	/* first wait (no previous info): answers at once with the state and the log */
	char *a = wait_text(q, id, "[\"status\"]", NULL, -1, 5000, &rc);
	CHECK_INT(rc, 0);
	char *info = member(a, "job_info");
	CHECK_STR(info, "[\"running\"]");
	free(info);
	struct json_doc d = {0};
	CHECK(json_parse(&d, a, strlen(a)) == 0);
	const struct json *e = json_at(json_get(d.root, "log_entries"), 0);
	int64_t serial = 0, usec = -1;
	const char *msg = NULL, *type = NULL;
	CHECK(e && json_as_int(json_at(e, 0), &serial) == 0 && serial == 1);
	CHECK(e && json_as_int(json_at(json_at(e, 1), 1), &usec) == 0 && usec >= 0 &&
	      usec <= 999999);
	CHECK(e && json_as_string(json_at(e, 2), &type, NULL) == 0 && !strcmp(type, "message"));
	CHECK(e && json_as_string(json_at(e, 3), &msg, NULL) == 0 && !strcmp(msg, "hello 42"));
	json_doc_free(&d);
	free(a);

	/* nothing new: null once the (short) timeout passed */
	a = wait_text(q, id, "[\"status\"]", "[\"running\"]", 1, 200, &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(a, "null");
	free(a);
	/* an older serial: the entry again, at once */
	a = wait_text(q, id, "[\"status\"]", "[\"running\"]", 0, 5000, &rc);
	info = member(a, "log_entries");
	CHECK(strstr(info, "hello 42") != NULL);
	free(info);
	free(a);

	/* the job ends while we wait */
	CHECK(write(g.go[1], "k", 1) == 1);
	a = wait_text(q, id, "[\"status\",\"opresult\"]", "[\"running\",[null]]", 1, 30000, &rc);
	CHECK_INT(rc, 0);
	info = member(a, "job_info");
	CHECK_STR(info, "[\"success\",[{\"answer\":[1,2]}]]");
	free(info);
	info = member(a, "log_entries");
	CHECK_STR(info, "[]");
	free(info);
	free(a);
	/* a finished job answers at once even when nothing changed */
	a = wait_text(q, id, "[\"status\"]", "[\"success\"]", 1, 30000, &rc);
	info = member(a, "job_info");
	CHECK_STR(info, "[\"success\"]");
	free(info);
	free(a);

	/* the record */
	char *rec = NULL;
	size_t len;
	CHECK_INT(jobq_get(q, id, &rec, &len), 0);
	char *v = member(rec, "status");
	CHECK_STR(v, "\"success\"");
	free(v);
	v = member(rec, "ops");
	CHECK_STR(v, "[{\"OP_ID\":\"OP_TEST\",\"instance_name\":\"web\"}]");
	free(v);
	v = member(rec, "summary");
	CHECK_STR(v, "[\"TEST(web)\"]");
	free(v);
	v = member(rec, "opstatus");
	CHECK_STR(v, "[\"success\"]");
	free(v);
	v = member(rec, "id");
	CHECK_STR(v, "1");
	free(v);

	/* a failing job: its op result says why, Ganeti style */
	int64_t id2 = jobq_submit(q, "{\"OP_ID\":\"OP_TEST\"}", "TEST", gate_job, &g, NULL);
	CHECK_INT(id2, 2);
	wait_started(&g);
	CHECK(write(g.go[1], "f", 1) == 1);
	a = wait_text(q, id2, "[\"status\",\"opresult\"]", "[\"running\",[null]]", 2, 30000, &rc);
	info = member(a, "job_info");
	CHECK_STR(info, "[\"error\",[[\"OpPrereqError\",[\"it went wrong\",\"wrong_input\"]]]]");
	free(info);
	free(a);

	char *list = NULL;
	CHECK_INT(jobq_list(q, &list, NULL), 0);
	CHECK_STR(list, "[{\"id\":1,\"uri\":\"/2/jobs/1\"},{\"id\":2,\"uri\":\"/2/jobs/2\"}]");
	free(list);
	CHECK_INT(jobq_shutdown(q, 5000), 0);
	/* once the job threads ended, the file on disk is what GET answered */
	char *disk = NULL;
	size_t dlen;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(file_read_all(dfd, "1", 1 << 20, &disk, &dlen) == 0);
	close(dfd);
	CHECK(disk && rec && dlen == len && memcmp(disk, rec, len) == 0);
	free(rec);
	free(disk);
	jobq_close(q);
	gate_close(&g);
	remove_dir();
}

static void test_errors(void)
{
	struct jobq *q;
	int rc;
	char *out = NULL;
	make_dir();
	if (!CHECK(jobq_open(&q, dir, NULL, NULL) == 0))
		return;
	CHECK_INT(jobq_get(q, 99, &out, NULL), 1);
	CHECK_INT(jobq_cancel(q, 99, &out, NULL), 1);
	free(wait_text(q, 99, "[\"status\"]", NULL, -1, 100, &rc));
	CHECK_INT(rc, 1);
	struct gate g;
	gate_init(&g, 0);
	int64_t id = jobq_submit(q, "{\"OP_ID\":\"OP_TEST\"}", "TEST", gate_job, &g, NULL);
	wait_started(&g);
	free(wait_text(q, id, "[\"status\",\"nonsense\"]", NULL, -1, 100, &rc));
	CHECK_INT(rc, 2);
	CHECK(strstr(err_msg(), "unknown job field 'nonsense'") != NULL);
	free(wait_text(q, id, "{\"status\":1}", NULL, -1, 100, &rc));
	CHECK_INT(rc, 2);
	free(wait_text(q, id, "[1]", NULL, -1, 100, &rc));
	CHECK_INT(rc, 2);
	/* a malformed op is refused before anything is recorded */
	CHECK_INT(jobq_submit(q, "{\"OP_ID\":", "X", gate_job, &g, NULL), -1);
	CHECK(write(g.go[1], "k", 1) == 1);
	CHECK_INT(jobq_shutdown(q, 5000), 0);
	/* no new jobs once stopping */
	CHECK_INT(jobq_submit(q, "{}", "X", gate_job, &g, NULL), -1);
	CHECK(strstr(err_msg(), "shutting down") != NULL);
	jobq_close(q);
	gate_close(&g);
	remove_dir();
}

static void test_cancel(void)
{
	struct jobq *q;
	struct gate g;
	char *out = NULL;
	int rc;
	make_dir();
	gate_init(&g, 1);
	if (!CHECK(jobq_open(&q, dir, NULL, NULL) == 0))
		return;
	int64_t id = jobq_submit(q, "{\"OP_ID\":\"OP_TEST\"}", "TEST", gate_job, &g, NULL);
	wait_started(&g); /* it is blocked in read() on a watched socket */
	CHECK_INT(jobq_cancel(q, id, &out, NULL), 0);
	CHECK_STR(out, "[true,\"Job 1 will be canceled\"]");
	free(out);
	char *a = wait_text(q, id, "[\"status\"]", "[\"canceling\"]", 1, 30000, &rc);
	char *info = member(a, "job_info");
	CHECK_STR(info, "[\"canceled\"]");
	free(info);
	free(a);
	CHECK_INT(jobq_get(q, id, &out, NULL), 0);
	info = member(out, "opresult");
	CHECK_STR(info, "[[\"OpExecError\",[\"the socket was shut down\"]]]");
	free(info);
	free(out);
	CHECK_INT(jobq_cancel(q, id, &out, NULL), 0);
	CHECK_STR(out, "[false,\"Job 1 has already finished\"]");
	free(out);

	/* the queue's limit */
	struct gate many[JOBQ_RUNNING_MAX];
	for (int i = 0; i < JOBQ_RUNNING_MAX; i++) {
		gate_init(&many[i], 0);
		CHECK(jobq_submit(q, "{}", "X", gate_job, &many[i], NULL) > 0);
	}
	CHECK_INT(jobq_submit(q, "{}", "X", gate_job, &g, NULL), -1);
	CHECK(strstr(err_msg(), "too many jobs running") != NULL);
	for (int i = 0; i < JOBQ_RUNNING_MAX; i++) {
		wait_started(&many[i]);
		CHECK(write(many[i].go[1], "k", 1) == 1);
	}
	CHECK_INT(jobq_shutdown(q, 30000), 0);
	for (int i = 0; i < JOBQ_RUNNING_MAX; i++)
		gate_close(&many[i]);

	/* shutdown cancels what still runs */
	jobq_close(q);
	gate_close(&g);
	gate_init(&g, 1);
	CHECK(jobq_open(&q, dir, NULL, NULL) == 0);
	id = jobq_submit(q, "{}", "X", gate_job, &g, NULL);
	wait_started(&g);
	CHECK_INT(jobq_shutdown(q, 30000), 0);
	CHECK_INT(jobq_get(q, id, &out, NULL), 0);
	info = member(out, "status");
	CHECK_STR(info, "\"canceled\"");
	free(info);
	free(out);
	jobq_close(q);
	gate_close(&g);
	remove_dir();
}

static int recovered;
static int64_t recovered_id;
static char recovered_name[64];

static int recover_cb(void *ctx, int64_t id, const struct json *op)
{
	const char *name = "";
	recovered++;
	recovered_id = id;
	json_get_string(op, "instance_name", &name);
	snprintf(recovered_name, sizeof(recovered_name), "%s", name);
	return ctx ? err_set("could not remove it") : 0;
}

static void write_record(int dfd, const char *name, const char *text)
{
	if (file_write_atomic(dfd, name, text, strlen(text), 0600) < 0)
		abort();
}

static void test_recovery(void)
{
	struct jobq *q;
	char *out;
	make_dir();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	write_record(dfd, "3",
		     "{\"end_ts\":[5,0],\"id\":3,\"oplog\":[[]],\"opresult\":[1],\"ops\":[{}],"
		     "\"opstatus\":[\"success\"],\"received_ts\":[1,0],\"start_ts\":[2,0],"
		     "\"status\":\"success\",\"summary\":[\"X\"]}");
	write_record(dfd, "7",
		     "{\"end_ts\":null,\"id\":7,\"oplog\":[[[1,[3,4],\"message\",\"began\"]]],"
		     "\"opresult\":[null],\"ops\":[{\"OP_ID\":\"OP_X\",\"instance_name\":\"web\"}],"
		     "\"opstatus\":[\"running\"],\"received_ts\":[1,0],\"start_ts\":[2,0],"
		     "\"status\":\"running\",\"summary\":[\"X(web)\"]}");
	write_record(dfd, ".7.tmp123", "garbage");
	recovered = 0;
	if (!CHECK(jobq_open(&q, dir, recover_cb, NULL) == 0)) {
		fprintf(stderr, "    %s\n", err_msg());
		return;
	}
	CHECK_INT(recovered, 1);
	CHECK_INT(recovered_id, 7);
	CHECK_STR(recovered_name, "web");
	CHECK_INT(jobq_get(q, 7, &out, NULL), 0);
	char *v = member(out, "status");
	CHECK_STR(v, "\"error\"");
	free(v);
	v = member(out, "opresult");
	CHECK_STR(v, "[[\"OpExecError\",[\"the API server stopped while the job ran\"]]]");
	free(v);
	v = member(out, "oplog");
	CHECK(strstr(v, "[1,[3,4],\"message\",\"began\"]") != NULL);
	CHECK(strstr(v, "[2,[") != NULL && strstr(v, "the API server stopped") != NULL);
	free(v);
	free(out);
	/* finished jobs are left as they were, and ids go on */
	CHECK_INT(jobq_get(q, 3, &out, NULL), 0);
	v = member(out, "opresult");
	CHECK_STR(v, "[1]");
	free(v);
	free(out);
	struct gate g;
	gate_init(&g, 0);
	CHECK_INT(jobq_submit(q, "{}", "X", gate_job, &g, NULL), 8);
	wait_started(&g);
	CHECK(write(g.go[1], "k", 1) == 1);
	CHECK_INT(jobq_shutdown(q, 30000), 0);
	jobq_close(q);
	gate_close(&g);

	/* a cleanup that fails is written into the job's log */
	write_record(dfd, "9",
		     "{\"id\":9,\"oplog\":[[]],\"ops\":[{\"instance_name\":\"db\"}],"
		     "\"status\":\"queued\"}");
	CHECK(jobq_open(&q, dir, recover_cb, (void *)1) == 0);
	CHECK_INT(jobq_get(q, 9, &out, NULL), 0);
	CHECK(strstr(out, "cleaning up after the interrupted job failed: could not remove it"));
	free(out);
	jobq_close(q);
	/* a damaged record stops the server from starting blind */
	write_record(dfd, "10", "{\"id\":");
	CHECK_INT(jobq_open(&q, dir, NULL, NULL), -1);
	CHECK(strstr(err_msg(), "job record") != NULL);
	close(dfd);
	remove_dir();
}

int main(void)
{
	RUN(test_lifecycle);
	RUN(test_errors);
	RUN(test_cancel);
	RUN(test_recovery);
	return CHECK_DONE();
}
