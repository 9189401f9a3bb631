/* The cluster API's users file (Ganeti's RAPI users format) and the Basic auth check (docs/rapi.md, "Users"). */
#ifndef FERRY_RAPIUSERS_H
#define FERRY_RAPIUSERS_H

#include <stddef.h>

/* File names inside NODE_CLUSTER_DIR. */
#define RAPIUSERS_FILE	    "rapi-users"    /* "user password [options]" lines, mode 0600 */
#define RAPIUSERS_PASS_FILE "rapi-password" /* the generated user's password, for clients */
/* The realm of WWW-Authenticate and of {HA1} passwords: Ganeti's. */
#define RAPIUSERS_REALM "Ganeti Remote API"

/* Bounds on the file (it is configuration, but read by a network server). */
#define RAPIUSERS_FILE_MAX     (1u << 20)
#define RAPIUSERS_MAX	       4096 /* users */
#define RAPIUSERS_LINE_MAX     4096
#define RAPIUSERS_NAME_MAX     255 /* bytes of a user name */
#define RAPIUSERS_PASSWORD_MAX 1024
/* A generated password: 32 lowercase hex digits (128 random bits). */
#define RAPIUSERS_GEN_LEN 32
/* The user a first start creates. */
#define RAPIUSERS_GEN_USER "ferry"

/* What rapiusers_check grants. */
#define RAPIUSERS_DENIED 0 /* unknown user or wrong password */
#define RAPIUSERS_READ	 1 /* a listed user without the write option */
#define RAPIUSERS_WRITE	 2 /* a listed user with "write" */

/* A parsed users file; read-only once parsed, so threads may share it. */
struct rapiusers;

/*
 * Parses a users file's TEXT[0..LEN) as Ganeti does, more strictly: lines
 * end at LF (a CR before it is dropped); blanks around lines are ignored;
 * empty lines and lines starting with '#' are skipped; a line is NAME
 * PASSWORD [OPTIONS], fields separated by blanks, OPTIONS (the rest of
 * the line) a comma-separated list of "read" and "write" (blanks around
 * each allowed). PASSWORD is cleartext, "{CLEARTEXT}pw" or
 * "{HA1}md5hex" with md5hex = md5("NAME:Ganeti Remote API:pw"); scheme
 * names are case-insensitive. Refused, with the line number: a line with
 * one field, an unknown option or scheme, a malformed HA1, a name with
 * ':' or control characters, a repeated name, anything over the bounds.
 * 0 with *OUT set (free with rapiusers_free), or -1 with err_set.
 */
int rapiusers_parse(struct rapiusers **out, const char *text, size_t len);
/*
 * rapiusers_parse on the file PATH (no symlink in the last component). 0,
 * -2 if the file does not exist (err_set says so), or -1 with err_set
 * naming the file.
 */
int rapiusers_load(struct rapiusers **out, const char *path);
/* Wipes and frees U (may be NULL). */
void rapiusers_free(struct rapiusers *u);
/* Number of users in U. */
size_t rapiusers_count(const struct rapiusers *u);

/*
 * Checks USER and PASSWORD (from Basic auth) against U. Returns
 * RAPIUSERS_WRITE, RAPIUSERS_READ, or RAPIUSERS_DENIED for an unknown user
 * or a wrong password. Password comparisons take time independent of
 * where they differ.
 */
int rapiusers_check(const struct rapiusers *u, const char *user, const char *password);

/*
 * First start: writes a users file PATH with one user RAPIUSERS_GEN_USER,
 * a new random password and write access, and PASS_PATH with that password
 * alone (for move-instance --src-password-file). Both are created with
 * O_EXCL and mode 0600 and fail if they exist. The password is copied to
 * PASSWORD (RAPIUSERS_GEN_LEN + 1 bytes) if not NULL. 0 or -1 with err_set.
 */
int rapiusers_generate(const char *path, const char *pass_path, char *password);

#endif
