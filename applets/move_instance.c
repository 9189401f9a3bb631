/* ferry move-instance: move instances between clusters through their APIs, with Ganeti's interface and semantics. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/http.h"
#include "core/json.h"
#include "core/opt.h"
#include "core/rapiclient.h"
#include "crypto/rand.h"
#include "crypto/tls.h"

static const char usage[] =
	"usage: ferry move-instance [options] SRC-CLUSTER DEST-CLUSTER INSTANCE...\n"
	"\n"
	"Move instances from one cluster to another through their APIs (ferry rapi, or\n"
	"Ganeti RAPI servers), with Ganeti's move-instance options and semantics: the\n"
	"source prepares an export, the destination creates the instance in remote-import\n"
	"mode and listens, the source stops the instance and sends its data directly to the\n"
	"destination over TLS authenticated by the clusters' shared domain secret, then\n"
	"removes its copy. Prints one result line per instance; exits 0 only if every move\n"
	"succeeded (docs/cluster.md).\n"
	"\n"
	"  --src-rapi-port PORT        source API port (default 5080)\n"
	"  --src-ca-file FILE          PEM certificate(s) the source API must match (required)\n"
	"  --src-username USER         source API user\n"
	"  --src-password-file FILE    file holding that user's password (first non-empty line)\n"
	"  --dest-rapi-port PORT       destination API port (default 5080)\n"
	"  --dest-ca-file FILE         destination CA (default: the source's)\n"
	"  --dest-username USER        destination API user (default: the source's)\n"
	"  --dest-password-file FILE   destination password file (default: the source's)\n"
	"  --dest-instance-name NAME   rename the instance on the destination (one instance)\n"
	"  --dest-primary-node NODE    destination node (one instance; not with -I)\n"
	"  --dest-secondary-node NODE  destination secondary node (one instance; not with -I)\n"
	"  --dest-disk-template T      disk template on the destination\n"
	"  -I, --iallocator NAME       destination allocator (default: the destination's)\n"
	"  --compress MODE             data compression: none (default) or lz4 (ferry), as\n"
	"                              both clusters support\n"
	"  -H, --hypervisor-parameters K=V,...  override hypervisor parameters (one instance)\n"
	"  -B, --backend-parameters K=V,...     override backend parameters (one instance)\n"
	"  -O, --os-parameters K=V,...          override OS parameters (one instance)\n"
	"  --net N:K=V,...             override NIC N's parameters (one instance; repeatable)\n"
	"  -p, --parallel N            move N instances at once (default 1)\n"
	"  --opportunistic-tries N     creation attempts with opportunistic locking before a\n"
	"                              normal one (needs -I)\n"
	"  --opportunistic-delay S     seconds between them (default 30, varied by 15%)\n"
	"  --keep-source-instance      keep (and restart) the instance on the source\n"
	"  -v, --verbose               report the steps on stderr\n"
	"  -d, --debug                 also every API request\n";

#define MI_PORT_DEFAULT	     5080
#define MI_OPP_DELAY_DEFAULT 30
#define MI_CANCEL_WAIT_SECONDS                                                                     \
	600 /* after canceling the other side's job, wait this long for its end */
#define MI_PASSWORD_FILE_MAX 4096
#define MI_NAME_MAX	     255
#define MI_NETS_MAX	     32
#define MI_TEMP_NORES	     "temp_insufficient_resources"

/* ---- Options ---------------------------------------------------------------------------------- */

struct opts {
	unsigned src_port, dest_port;
	const char *src_ca, *dest_ca;
	const char *src_user, *dest_user;
	const char *src_pwfile, *dest_pwfile;
	const char *dest_name, *dest_pnode, *dest_snode, *dest_template;
	const char *iallocator;
	const char *compress;
	char *hvparams, *beparams, *osparams; /* JSON objects from K=V lists, or NULL */
	char *nics;			      /* JSON list of NIC override objects, or NULL */
	unsigned parallel;
	int opp_tries_set, opp_delay_set;
	unsigned opp_tries, opp_delay;
	int keep_source;
	int verbose, debug;
};

static struct opts op;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

/* A progress line on stderr (with -v), prefixed like Ganeti's thread names. */
static void info(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const char *who, const char *fmt, ...)
{
	if (!op.verbose)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "move-instance: %s%s%s\n", who ? who : "", who ? ": " : "", line);
	fflush(stderr);
	pthread_mutex_unlock(&log_mu);
}

/*
 * Ganeti's keyval option: "k=v,k2=v2"; "k" alone is true, "no_k" false,
 * "-k" null (reset); "\," keeps a comma in a value. Writes a JSON object.
 */
static char *parse_keyval(const char *s, const char *what)
{
	struct json_writer w;
	char *out = NULL;
	char *copy = strdup(s);
	if (!copy)
		die("out of memory");
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_object_begin(&w);
	char *p = copy;
	while (*p) {
		/* one element, up to an unescaped comma */
		char *e = p, *o = p;
		while (*e && *e != ',') {
			if (*e == '\\' && e[1] == ',')
				e++;
			*o++ = *e++;
		}
		int more = *e == ',';
		*o = 0;
		if (!*p)
			die_usage(usage, "%s: empty element in '%s'", what, s);
		char *eq = strchr(p, '=');
		if (eq) {
			*eq = 0;
			if (!*p)
				die_usage(usage, "%s: empty key in '%s'", what, s);
			json_write_key(&w, p);
			json_write_string(&w, eq + 1);
		} else if (p[0] == '-') {
			json_write_key(&w, p + 1);
			json_write_null(&w);
		} else if (!strncmp(p, "no_", 3)) {
			json_write_key(&w, p + 3);
			json_write_bool(&w, 0);
		} else {
			json_write_key(&w, p);
			json_write_bool(&w, 1);
		}
		p = more ? e + 1 : e;
	}
	json_write_object_end(&w);
	free(copy);
	if (json_writer_finish(&w, &out, NULL) < 0)
		die_usage(usage, "%s: %s", what, err_msg());
	return out;
}

/* --net N:k=v,...: collected, then laid out as a list where index N holds its overrides. */
struct net_opt {
	unsigned idx;
	char *obj;
};
static struct net_opt nets[MI_NETS_MAX];
static size_t nnets;

static void add_net(const char *s)
{
	const char *colon = strchr(s, ':');
	char idx[16];
	if (!colon || (size_t)(colon - s) >= sizeof(idx) || colon == s)
		die_usage(usage, "--net: expected N:key=value,... (got '%s')", s);
	memcpy(idx, s, (size_t)(colon - s));
	idx[colon - s] = 0;
	if (nnets == MI_NETS_MAX)
		die_usage(usage, "--net: at most %d", MI_NETS_MAX);
	nets[nnets].idx = (unsigned)xparse_uint(idx, 0, MI_NETS_MAX - 1, "--net index", usage);
	nets[nnets].obj = parse_keyval(colon + 1, "--net");
	nnets++;
}

static char *nets_json(void)
{
	unsigned max = 0;
	for (size_t i = 0; i < nnets; i++)
		if (nets[i].idx + 1 > max)
			max = nets[i].idx + 1;
	struct json_writer w;
	char *out;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_array_begin(&w);
	for (unsigned k = 0; k < max; k++) {
		const char *obj = "{}";
		for (size_t i = 0; i < nnets; i++)
			if (nets[i].idx == k)
				obj = nets[i].obj;
		json_write_raw(&w, obj, strlen(obj));
	}
	json_write_array_end(&w);
	if (json_writer_finish(&w, &out, NULL) < 0)
		die("--net: %s", err_msg());
	return out;
}

/* Ganeti's ReadOneLineFile(strict): the first non-empty line; a second one is an error. */
static char *read_password(const char *path)
{
	char *text;
	size_t len;
	if (file_read_all(AT_FDCWD, path, MI_PASSWORD_FILE_MAX, &text, &len) < 0) {
		/* file_read_all does not follow a symlink in the last component: allow one */
		char real[4096];
		if (!realpath(path, real) ||
		    file_read_all(AT_FDCWD, real, MI_PASSWORD_FILE_MAX, &text, &len) < 0)
			die_err("password file %s", path);
	}
	char *line = NULL;
	char *p = text, *end = text + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		char *q = e;
		if (q > p && q[-1] == '\r')
			q--;
		if (q > p) {
			if (line) {
				explicit_bzero(text, len);
				die("password file %s: more than one line", path);
			}
			*q = 0;
			line = strdup(p);
		}
		p = e + 1;
	}
	explicit_bzero(text, len);
	free(text);
	if (!line)
		die("password file %s: no password in it", path);
	return line;
}

/* ---- Moves ------------------------------------------------------------------------------------ */

struct move {
	const char *src_name, *dest_name;
	char label[2 * MI_NAME_MAX + 8];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int src_done, dest_done;
	char *src_err, *dest_err; /* set when a side failed */
	struct json_doc inst;	  /* the info job's result */
	const struct json *instinfo;
	char *tags;    /* JSON list, or NULL */
	char *expinfo; /* prepare-export's result (JSON text) */
	char *impinfo; /* the remote-import log message (JSON text) */
	char *result;  /* final text, NULL for success */
};

enum side { SRC, DEST };

static struct rapiclient src_cl, dest_cl;
static const char *src_cluster, *dest_cluster;

static void side_failed(struct move *m, enum side side, const char *msg)
{
	pthread_mutex_lock(&m->mu);
	char **slot = side == SRC ? &m->src_err : &m->dest_err;
	if (!*slot)
		*slot = strdup(msg);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

/* 1 if the other side has failed (we should abort). */
static int other_failed(struct move *m, enum side side)
{
	pthread_mutex_lock(&m->mu);
	int f = (side == SRC ? m->dest_err : m->src_err) != NULL;
	pthread_mutex_unlock(&m->mu);
	return f;
}

static const char *side_name(enum side s)
{
	return s == SRC ? "source" : "destination";
}

/* An API call with -d tracing. */
static int call(struct move *m, enum side side, const char *method, const char *path,
		const char *body, struct json_doc *out, int *status)
{
	struct rapiclient *c = side == SRC ? &src_cl : &dest_cl;
	if (op.debug) {
		pthread_mutex_lock(&log_mu);
		fprintf(stderr, "move-instance: %s%s%s %s %s%s%s\n", m ? m->label : "",
			m ? ": " : "", side_name(side), method, path, body ? " " : "",
			body ? body : "");
		pthread_mutex_unlock(&log_mu);
	}
	return rapiclient_call(c, method, path, body, out, status);
}

/* The job id of a job-submitting answer (a number; a string in Ganeti 2.x). -1 with err_set. */
static int64_t job_id_of(const struct json *v)
{
	uint64_t id;
	if (v->type == JSON_INT && v->u.i > 0)
		return v->u.i;
	if (v->type == JSON_STRING && parse_uint(v->u.s, 1, INT64_MAX, &id) == 0)
		return (int64_t)id;
	return err_set("the answer is not a job id");
}

/* Formats a failed op's result ["OpPrereqError", [msg, code]] into BUF. */
static void op_error_text(const struct json *r, char *buf, size_t cap)
{
	const char *msg = NULL, *code = NULL;
	const struct json *args = json_at(r, 1);
	if (args && args->type == JSON_ARRAY) {
		json_as_string(json_at(args, 0), &msg, NULL);
		if (json_at(args, 1) && json_at(args, 1)->type == JSON_STRING)
			code = json_at(args, 1)->u.s;
	}
	if (msg) {
		snprintf(buf, cap, "%s", msg);
		return;
	}
	struct json_writer w;
	char *text = NULL;
	json_writer_init(&w, 0);
	json_write_value(&w, r);
	if (json_writer_finish(&w, &text, NULL) == 0)
		snprintf(buf, cap, "%s", text);
	else
		snprintf(buf, cap, "(unreadable error)");
	free(text);
	(void)code;
}

typedef void remote_import_fn(struct move *m, const struct json *msg);

/*
 * Ganeti's PollJob over /2/jobs/ID/wait, with the abort the original lacks:
 * when the other side failed, this side's job is canceled (DELETE) and
 * followed until it really ended. 0 with *RESULT holding the job's
 * opresult list (RESULT->root), or -1 with err_set. *CODE (may be NULL)
 * gets the error code of a failed op ("" if none).
 */
static int poll_job(struct move *m, enum side side, int64_t id, remote_import_fn *on_import,
		    struct json_doc *result, char *code, size_t code_cap)
{
	char path[64], wait_path[64];
	char *prev = NULL;
	int64_t serial = -1;
	int canceled = 0;
	time_t cancel_deadline = 0;
	struct json_doc empty = {0};
	*result = empty;
	if (code)
		code[0] = 0;
	snprintf(path, sizeof(path), "/2/jobs/%" PRId64, id);
	snprintf(wait_path, sizeof(wait_path), "/2/jobs/%" PRId64 "/wait", id);
	for (;;) {
		if (!canceled && other_failed(m, side)) {
			struct json_doc d;
			info(m->label, "the %s failed: canceling %s job %" PRId64,
			     side_name(side == SRC ? DEST : SRC), side_name(side), id);
			if (call(m, side, "DELETE", path, NULL, &d, NULL) < 0)
				info(m->label, "cancel of job %" PRId64 " failed: %s", id,
				     err_msg());
			json_doc_free(&d);
			canceled = 1;
			cancel_deadline = time(NULL) + MI_CANCEL_WAIT_SECONDS;
		}
		if (canceled && time(NULL) > cancel_deadline) {
			free(prev);
			return err_set(
				"Aborted (job %" PRId64 " was still running after the cancel)", id);
		}
		char body[512];
		char serial_text[32] = "null";
		if (serial >= 0)
			snprintf(serial_text, sizeof(serial_text), "%" PRId64, serial);
		snprintf(body, sizeof(body),
			 "{\"fields\":[\"status\"],\"previous_job_info\":%s,"
			 "\"previous_log_serial\":%s}",
			 prev ? prev : "null", serial_text);
		struct json_doc d;
		int status;
		if (call(m, side, "GET", wait_path, body, &d, &status) < 0) {
			free(prev);
			if (status == 404)
				return err_set("Job with id %" PRId64 " lost", id);
			return -1;
		}
		if (d.root->type == JSON_NULL) {
			/* nothing changed for a while: the abort check runs at the top */
			json_doc_free(&d);
			continue;
		}
		const struct json *ji = json_get(d.root, "job_info");
		const struct json *le = json_get(d.root, "log_entries");
		const char *st = NULL;
		if (!ji || ji->type != JSON_ARRAY || !le || le->type != JSON_ARRAY ||
		    json_as_string(json_at(ji, 0), &st, NULL) < 0) {
			json_doc_free(&d);
			free(prev);
			return err_set("job %" PRId64 ": malformed wait answer", id);
		}
		for (size_t i = 0; i < le->len; i++) {
			const struct json *e = &le->u.kids[i];
			int64_t s;
			const char *type = NULL;
			if (json_as_int(json_at(e, 0), &s) < 0 ||
			    json_as_string(json_at(e, 2), &type, NULL) < 0 || !json_at(e, 3)) {
				json_doc_free(&d);
				free(prev);
				return err_set("job %" PRId64 ": malformed log entry", id);
			}
			if (s > serial)
				serial = s;
			if (!strcmp(type, "remote-import")) {
				if (!on_import) {
					json_doc_free(&d);
					free(prev);
					return err_set(
						"Received unexpected remote import information");
				}
				on_import(m, json_at(e, 3));
			} else if (json_at(e, 3)->type == JSON_STRING) {
				info(m->label, "%s: %s", side_name(side), json_at(e, 3)->u.s);
			}
		}
		int final = !strcmp(st, "success") || !strcmp(st, "error") ||
			    !strcmp(st, "canceled") || (!canceled && !strcmp(st, "canceling"));
		if (le->len == 0 && final) {
			json_doc_free(&d);
			break;
		}
		struct json_writer w;
		json_writer_init(&w, JSON_WRITE_SORTED);
		json_write_value(&w, ji);
		free(prev);
		prev = NULL;
		if (json_writer_finish(&w, &prev, NULL) < 0) {
			json_doc_free(&d);
			return -1;
		}
		json_doc_free(&d);
	}
	free(prev);
	struct json_doc job;
	if (call(m, side, "GET", path, NULL, &job, NULL) < 0)
		return -1;
	const char *st = NULL;
	json_get_string(job.root, "status", &st);
	const struct json *opres = json_get(job.root, "opresult");
	const struct json *opst = json_get(job.root, "opstatus");
	if (st && !strcmp(st, "success") && opres && opres->type == JSON_ARRAY) {
		*result = job;
		return 0;
	}
	int rc;
	if (st && (!strcmp(st, "canceling") || !strcmp(st, "canceled"))) {
		rc = err_set(canceled ? "Aborted" : "Job was canceled");
	} else {
		char msg[ERR_MSG_MAX] = "";
		for (size_t i = 0; opst && opst->type == JSON_ARRAY && i < opst->len; i++) {
			const char *os = NULL;
			if (json_as_string(&opst->u.kids[i], &os, NULL) == 0 &&
			    !strcmp(os, "error") && json_at(opres, i)) {
				op_error_text(json_at(opres, i), msg, sizeof(msg));
				const struct json *c = json_at(json_at(json_at(opres, i), 1), 1);
				if (code && c && c->type == JSON_STRING)
					snprintf(code, code_cap, "%s", c->u.s);
				break;
			}
		}
		rc = err_set("%s", msg[0] ? msg : "the job failed without saying why");
	}
	json_doc_free(&job);
	return rc;
}

/* Waits until READY(m) or the other side failed. 0, or -1 ("Aborted"). */
static int wait_for(struct move *m, enum side side, int (*ready)(struct move *))
{
	pthread_mutex_lock(&m->mu);
	for (;;) {
		if (ready(m)) {
			pthread_mutex_unlock(&m->mu);
			return 0;
		}
		if ((side == SRC ? m->dest_err : m->src_err) != NULL) {
			pthread_mutex_unlock(&m->mu);
			return err_set("Aborted");
		}
		pthread_cond_wait(&m->cv, &m->mu);
	}
}

static int have_src_info(struct move *m)
{
	return m->instinfo && m->expinfo;
}

static int have_imp_info(struct move *m)
{
	return m->impinfo != NULL;
}

/* Text of JSON value V. */
static char *json_text(const struct json *v)
{
	struct json_writer w;
	char *out = NULL;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_value(&w, v);
	if (json_writer_finish(&w, &out, NULL) < 0)
		return NULL;
	return out;
}

/* ---- The source side ----------------------------------------------------------------------- */

/* Path "/2/instances/NAME" + SUFFIX (NAME percent-encoded). */
static void inst_path(char *buf, size_t cap, const char *name, const char *suffix)
{
	char enc[3 * MI_NAME_MAX + 1];
	if (http_pct_encode(enc, sizeof(enc), name, strlen(name)) < 0)
		snprintf(enc, sizeof(enc), "invalid");
	snprintf(buf, cap, "/2/instances/%s%s", enc, suffix);
}

/* Submits a job and polls it; *RESULT gets the job record (opresult inside). */
static int run_job(struct move *m, enum side side, const char *method, const char *path,
		   const char *body, remote_import_fn *on_import, struct json_doc *result,
		   char *code, size_t code_cap)
{
	struct json_doc d;
	if (call(m, side, method, path, body, &d, NULL) < 0)
		return -1;
	int64_t id = job_id_of(d.root);
	json_doc_free(&d);
	if (id < 0)
		return err_prefix("%s %s", method, path);
	info(m->label, "%s job %" PRId64 " (%s %s)", side_name(side), id, method, path);
	return poll_job(m, side, id, on_import, result, code, code_cap);
}

static int source_run(struct move *m)
{
	char path[3 * MI_NAME_MAX + 64];
	struct json_doc d, job;
	int status;
	info(m->label, "checking whether the instance exists");
	inst_path(path, sizeof(path), m->src_name, "");
	if (call(m, SRC, "GET", path, NULL, &d, &status) < 0) {
		if (status == 404) {
			char why[ERR_MSG_MAX];
			snprintf(why, sizeof(why), "%s", err_msg());
			return err_set("Instance %s not found (%s)", m->src_name, why);
		}
		return -1;
	}
	const struct json *tags = json_get(d.root, "tags");
	if (tags && tags->type == JSON_ARRAY)
		m->tags = json_text(tags);
	json_doc_free(&d);

	info(m->label, "retrieving instance information from the source cluster");
	inst_path(path, sizeof(path), m->src_name, "/info?static=1");
	if (run_job(m, SRC, "GET", path, NULL, NULL, &job, NULL, 0) < 0)
		return -1;
	const struct json *r0 = json_at(json_get(job.root, "opresult"), 0);
	if (!r0 || r0->type != JSON_OBJECT || r0->len != 1) {
		json_doc_free(&job);
		return err_set("the instance information is not {NAME: info}");
	}
	const struct json *inst = &r0->u.kids[0];
	const struct json *disks = json_get(inst, "disks");
	if (!disks || disks->type != JSON_ARRAY || disks->len == 0) {
		json_doc_free(&job);
		return err_set("Instance %s has no disks: moving it is not supported (the "
			       "destination would wait for data that never comes)",
			       m->src_name);
	}

	info(m->label, "preparing the export on the source cluster");
	inst_path(path, sizeof(path), m->src_name, "/prepare-export?mode=remote");
	struct json_doc exp;
	if (run_job(m, SRC, "PUT", path, NULL, NULL, &exp, NULL, 0) < 0) {
		json_doc_free(&job);
		return -1;
	}
	const struct json *e0 = json_at(json_get(exp.root, "opresult"), 0);
	if (!e0 || !json_get(e0, "handshake") || !json_get(e0, "x509_key_name") ||
	    !json_get(e0, "x509_ca")) {
		json_doc_free(&exp);
		json_doc_free(&job);
		return err_set("prepare-export answered without handshake, x509_key_name and "
			       "x509_ca");
	}
	char *expinfo = json_text(e0);
	json_doc_free(&exp);
	if (!expinfo) {
		json_doc_free(&job);
		return -1;
	}
	pthread_mutex_lock(&m->mu);
	m->inst = job;
	m->instinfo = inst;
	m->expinfo = expinfo;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);

	info(m->label, "waiting for the destination's import information");
	if (wait_for(m, SRC, have_imp_info) < 0)
		return -1;

	info(m->label, "starting the remote export on the source cluster");
	struct json_doc imp, ex;
	if (json_parse(&imp, m->impinfo, strlen(m->impinfo)) < 0 ||
	    json_parse(&ex, m->expinfo, strlen(m->expinfo)) < 0)
		return -1;
	struct json_writer w;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_object_begin(&w);
	json_write_key(&w, "compress");
	json_write_string(&w, op.compress);
	json_write_key(&w, "destination");
	json_write_value(&w, json_get(imp.root, "disks"));
	json_write_key(&w, "destination_x509_ca");
	json_write_value(&w, json_get(imp.root, "x509_ca"));
	json_write_key(&w, "mode");
	json_write_string(&w, "remote");
	json_write_key(&w, "remove_instance");
	json_write_bool(&w, !op.keep_source);
	json_write_key(&w, "shutdown");
	json_write_bool(&w, 1);
	json_write_key(&w, "x509_key_name");
	json_write_value(&w, json_get(ex.root, "x509_key_name"));
	json_write_object_end(&w);
	json_doc_free(&imp);
	json_doc_free(&ex);
	char *body;
	if (json_writer_finish(&w, &body, NULL) < 0)
		return -1;
	inst_path(path, sizeof(path), m->src_name, "/export");
	struct json_doc res;
	int r = run_job(m, SRC, "PUT", path, body, NULL, &res, NULL, 0);
	free(body);
	if (r < 0)
		return -1;
	const struct json *x0 = json_at(json_get(res.root, "opresult"), 0);
	int fin = 0;
	const struct json *per = json_at(x0, 1);
	if (!x0 || json_as_bool(json_at(x0, 0), &fin) < 0 || !per || per->type != JSON_ARRAY) {
		json_doc_free(&res);
		return err_set("the export's result is not [bool, [bool, ...]]");
	}
	char failed[256] = "";
	size_t fl = 0;
	for (size_t i = 0; i < per->len; i++) {
		int ok = 0;
		if (json_as_bool(&per->u.kids[i], &ok) < 0 || !ok)
			fl += (size_t)snprintf(failed + fl,
					       fl < sizeof(failed) ? sizeof(failed) - fl : 0,
					       "%s%zu", fl ? ", " : "", i);
		if (fl >= sizeof(failed))
			fl = sizeof(failed) - 1;
	}
	json_doc_free(&res);
	if (!fin || failed[0])
		return err_set("Export failed for disks %s", failed);
	info(m->label, "export successful");
	return 0;
}

/* ---- The destination side -------------------------------------------------------------------- */

static void got_import_info(struct move *m, const struct json *msg)
{
	char *text = json_text(msg);
	if (!text || !json_get(msg, "disks") || !json_get(msg, "x509_ca")) {
		free(text);
		side_failed(m, DEST, "the remote-import information lacks disks or x509_ca");
		return;
	}
	info(m->label, "received the remote import information");
	pthread_mutex_lock(&m->mu);
	if (!m->impinfo)
		m->impinfo = text;
	else
		free(text);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

/* Writes OVERRIDE's members over BASE (both objects, or NULL) as one object. */
static void write_filled(struct json_writer *w, const struct json *base, const char *override)
{
	struct json_doc o = {0};
	if (override)
		json_parse(&o, override, strlen(override));
	json_write_object_begin(w);
	for (size_t i = 0; base && base->type == JSON_OBJECT && i < base->len; i++) {
		const struct json *m = &base->u.kids[i];
		if (o.root && json_get(o.root, m->key))
			continue;
		json_write_key(w, m->key);
		json_write_value(w, m);
	}
	for (size_t i = 0; o.root && i < o.root->len; i++) {
		json_write_key(w, o.root->u.kids[i].key);
		json_write_value(w, &o.root->u.kids[i]);
	}
	json_write_object_end(w);
	json_doc_free(&o);
}

/* The NICs of the instance info (9-tuples) as creation dicts, with the --net overrides. */
static int write_nics(struct json_writer *w, const struct json *nics)
{
	static const char *const keys[9] = {"name", NULL,   "ip",      "mac", "mode",
					    "link", "vlan", "network", NULL};
	struct json_doc ov = {0};
	if (op.nics)
		json_parse(&ov, op.nics, strlen(op.nics));
	size_t n = nics && nics->type == JSON_ARRAY ? nics->len : 0;
	if (nics && nics->type != JSON_ARRAY && nics->type != JSON_NULL)
		goto bad;
	if (ov.root && ov.root->len > n) {
		json_doc_free(&ov);
		return err_set("Can not create new NICs");
	}
	json_write_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		const struct json *t = &nics->u.kids[i];
		if (t->type != JSON_ARRAY || t->len != 9)
			goto bad;
		const struct json *o = ov.root ? json_at(ov.root, i) : NULL;
		json_write_object_begin(w);
		for (size_t k = 0; k < 9; k++) {
			if (!keys[k] || (o && json_get(o, keys[k])))
				continue;
			json_write_key(w, keys[k]);
			json_write_value(w, &t->u.kids[k]);
		}
		for (size_t k = 0; o && k < o->len; k++) {
			json_write_key(w, o->u.kids[k].key);
			json_write_value(w, &o->u.kids[k]);
		}
		json_write_object_end(w);
	}
	json_write_array_end(w);
	json_doc_free(&ov);
	return 0;
bad:
	json_doc_free(&ov);
	return err_set("Received NIC information does not match expected format; Do the versions "
		       "of this tool and the source cluster match?");
}

static char *create_body(struct move *m, int opportunistic)
{
	const struct json *in = m->instinfo;
	struct json_doc ex;
	if (json_parse(&ex, m->expinfo, strlen(m->expinfo)) < 0)
		return NULL;
	struct json_writer w;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_object_begin(&w);
	json_write_key(&w, "__version__");
	json_write_int(&w, 1);
	json_write_key(&w, "beparams");
	write_filled(&w, json_get(in, "be_instance"), op.beparams);
	json_write_key(&w, "compress");
	json_write_string(&w, op.compress);
	json_write_key(&w, "disk_template");
	if (op.dest_template)
		json_write_string(&w, op.dest_template);
	else if (json_get(in, "disk_template"))
		json_write_value(&w, json_get(in, "disk_template"));
	else
		json_write_null(&w);
	json_write_key(&w, "disks");
	json_write_array_begin(&w);
	const struct json *disks = json_get(in, "disks");
	for (size_t i = 0; i < disks->len; i++) {
		const struct json *dk = &disks->u.kids[i];
		json_write_object_begin(&w);
		json_write_key(&w, "mode");
		json_write_value(&w, json_get(dk, "mode") ? json_get(dk, "mode") : dk);
		json_write_key(&w, "name");
		const struct json *nm = json_get(dk, "name");
		if (nm && nm->type == JSON_STRING)
			json_write_string(&w, nm->u.s);
		else
			json_write_string(&w, "None"); /* Ganeti's str(None) */
		json_write_key(&w, "size");
		json_write_value(&w, json_get(dk, "size") ? json_get(dk, "size") : dk);
		const struct json *sp = json_get(dk, "spindles");
		if (sp && sp->type != JSON_NULL) {
			json_write_key(&w, "spindles");
			json_write_value(&w, sp);
		}
		json_write_object_end(&w);
	}
	json_write_array_end(&w);
	json_write_key(&w, "hvparams");
	write_filled(&w, json_get(in, "hv_instance"), op.hvparams);
	json_write_key(&w, "hypervisor");
	json_write_value(&w, json_get(in, "hypervisor") ? json_get(in, "hypervisor") : in);
	json_write_key(&w, "iallocator");
	if (op.iallocator)
		json_write_string(&w, op.iallocator);
	else
		json_write_null(&w);
	json_write_key(&w, "ip_check");
	json_write_bool(&w, 0);
	json_write_key(&w, "mode");
	json_write_string(&w, "remote-import");
	json_write_key(&w, "name");
	json_write_string(&w, m->dest_name);
	json_write_key(&w, "nics");
	if (write_nics(&w, json_get(in, "nics")) < 0) {
		json_writer_free(&w);
		json_doc_free(&ex);
		return NULL;
	}
	json_write_key(&w, "opportunistic_locking");
	json_write_bool(&w, opportunistic);
	json_write_key(&w, "os");
	if (json_get(in, "os"))
		json_write_value(&w, json_get(in, "os"));
	else
		json_write_null(&w);
	json_write_key(&w, "osparams");
	write_filled(&w, json_get(in, "os_instance"), op.osparams);
	json_write_key(&w, "pnode");
	if (op.dest_pnode)
		json_write_string(&w, op.dest_pnode);
	else
		json_write_null(&w);
	json_write_key(&w, "snode");
	if (op.dest_snode)
		json_write_string(&w, op.dest_snode);
	else
		json_write_null(&w);
	json_write_key(&w, "source_handshake");
	json_write_value(&w, json_get(ex.root, "handshake"));
	json_write_key(&w, "source_instance_name");
	json_write_value(&w, json_get(in, "name") ? json_get(in, "name") : in);
	json_write_key(&w, "source_x509_ca");
	json_write_value(&w, json_get(ex.root, "x509_ca"));
	const char *state = NULL;
	json_get_string(in, "config_state", &state);
	json_write_key(&w, "start");
	json_write_bool(&w, state && !strcmp(state, "up"));
	if (m->tags) {
		json_write_key(&w, "tags");
		json_write_raw(&w, m->tags, strlen(m->tags));
	}
	json_write_key(&w, "wait_for_sync");
	json_write_bool(&w, 0);
	json_write_object_end(&w);
	json_doc_free(&ex);
	char *out;
	if (json_writer_finish(&w, &out, NULL) < 0)
		return NULL;
	return out;
}

static int dest_run(struct move *m)
{
	info(m->label, "waiting for the instance information");
	if (wait_for(m, DEST, have_src_info) < 0)
		return -1;
	info(m->label, "creating instance %s in remote-import mode", m->dest_name);
	unsigned attempts = op.opp_tries + 1;
	for (unsigned a = 0; a < attempts; a++) {
		int opportunistic = a + 1 < attempts;
		struct json_doc feat;
		if (call(m, DEST, "GET", "/2/features", NULL, &feat, NULL) < 0)
			return -1;
		int has = 0;
		for (size_t i = 0; feat.root->type == JSON_ARRAY && i < feat.root->len; i++)
			if (feat.root->u.kids[i].type == JSON_STRING &&
			    !strcmp(feat.root->u.kids[i].u.s, "instance-create-reqv1"))
				has = 1;
		json_doc_free(&feat);
		if (!has)
			return err_set("the destination cluster does not support "
				       "instance-create-reqv1");
		char *body = create_body(m, opportunistic);
		if (!body)
			return -1;
		struct json_doc res;
		char code[64];
		int r = run_job(m, DEST, "POST", "/2/instances", body, got_import_info, &res, code,
				sizeof(code));
		free(body);
		if (r == 0) {
			json_doc_free(&res);
			info(m->label, "import successful");
			return 0;
		}
		if (!opportunistic || strcmp(code, MI_TEMP_NORES) != 0)
			return -1;
		uint8_t rb[2];
		rand_bytes(rb, sizeof(rb));
		double jitter = 0.85 + 0.30 * (((unsigned)rb[0] << 8 | rb[1]) / 65535.0);
		double delay = op.opp_delay * jitter;
		info(m->label, "opportunistic attempt unsuccessful, waiting %.2f seconds", delay);
		struct timespec ts = {(time_t)delay, (long)((delay - (time_t)delay) * 1e9)};
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void *dest_thread(void *arg)
{
	struct move *m = arg;
	if (dest_run(m) < 0)
		side_failed(m, DEST, err_msg());
	pthread_mutex_lock(&m->mu);
	m->dest_done = 1;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void move_run(struct move *m)
{
	pthread_t t;
	info(m->label, "moving from cluster %s to %s as %s", src_cluster, dest_cluster,
	     m->dest_name);
	if (pthread_create(&t, NULL, dest_thread, m) != 0) {
		m->result = strdup("cannot start the destination thread");
		return;
	}
	if (source_run(m) < 0)
		side_failed(m, SRC, err_msg());
	pthread_join(t, NULL);
	if (m->src_err || m->dest_err) {
		char buf[4 * ERR_MSG_MAX];
		snprintf(buf, sizeof(buf), "Source error: %s, destination error: %s",
			 m->src_err ? m->src_err : "None", m->dest_err ? m->dest_err : "None");
		m->result = strdup(buf);
		if (!m->result)
			m->result = "out of memory";
	}
}

/* The worker pool: -p threads take the next move until none is left. */
static struct move *moves;
static size_t nmoves, next_move;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	for (;;) {
		pthread_mutex_lock(&pool_mu);
		size_t i = next_move < nmoves ? next_move++ : nmoves;
		pthread_mutex_unlock(&pool_mu);
		if (i == nmoves)
			return NULL;
		move_run(&moves[i]);
	}
}

/* ---- Main -------------------------------------------------------------------------------------- */

static struct tls_trust *load_ca(const char *path, const char *what)
{
	struct tls_trust *t;
	if (tls_trust_load(&t, path) < 0)
		die_err("%s CA file %s", what, path);
	return t;
}

int move_instance_main(int argc, char **argv)
{
	enum {
		O_SRC_PORT = 1,
		O_SRC_CA,
		O_SRC_USER,
		O_SRC_PW,
		O_DEST_PORT,
		O_DEST_CA,
		O_DEST_USER,
		O_DEST_PW,
		O_DEST_NAME,
		O_DEST_PNODE,
		O_DEST_SNODE,
		O_DEST_TEMPLATE,
		O_IALLOC,
		O_COMPRESS,
		O_HV,
		O_BE,
		O_OS,
		O_NET,
		O_PARALLEL,
		O_OPP_TRIES,
		O_OPP_DELAY,
		O_KEEP,
		O_VERBOSE,
		O_DEBUG,
	};
	static const struct opt_spec specs[] = {
		{O_SRC_PORT, 0, "src-rapi-port", OPT_REQUIRED},
		{O_SRC_CA, 0, "src-ca-file", OPT_REQUIRED},
		{O_SRC_USER, 0, "src-username", OPT_REQUIRED},
		{O_SRC_PW, 0, "src-password-file", OPT_REQUIRED},
		{O_DEST_PORT, 0, "dest-rapi-port", OPT_REQUIRED},
		{O_DEST_CA, 0, "dest-ca-file", OPT_REQUIRED},
		{O_DEST_USER, 0, "dest-username", OPT_REQUIRED},
		{O_DEST_PW, 0, "dest-password-file", OPT_REQUIRED},
		{O_DEST_NAME, 0, "dest-instance-name", OPT_REQUIRED},
		{O_DEST_PNODE, 0, "dest-primary-node", OPT_REQUIRED},
		{O_DEST_SNODE, 0, "dest-secondary-node", OPT_REQUIRED},
		{O_DEST_TEMPLATE, 0, "dest-disk-template", OPT_REQUIRED},
		{O_IALLOC, 'I', "iallocator", OPT_REQUIRED},
		{O_COMPRESS, 0, "compress", OPT_REQUIRED},
		{O_HV, 'H', "hypervisor-parameters", OPT_REQUIRED},
		{O_BE, 'B', "backend-parameters", OPT_REQUIRED},
		{O_OS, 'O', "os-parameters", OPT_REQUIRED},
		{O_NET, 0, "net", OPT_REQUIRED},
		{O_PARALLEL, 'p', "parallel", OPT_REQUIRED},
		{O_OPP_TRIES, 0, "opportunistic-tries", OPT_REQUIRED},
		{O_OPP_DELAY, 0, "opportunistic-delay", OPT_REQUIRED},
		{O_KEEP, 0, "keep-source-instance", OPT_NOARG},
		{O_VERBOSE, 'v', "verbose", OPT_NOARG},
		{O_DEBUG, 'd', "debug", OPT_NOARG},
		OPT_SPEC_END,
	};
	const char *pos[3 + 4096];
	size_t npos = 0;
	struct opt_state st;
	int id;
	op.src_port = op.dest_port = MI_PORT_DEFAULT;
	op.compress = "none";
	op.parallel = 1;
	op.opp_delay = MI_OPP_DELAY_DEFAULT;
	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		switch (id) {
		case O_SRC_PORT:
			op.src_port =
				(unsigned)xparse_uint(st.arg, 1, 65535, "--src-rapi-port", usage);
			break;
		case O_SRC_CA:
			op.src_ca = st.arg;
			break;
		case O_SRC_USER:
			op.src_user = st.arg;
			break;
		case O_SRC_PW:
			op.src_pwfile = st.arg;
			break;
		case O_DEST_PORT:
			op.dest_port =
				(unsigned)xparse_uint(st.arg, 1, 65535, "--dest-rapi-port", usage);
			break;
		case O_DEST_CA:
			op.dest_ca = st.arg;
			break;
		case O_DEST_USER:
			op.dest_user = st.arg;
			break;
		case O_DEST_PW:
			op.dest_pwfile = st.arg;
			break;
		case O_DEST_NAME:
			op.dest_name = st.arg;
			break;
		case O_DEST_PNODE:
			op.dest_pnode = st.arg;
			break;
		case O_DEST_SNODE:
			op.dest_snode = st.arg;
			break;
		case O_DEST_TEMPLATE:
			op.dest_template = st.arg;
			break;
		case O_IALLOC:
			op.iallocator = st.arg;
			break;
		case O_COMPRESS:
			op.compress = st.arg;
			break;
		case O_HV:
			free(op.hvparams);
			op.hvparams = parse_keyval(st.arg, "--hypervisor-parameters");
			break;
		case O_BE:
			free(op.beparams);
			op.beparams = parse_keyval(st.arg, "--backend-parameters");
			break;
		case O_OS:
			free(op.osparams);
			op.osparams = parse_keyval(st.arg, "--os-parameters");
			break;
		case O_NET:
			add_net(st.arg);
			break;
		case O_PARALLEL:
			op.parallel = (unsigned)xparse_uint(st.arg, 1, 1024, "--parallel", usage);
			break;
		case O_OPP_TRIES:
			op.opp_tries_set = 1;
			op.opp_tries = (unsigned)xparse_uint(st.arg, 0, 1000,
							     "--opportunistic-tries", usage);
			break;
		case O_OPP_DELAY:
			op.opp_delay_set = 1;
			op.opp_delay = (unsigned)xparse_uint(st.arg, 1, 86400,
							     "--opportunistic-delay", usage);
			break;
		case O_KEEP:
			op.keep_source = 1;
			break;
		case O_VERBOSE:
			op.verbose = 1;
			break;
		case O_DEBUG:
			op.debug = 1;
			op.verbose = 1;
			break;
		case OPT_POSITIONAL:
			if (npos == sizeof(pos) / sizeof(pos[0]))
				die_usage(usage, "too many instances");
			pos[npos++] = st.arg;
			break;
		}
	}
	/* Ganeti's checks, in its order */
	if (npos < 3)
		die_usage(usage, "Not enough arguments");
	if (!op.src_ca)
		die_usage(usage, "Missing source cluster CA file");
	if (op.iallocator && (op.dest_pnode || op.dest_snode))
		die_usage(usage, "Destination node and iallocator options exclude each other");
	if (!op.iallocator && op.opp_tries > 0)
		die_usage(usage, "Opportunistic instance creation can only be used with an "
				 "iallocator");
	if (op.opp_delay_set && !op.opp_tries_set)
		die_usage(usage, "Opportunistic delay can only be specified when opportunistic "
				 "tries are used");
	size_t ninst = npos - 2;
	if (ninst > 1 && (op.dest_name || op.dest_pnode || op.dest_snode || op.hvparams ||
			  op.beparams || op.osparams || nnets))
		die_usage(usage, "The options --dest-instance-name, --dest-primary-node, "
				 "--dest-secondary-node, --hypervisor-parameters, "
				 "--backend-parameters, --os-parameters and --net can only be used "
				 "when moving exactly one instance");
	if (nnets)
		op.nics = nets_json();
	if (op.src_user && !op.src_pwfile)
		die_usage(usage, "--src-username needs --src-password-file");
	if (op.dest_user && !op.dest_pwfile && !op.src_pwfile)
		die_usage(usage, "--dest-username needs a password file");
	for (size_t i = 2; i < npos; i++)
		if (!pos[i][0] || strlen(pos[i]) > MI_NAME_MAX)
			die_usage(usage, "bad instance name '%s'", pos[i]);
	if (op.dest_name && (!op.dest_name[0] || strlen(op.dest_name) > MI_NAME_MAX))
		die_usage(usage, "bad --dest-instance-name");

	src_cluster = pos[0];
	dest_cluster = pos[1];
	struct tls_trust *src_trust = load_ca(op.src_ca, "source");
	struct tls_trust *dest_trust = op.dest_ca ? load_ca(op.dest_ca, "destination") : src_trust;
	char *src_pw = op.src_pwfile ? read_password(op.src_pwfile) : NULL;
	char *dest_pw = op.dest_pwfile ? read_password(op.dest_pwfile) : src_pw;
	const char *src_user = op.src_user ? op.src_user : (src_pw ? "" : NULL);
	const char *dest_user = op.dest_user ? op.dest_user : src_user;
	if (dest_pw && !dest_user)
		dest_user = "";
	if (rapiclient_init(&src_cl, src_cluster, op.src_port, src_trust, src_user, src_pw) < 0)
		die_err("source cluster %s", src_cluster);
	if (rapiclient_init(&dest_cl, dest_cluster, op.dest_port, dest_trust, dest_user,
			    dest_user ? dest_pw : NULL) < 0)
		die_err("destination cluster %s", dest_cluster);
	if (src_pw)
		explicit_bzero(src_pw, strlen(src_pw));
	if (dest_pw && dest_pw != src_pw)
		explicit_bzero(dest_pw, strlen(dest_pw));

	info(NULL, "source cluster: %s", src_cluster);
	info(NULL, "destination cluster: %s", dest_cluster);
	/* CheckRapiSetup: both APIs answer */
	struct json_doc d;
	if (call(NULL, SRC, "GET", "/version", NULL, &d, NULL) < 0)
		die_err("source cluster");
	info(NULL, "source cluster RAPI version: %" PRId64,
	     d.root->type == JSON_INT ? d.root->u.i : -1);
	json_doc_free(&d);
	if (call(NULL, DEST, "GET", "/version", NULL, &d, NULL) < 0)
		die_err("destination cluster");
	info(NULL, "destination cluster RAPI version: %" PRId64,
	     d.root->type == JSON_INT ? d.root->u.i : -1);
	json_doc_free(&d);
	int has_ialloc = op.iallocator != NULL;
	if (!has_ialloc) {
		if (call(NULL, DEST, "GET", "/2/info", NULL, &d, NULL) < 0)
			die_err("destination cluster");
		const struct json *ia = json_get(d.root, "default_iallocator");
		has_ialloc = ia && ia->type == JSON_STRING && ia->u.s[0];
		json_doc_free(&d);
	}
	if (ninst > 1 && !has_ialloc)
		die("When moving multiple nodes, an iallocator must be used. None was provided and "
		    "the target cluster does not have a default iallocator.");
	if (ninst == 1 && !has_ialloc && !op.dest_pnode && !op.dest_snode)
		die("Target cluster does not have a default iallocator, please specify either "
		    "destination nodes or an iallocator.");

	nmoves = ninst;
	moves = calloc(nmoves, sizeof(*moves));
	if (!moves)
		die("out of memory");
	for (size_t i = 0; i < nmoves; i++) {
		struct move *m = &moves[i];
		m->src_name = pos[2 + i];
		m->dest_name = op.dest_name ? op.dest_name : m->src_name;
		if (strcmp(m->src_name, m->dest_name))
			snprintf(m->label, sizeof(m->label), "%s as %s", m->src_name, m->dest_name);
		else
			snprintf(m->label, sizeof(m->label), "%s", m->src_name);
		pthread_mutex_init(&m->mu, NULL);
		pthread_cond_init(&m->cv, NULL);
	}
	unsigned nworkers = op.parallel < nmoves ? op.parallel : (unsigned)nmoves;
	pthread_t *workers = calloc(nworkers, sizeof(*workers));
	if (!workers)
		die("out of memory");
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1u << 20);
	for (unsigned i = 0; i < nworkers; i++)
		if (pthread_create(&workers[i], &attr, worker, NULL) != 0)
			die("cannot start worker threads");
	for (unsigned i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	pthread_attr_destroy(&attr);

	size_t failed = 0;
	for (size_t i = 0; i < nmoves; i++) {
		if (moves[i].result) {
			failed++;
			printf("%s: Failed (%s)\n", moves[i].label, moves[i].result);
		} else {
			printf("%s: Success\n", moves[i].label);
		}
	}
	if (fflush(stdout) != 0)
		die_errno("write");
	rapiclient_wipe(&src_cl);
	rapiclient_wipe(&dest_cl);
	if (failed) {
		warn("%zu of %zu moves failed", failed, nmoves);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
