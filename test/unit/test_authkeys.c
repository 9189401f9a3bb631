/* Unit tests of core/authkeys: the registry, the exact sshd file, refusals, restrictions, concurrent adds. */
#define CHECK_SUITE "authkeys"
#include "test/unit/check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/authkeys.h"
#include "core/err.h"
#include "core/file.h"
#include "core/node.h"

/* ssh-keygen-made lines (see test_sshkey.c for their origin). */
static const char ed25519_line[] =
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i "
	"test-ed25519@vectors";
static const char ed25519_fp[] = "SHA256:xaIZYoW7gnkdIJhFnhpcr5U2ThIKM8OrMd9mwQvfqrE";
static const char p256_line[] =
	"ecdsa-sha2-nistp256 "
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOl88nL0AU50lP5I0mZhiglBAm/"
	"ozbFLGh2nYINjYuGJIvAubmaOA9j/RokGv2fJMS/+XVh4fmrFqf3w07fpPDk= test-ecdsa-256@vectors";
static const char p256_fp[] = "SHA256:+mFJoujeG8lDdkIs8aqwhhKmAUX2GRmaP7AwgRsNNpM";
static const char rsa_line[] =
	"ssh-rsa "
	"AAAAB3NzaC1yc2EAAAADAQABAAABAQCoCVqZl3rJl/b2RZT4UqA63IBWG1XyX6GCGwCn1AZiBcpGKRDOMvjfNCTDRT4URyn+vuJam/"
	"w9PTpNuyjs/lrnOFhcbD9mNPjKlgk5STHolJPUjN/"
	"z6Faz2ZSiaiPcJV/eCsmICNg3aiFC5/8hoxKY4E0EOy9NhT0qfADDvB6cKU+p8fFpB2UAjqw5X1tfA4usj4xj/"
	"1cvAsuT4W+UX920WQRoA+M4EEciMhCY+E5Bkwgsbadmbn2J3OH7S/JACUbyMVJz+6hh+BuSfHSe/"
	"LVUMyFx8DXlmTb9i7xe3PI+FvZrWUPLyV2NIwd7NefFUcgpv0Bcrlfo3+ANXD/YXioF test-rsa-2048@vectors";
static const char rsa_fp[] = "SHA256:RiRy8PpOOAKvV9rVvityu5NoDgxbgzb5pgQ2lzTeyQU";

#define FERRY_BIN "/usr/sbin/ferry"

static char root[] = "/tmp/ferry-test-authkeys-XXXXXX";
static struct authkey k; /* large: not on the stack */

/* Fills k from LINE with NAME and restrictions. */
static void make_key(const char *line, const char *name, const char *ctid, const char *from,
		     int single_use)
{
	memset(&k, 0, sizeof(k));
	CHECK_INT(sshkey_parse_line(&k.key, line, strlen(line)), 0);
	snprintf(k.name, sizeof(k.name), "%s", name);
	snprintf(k.ctid, sizeof(k.ctid), "%s", ctid);
	snprintf(k.from, sizeof(k.from), "%s", from);
	k.single_use = single_use;
}

static void clear_root(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/conf", root);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	file_remove_tree(fd, "conf");
	close(fd);
}

static char *read_file(const char *name)
{
	char path[256], *buf = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", root, NODE_MIGRATION_DIR);
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || file_read_all(fd, name, 1 << 20, &buf, &len) < 0)
		buf = NULL;
	if (fd >= 0)
		close(fd);
	return buf;
}

static void test_names_and_patterns(void)
{
	CHECK(authkeys_name_ok("node1"));
	CHECK(authkeys_name_ok("n.o_d-e"));
	CHECK(authkeys_name_ok("1a"));
	CHECK(!authkeys_name_ok(""));
	CHECK(!authkeys_name_ok("123")); /* would be an index */
	CHECK(!authkeys_name_ok("-x"));
	CHECK(!authkeys_name_ok(".x"));
	CHECK(!authkeys_name_ok("a b"));
	CHECK(!authkeys_name_ok("a:b")); /* fingerprints have ':' */
	CHECK(!authkeys_name_ok("a\"b"));
	CHECK(!authkeys_name_ok("a/b"));
	char long_name[AUTHKEYS_NAME_MAX + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	CHECK(!authkeys_name_ok(long_name));
	long_name[AUTHKEYS_NAME_MAX] = 0;
	CHECK(authkeys_name_ok(long_name));

	CHECK_INT(authkeys_ctid_pattern_ok("web*"), 0);
	CHECK_INT(authkeys_ctid_pattern_ok("pool1:ct[0-9]?"), 0);
	CHECK_INT(authkeys_ctid_pattern_ok("a:b:c"), -1);
	CHECK_INT(authkeys_ctid_pattern_ok("a b"), -1);
	CHECK_INT(authkeys_ctid_pattern_ok("a/b"), -1);
	CHECK_INT(authkeys_ctid_pattern_ok(""), -1);

	CHECK_INT(authkeys_from_patterns_ok("10.0.0.*"), 0);
	CHECK_INT(authkeys_from_patterns_ok("10.0.0.*,192.168.[12].?,fd00::*,::1"), 0);
	CHECK_INT(authkeys_from_patterns_ok("fe80::*%eth0"), 0);
	CHECK_INT(authkeys_from_patterns_ok("node1.example.com"), -1);
	CHECK(strstr(err_msg(), "host names are not resolved") != NULL);
	CHECK_INT(authkeys_from_patterns_ok("10.0.0.1,,10.0.0.2"), -1);
	CHECK_INT(authkeys_from_patterns_ok("10.0.0.1,"), -1);
	CHECK_INT(authkeys_from_patterns_ok("10.0.0.0/8"), -1);
	CHECK_INT(authkeys_from_patterns_ok("%eth0"), -1);
	CHECK_INT(authkeys_from_patterns_ok(""), -1);
}

static void test_add_list_del(void)
{
	struct authkeys list;
	struct authkey removed, found;
	clear_root();

	CHECK_INT(authkeys_load(root, &list), 0); /* no registry yet: empty */
	CHECK_INT(list.count, 0);
	authkeys_free(&list);

	make_key(ed25519_line, "", "", "", 0); /* name derived from the comment */
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	CHECK_STR(k.name, "vectors");
	CHECK_STR(k.fingerprint, ed25519_fp);
	make_key(p256_line, "", "web*", "10.0.0.*", 1);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	CHECK_STR(k.name, "vectors-2");
	make_key(rsa_line, "rsa1", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);

	/* Refusals leave the registry as it was. */
	make_key(p256_line, "other", "", "", 0); /* same key, another name */
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), -1);
	CHECK(strstr(err_msg(), "already allowed as 'vectors-2'") != NULL);
	make_key(p256_line, "vectors-2", "", "", 0); /* same key, same name */
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), -1);
	CHECK(strstr(err_msg(), "already allowed") != NULL);
	clear_root();
	make_key(ed25519_line, "x", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	make_key(p256_line, "x", "", "", 0); /* another key, a used name */
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), -1);
	CHECK(strstr(err_msg(), "name 'x' is already used") != NULL);
	make_key(p256_line, "12", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), -1);
	make_key(p256_line, "y", "a b", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), -1);
	make_key(p256_line, "y", "", "host.example", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), -1);
	CHECK_INT(authkeys_load(root, &list), 0);
	CHECK_INT(list.count, 1);
	authkeys_free(&list);

	/* Three keys again, then delete by index, name and fingerprint. */
	make_key(p256_line, "p256", "web*", "10.0.0.*", 1);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	make_key(rsa_line, "rsa1", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	CHECK_INT(authkeys_find(root, "p256", &found), 1);
	CHECK_STR(found.ctid, "web*");
	CHECK_STR(found.from, "10.0.0.*");
	CHECK_INT(found.single_use, 1);
	CHECK_STR(found.fingerprint, p256_fp);
	CHECK_INT(found.key.type, SSHKEY_ECDSA_P256);
	CHECK_INT(authkeys_find(root, "nope", &found), 0);

	CHECK_INT(authkeys_del(root, "4", &removed, FERRY_BIN), -1);
	CHECK(strstr(err_msg(), "no key number 4 (there are 3)") != NULL);
	CHECK_INT(authkeys_del(root, "nope", &removed, FERRY_BIN), -1);
	CHECK(strstr(err_msg(), "no key named 'nope'") != NULL);
	CHECK_INT(authkeys_del(root, "SHA256:nope", &removed, FERRY_BIN), -1);
	CHECK(strstr(err_msg(), "no key with fingerprint") != NULL);
	CHECK_INT(authkeys_del(root, "0", &removed, FERRY_BIN), -1);
	CHECK_INT(authkeys_del(root, "2", &removed, FERRY_BIN), 0);
	CHECK_STR(removed.name, "p256");
	CHECK_INT(authkeys_del(root, rsa_fp, &removed, FERRY_BIN), 0);
	CHECK_STR(removed.name, "rsa1");
	CHECK_INT(authkeys_del(root, "x", &removed, FERRY_BIN), 0);
	CHECK_STR(removed.fingerprint, ed25519_fp);
	CHECK_INT(authkeys_load(root, &list), 0);
	CHECK_INT(list.count, 0);
	authkeys_free(&list);
}

/* The sshd file holds exactly one restricted line per key, in order. */
static void test_sshd_file_exact(void)
{
	char want[8192];
	clear_root();
	make_key(ed25519_line, "ed", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	make_key(p256_line, "p256", "web*", "10.0.0.*", 1);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	snprintf(want, sizeof(want),
		 "# Generated by 'ferry authorized-keys' from allowed-keys; edits here are lost.\n"
		 "command=\"" FERRY_BIN " receive --root %s --key ed\",no-pty,no-port-forwarding,"
		 "no-agent-forwarding,no-X11-forwarding %s\n"
		 "command=\"" FERRY_BIN " receive --root %s --key p256\",no-pty,no-port-forwarding,"
		 "no-agent-forwarding,no-X11-forwarding %s\n",
		 root, ed25519_line, root, p256_line);
	char *got = read_file(AUTHKEYS_SSHD_FILE);
	CHECK_STR(got, want);
	free(got);

	/* Both files 0644; the directories 0755 (sshd reads as the migration user). */
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s/%s", root, NODE_MIGRATION_DIR, AUTHKEYS_SSHD_FILE);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	snprintf(path, sizeof(path), "%s/%s/%s", root, NODE_MIGRATION_DIR, AUTHKEYS_FILE);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	snprintf(path, sizeof(path), "%s/%s", root, NODE_MIGRATION_DIR);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0755);

	/* sync rewrites it with another binary path; path names it. */
	CHECK_INT(authkeys_sync(root, "/opt/ferry/bin/ferry"), 0);
	got = read_file(AUTHKEYS_SSHD_FILE);
	CHECK(got && strstr(got, "command=\"/opt/ferry/bin/ferry receive --root ") != NULL);
	CHECK(got && !strstr(got, FERRY_BIN));
	free(got);
	CHECK_INT(authkeys_sshd_path(root, path, sizeof(path)), 0);
	char want_path[256];
	snprintf(want_path, sizeof(want_path), "%s/conf/migration/authorized_keys", root);
	CHECK_STR(path, want_path);

	/* The default root is left out; unsafe paths are refused. */
	struct authkeys list;
	char *text;
	size_t len;
	CHECK_INT(authkeys_load(root, &list), 0);
	CHECK_INT(authkeys_format_sshd(&list, FERRY_BIN, NODE_ROOT_DEFAULT, &text, &len), 0);
	CHECK(strstr(text, "command=\"" FERRY_BIN " receive --key ed\",no-pty") != NULL);
	CHECK(!strstr(text, "--root"));
	free(text);
	static const char *bad_paths[] = {"relative/root", "/tmp/a b", "/tmp/a\"b", "/tmp/a\\b",
					  "/tmp/$(id)",	   "/tmp/a;b", "/tmp/a\nb", "/tmp/~x"};
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		CHECK_INT(authkeys_format_sshd(&list, FERRY_BIN, bad_paths[i], &text, &len), -1);
		CHECK(strstr(err_msg(), "cannot go into sshd's command=") != NULL);
		CHECK_INT(authkeys_format_sshd(&list, bad_paths[i], "/var/lib/ferry", &text, &len),
			  -1);
	}
	authkeys_free(&list);
	/* A key add with an unsafe ferry path changes nothing. */
	make_key(rsa_line, "rsa1", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, "/tmp/x y/ferry"), -1);
	CHECK_INT(authkeys_find(root, "rsa1", &k), 0);
}

static void test_registry_format(void)
{
	struct authkeys list, back;
	char *text, *text2;
	size_t len, len2;
	clear_root();
	make_key(ed25519_line, "ed", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	make_key(p256_line, "p256", "pool1:web*", "10.0.0.*,fd00::*", 1);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	char *got = read_file(AUTHKEYS_FILE);
	char want[4096];
	snprintf(want, sizeof(want),
		 "# ferry allowed-keys v1\n"
		 "ed\tssh-ed25519\t%.68s\t\t\t\ttest-ed25519@vectors\n"
		 "p256\tecdsa-sha2-nistp256\t%.140s\tpool1:web*\t10.0.0.*,fd00::*\tsingle-use\t"
		 "test-ecdsa-256@vectors\n",
		 strchr(ed25519_line, ' ') + 1, strchr(p256_line, ' ') + 1);
	CHECK_STR(got, want);

	/* parse(format(x)) == x */
	CHECK_INT(authkeys_parse(&list, got, strlen(got)), 0);
	CHECK_INT(list.count, 2);
	CHECK_INT(authkeys_format(&list, &text, &len), 0);
	CHECK_EQUALS(text, len, got, strlen(got));
	CHECK_INT(authkeys_parse(&back, text, len), 0);
	CHECK_INT(authkeys_format(&back, &text2, &len2), 0);
	CHECK_EQUALS(text2, len2, text, len);
	free(text);
	free(text2);
	authkeys_free(&back);
	authkeys_free(&list);

	/* Damaged registries are refused with the line number. */
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{"# ferry allowed-keys v2\n", "line 1: not a ferry allowed-keys v1"},
		{"# ferry allowed-keys v1", "no final newline"},
		{"# ferry allowed-keys v1\nx\tssh-ed25519\tAAAA\t\t\t\n", "line 2: 6 fields"},
		{"# ferry allowed-keys v1\nx\tssh-ed25519\tAAAA\t\t\t\t\t\n", "more than 7"},
		{"# ferry allowed-keys v1\nx\tssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i\t\t\tforever\tc\n",
		 "line 2: unknown flags 'forever'"},
		{"# ferry allowed-keys v1\n1\tssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i\t\t\t\tc\n",
		 "line 2: bad key name '1'"},
		{"# ferry allowed-keys v1\nx\tssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i\t\t\t\tc\n"
		 "x\tssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i\t\t\t\tc\n",
		 "line 3: name 'x' appears twice"},
		{"# ferry allowed-keys v1\nx\tssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i\t\t\t\tc\n"
		 "y\tssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i\t\t\t\tc\n",
		 "line 3: key SHA256:xaIZYoW7gnkdIJhFnhpcr5U2ThIKM8OrMd9mwQvfqrE appears twice"},
		{"# ferry allowed-keys v1\nx\tssh-dss\tAAAA\t\t\t\tc\n", "line 2: ssh-dss"},
		{"# ferry allowed-keys v1\nx\tssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIKTwHraOLmDTIEYeovbzHoq9dF37rl9F0Exq3sewmF1i\ta b\t\t\tc\n",
		 "line 2: --ctid pattern 'a b'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!CHECK_INT(authkeys_parse(&list, bad[i].text, strlen(bad[i].text)), -1))
			continue;
		if (!CHECK(strstr(err_msg(), bad[i].want) != NULL))
			fprintf(stderr, "    case %zu: \"%s\"\n", i, err_msg());
	}
	CHECK_INT(authkeys_parse(&list, "# ferry allowed-keys v1\n\0x\n", 27), -1);
	CHECK(strstr(err_msg(), "NUL") != NULL);
	free(got);
}

static void test_consume_single_use(void)
{
	struct authkey found;
	clear_root();
	make_key(ed25519_line, "keep", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	make_key(p256_line, "once", "", "", 1);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	CHECK_INT(authkeys_consume(root, "keep", FERRY_BIN), 0);
	CHECK_INT(authkeys_find(root, "keep", &found), 1);
	CHECK_INT(authkeys_consume(root, "once", FERRY_BIN), 1);
	CHECK_INT(authkeys_find(root, "once", &found), 0);
	CHECK_INT(authkeys_consume(root, "once", FERRY_BIN), 0); /* already gone */
	char *sshd = read_file(AUTHKEYS_SSHD_FILE);
	CHECK(sshd && strstr(sshd, "--key keep\"") != NULL);
	CHECK(sshd && !strstr(sshd, "--key once\""));
	free(sshd);
}

static void test_restrictions(void)
{
	make_key(p256_line, "r", "web*", "10.0.0.*,fd00::*", 0);
	CHECK_INT(authkey_allows_ctid(&k, NULL, "web1"), 0);
	CHECK_INT(authkey_allows_ctid(&k, "tank", "web1"), 0);
	CHECK_INT(authkey_allows_ctid(&k, "tank", "db1"), -1);
	CHECK_STR(err_msg(), "key 'r' is limited to containers matching 'web*': 'db1' refused");
	CHECK_INT(authkey_allows_ctid(&k, "tank", ""), -1);
	snprintf(k.ctid, sizeof(k.ctid), "tank:web*");
	CHECK_INT(authkey_allows_ctid(&k, "tank", "web1"), 0);
	CHECK_INT(authkey_allows_ctid(&k, "other", "web1"), -1);
	CHECK(strstr(err_msg(), "'other:web1' refused") != NULL);
	CHECK_INT(authkey_allows_ctid(&k, NULL, "web1"), -1);
	CHECK(strstr(err_msg(), "no pool known") != NULL);

	CHECK_INT(authkey_allows_client(&k, "10.0.0.5 51234 10.0.0.1 22"), 0);
	CHECK_INT(authkey_allows_client(&k, "10.0.1.5 51234 10.0.0.1 22"), -1);
	CHECK_STR(err_msg(), "key 'r' is limited to clients matching '10.0.0.*,fd00::*': "
			     "10.0.1.5 refused");
	CHECK_INT(authkey_allows_client(&k, "FD00::17 51234 fd00::1 22"), 0); /* any case */
	CHECK_INT(authkey_allows_client(&k, "fd01::17 51234 fd00::1 22"), -1);
	CHECK_INT(authkey_allows_client(&k, "::ffff:10.0.0.9 51234 ::1 22"), 0);
	CHECK_INT(authkey_allows_client(&k, NULL), -1);
	CHECK(strstr(err_msg(), "SSH_CONNECTION is not set") != NULL);
	CHECK_INT(authkey_allows_client(&k, ""), -1);
	CHECK_INT(authkey_allows_client(&k, "10.0.0.* 1 2 3"), -1); /* not an address */
	CHECK_INT(authkey_allows_client(&k, "evil.example 1 2 3"), -1);
	CHECK(strstr(err_msg(), "not an IP address") != NULL);

	/* No restriction: anything goes, even without SSH_CONNECTION. */
	make_key(p256_line, "free", "", "", 0);
	CHECK_INT(authkey_allows_ctid(&k, NULL, "anything"), 0);
	CHECK_INT(authkey_allows_client(&k, NULL), 0);

	char addr[64];
	CHECK_INT(authkeys_client_addr("fe80::1%eth0 1 2 3", addr, sizeof(addr)), 0);
	CHECK_STR(addr, "fe80::1%eth0");
	CHECK_INT(authkeys_client_addr("127.0.0.1 5 6 7", addr, sizeof(addr)), 0);
	CHECK_STR(addr, "127.0.0.1");
}

static void test_directory_modes(void)
{
	char path[256];
	clear_root();
	CHECK_INT(chmod(root, 0775), 0); /* group-writable: sshd would not read beneath it */
	make_key(ed25519_line, "ed", "", "", 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), -1);
	CHECK(strstr(err_msg(), "writable by group or others") != NULL);
	CHECK_INT(chmod(root, 0700), 0);
	CHECK_INT(authkeys_add(root, &k, FERRY_BIN), 0);
	snprintf(path, sizeof(path), "%s/conf", root);
	CHECK_INT(chmod(path, 0777), 0);
	CHECK_INT(authkeys_sync(root, FERRY_BIN), -1);
	CHECK_INT(chmod(path, 0755), 0);
	CHECK_INT(authkeys_sync(root, FERRY_BIN), 0);
	if (geteuid() == 0) { /* a directory owned by someone else */
		CHECK_INT(chown(path, 12345, (gid_t)-1), 0);
		CHECK_INT(authkeys_sync(root, FERRY_BIN), -1);
		CHECK(strstr(err_msg(), "belongs to uid 12345") != NULL);
		CHECK_INT(chown(path, 0, (gid_t)-1), 0);
		CHECK_INT(authkeys_sync(root, FERRY_BIN), 0);
	}
}

/* Eight processes add eight different keys at once: none is lost. */
static void test_concurrent_adds(void)
{
	enum { N = 8 };
	struct authkeys list;
	pid_t pids[N];
	clear_root();
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			static struct sshkey_pair pair;
			memset(&k, 0, sizeof(k));
			if (sshkey_generate(&pair, SSHKEY_ECDSA_P256, 0, "root@concurrent") < 0)
				_exit(2);
			k.key = pair.pub;
			snprintf(k.name, sizeof(k.name), "c%d", i);
			_exit(authkeys_add(root, &k, FERRY_BIN) < 0 ? 1 : 0);
		}
	}
	for (int i = 0; i < N; i++) {
		int status;
		CHECK_INT(waitpid(pids[i], &status, 0), pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_INT(authkeys_load(root, &list), 0);
	CHECK_INT(list.count, N);
	authkeys_free(&list);
	char *sshd = read_file(AUTHKEYS_SSHD_FILE);
	int lines = 0;
	for (char *p = sshd; p && (p = strstr(p, "command=")); p++)
		lines++;
	CHECK_INT(lines, N);
	free(sshd);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_names_and_patterns);
	RUN(test_add_list_del);
	RUN(test_sshd_file_exact);
	RUN(test_registry_format);
	RUN(test_consume_single_use);
	RUN(test_restrictions);
	RUN(test_directory_modes);
	RUN(test_concurrent_adds);
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	file_remove_tree(fd, root + 5);
	close(fd);
	return CHECK_DONE();
}
