/* ferry authorized-keys: manage the keys allowed to migrate to this node. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/authkeys.h"
#include "core/err.h"
#include "core/io.h"
#include "core/node.h"
#include "core/opt.h"
#include "crypto/sshkey.h"

static const char usage[] =
	"usage: ferry authorized-keys add [NAME] [--ctid PATTERN] [--from PATTERNS] [--single-use] < KEY.pub\n"
	"       ferry authorized-keys list\n"
	"       ferry authorized-keys del INDEX|NAME|FINGERPRINT\n"
	"       ferry authorized-keys sync|path\n"
	"\n"
	"Manage the public keys allowed to migrate containers to this node. The\n"
	"registry is ROOT/conf/migration/allowed-keys; from it ferry writes\n"
	"ROOT/conf/migration/authorized_keys, the file sshd reads for the migration\n"
	"user, where each key can only run 'ferry receive --key NAME'.\n"
	"\n"
	"add    reads one public key line (TYPE BASE64 [COMMENT]) on stdin, such as\n"
	"       the source's 'ferry keygen path public'. Accepted types: ssh-ed25519,\n"
	"       ecdsa-sha2-nistp256/384/521, ssh-rsa of 2048 bits or more,\n"
	"       sk-ecdsa-sha2-nistp256@openssh.com, sk-ssh-ed25519@openssh.com. Refused:\n"
	"       ssh-dss, certificates, key options (command=..., restrict), and a key\n"
	"       already allowed. NAME defaults to the host part of the key's comment.\n"
	"         --ctid PATTERN    only containers whose id matches (fnmatch; matched\n"
	"                           against pool:id when PATTERN contains ':')\n"
	"         --from PATTERNS   only clients whose IP address matches one of these\n"
	"                           comma-separated patterns (10.0.0.*,fd00::*); host\n"
	"                           names are not resolved\n"
	"         --single-use      remove the key after its transfer or cancel\n"
	"list   prints index, name, type, bits, SHA256 fingerprint (as ssh-keygen -l),\n"
	"       restrictions and comment\n"
	"del    removes a key by its index in list, its name or its fingerprint\n"
	"sync   rewrites authorized_keys (after the ferry binary moved, say)\n"
	"path   prints the path of authorized_keys (sshd's AuthorizedKeysFile)\n"
	"\n"
	"  --root DIR   state root (default $FERRY_ROOT, else /var/lib/ferry)\n";

enum { OPT_ROOT = 1, OPT_CTID, OPT_FROM, OPT_SINGLE_USE };

static struct authkey new_key; /* large: not on the stack */

/* Reads the one key line of `add` from stdin into BUF; returns its length. */
static size_t read_key_line(char *buf, size_t cap)
{
	ssize_t n = io_read_full(STDIN_FILENO, buf, cap);
	if (n < 0)
		die_err("reading the key from stdin");
	if ((size_t)n == cap)
		die("the input is longer than a key line (%u bytes): give one public key on stdin",
		    SSHKEY_LINE_MAX);
	return (size_t)n;
}

static int cmd_add(const char *root, const char *name)
{
	char buf[SSHKEY_LINE_MAX + 2];
	size_t n = read_key_line(buf, sizeof(buf));
	if (sshkey_parse_line(&new_key.key, buf, n) < 0)
		die_err("refused key");
	if (name &&
	    snprintf(new_key.name, sizeof(new_key.name), "%s", name) >= (int)sizeof(new_key.name))
		die("bad key name '%.70s...': at most %d characters", name, AUTHKEYS_NAME_MAX);
	if (authkeys_add(root, &new_key, NULL) < 0)
		die_err("cannot add the key");
	printf("added %s (%s)\n", new_key.name, new_key.fingerprint);
	return EXIT_OK;
}

/* "ctid=P;from=P;single-use", or "-" when the key is unrestricted. */
static void restrictions(const struct authkey *k, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s%s%s%s%s%s", k->ctid[0] ? "ctid=" : "", k->ctid,
			 k->ctid[0] && (k->from[0] || k->single_use) ? ";" : "",
			 k->from[0] ? "from=" : "", k->from,
			 k->from[0] && k->single_use ? ";" : "");
	if (n >= 0 && (size_t)n < cap && k->single_use)
		snprintf(buf + n, cap - (size_t)n, "single-use");
	if (!buf[0])
		snprintf(buf, cap, "-");
}

static int cmd_list(const char *root)
{
	struct authkeys list;
	char r[2 * AUTHKEYS_PATTERN_MAX + 32], num[16];
	/* Column widths: index name type bits fingerprint restrictions (the comment is last). */
	int w[6] = {1, 4, 4, 4, 11, 12};

	if (authkeys_load(root, &list) < 0)
		die_err("cannot read the allowed keys");
	for (size_t i = 0; i < list.count; i++) {
		const struct authkey *k = &list.keys[i];
		restrictions(k, r, sizeof(r));
		int l[6] = {snprintf(num, sizeof(num), "%zu", i + 1),
			    (int)strlen(k->name),
			    (int)strlen(sshkey_type_name(k->key.type)),
			    snprintf(num, sizeof(num), "%u", k->key.bits),
			    (int)strlen(k->fingerprint),
			    (int)strlen(r)};
		for (int c = 0; c < 6; c++)
			if (l[c] > w[c])
				w[c] = l[c];
	}
	if (list.count > 0)
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], "#", w[1], "NAME", w[2],
		       "TYPE", w[3], "BITS", w[4], "FINGERPRINT", w[5], "RESTRICTIONS", "COMMENT");
	for (size_t i = 0; i < list.count; i++) {
		const struct authkey *k = &list.keys[i];
		restrictions(k, r, sizeof(r));
		printf("%-*zu  %-*s  %-*s  %-*u  %-*s  %-*s  %s\n", w[0], i + 1, w[1], k->name,
		       w[2], sshkey_type_name(k->key.type), w[3], k->key.bits, w[4], k->fingerprint,
		       w[5], r, k->key.comment[0] ? k->key.comment : "-");
	}
	authkeys_free(&list);
	return EXIT_OK;
}

static int cmd_del(const char *root, const char *selector)
{
	struct authkey *removed = &new_key;
	if (authkeys_del(root, selector, removed, NULL) < 0)
		die_err("cannot delete %s", selector);
	printf("deleted %s (%s)\n", removed->name, removed->fingerprint);
	return EXIT_OK;
}

int authorized_keys_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{OPT_ROOT, 0, "root", OPT_REQUIRED},
		{OPT_CTID, 0, "ctid", OPT_REQUIRED},
		{OPT_FROM, 0, "from", OPT_REQUIRED},
		{OPT_SINGLE_USE, 0, "single-use", OPT_NOARG},
		OPT_SPEC_END,
	};
	struct opt_state st;
	const char *root_opt = NULL, *pos[3];
	int npos = 0, restricted = 0, id;

	opt_init(&st, argc, argv);
	while ((id = xopt_next(&st, specs, usage)) != OPT_END) {
		switch (id) {
		case OPT_ROOT:
			root_opt = st.arg;
			break;
		case OPT_CTID:
			if (snprintf(new_key.ctid, sizeof(new_key.ctid), "%s", st.arg) >=
				    (int)sizeof(new_key.ctid) ||
			    authkeys_ctid_pattern_ok(st.arg) < 0)
				die_usage(usage, "--ctid: %s", err_msg());
			restricted = 1;
			break;
		case OPT_FROM:
			if (snprintf(new_key.from, sizeof(new_key.from), "%s", st.arg) >=
				    (int)sizeof(new_key.from) ||
			    authkeys_from_patterns_ok(st.arg) < 0)
				die_usage(usage, "--from: %s", err_msg());
			restricted = 1;
			break;
		case OPT_SINGLE_USE:
			new_key.single_use = 1;
			restricted = 1;
			break;
		case OPT_POSITIONAL:
			if (npos == 3)
				die_usage(usage, "too many arguments");
			pos[npos++] = st.arg;
			break;
		}
	}
	const char *root = node_root(root_opt);
	if (npos == 0)
		die_usage(usage, "missing command (add, list, del, sync or path)");
	const char *cmd = pos[0];
	if (strcmp(cmd, "add") && restricted)
		die_usage(usage, "--ctid, --from and --single-use are options of add");

	if (!strcmp(cmd, "add")) {
		if (npos > 2)
			die_usage(usage, "add takes at most one NAME");
		if (npos == 2 && !authkeys_name_ok(pos[1]))
			die_usage(usage,
				  "bad key name '%s': letters, digits, _ . -, starting with a "
				  "letter or digit, not only digits, at most %d characters",
				  pos[1], AUTHKEYS_NAME_MAX);
		return cmd_add(root, npos == 2 ? pos[1] : NULL);
	}
	if (!strcmp(cmd, "list") || !strcmp(cmd, "ls")) {
		if (npos != 1)
			die_usage(usage, "list takes no arguments");
		return cmd_list(root);
	}
	if (!strcmp(cmd, "del") || !strcmp(cmd, "delete")) {
		if (npos != 2)
			die_usage(usage, "del takes one INDEX, NAME or FINGERPRINT");
		return cmd_del(root, pos[1]);
	}
	if (!strcmp(cmd, "sync") || !strcmp(cmd, "path")) {
		char path[PATH_MAX];
		if (npos != 1)
			die_usage(usage, "%s takes no arguments", cmd);
		if (!strcmp(cmd, "sync") && authkeys_sync(root, NULL) < 0)
			die_err("cannot write the sshd keys file");
		if (!strcmp(cmd, "path")) {
			if (authkeys_sshd_path(root, path, sizeof(path)) < 0)
				die_err("path");
			printf("%s\n", path);
		}
		return EXIT_OK;
	}
	die_usage(usage, "unknown command '%s'", cmd);
}
