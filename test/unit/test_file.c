/* Unit tests of core/file: atomic replacement, bounded reads, locks, safe tree removal. */
#define CHECK_SUITE "file"
#include "test/unit/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"

static char dir[] = "/tmp/ferry-test-file-XXXXXX";
static int dfd = -1;

static int count_entries(int fd)
{
	int n = 0;
	int d2 = dup(fd);
	DIR *d = fdopendir(d2);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_write_atomic_replaces_and_sets_mode(void)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	CHECK_INT(file_write_atomic(dfd, "conf", "one\n", 4, 0600), 0);
	CHECK_INT(file_write_atomic(dfd, "conf", "second\n", 7, 0640), 0);
	CHECK_INT(file_read_all(dfd, "conf", 100, &buf, &len), 0);
	CHECK_STR(buf, "second\n");
	CHECK_INT(len, 7);
	free(buf);
	CHECK_INT(fstatat(dfd, "conf", &st, 0), 0);
	CHECK_INT(st.st_mode & 07777, 0640);
	CHECK_INT(count_entries(dfd), 1); /* no temporary left behind */
}

static void test_write_atomic_rejects_bad_names(void)
{
	CHECK_INT(file_write_atomic(dfd, "../escape", "x", 1, 0600), -1);
	CHECK_INT(file_write_atomic(dfd, "", "x", 1, 0600), -1);
	CHECK_INT(file_write_atomic(dfd, "..", "x", 1, 0600), -1);
	CHECK(strstr(err_msg(), "bad file name") != NULL);
}

static void test_write_atomic_path(void)
{
	char path[256], *buf = NULL;
	snprintf(path, sizeof(path), "%s/bypath", dir);
	CHECK_INT(file_write_atomic_path(path, "abc", 3, 0644), 0);
	CHECK_INT(file_read_all(dfd, "bypath", 3, &buf, NULL), 0);
	CHECK_STR(buf, "abc");
	free(buf);
	snprintf(path, sizeof(path), "%s/missing/x", dir);
	CHECK_INT(file_write_atomic_path(path, "abc", 3, 0644), -1);
}

static void test_read_all_bounds_and_symlinks(void)
{
	char *buf = NULL;
	CHECK_INT(file_write_atomic(dfd, "big", "0123456789", 10, 0600), 0);
	CHECK_INT(file_read_all(dfd, "big", 9, &buf, NULL), -1);
	CHECK(strstr(err_msg(), "larger than 9 bytes") != NULL);
	CHECK_INT(symlinkat("big", dfd, "link"), 0);
	CHECK_INT(file_read_all(dfd, "link", 100, &buf, NULL), -1); /* never through a symlink */
	CHECK_INT(mkdirat(dfd, "adir", 0700), 0);
	CHECK_INT(file_read_all(dfd, "adir", 100, &buf, NULL), -1);
	CHECK_INT(file_read_all(dfd, "absent", 100, &buf, NULL), -1);
	CHECK(strstr(err_msg(), "No such file") != NULL);
}

static void test_lock_excludes(void)
{
	int a = file_lock(dfd, "lock", LOCK_EX);
	CHECK(a >= 0);
	int b = file_lock(dfd, "lock", LOCK_EX | LOCK_NB);
	CHECK_INT(b, -1);
	CHECK(strstr(err_msg(), "locked by another") != NULL);
	close(a);
	b = file_lock(dfd, "lock", LOCK_EX | LOCK_NB);
	CHECK(b >= 0);
	close(b);
}

static void test_mkdir_p(void)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	CHECK_INT(file_mkdir_p(path, 0700), 0);
	CHECK_INT(file_mkdir_p(path, 0700), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/big/x", dir); /* "big" is a file */
	CHECK_INT(file_mkdir_p(path, 0700), -1);
}

/* Removing a tree with a symlink to an outside directory removes the link, not its target. */
static void test_remove_tree_does_not_follow_symlinks(void)
{
	char outside[256], path[256];
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	CHECK_INT(mkdir(outside, 0700), 0);
	snprintf(path, sizeof(path), "%s/outside/keep", dir);
	CHECK_INT(file_write_atomic_path(path, "k", 1, 0600), 0);

	CHECK_INT(mkdirat(dfd, "victim", 0700), 0);
	CHECK_INT(mkdirat(dfd, "victim/sub", 0700), 0);
	CHECK_INT(mkdirat(dfd, "victim/sub/deeper", 0), 0); /* mode 0: still removable by root */
	CHECK_INT(symlinkat(outside, dfd, "victim/sub/to-outside"), 0);
	int sub = openat(dfd, "victim/sub", O_RDONLY | O_DIRECTORY);
	CHECK_INT(file_write_atomic(sub, "f", "x", 1, 0600), 0);
	close(sub);
	CHECK_INT(file_remove_tree(dfd, "victim"), 0);
	CHECK_INT(faccessat(dfd, "victim", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	CHECK_INT(access(path, F_OK), 0);
	CHECK_INT(file_remove_tree(dfd, "victim"), 0); /* already gone: fine */
}

static void test_name_ok(void)
{
	CHECK(file_name_ok("a"));
	CHECK(file_name_ok(".hidden"));
	CHECK(file_name_ok("..."));
	CHECK(!file_name_ok(""));
	CHECK(!file_name_ok("."));
	CHECK(!file_name_ok(".."));
	CHECK(!file_name_ok("a/b"));
	CHECK(!file_name_ok(NULL));
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	RUN(test_write_atomic_replaces_and_sets_mode);
	RUN(test_write_atomic_rejects_bad_names);
	RUN(test_write_atomic_path);
	RUN(test_read_all_bounds_and_symlinks);
	RUN(test_lock_excludes);
	RUN(test_mkdir_p);
	RUN(test_remove_tree_does_not_follow_symlinks);
	RUN(test_name_ok);
	int r = file_remove_tree(AT_FDCWD, dir);
	CHECK_INT(r, 0);
	return CHECK_DONE();
}
