/* A container's migration state: the source's state machine and the destination's record, one text file (docs/migration.md, "State file"). */
#ifndef FERRY_MIGSTATE_H
#define FERRY_MIGSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/ct.h"
#include "core/recvcmd.h"

/* Bounds of the fields (the file is read back as untrusted input). */
#define MIGSTATE_HOST_MAX 255 /* dest: a host name or an IP address */
#define MIGSTATE_SSH_MAX  255 /* ssh: "ssh", "dbclient" or a path to one of them */
#define MIGSTATE_USER_MAX 32  /* the remote migration user */
#define MIGSTATE_KEY_MAX  64  /* destination: the key that staged it (AUTHKEYS_NAME_MAX) */
#define MIGSTATE_ADDR_MAX 63  /* destination: the client address that staged it */
#define MIGSTATE_DATASETS (CT_DATASETS_MAX + 1)
#define MIGSTATE_HEADER	  "# ferry migration state v1 (docs/migration.md)"

enum migstate_role { MIG_ROLE_SOURCE = 1, MIG_ROLE_DEST = 2 };

/*
 * States. Source: none (no file) -> staged -> synced -> transferring ->
 * transferred -> (cleanup) gone, or kept (cleanup --no-delete).
 * "transferring" is written before the container is stopped for the final
 * sync, so an interrupted transfer is noticed by the next command.
 * Destination: staged -> complete.
 */
enum migstate_state {
	MIG_NONE = 0,
	MIG_STAGED,
	MIG_SYNCED,
	MIG_TRANSFERRING,
	MIG_TRANSFERRED,
	MIG_KEPT,     /* source after cleanup --no-delete: data kept, not startable */
	MIG_COMPLETE, /* destination after transfer */
};

/* Per dataset, on the source: what the destination confirmed, what was sent but not confirmed. */
struct migstate_dataset {
	char name[CT_DATASET_NAME_MAX + 1];
	char confirmed[RECVCMD_SNAP_MAX + 1]; /* "" = none */
	char pending[RECVCMD_SNAP_MAX + 1];   /* "" = none */
};

struct migstate {
	enum migstate_role role;
	enum migstate_state state;
	long long since; /* when the current state was entered (epoch seconds) */
	/* Source. */
	char dest[MIGSTATE_HOST_MAX + 1];
	unsigned port; /* 0: the client's default */
	char ssh[MIGSTATE_SSH_MAX + 1];
	char user[MIGSTATE_USER_MAX + 1];
	char config_sum[65]; /* sha256 hex of the config text sent by stage */
	int was_running;     /* transferring: the container ran before the stop */
	size_t n_datasets;
	struct migstate_dataset datasets[MIGSTATE_DATASETS]; /* sorted by name, "/" first */
	/* Destination. */
	char key[MIGSTATE_KEY_MAX + 1];
	char client[MIGSTATE_ADDR_MAX + 1];
};

/* "staged", "synced"... ("none" for MIG_NONE). */
const char *migstate_state_name(enum migstate_state s);

/* 1 if HOST is acceptable as a destination (no leading '-', [A-Za-z0-9._:-], bounded). */
int migstate_host_ok(const char *host);
/* 1 if USER is acceptable as a remote user name ([A-Za-z0-9._-], not starting with '-'). */
int migstate_user_ok(const char *user);
/* 1 if SSH names a client ([A-Za-z0-9/._+-], not starting with '-'). */
int migstate_ssh_ok(const char *ssh);

/* Clears M (role and state none). */
void migstate_init(struct migstate *m);

/*
 * Parses the text TEXT[0..LEN) into M. Strict: the header line first, then
 * "key = value" lines; unknown keys, duplicates, bad values, fields of the
 * other role and anything beyond the bounds are refused: -1 with err_set
 * naming the line. 0 on success.
 */
int migstate_parse(struct migstate *m, const char *text, size_t len);

/* Writes M as text into BUF (CAP bytes). Returns the length or -1 with err_set. */
int migstate_format(const struct migstate *m, char *buf, size_t cap);

/* The dataset record NAME of M, or NULL. */
struct migstate_dataset *migstate_dataset(struct migstate *m, const char *name);
/* Adds dataset NAME (kept sorted; no snapshots). 0, or -1 (full, bad or present). */
int migstate_dataset_add(struct migstate *m, const char *name);

/*
 * Loads CT's migration file (CT_MIGRATION_FILE) into M: 0, 1 if there is
 * none (M is then cleared), -1 with err_set (unreadable or invalid).
 */
int migstate_load(const struct ct *ct, struct migstate *m);
/* Saves M as CT's migration file atomically. CT must be locked exclusively. 0 or -1. */
int migstate_save(struct ct *ct, const struct migstate *m);

#endif
