/* Background jobs of the cluster API in Ganeti's job model: threads, persistent records, logs with serials, long-poll waits, cancel (docs/rapi.md, "Jobs"). */
#ifndef FERRY_JOBQ_H
#define FERRY_JOBQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"

/* Ganeti's job and opcode statuses; the names are jobq_status_name's. */
enum job_status {
	JOB_QUEUED = 0,
	JOB_WAITING,
	JOB_CANCELING,
	JOB_RUNNING,
	JOB_CANCELED,
	JOB_SUCCESS,
	JOB_ERROR,
};

/* Jobs running at once; a submit beyond that fails (the API answers 503). */
#define JOBQ_RUNNING_MAX 32
/* Finished jobs kept in memory; older ones are read back from their record files. */
#define JOBQ_MEMORY_MAX 256
/* Log entries of one job (later messages are dropped, with a note), bytes of one entry. */
#define JOB_LOG_MAX	 1000
#define JOB_LOG_MSG_MAX	 (64u << 10)
#define JOB_RESULT_MAX	 (1u << 20) /* bytes of a job's result JSON */
#define JOB_RECORD_MAX	 (4u << 20) /* bytes of a record file read back */
#define JOB_WATCH_FDS	 128	    /* sockets one job may register for cancel */
#define JOB_STACK_SIZE	 (8u << 20) /* of each job's thread (virtual; pages are touched as used) */
#define JOBQ_WAIT_MS_MAX 60000	    /* longest wait a caller may ask for */

struct jobq;
struct job;

/* The work of a job, run in its own thread. It ends the job with job_succeed or job_fail. */
typedef void job_fn(struct job *job, void *arg);

/*
 * Called by jobq_open for each record of a job that was queued or running
 * when the previous server stopped, before the record is rewritten as
 * failed: OP is the job's op (the object it was submitted with), so the
 * caller can undo half-done work. Returns 0, or -1 with err_set (the
 * message is added to the job's log).
 */
typedef int job_recover_fn(void *ctx, int64_t id, const struct json *op);

/*
 * Opens the job queue whose records live in DIR (created with mode 0700
 * if missing): one file per job named by its id, holding the JSON that
 * GET /2/jobs/ID answers, replaced atomically at every change. Records of
 * jobs that had not finished are handed to RECOVER (may be NULL) and
 * rewritten as status "error" with the message "the API server stopped
 * while the job ran"; a "canceling" one becomes "canceled". Nothing is
 * forgotten. New ids continue after the highest id found. 0 or -1.
 */
int jobq_open(struct jobq **out, const char *dir, job_recover_fn *recover, void *ctx);

/*
 * Submits a job: OP_JSON is the op as a JSON object (e.g.
 * {"OP_ID":"OP_INSTANCE_CREATE","instance_name":"web"}), SUMMARY its
 * one-line summary ("INSTANCE_CREATE(web)"). The job is recorded as
 * queued and FN(job, ARG) starts in a new thread; FREE_ARG(ARG) (may be
 * NULL) runs after FN returns, also when the job could not be started.
 * Returns the new id (> 0), or -1 with err_set (queue stopping or full,
 * record not written).
 */
int64_t jobq_submit(struct jobq *q, const char *op_json, const char *summary, job_fn *fn, void *arg,
		    void (*free_arg)(void *));

/* For the job's own thread. */
int64_t job_id(const struct job *j);
/*
 * Appends a log entry of TYPE ("message", "remote-import", ...) whose
 * message is the JSON value MSG_JSON (checked; at most JOB_LOG_MSG_MAX
 * bytes); serials start at 1. The record is rewritten and waiters wake.
 */
void job_log(struct job *j, const char *type, const char *msg_json);
/* job_log of type "message" with a formatted text. */
void job_message(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Ends the job successfully with RESULT_JSON as its op's result (checked
 * JSON). Status "success", even if a cancel arrived meanwhile (the work is
 * done). Later ends are ignored.
 */
void job_succeed(struct job *j, const char *result_json);
/*
 * Ends the job as failed: status "error" with the op result [CLS, [MSG,
 * CODE]] (CODE NULL: [CLS, [MSG]]), e.g. "OpPrereqError" with
 * "wrong_input". If a cancel was requested, the status is "canceled"
 * instead (the result still says why). Later ends are ignored.
 */
void job_fail(struct job *j, const char *cls, const char *msg, const char *code);
/* 1 once a cancel (DELETE or server shutdown) was requested for J, else 0. */
int job_cancel_requested(struct job *j);
/*
 * Registers socket FD: a cancel shuts it down (shutdown(2), both ways) so
 * a read, write, accept or poll on it ends at once. -1 with err_set
 * ("canceled") if a cancel was already requested (FD is shut down then),
 * or if JOB_WATCH_FDS sockets are registered. Unregister before closing.
 */
int job_watch_fd(struct job *j, int fd);
void job_unwatch_fd(struct job *j, int fd);

/*
 * The record of job ID (the JSON of GET /2/jobs/ID) into *OUT (malloc'd,
 * NUL-terminated; *LEN if not NULL). 0, 1 if there is no such job, -1.
 */
int jobq_get(struct jobq *q, int64_t id, char **out, size_t *len);

/*
 * Ganeti's WaitForJobChangeOnce for job ID: FIELDS (a JSON array of field
 * names: id, ops, status, summary, opstatus, opresult, oplog,
 * received_ts, start_ts, end_ts), PREV_INFO (the job_info the caller saw:
 * a JSON array, or NULL/null for none) and PREV_SERIAL (the last log
 * serial seen, < 0 for none). Answers at once when the job has finished,
 * when its job_info differs from PREV_INFO or when log entries newer than
 * PREV_SERIAL exist: {"job_info": [...], "log_entries": [[serial, [sec,
 * usec], type, msg], ...]}. Otherwise waits for a change at most
 * TIMEOUT_MS (at most JOBQ_WAIT_MS_MAX) and answers "null" if nothing
 * changed (also at once when the queue shuts down). *OUT is malloc'd.
 * 0; 1 if there is no such job; 2 with err_set for a bad field name or
 * malformed FIELDS; -1 on error.
 */
int jobq_wait(struct jobq *q, int64_t id, const struct json *fields, const struct json *prev_info,
	      int64_t prev_serial, int timeout_ms, char **out, size_t *len);

/*
 * Requests cancellation of job ID. *OUT gets Ganeti's answer [true, "Job
 * ID will be canceled"] for a queued or running job (its watched sockets
 * are shut down; the job ends as "canceled" unless it already did its
 * work), or [false, "Job ID has already finished"]. 0, 1 if there is no
 * such job, -1.
 */
int jobq_cancel(struct jobq *q, int64_t id, char **out, size_t *len);

/* [{"id": N, "uri": "/2/jobs/N"}, ...] for every recorded job, by id. 0 or -1. */
int jobq_list(struct jobq *q, char **out, size_t *len);

/* Number of jobs running or queued now. */
int jobq_running(struct jobq *q);

/*
 * Stops the queue: no new jobs; waiters wake and answer "null"; every
 * running job gets a cancel; waits up to GRACE_MS for their threads to
 * end. Returns how many still run (their records say running; the next
 * jobq_open marks them failed). Call before jobq_close.
 */
int jobq_shutdown(struct jobq *q, int grace_ms);
/* Frees Q; only when no job thread runs any more (jobq_shutdown returned 0). */
void jobq_close(struct jobq *q);

/* "queued", "waiting", "canceling", "running", "canceled", "success", "error". */
const char *jobq_status_name(enum job_status s);

#endif
