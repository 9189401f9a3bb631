/* Unit tests of core/node: where the state root is, paths beneath it, and its directories' modes. */
#define CHECK_SUITE "node"
#include "test/unit/check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/node.h"

static void test_root_resolution(void)
{
	unsetenv(NODE_ROOT_ENV);
	CHECK_STR(node_root(NULL), "/var/lib/ferry");
	CHECK_STR(node_root(""), "/var/lib/ferry");
	setenv(NODE_ROOT_ENV, "", 1);
	CHECK_STR(node_root(NULL), "/var/lib/ferry"); /* empty means unset */
	setenv(NODE_ROOT_ENV, "/srv/ferry", 1);
	CHECK_STR(node_root(NULL), "/srv/ferry");
	CHECK_STR(node_root("/opt/root"), "/opt/root"); /* --root wins */
	unsetenv(NODE_ROOT_ENV);
}

static void test_path(void)
{
	char buf[32];
	CHECK_INT(node_path(buf, sizeof(buf), "/r", NODE_POOLS_DIR), 0);
	CHECK_STR(buf, "/r/pools");
	CHECK_INT(node_path(buf, 8, "/r", NODE_POOLS_DIR), -1);
	CHECK(strstr(err_msg(), "path too long") != NULL);
}

static void test_mkdir_modes(void)
{
	char root[] = "/tmp/ferry-test-node-XXXXXX", sub[64], path[128];
	struct stat st;
	CHECK(mkdtemp(root) != NULL);
	snprintf(sub, sizeof(sub), "%s/state", root);
	mode_t old = umask(077);
	CHECK_INT(node_mkdir(sub, NODE_MIGRATION_DIR), 0);
	umask(old);
	CHECK(stat(sub, &st) == 0 && (st.st_mode & 07777) == 0755 - (0755 & 077));
	snprintf(path, sizeof(path), "%s/%s", sub, NODE_MIGRATION_DIR);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 077) == 0);
	CHECK_INT(node_mkdir(sub, NODE_MIGRATION_DIR), 0); /* existing is fine */
	snprintf(path, sizeof(path), "%s/file", sub);
	CHECK_INT(file_write_atomic_path(path, "x", 1, 0600), 0);
	CHECK_INT(node_mkdir(sub, "file/below"), -1);
	file_remove_tree(AT_FDCWD, root);
}

int main(void)
{
	RUN(test_root_resolution);
	RUN(test_path);
	RUN(test_mkdir_modes);
	return CHECK_DONE();
}
