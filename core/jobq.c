/* Background jobs of the cluster API in Ganeti's job model: threads, persistent records, logs with serials, long-poll waits, cancel. */
#include "core/jobq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"

struct job_ts {
	int set;
	int64_t sec, usec;
};

struct job_entry {
	int64_t serial;
	int64_t sec, usec;
	char *type;
	char *msg; /* JSON text */
};

struct job {
	struct jobq *q;
	int64_t id;
	enum job_status status;
	char *op;      /* JSON object text */
	char *summary; /* plain text */
	struct job_ts received, started, ended;
	struct job_entry *log;
	size_t nlog, caplog;
	int64_t dropped; /* log entries not kept beyond JOB_LOG_MAX */
	char *result;	 /* JSON text of the op result, NULL until the end */
	int done;	 /* ended by job_succeed or job_fail */
	int cancel;
	int fds[JOB_WATCH_FDS];
	size_t nfds;
	uint64_t gen; /* bumped on every change: what waiters watch */
	int thread_live;
	int pins; /* callers outside q->mu still using the job: not evicted */
	job_fn *fn;
	void *arg;
	void (*free_arg)(void *);
	pthread_mutex_t persist_mu; /* orders record writes of this job */
	struct job *next;	    /* in q->jobs, newest first */
};

struct jobq {
	pthread_mutex_t mu;
	pthread_cond_t changed; /* broadcast on every job change */
	int dirfd;
	char dir[4096];
	int64_t next_id;
	int stopping;
	int running; /* threads of jobs started and not yet returned */
	size_t nfinished;
	struct job *jobs;
};

static const char *const status_names[] = {
	[JOB_QUEUED] = "queued",   [JOB_WAITING] = "waiting",	[JOB_CANCELING] = "canceling",
	[JOB_RUNNING] = "running", [JOB_CANCELED] = "canceled", [JOB_SUCCESS] = "success",
	[JOB_ERROR] = "error",
};

const char *jobq_status_name(enum job_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s]
									    : "unknown";
}

static void now_ts(struct job_ts *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	t->set = 1;
	t->sec = ts.tv_sec;
	t->usec = ts.tv_nsec / 1000;
}

/* ---- Records ------------------------------------------------------------------------- */

static void write_ts(struct json_writer *w, const struct job_ts *t)
{
	if (!t->set) {
		json_write_null(w);
		return;
	}
	json_write_array_begin(w);
	json_write_int(w, t->sec);
	json_write_int(w, t->usec);
	json_write_array_end(w);
}

static void write_entry(struct json_writer *w, const struct job_entry *e)
{
	json_write_array_begin(w);
	json_write_int(w, e->serial);
	json_write_array_begin(w);
	json_write_int(w, e->sec);
	json_write_int(w, e->usec);
	json_write_array_end(w);
	json_write_string(w, e->type);
	json_write_raw(w, e->msg, strlen(e->msg));
	json_write_array_end(w);
}

/* The record (GET /2/jobs/ID) of J into *OUT; under q->mu. 0 or -1. */
static int record_text(const struct job *j, char **out, size_t *len)
{
	struct json_writer w;
	const char *st = jobq_status_name(j->status);
	json_writer_init(&w, 0);
	json_write_object_begin(&w);
	json_write_key(&w, "end_ts");
	write_ts(&w, &j->ended);
	json_write_key(&w, "id");
	json_write_int(&w, j->id);
	json_write_key(&w, "oplog");
	json_write_array_begin(&w);
	json_write_array_begin(&w);
	for (size_t i = 0; i < j->nlog; i++)
		write_entry(&w, &j->log[i]);
	json_write_array_end(&w);
	json_write_array_end(&w);
	json_write_key(&w, "opresult");
	json_write_array_begin(&w);
	if (j->result)
		json_write_raw(&w, j->result, strlen(j->result));
	else
		json_write_null(&w);
	json_write_array_end(&w);
	json_write_key(&w, "ops");
	json_write_array_begin(&w);
	json_write_raw(&w, j->op, strlen(j->op));
	json_write_array_end(&w);
	json_write_key(&w, "opstatus");
	json_write_array_begin(&w);
	json_write_string(&w, st);
	json_write_array_end(&w);
	json_write_key(&w, "received_ts");
	write_ts(&w, &j->received);
	json_write_key(&w, "start_ts");
	write_ts(&w, &j->started);
	json_write_key(&w, "status");
	json_write_string(&w, st);
	json_write_key(&w, "summary");
	json_write_array_begin(&w);
	json_write_string(&w, j->summary);
	json_write_array_end(&w);
	json_write_object_end(&w);
	return json_writer_finish(&w, out, len);
}

static void record_name(char *buf, size_t cap, int64_t id)
{
	snprintf(buf, cap, "%" PRId64, id);
}

/* Rewrites J's record file. Takes persist_mu, then q->mu briefly. 0 or -1. */
static int persist(struct job *j)
{
	struct jobq *q = j->q;
	char *text = NULL, name[32];
	size_t len;
	pthread_mutex_lock(&j->persist_mu);
	pthread_mutex_lock(&q->mu);
	int r = record_text(j, &text, &len);
	pthread_mutex_unlock(&q->mu);
	if (r == 0) {
		record_name(name, sizeof(name), j->id);
		r = file_write_atomic(q->dirfd, name, text, len, 0600);
	}
	pthread_mutex_unlock(&j->persist_mu);
	free(text);
	return r;
}

/* ---- Memory ----------------------------------------------------------------------------- */

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->nlog; i++) {
		free(j->log[i].type);
		free(j->log[i].msg);
	}
	free(j->log);
	free(j->op);
	free(j->summary);
	free(j->result);
	pthread_mutex_destroy(&j->persist_mu);
	free(j);
}

static struct job *find_job(struct jobq *q, int64_t id)
{
	for (struct job *j = q->jobs; j; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

/* Drops the oldest finished jobs from memory beyond JOBQ_MEMORY_MAX (under q->mu). */
static void evict(struct jobq *q)
{
	while (q->nfinished > JOBQ_MEMORY_MAX) {
		struct job **pp = &q->jobs, **victim = NULL;
		for (; *pp; pp = &(*pp)->next)
			if ((*pp)->done && !(*pp)->thread_live && !(*pp)->pins)
				victim = pp; /* the last one in the list is the oldest */
		if (!victim)
			return;
		struct job *j = *victim;
		*victim = j->next;
		q->nfinished--;
		/* persist_mu is free: a finished job with no thread writes nothing any more */
		job_free(j);
	}
}

/* ---- Opening: recovery of interrupted jobs ----------------------------------------------- */

static int parse_id(const char *name, int64_t *id)
{
	int64_t v = 0;
	if (!name[0] || name[0] == '0')
		return -1;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*id = v;
	return 0;
}

/* Rewrites the record DOC of an interrupted job as failed or canceled. */
static int recover_one(struct jobq *q, const char *name, struct json_doc *doc,
		       job_recover_fn *recover, void *ctx)
{
	const struct json *root = doc->root;
	const char *status = NULL;
	json_get_string(root, "status", &status);
	int canceling = status && strcmp(status, "canceling") == 0;
	int64_t id = 0;
	json_get_int(root, "id", &id);
	const struct json *op = json_at(json_get(root, "ops"), 0);
	char why[ERR_MSG_MAX + 64] = "";
	if (recover && op && recover(ctx, id, op) < 0)
		snprintf(why, sizeof(why), "cleaning up after the interrupted job failed: %s",
			 err_msg());

	struct job_ts now;
	now_ts(&now);
	const char *final = canceling ? "canceled" : "error";
	const char *msg = "the API server stopped while the job ran";
	struct json_writer w;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_object_begin(&w);
	for (size_t i = 0; i < root->len; i++) {
		const struct json *m = &root->u.kids[i];
		if (!strcmp(m->key, "status") || !strcmp(m->key, "opstatus") ||
		    !strcmp(m->key, "opresult") || !strcmp(m->key, "end_ts") ||
		    !strcmp(m->key, "oplog"))
			continue;
		json_write_key(&w, m->key);
		json_write_value(&w, m);
	}
	json_write_key(&w, "status");
	json_write_string(&w, final);
	json_write_key(&w, "opstatus");
	json_write_array_begin(&w);
	json_write_string(&w, final);
	json_write_array_end(&w);
	json_write_key(&w, "opresult");
	json_write_array_begin(&w);
	json_write_array_begin(&w);
	json_write_string(&w, "OpExecError");
	json_write_array_begin(&w);
	json_write_string(&w, msg);
	json_write_array_end(&w);
	json_write_array_end(&w);
	json_write_array_end(&w);
	json_write_key(&w, "end_ts");
	write_ts(&w, &now);
	/* the log keeps its entries and says what happened */
	const struct json *oplog = json_at(json_get(root, "oplog"), 0);
	int64_t serial = 0;
	json_write_key(&w, "oplog");
	json_write_array_begin(&w);
	json_write_array_begin(&w);
	for (size_t i = 0; oplog && oplog->type == JSON_ARRAY && i < oplog->len; i++) {
		const struct json *e = &oplog->u.kids[i];
		const struct json *sv = json_at(e, 0);
		int64_t s;
		if (sv && sv->type == JSON_INT && json_as_int(sv, &s) == 0 && s > serial)
			serial = s;
		json_write_value(&w, e);
	}
	const char *notes[2] = {msg, why[0] ? why : NULL};
	for (int k = 0; k < 2 && notes[k]; k++) {
		struct job_entry e = {.serial = ++serial,
				      .sec = now.sec,
				      .usec = now.usec,
				      .type = (char *)"message"};
		struct json_writer mw;
		json_writer_init(&mw, 0);
		json_write_string(&mw, notes[k]);
		if (json_writer_finish(&mw, &e.msg, NULL) == 0) {
			write_entry(&w, &e);
			free(e.msg);
		}
	}
	json_write_array_end(&w);
	json_write_array_end(&w);
	json_write_object_end(&w);
	char *text;
	size_t len;
	if (json_writer_finish(&w, &text, &len) < 0)
		return err_prefix("job %s", name);
	int r = file_write_atomic(q->dirfd, name, text, len, 0600);
	free(text);
	return r;
}

int jobq_open(struct jobq **out, const char *dir, job_recover_fn *recover, void *ctx)
{
	*out = NULL;
	if (file_mkdir_p(dir, 0700) < 0)
		return -1;
	struct jobq *q = calloc(1, sizeof(*q));
	if (!q)
		return err_set("out of memory");
	if (snprintf(q->dir, sizeof(q->dir), "%s", dir) >= (int)sizeof(q->dir)) {
		free(q);
		return err_set("%s: path too long", dir);
	}
	q->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->dirfd < 0) {
		free(q);
		return err_set_errno("%s", dir);
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->changed, &ca);
	pthread_condattr_destroy(&ca);
	q->next_id = 1;

	int dfd = dup(q->dirfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		err_set_errno("%s", dir);
		jobq_close(q);
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		int64_t id;
		if (parse_id(de->d_name, &id) < 0)
			continue; /* temporary files and anything else */
		if (id >= q->next_id)
			q->next_id = id + 1;
		char *text;
		size_t len;
		struct json_doc doc = {0};
		if (file_read_all(q->dirfd, de->d_name, JOB_RECORD_MAX, &text, &len) < 0) {
			rc = err_prefix("job record %s/%s", dir, de->d_name);
			break;
		}
		int pr = json_parse(&doc, text, len);
		free(text);
		if (pr < 0) {
			rc = err_prefix("job record %s/%s", dir, de->d_name);
			break;
		}
		const char *status = NULL;
		if (json_get_string(doc.root, "status", &status) < 0) {
			json_doc_free(&doc);
			rc = err_prefix("job record %s/%s", dir, de->d_name);
			break;
		}
		if (strcmp(status, "success") && strcmp(status, "error") &&
		    strcmp(status, "canceled") &&
		    recover_one(q, de->d_name, &doc, recover, ctx) < 0) {
			json_doc_free(&doc);
			rc = -1;
			break;
		}
		json_doc_free(&doc);
	}
	closedir(d);
	if (rc < 0) {
		jobq_close(q);
		return -1;
	}
	*out = q;
	return 0;
}

/* ---- Submitting and running ----------------------------------------------------------- */

static void finish_thread(struct job *j)
{
	struct jobq *q = j->q;
	pthread_mutex_lock(&q->mu);
	j->thread_live = 0;
	q->running--;
	if (j->done)
		q->nfinished++;
	evict(q);
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->mu);
}

static void *job_main(void *p)
{
	struct job *j = p;
	struct jobq *q = j->q;
	pthread_mutex_lock(&q->mu);
	int canceled = j->cancel;
	if (!canceled) {
		j->status = JOB_RUNNING;
		now_ts(&j->started);
		j->gen++;
		pthread_cond_broadcast(&q->changed);
	}
	pthread_mutex_unlock(&q->mu);
	if (canceled) {
		job_fail(j, "OpExecError", "Job canceled by request", NULL);
	} else {
		persist(j);
		j->fn(j, j->arg);
		if (!j->done)
			job_fail(j, "OpExecError", "the job ended without a result", NULL);
	}
	if (j->free_arg)
		j->free_arg(j->arg);
	j->arg = NULL;
	finish_thread(j);
	return NULL;
}

int64_t jobq_submit(struct jobq *q, const char *op_json, const char *summary, job_fn *fn, void *arg,
		    void (*free_arg)(void *))
{
	struct job *j = NULL;
	if (json_validate(op_json, strlen(op_json)) < 0) {
		err_prefix("job op");
		goto fail;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->op = strdup(op_json)) || !(j->summary = strdup(summary))) {
		err_set("out of memory");
		goto fail;
	}
	j->q = q;
	j->status = JOB_QUEUED;
	j->fn = fn;
	j->arg = arg;
	j->free_arg = free_arg;
	pthread_mutex_init(&j->persist_mu, NULL);
	now_ts(&j->received);

	pthread_mutex_lock(&q->mu);
	if (q->stopping || q->running >= JOBQ_RUNNING_MAX) {
		int stopping = q->stopping;
		pthread_mutex_unlock(&q->mu);
		err_set(stopping ? "the API server is shutting down"
				 : "too many jobs running (at most %d): try again later",
			JOBQ_RUNNING_MAX);
		goto fail;
	}
	j->id = q->next_id++;
	j->thread_live = 1;
	q->running++;
	j->next = q->jobs;
	q->jobs = j;
	pthread_mutex_unlock(&q->mu);

	if (persist(j) < 0) {
		/* not recorded: the job never existed for anyone */
		char saved[ERR_MSG_MAX];
		snprintf(saved, sizeof(saved), "%s", err_msg());
		pthread_mutex_lock(&q->mu);
		struct job **pp = &q->jobs;
		while (*pp != j)
			pp = &(*pp)->next;
		*pp = j->next;
		q->running--;
		pthread_cond_broadcast(&q->changed);
		pthread_mutex_unlock(&q->mu);
		err_set("record the job: %s", saved);
		goto fail;
	}
	int64_t id = j->id;
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, JOB_STACK_SIZE);
	int e = pthread_create(&t, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		errno = e;
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "could not start the job's thread: %s", strerror(e));
		job_fail(j, "OpExecError", msg, NULL);
		if (free_arg)
			free_arg(arg);
		j->arg = NULL;
		finish_thread(j);
	}
	return id;
fail:
	if (j)
		job_free(j);
	if (free_arg)
		free_arg(arg);
	return -1;
}

int64_t job_id(const struct job *j)
{
	return j->id;
}

int job_cancel_requested(struct job *j)
{
	pthread_mutex_lock(&j->q->mu);
	int c = j->cancel;
	pthread_mutex_unlock(&j->q->mu);
	return c;
}

int job_watch_fd(struct job *j, int fd)
{
	struct jobq *q = j->q;
	pthread_mutex_lock(&q->mu);
	if (j->cancel) {
		pthread_mutex_unlock(&q->mu);
		shutdown(fd, SHUT_RDWR);
		return err_set("canceled");
	}
	if (j->nfds == JOB_WATCH_FDS) {
		pthread_mutex_unlock(&q->mu);
		return err_set("too many sockets for one job");
	}
	j->fds[j->nfds++] = fd;
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void job_unwatch_fd(struct job *j, int fd)
{
	struct jobq *q = j->q;
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < j->nfds; i++)
		if (j->fds[i] == fd) {
			j->fds[i] = j->fds[--j->nfds];
			break;
		}
	pthread_mutex_unlock(&q->mu);
}

/* Appends an entry (under q->mu). MSG is valid JSON. 0 or -1. */
static int log_append(struct job *j, const char *type, const char *msg)
{
	if (j->nlog == j->caplog) {
		size_t ncap = j->caplog ? j->caplog * 2 : 8;
		struct job_entry *n = realloc(j->log, ncap * sizeof(*n));
		if (!n)
			return -1;
		j->log = n;
		j->caplog = ncap;
	}
	struct job_entry *e = &j->log[j->nlog];
	struct job_ts t;
	now_ts(&t);
	e->type = strdup(type);
	e->msg = strdup(msg);
	if (!e->type || !e->msg) {
		free(e->type);
		free(e->msg);
		return -1;
	}
	e->serial = (int64_t)j->nlog + 1 + j->dropped;
	e->sec = t.sec;
	e->usec = t.usec;
	j->nlog++;
	return 0;
}

void job_log(struct job *j, const char *type, const char *msg_json)
{
	struct jobq *q = j->q;
	size_t len = strlen(msg_json);
	if (len > JOB_LOG_MSG_MAX || json_validate(msg_json, len) < 0)
		msg_json = "\"(a log message was malformed or too long and is left out)\"";
	pthread_mutex_lock(&q->mu);
	if (j->nlog + 1 >= JOB_LOG_MAX) {
		int noted = j->nlog + 1 == JOB_LOG_MAX;
		if (noted)
			log_append(j, "message", "\"(further log messages are not kept)\"");
		j->dropped++;
		pthread_mutex_unlock(&q->mu);
		if (noted)
			persist(j);
		return;
	}
	log_append(j, type, msg_json);
	j->gen++;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->mu);
	persist(j);
}

void job_message(struct job *j, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct json_writer w;
	char *msg;
	json_writer_init(&w, 0);
	json_write_string(&w, text);
	if (json_writer_finish(&w, &msg, NULL) < 0)
		return;
	job_log(j, "message", msg);
	free(msg);
}

/* Ends J with STATUS and RESULT (taken over). */
static void job_end(struct job *j, enum job_status status, char *result)
{
	struct jobq *q = j->q;
	pthread_mutex_lock(&q->mu);
	if (j->done) {
		pthread_mutex_unlock(&q->mu);
		free(result);
		return;
	}
	j->done = 1;
	if (status == JOB_ERROR && j->cancel)
		status = JOB_CANCELED;
	j->status = status;
	free(j->result);
	j->result = result;
	now_ts(&j->ended);
	j->nfds = 0;
	j->gen++;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->mu);
	persist(j);
}

void job_succeed(struct job *j, const char *result_json)
{
	char *r = NULL;
	size_t len = strlen(result_json);
	if (len > JOB_RESULT_MAX || json_validate(result_json, len) < 0) {
		job_fail(j, "OpExecError", "the job's result was malformed or too long", NULL);
		return;
	}
	r = strdup(result_json);
	if (!r) {
		job_fail(j, "OpExecError", "out of memory", NULL);
		return;
	}
	job_end(j, JOB_SUCCESS, r);
}

void job_fail(struct job *j, const char *cls, const char *msg, const char *code)
{
	struct json_writer w;
	char *r = NULL;
	json_writer_init(&w, 0);
	json_write_array_begin(&w);
	json_write_string(&w, cls);
	json_write_array_begin(&w);
	json_write_string(&w, msg);
	if (code)
		json_write_string(&w, code);
	json_write_array_end(&w);
	json_write_array_end(&w);
	if (json_writer_finish(&w, &r, NULL) < 0)
		r = strdup("[\"OpExecError\", [\"(unprintable error)\"]]");
	job_end(j, JOB_ERROR, r);
}

/* ---- Queries -------------------------------------------------------------------------------- */

/* Reads the record file of job ID. 0, 1 if none, -1. */
static int read_record(struct jobq *q, int64_t id, char **out, size_t *len)
{
	char name[32];
	record_name(name, sizeof(name), id);
	if (file_read_all(q->dirfd, name, JOB_RECORD_MAX, out, len) < 0)
		return errno == ENOENT ? 1 : -1;
	return 0;
}

int jobq_get(struct jobq *q, int64_t id, char **out, size_t *len)
{
	size_t l;
	pthread_mutex_lock(&q->mu);
	struct job *j = find_job(q, id);
	if (j) {
		int r = record_text(j, out, &l);
		pthread_mutex_unlock(&q->mu);
		if (r == 0 && len)
			*len = l;
		return r;
	}
	pthread_mutex_unlock(&q->mu);
	if (id <= 0)
		return 1;
	int r = read_record(q, id, out, &l);
	if (r == 0 && len)
		*len = l;
	return r;
}

static const char *const wait_fields[] = {"end_ts", "id",	"oplog",       "opresult",
					  "ops",    "opstatus", "received_ts", "start_ts",
					  "status", "summary"};

/*
 * From the record DOC: the job_info for FIELDS and the log entries after
 * PREV_SERIAL, into *INFO (JSON text) and W (an open array gets the
 * entries); *NEW counts them. 0, or 2 for a bad field.
 */
static int view(const struct json *rec, const struct json *fields, int64_t prev_serial, char **info,
		struct json_writer *entries, size_t *nnew)
{
	struct json_writer w;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_array_begin(&w);
	for (size_t i = 0; i < fields->len; i++) {
		const char *f;
		if (json_as_string(&fields->u.kids[i], &f, NULL) < 0) {
			json_writer_free(&w);
			return 2;
		}
		size_t k;
		for (k = 0; k < sizeof(wait_fields) / sizeof(wait_fields[0]); k++)
			if (!strcmp(f, wait_fields[k]))
				break;
		if (k == sizeof(wait_fields) / sizeof(wait_fields[0])) {
			json_writer_free(&w);
			err_set("unknown job field '%.60s'", f);
			return 2;
		}
		const struct json *v = json_get(rec, f);
		if (v)
			json_write_value(&w, v);
		else
			json_write_null(&w);
	}
	json_write_array_end(&w);
	if (json_writer_finish(&w, info, NULL) < 0)
		return -1;
	*nnew = 0;
	const struct json *oplog = json_get(rec, "oplog");
	for (size_t o = 0; oplog && oplog->type == JSON_ARRAY && o < oplog->len; o++) {
		const struct json *ops = &oplog->u.kids[o];
		for (size_t i = 0; ops->type == JSON_ARRAY && i < ops->len; i++) {
			const struct json *e = &ops->u.kids[i];
			int64_t s = 0;
			const struct json *sv = json_at(e, 0);
			if (!sv || json_as_int(sv, &s) < 0 || s <= prev_serial)
				continue;
			json_write_value(entries, e);
			(*nnew)++;
		}
	}
	return 0;
}

/* The canonical text of V (sorted keys), or of null when V is NULL. */
static char *canon(const struct json *v)
{
	struct json_writer w;
	char *out = NULL;
	json_writer_init(&w, JSON_WRITE_SORTED);
	if (v)
		json_write_value(&w, v);
	else
		json_write_null(&w);
	if (json_writer_finish(&w, &out, NULL) < 0)
		return NULL;
	return out;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jobq_wait(struct jobq *q, int64_t id, const struct json *fields, const struct json *prev_info,
	      int64_t prev_serial, int timeout_ms, char **out, size_t *len)
{
	if (!fields || fields->type != JSON_ARRAY) {
		err_set("'fields' must be a list");
		return 2;
	}
	if (timeout_ms < 0 || timeout_ms > JOBQ_WAIT_MS_MAX)
		timeout_ms = JOBQ_WAIT_MS_MAX;
	char *prev = canon(prev_info && prev_info->type != JSON_NULL ? prev_info : NULL);
	if (!prev)
		return -1;
	long long deadline = mono_ms() + timeout_ms;
	int rc = -1;
	for (int last = 0;;) {
		char *text = NULL;
		size_t tlen;
		int fin = 1;
		uint64_t gen = 0;
		pthread_mutex_lock(&q->mu);
		struct job *j = find_job(q, id);
		int r = -1;
		if (j) {
			fin = j->done;
			gen = j->gen;
			r = record_text(j, &text, &tlen);
		}
		int stopping = q->stopping;
		pthread_mutex_unlock(&q->mu);
		if (!j) {
			r = id > 0 ? read_record(q, id, &text, &tlen) : 1;
			if (r == 1) {
				rc = 1;
				break;
			}
		}
		if (r < 0)
			break;
		struct json_doc doc = {0};
		r = json_parse(&doc, text, tlen);
		free(text);
		if (r < 0)
			break;
		struct json_writer w;
		json_writer_init(&w, JSON_WRITE_SORTED);
		json_write_object_begin(&w);
		json_write_key(&w, "log_entries");
		json_write_array_begin(&w);
		char *info = NULL;
		size_t nnew = 0;
		r = view(doc.root, fields, prev_serial, &info, &w, &nnew);
		json_write_array_end(&w);
		json_doc_free(&doc);
		if (r != 0) {
			json_writer_free(&w);
			rc = r;
			break;
		}
		int changed = fin || nnew || strcmp(info, prev) != 0;
		if (changed || last || stopping) {
			if (changed) {
				json_write_key(&w, "job_info");
				json_write_raw(&w, info, strlen(info));
				json_write_object_end(&w);
				free(info);
				rc = json_writer_finish(&w, out, len) < 0 ? -1 : 0;
			} else {
				free(info);
				json_writer_free(&w);
				*out = strdup("null");
				if (len)
					*len = 4;
				rc = *out ? 0 : err_set("out of memory");
			}
			break;
		}
		free(info);
		json_writer_free(&w);
		/* wait for this job to change, the deadline, or the queue to stop */
		pthread_mutex_lock(&q->mu);
		for (;;) {
			j = find_job(q, id);
			if (!j || j->gen != gen || q->stopping)
				break;
			long long left = deadline - mono_ms();
			if (left <= 0) {
				last = 1;
				break;
			}
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += left / 1000;
			ts.tv_nsec += (left % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&q->changed, &q->mu, &ts);
		}
		pthread_mutex_unlock(&q->mu);
	}
	free(prev);
	return rc;
}

/* Requests cancel of J (under q->mu). */
static void cancel_locked(struct jobq *q, struct job *j)
{
	if (j->done || j->cancel)
		return;
	j->cancel = 1;
	if (j->status == JOB_QUEUED || j->status == JOB_RUNNING || j->status == JOB_WAITING)
		j->status = JOB_CANCELING;
	for (size_t i = 0; i < j->nfds; i++)
		shutdown(j->fds[i], SHUT_RDWR);
	j->gen++;
	pthread_cond_broadcast(&q->changed);
}

int jobq_cancel(struct jobq *q, int64_t id, char **out, size_t *len)
{
	char text[128];
	int ok;
	pthread_mutex_lock(&q->mu);
	struct job *j = find_job(q, id);
	if (j) {
		ok = !j->done;
		if (ok) {
			cancel_locked(q, j);
			j->pins++;
		}
	}
	pthread_mutex_unlock(&q->mu);
	if (!j) {
		char *rec;
		size_t l;
		int r = id > 0 ? read_record(q, id, &rec, &l) : 1;
		if (r != 0)
			return r;
		free(rec);
		ok = 0;
	} else if (ok) {
		persist(j);
		pthread_mutex_lock(&q->mu);
		j->pins--;
		pthread_mutex_unlock(&q->mu);
	}
	if (ok)
		snprintf(text, sizeof(text), "[true,\"Job %" PRId64 " will be canceled\"]", id);
	else
		snprintf(text, sizeof(text), "[false,\"Job %" PRId64 " has already finished\"]",
			 id);
	*out = strdup(text);
	if (!*out)
		return err_set("out of memory");
	if (len)
		*len = strlen(text);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int jobq_list(struct jobq *q, char **out, size_t *len)
{
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int dfd = dup(q->dirfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return err_set_errno("%s", q->dir);
	}
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		int64_t id;
		if (parse_id(de->d_name, &id) < 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			int64_t *ni = realloc(ids, ncap * sizeof(*ni));
			if (!ni) {
				free(ids);
				closedir(d);
				return err_set("out of memory");
			}
			ids = ni;
			cap = ncap;
		}
		ids[n++] = id;
	}
	closedir(d);
	qsort(ids, n, sizeof(*ids), id_cmp);
	struct json_writer w;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		char uri[48];
		snprintf(uri, sizeof(uri), "/2/jobs/%" PRId64, ids[i]);
		json_write_object_begin(&w);
		json_write_key(&w, "id");
		json_write_int(&w, ids[i]);
		json_write_key(&w, "uri");
		json_write_string(&w, uri);
		json_write_object_end(&w);
	}
	json_write_array_end(&w);
	free(ids);
	return json_writer_finish(&w, out, len);
}

int jobq_running(struct jobq *q)
{
	pthread_mutex_lock(&q->mu);
	int n = q->running;
	pthread_mutex_unlock(&q->mu);
	return n;
}

int jobq_shutdown(struct jobq *q, int grace_ms)
{
	struct job *to_persist[JOBQ_RUNNING_MAX];
	size_t np = 0;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	for (struct job *j = q->jobs; j; j = j->next)
		if (!j->done && !j->cancel) {
			cancel_locked(q, j);
			if (np < JOBQ_RUNNING_MAX) {
				j->pins++;
				to_persist[np++] = j;
			}
		}
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < np; i++)
		persist(to_persist[i]);
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < np; i++)
		to_persist[i]->pins--;
	pthread_mutex_unlock(&q->mu);
	long long deadline = mono_ms() + grace_ms;
	pthread_mutex_lock(&q->mu);
	while (q->running > 0) {
		long long left = deadline - mono_ms();
		if (left <= 0)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&q->changed, &q->mu, &ts);
	}
	int n = q->running;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void jobq_close(struct jobq *q)
{
	if (!q)
		return;
	struct job *j = q->jobs;
	while (j) {
		struct job *next = j->next;
		job_free(j);
		j = next;
	}
	if (q->dirfd >= 0)
		close(q->dirfd);
	pthread_cond_destroy(&q->changed);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
