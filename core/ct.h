/* Containers on disk: names, config, datasets, run record, staged flag, locks (docs/node-state.md). */
#ifndef FERRY_CT_H
#define FERRY_CT_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Names. A pool and a container id are 1..CT_NAME_MAX characters of
 * [a-z0-9_.-], starting with [a-z0-9]. A container is addressed as
 * "[pool:]id"; without a pool, CT_POOL_DEFAULT. These names arrive from SSH
 * peers and API clients: everything else is refused.
 */
#define CT_NAME_MAX	63
#define CT_REF_MAX	(2 * CT_NAME_MAX + 1) /* "pool:id" */
#define CT_POOL_DEFAULT "default"

/*
 * Datasets. "/" is the root dataset (the container's root file system);
 * sub-datasets are named like "data" or "srv/www": 1..CT_DATASET_DEPTH_MAX
 * components of the id character set joined by '/', at most
 * CT_DATASET_NAME_MAX characters. Each has its own tree and state dir.
 */
#define CT_DATASET_ROOT	     "/"
#define CT_DATASET_NAME_MAX  255
#define CT_DATASET_DEPTH_MAX 8
#define CT_DATASETS_MAX	     32 /* sub-datasets per container */
#define CT_MOUNTPOINT_MAX    255

/* Config bounds (docs/container-config.md). */
#define CT_CONFIG_MAX	     65536 /* bytes of a config file or of one received from a peer */
#define CT_CONFIG_LINE_MAX   2048
#define CT_HOSTNAME_MAX	     64
#define CT_CMD_MAX	     1024 /* init, start_cmd, stop_cmd, status_cmd */
#define CT_TIMEOUT_MAX	     86400
#define CT_USER_MAX	     32 /* user.* keys */
#define CT_USER_KEY_MAX	     64 /* including "user." */
#define CT_USER_VALUE_MAX    255
#define CT_INIT_DEFAULT	     "/sbin/init"
#define CT_STOP_TIMEOUT_DEF  60
#define CT_START_TIMEOUT_DEF 300

/* Files in a container's directory (layout: docs/node-state.md). */
#define CT_CONFIG_FILE	"config"
#define CT_LOCK_FILE	"lock"
#define CT_RUN_FILE	"run"
#define CT_STAGED_FILE	"staged"
#define CT_LOG_FILE	"log"
#define CT_DATASETS_DIR "datasets"
#define CT_TREE_DIR	"tree"	/* datasets/<dataset>/tree: the dataset's files */
#define CT_STATE_DIR	"state" /* datasets/<dataset>/state: its snapshot records */
/*
 * Reserved for migrate and receive: their state machine, in a format they
 * document. Written with ct_file_write (atomic, under the container lock).
 */
#define CT_MIGRATION_FILE "migration"
#define CT_MIGRATION_MAX  65536

struct ct_ref {
	char pool[CT_NAME_MAX + 1];
	char id[CT_NAME_MAX + 1];
};

/* 1 if S is a valid pool or container id, else 0. */
int ct_name_ok(const char *s);
/*
 * Checks S as a pool or container id; WHAT ("pool", "container id") names
 * it in the message. 0, or -1 with err_set saying what is wrong.
 */
int ct_name_check(const char *what, const char *s);
/* Parses "[pool:]id" into REF. 0, or -1 with err_set. */
int ct_ref_parse(struct ct_ref *ref, const char *s);
/* Sets REF from a pool (NULL: the default) and an id, checking both. 0 or -1. */
int ct_ref_set(struct ct_ref *ref, const char *pool, const char *id);
/* "pool:id" into BUF (CT_REF_MAX + 1 bytes); returns BUF. */
const char *ct_ref_str(const struct ct_ref *ref, char *buf);

/* Checks a dataset name ("/" or "a/b"). 0, or -1 with err_set. */
int ct_dataset_name_check(const char *name);
/*
 * Checks a mount point for a sub-dataset: an absolute path of components
 * of [A-Za-z0-9._+@,:=~-], no "." or ".." or empty component, not "/"
 * and not under /proc, /dev or /sys. 0, or -1 with err_set.
 */
int ct_mountpoint_check(const char *mp);

/* The network a container gets from the built-in runtime. */
enum ct_network {
	CT_NET_HOST = 0, /* the node's own network namespace */
	CT_NET_NONE = 1, /* a new namespace with only the loopback interface, up */
};

struct ct_dataset {
	char name[CT_DATASET_NAME_MAX + 1];
	char mountpoint[CT_MOUNTPOINT_MAX + 1];
};

struct ct_user_key {
	char key[CT_USER_KEY_MAX + 1];
	char value[CT_USER_VALUE_MAX + 1];
};

/* A container's configuration; the text form is docs/container-config.md. */
struct ct_config {
	char hostname[CT_HOSTNAME_MAX + 1]; /* "" = the container id */
	char init[CT_CMD_MAX + 1];	    /* argv split on blanks; first word absolute */
	unsigned stop_timeout;		    /* seconds */
	unsigned start_timeout;		    /* seconds, for start_cmd */
	enum ct_network network;
	char start_cmd[CT_CMD_MAX + 1]; /* "" = built-in runtime */
	char stop_cmd[CT_CMD_MAX + 1];
	char status_cmd[CT_CMD_MAX + 1];
	size_t n_datasets; /* sub-datasets, sorted by name; "/" is implicit */
	struct ct_dataset datasets[CT_DATASETS_MAX];
	size_t n_user; /* sorted by key */
	struct ct_user_key user[CT_USER_MAX];
};

/* Fills C with the defaults (no datasets besides "/", no user keys). */
void ct_config_init(struct ct_config *c);
/*
 * Parses the text form (TEXT[0..LEN), need not be NUL-terminated; may come
 * from a peer) into C, starting from the defaults. Unknown keys, duplicate
 * keys, malformed lines, bad values and anything over the bounds are
 * refused: -1 with err_set naming the line. 0 on success.
 */
int ct_config_parse(struct ct_config *c, const void *text, size_t len);
/*
 * Writes the text form of C into BUF (CAP bytes, NUL-terminated); *LEN
 * gets its length if LEN is not NULL. 0, or -1 if it does not fit.
 * ct_config_parse of the result gives back C.
 */
int ct_config_format(const struct ct_config *c, char *buf, size_t cap, size_t *len);
/*
 * Sets KEY to VALUE (text form, as in the file), validating both.
 * "dataset.NAME" adds or changes a sub-dataset entry (the config only; see
 * ct_dataset_add for the files). 0, or -1 with err_set.
 */
int ct_config_set(struct ct_config *c, const char *key, const char *value);
/*
 * Resets KEY to its default; a user.* key or a dataset.* entry is removed
 * (1 if it was not there). 0, 1 or -1 with err_set (unknown key).
 */
int ct_config_unset(struct ct_config *c, const char *key);
/*
 * The value of KEY in text form into BUF (CAP bytes): defaults included,
 * "" for an unset command. 0, 1 if KEY is a user.* or dataset.* key that
 * is not set, -1 with err_set (unknown key, no room).
 */
int ct_config_get(const struct ct_config *c, const char *key, char *buf, size_t cap);
/* The sub-dataset NAME of C, or NULL. */
const struct ct_dataset *ct_config_dataset(const struct ct_config *c, const char *name);
/* The hostname the container gets: C->hostname, or REF's id when that is empty. */
const char *ct_config_hostname(const struct ct_config *c, const struct ct_ref *ref);

/* Lock kinds for ct_open. */
#define CT_LOCK_NONE	  0
#define CT_LOCK_SHARED	  1
#define CT_LOCK_EXCLUSIVE 2
#define CT_LOCK_NOWAIT	  4 /* or'ed in: fail at once ("locked by another ferry command") */

/*
 * An open container: its directory (as a path and a descriptor) and the
 * lock held on it. Obtained from ct_open or ct_create, released by
 * ct_close.
 */
struct ct {
	struct ct_ref ref;
	char root[4096]; /* the state root it was opened under */
	char dir[4096];	 /* ROOT/pools/POOL/ct/ID */
	int dirfd;
	int lockfd;
	int lock; /* CT_LOCK_NONE, _SHARED or _EXCLUSIVE */
};

/*
 * Writes ROOT/pools/POOL/ct/ID for REF into BUF (CAP bytes). 0 or -1
 * (too long).
 */
int ct_dir_path(const char *root, const struct ct_ref *ref, char *buf, size_t cap);

/*
 * Opens the container REF under ROOT and takes the lock LOCK (waiting
 * for it unless CT_LOCK_NOWAIT). A container deleted while we waited is
 * reported as absent. Returns 0, or -1 with err_set; errno is ENOENT when
 * the container does not exist ("no container pool:id").
 */
int ct_open(struct ct *ct, const char *root, const struct ct_ref *ref, int lock);
/* Releases the lock and closes CT (safe on a closed or zeroed-and-closed ct). */
void ct_close(struct ct *ct);
/* 1 if REF exists under ROOT, 0 if not, -1 with err_set. */
int ct_exists(const char *root, const struct ct_ref *ref);

/* CT's directory + "/" + NAME into BUF. 0 or -1 (too long). */
int ct_file_path(const struct ct *ct, const char *name, char *buf, size_t cap);
/* The directory of dataset NAME (datasets/_root for "/", datasets/a+b for "a/b"). */
int ct_dataset_path(const struct ct *ct, const char *name, char *buf, size_t cap);
/* The tree of dataset NAME: what the container sees at its mount point. */
int ct_dataset_tree(const struct ct *ct, const char *name, char *buf, size_t cap);
/* The state dir of dataset NAME (the tree stream's snapshot records), outside its tree. */
int ct_dataset_state(const struct ct *ct, const char *name, char *buf, size_t cap);

/*
 * Reads CT's config. 0, or -1 with err_set (missing, too large, invalid).
 * Needs no lock: the file is always replaced whole.
 */
int ct_config_load(const struct ct *ct, struct ct_config *c);
/* Replaces CT's config atomically. Needs CT_LOCK_EXCLUSIVE. 0 or -1. */
int ct_config_save(struct ct *ct, const struct ct_config *c);

/* How ct_create fills the root dataset. */
struct ct_create_opts {
	const struct ct_config *config; /* NULL: the defaults */
	const char *from_dir;		/* copy this tree (cp -a, one file system) */
	const char *from_tar;		/* or extract this archive ("-": stdin) with GNU tar */
	int staged;			/* create it staged (not startable) */
	int no_trees;			/* create the datasets' dirs and state dirs but no trees */
};

/*
 * Creates container REF under ROOT (its pool too, on first use): its
 * directory, config, the datasets of the config (empty trees, or none
 * with no_trees) and the root tree as asked. Everything is built in a
 * hidden directory next to the final one and renamed into place at the
 * end, so a failed or interrupted create leaves no container behind and
 * two creates of one id cannot both succeed (errno EEXIST: "container
 * pool:id already exists"). On success CT is open and locked exclusively.
 * 0 or -1 with err_set.
 */
int ct_create(struct ct *ct, const char *root, const struct ct_ref *ref,
	      const struct ct_create_opts *o);

/*
 * Removes CT and everything it holds (datasets, snapshots, state). Needs
 * CT_LOCK_EXCLUSIVE; refuses if the run record names a live process
 * (runtime_delete also asks an external runtime). The directory is first
 * renamed away (atomically invisible), then removed; on success CT is
 * closed. 0 or -1 with err_set (CT stays open on failure).
 */
int ct_remove(struct ct *ct);

/*
 * Calls FN for every container under ROOT, in pool then id order (bytes),
 * only pool POOL if not NULL. Stops at and returns FN's first non-zero
 * result. A missing pool or state root lists nothing. 0, FN's result, or
 * -1 with err_set.
 */
int ct_list(const char *root, const char *pool, int (*fn)(const struct ct_ref *ref, void *arg),
	    void *arg);
/* Calls FN for every pool under ROOT, sorted. Like ct_list. */
int ct_pool_list(const char *root, int (*fn)(const char *pool, void *arg), void *arg);

/*
 * Adds sub-dataset NAME mounted at MOUNTPOINT to CT: its dirs (the tree
 * too unless NO_TREE) and the config entry (C is updated and saved).
 * Needs CT_LOCK_EXCLUSIVE. Refuses a name or mount point already in use.
 * 0 or -1 with err_set.
 */
int ct_dataset_add(struct ct *ct, struct ct_config *c, const char *name, const char *mountpoint,
		   int no_tree);
/*
 * Removes sub-dataset NAME (config entry first, then its files). Needs
 * CT_LOCK_EXCLUSIVE. The root dataset cannot be removed. 0 or -1.
 */
int ct_dataset_remove(struct ct *ct, struct ct_config *c, const char *name);

/* 1 if CT is staged, 0 if not, -1 with err_set. */
int ct_staged(const struct ct *ct);
/* Sets or clears the staged flag. Needs CT_LOCK_EXCLUSIVE. 0 or -1. */
int ct_set_staged(struct ct *ct, int staged);

/* The run record: what the last start left (docs/node-state.md). */
struct ct_run {
	int external;		      /* 0: built-in runtime, 1: start_cmd */
	pid_t pid;		      /* the init's (or start_cmd's reported) pid; 0: none */
	unsigned long long starttime; /* /proc/PID/stat field 22 of that pid */
	long long started;	      /* seconds since the epoch */
};

/* Reads CT's run record: 0, 1 if there is none, -1 with err_set. */
int ct_run_load(const struct ct *ct, struct ct_run *r);
/* Writes it atomically. Needs CT_LOCK_EXCLUSIVE. 0 or -1. */
int ct_run_save(struct ct *ct, const struct ct_run *r);
/* Removes it (a missing one is fine). Needs CT_LOCK_EXCLUSIVE. 0 or -1. */
int ct_run_clear(struct ct *ct);
/* 1 if R names a live process (same pid and start time), 0 if not, -1. */
int ct_run_alive(const struct ct_run *r);

/*
 * Reads CT's file NAME (a plain name, e.g. CT_MIGRATION_FILE) of at most
 * MAX bytes into a malloc'd NUL-terminated buffer. 0, 1 if it does not
 * exist (*OUT untouched), -1 with err_set.
 */
int ct_file_read(const struct ct *ct, const char *name, size_t max, char **out, size_t *len);
/* Replaces CT's file NAME atomically (mode 0600). Needs CT_LOCK_EXCLUSIVE. 0 or -1. */
int ct_file_write(struct ct *ct, const char *name, const void *data, size_t len);
/* Removes CT's file NAME (missing is fine). Needs CT_LOCK_EXCLUSIVE. 0 or -1. */
int ct_file_remove(struct ct *ct, const char *name);

#endif
