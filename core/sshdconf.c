/* The migration user's Match block for sshd, and its idempotent placement in sshd_config. */
#include "core/sshdconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

int sshdconf_user_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > SSHDCONF_USER_MAX)
		return 0;
	if (!(islower((unsigned char)name[0]) || name[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(islower(c) || isdigit(c) || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int path_ok(const char *p)
{
	if (!p || p[0] != '/')
		return 0;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || strchr("/._+,:@-", c)))
			return 0;
	}
	return 1;
}

/* The keywords of the block, after "Match User NAME" (docs/privileges.md says why each). */
static const char *const block_lines[] = {
	"PermitRootLogin forced-commands-only",
	"AuthenticationMethods publickey",
	"PubkeyAuthentication yes",
	"PasswordAuthentication no",
	"KbdInteractiveAuthentication no",
	"HostbasedAuthentication no",
	"AuthorizedPrincipalsFile none",
	"AllowTcpForwarding no",
	"AllowAgentForwarding no",
	"AllowStreamLocalForwarding no",
	"X11Forwarding no",
	"PermitTunnel no",
	"PermitTTY no",
	"PermitUserRC no",
	"PermitListen none",
	"PermitOpen none",
	"GatewayPorts no",
};

int sshdconf_block(const char *user, const char *keys_file, char *buf, size_t cap)
{
	if (!sshdconf_user_ok(user))
		return err_set("bad user name '%s' (1-%d of a-z 0-9 _ -, starting with a-z or _)",
			       user ? user : "", SSHDCONF_USER_MAX);
	if (!path_ok(keys_file))
		return err_set("authorized keys file '%s': must be an absolute path of "
			       "A-Z a-z 0-9 / . _ + , : @ -",
			       keys_file);
	size_t len = 0;
	int n = snprintf(buf, cap,
			 "%s%s\n"
			 "# Written by 'ferry node setup'; see docs/privileges.md. Keep it before\n"
			 "# other Match blocks: sshd uses the first value it finds for a keyword.\n"
			 "Match User %s\n"
			 "\tAuthorizedKeysFile %s\n",
			 SSHDCONF_BEGIN, user, user, keys_file);
	if (n < 0 || (size_t)n >= cap)
		return err_set("sshd block: no room");
	len = (size_t)n;
	for (size_t i = 0; i < sizeof(block_lines) / sizeof(block_lines[0]); i++) {
		n = snprintf(buf + len, cap - len, "\t%s\n", block_lines[i]);
		if (n < 0 || (size_t)n >= cap - len)
			return err_set("sshd block: no room");
		len += (size_t)n;
	}
	n = snprintf(buf + len, cap - len, "Match all\n%s%s\n", SSHDCONF_END, user);
	if (n < 0 || (size_t)n >= cap - len)
		return err_set("sshd block: no room");
	return (int)(len + (size_t)n);
}

/* The line of TEXT[0..LEN) starting at OFF: its length without the newline, and where the next starts. */
static size_t line_at(const char *text, size_t len, size_t off, size_t *next)
{
	const char *nl = memchr(text + off, '\n', len - off);
	size_t end = nl ? (size_t)(nl - text) : len;
	*next = nl ? end + 1 : len;
	return end - off;
}

static int line_is(const char *line, size_t n, const char *prefix, const char *user)
{
	size_t p = strlen(prefix), u = strlen(user);
	return n == p + u && !memcmp(line, prefix, p) && !memcmp(line + p, user, u);
}

static int line_has_prefix(const char *line, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && !memcmp(line, prefix, p);
}

/* 1 if the line is a Match line ("Match ...", any case, after blanks). */
static int line_is_match(const char *line, size_t n)
{
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return n - i > 5 && !strncasecmp(line + i, "match", 5) &&
	       (line[i + 5] == ' ' || line[i + 5] == '\t');
}

int sshdconf_splice(const char *old, size_t len, const char *user, const char *block, char **out,
		    size_t *out_len, int *changed)
{
	size_t begin = len, end = len, insert = len, off = 0, next;
	int in_block = 0, found = 0;
	if (!sshdconf_user_ok(user))
		return err_set("bad user name '%s'", user);
	if (len > SSHDCONF_FILE_MAX)
		return err_set("sshd config too large (over %u bytes)", SSHDCONF_FILE_MAX);
	if (memchr(old, 0, len))
		return err_set("sshd config contains a NUL byte");
	for (unsigned lineno = 1; off < len; off = next, lineno++) {
		size_t n = line_at(old, len, off, &next);
		const char *line = old + off;
		if (line_has_prefix(line, n, SSHDCONF_BEGIN)) {
			if (in_block)
				return err_set("line %u: ferry block begins inside another",
					       lineno);
			in_block = line_is(line, n, SSHDCONF_BEGIN, user) ? 2 : 1;
			if (in_block == 2) {
				if (found)
					return err_set("line %u: a second ferry block for user %s",
						       lineno, user);
				begin = off;
			}
			if (insert == len)
				insert = off;
		} else if (line_has_prefix(line, n, SSHDCONF_END)) {
			if (!in_block)
				return err_set("line %u: ferry block end without its beginning",
					       lineno);
			if ((in_block == 2) != line_is(line, n, SSHDCONF_END, user))
				return err_set(
					"line %u: ferry block ends with another user's marker",
					lineno);
			if (in_block == 2) {
				end = next;
				found = 1;
			}
			in_block = 0;
		} else if (!in_block && insert == len && line_is_match(line, n)) {
			insert = off;
		}
	}
	if (in_block)
		return err_set("a ferry block is not closed (no '%s' line)", SSHDCONF_END "...");

	size_t blen = strlen(block), cut_from, cut_to;
	int need_nl = 0;
	if (found) {
		cut_from = begin;
		cut_to = end;
	} else {
		cut_from = cut_to = insert;
		need_nl = insert == len && len > 0 && old[len - 1] != '\n';
	}
	size_t total = cut_from + (size_t)need_nl + blen + (len - cut_to);
	char *buf = malloc(total + 1);
	if (!buf)
		return err_set("out of memory");
	memcpy(buf, old, cut_from);
	if (need_nl)
		buf[cut_from] = '\n';
	memcpy(buf + cut_from + need_nl, block, blen);
	memcpy(buf + cut_from + need_nl + blen, old + cut_to, len - cut_to);
	buf[total] = 0;
	if (changed)
		*changed = total != len || memcmp(buf, old, len) != 0;
	*out = buf;
	*out_len = total;
	return 0;
}
