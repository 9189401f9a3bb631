/* One SSH session to a destination's `ferry receive`: OpenSSH ssh or Dropbear dbclient, pinned host keys, no shell (docs/migration.md, "Transports"). */
#ifndef FERRY_TRANSPORT_H
#define FERRY_TRANSPORT_H

#include <pthread.h>
#include <stddef.h>

#include "core/proc.h"

/* Files under ROOT/NODE_MIGRATION_DIR the transports use. */
#define TRANSPORT_KNOWN_HOSTS	"known_hosts" /* OpenSSH: UserKnownHostsFile */
#define TRANSPORT_DROPBEAR_HOME "dropbear" /* dbclient: HOME (its known hosts: .ssh/known_hosts) */
#define TRANSPORT_KEY		"key"	   /* the private key for ssh -i (keygen) */
#define TRANSPORT_KEY_DROPBEAR	"key.dropbear" /* for dbclient -i */

#define TRANSPORT_REPLY_MAX	  65536 /* bytes of the remote's stdout kept (its confirmations) */
#define TRANSPORT_ERR_TAIL	  1024	/* last bytes of the remote's stderr kept for messages */
#define TRANSPORT_ARGS_MAX	  40
#define TRANSPORT_CONNECT_TIMEOUT 30 /* seconds to connect and authenticate */
#define TRANSPORT_ALIVE_INTERVAL  15 /* seconds between keepalives (OpenSSH) */
#define TRANSPORT_ALIVE_COUNT	  4  /* unanswered keepalives before OpenSSH gives up */

enum transport_kind { TRANSPORT_OPENSSH = 1, TRANSPORT_DROPBEAR = 2 };

/* How transport_finish ended (0 is success). */
enum transport_result {
	TRANSPORT_OK = 0,
	TRANSPORT_REMOTE = -1,	/* the remote command ran and failed (its message in err_msg) */
	TRANSPORT_CONNECT = -2, /* no session: connection, authentication or client failure */
	TRANSPORT_HOSTKEY = -3, /* the host key is not the pinned one (or unknown after stage) */
	TRANSPORT_LOCAL = -4,	/* a local error (spawn, pipes, timeout) */
};

struct transport_opts {
	const char *root; /* this node's state root: key and known hosts */
	const char *ssh;  /* "ssh", "dbclient" or a path to either (NULL: "ssh") */
	const char *host; /* destination host (migstate_host_ok) */
	unsigned port;	  /* 0: the client's default */
	const char *user; /* remote user (migstate_user_ok) */
	/* OpenSSH: 1 (stage) accepts and pins an unknown host key, 0 only known keys. Dropbear: transport_pin. */
	int pin;
	/* Remote stderr lines go to our stderr behind this; NULL: kept only. */
	const char *err_prefix;
	/* OpenSSH: run sessions through this master's socket (transport_master), or NULL. */
	const char *control_path;
};

/* A running session. Write the stream to `in` (or transport_close_in for none). */
struct transport {
	struct proc p;
	int in; /* the session's stdin (the parent's pipe end), -1 once closed */
	enum transport_kind kind;
	char host[256];
	pthread_t pump;
	int pump_started;
	const char *err_prefix;
	char reply[TRANSPORT_REPLY_MAX + 1]; /* stdout, NUL-terminated */
	size_t reply_len;
	int reply_truncated;
	char err_tail[TRANSPORT_ERR_TAIL + 1]; /* last stderr bytes, NUL-terminated */
	size_t err_len;
	char line[512]; /* the stderr line being assembled */
	size_t line_len;
	int answer_prompt; /* transport_pin: answer dbclient's host key question */
	int answered;
};

/* TRANSPORT_DROPBEAR if the basename of SSH contains "dbclient", else TRANSPORT_OPENSSH. */
enum transport_kind transport_kind_of(const char *ssh);

/*
 * Builds the client's argument vector for running COMMAND (one word: the
 * remote command line) into ARGV (TRANSPORT_ARGS_MAX slots, NULL-ended),
 * with strings in BUF (CAP bytes). OpenSSH:
 *   ssh -T -o BatchMode=yes -o UserKnownHostsFile=ROOT/conf/migration/known_hosts
 *       -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=accept-new|yes
 *       -o IdentitiesOnly=yes -o ConnectTimeout=.. -o ServerAliveInterval=..
 *       -o ServerAliveCountMax=.. -i ROOT/conf/migration/key -l USER [-p PORT]
 *       [-o ControlPath=P -o ControlMaster=no] HOST COMMAND
 * (with O->control_path and COMMAND NULL: the master, -M -N -o ControlPath=P
 * -o ControlPersist=no and no command).
 * Dropbear: dbclient -T -i ROOT/conf/migration/key.dropbear [-p PORT] -l USER HOST COMMAND
 * (run with HOME=ROOT/conf/migration/dropbear: see transport_start). The
 * host, user and client name are checked first. Returns the argument
 * count, or -1 with err_set.
 */
int transport_argv(const struct transport_opts *o, const char *command, char *buf, size_t cap,
		   char **argv);

/*
 * Starts a session running COMMAND on O->host. The client gets a new
 * session (no controlling terminal: it can never prompt), stdin a pipe
 * (t->in), stdout and stderr pipes read by a pump thread (stdout kept in
 * t->reply, stderr lines passed on behind O->err_prefix and the tail kept).
 * For dbclient, HOME is ROOT/conf/migration/dropbear (created 0700 with
 * .ssh), whose known_hosts is made from the node's store (the lines for
 * [HOST]:PORT, as plain HOST: dbclient ignores ports); a host with no
 * pinned key is refused (TRANSPORT_HOSTKEY) before dbclient could ask.
 * Returns TRANSPORT_OK, or a negative enum transport_result with err_set
 * (nothing left running).
 */
int transport_start(struct transport *t, const struct transport_opts *o, const char *command);

/* Closes the session's stdin (end of the stream). Safe to call twice. */
void transport_close_in(struct transport *t);

/*
 * Ends the session: closes stdin, waits at most TIMEOUT_MS (< 0: no limit)
 * for the client to exit (killing it after that), joins the pump. Returns
 * TRANSPORT_OK when the remote command exited 0, otherwise a negative
 * enum transport_result with err_set explaining it (the remote's last
 * message, "host key of HOST changed", "cannot connect"...).
 */
int transport_finish(struct transport *t, int timeout_ms);

/*
 * Pins DEST's host key on first contact, for clients that cannot do it in
 * the session itself. OpenSSH: nothing to do (StrictHostKeyChecking=
 * accept-new in the session pins it, in ROOT/conf/migration/known_hosts,
 * unhashed). Dropbear: when the store has no key for [HOST]:PORT, runs
 * PROBE (a harmless remote command such as "receive status pool:id") once
 * and answers dbclient's own "Do you want to continue connecting? (y/n)"
 * with "y" on its stdin (it reads stdin when it has no terminal; `-y`
 * would accept the key without saving it), then copies the key dbclient
 * saved into the store as [HOST]:PORT. A different key fails
 * (TRANSPORT_HOSTKEY). Returns an enum transport_result, err_set on failure.
 */
int transport_pin(const struct transport_opts *o, const char *probe);

/*
 * One SSH connection shared by the sessions of a migration step (OpenSSH
 * connection multiplexing): the handshake and authentication happen once,
 * so the sessions after the container stopped cost a round trip, not a
 * handshake. The master is `ssh -M -N -o ControlPath=DIR/s ...` with the
 * options of transport_argv (host key checks included), our child until
 * transport_master_stop or our end (it gets SIGTERM when the thread that
 * started it exits). DIR is a fresh 0700 directory under $TMPDIR or /tmp.
 * Sessions use it when their opts carry control_path = m->path; one whose
 * master died connects on its own (ssh falls back).
 */
struct transport_master {
	struct transport t;
	char dir[64];
	char path[80];
	int active;
};

/*
 * Starts M for O and waits until the control socket exists or the master
 * failed (an enum transport_result then, err_set saying why, as
 * transport_finish does: host key, connection). Dropbear has no
 * multiplexing: m->active stays 0, but a host with no pinned key is
 * refused here already (unless O->pin). TRANSPORT_OK when ready.
 */
int transport_master_start(struct transport_master *m, const struct transport_opts *o);
/* Stops M's ssh (SIGTERM, then reaps it) and removes its directory. Safe on an inactive M. */
void transport_master_stop(struct transport_master *m);

/* Kills the client (if running), joins the pump and releases everything. For error paths. */
void transport_abort(struct transport *t);

/*
 * Finds the last line of the reply that starts with WORD followed by a
 * space or the end of line, and copies the rest (after the space) into
 * OUT (CAP bytes). 1 found, 0 not.
 */
int transport_reply_line(const struct transport *t, const char *word, char *out, size_t cap);

#endif
