/* Starting and stopping containers: the built-in namespace runtime, or the config's external commands. */
#ifndef FERRY_RUNTIME_H
#define FERRY_RUNTIME_H

#include <sys/types.h>

#include "core/ct.h"

/* Seconds a status_cmd may take; seconds after SIGKILL before a stop gives up. */
#define RUNTIME_STATUS_TIMEOUT 30
#define RUNTIME_KILL_GRACE     30
/* Seconds the built-in runtime waits for a new container to reach its init. */
#define RUNTIME_SETUP_TIMEOUT 60
/* stop_cmd may take stop_timeout plus this many seconds. */
#define RUNTIME_STOP_CMD_EXTRA 30
/* The log is moved to log.old when a start finds it larger than this. */
#define RUNTIME_LOG_ROTATE (1024 * 1024)
/* Bytes of start_cmd's standard output kept (for its "pid=N" line). */
#define RUNTIME_CMD_OUTPUT_MAX 4096

/* What a container is doing now (docs/node-state.md, "Run state"). */
struct runtime_status {
	int running;	   /* 1 running, 0 not */
	int staged;	   /* 1 if staged (never running then) */
	int external;	   /* 1 if the config has a start_cmd */
	pid_t pid;	   /* the init's pid on this node, 0 if none is known */
	long long started; /* when it was started (seconds since the epoch), 0 if unknown */
};

/*
 * Fills *ST for container CT with config C. Built-in runtime (and an
 * external one without status_cmd that reported a pid): running means the
 * recorded pid is alive with the recorded start time; a stale record counts
 * as stopped. With status_cmd: its exit status 0 means running, 1 stopped,
 * anything else is an error. External without status_cmd or pid: running
 * from a successful start_cmd until a stop. Needs no lock. 0 or -1.
 */
int runtime_status(const struct ct *ct, const struct ct_config *c, struct runtime_status *st);

/*
 * Starts CT (locked exclusively) with config C and records it. Refuses a
 * staged container, a running one and one without a root tree.
 *
 * Built-in: C->init runs as PID 1 of new PID, mount, UTS and IPC
 * namespaces (and network with network = none), with the root dataset as
 * its root (pivot_root), sub-datasets bind-mounted at their mount points
 * (created if missing, never through a symlink), /proc, a tmpfs /dev with
 * the usual nodes, devpts and /dev/shm, a read-only /sys if the tree has
 * one, the configured hostname, stdin /dev/null, stdout and stderr
 * appended to CT's log. Returns once init has been executed.
 *
 * External: runs start_cmd (placeholders expanded) within start_timeout.
 *
 * 0, or -1 with err_set (the container is not left running then).
 */
int runtime_start(struct ct *ct, const struct ct_config *c);

/*
 * Stops CT (locked exclusively). Built-in: SIGTERM to its init, up to
 * TIMEOUT_S seconds (< 0: C->stop_timeout) for it to exit, then SIGKILL,
 * which ends every process of its PID namespace; the stop waits until the
 * init is gone. External: stop_cmd (or, without one, the same signals to
 * the reported pid). *WAS_RUNNING (if not NULL) tells whether there was
 * anything to stop; a stale record is cleared either way. 0 or -1.
 */
int runtime_stop(struct ct *ct, const struct ct_config *c, int timeout_s, int *was_running);

/*
 * Deletes CT (locked exclusively) unless it is running (-1 with err_set
 * "... is running"); on success CT is closed. See ct_remove.
 */
int runtime_delete(struct ct *ct, const struct ct_config *c);

#endif
