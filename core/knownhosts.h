/* known_hosts files (OpenSSH format): the node's one store of pinned destination keys, shared by ssh and dbclient (docs/migration.md, "Transports"). */
#ifndef FERRY_KNOWNHOSTS_H
#define FERRY_KNOWNHOSTS_H

#include <stddef.h>

#define KNOWNHOSTS_FILE_MAX (1u << 20) /* bytes of a known_hosts file ferry reads */
#define KNOWNHOSTS_LINE_MAX 16384      /* bytes of one line */
#define KNOWNHOSTS_NAME_MAX 300	       /* "[host]:port" */

/*
 * The name OpenSSH gives HOST at PORT in known_hosts: "[HOST]:PORT", or
 * plain HOST when PORT is 0 or 22. 0, or -1 with err_set (no room).
 */
int knownhosts_name(char *buf, size_t cap, const char *host, unsigned port);

/*
 * Copies the key lines of TEXT[0..LEN) that name NAME exactly into OUT
 * (CAP bytes, NUL-terminated; *OUT_LEN gets the length), each as
 * "REWRITE TYPE BASE64\n". A line's host field is a comma-separated list
 * of names, each plain or hashed ("|1|SALT|HMAC-SHA1", as HashKnownHosts
 * writes them); wildcards and negations are not expanded, comment lines,
 * blank lines and lines with a marker (@cert-authority, @revoked) are
 * skipped, malformed lines too. Returns the number of lines copied, or -1
 * with err_set (a line over KNOWNHOSTS_LINE_MAX, no room in OUT).
 */
int knownhosts_select(const char *text, size_t len, const char *name, const char *rewrite,
		      char *out, size_t cap, size_t *out_len);

#endif
