/* Unit tests of core/ct: names, the config format, container directories, locks, run records. */
#define CHECK_SUITE "ct"
#include "test/unit/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ct.h"
#include "core/err.h"
#include "core/file.h"
#include "core/proc.h"

static char root[] = "/tmp/ferry-test-ct-XXXXXX";

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void test_names(void)
{
	static const char *const good[] = {
		"a",	 "101", "web-1",
		"a.b_c", "0",	"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0"};
	static const char *const bad[] = {
		"",    "-a",   ".a",
		"_a",  "A",    "ab C",
		"a/b", "..",   "../x",
		"a:b", "a\n",  "é",
		"a b", "a\\b", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!CHECK(ct_name_ok(good[i]) && ct_name_check("id", good[i]) == 0))
			fprintf(stderr, "    rejected '%s': %s\n", good[i], err_msg());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK(!ct_name_ok(bad[i]) && ct_name_check("id", bad[i]) == -1))
			fprintf(stderr, "    accepted '%s'\n", bad[i]);
	CHECK_INT(ct_name_check("container id", "a/b"), -1);
	CHECK_STR(err_msg(), "bad container id 'a/b': only a-z, 0-9, '_', '.' and '-' are allowed");
	CHECK_INT(ct_name_check("container id", "x\ny"), -1);
	CHECK(strchr(err_msg(), '\n') == NULL); /* hostile bytes are not echoed */
}

static void test_ref_parse(void)
{
	struct ct_ref r;
	char buf[CT_REF_MAX + 1];
	CHECK_INT(ct_ref_parse(&r, "101"), 0);
	CHECK_STR(ct_ref_str(&r, buf), "default:101");
	CHECK_INT(ct_ref_parse(&r, "tank:web"), 0);
	CHECK_STR(r.pool, "tank");
	CHECK_STR(r.id, "web");
	static const char *const bad[] = {"",	  ":",	  "a:",	 ":b",	"a:b:c",
					  "../x", "x/..", "A:b", "a:B", "tank:../../etc"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK_INT(ct_ref_parse(&r, bad[i]), -1))
			fprintf(stderr, "    accepted '%s'\n", bad[i]);
	CHECK_INT(ct_ref_parse(&r, ":b"), -1);
	CHECK_STR(err_msg(), "empty pool in ':b'");
	CHECK_INT(ct_ref_set(&r, NULL, "x"), 0);
	CHECK_STR(r.pool, "default");
}

static void test_dataset_names_and_mountpoints(void)
{
	static const char *const good[] = {"/", "data", "a/b", "a/b/c/d/e/f/g/h", "srv.www_1"};
	static const char *const bad[] = {"",	    "/a",    "a/", "a//b", "../a",
					  "a/../b", "a/./b", "A",  "a b",  "a/b/c/d/e/f/g/h/i",
					  ".a",	    "a/-b"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!CHECK_INT(ct_dataset_name_check(good[i]), 0))
			fprintf(stderr, "    rejected '%s': %s\n", good[i], err_msg());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK_INT(ct_dataset_name_check(bad[i]), -1))
			fprintf(stderr, "    accepted '%s'\n", bad[i]);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	for (int i = 60; i < 300; i += 61)
		longname[i] = '/';
	longname[256] = 0;
	CHECK_INT(ct_dataset_name_check(longname), -1);

	static const char *const mp_good[] = {"/srv", "/srv/data", "/a-b/c_d/e.f", "/process",
					      "/devices"};
	static const char *const mp_bad[] = {"",	"srv",	"/",	 "/a/../b", "/a//b",
					     "/a/",	"/a/.", "/proc", "/proc/x", "/dev",
					     "/sys/fs", "/a b", "/a\\b", "/a\tb",   "/$(id)"};
	for (size_t i = 0; i < sizeof(mp_good) / sizeof(mp_good[0]); i++)
		if (!CHECK_INT(ct_mountpoint_check(mp_good[i]), 0))
			fprintf(stderr, "    rejected '%s': %s\n", mp_good[i], err_msg());
	for (size_t i = 0; i < sizeof(mp_bad) / sizeof(mp_bad[0]); i++)
		if (!CHECK_INT(ct_mountpoint_check(mp_bad[i]), -1))
			fprintf(stderr, "    accepted '%s'\n", mp_bad[i]);
}

static const char sample[] = "# a comment\n"
			     "\n"
			     "hostname = web1\n"
			     "  init=/sbin/init --quiet  \n"
			     "stop_timeout = 5\n"
			     "network = none\n"
			     "start_cmd = lxc-start -n %id% -P %dir%\n"
			     "dataset.srv/www = /srv/www\n"
			     "dataset.data = /data\n"
			     "user.owner = alice # not a comment\n"
			     "user.empty =\n";

static void test_config_parse_and_format_round_trip(void)
{
	struct ct_config c, d;
	char buf[CT_CONFIG_MAX], buf2[CT_CONFIG_MAX];
	size_t len, len2;
	CHECK_INT(ct_config_parse(&c, sample, sizeof(sample) - 1), 0);
	CHECK_STR(c.hostname, "web1");
	CHECK_STR(c.init, "/sbin/init --quiet");
	CHECK_INT(c.stop_timeout, 5);
	CHECK_INT(c.start_timeout, CT_START_TIMEOUT_DEF);
	CHECK_INT(c.network, CT_NET_NONE);
	CHECK_STR(c.start_cmd, "lxc-start -n %id% -P %dir%");
	CHECK_INT(c.n_datasets, 2);
	CHECK_STR(c.datasets[0].name, "data"); /* sorted */
	CHECK_STR(c.datasets[1].mountpoint, "/srv/www");
	CHECK_INT(c.n_user, 2);
	CHECK_STR(c.user[1].key, "user.owner");
	CHECK_STR(c.user[1].value, "alice # not a comment");
	CHECK_STR(c.user[0].value, "");
	CHECK_INT(ct_config_format(&c, buf, sizeof(buf), &len), 0);
	CHECK_INT(ct_config_parse(&d, buf, len), 0);
	CHECK_INT(ct_config_format(&d, buf2, sizeof(buf2), &len2), 0);
	CHECK_EQUALS(buf2, len2, buf, len);
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	CHECK(strstr(buf, "start_timeout = 300\n") != NULL);

	/* An empty text is the defaults; the default hostname is the id. */
	CHECK_INT(ct_config_parse(&c, "", 0), 0);
	CHECK_STR(c.init, CT_INIT_DEFAULT);
	CHECK_INT(c.stop_timeout, CT_STOP_TIMEOUT_DEF);
	struct ct_ref r;
	ct_ref_set(&r, NULL, "101");
	CHECK_STR(ct_config_hostname(&c, &r), "101");
	/* No final newline is fine. */
	CHECK_INT(ct_config_parse(&c, "hostname = x", 12), 0);
	CHECK_STR(c.hostname, "x");
}

static void test_config_rejects(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"colour = blue\n", "line 1: unknown key 'colour'"},
		{"hostname = a\nhostname = b\n", "line 2: duplicate key hostname"},
		{"user.a = 1\nuser.a = 2\n", "duplicate key user.a"},
		{"dataset.d = /a\ndataset.d = /b\n", "duplicate key dataset.d"},
		{"hostname web\n", "line 1: expected 'key = value'"},
		{" = x\n", "empty key"},
		{"hostname = a\r\n", "control character 0x0d"},
		{"user.x = a\0b\n", "control character 0x00"},
		{"hostname = -x\n", "bad hostname"},
		{"hostname = a b\n", "bad hostname"},
		{"init = sbin/init\n", "not an absolute path"},
		{"init =\n", "init cannot be empty"},
		{"stop_timeout = -1\n", "stop_timeout"},
		{"stop_timeout = 86401\n", "out of range"},
		{"stop_timeout = 5s\n", "not a number"},
		{"start_timeout = 0\n", "out of range"},
		{"network = bridge\n", "neither 'host' nor 'none'"},
		{"start_cmd = run %name%\n", "unknown placeholder %name%"},
		{"start_cmd = run %id\n", "unterminated placeholder"},
		{"start_cmd = %rootfs%/start\n", "not allowed in the program name"},
		{"init = /sbin/init %id%\n", "'%' is not allowed here"},
		{"dataset./ = /x\n", "root dataset"},
		{"dataset.../x = /x\n", "dataset name component"},
		{"dataset.a = relative\n", "not an absolute path"},
		{"dataset.a = /x\ndataset.b = /x\n", "mount point /x is already dataset a's"},
		{"dataset.a = /proc/x\n", "is the runtime's"},
		{"user. = x\n", "empty user key name"},
		{"user.A = x\n", "user.* names use"},
		{"User.a = x\n", "unknown key"},
	};
	struct ct_config c;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].text);
		if (!strncmp(bad[i].text, "user.x = a", 10))
			len = 15; /* with the NUL inside */
		int r = ct_config_parse(&c, bad[i].text, len);
		if (!CHECK_INT(r, -1) || !CHECK(strstr(err_msg(), bad[i].why) != NULL))
			fprintf(stderr, "    text %zu: got '%s', want '%s'\n", i, err_msg(),
				bad[i].why);
	}
}

static void test_config_bounds(void)
{
	struct ct_config c;
	char *big = malloc(CT_CONFIG_MAX + 2);
	size_t n = 0;
	/* One more dataset than allowed. */
	for (int i = 0; i <= CT_DATASETS_MAX; i++)
		n += (size_t)sprintf(big + n, "dataset.d%d = /m%d\n", i, i);
	CHECK_INT(ct_config_parse(&c, big, n), -1);
	CHECK(strstr(err_msg(), "too many datasets") != NULL);
	n = 0;
	for (int i = 0; i <= CT_USER_MAX; i++)
		n += (size_t)sprintf(big + n, "user.k%d = v\n", i);
	CHECK_INT(ct_config_parse(&c, big, n), -1);
	CHECK(strstr(err_msg(), "too many user.* keys") != NULL);
	/* A line over the limit, and a text over the limit. */
	memset(big, 'a', CT_CONFIG_MAX + 1);
	memcpy(big, "user.x = ", 9);
	CHECK_INT(ct_config_parse(&c, big, CT_CONFIG_LINE_MAX + 1), -1);
	CHECK(strstr(err_msg(), "longer than") != NULL);
	CHECK_INT(ct_config_parse(&c, big, CT_CONFIG_MAX + 1), -1);
	CHECK(strstr(err_msg(), "larger than") != NULL);
	/* A long user value. */
	n = (size_t)sprintf(big, "user.x = ");
	memset(big + n, 'v', CT_USER_VALUE_MAX + 1);
	n += CT_USER_VALUE_MAX + 1;
	CHECK_INT(ct_config_parse(&c, big, n), -1);
	CHECK(strstr(err_msg(), "value too long") != NULL);
	CHECK_INT(ct_config_parse(&c, big, n - 1), 0);
	free(big);
}

static void test_config_set_unset_get(void)
{
	struct ct_config c;
	char v[CT_CMD_MAX + 1];
	ct_config_init(&c);
	CHECK_INT(ct_config_set(&c, "stop_timeout", " 7 "), 0);
	CHECK_INT(ct_config_get(&c, "stop_timeout", v, sizeof(v)), 0);
	CHECK_STR(v, "7");
	CHECK_INT(ct_config_set(&c, "user.note", "hello"), 0);
	CHECK_INT(ct_config_set(&c, "user.note", "again"), 0); /* set replaces */
	CHECK_INT(ct_config_get(&c, "user.note", v, sizeof(v)), 0);
	CHECK_STR(v, "again");
	CHECK_INT(ct_config_set(&c, "dataset.d", "/d"), 0);
	CHECK_INT(ct_config_set(&c, "dataset.d", "/e"), 0);
	CHECK_STR(ct_config_dataset(&c, "d")->mountpoint, "/e");
	CHECK_INT(ct_config_set(&c, "nonsense", "x"), -1);
	CHECK_INT(ct_config_set(&c, "stop_timeout", "x"), -1);
	CHECK_INT(c.stop_timeout, 7); /* a failed set changes nothing */
	CHECK_INT(ct_config_unset(&c, "stop_timeout"), 0);
	CHECK_INT(c.stop_timeout, CT_STOP_TIMEOUT_DEF);
	CHECK_INT(ct_config_unset(&c, "user.note"), 0);
	CHECK_INT(ct_config_unset(&c, "user.note"), 1);
	CHECK_INT(ct_config_get(&c, "user.note", v, sizeof(v)), 1);
	CHECK_INT(ct_config_unset(&c, "dataset.d"), 0);
	CHECK(ct_config_dataset(&c, "d") == NULL);
	CHECK_INT(ct_config_unset(&c, "bogus"), -1);
	CHECK_INT(ct_config_get(&c, "init", v, 4), -1); /* no room */
}

static void make_ref(struct ct_ref *r, const char *pool, const char *id)
{
	CHECK_INT(ct_ref_set(r, pool, id), 0);
}

static void test_create_open_paths(void)
{
	struct ct_ref r;
	struct ct ct, again;
	struct ct_config c, loaded;
	char path[4096], want[4096];
	make_ref(&r, NULL, "alpha");
	ct_config_init(&c);
	CHECK_INT(ct_config_set(&c, "dataset.srv/www", "/srv/www"), 0);
	struct ct_create_opts o = {.config = &c};
	CHECK_INT(ct_create(&ct, root, &r, &o), 0);
	CHECK_INT(ct.lock, CT_LOCK_EXCLUSIVE);
	snprintf(want, sizeof(want), "%s/pools/default/ct/alpha", root);
	CHECK_STR(ct.dir, want);
	CHECK_INT(ct_dataset_tree(&ct, "/", path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/pools/default/ct/alpha/datasets/_root/tree", root);
	CHECK_STR(path, want);
	CHECK(exists(path));
	CHECK_INT(ct_dataset_state(&ct, "srv/www", path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/pools/default/ct/alpha/datasets/srv+www/state", root);
	CHECK_STR(path, want);
	CHECK(exists(path));
	CHECK_INT(ct_dataset_tree(&ct, "srv/www", path, sizeof(path)), 0);
	CHECK(exists(path));
	CHECK_INT(ct_dataset_tree(&ct, "../x", path, sizeof(path)), -1);
	CHECK_INT(ct_config_load(&ct, &loaded), 0);
	CHECK(memcmp(&c, &loaded, sizeof(c)) == 0);

	/* Locked: a second exclusive open without waiting fails; an unlocked one works. */
	CHECK_INT(ct_open(&again, root, &r, CT_LOCK_EXCLUSIVE | CT_LOCK_NOWAIT), -1);
	CHECK(strstr(err_msg(), "is busy") != NULL);
	CHECK_INT(ct_open(&again, root, &r, CT_LOCK_SHARED | CT_LOCK_NOWAIT), -1);
	CHECK_INT(ct_open(&again, root, &r, CT_LOCK_NONE), 0);
	CHECK_INT(ct_config_save(&again, &c), -1); /* not locked for writing */
	CHECK(strstr(err_msg(), "not locked for writing") != NULL);
	ct_close(&again);
	ct_close(&ct);
	CHECK_INT(ct_open(&again, root, &r, CT_LOCK_SHARED | CT_LOCK_NOWAIT), 0);
	CHECK_INT(ct_open(&ct, root, &r, CT_LOCK_SHARED | CT_LOCK_NOWAIT), 0); /* shared twice */
	ct_close(&ct);
	ct_close(&again);

	/* A duplicate create fails and changes nothing. */
	CHECK_INT(ct_create(&ct, root, &r, &o), -1);
	CHECK_INT(errno, EEXIST);
	CHECK_STR(err_msg(), "container default:alpha already exists");
	CHECK_INT(ct_exists(root, &r), 1);
	make_ref(&r, NULL, "absent");
	CHECK_INT(ct_exists(root, &r), 0);
	CHECK_INT(ct_open(&ct, root, &r, CT_LOCK_EXCLUSIVE), -1);
	CHECK_INT(errno, ENOENT);
	CHECK_STR(err_msg(), "no container default:absent");
}

static void test_create_without_trees_and_staged(void)
{
	struct ct_ref r;
	struct ct ct;
	char path[4096];
	make_ref(&r, "tank", "received");
	struct ct_config c;
	ct_config_init(&c);
	CHECK_INT(ct_config_set(&c, "dataset.data", "/data"), 0);
	struct ct_create_opts o = {.config = &c, .staged = 1, .no_trees = 1};
	CHECK_INT(ct_create(&ct, root, &r, &o), 0);
	CHECK_INT(ct_staged(&ct), 1);
	CHECK_INT(ct_dataset_tree(&ct, "/", path, sizeof(path)), 0);
	CHECK(!exists(path));
	CHECK_INT(ct_dataset_state(&ct, "/", path, sizeof(path)), 0);
	CHECK(exists(path));
	CHECK_INT(ct_dataset_tree(&ct, "data", path, sizeof(path)), 0);
	CHECK(!exists(path));
	CHECK_INT(ct_set_staged(&ct, 0), 0);
	CHECK_INT(ct_staged(&ct), 0);
	CHECK_INT(ct_set_staged(&ct, 0), 0); /* idempotent */
	CHECK_INT(ct_set_staged(&ct, 1), 0);
	CHECK_INT(ct_staged(&ct), 1);
	ct_close(&ct);
}

static void test_create_from_dir_and_tar(void)
{
	struct ct_ref r;
	struct ct ct;
	char src[4096], tree[4096], file[4200], tar[4096];
	struct stat st;
	snprintf(src, sizeof(src), "%s/src", root);
	CHECK_INT(mkdir(src, 0750), 0);
	snprintf(file, sizeof(file), "%s/hello", src);
	CHECK_INT(file_write_atomic_path(file, "hi\n", 3, 0640), 0);
	snprintf(file, sizeof(file), "%s/link", src);
	CHECK_INT(symlink("hello", file), 0);
	chmod(src, 0750);

	make_ref(&r, NULL, "copied");
	struct ct_create_opts o = {.from_dir = src};
	CHECK_INT(ct_create(&ct, root, &r, &o), 0);
	CHECK_INT(ct_dataset_tree(&ct, "/", tree, sizeof(tree)), 0);
	snprintf(file, sizeof(file), "%s/link", tree);
	CHECK(lstat(file, &st) == 0 && S_ISLNK(st.st_mode));
	snprintf(file, sizeof(file), "%s/hello", tree);
	CHECK(stat(file, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == 3);
	CHECK(stat(tree, &st) == 0 && (st.st_mode & 07777) == 0750); /* the top dir's mode too */
	ct_close(&ct);

	/* A tar archive of the same tree. */
	snprintf(tar, sizeof(tar), "%s/src.tar", root);
	char *const argv[] = {"tar", "-cf", tar, "-C", src, ".", NULL};
	struct proc_opts po;
	int status;
	proc_opts_init(&po, argv);
	CHECK_INT(proc_run(&po, 60000, NULL, 0, NULL, &status), 0);
	CHECK_INT(proc_status_check("tar", status), 0);
	make_ref(&r, NULL, "untarred");
	struct ct_create_opts ot = {.from_tar = tar};
	CHECK_INT(ct_create(&ct, root, &r, &ot), 0);
	CHECK_INT(ct_dataset_tree(&ct, "/", tree, sizeof(tree)), 0);
	snprintf(file, sizeof(file), "%s/hello", tree);
	CHECK(stat(file, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == 3);
	ct_close(&ct);

	/* Failures leave no container and no staging directory behind. */
	make_ref(&r, NULL, "broken");
	struct ct_create_opts bad_tar = {.from_tar = src}; /* a directory, not an archive */
	CHECK_INT(ct_create(&ct, root, &r, &bad_tar), -1);
	CHECK(strstr(err_msg(), "create default:broken") != NULL);
	snprintf(file, sizeof(file), "%s/garbage.tar", root);
	CHECK_INT(file_write_atomic_path(file, "not a tar archive at all", 24, 0600), 0);
	struct ct_create_opts garbage = {.from_tar = file};
	CHECK_INT(ct_create(&ct, root, &r, &garbage), -1);
	CHECK(strstr(err_msg(), "extract with tar exited with status 2") != NULL);
	struct ct_create_opts both = {.from_dir = src, .from_tar = tar};
	CHECK_INT(ct_create(&ct, root, &r, &both), -1);
	struct ct_create_opts treeless = {.from_dir = src, .no_trees = 1};
	CHECK_INT(ct_create(&ct, root, &r, &treeless), -1);
	struct ct_create_opts missing = {.from_dir = "/nonexistent-src"};
	CHECK_INT(ct_create(&ct, root, &r, &missing), -1);
	CHECK_INT(ct_exists(root, &r), 0);
	snprintf(file, sizeof(file), "%s/pools/default/ct", root);
	DIR *d = opendir(file);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!CHECK(e->d_name[0] != '.' || !strcmp(e->d_name, ".") ||
			   !strcmp(e->d_name, "..")))
			fprintf(stderr, "    left behind: %s\n", e->d_name);
	if (d)
		closedir(d);
}

struct collected {
	char names[16][CT_REF_MAX + 1];
	int n;
};

static int collect(const struct ct_ref *ref, void *arg)
{
	struct collected *c = arg;
	if (c->n < 16)
		ct_ref_str(ref, c->names[c->n++]);
	return 0;
}

static int stop_at_second(const struct ct_ref *ref, void *arg)
{
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_list_sorted_across_pools(void)
{
	struct ct_ref r;
	struct ct ct;
	struct collected got = {0};
	char junk[4200];
	struct ct_create_opts o = {0};
	make_ref(&r, "apool", "zz");
	CHECK_INT(ct_create(&ct, root, &r, &o), 0);
	ct_close(&ct);
	/* Entries that are not container names are not listed. */
	snprintf(junk, sizeof(junk), "%s/pools/default/ct/Not-A-Name", root);
	CHECK_INT(mkdir(junk, 0700), 0);
	CHECK_INT(ct_list(root, NULL, collect, &got), 0);
	const char *want[] = {"apool:zz", "default:alpha", "default:copied", "default:untarred",
			      "tank:received"};
	CHECK_INT(got.n, 5);
	for (int i = 0; i < got.n && i < 5; i++)
		CHECK_STR(got.names[i], want[i]);
	memset(&got, 0, sizeof(got));
	CHECK_INT(ct_list(root, "tank", collect, &got), 0);
	CHECK_INT(got.n, 1);
	memset(&got, 0, sizeof(got));
	CHECK_INT(ct_list(root, "nopool", collect, &got), 0);
	CHECK_INT(got.n, 0);
	CHECK_INT(ct_list(root, "../x", collect, &got), -1);
	int count = 0;
	CHECK_INT(ct_list(root, NULL, stop_at_second, &count), 42);
	CHECK_INT(ct_list("/nonexistent-root", NULL, collect, &got), 0);
}

static void test_run_record_and_remove(void)
{
	struct ct_ref r;
	struct ct ct;
	struct ct_run run, back;
	struct proc_info me;
	make_ref(&r, NULL, "alpha");
	CHECK_INT(ct_open(&ct, root, &r, CT_LOCK_EXCLUSIVE), 0);
	CHECK_INT(ct_run_load(&ct, &back), 1);
	CHECK_INT(proc_info(getpid(), &me), 0);
	run = (struct ct_run){0, getpid(), me.starttime, 1700000000};
	CHECK_INT(ct_run_save(&ct, &run), 0);
	CHECK_INT(ct_run_load(&ct, &back), 0);
	CHECK(memcmp(&run, &back, sizeof(run)) == 0);
	CHECK_INT(ct_run_alive(&back), 1);
	/* A live record blocks removal. */
	CHECK_INT(ct_remove(&ct), -1);
	CHECK(strstr(err_msg(), "is running") != NULL);
	/* A stale one (same pid, another start time) does not. */
	run.starttime++;
	CHECK_INT(ct_run_save(&ct, &run), 0);
	CHECK_INT(ct_run_alive(&run), 0);

	/* The reserved migration file, and names callers may not write. */
	char *text = NULL;
	CHECK_INT(ct_file_read(&ct, CT_MIGRATION_FILE, 100, &text, NULL), 1);
	CHECK_INT(ct_file_write(&ct, CT_MIGRATION_FILE, "state = staged\n", 15), 0);
	CHECK_INT(ct_file_read(&ct, CT_MIGRATION_FILE, 100, &text, NULL), 0);
	CHECK_STR(text, "state = staged\n");
	free(text);
	CHECK_INT(ct_file_write(&ct, CT_CONFIG_FILE, "x", 1), -1);
	CHECK_INT(ct_file_write(&ct, "../escape", "x", 1), -1);
	CHECK_INT(ct_file_remove(&ct, CT_MIGRATION_FILE), 0);
	CHECK_INT(ct_file_remove(&ct, CT_MIGRATION_FILE), 0);

	CHECK_INT(ct_remove(&ct), 0);
	CHECK_INT(ct.dirfd, -1);
	CHECK_INT(ct_exists(root, &r), 0);
	CHECK_INT(ct_open(&ct, root, &r, CT_LOCK_NONE), -1);
	/* The id is free again. */
	struct ct_create_opts o = {0};
	CHECK_INT(ct_create(&ct, root, &r, &o), 0);
	CHECK_INT(ct_remove(&ct), 0);
}

static void test_stale_staging_is_swept(void)
{
	struct ct_ref r;
	struct ct ct;
	char dir[4200];
	struct ct_create_opts o = {0};
	/* What a crashed create leaves: a staging dir nobody holds a lock on. */
	snprintf(dir, sizeof(dir), "%s/pools/default/ct/.new-crashed-1-0", root);
	CHECK_INT(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/pools/default/ct/.new-crashed-1-0/datasets", root);
	CHECK_INT(mkdir(dir, 0700), 0);
	make_ref(&r, NULL, "next");
	CHECK_INT(ct_create(&ct, root, &r, &o), 0);
	ct_close(&ct);
	snprintf(dir, sizeof(dir), "%s/pools/default/ct/.new-crashed-1-0", root);
	CHECK(!exists(dir));
}

static void test_datasets_add_remove(void)
{
	struct ct_ref r;
	struct ct ct;
	struct ct_config c, loaded;
	char tree[4096];
	make_ref(&r, NULL, "next");
	CHECK_INT(ct_open(&ct, root, &r, CT_LOCK_EXCLUSIVE), 0);
	CHECK_INT(ct_config_load(&ct, &c), 0);
	CHECK_INT(ct_dataset_add(&ct, &c, "logs", "/var/log", 0), 0);
	CHECK_INT(ct_dataset_add(&ct, &c, "logs", "/other", 0), -1);
	CHECK(strstr(err_msg(), "already exists") != NULL);
	CHECK_INT(ct_dataset_add(&ct, &c, "other", "/var/log", 0), -1);
	CHECK_INT(ct_dataset_add(&ct, &c, "/", "/x", 0), -1);
	CHECK_INT(ct_dataset_add(&ct, &c, "a/../b", "/x", 0), -1);
	CHECK_INT(ct_config_load(&ct, &loaded), 0);
	CHECK(memcmp(&c, &loaded, sizeof(c)) == 0);
	CHECK_STR(ct_config_dataset(&loaded, "logs")->mountpoint, "/var/log");
	CHECK(ct_config_dataset(&loaded, "other") == NULL);
	CHECK_INT(ct_dataset_tree(&ct, "logs", tree, sizeof(tree)), 0);
	CHECK(exists(tree));
	CHECK_INT(ct_dataset_remove(&ct, &c, "logs"), 0);
	CHECK(!exists(tree));
	CHECK_INT(ct_dataset_remove(&ct, &c, "logs"), -1);
	CHECK_INT(ct_dataset_remove(&ct, &c, "/"), -1);
	CHECK_INT(ct_config_load(&ct, &loaded), 0);
	CHECK_INT(loaded.n_datasets, 0);
	ct_close(&ct);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_names);
	RUN(test_ref_parse);
	RUN(test_dataset_names_and_mountpoints);
	RUN(test_config_parse_and_format_round_trip);
	RUN(test_config_rejects);
	RUN(test_config_bounds);
	RUN(test_config_set_unset_get);
	RUN(test_create_open_paths);
	RUN(test_create_without_trees_and_staged);
	RUN(test_create_from_dir_and_tar);
	RUN(test_list_sorted_across_pools);
	RUN(test_run_record_and_remove);
	RUN(test_stale_staging_is_swept);
	RUN(test_datasets_add_remove);
	file_remove_tree(AT_FDCWD, root);
	return CHECK_DONE();
}
