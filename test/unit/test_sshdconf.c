/* Unit tests of core/sshdconf and core/transport's argument vectors: exact texts, idempotent splicing, refusals. */
#define CHECK_SUITE "sshdconf"
#include "test/unit/check.h"

#include <stdlib.h>

#include "core/err.h"
#include "core/sshdconf.h"
#include "core/transport.h"

static void test_block(void)
{
	char buf[SSHDCONF_BLOCK_MAX];
	int n = sshdconf_block("migration", "/var/lib/ferry/conf/migration/authorized_keys", buf,
			       sizeof(buf));
	CHECK(n > 0);
	CHECK_INT(strlen(buf), n);
	CHECK(!strncmp(buf, "# BEGIN ferry migration user migration\n", 39));
	CHECK(strstr(buf, "\nMatch User migration\n\tAuthorizedKeysFile "
			  "/var/lib/ferry/conf/migration/authorized_keys\n") != NULL);
	CHECK(strstr(buf, "\tPermitRootLogin forced-commands-only\n") != NULL);
	CHECK(strstr(buf, "\tPermitTTY no\n") != NULL);
	CHECK(strstr(buf, "\tPasswordAuthentication no\n") != NULL);
	CHECK(strstr(buf, "\nMatch all\n# END ferry migration user migration\n") != NULL);
	CHECK_INT(sshdconf_block("migration", "relative/keys", buf, sizeof(buf)), -1);
	CHECK_INT(sshdconf_block("migration", "/with space/keys", buf, sizeof(buf)), -1);
	CHECK_INT(sshdconf_block("migration", "/with%u/keys", buf, sizeof(buf)), -1);
	CHECK_INT(sshdconf_block("Migration", "/k", buf, sizeof(buf)), -1);
	CHECK_INT(sshdconf_block("-x", "/k", buf, sizeof(buf)), -1);
	CHECK_INT(sshdconf_block("migration", "/k", buf, 100), -1);
	CHECK(sshdconf_user_ok("migration") && sshdconf_user_ok("_m1-x"));
	CHECK(!sshdconf_user_ok("") && !sshdconf_user_ok("a b") && !sshdconf_user_ok("1abc"));
}

static char *splice(const char *old, const char *user, const char *block, int *changed)
{
	char *out = NULL;
	size_t len;
	if (sshdconf_splice(old, strlen(old), user, block, &out, &len, changed) < 0)
		return NULL;
	CHECK_INT(strlen(out), len);
	return out;
}

#define BLK_A                                                                                      \
	"# BEGIN ferry migration user migration\nMatch User migration\nMatch all\n# END ferry migration user migration\n"
#define BLK_B                                                                                      \
	"# BEGIN ferry migration user migration\nMatch User migration\n\tX no\nMatch all\n# END ferry migration user migration\n"
#define BLK_O                                                                                      \
	"# BEGIN ferry migration user other\nMatch User other\nMatch all\n# END ferry migration user other\n"

static void test_splice(void)
{
	int changed;
	char *s = splice("Port 22\n", "migration", BLK_A, &changed);
	CHECK_STR(s, "Port 22\n" BLK_A);
	CHECK_INT(changed, 1);
	char *again = splice(s, "migration", BLK_A, &changed);
	CHECK_STR(again, s); /* idempotent */
	CHECK_INT(changed, 0);
	free(again);
	again = splice(s, "migration", BLK_B, &changed); /* replaced in place */
	CHECK_STR(again, "Port 22\n" BLK_B);
	CHECK_INT(changed, 1);
	free(again);
	free(s);

	s = splice("Port 22", "migration", BLK_A, &changed); /* no final newline */
	CHECK_STR(s, "Port 22\n" BLK_A);
	free(s);
	s = splice("", "migration", BLK_A, &changed);
	CHECK_STR(s, BLK_A);
	free(s);
	/* before the first Match block, so its values win */
	s = splice("Port 22\n  match Group x\n\tX yes\n", "migration", BLK_A, &changed);
	CHECK_STR(s, "Port 22\n" BLK_A "  match Group x\n\tX yes\n");
	free(s);
	/* "Matching" is not a Match line */
	s = splice("Matching 1\n", "migration", BLK_A, &changed);
	CHECK_STR(s, "Matching 1\n" BLK_A);
	free(s);
	/* another user's block stays whole; ours goes before it */
	s = splice("Port 22\n" BLK_O, "migration", BLK_A, &changed);
	CHECK_STR(s, "Port 22\n" BLK_A BLK_O);
	char *s2 = splice(s, "migration", BLK_B, &changed);
	CHECK_STR(s2, "Port 22\n" BLK_B BLK_O);
	free(s2);
	free(s);

	char *out = NULL;
	size_t len;
	const char *bad[] = {
		"# BEGIN ferry migration user migration\nMatch User migration\n",
		"# END ferry migration user migration\n",
		"# BEGIN ferry migration user migration\n# END ferry migration user other\n",
		BLK_A BLK_A,
		"# BEGIN ferry migration user other\n# BEGIN ferry migration user migration\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!CHECK_INT(sshdconf_splice(bad[i], strlen(bad[i]), "migration", BLK_A, &out,
					       &len, NULL),
			       -1))
			fprintf(stderr, "    accepted: %s\n", bad[i]);
	}
	CHECK_INT(sshdconf_splice("a\0b", 3, "migration", BLK_A, &out, &len, NULL), -1);
}

static void test_transport_argv(void)
{
	char buf[4096];
	char *argv[TRANSPORT_ARGS_MAX];
	struct transport_opts o = {
		.root = "/r", .host = "127.0.0.3", .user = "migration", .port = 2222, .pin = 1};
	int n = transport_argv(&o, "receive skel default", buf, sizeof(buf), argv);
	CHECK_INT(n, 28);
	char joined[4096] = "";
	for (int i = 0; i < n; i++) {
		strcat(joined, argv[i]);
		strcat(joined, i + 1 < n ? "|" : "");
	}
	CHECK_STR(joined,
		  "ssh|-T|-o|BatchMode=yes|-o|UserKnownHostsFile=/r/conf/migration/known_hosts|"
		  "-o|GlobalKnownHostsFile=/dev/null|-o|StrictHostKeyChecking=accept-new|"
		  "-o|HashKnownHosts=no|"
		  "-o|IdentitiesOnly=yes|-o|ConnectTimeout=30|-o|ServerAliveInterval=15|"
		  "-o|ServerAliveCountMax=4|-i|/r/conf/migration/key|-l|migration|-p|2222|"
		  "127.0.0.3|receive skel default");
	CHECK(argv[n] == NULL);
	o.pin = 0;
	o.port = 0;
	n = transport_argv(&o, "receive status default:x", buf, sizeof(buf), argv);
	CHECK_INT(n, 26);
	CHECK_STR(argv[9], "StrictHostKeyChecking=yes");
	o.ssh = "/usr/bin/dbclient";
	o.pin = 1;
	o.port = 22;
	n = transport_argv(&o, "receive status default:x", buf, sizeof(buf), argv);
	joined[0] = 0;
	for (int i = 0; i < n; i++) {
		strcat(joined, argv[i]);
		strcat(joined, i + 1 < n ? "|" : "");
	}
	CHECK_STR(joined, "/usr/bin/dbclient|-T|-i|/r/conf/migration/key.dropbear|-p|22|-l|"
			  "migration|127.0.0.3|receive status default:x");
	CHECK_INT(transport_kind_of("dbclient"), TRANSPORT_DROPBEAR);
	CHECK_INT(transport_kind_of("/usr/bin/ssh"), TRANSPORT_OPENSSH);
	CHECK_INT(transport_kind_of(NULL), TRANSPORT_OPENSSH);

	o.ssh = NULL;
	o.host = "-oProxyCommand=touch /tmp/x";
	CHECK_INT(transport_argv(&o, "c", buf, sizeof(buf), argv), -1);
	CHECK(strstr(err_msg(), "bad destination host") != NULL);
	o.host = "h";
	o.user = "-lroot";
	CHECK_INT(transport_argv(&o, "c", buf, sizeof(buf), argv), -1);
	o.user = "migration";
	o.ssh = "ssh -oX";
	CHECK_INT(transport_argv(&o, "c", buf, sizeof(buf), argv), -1);
	o.ssh = "ssh";
	CHECK_INT(transport_argv(&o, "c", buf, 64, argv), -1);
}

int main(void)
{
	RUN(test_block);
	RUN(test_splice);
	RUN(test_transport_argv);
	return CHECK_DONE();
}
