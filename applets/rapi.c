/* ferry rapi: serve the cluster's HTTPS API (Ganeti RAPI compatible): instances, jobs, moves between clusters. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/ct.h"
#include "core/err.h"
#include "core/file.h"
#include "core/http.h"
#include "core/io.h"
#include "core/jobq.h"
#include "core/json.h"
#include "core/net.h"
#include "core/node.h"
#include "core/opt.h"
#include "core/rapiusers.h"
#include "core/runtime.h"
#include "core/utc.h"
#include "core/xfer.h"
#include "crypto/keyring.h"
#include "crypto/rand.h"
#include "crypto/sign.h"
#include "crypto/tls.h"
#include "crypto/x509.h"

static const char usage[] =
	"usage: ferry rapi [--root DIR] [--port PORT] [--bind ADDR] [--node-name NAME]\n"
	"                  [--cluster-name NAME] [--pool POOL] [--import-address ADDR]\n"
	"                  [--require-authentication] [--allow-runtime-commands]\n"
	"                  [--max-clients N] [--log FILE]\n"
	"\n"
	"Serve this node's cluster API over HTTPS, compatible with Ganeti's RAPI as far as\n"
	"moving instances between clusters needs (docs/rapi.md, docs/cluster.md). A ferry\n"
	"cluster is this one node; its instances are the containers of one pool. Runs in\n"
	"the foreground and logs to stderr; SIGTERM stops it cleanly (running jobs are\n"
	"canceled and recorded), SIGHUP reloads the users file.\n"
	"\n"
	"On first start it creates, in ROOT/conf/cluster, the API key and certificate\n"
	"(rapi.pem; clients trust `ferry renew-crypto --show-rapi-certificate`) and a users\n"
	"file (rapi-users, user \"ferry\" with a random password, also in rapi-password).\n"
	"Moves need the cluster domain secret (ferry renew-crypto), the same on both\n"
	"clusters.\n"
	"\n"
	"  --port PORT              TCP port (default 5080)\n"
	"  --bind ADDR              IP address to listen on (default: every address)\n"
	"  --node-name NAME         this node's name (default: the host name)\n"
	"  --cluster-name NAME      the cluster's name (default: the node name)\n"
	"  --pool POOL              the pool whose containers are the instances (default\n"
	"                           \"default\")\n"
	"  --import-address ADDR    IP address incoming moves listen on and announce to the\n"
	"                           source (default: the address the client reached the API on)\n"
	"  --require-authentication every request needs a user, reads too (default: only\n"
	"                           writes and job waits, as Ganeti)\n"
	"  --allow-runtime-commands accept start_cmd, stop_cmd and status_cmd in imported\n"
	"                           instances (they run as root on this node)\n"
	"  --max-clients N          connections served at once (default 64)\n"
	"  --log FILE               append the log to FILE instead of stderr\n"
	"  --root DIR               state root (default: $FERRY_ROOT or /var/lib/ferry)\n";

#define RAPI_PORT_DEFAULT	5080
#define RAPI_VERSION		2
#define RAPI_MAX_CLIENTS_DEF	64
#define RAPI_CONN_TIMEOUT_MS	30000 /* a client must send its request within this */
#define RAPI_CONN_STACK		(512u << 10)
#define RAPI_IO_BUF		(16u << 10)
#define RAPI_WAIT_MS		10000  /* /wait answers null after this without change */
#define RAPI_JOB_GRACE_MS	120000 /* SIGTERM: how long running jobs get to clean up */
#define RAPI_DIR		"rapi" /* ROOT/rapi: the server's state */
#define RAPI_JOBS_DIR		"rapi/jobs"
#define RAPI_X509_DIR		"rapi/x509"
#define RAPI_LOCK_FILE		"lock"
#define RAPI_HYPERVISOR		"ferry"
#define RAPI_OS			"ferry"
#define RAPI_DISK_TEMPLATE	"file"
#define RAPI_IALLOCATOR		"ferry-single"
#define RAPI_IMPORT_MARK	"rapi-import" /* container file: the import job creating it */
#define RAPI_EXPORT_MARK	"rapi-export" /* container file: stopped by an export job */
#define RAPI_X509_NAME_MAX	64
#define RAPI_X509_SLACK_SECONDS 3600
#define RAPI_SEGMENTS_MAX	6
#define RAPI_MIB		(1024ull * 1024)

/* ---- The server's state ----------------------------------------------------------------- */

struct server {
	const char *root;
	char pool[CT_NAME_MAX + 1];
	char node[256];
	char cluster[256];
	const char *import_addr;
	int require_auth;
	int allow_runtime_cmds;
	struct x509_identity *id;
	struct tls_config tls;
	pthread_mutex_t users_mu;
	struct rapiusers *users;
	char users_path[PATH_MAX];
	struct jobq *jobs;
	char x509_dir[PATH_MAX];
	pthread_mutex_t conn_mu;
	pthread_cond_t conn_cv;
	int nconn, max_conn;
};

static struct server srv = {
	.users_mu = PTHREAD_MUTEX_INITIALIZER,
	.conn_mu = PTHREAD_MUTEX_INITIALIZER,
	.conn_cv = PTHREAD_COND_INITIALIZER,
};

/* One log line on stderr: "2026-11-25 10:00:00 ferry rapi: TEXT" in one write. */
static void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void srv_log(const char *fmt, ...)
{
	char line[2048];
	int t = utc_format(line, sizeof(line), (int64_t)time(NULL), UTC_TEXT); /* never fails now */
	size_t n = (size_t)(t < 0 ? 0 : t);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " ferry rapi: ");
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	n += (size_t)k < sizeof(line) - n - 1 ? (size_t)k : sizeof(line) - n - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

/* ---- JSON helpers -------------------------------------------------------------------------- */

static void jw_init(struct json_writer *w)
{
	json_writer_init(w, JSON_WRITE_SORTED);
}

static void jw_kstr(struct json_writer *w, const char *k, const char *v)
{
	json_write_key(w, k);
	if (v)
		json_write_string(w, v);
	else
		json_write_null(w);
}

static void jw_kint(struct json_writer *w, const char *k, int64_t v)
{
	json_write_key(w, k);
	json_write_int(w, v);
}

static void jw_kbool(struct json_writer *w, const char *k, int v)
{
	json_write_key(w, k);
	json_write_bool(w, v);
}

static void jw_knull(struct json_writer *w, const char *k)
{
	json_write_key(w, k);
	json_write_null(w);
}

static void jw_kempty_list(struct json_writer *w, const char *k)
{
	json_write_key(w, k);
	json_write_array_begin(w);
	json_write_array_end(w);
}

static void jw_kempty_obj(struct json_writer *w, const char *k)
{
	json_write_key(w, k);
	json_write_object_begin(w);
	json_write_object_end(w);
}

/* ---- Instances: containers of the pool as Ganeti sees them -------------------------------- */

struct inst {
	struct ct_ref ref;
	struct ct_config cfg;
	struct runtime_status rs;
	int64_t ctime, mtime;
	size_t ndisks;
	const char *disk_names[CT_DATASETS_MAX + 1];
};

/*
 * Loads instance NAME: 0; 1 if there is none (err_set says why: unknown,
 * not a valid name here, being received); -1 on error.
 */
static int inst_load(const char *name, struct inst *in)
{
	memset(in, 0, sizeof(*in));
	if (!ct_name_ok(name)) {
		ct_name_check("instance name", name);
		err_prefix("Instance '%.80s' not known", name);
		return 1;
	}
	if (ct_ref_set(&in->ref, srv.pool, name) < 0)
		return -1;
	struct ct ct;
	if (ct_open(&ct, srv.root, &in->ref, CT_LOCK_NONE) < 0) {
		if (errno == ENOENT) {
			err_set("Instance '%s' not known", name);
			return 1;
		}
		return -1;
	}
	int staged = ct_staged(&ct);
	if (staged != 0) {
		ct_close(&ct);
		if (staged < 0)
			return -1;
		err_set("Instance '%s' not known (a container of that name is being received)",
			name);
		return 1;
	}
	struct stat st;
	if (fstat(ct.dirfd, &st) == 0) {
		in->ctime = st.st_ctim.tv_sec;
		in->mtime = st.st_mtim.tv_sec;
	}
	int r = ct_config_load(&ct, &in->cfg);
	if (r == 0)
		r = runtime_status(&ct, &in->cfg, &in->rs);
	ct_close(&ct);
	if (r < 0)
		return err_prefix("instance %s", name);
	in->disk_names[0] = CT_DATASET_ROOT;
	for (size_t i = 0; i < in->cfg.n_datasets; i++)
		in->disk_names[i + 1] = in->cfg.datasets[i].name;
	in->ndisks = in->cfg.n_datasets + 1;
	return 0;
}

/* The size of dataset NAME of IN in MiB, rounded up, at least 1. */
static int disk_size_mib(const struct inst *in, const char *name, int64_t *mib)
{
	struct ct ct;
	char tree[PATH_MAX];
	uint64_t bytes = 0;
	if (ct_open(&ct, srv.root, &in->ref, CT_LOCK_NONE) < 0)
		return -1;
	int r = ct_dataset_tree(&ct, name, tree, sizeof(tree));
	ct_close(&ct);
	if (r < 0)
		return -1;
	struct stat st;
	uint64_t files;
	if (lstat(tree, &st) < 0) {
		if (errno != ENOENT)
			return err_set_errno("%s", tree);
	} else if (tree_estimate(tree, &bytes, &files) < 0) {
		return err_prefix("%s", tree);
	}
	uint64_t m = (bytes + RAPI_MIB - 1) / RAPI_MIB;
	*mib = m ? (int64_t)m : 1;
	return 0;
}

/* The container's config as Ganeti hypervisor parameters: every key as text. */
static void write_hvparams(struct json_writer *w, const struct ct_config *c)
{
	static const char *const keys[] = {"hostname",	"init",		 "network",
					   "start_cmd", "start_timeout", "status_cmd",
					   "stop_cmd",	"stop_timeout"};
	char v[CT_CMD_MAX + 1], key[CT_DATASET_NAME_MAX + 16];
	json_write_object_begin(w);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ct_config_get(c, keys[i], v, sizeof(v)) == 0 && v[0])
			jw_kstr(w, keys[i], v);
	for (size_t i = 0; i < c->n_datasets; i++) {
		snprintf(key, sizeof(key), "dataset.%s", c->datasets[i].name);
		jw_kstr(w, key, c->datasets[i].mountpoint);
	}
	for (size_t i = 0; i < c->n_user; i++)
		jw_kstr(w, c->user[i].key, c->user[i].value);
	json_write_object_end(w);
}

/* GET /2/instances/NAME: Ganeti's instance fields (I_FIELDS). */
static int write_instance_fields(struct json_writer *w, const struct inst *in)
{
	int64_t total = 0;
	json_write_object_begin(w);
	jw_kbool(w, "admin_state", in->rs.running);
	jw_kempty_obj(w, "beparams");
	jw_kempty_obj(w, "custom_beparams");
	json_write_key(w, "custom_hvparams");
	write_hvparams(w, &in->cfg);
	jw_kempty_list(w, "custom_nicparams");
	jw_kint(w, "ctime", in->ctime);
	json_write_key(w, "disk.sizes");
	json_write_array_begin(w);
	for (size_t i = 0; i < in->ndisks; i++) {
		int64_t mib;
		if (disk_size_mib(in, in->disk_names[i], &mib) < 0)
			return -1;
		json_write_int(w, mib);
		total += mib;
	}
	json_write_array_end(w);
	jw_kstr(w, "disk_template", RAPI_DISK_TEMPLATE);
	jw_kint(w, "disk_usage", total);
	json_write_key(w, "hvparams");
	write_hvparams(w, &in->cfg);
	jw_kstr(w, "hypervisor", RAPI_HYPERVISOR);
	jw_kint(w, "mtime", in->mtime);
	jw_kstr(w, "name", in->ref.id);
	jw_knull(w, "network_port");
	jw_kempty_list(w, "nic.bridges");
	jw_kempty_list(w, "nic.ips");
	jw_kempty_list(w, "nic.links");
	jw_kempty_list(w, "nic.macs");
	jw_kempty_list(w, "nic.modes");
	jw_knull(w, "oper_ram");
	jw_kbool(w, "oper_state", in->rs.running);
	jw_knull(w, "oper_vcpus");
	jw_kstr(w, "os", RAPI_OS);
	jw_kstr(w, "pnode", srv.node);
	jw_knull(w, "serial_no");
	jw_kempty_list(w, "snodes");
	jw_kstr(w, "status", in->rs.running ? "running" : "ADMIN_down");
	jw_kempty_list(w, "tags");
	jw_knull(w, "uuid");
	json_write_object_end(w);
	return 0;
}

/* The info job's data for one instance (OpInstanceQueryData, static). */
static int write_instance_info(struct json_writer *w, const struct inst *in)
{
	const char *state = in->rs.running ? "up" : "down";
	json_write_object_begin(w);
	jw_kempty_obj(w, "be_actual");
	jw_kempty_obj(w, "be_instance");
	jw_kstr(w, "config_state", state);
	jw_kint(w, "ctime", in->ctime);
	jw_kstr(w, "disk_template", RAPI_DISK_TEMPLATE);
	json_write_key(w, "disks");
	json_write_array_begin(w);
	for (size_t i = 0; i < in->ndisks; i++) {
		int64_t mib;
		char iv[32];
		if (disk_size_mib(in, in->disk_names[i], &mib) < 0)
			return -1;
		snprintf(iv, sizeof(iv), "disk/%zu", i);
		json_write_object_begin(w);
		jw_kempty_list(w, "children");
		jw_kstr(w, "dev_type", RAPI_DISK_TEMPLATE);
		jw_kstr(w, "iv_name", iv);
		jw_kstr(w, "mode", "rw");
		jw_kstr(w, "name", in->disk_names[i]);
		jw_kint(w, "size", mib);
		jw_knull(w, "spindles");
		jw_knull(w, "uuid");
		json_write_object_end(w);
	}
	json_write_array_end(w);
	json_write_key(w, "hv_actual");
	write_hvparams(w, &in->cfg);
	json_write_key(w, "hv_instance");
	write_hvparams(w, &in->cfg);
	jw_kstr(w, "hypervisor", RAPI_HYPERVISOR);
	jw_kint(w, "mtime", in->mtime);
	jw_kstr(w, "name", in->ref.id);
	jw_knull(w, "network_port");
	jw_kempty_list(w, "nics");
	jw_kstr(w, "os", RAPI_OS);
	jw_kempty_obj(w, "os_actual");
	jw_kempty_obj(w, "os_instance");
	jw_kstr(w, "pnode", srv.node);
	jw_kstr(w, "run_state", state);
	jw_kempty_list(w, "snodes");
	jw_kempty_list(w, "tags");
	jw_knull(w, "uuid");
	json_write_object_end(w);
	return 0;
}

/* ---- Requests ------------------------------------------------------------------------------ */

struct conn {
	int fd;
	char peer[NET_ADDR_MAX];
	char local_ip[NET_IP_MAX];
	struct tls_conn tls;
	struct io_chan ch;
	struct io_in in;
	struct io_out out;
	uint8_t inbuf[RAPI_IO_BUF], outbuf[RAPI_IO_BUF];
	struct http_request req;
};

/* What a handler answers. */
struct rctx {
	struct conn *c;
	struct http_request *req;
	char *seg[RAPI_SEGMENTS_MAX];
	size_t nseg;
	char segbuf[HTTP_REQUEST_LINE_MAX + 1];
	const char *user; /* authenticated user, NULL if none */
	int access;	  /* RAPIUSERS_* */
	struct json_doc body;
	int status;
	char *out; /* JSON text of a 200 answer */
	char explain[ERR_MSG_MAX + 128];
};

static void fail(struct rctx *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct rctx *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->explain, sizeof(r->explain), fmt, ap);
	va_end(ap);
	r->status = status;
	free(r->out);
	r->out = NULL;
}

static void answer(struct rctx *r, struct json_writer *w)
{
	char *text;
	if (json_writer_finish(w, &text, NULL) < 0) {
		fail(r, 500, "building the answer: %s", err_msg());
		return;
	}
	free(r->out);
	r->out = text;
	r->status = 200;
}

static void answer_text(struct rctx *r, const char *json_text)
{
	free(r->out);
	r->out = strdup(json_text);
	r->status = r->out ? 200 : 500;
	if (!r->out)
		snprintf(r->explain, sizeof(r->explain), "out of memory");
}

static void answer_job(struct rctx *r, int64_t id)
{
	char text[32];
	if (id < 0) {
		fail(r, 503, "%s", err_msg());
		return;
	}
	snprintf(text, sizeof(text), "%" PRId64, id);
	answer_text(r, text);
}

/* The query parameter KEY as Ganeti's boolean (0/1), DEF when absent; -1 (400 set) if malformed. */
static int query_bool(struct rctx *r, const char *key, int def)
{
	const char *v = http_query_get(r->req, key);
	if (!v)
		return def;
	if (!strcmp(v, "0") || !strcmp(v, "1"))
		return v[0] == '1';
	fail(r, 400, "Invalid value for parameter '%s': expected 0 or 1", key);
	return -1;
}

static void h_root(struct rctx *r)
{
	answer_text(r, "null");
}

static void h_version(struct rctx *r)
{
	char text[16];
	snprintf(text, sizeof(text), "%d", RAPI_VERSION);
	answer_text(r, text);
}

static void h_features(struct rctx *r)
{
	/* Only what this server implements (Ganeti also lists reinstall, node-migrate, node-evac). */
	answer_text(r, "[\"instance-create-reqv1\"]");
}

static void h_info(struct rctx *r)
{
	struct json_writer w;
	struct utsname u;
	uname(&u);
	jw_init(&w);
	json_write_object_begin(&w);
	json_write_key(&w, "architecture");
	json_write_array_begin(&w);
	json_write_string(&w, sizeof(void *) == 8 ? "64bit" : "32bit");
	json_write_string(&w, u.machine);
	json_write_array_end(&w);
	json_write_key(&w, "compression_tools");
	json_write_array_begin(&w);
	json_write_string(&w, "none");
	json_write_string(&w, "lz4");
	json_write_array_end(&w);
	jw_kstr(&w, "default_hypervisor", RAPI_HYPERVISOR);
	jw_kstr(&w, "default_iallocator", RAPI_IALLOCATOR);
	json_write_key(&w, "enabled_disk_templates");
	json_write_array_begin(&w);
	json_write_string(&w, RAPI_DISK_TEMPLATE);
	json_write_array_end(&w);
	json_write_key(&w, "enabled_hypervisors");
	json_write_array_begin(&w);
	json_write_string(&w, RAPI_HYPERVISOR);
	json_write_array_end(&w);
	jw_kstr(&w, "ferry_pool", srv.pool);
	jw_kstr(&w, "master", srv.node);
	jw_kstr(&w, "name", srv.cluster);
	json_write_key(&w, "nodes");
	json_write_array_begin(&w);
	json_write_string(&w, srv.node);
	json_write_array_end(&w);
	jw_kstr(&w, "software_version", "ferry");
	jw_kempty_list(&w, "tags");
	json_write_object_end(&w);
	answer(r, &w);
}

struct list_ctx {
	struct json_writer *w;
	int bulk;
	int failed;
};

static int list_one(const struct ct_ref *ref, void *arg)
{
	struct list_ctx *lc = arg;
	struct inst in;
	char uri[64 + CT_NAME_MAX];
	int r = inst_load(ref->id, &in);
	if (r == 1)
		return 0; /* staged: not an instance (yet) */
	if (r < 0) {
		lc->failed = 1;
		return 1;
	}
	if (lc->bulk) {
		if (write_instance_fields(lc->w, &in) < 0) {
			lc->failed = 1;
			return 1;
		}
		return 0;
	}
	snprintf(uri, sizeof(uri), "/2/instances/%s", ref->id);
	json_write_object_begin(lc->w);
	jw_kstr(lc->w, "id", ref->id);
	jw_kstr(lc->w, "uri", uri);
	json_write_object_end(lc->w);
	return 0;
}

static void h_instances_get(struct rctx *r)
{
	struct json_writer w;
	int bulk = query_bool(r, "bulk", 0);
	if (bulk < 0)
		return;
	jw_init(&w);
	json_write_array_begin(&w);
	struct list_ctx lc = {.w = &w, .bulk = bulk};
	if (ct_list(srv.root, srv.pool, list_one, &lc) < 0 || lc.failed) {
		json_writer_free(&w);
		fail(r, 500, "listing instances: %s", err_msg());
		return;
	}
	json_write_array_end(&w);
	answer(r, &w);
}

/* Loads the instance named in the path (segment 2); answers 404 and returns -1 if absent. */
static int path_instance(struct rctx *r, struct inst *in)
{
	int k = inst_load(r->seg[2], in);
	if (k == 1) {
		fail(r, 404, "%s", err_msg());
		return -1;
	}
	if (k < 0) {
		fail(r, 500, "%s", err_msg());
		return -1;
	}
	return 0;
}

static void h_instance_get(struct rctx *r)
{
	struct inst in;
	struct json_writer w;
	if (path_instance(r, &in) < 0)
		return;
	jw_init(&w);
	if (write_instance_fields(&w, &in) < 0) {
		json_writer_free(&w);
		fail(r, 500, "instance %s: %s", in.ref.id, err_msg());
		return;
	}
	answer(r, &w);
}

static void h_instance_tags(struct rctx *r)
{
	struct inst in;
	if (path_instance(r, &in) < 0)
		return;
	answer_text(r, "[]");
}

/* ---- Jobs: what each op does --------------------------------------------------------------- */

/* Builds an op object {"OP_ID": OP, "instance_name": NAME, KEY: VAL...} (string values). */
static char *op_text(const char *op, const char *name, ...)
{
	struct json_writer w;
	char *out = NULL;
	va_list ap;
	jw_init(&w);
	json_write_object_begin(&w);
	jw_kstr(&w, "OP_ID", op);
	jw_kstr(&w, "instance_name", name);
	jw_kstr(&w, "ferry_pool", srv.pool);
	va_start(ap, name);
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		jw_kstr(&w, k, v);
	}
	va_end(ap);
	json_write_object_end(&w);
	if (json_writer_finish(&w, &out, NULL) < 0)
		return NULL;
	return out;
}

/* Ends JOB with Ganeti's OpPrereqError and CODE, logging it too. */
static void job_prereq(struct job *job, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void job_prereq(struct job *job, const char *code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv_log("job %" PRId64 ": failed: %s", job_id(job), msg);
	job_fail(job, "OpPrereqError", msg, code);
}

static void job_exec_error(struct job *job, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void job_exec_error(struct job *job, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv_log("job %" PRId64 ": failed: %s", job_id(job), msg);
	if (job_cancel_requested(job)) /* what failed then is the cancel's doing */
		snprintf(msg, sizeof(msg), "Job canceled by request");
	job_fail(job, "OpExecError", msg, NULL);
}

/* A job's message, also in the server's log. */
static void jlog(struct job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jlog(struct job *job, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv_log("job %" PRId64 ": %s", job_id(job), msg);
	job_message(job, "%s", msg);
}

static void job_succeed_writer(struct job *job, struct json_writer *w)
{
	char *text;
	if (json_writer_finish(w, &text, NULL) < 0) {
		job_exec_error(job, "building the result: %s", err_msg());
		return;
	}
	srv_log("job %" PRId64 ": success", job_id(job));
	job_succeed(job, text);
	free(text);
}

struct name_arg {
	char name[CT_NAME_MAX + 1];
};

static void *name_arg_new(const char *name)
{
	struct name_arg *a = calloc(1, sizeof(*a));
	if (a)
		snprintf(a->name, sizeof(a->name), "%s", name);
	return a;
}

/* OpInstanceQueryData: {NAME: info}. */
static void job_info(struct job *job, void *arg)
{
	struct name_arg *a = arg;
	struct inst in;
	struct json_writer w;
	int k = inst_load(a->name, &in);
	if (k != 0) {
		job_prereq(job, k == 1 ? "unknown_entity" : "environment_error", "%s", err_msg());
		return;
	}
	jw_init(&w);
	json_write_object_begin(&w);
	json_write_key(&w, in.ref.id);
	if (write_instance_info(&w, &in) < 0) {
		json_writer_free(&w);
		job_exec_error(job, "instance %s: %s", in.ref.id, err_msg());
		return;
	}
	json_write_object_end(&w);
	job_succeed_writer(job, &w);
}

static void h_instance_info(struct rctx *r)
{
	struct inst in;
	if (query_bool(r, "static", 0) < 0 || path_instance(r, &in) < 0)
		return;
	char *op = op_text("OP_INSTANCE_QUERY_DATA", in.ref.id, NULL);
	char summary[64 + CT_NAME_MAX];
	snprintf(summary, sizeof(summary), "INSTANCE_QUERY_DATA(%s)", in.ref.id);
	int64_t id =
		op ? jobq_submit(srv.jobs, op, summary, job_info, name_arg_new(in.ref.id), free)
		   : err_set("out of memory");
	free(op);
	answer_job(r, id);
}

/* ---- Per-move keys of the source (prepare-export) ------------------------------------------- */

/* 1 if NAME is a key name we make: "x509-" then [a-z0-9-], at most RAPI_X509_NAME_MAX. */
static int x509_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 6 || n > RAPI_X509_NAME_MAX || strncmp(name, "x509-", 5) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return 0;
	return 1;
}

static int x509_path(char *buf, size_t cap, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s.pem", srv.x509_dir, name);
	if (n < 0 || (size_t)n >= cap)
		return err_set("path too long");
	return 0;
}

/* Removes per-move keys whose certificates expired (with an hour's slack). */
static void x509_sweep(void)
{
	DIR *d = opendir(srv.x509_dir);
	if (!d)
		return;
	struct dirent *de;
	time_t now = time(NULL);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".pem") != 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_mtime + X509_MOVE_LIFETIME_SECONDS + RAPI_X509_SLACK_SECONDS < now) {
			unlinkat(dirfd(d), de->d_name, 0);
			srv_log("removed the expired per-move key %s/%s", srv.x509_dir, de->d_name);
		}
	}
	closedir(d);
}

/* Creates a per-move identity and stores it as NAME.pem (O_EXCL, 0600). 0 or -1. */
static int x509_create(struct x509_identity *id, char name[RAPI_X509_NAME_MAX + 1])
{
	const char *names[] = {srv.node, NULL};
	uint8_t rnd[6];
	char hex[13], stamp[UTC_FORMAT_LEN + 1], path[PATH_MAX];
	if (utc_format(stamp, sizeof(stamp), (int64_t)time(NULL), UTC_COMPACT) < 0)
		return -1;
	if (rand_bytes(rnd, sizeof(rnd)) < 0)
		return -1;
	hex_encode(hex, rnd, sizeof(rnd));
	snprintf(name, RAPI_X509_NAME_MAX + 1, "x509-%s-%s", stamp, hex);
	if (x509_identity_generate(id, X509_KEY_EC, names, X509_MOVE_LIFETIME_SECONDS) < 0)
		return -1;
	char *pem;
	size_t len;
	if (x509_identity_to_pem(id, &pem, &len) < 0 || x509_path(path, sizeof(path), name) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r = -1;
	if (fd < 0) {
		err_set_errno("create %s", path);
	} else if (io_write_full(fd, pem, len) < 0 || fsync(fd) < 0) {
		err_set_errno("write %s", path);
		close(fd);
		unlink(path);
	} else if (close(fd) < 0) {
		err_set_errno("close %s", path);
		unlink(path);
	} else {
		r = 0;
	}
	explicit_bzero(pem, len);
	free(pem);
	return r;
}

static void x509_remove(const char *name)
{
	char path[PATH_MAX];
	if (x509_name_ok(name) && x509_path(path, sizeof(path), name) == 0)
		unlink(path);
}

/* Loads the per-move identity NAME. 0, 1 if there is none, -1. */
static int x509_load(const char *name, struct x509_identity *id)
{
	char path[PATH_MAX], *text;
	size_t len;
	if (!x509_name_ok(name)) {
		err_set("X509 key name '%.80s' is not one this cluster makes", name);
		return 1;
	}
	if (x509_path(path, sizeof(path), name) < 0)
		return -1;
	if (file_read_all(AT_FDCWD, path, KEYRING_RAPI_FILE_MAX, &text, &len) < 0) {
		if (errno == ENOENT) {
			err_set("X509 key '%s' not known (expired, used, or never made here)",
				name);
			return 1;
		}
		return -1;
	}
	int r = x509_identity_from_pem(id, text, len);
	explicit_bzero(text, len);
	free(text);
	return r;
}

/* Loads the domain secret for a move; ends JOB (environment_error) if it cannot. 0 or -1. */
static int job_secret(struct job *job, struct sign_secret *s)
{
	if (keyring_secret_load(srv.root, s) < 0) {
		job_prereq(job, "environment_error", "cluster domain secret: %s", err_msg());
		return -1;
	}
	return 0;
}

/* OpBackupPrepare, remote: {handshake, x509_key_name, x509_ca}. */
static void job_prepare_export(struct job *job, void *arg)
{
	struct name_arg *a = arg;
	struct inst in;
	struct sign_secret s;
	struct x509_identity *id = NULL;
	char name[RAPI_X509_NAME_MAX + 1] = "";
	char hs_salt[SIGN_SALT_LEN + 1], hs_hmac[SIGN_HMAC_LEN], salt[SIGN_SALT_LEN + 1];
	char name_hmac[SIGN_HMAC_LEN];
	char *signed_cert = NULL;
	int k = inst_load(a->name, &in);
	if (k != 0) {
		job_prereq(job, k == 1 ? "unknown_entity" : "environment_error", "%s", err_msg());
		return;
	}
	if (job_secret(job, &s) < 0)
		return;
	x509_sweep();
	id = malloc(sizeof(*id));
	size_t cap = SIGN_CERT_SIZE(X509_CERT_DER_MAX);
	signed_cert = malloc(cap);
	if (!id || !signed_cert) {
		job_exec_error(job, "out of memory");
		goto out;
	}
	if (x509_create(id, name) < 0) {
		job_exec_error(job, "creating the per-move certificate: %s", err_msg());
		goto out;
	}
	if (sign_handshake(&s, hs_salt, hs_hmac) < 0 || sign_salt(salt) < 0 ||
	    sign_cert(&s, salt, id->cert, id->cert_len, signed_cert, cap) < 0) {
		job_exec_error(job, "signing: %s", err_msg());
		x509_remove(name);
		goto out;
	}
	sign_hmac(&s, salt, name, strlen(name), name_hmac);
	jlog(job, "prepared the export of %s: per-move key %s (valid for one day)", in.ref.id,
	     name);
	struct json_writer w;
	jw_init(&w);
	json_write_object_begin(&w);
	json_write_key(&w, "handshake");
	json_write_array_begin(&w);
	json_write_int(&w, SIGN_RIE_VERSION);
	json_write_string(&w, hs_hmac);
	json_write_string(&w, hs_salt);
	json_write_array_end(&w);
	jw_kstr(&w, "x509_ca", signed_cert);
	json_write_key(&w, "x509_key_name");
	json_write_array_begin(&w);
	json_write_string(&w, name);
	json_write_string(&w, name_hmac);
	json_write_string(&w, salt);
	json_write_array_end(&w);
	json_write_object_end(&w);
	job_succeed_writer(job, &w);
out:
	if (id) {
		x509_identity_wipe(id);
		free(id);
	}
	free(signed_cert);
	sign_secret_wipe(&s);
}

static void h_prepare_export(struct rctx *r)
{
	struct inst in;
	const char *mode = http_query_get(r->req, "mode");
	if (!mode || strcmp(mode, "remote") != 0) {
		fail(r, 400, "Only exports in mode 'remote' are supported (got mode '%.40s')",
		     mode ? mode : "");
		return;
	}
	if (path_instance(r, &in) < 0)
		return;
	char *op = op_text("OP_BACKUP_PREPARE", in.ref.id, "mode", "remote", NULL);
	char summary[64 + CT_NAME_MAX];
	snprintf(summary, sizeof(summary), "BACKUP_PREPARE(%s)", in.ref.id);
	int64_t id = op ? jobq_submit(srv.jobs, op, summary, job_prepare_export,
				      name_arg_new(in.ref.id), free)
			: err_set("out of memory");
	free(op);
	answer_job(r, id);
}

/* ---- Moves: the source's export and the destination's import ------------------------------ */

/* What both directions share: the verified peer certificate, our own identity, the disks. */
struct disk_io {
	struct job *job;
	int idx;
	const char *name; /* dataset */
	char tree[PATH_MAX], state[PATH_MAX];
	struct xfer_listener l; /* import */
	struct xfer_conn *x;
	const struct x509_identity *self;
	const uint8_t *peer;
	size_t peer_len;
	char magic[SHA1_HEX_SIZE];
	/* export: the pass to run */
	const char *snapshot, *from;
	int compress;
	/* results */
	int rc;
	int finished; /* import: F received */
	char msg[ERR_MSG_MAX];
	struct tree_stats st;
	double seconds;
	struct move_sync *sync;
};

/* Threads of one pass report here; the job thread waits for all, or the first failure. */
struct move_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, failed;
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sync_report(struct move_sync *s, int failed)
{
	pthread_mutex_lock(&s->mu);
	s->done++;
	if (failed)
		s->failed++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Shuts down every socket of DISKS so their threads end at once. */
static void disks_stop(struct disk_io *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i].l.fd >= 0)
			shutdown(d[i].l.fd, SHUT_RDWR);
		if (d[i].x)
			shutdown(xfer_fd(d[i].x), SHUT_RDWR);
	}
}

/*
 * Runs FN for each of the N disks in its own thread and waits for all; the
 * first failure stops the others. 0 if all succeeded, else -1 (the failed
 * disk's message in err_set).
 */
static int disks_run(struct disk_io *d, size_t n, void *(*fn)(void *))
{
	struct move_sync s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	pthread_t t[CT_DATASETS_MAX + 1];
	int started[CT_DATASETS_MAX + 1] = {0};
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1u << 20);
	size_t nstarted = 0;
	for (size_t i = 0; i < n; i++) {
		d[i].sync = &s;
		d[i].rc = -1;
		snprintf(d[i].msg, sizeof(d[i].msg), "not run");
		if (pthread_create(&t[i], &attr, fn, &d[i]) == 0) {
			started[i] = 1;
			nstarted++;
		} else {
			snprintf(d[i].msg, sizeof(d[i].msg), "cannot start a thread");
			sync_report(&s, 1);
		}
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&s.mu);
	while (s.done < (int)n && !s.failed)
		pthread_cond_wait(&s.cv, &s.mu);
	int failed = s.failed;
	pthread_mutex_unlock(&s.mu);
	if (failed)
		disks_stop(d, n);
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(t[i], NULL);
	/* the first real reason: a disk that failed on its own, not because we stopped it */
	for (size_t i = 0; i < n; i++)
		if (d[i].rc < 0) {
			err_set("disk %d (%s): %s", d[i].idx, d[i].name, d[i].msg);
			return -1;
		}
	return 0;
}

static void disk_done(struct disk_io *d, int rc)
{
	d->rc = rc;
	if (rc < 0)
		snprintf(d->msg, sizeof(d->msg), "%s", err_msg());
	sync_report(d->sync, rc < 0);
}

static void stats_text(char *buf, size_t cap, const struct tree_stats *st, double secs)
{
	double mib = st->data_bytes / 1048576.0;
	snprintf(buf, cap,
		 "%llu files, %.1f MiB of data, %.1f MiB on the wire, %.1f s (%.1f MiB/s)",
		 (unsigned long long)st->files, mib, st->wire_bytes / 1048576.0, secs,
		 secs > 0 ? mib / secs : 0.0);
}

/* The signed certificate TEXT verified and dated: its DER into DER. 0 or -1 with err_set. */
static int peer_cert(const struct sign_secret *s, const char *text, uint8_t *der, size_t *len)
{
	struct x509_cert_info info;
	if (sign_cert_verify(s, text, strlen(text), der, X509_CERT_DER_MAX, len, NULL) < 0)
		return -1;
	if (x509_cert_parse(der, *len, &info) < 0 ||
	    x509_cert_check_time(&info, (int64_t)time(NULL)) < 0)
		return -1;
	return 0;
}

static int mark_read(struct ct *ct, const char *mark, int64_t *id)
{
	char *text;
	size_t len;
	uint64_t v;
	int r = ct_file_read(ct, mark, 64, &text, &len);
	if (r != 0)
		return r;
	while (len && (text[len - 1] == '\n'))
		text[--len] = 0;
	r = parse_uint(text, 1, INT64_MAX, &v);
	free(text);
	if (r < 0)
		return 1;
	*id = (int64_t)v;
	return 0;
}

static int mark_write(struct ct *ct, const char *mark, int64_t id)
{
	char text[32];
	snprintf(text, sizeof(text), "%" PRId64 "\n", id);
	return ct_file_write(ct, mark, text, strlen(text));
}

/* ---- Import (destination) ---------------------------------------------------------------- */

struct import_arg {
	char *body; /* the request's JSON text */
	char name[CT_NAME_MAX + 1];
	char ip[NET_IP_MAX];
};

static void import_arg_free(void *p)
{
	struct import_arg *a = p;
	if (a)
		free(a->body);
	free(a);
}

static void import_note(void *ctx, const char *msg)
{
	struct disk_io *d = ctx;
	char line[ERR_MSG_MAX + 64];
	snprintf(line, sizeof(line), "disk %d: %s", d->idx, msg);
	jlog(d->job, "%s", line);
}

static void *import_disk(void *arg)
{
	struct disk_io *d = arg;
	double t0 = mono_s();
	memset(&d->st, 0, sizeof(d->st));
	if (xfer_accept(&d->l, &d->x, d->self, d->peer, d->peer_len, d->magic,
			XFER_CONNECT_TIMEOUT_MS, import_note, d) < 0) {
		disk_done(d, -1);
		return NULL;
	}
	if (job_watch_fd(d->job, xfer_fd(d->x)) < 0) {
		disk_done(d, -1);
		return NULL;
	}
	char held[STREAM_SNAP_NAME_MAX + 1] = "";
	for (;;) {
		struct tree_recv_opts o = {.dst = d->tree, .state_dir = d->state};
		struct tree_recv_info info;
		struct tree_stats st;
		o.expect_kind = held[0] ? STREAM_KIND_INCREMENTAL : STREAM_KIND_BASE;
		o.expect_from = held[0] ? held : NULL;
		int r = xfer_recv_next(d->x, &o, &info, &st);
		if (r < 0) {
			disk_done(d, -1);
			return NULL;
		}
		if (r == 1)
			break;
		snprintf(held, sizeof(held), "%s", info.snapshot);
		d->st.files += st.files;
		d->st.data_bytes += st.data_bytes;
		d->st.wire_bytes += st.wire_bytes;
	}
	d->finished = 1;
	d->seconds = mono_s() - t0;
	disk_done(d, 0);
	return NULL;
}

/* The checks of a remote import, in Ganeti's terms. 0, or -1 after ending JOB. */
static int import_check(struct job *job, const struct json *b, const struct sign_secret *s,
			uint8_t *peer, size_t *peer_len, struct ct_config *cfg, int *start,
			int *compress)
{
	const struct json *hs = json_get(b, "source_handshake");
	int64_t version;
	const char *hmac, *salt, *text;
	if (!hs || hs->type != JSON_ARRAY || hs->len != 3 ||
	    json_as_int(json_at(hs, 0), &version) < 0 ||
	    json_as_string(json_at(hs, 1), &hmac, NULL) < 0 ||
	    json_as_string(json_at(hs, 2), &salt, NULL) < 0) {
		job_prereq(job, "wrong_input", "Invalid handshake: expected [version, hmac, salt]");
		return -1;
	}
	if (sign_handshake_check(s, version, hmac, salt) < 0) {
		job_prereq(job, "wrong_input", "%s", err_msg());
		return -1;
	}
	if (json_get_string(b, "source_x509_ca", &text) < 0) {
		job_prereq(job, "wrong_input", "Missing source X509 CA");
		return -1;
	}
	if (peer_cert(s, text, peer, peer_len) < 0) {
		job_prereq(job, "wrong_input", "Source X509 CA: %s", err_msg());
		return -1;
	}

	const char *v;
	const struct json *o;
	if ((o = json_get(b, "hypervisor")) && o->type != JSON_NULL &&
	    (json_as_string(o, &v, NULL) < 0 || strcmp(v, RAPI_HYPERVISOR))) {
		job_prereq(job, "wrong_input",
			   "Hypervisor '%.40s' is not available on this cluster (a ferry cluster "
			   "runs containers: hypervisor '" RAPI_HYPERVISOR "')",
			   o->type == JSON_STRING ? o->u.s : "?");
		return -1;
	}
	if (json_get_string(b, "disk_template", &v) < 0 || strcmp(v, RAPI_DISK_TEMPLATE)) {
		job_prereq(job, "wrong_input",
			   "Disk template '%.40s' is not supported (a ferry cluster stores "
			   "instances as directory trees: '" RAPI_DISK_TEMPLATE "')",
			   json_get(b, "disk_template") &&
					   json_get(b, "disk_template")->type == JSON_STRING
				   ? json_get(b, "disk_template")->u.s
				   : "?");
		return -1;
	}
	const char *oskey = json_get(b, "os") ? "os" : "os_type";
	if ((o = json_get(b, oskey)) && o->type != JSON_NULL &&
	    (json_as_string(o, &v, NULL) < 0 || strcmp(v, RAPI_OS))) {
		job_prereq(job, "wrong_input",
			   "OS '%.40s' is not supported (instances of a ferry cluster are "
			   "containers with OS '" RAPI_OS "')",
			   o->type == JSON_STRING ? o->u.s : "?");
		return -1;
	}
	if ((o = json_get(b, "pnode")) && o->type != JSON_NULL &&
	    (json_as_string(o, &v, NULL) < 0 || strcmp(v, srv.node))) {
		job_prereq(job, "unknown_entity",
			   "Node '%.80s' is not in this cluster (a ferry cluster has one node: "
			   "'%s')",
			   o->type == JSON_STRING ? o->u.s : "?", srv.node);
		return -1;
	}
	if ((o = json_get(b, "snode")) && o->type != JSON_NULL &&
	    !(o->type == JSON_STRING && !o->u.s[0])) {
		job_prereq(job, "wrong_input",
			   "A secondary node is not possible: a ferry cluster has one node");
		return -1;
	}
	if ((o = json_get(b, "iallocator")) && o->type != JSON_NULL &&
	    (json_as_string(o, &v, NULL) < 0 ||
	     (strcmp(v, RAPI_IALLOCATOR) && strcmp(v, "hail")))) {
		job_prereq(job, "wrong_input",
			   "Can't find iallocator '%.40s' (this cluster's is '" RAPI_IALLOCATOR
			   "'; 'hail' is accepted too)",
			   o->type == JSON_STRING ? o->u.s : "?");
		return -1;
	}
	static const char *const empty_objs[] = {"beparams", "osparams"};
	for (size_t i = 0; i < 2; i++)
		if ((o = json_get(b, empty_objs[i])) && o->type != JSON_NULL &&
		    (o->type != JSON_OBJECT || o->len)) {
			job_prereq(job, "wrong_input",
				   "%s are not supported by a ferry cluster (give none)",
				   empty_objs[i]);
			return -1;
		}
	if ((o = json_get(b, "nics")) && o->type != JSON_NULL &&
	    (o->type != JSON_ARRAY || o->len)) {
		job_prereq(job, "wrong_input",
			   "NICs are not supported by a ferry cluster (containers use the "
			   "node's network or none: hvparams 'network')");
		return -1;
	}
	*compress = 0;
	if ((o = json_get(b, "compress")) && o->type != JSON_NULL) {
		if (json_as_string(o, &v, NULL) < 0 || (strcmp(v, "none") && strcmp(v, "lz4"))) {
			job_prereq(job, "wrong_input",
				   "Unsupported compression '%.40s' (this cluster supports none, "
				   "lz4)",
				   o->type == JSON_STRING ? o->u.s : "?");
			return -1;
		}
		*compress = !strcmp(v, "lz4");
	}
	*start = 1;
	if ((o = json_get(b, "start")) && o->type != JSON_NULL && json_as_bool(o, start) < 0) {
		job_prereq(job, "wrong_input", "%s", err_msg());
		return -1;
	}

	/* the container's config travels as hypervisor parameters */
	ct_config_init(cfg);
	o = json_get(b, "hvparams");
	if (o && o->type != JSON_NULL && o->type != JSON_OBJECT) {
		job_prereq(job, "wrong_input", "hvparams must be an object");
		return -1;
	}
	for (size_t i = 0; o && o->type == JSON_OBJECT && i < o->len; i++) {
		const struct json *m = &o->u.kids[i];
		char num[32];
		const char *val;
		if (m->type == JSON_NULL)
			continue;
		if (m->type == JSON_INT) {
			snprintf(num, sizeof(num), "%" PRId64, m->u.i);
			val = num;
		} else if (m->type == JSON_STRING) {
			val = m->u.s;
		} else {
			job_prereq(job, "wrong_input", "hvparams.%.60s: expected a string", m->key);
			return -1;
		}
		if (!srv.allow_runtime_cmds && val[0] &&
		    (!strcmp(m->key, "start_cmd") || !strcmp(m->key, "stop_cmd") ||
		     !strcmp(m->key, "status_cmd"))) {
			job_prereq(job, "wrong_input",
				   "hvparams.%s: this cluster does not accept runtime commands "
				   "through its API (ferry rapi --allow-runtime-commands)",
				   m->key);
			return -1;
		}
		if (ct_config_set(cfg, m->key, val) < 0) {
			job_prereq(job, "wrong_input", "hvparams.%.60s: %s", m->key, err_msg());
			return -1;
		}
	}
	/* one disk per dataset, "/" first, then the datasets in the config's order */
	o = json_get(b, "disks");
	if (!o || o->type != JSON_ARRAY || o->len == 0) {
		job_prereq(job, "wrong_input", "An instance needs at least one disk");
		return -1;
	}
	if (o->len != cfg->n_datasets + 1) {
		job_prereq(job, "wrong_input",
			   "The instance has %u disks but its hvparams name %zu datasets besides "
			   "'/' (one disk per dataset)",
			   (unsigned)o->len, cfg->n_datasets);
		return -1;
	}
	for (size_t i = 0; i < o->len; i++) {
		const struct json *dn = json_get(&o->u.kids[i], "name");
		const char *want = i == 0 ? CT_DATASET_ROOT : cfg->datasets[i - 1].name;
		if (o->u.kids[i].type != JSON_OBJECT) {
			job_prereq(job, "wrong_input", "disks[%zu]: expected an object", i);
			return -1;
		}
		if (dn && dn->type == JSON_STRING && strcmp(dn->u.s, "None") &&
		    strcmp(dn->u.s, want)) {
			job_prereq(job, "wrong_input",
				   "disks[%zu] is named '%.60s' but dataset %zu of the instance is "
				   "'%s'",
				   i, dn->u.s, i, want);
			return -1;
		}
	}
	return 0;
}

static void job_import(struct job *job, void *arg)
{
	struct import_arg *a = arg;
	struct json_doc doc = {0};
	struct sign_secret s = {0};
	struct ct_config *cfg = calloc(1, sizeof(*cfg));
	struct x509_identity *id = calloc(1, sizeof(*id));
	uint8_t *peer = malloc(X509_CERT_DER_MAX);
	char *signed_cert = malloc(SIGN_CERT_SIZE(X509_CERT_DER_MAX));
	struct disk_io *d = calloc(CT_DATASETS_MAX + 1, sizeof(*d));
	size_t peer_len = 0, n = 0;
	int start = 1, compress = 0, created = 0;
	struct ct ct = {.dirfd = -1, .lockfd = -1};
	struct ct_ref ref;
	if (!cfg || !id || !peer || !signed_cert || !d) {
		job_exec_error(job, "out of memory");
		goto out;
	}
	for (size_t i = 0; i <= CT_DATASETS_MAX; i++)
		d[i].l.fd = -1;
	if (json_parse(&doc, a->body, strlen(a->body)) < 0) {
		job_exec_error(job, "%s", err_msg());
		goto out;
	}
	if (job_secret(job, &s) < 0)
		goto out;
	if (import_check(job, doc.root, &s, peer, &peer_len, cfg, &start, &compress) < 0)
		goto out;
	if (ct_name_check("instance name", a->name) < 0) {
		job_prereq(job, "wrong_input",
			   "Instance name '%.80s' cannot be used on a ferry "
			   "cluster: %s",
			   a->name, err_msg());
		goto out;
	}
	if (ct_ref_set(&ref, srv.pool, a->name) < 0) {
		job_prereq(job, "wrong_input", "%s", err_msg());
		goto out;
	}
	const char *src_name = NULL;
	json_get_string(doc.root, "source_instance_name", &src_name);
	jlog(job, "importing %s%s%s (%zu disks) from the source cluster", a->name,
	     src_name && strcmp(src_name, a->name) ? ", formerly " : "",
	     src_name && strcmp(src_name, a->name) ? src_name : "", cfg->n_datasets + 1);

	/* the container, staged (not startable) until every disk arrived */
	struct ct_create_opts co = {.config = cfg, .staged = 1, .no_trees = 1};
	if (ct_create(&ct, srv.root, &ref, &co) < 0) {
		if (errno == EEXIST)
			job_prereq(job, "already_exists", "Instance '%s' is already in the cluster",
				   a->name);
		else
			job_exec_error(job, "creating the container: %s", err_msg());
		goto out;
	}
	created = 1;
	if (mark_write(&ct, RAPI_IMPORT_MARK, job_id(job)) < 0) {
		job_exec_error(job, "%s", err_msg());
		goto out;
	}

	/* this side's certificate, a listener and a signed address per disk */
	const char *names[] = {srv.node, NULL};
	char salt[SIGN_SALT_LEN + 1], base[SIGN_MAGIC_BASE_LEN + 1];
	if (x509_identity_generate(id, X509_KEY_EC, names, X509_MOVE_LIFETIME_SECONDS) < 0 ||
	    sign_salt(salt) < 0 || sign_magic_base(base) < 0) {
		job_exec_error(job, "per-move certificate: %s", err_msg());
		goto out;
	}
	n = cfg->n_datasets + 1;
	struct json_writer w;
	jw_init(&w);
	json_write_object_begin(&w);
	json_write_key(&w, "disks");
	json_write_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		d[i].job = job;
		d[i].idx = (int)i;
		d[i].name = i == 0 ? CT_DATASET_ROOT : cfg->datasets[i - 1].name;
		d[i].self = id;
		d[i].peer = peer;
		d[i].peer_len = peer_len;
		sign_magic(d[i].magic, base, a->name, (unsigned)i);
		char hmac[SIGN_HMAC_LEN];
		if (ct_dataset_tree(&ct, d[i].name, d[i].tree, sizeof(d[i].tree)) < 0 ||
		    ct_dataset_state(&ct, d[i].name, d[i].state, sizeof(d[i].state)) < 0 ||
		    xfer_listen(&d[i].l, a->ip) < 0 || job_watch_fd(job, d[i].l.fd) < 0 ||
		    sign_disk_info(&s, (unsigned)i, a->ip, d[i].l.port, d[i].magic, salt, hmac) <
			    0) {
			json_writer_free(&w);
			job_exec_error(job, "disk %zu: %s", i, err_msg());
			goto out;
		}
		json_write_array_begin(&w);
		json_write_string(&w, a->ip);
		json_write_int(&w, d[i].l.port);
		json_write_string(&w, d[i].magic);
		json_write_string(&w, hmac);
		json_write_string(&w, salt);
		json_write_array_end(&w);
	}
	json_write_array_end(&w);
	if (sign_cert(&s, salt, id->cert, id->cert_len, signed_cert,
		      SIGN_CERT_SIZE(X509_CERT_DER_MAX)) < 0) {
		json_writer_free(&w);
		job_exec_error(job, "signing: %s", err_msg());
		goto out;
	}
	jw_kstr(&w, "x509_ca", signed_cert);
	json_write_object_end(&w);
	char *info;
	if (json_writer_finish(&w, &info, NULL) < 0) {
		job_exec_error(job, "%s", err_msg());
		goto out;
	}
	srv_log("job %" PRId64 ": listening for %zu disks on %s", job_id(job), n, a->ip);
	job_log(job, "remote-import", info);
	free(info);

	/* every disk: the source connects, sends its streams, says F */
	if (disks_run(d, n, import_disk) < 0) {
		job_exec_error(job, "%s", err_msg());
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char line[256];
		stats_text(line, sizeof(line), &d[i].st, d[i].seconds);
		jlog(job, "disk %zu (%s) received: %s", i, d[i].name, line);
	}
	/* commit: the instance is complete; then tell the source */
	if (ct_file_remove(&ct, RAPI_IMPORT_MARK) < 0 || ct_set_staged(&ct, 0) < 0) {
		job_exec_error(job, "committing the instance: %s", err_msg());
		goto out;
	}
	created = 0; /* from here on the instance is kept whatever happens */
	for (size_t i = 0; i < n; i++)
		if (xfer_ack_final(d[i].x) < 0)
			jlog(job,
			     "disk %zu: the source may not have heard that the move is "
			     "complete: %s",
			     i, err_msg());
	jlog(job, "instance %s imported", a->name);
	if (start) {
		if (runtime_start(&ct, cfg) < 0) {
			job_exec_error(job,
				       "Could not start instance %s: %s (it is imported and "
				       "left stopped)",
				       a->name, err_msg());
			goto out;
		}
		jlog(job, "instance %s started", a->name);
	}
	jw_init(&w);
	json_write_array_begin(&w);
	json_write_string(&w, srv.node);
	json_write_array_end(&w);
	job_succeed_writer(job, &w);
out:
	for (size_t i = 0; d && i < n; i++) {
		if (d[i].x) {
			job_unwatch_fd(job, xfer_fd(d[i].x));
			if (created)
				xfer_abort(d[i].x, "the import failed on the destination");
			xfer_close(d[i].x);
		}
		if (d[i].l.fd >= 0) {
			job_unwatch_fd(job, d[i].l.fd);
			xfer_listener_close(&d[i].l);
		}
	}
	if (created) {
		/* a half-received instance is removed */
		if (ct_remove(&ct) < 0) {
			jlog(job, "could not remove the half-received instance %s: %s", a->name,
			     err_msg());
			ct_close(&ct);
		} else {
			jlog(job, "removed the half-received instance %s", a->name);
		}
	} else if (ct.dirfd >= 0) {
		ct_close(&ct);
	}
	if (id)
		x509_identity_wipe(id);
	free(id);
	free(cfg);
	free(peer);
	free(signed_cert);
	free(d);
	sign_secret_wipe(&s);
	json_doc_free(&doc);
}

static int import_recover(int64_t id, const char *pool, const char *name)
{
	struct ct_ref ref;
	struct ct ct;
	int64_t mark;
	if (ct_ref_set(&ref, pool, name) < 0)
		return 0;
	if (ct_open(&ct, srv.root, &ref, CT_LOCK_EXCLUSIVE | CT_LOCK_NOWAIT) < 0)
		return errno == ENOENT ? 0 : err_prefix("instance %s", name);
	if (ct_staged(&ct) == 1 && mark_read(&ct, RAPI_IMPORT_MARK, &mark) == 0 && mark == id) {
		if (ct_remove(&ct) < 0) {
			ct_close(&ct);
			return err_prefix("removing the half-received instance %s", name);
		}
		srv_log("job %" PRId64 ": removed the half-received instance %s:%s", id, pool,
			name);
		return 0;
	}
	ct_close(&ct);
	return 0;
}

static void h_instances_post(struct rctx *r)
{
	const struct json *b = r->body.root;
	int64_t version;
	const char *mode, *name;
	if (!b || b->type != JSON_OBJECT) {
		fail(r, 400, "The body must be an object");
		return;
	}
	const struct json *v = json_get(b, "__version__");
	if (!v || json_as_int(v, &version) < 0 || version != 1) {
		fail(r, 400, "Unsupported request data version (only __version__ 1 is supported)");
		return;
	}
	if (json_get_string(b, "mode", &mode) < 0 || strcmp(mode, "remote-import") != 0) {
		fail(r, 400,
		     "Only instance creation in mode 'remote-import' is supported (ferry "
		     "clusters get instances by moving them in)");
		return;
	}
	if (json_get_string(b, "name", &name) < 0 || !name[0] || strlen(name) > 255) {
		fail(r, 400, "Missing or bad instance name");
		return;
	}
	static const struct {
		const char *key;
		enum json_type type;
		int nullable;
	} typed[] = {
		{"disks", JSON_ARRAY, 0},
		{"nics", JSON_ARRAY, 1},
		{"hvparams", JSON_OBJECT, 1},
		{"beparams", JSON_OBJECT, 1},
		{"osparams", JSON_OBJECT, 1},
		{"source_handshake", JSON_ARRAY, 0},
		{"source_x509_ca", JSON_STRING, 0},
		{"disk_template", JSON_STRING, 0},
		{"start", JSON_BOOL, 1},
		{"compress", JSON_STRING, 1},
		{"tags", JSON_ARRAY, 1},
	};
	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		const struct json *m = json_get(b, typed[i].key);
		if (!m && !typed[i].nullable) {
			fail(r, 400, "Missing parameter '%s'", typed[i].key);
			return;
		}
		if (m && m->type != typed[i].type && !(typed[i].nullable && m->type == JSON_NULL)) {
			fail(r, 400, "Parameter '%s' should be of type %s, not %s", typed[i].key,
			     json_type_name(typed[i].type), json_type_name(m->type));
			return;
		}
	}
	struct import_arg *a = calloc(1, sizeof(*a));
	if (!a || !(a->body = strndup((const char *)r->req->body, r->req->body_len))) {
		import_arg_free(a);
		fail(r, 500, "out of memory");
		return;
	}
	snprintf(a->name, sizeof(a->name), "%.*s", CT_NAME_MAX, name);
	if (strlen(name) > CT_NAME_MAX) /* keep it invalid: the job says why */
		snprintf(a->name, sizeof(a->name), "%s", "-");
	snprintf(a->ip, sizeof(a->ip), "%s", srv.import_addr ? srv.import_addr : r->c->local_ip);
	if (!a->ip[0]) {
		import_arg_free(a);
		fail(r, 500, "cannot tell which address to receive on (give --import-address)");
		return;
	}
	const char *src = NULL;
	json_get_string(b, "source_instance_name", &src);
	char *op = op_text("OP_INSTANCE_CREATE", a->name, "mode", "remote-import",
			   "source_instance_name", src ? src : "", NULL);
	char summary[64 + 256];
	snprintf(summary, sizeof(summary), "INSTANCE_CREATE(%.255s)", name);
	int64_t id = op ? jobq_submit(srv.jobs, op, summary, job_import, a, import_arg_free)
			: (import_arg_free(a), err_set("out of memory"));
	free(op);
	answer_job(r, id);
}

/* ---- Export (source) -------------------------------------------------------------------------- */

struct export_arg {
	char *body;
	char name[CT_NAME_MAX + 1];
	int shutdown, remove;
	int compress;
};

static void export_arg_free(void *p)
{
	struct export_arg *a = p;
	if (a)
		free(a->body);
	free(a);
}

static void *export_disk(void *arg)
{
	struct disk_io *d = arg;
	struct tree_send_opts o = {.src = d->tree,
				   .state_dir = d->state,
				   .snapshot = d->snapshot,
				   .from = d->from,
				   .compress = d->compress};
	double t0 = mono_s();
	int r = xfer_send_tree(d->x, &o, &d->st);
	d->seconds = mono_s() - t0;
	disk_done(d, r);
	return NULL;
}

/* Runs one pass (SNAPSHOT, incremental FROM or a base) over all disks. 0 or -1 with err_set. */
static int export_pass(struct job *job, struct disk_io *d, size_t n, const char *snapshot,
		       const char *from)
{
	for (size_t i = 0; i < n; i++) {
		d[i].snapshot = snapshot;
		d[i].from = from;
	}
	if (disks_run(d, n, export_disk) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char line[256];
		stats_text(line, sizeof(line), &d[i].st, d[i].seconds);
		jlog(job, "disk %zu (%s) %s: %s", i, d[i].name, from ? "changes sent" : "sent",
		     line);
	}
	return 0;
}

static void job_export(struct job *job, void *arg)
{
	struct export_arg *a = arg;
	struct json_doc doc = {0};
	struct sign_secret s = {0};
	struct ct_config *cfg = calloc(1, sizeof(*cfg));
	struct x509_identity *id = calloc(1, sizeof(*id));
	uint8_t *peer = malloc(X509_CERT_DER_MAX);
	struct disk_io *d = calloc(CT_DATASETS_MAX + 1, sizeof(*d));
	struct ct ct = {.dirfd = -1, .lockfd = -1};
	struct ct_ref ref;
	size_t peer_len = 0, n = 0;
	const char *keyname = NULL;
	int stopped = 0, finish_sent = 0, opened = 0;
	char snap1[64] = "", snap2[64] = "";
	if (!cfg || !id || !peer || !d) {
		job_exec_error(job, "out of memory");
		goto out;
	}
	for (size_t i = 0; i <= CT_DATASETS_MAX; i++)
		d[i].l.fd = -1;
	if (json_parse(&doc, a->body, strlen(a->body)) < 0) {
		job_exec_error(job, "%s", err_msg());
		goto out;
	}
	if (job_secret(job, &s) < 0)
		goto out;
	const struct json *b = doc.root, *kn = json_get(b, "x509_key_name");
	const char *khmac, *ksalt, *ca;
	if (!kn || kn->type != JSON_ARRAY || kn->len != 3 ||
	    json_as_string(json_at(kn, 0), &keyname, NULL) < 0 ||
	    json_as_string(json_at(kn, 1), &khmac, NULL) < 0 ||
	    json_as_string(json_at(kn, 2), &ksalt, NULL) < 0) {
		keyname = NULL;
		job_prereq(job, "wrong_input",
			   "Invalid X509 key name: expected [name, hmac, salt]");
		goto out;
	}
	if (sign_hmac_check(&s, ksalt, keyname, strlen(keyname), khmac) < 0) {
		keyname = NULL; /* not ours to remove */
		job_prereq(job, "wrong_input", "HMAC for X509 key name is wrong");
		goto out;
	}
	int k = x509_load(keyname, id);
	if (k != 0) {
		job_prereq(job, "wrong_input", "%s", err_msg());
		goto out;
	}
	if (json_get_string(b, "destination_x509_ca", &ca) < 0) {
		job_prereq(job, "wrong_input", "Missing destination X509 CA");
		goto out;
	}
	if (peer_cert(&s, ca, peer, &peer_len) < 0) {
		job_prereq(job, "wrong_input", "Destination X509 CA: %s", err_msg());
		goto out;
	}

	if (ct_ref_set(&ref, srv.pool, a->name) < 0 ||
	    ct_open(&ct, srv.root, &ref, CT_LOCK_EXCLUSIVE | CT_LOCK_NOWAIT) < 0) {
		job_prereq(job, errno == ENOENT ? "unknown_entity" : "wrong_state", "%s",
			   err_msg());
		goto out;
	}
	opened = 1;
	if (ct_staged(&ct) != 0 || ct_config_load(&ct, cfg) < 0) {
		job_prereq(job, "wrong_state", "Instance %s cannot be exported: %s", a->name,
			   ct_staged(&ct) == 1 ? "it is staged (being received)" : err_msg());
		goto out;
	}
	n = cfg->n_datasets + 1;
	const struct json *dest = json_get(b, "destination");
	if (!dest || dest->type != JSON_ARRAY || dest->len != n) {
		job_prereq(job, "wrong_input", "Expected %zu target infos (one per disk), got %u",
			   n, dest && dest->type == JSON_ARRAY ? (unsigned)dest->len : 0);
		goto out;
	}
	const char *hosts[CT_DATASETS_MAX + 1];
	int64_t ports[CT_DATASETS_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		const struct json *e = json_at(dest, i);
		const char *magic = NULL, *hmac = NULL, *salt = NULL;
		hosts[i] = NULL;
		ports[i] = 0;
		if (!e || e->type != JSON_ARRAY || e->len != 5 ||
		    json_as_string(json_at(e, 0), &hosts[i], NULL) < 0 ||
		    json_as_int(json_at(e, 1), &ports[i]) < 0 ||
		    json_as_string(json_at(e, 2), &magic, NULL) < 0 ||
		    json_as_string(json_at(e, 3), &hmac, NULL) < 0 ||
		    json_as_string(json_at(e, 4), &salt, NULL) < 0) {
			job_prereq(job, "wrong_input",
				   "Target info for disk %zu: expected [host, port, magic, hmac, "
				   "salt]",
				   i);
			goto out;
		}
		if (sign_disk_info_check(&s, (unsigned)i, hosts[i], ports[i], magic, hmac, salt) <
		    0) {
			job_prereq(job, "wrong_input", "%s", err_msg());
			goto out;
		}
		snprintf(d[i].magic, sizeof(d[i].magic), "%s", magic);
	}

	struct runtime_status rs;
	if (runtime_status(&ct, cfg, &rs) < 0) {
		job_exec_error(job, "%s", err_msg());
		goto out;
	}
	jlog(job, "exporting %s (%zu disks, %s, compression %s)", a->name, n,
	     rs.running ? "running" : "stopped", a->compress ? "lz4" : "none");
	for (size_t i = 0; i < n; i++) {
		d[i].job = job;
		d[i].idx = (int)i;
		d[i].name = i == 0 ? CT_DATASET_ROOT : cfg->datasets[i - 1].name;
		d[i].compress = a->compress;
		if (ct_dataset_tree(&ct, d[i].name, d[i].tree, sizeof(d[i].tree)) < 0 ||
		    ct_dataset_state(&ct, d[i].name, d[i].state, sizeof(d[i].state)) < 0 ||
		    xfer_connect(&d[i].x, hosts[i], (unsigned)ports[i], id, peer, peer_len,
				 d[i].magic, 60000) < 0 ||
		    job_watch_fd(job, xfer_fd(d[i].x)) < 0) {
			job_exec_error(job, "disk %zu: %s", i, err_msg());
			goto out;
		}
	}
	uint8_t rnd[3];
	char hex[7];
	rand_bytes(rnd, sizeof(rnd));
	hex_encode(hex, rnd, sizeof(rnd));
	snprintf(snap1, sizeof(snap1), "rapi-%" PRId64 "-%s-1", job_id(job), hex);
	snprintf(snap2, sizeof(snap2), "rapi-%" PRId64 "-%s-2", job_id(job), hex);
	int two_pass = rs.running && a->shutdown;
	if (rs.running && !a->shutdown)
		jlog(job, "the instance keeps running: its data is sent as it changes (use "
			  "shutdown for a consistent copy)");
	if (export_pass(job, d, n, snap1, NULL) < 0) {
		job_exec_error(job, "%s", err_msg());
		goto out;
	}
	if (two_pass) {
		if (mark_write(&ct, RAPI_EXPORT_MARK, job_id(job)) < 0) {
			job_exec_error(job, "%s", err_msg());
			goto out;
		}
		jlog(job, "stopping %s for the final pass", a->name);
		if (runtime_stop(&ct, cfg, -1, NULL) < 0) {
			job_exec_error(job, "Could not shutdown instance %s: %s", a->name,
				       err_msg());
			goto out;
		}
		stopped = 1;
		if (export_pass(job, d, n, snap2, snap1) < 0) {
			job_exec_error(job, "%s", err_msg());
			goto out;
		}
	}
	if (job_cancel_requested(job)) {
		job_exec_error(job, "Job canceled by request");
		goto out;
	}
	/* F on every disk: from here the destination may hold the instance */
	for (size_t i = 0; i < n; i++)
		if (xfer_send_finish(d[i].x) < 0) {
			job_exec_error(job, "disk %zu: %s", i, err_msg());
			goto out;
		}
	finish_sent = 1;
	for (size_t i = 0; i < n; i++)
		if (xfer_wait_final(d[i].x, XFER_CONNECT_TIMEOUT_MS) < 0) {
			job_exec_error(job, "disk %zu: %s", i, err_msg());
			goto out;
		}
	jlog(job, "the destination confirmed the move of %s", a->name);
	struct json_writer w;
	jw_init(&w);
	json_write_array_begin(&w);
	json_write_bool(&w, 1);
	json_write_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		json_write_bool(&w, 1);
	json_write_array_end(&w);
	json_write_array_end(&w);
	if (a->remove) {
		ct_file_remove(&ct, RAPI_EXPORT_MARK);
		if (runtime_delete(&ct, cfg) < 0) {
			json_writer_free(&w);
			job_exec_error(job,
				       "the instance was moved but removing it here failed: %s",
				       err_msg());
			goto out;
		}
		opened = 0; /* runtime_delete closed it */
		jlog(job, "removed %s from this cluster", a->name);
	} else if (stopped) {
		ct_file_remove(&ct, RAPI_EXPORT_MARK);
		if (runtime_start(&ct, cfg) < 0) {
			json_writer_free(&w);
			job_exec_error(job, "Could not start instance: %s", err_msg());
			goto out;
		}
		stopped = 0;
		jlog(job, "started %s again (the source instance is kept)", a->name);
	}
	job_succeed_writer(job, &w);
out:
	for (size_t i = 0; d && i < n; i++)
		if (d[i].x) {
			job_unwatch_fd(job, xfer_fd(d[i].x));
			if (!finish_sent)
				xfer_abort(d[i].x, "the export failed on the source");
			xfer_close(d[i].x);
		}
	if (opened) {
		if (finish_sent && stopped) {
			/* the destination may hold it: never run it in two places */
			jlog(job,
			     "%s is left stopped here: the destination did not confirm the end "
			     "of the move; check whether it holds the instance before starting "
			     "it here",
			     a->name);
		} else if (stopped) {
			ct_file_remove(&ct, RAPI_EXPORT_MARK);
			if (runtime_start(&ct, cfg) < 0)
				jlog(job, "could not start %s again: %s", a->name, err_msg());
			else
				jlog(job, "started %s again", a->name);
		}
		for (size_t i = 0; i < n; i++) {
			if (snap1[0])
				tree_snapshot_drop(d[i].state, snap1);
			if (snap2[0])
				tree_snapshot_drop(d[i].state, snap2);
		}
		ct_close(&ct);
	}
	if (keyname)
		x509_remove(keyname);
	if (id)
		x509_identity_wipe(id);
	free(id);
	free(cfg);
	free(peer);
	free(d);
	sign_secret_wipe(&s);
	json_doc_free(&doc);
}

static int export_recover(int64_t id, const char *pool, const char *name)
{
	struct ct_ref ref;
	struct ct ct;
	int64_t mark;
	if (ct_ref_set(&ref, pool, name) < 0)
		return 0;
	if (ct_open(&ct, srv.root, &ref, CT_LOCK_EXCLUSIVE | CT_LOCK_NOWAIT) < 0)
		return 0;
	if (mark_read(&ct, RAPI_EXPORT_MARK, &mark) == 0 && mark == id) {
		ct_file_remove(&ct, RAPI_EXPORT_MARK);
		ct_close(&ct);
		return err_set("%s:%s was stopped by this export and is left stopped; check "
			       "whether the destination holds it before starting it here",
			       pool, name);
	}
	ct_close(&ct);
	return 0;
}

static void h_export(struct rctx *r)
{
	struct inst in;
	const struct json *b = r->body.root;
	const char *mode = NULL, *comp = "none";
	if (!b || b->type != JSON_OBJECT) {
		fail(r, 400, "The body must be an object");
		return;
	}
	if (json_get_string(b, "mode", &mode) < 0 || strcmp(mode, "remote") != 0) {
		fail(r, 400, "Only exports in mode 'remote' are supported");
		return;
	}
	const struct json *v;
	int shutdown_opt = 1, remove = 0;
	if ((v = json_get(b, "shutdown")) && v->type != JSON_NULL &&
	    json_as_bool(v, &shutdown_opt) < 0) {
		fail(r, 400, "%s", err_msg());
		return;
	}
	if ((v = json_get(b, "remove_instance")) && v->type != JSON_NULL &&
	    json_as_bool(v, &remove) < 0) {
		fail(r, 400, "%s", err_msg());
		return;
	}
	if ((v = json_get(b, "compress")) && v->type != JSON_NULL &&
	    json_as_string(v, &comp, NULL) < 0) {
		fail(r, 400, "%s", err_msg());
		return;
	}
	if (strcmp(comp, "none") && strcmp(comp, "lz4")) {
		fail(r, 400, "Unsupported compression '%.40s' (this cluster supports none, lz4)",
		     comp);
		return;
	}
	/* Ganeti's LUBackupExport refuses this too: a running source that is removed afterwards
	 * would keep running here while its copy starts on the destination. */
	if (remove && !shutdown_opt) {
		fail(r, 400, "Can not remove instance without shutting it down before");
		return;
	}
	if (path_instance(r, &in) < 0)
		return;
	struct export_arg *a = calloc(1, sizeof(*a));
	if (!a || !(a->body = strndup((const char *)r->req->body, r->req->body_len))) {
		export_arg_free(a);
		fail(r, 500, "out of memory");
		return;
	}
	snprintf(a->name, sizeof(a->name), "%s", in.ref.id);
	a->shutdown = shutdown_opt;
	a->remove = remove;
	a->compress = !strcmp(comp, "lz4");
	char *op = op_text("OP_BACKUP_EXPORT", in.ref.id, "mode", "remote", NULL);
	char summary[64 + CT_NAME_MAX];
	snprintf(summary, sizeof(summary), "BACKUP_EXPORT(%s)", in.ref.id);
	int64_t id = op ? jobq_submit(srv.jobs, op, summary, job_export, a, export_arg_free)
			: (export_arg_free(a), err_set("out of memory"));
	free(op);
	answer_job(r, id);
}

/* ---- Jobs resources -------------------------------------------------------------------------- */

/* Job id of segment 2: -1 (404 set) if not a number. */
static int64_t path_job_id(struct rctx *r)
{
	uint64_t v;
	if (parse_uint(r->seg[2], 1, INT64_MAX, &v) < 0) {
		fail(r, 404, "Job '%.40s' not found", r->seg[2]);
		return -1;
	}
	return (int64_t)v;
}

static void job_answer(struct rctx *r, int rc, int64_t id, char *text)
{
	if (rc == 1)
		fail(r, 404, "Job %" PRId64 " not found", id);
	else if (rc < 0)
		fail(r, 500, "job %" PRId64 ": %s", id, err_msg());
	else {
		free(r->out);
		r->out = text;
		r->status = 200;
	}
}

static void h_jobs(struct rctx *r)
{
	char *text;
	int rc = jobq_list(srv.jobs, &text, NULL);
	if (rc < 0)
		fail(r, 500, "%s", err_msg());
	else
		job_answer(r, 0, 0, text);
}

static void h_job_get(struct rctx *r)
{
	char *text = NULL;
	int64_t id = path_job_id(r);
	if (id < 0)
		return;
	int rc = jobq_get(srv.jobs, id, &text, NULL);
	job_answer(r, rc, id, text);
}

static void h_job_delete(struct rctx *r)
{
	char *text = NULL;
	int64_t id = path_job_id(r);
	if (id < 0)
		return;
	int rc = jobq_cancel(srv.jobs, id, &text, NULL);
	if (rc == 0)
		srv_log("job %" PRId64 ": cancel requested by %s", id, r->user ? r->user : "?");
	job_answer(r, rc, id, text);
}

static void h_job_wait(struct rctx *r)
{
	char *text = NULL;
	int64_t id = path_job_id(r);
	if (id < 0)
		return;
	const struct json *b = r->body.root;
	if (!b || b->type != JSON_OBJECT) {
		fail(r, 400,
		     "The body must be an object with 'fields', 'previous_job_info' and "
		     "'previous_log_serial'");
		return;
	}
	const struct json *fields = json_get(b, "fields");
	const struct json *prev = json_get(b, "previous_job_info");
	const struct json *serial = json_get(b, "previous_log_serial");
	int64_t prev_serial = -1;
	if (!fields || fields->type != JSON_ARRAY) {
		fail(r, 400, "The 'fields' parameter should be a list");
		return;
	}
	if (prev && prev->type != JSON_NULL && prev->type != JSON_ARRAY) {
		fail(r, 400, "The 'previous_job_info' parameter should be a list");
		return;
	}
	if (serial && serial->type != JSON_NULL) {
		if (serial->type != JSON_INT || json_as_int(serial, &prev_serial) < 0) {
			fail(r, 400, "The 'previous_log_serial' parameter should be a number");
			return;
		}
	}
	int rc = jobq_wait(srv.jobs, id, fields, prev, prev_serial, RAPI_WAIT_MS, &text, NULL);
	if (rc == 2) {
		fail(r, 400, "%s", err_msg());
		return;
	}
	job_answer(r, rc, id, text);
}

/* ---- Routing and access ------------------------------------------------------------------ */

enum {
	M_GET = 1,
	M_PUT = 2,
	M_POST = 4,
	M_DELETE = 8,
};

struct route {
	const char *pattern[RAPI_SEGMENTS_MAX]; /* "*" matches any segment */
	size_t n;
	int method;
	int write; /* needs the write right */
	int body;  /* takes a JSON body */
	void (*fn)(struct rctx *r);
};

static const struct route routes[] = {
	{{NULL}, 0, M_GET, 0, 0, h_root},
	{{"version"}, 1, M_GET, 0, 0, h_version},
	{{"2"}, 1, M_GET, 0, 0, h_root},
	{{"2", "features"}, 2, M_GET, 0, 0, h_features},
	{{"2", "info"}, 2, M_GET, 0, 0, h_info},
	{{"2", "instances"}, 2, M_GET, 0, 0, h_instances_get},
	{{"2", "instances"}, 2, M_POST, 1, 1, h_instances_post},
	{{"2", "instances", "*"}, 3, M_GET, 0, 0, h_instance_get},
	{{"2", "instances", "*", "info"}, 4, M_GET, 0, 0, h_instance_info},
	{{"2", "instances", "*", "tags"}, 4, M_GET, 0, 0, h_instance_tags},
	{{"2", "instances", "*", "prepare-export"}, 4, M_PUT, 1, 0, h_prepare_export},
	{{"2", "instances", "*", "export"}, 4, M_PUT, 1, 1, h_export},
	{{"2", "jobs"}, 2, M_GET, 0, 0, h_jobs},
	{{"2", "jobs", "*"}, 3, M_GET, 0, 0, h_job_get},
	{{"2", "jobs", "*"}, 3, M_DELETE, 1, 0, h_job_delete},
	{{"2", "jobs", "*", "wait"}, 4, M_GET, 1, 1, h_job_wait},
};

static int method_bit(const char *m)
{
	if (!strcmp(m, "GET"))
		return M_GET;
	if (!strcmp(m, "PUT"))
		return M_PUT;
	if (!strcmp(m, "POST"))
		return M_POST;
	if (!strcmp(m, "DELETE"))
		return M_DELETE;
	return 0;
}

/* Splits the path into segments; 0, or -1 for an empty segment ("//", a trailing '/'). */
static int split_path(struct rctx *r)
{
	const char *p = r->req->path;
	snprintf(r->segbuf, sizeof(r->segbuf), "%s", p[0] == '/' ? p + 1 : p);
	r->nseg = 0;
	if (!r->segbuf[0])
		return 0;
	char *s = r->segbuf;
	for (;;) {
		char *slash = strchr(s, '/');
		if (slash)
			*slash = 0;
		if (!*s || r->nseg == RAPI_SEGMENTS_MAX)
			return -1;
		r->seg[r->nseg++] = s;
		if (!slash)
			return 0;
		s = slash + 1;
	}
}

static int route_matches(const struct route *rt, const struct rctx *r)
{
	if (rt->n != r->nseg)
		return 0;
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->pattern[i], "*") != 0 && strcmp(rt->pattern[i], r->seg[i]) != 0)
			return 0;
	return 1;
}

/* Checks the credentials. 0 to go on; -1 with the answer (401) set. */
static int authenticate(struct rctx *r)
{
	struct http_request *req = r->req;
	r->access = RAPIUSERS_DENIED;
	if (req->auth == HTTP_AUTH_NONE)
		return 0;
	if (req->auth == HTTP_AUTH_OTHER) {
		fail(r, 401, "Only Basic authentication is supported");
		return -1;
	}
	pthread_mutex_lock(&srv.users_mu);
	r->access = rapiusers_check(srv.users, req->user, req->password);
	pthread_mutex_unlock(&srv.users_mu);
	if (r->access == RAPIUSERS_DENIED) {
		fail(r, 401, "Wrong user name or password");
		return -1;
	}
	r->user = req->user;
	return 0;
}

static void dispatch(struct rctx *r)
{
	struct http_request *req = r->req;
	if (split_path(r) < 0) {
		fail(r, 404, "No resource at %.200s", req->path);
		return;
	}
	const struct route *found = NULL;
	int methods = 0, m = method_bit(req->method);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_matches(&routes[i], r))
			continue;
		methods |= routes[i].method;
		if (routes[i].method == m)
			found = &routes[i];
	}
	if (!methods) {
		fail(r, 404, "No resource at %.200s", req->path);
		return;
	}
	if (!found) {
		fail(r, 501, "Method %.16s is unsupported for path %.200s", req->method, req->path);
		return;
	}
	if (authenticate(r) < 0)
		return;
	int need = found->write ? RAPIUSERS_WRITE : srv.require_auth ? RAPIUSERS_READ : 0;
	if (need && r->access == RAPIUSERS_DENIED) {
		fail(r, 401, "This resource needs authentication");
		return;
	}
	if (need == RAPIUSERS_WRITE && r->access != RAPIUSERS_WRITE) {
		fail(r, 403, "User '%.60s' has no write access", r->user);
		return;
	}
	if (req->body_len && found->body) {
		if (json_parse(&r->body, (const char *)req->body, req->body_len) < 0) {
			fail(r, 400, "Unable to parse JSON data: %s", err_msg());
			return;
		}
	} else if (req->body_len && !found->body) {
		/* Ganeti ignores bodies where none is expected; so do we, once they parse */
		if (json_validate((const char *)req->body, req->body_len) < 0) {
			fail(r, 400, "Unable to parse JSON data: %s", err_msg());
			return;
		}
	}
	found->fn(r);
}

/* ---- Connections ----------------------------------------------------------------------------- */

static const struct http_header www_auth = {"WWW-Authenticate",
					    "Basic realm=\"" RAPIUSERS_REALM "\""};

static void serve(struct conn *c)
{
	struct rctx *r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->c = c;
	r->req = &c->req;
	int rc = http_request_read(&c->req, &c->in, &c->out, HTTP_BODY_MAX, "application/json");
	if (rc == 1)
		goto out;
	if (rc < 0) {
		if (c->req.status) {
			http_error_write(&c->out, c->req.status, err_msg(), NULL, 0);
			srv_log("%s: bad request: %d %s", c->peer, c->req.status, err_msg());
		}
		goto out;
	}
	dispatch(r);
	if (r->status == 200) {
		http_response_write(&c->out, 200, "application/json", NULL, 0, r->out,
				    strlen(r->out));
	} else {
		int auth = r->status == 401;
		http_error_write(&c->out, r->status, r->explain, auth ? &www_auth : NULL,
				 auth ? 1 : 0);
	}
	if (r->status == 200)
		srv_log("%s %s %s %s: 200", c->peer, r->user ? r->user : "-", c->req.method,
			c->req.target);
	else
		srv_log("%s %s %s %s: %d %s", c->peer, r->user ? r->user : "-", c->req.method,
			c->req.target, r->status, r->explain);
out:
	json_doc_free(&r->body);
	free(r->out);
	http_request_free(&c->req);
	free(r);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	net_set_timeouts(c->fd, RAPI_CONN_TIMEOUT_MS);
	net_peer_text(c->fd, c->peer, sizeof(c->peer));
	if (net_local_ip(c->fd, c->local_ip, sizeof(c->local_ip)) < 0)
		c->local_ip[0] = 0;
	if (tls_server_accept(&c->tls, c->fd, &srv.tls) < 0) {
		srv_log("%s: TLS: %s", c->peer, err_msg());
	} else {
		tls_chan(&c->tls, &c->ch);
		io_in_init(&c->in, &c->ch, c->inbuf, sizeof(c->inbuf));
		io_out_init(&c->out, &c->ch, c->outbuf, sizeof(c->outbuf));
		serve(c);
		tls_close(&c->tls);
	}
	tls_wipe(&c->tls);
	net_close_gracefully(c->fd, 1000);
	free(c);
	pthread_mutex_lock(&srv.conn_mu);
	srv.nconn--;
	pthread_cond_broadcast(&srv.conn_cv);
	pthread_mutex_unlock(&srv.conn_mu);
	return NULL;
}

static void start_conn(int fd)
{
	struct conn *c = malloc(sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	memset(c, 0, offsetof(struct conn, tls));
	c->fd = fd;
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, RAPI_CONN_STACK);
	pthread_mutex_lock(&srv.conn_mu);
	srv.nconn++;
	pthread_mutex_unlock(&srv.conn_mu);
	int e = pthread_create(&t, &attr, conn_main, c);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		srv_log("cannot start a connection thread: %s", strerror(e));
		close(fd);
		free(c);
		pthread_mutex_lock(&srv.conn_mu);
		srv.nconn--;
		pthread_mutex_unlock(&srv.conn_mu);
	}
}

/* ---- Start-up, recovery, the main loop ---------------------------------------------------------- */

static void reload_users(void)
{
	struct rapiusers *u;
	if (rapiusers_load(&u, srv.users_path) < 0) {
		srv_log("SIGHUP: keeping the old users: %s", err_msg());
		return;
	}
	pthread_mutex_lock(&srv.users_mu);
	struct rapiusers *old = srv.users;
	srv.users = u;
	pthread_mutex_unlock(&srv.users_mu);
	rapiusers_free(old);
	srv_log("SIGHUP: reloaded %zu users from %s", rapiusers_count(u), srv.users_path);
}

static void setup_users(void)
{
	char pass_path[PATH_MAX];
	if (keyring_path(srv.users_path, sizeof(srv.users_path), srv.root, RAPIUSERS_FILE) < 0 ||
	    keyring_path(pass_path, sizeof(pass_path), srv.root, RAPIUSERS_PASS_FILE) < 0)
		die_err("users file");
	int r = rapiusers_load(&srv.users, srv.users_path);
	if (r == -2) {
		if (rapiusers_generate(srv.users_path, pass_path, NULL) < 0)
			die_err("create the users file");
		srv_log("created the users file %s: user '%s' with write access; its password is "
			"in %s (move-instance --src-password-file)",
			srv.users_path, RAPIUSERS_GEN_USER, pass_path);
		r = rapiusers_load(&srv.users, srv.users_path);
	}
	if (r < 0)
		die_err("users file");
}

static void setup_identity(const char *bind_addr)
{
	char path[PATH_MAX];
	srv.id = malloc(sizeof(*srv.id));
	if (!srv.id)
		die("out of memory");
	if (node_mkdir(srv.root, NODE_CLUSTER_DIR) < 0)
		die_err("create %s/%s", srv.root, NODE_CLUSTER_DIR);
	keyring_path(path, sizeof(path), srv.root, KEYRING_RAPI_FILE);
	int r = keyring_rapi_load(srv.root, srv.id);
	int created = 0;
	if (r == KEYRING_MISSING) {
		/* names clients may use: the node, the cluster, the bound address, loopback */
		const char *names[8];
		size_t n = 0;
		names[n++] = srv.node;
		if (strcmp(srv.cluster, srv.node))
			names[n++] = srv.cluster;
		if (bind_addr && strcmp(bind_addr, "0.0.0.0") && strcmp(bind_addr, "::") &&
		    strcmp(bind_addr, "127.0.0.1") && strcmp(bind_addr, "::1"))
			names[n++] = bind_addr;
		names[n++] = "localhost";
		names[n++] = "127.0.0.1";
		names[n++] = "::1";
		names[n] = NULL;
		if (keyring_rapi_generate(srv.id, X509_KEY_EC, names) < 0 ||
		    keyring_rapi_store(srv.root, srv.id, 0) < 0)
			die_err("create the API key and certificate");
		created = 1;
	} else if (r < 0) {
		die_err("API key and certificate");
	}
	struct x509_cert_info info;
	if (x509_cert_parse(srv.id->cert, srv.id->cert_len, &info) < 0)
		die_err("%s", path);
	if (created)
		srv_log("created the API key and certificate %s (CN %s); clients trust the "
			"certificate that `ferry renew-crypto --show-rapi-certificate` prints",
			path, info.cn);
	else if (x509_cert_check_time(&info, (int64_t)time(NULL)) < 0)
		srv_log("warning: the API certificate %s: %s (renew it with ferry renew-crypto "
			"--new-rapi-certificate -f)",
			path, err_msg());
	srv.tls.self = srv.id;
}

static int recover_job(void *ctx, int64_t id, const struct json *op)
{
	const char *opid = NULL, *name = NULL, *pool = NULL;
	json_get_string(op, "OP_ID", &opid);
	json_get_string(op, "instance_name", &name);
	json_get_string(op, "ferry_pool", &pool);
	if (!opid || !name || !pool)
		return 0;
	if (!strcmp(opid, "OP_INSTANCE_CREATE"))
		return import_recover(id, pool, name);
	if (!strcmp(opid, "OP_BACKUP_EXPORT"))
		return export_recover(id, pool, name);
	return 0;
}

int rapi_main(int argc, char **argv)
{
	enum {
		O_ROOT = 1,
		O_PORT,
		O_BIND,
		O_NODE,
		O_CLUSTER,
		O_POOL,
		O_IMPORT,
		O_REQAUTH,
		O_RUNCMDS,
		O_MAXCL,
		O_LOG,
	};
	static const struct opt_spec specs[] = {
		{O_ROOT, 0, "root", OPT_REQUIRED},
		{O_PORT, 0, "port", OPT_REQUIRED},
		{O_BIND, 0, "bind", OPT_REQUIRED},
		{O_NODE, 0, "node-name", OPT_REQUIRED},
		{O_CLUSTER, 0, "cluster-name", OPT_REQUIRED},
		{O_POOL, 0, "pool", OPT_REQUIRED},
		{O_IMPORT, 0, "import-address", OPT_REQUIRED},
		{O_REQAUTH, 0, "require-authentication", OPT_NOARG},
		{O_RUNCMDS, 0, "allow-runtime-commands", OPT_NOARG},
		{O_MAXCL, 0, "max-clients", OPT_REQUIRED},
		{O_LOG, 0, "log", OPT_REQUIRED},
		OPT_SPEC_END,
	};
	const char *root = NULL, *bind_addr = NULL, *node = NULL, *cluster = NULL;
	const char *pool = CT_POOL_DEFAULT, *log_file = NULL;
	unsigned port = RAPI_PORT_DEFAULT;
	struct opt_state st;
	int id;
	srv.max_conn = RAPI_MAX_CLIENTS_DEF;
	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		switch (id) {
		case O_ROOT:
			root = st.arg;
			break;
		case O_PORT:
			port = (unsigned)xparse_uint(st.arg, 1, 65535, "--port", usage);
			break;
		case O_BIND:
			if (!net_ip_ok(st.arg))
				die_usage(usage, "--bind: '%s' is not an IP address", st.arg);
			bind_addr = st.arg;
			break;
		case O_NODE:
			node = st.arg;
			break;
		case O_CLUSTER:
			cluster = st.arg;
			break;
		case O_POOL:
			if (ct_name_check("pool", st.arg) < 0)
				die_usage(usage, "--pool: %s", err_msg());
			pool = st.arg;
			break;
		case O_IMPORT:
			if (!net_ip_ok(st.arg))
				die_usage(usage, "--import-address: '%s' is not an IP address",
					  st.arg);
			srv.import_addr = st.arg;
			break;
		case O_REQAUTH:
			srv.require_auth = 1;
			break;
		case O_RUNCMDS:
			srv.allow_runtime_cmds = 1;
			break;
		case O_MAXCL:
			srv.max_conn = (int)xparse_uint(st.arg, 1, 4096, "--max-clients", usage);
			break;
		case O_LOG:
			log_file = st.arg;
			break;
		case OPT_POSITIONAL:
			die_usage(usage, "unexpected argument '%s'", st.arg);
		}
	}
	if (log_file) {
		int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			die_errno("--log %s", log_file);
		if (dup2(fd, STDERR_FILENO) < 0)
			die_errno("--log %s", log_file);
		close(fd);
	}
	srv.root = node_root(root);
	snprintf(srv.pool, sizeof(srv.pool), "%s", pool);
	if (!node) {
		if (gethostname(srv.node, sizeof(srv.node) - 1) < 0 || !srv.node[0])
			die_errno("cannot read the host name (give --node-name)");
	} else {
		snprintf(srv.node, sizeof(srv.node), "%s", node);
	}
	for (const char *p = srv.node; *p; p++)
		if (*p <= ' ' || *p > '~')
			die_usage(usage, "--node-name: only printable ASCII without blanks");
	snprintf(srv.cluster, sizeof(srv.cluster), "%s", cluster ? cluster : srv.node);

	/* one server per state root */
	char dir[PATH_MAX];
	if (node_mkdir(srv.root, RAPI_DIR) < 0 || node_mkdir(srv.root, RAPI_X509_DIR) < 0 ||
	    node_path(dir, sizeof(dir), srv.root, RAPI_DIR) < 0 ||
	    node_path(srv.x509_dir, sizeof(srv.x509_dir), srv.root, RAPI_X509_DIR) < 0)
		die_err("state directory");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die_errno("%s", dir);
	int lock = file_lock(dfd, RAPI_LOCK_FILE, LOCK_EX | LOCK_NB);
	if (lock < 0) {
		if (errno == EWOULDBLOCK)
			die("another ferry rapi serves %s", srv.root);
		die_err("%s/%s", dir, RAPI_LOCK_FILE);
	}
	close(dfd);

	setup_identity(bind_addr);
	setup_users();
	struct sign_secret s;
	if (keyring_secret_load(srv.root, &s) < 0)
		srv_log("warning: %s; moves fail until this cluster has one (the same as the "
			"other cluster's)",
			err_msg());
	sign_secret_wipe(&s);

	/* signals: handled by the main loop only, through a signalfd */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		die_errno("signalfd");

	char jobs_dir[PATH_MAX];
	if (node_path(jobs_dir, sizeof(jobs_dir), srv.root, RAPI_JOBS_DIR) < 0 ||
	    jobq_open(&srv.jobs, jobs_dir, recover_job, NULL) < 0)
		die_err("job queue");
	x509_sweep();

	int lfd = net_listen(bind_addr, port, 128);
	if (lfd < 0)
		die_err("API server");
	srv_log("serving https://%s%s%s:%u/ (cluster %s, node %s, pool %s, state %s)",
		bind_addr && strchr(bind_addr, ':') ? "[" : "", bind_addr ? bind_addr : "*",
		bind_addr && strchr(bind_addr, ':') ? "]" : "", port, srv.cluster, srv.node,
		srv.pool, srv.root);

	for (;;) {
		pthread_mutex_lock(&srv.conn_mu);
		int full = srv.nconn >= srv.max_conn;
		pthread_mutex_unlock(&srv.conn_mu);
		struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN},
				       {.fd = lfd, .events = full ? 0 : POLLIN}};
		int pr = poll(pf, 2, full ? 100 : -1);
		if (pr < 0 && errno != EINTR)
			die_errno("poll");
		if (pr > 0 && (pf[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload_users();
				} else {
					srv_log("%s: stopping", strsignal((int)si.ssi_signo));
					break;
				}
			}
		}
		if (pr > 0 && (pf[1].revents & POLLIN)) {
			int fd = net_accept(lfd, 0);
			if (fd >= 0)
				start_conn(fd);
		}
	}
	close(lfd);
	int left = jobq_shutdown(srv.jobs, RAPI_JOB_GRACE_MS);
	if (left)
		srv_log("%d jobs did not end in time; the next start records them as failed", left);
	/* connections end on their own: waits answer at once, reads time out */
	pthread_mutex_lock(&srv.conn_mu);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += RAPI_CONN_TIMEOUT_MS / 1000 + 5;
	while (srv.nconn > 0)
		if (pthread_cond_timedwait(&srv.conn_cv, &srv.conn_mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&srv.conn_mu);
	srv_log("stopped");
	return EXIT_OK;
}
