/* The keys allowed to migrate to this node: a registry with names and restrictions, and the file sshd reads (docs/keys.md). */
#ifndef FERRY_AUTHKEYS_H
#define FERRY_AUTHKEYS_H

#include <stddef.h>

#include "crypto/sshkey.h"

/* Files in ROOT/NODE_MIGRATION_DIR (docs/keys.md, "Files"). */
#define AUTHKEYS_FILE	   "allowed-keys"	  /* the registry, ferry's format */
#define AUTHKEYS_SSHD_FILE "authorized_keys"	  /* generated from it, for sshd */
#define AUTHKEYS_LOCK_FILE "authorized-keys.lock" /* held while either changes */
#define AUTHKEYS_MODE	   0644			  /* both files; nothing secret */
#define AUTHKEYS_DIR_MODE  0755			  /* conf/ and conf/migration/ when created */

/* Bounds (the registry is read back as untrusted input). */
#define AUTHKEYS_MAX	     1000 /* keys in the registry */
#define AUTHKEYS_NAME_MAX    64
#define AUTHKEYS_PATTERN_MAX 255
#define AUTHKEYS_FILE_MAX    (8u << 20)

/* The first line of the registry; another version is refused. */
#define AUTHKEYS_HEADER "# ferry allowed-keys v1"

/* One allowed key. Empty CTID / FROM mean "no restriction". */
struct authkey {
	char name[AUTHKEYS_NAME_MAX + 1];
	char ctid[AUTHKEYS_PATTERN_MAX + 1]; /* match_glob pattern over "id" or "pool:id" */
	char from[AUTHKEYS_PATTERN_MAX +
		  1];	/* comma-separated match_glob patterns over the client IP */
	int single_use; /* removed after its transfer or cancel */
	char fingerprint[SSHKEY_FP_SIZE]; /* "SHA256:...", as ssh-keygen -l prints it */
	struct sshkey_pub key;		  /* with its comment */
};

/* The registry in memory, in file order (index N in `list` is keys[N-1]). */
struct authkeys {
	size_t count;
	struct authkey *keys; /* malloc'd; authkeys_free releases it */
};

/*
 * Names: 1 to AUTHKEYS_NAME_MAX characters of [A-Za-z0-9_.-], starting
 * with a letter or digit, not all digits (so `del 3` is always an index)
 * and never containing ':' (so a fingerprint is never a name).
 */
int authkeys_name_ok(const char *name);
/* Checks a --ctid pattern: [A-Za-z0-9_.:*?[]!-], at most one ':'. 0 or -1 with err_set. */
int authkeys_ctid_pattern_ok(const char *pattern);
/*
 * Checks --from patterns: comma-separated, each made of hex digits and
 * . : * ? [ ] ! - (an IPv4 or IPv6 address pattern), optionally followed by
 * %ZONE. Host names are refused: reverse names are not resolved. 0 or -1.
 */
int authkeys_from_patterns_ok(const char *patterns);

/*
 * Parses registry text TEXT[0..LEN) (format: docs/keys.md) into LIST,
 * validating every field as authkeys_add would. Empty text is an empty
 * registry. 0 or -1 with err_set naming the line.
 */
int authkeys_parse(struct authkeys *list, const char *text, size_t len);
/* Writes LIST as registry text into a malloc'd *OUT (*LEN bytes). 0 or -1. */
int authkeys_format(const struct authkeys *list, char **out, size_t *len);
/*
 * Writes the sshd authorized_keys text for LIST into a malloc'd *OUT: one
 * line per key,
 *   command="FERRY receive [--root ROOT] --key NAME",no-pty,no-port-forwarding,
 *   no-agent-forwarding,no-X11-forwarding TYPE BASE64 COMMENT
 * with --root only when ROOT is not NODE_ROOT_DEFAULT. FERRY and ROOT must
 * be absolute and made of [A-Za-z0-9/._+,:@%-] (sshd hands the command to
 * the user's shell), else -1 with err_set.
 */
int authkeys_format_sshd(const struct authkeys *list, const char *ferry, const char *root,
			 char **out, size_t *len);
void authkeys_free(struct authkeys *list);

/*
 * Reads ROOT's registry into LIST (a missing registry is an empty one).
 * No lock needed: the file is only ever replaced atomically. 0 or -1.
 */
int authkeys_load(const char *root, struct authkeys *list);

/*
 * Looks up the key named NAME in ROOT's registry: 1 and *OUT filled when
 * found, 0 when there is no such key, -1 with err_set on error.
 */
int authkeys_find(const char *root, const char *name, struct authkey *out);

/*
 * Adds K to ROOT's registry and regenerates the sshd file, under the lock.
 * K->key and the restrictions must be set; an empty K->name is derived from
 * the key's comment (its host part after '@', else "key"; "-2", "-3"... when
 * taken) and written back. Refuses a bad name or pattern, a name in use, a
 * key already present (under any name: sshd would only ever use its first
 * line), and a full registry. FERRY is the binary for the command= option
 * (NULL: this process's /proc/self/exe). 0 or -1 with err_set.
 */
int authkeys_add(const char *root, struct authkey *k, const char *ferry);

/*
 * Removes the key chosen by SELECTOR (a 1-based index as `list` shows, a
 * name, or a "SHA256:..." fingerprint) and regenerates the sshd file (the
 * sshd file first, so a crash can only leave the key less usable). *REMOVED
 * (if not NULL) gets the removed key. 0 or -1 with err_set.
 */
int authkeys_del(const char *root, const char *selector, struct authkey *removed,
		 const char *ferry);

/*
 * For receive, after a transfer or cancel: removes the key NAME if it is
 * single-use. Returns 1 if removed, 0 if it is not single-use or already
 * gone, -1 with err_set on error.
 */
int authkeys_consume(const char *root, const char *name, const char *ferry);

/* Regenerates ROOT's sshd file from the registry (after ferry moved, say). 0 or -1. */
int authkeys_sync(const char *root, const char *ferry);

/* Writes the absolute path of ROOT's sshd file into BUF (CAP bytes). 0 or -1. */
int authkeys_sshd_path(const char *root, char *buf, size_t cap);

/*
 * Restriction checks for receive. Each returns 0 if K allows it, or -1 with
 * the reason in err_msg() ("key 'n1' is limited to containers matching
 * 'web*': 'db1' refused").
 *
 * authkey_allows_ctid: the --ctid pattern is matched (match_glob, no flags)
 * against "POOL:ID" when it contains ':', else against ID alone. POOL may be
 * NULL only when no pattern with ':' is set.
 */
int authkey_allows_ctid(const struct authkey *k, const char *pool, const char *id);
/*
 * authkey_allows_client: the --from patterns are matched (match_glob,
 * MATCH_CASEFOLD) against the client IP address, the first word of
 * SSH_CONNECTION ("CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT"); an IPv4
 * address sshd shows IPv4-mapped (::ffff:a.b.c.d) is matched as a.b.c.d
 * too. A missing or malformed SSH_CONNECTION is refused when the key has
 * --from. Names are never resolved.
 */
int authkey_allows_client(const struct authkey *k, const char *ssh_connection);

/*
 * Extracts the client IP address from SSH_CONNECTION into BUF (CAP bytes),
 * checking that it is a numeric IPv4 or IPv6 address. 0 or -1 with err_set.
 */
int authkeys_client_addr(const char *ssh_connection, char *buf, size_t cap);

/*
 * Opens ROOT/NODE_MIGRATION_DIR as a directory descriptor, creating ROOT
 * (0755), ROOT/conf and ROOT/conf/migration (AUTHKEYS_DIR_MODE) when
 * missing. Refuses when one of the three is writable by group or others
 * (sshd's StrictModes would ignore the keys file). Returns the descriptor
 * or -1 with err_set. Shared with keygen, whose key pair lives there too.
 */
int authkeys_open_dir(const char *root);

#endif
