/* The sshd side of a node: the Match block for the migration user, and splicing it into sshd_config (docs/privileges.md). */
#ifndef FERRY_SSHDCONF_H
#define FERRY_SSHDCONF_H

#include <stddef.h>

#define SSHDCONF_USER_DEFAULT "migration"
#define SSHDCONF_USER_MAX     32 /* a user name: [a-z_][a-z0-9_-]*, as useradd accepts */
#define SSHDCONF_FILE_DEFAULT "/etc/ssh/sshd_config"
#define SSHDCONF_FILE_MAX     (1u << 20) /* bytes of an sshd_config ferry edits */
#define SSHDCONF_BLOCK_MAX    2048	 /* bytes of the block ferry writes */

/* The marker lines around the block (the user name follows, then a newline). */
#define SSHDCONF_BEGIN "# BEGIN ferry migration user "
#define SSHDCONF_END   "# END ferry migration user "

/* 1 if NAME is a user name ferry accepts for the migration user, else 0. */
int sshdconf_user_ok(const char *name);

/*
 * Writes the block for USER into BUF (CAP bytes, NUL-terminated): the
 * BEGIN marker, "Match User USER" with the keywords of docs/privileges.md
 * (AuthorizedKeysFile KEYS_FILE, PermitRootLogin forced-commands-only,
 * publickey only, no forwarding, no TTY, no user rc), "Match all" (so lines
 * added after the block are not captured by it) and the END marker.
 * KEYS_FILE must be absolute and made of [A-Za-z0-9/._+,:@-] (sshd expands
 * '%' in that keyword; nothing needs quoting). Returns the length, or -1
 * with err_set (bad user or path, no room).
 */
int sshdconf_block(const char *user, const char *keys_file, char *buf, size_t cap);

/*
 * Puts BLOCK (from sshdconf_block for USER) into the sshd_config text
 * OLD[0..LEN): replaces an existing block of USER between its markers, or
 * else inserts it before the first line starting with "Match" (so its
 * settings win over later Match blocks: sshd applies the first value of
 * each keyword), or else appends it (after a newline if OLD lacks a final
 * one). Refuses a BEGIN without its END, an END without a BEGIN and a
 * second block for USER. The result is malloc'd into *OUT (*OUT_LEN
 * bytes, NUL-terminated). *CHANGED (if not NULL) is 1 when the result
 * differs from OLD. 0 or -1 with err_set.
 */
int sshdconf_splice(const char *old, size_t len, const char *user, const char *block, char **out,
		    size_t *out_len, int *changed);

#endif
