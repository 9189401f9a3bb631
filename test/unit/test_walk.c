/* Unit tests of core/walk: tree order (bytewise, depth first), what is skipped with a warning, depth. */
#define CHECK_SUITE "walk"
#include "test/unit/check.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/walk.h"

static char top[] = "/tmp/ferry-test-walk-XXXXXX";
static struct walk W;
static char warnings[4096];

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	size_t n = strlen(warnings);
	snprintf(warnings + n, sizeof(warnings) - n, "%s\n", msg);
}

static void mk(const char *rel, int dir)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (dir) {
		if (mkdir(p, 0755) < 0)
			abort();
	} else if (file_write_atomic_path(p, "x", 1, 0644) < 0) {
		abort();
	}
}

/*
 * Walks ROOT and writes one line per event into OUT: "E depth path" or
 * "L depth path" (newlines in names shown as '|'). Returns walk_next's last result.
 */
static int walk_all(const char *root, char *out, size_t cap)
{
	struct walk_item it;
	int r;
	out[0] = 0;
	warnings[0] = 0;
	if (walk_open(&W, root, on_warn, NULL) < 0)
		return -1;
	while ((r = walk_next(&W, &it)) == 1) {
		size_t n = strlen(out);
		char path[600];
		snprintf(path, sizeof(path), "%s", it.path);
		for (char *c = path; *c; c++)
			if (*c == '\n')
				*c = '|';
		snprintf(out + n, cap - n, "%c %u %s\n", it.event == WALK_ENTRY ? 'E' : 'L',
			 it.depth, path);
		if (it.event == WALK_ENTRY) {
			/* DIRFD/NAME is the entry, ST its lstat, and a directory comes with its fd */
			struct stat st;
			if (!CHECK(fstatat(it.dirfd, it.depth ? it.name : ".", &st,
					   AT_SYMLINK_NOFOLLOW) == 0 &&
				   st.st_ino == it.st.st_ino))
				fprintf(stderr, "    %s\n", it.path);
			CHECK(S_ISDIR(it.st.st_mode) ? it.fd >= 0 : it.fd == -1);
			CHECK_INT(it.path_len, strlen(it.path));
			CHECK_INT(it.name_len, strlen(it.name));
		}
	}
	walk_close(&W);
	return r;
}

static void test_sorted_order(void)
{
	char root[300], out[4096];
	snprintf(root, sizeof(root), "%s/order", top);
	mkdir(root, 0755);
	static const char *const files[] = {
		"order/b",   "order/a",		"order/-dash", "order/--double", "order/A",
		"order/a b", "order/\xe9t\xe9", "order/\xff",  "order/nl\nname", "order/a-",
		"order/a.b", "order/\x01",	"order/~"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		mk(files[i], 0);
	mk("order/a0", 1);
	mk("order/a0/z", 0);
	mk("order/a0/y", 1);
	mk("order/a0/y/deep", 0);
	mk("order/a0/-x", 0);
	mk("order/empty", 1);
	CHECK_INT(walk_all(root, out, sizeof(out)), 0);
	CHECK_STR(out, "E 0 \n"
		       "E 1 \x01\n"
		       "E 1 --double\n"
		       "E 1 -dash\n"
		       "E 1 A\n"
		       "E 1 a\n"
		       "E 1 a b\n"
		       "E 1 a-\n"
		       "E 1 a.b\n"
		       "E 1 a0\n"
		       "E 2 a0/-x\n"
		       "E 2 a0/y\n"
		       "E 3 a0/y/deep\n"
		       "L 2 a0/y\n"
		       "E 2 a0/z\n"
		       "L 1 a0\n"
		       "E 1 b\n"
		       "E 1 empty\n"
		       "L 1 empty\n"
		       "E 1 nl|name\n"
		       "E 1 ~\n"
		       "E 1 \xe9t\xe9\n"
		       "E 1 \xff\n"
		       "L 0 \n");
	CHECK_STR(warnings, "");
	/* the same order as the stream's tree order */
	CHECK(stream_path_cmp("a0/z", "a0-") < 0 && stream_path_cmp("~", "\xe9t\xe9") < 0);
}

static void test_symlinks_not_followed(void)
{
	char root[300], p[400], out[1024];
	snprintf(root, sizeof(root), "%s/links", top);
	mkdir(root, 0755);
	mk("links/d", 1);
	mk("links/d/inside", 0);
	snprintf(p, sizeof(p), "%s/links/to-d", top);
	CHECK_INT(symlink("d", p), 0);
	snprintf(p, sizeof(p), "%s/links/to-root", top);
	CHECK_INT(symlink("/", p), 0);
	CHECK_INT(walk_all(root, out, sizeof(out)), 0);
	CHECK_STR(out, "E 0 \nE 1 d\nE 2 d/inside\nL 1 d\nE 1 to-d\nE 1 to-root\nL 0 \n");
	/* the root itself may be given through a symlink */
	snprintf(p, sizeof(p), "%s/links-alias", top);
	CHECK_INT(symlink("links/d", p), 0);
	CHECK_INT(walk_all(p, out, sizeof(out)), 0);
	CHECK_STR(out, "E 0 \nE 1 inside\nL 0 \n");
	/* a root that is not a directory */
	snprintf(p, sizeof(p), "%s/links/d/inside", top);
	CHECK_INT(walk_open(&W, p, NULL, NULL), -1);
	CHECK(strstr(err_msg(), "Not a directory") != NULL);
}

static void test_socket_skipped(void)
{
	char root[300], out[1024];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(root, sizeof(root), "%s/sock", top);
	mkdir(root, 0755);
	mk("sock/a", 0);
	mk("sock/z", 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/sock/m.sock", top);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK_INT(walk_all(root, out, sizeof(out)), 0);
	CHECK_STR(out, "E 0 \nE 1 a\nE 1 z\nL 0 \n");
	CHECK_STR(warnings, "/m.sock: socket skipped\n");
	CHECK_INT(W.skipped, 1);
	close(s);
}

static void test_mount_point_skipped(void)
{
	char root[300], mnt[300], out[1024];
	snprintf(root, sizeof(root), "%s/mnt", top);
	mkdir(root, 0755);
	mk("mnt/keep", 0);
	mk("mnt/m", 1);
	snprintf(mnt, sizeof(mnt), "%s/mnt/m", top);
	if (mount("none", mnt, "tmpfs", 0, "size=1m") < 0) {
		printf("SKIP walk:test_mount_point_skipped: cannot mount tmpfs here\n");
		return;
	}
	mk("mnt/m/hidden", 0);
	CHECK_INT(walk_all(root, out, sizeof(out)), 0);
	CHECK_STR(out, "E 0 \nE 1 keep\nL 0 \n");
	CHECK_STR(warnings, "/m: on another file system (mount point), skipped\n");
	/* walking the mount itself is fine: its own file system */
	CHECK_INT(walk_all(mnt, out, sizeof(out)), 0);
	CHECK_STR(out, "E 0 \nE 1 hidden\nL 0 \n");
	CHECK_INT(umount(mnt), 0);
}

static void test_depth(void)
{
	static char path[2048], out[1 << 20];
	char root[300];
	snprintf(root, sizeof(root), "%s/deep", top);
	mkdir(root, 0755);
	/* 255 directories below the root: 256 open at once, the limit */
	size_t n = (size_t)snprintf(path, sizeof(path), "%s", root);
	for (int i = 1; i < STREAM_DEPTH_MAX; i++) {
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/d");
		CHECK_INT(mkdir(path, 0755), 0);
	}
	CHECK_INT(walk_all(root, out, sizeof(out)), 0);
	/* the deepest entry reports its depth; every LEAVE comes back up */
	char want[64];
	snprintf(want, sizeof(want), "E %d d/d/d", STREAM_DEPTH_MAX - 1);
	CHECK(strstr(out, want) != NULL);
	size_t enters = 0, leaves = 0;
	for (char *c = out; (c = strchr(c, '\n')); c++) {
		enters += c[1] == 'E';
		leaves += c[1] == 'L';
	}
	CHECK_INT(enters + (out[0] == 'E'), STREAM_DEPTH_MAX);
	CHECK_INT(leaves, STREAM_DEPTH_MAX);
	/* one more is refused, naming where */
	snprintf(path + n, sizeof(path) - n, "/d");
	CHECK_INT(mkdir(path, 0755), 0);
	CHECK_INT(walk_all(root, out, sizeof(out)), -1);
	if (!CHECK(strstr(err_msg(), "directories nested deeper than 256") != NULL))
		fprintf(stderr, "    %.300s\n", err_msg());
}

static void test_path_too_long(void)
{
	static char name[256], out[1 << 16];
	char root[300];
	snprintf(root, sizeof(root), "%s/long", top);
	mkdir(root, 0755);
	memset(name, 'n', 255);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	/* 16 names of 255 bytes: a 4095-byte path, the longest there is */
	for (int i = 0; i < 16; i++) {
		CHECK_INT(mkdirat(fd, name, 0755), 0);
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	CHECK_INT(walk_all(root, out, sizeof(out)), 0);
	CHECK_INT(mkdirat(fd, "x", 0755), 0);
	CHECK_INT(walk_all(root, out, sizeof(out)), -1);
	CHECK(strstr(err_msg(), "... is longer than 4095 bytes") != NULL);
	/* remove it one level at a time (too long for one path) */
	unlinkat(fd, "x", AT_REMOVEDIR);
	close(fd);
	for (int i = 16; i > 0; i--) {
		char rel[16 * 256];
		size_t n = 0;
		for (int j = 0; j < i - 1; j++)
			n += (size_t)snprintf(rel + n, sizeof(rel) - n, "%s/", name);
		snprintf(rel + n, sizeof(rel) - n, "%s", name);
		int d = open(root, O_RDONLY | O_DIRECTORY);
		CHECK_INT(unlinkat(d, rel, AT_REMOVEDIR), 0);
		close(d);
	}
}

int main(void)
{
	if (!mkdtemp(top))
		return 1;
	RUN(test_sorted_order);
	RUN(test_symlinks_not_followed);
	RUN(test_socket_skipped);
	RUN(test_mount_point_skipped);
	RUN(test_depth);
	RUN(test_path_too_long);
	file_remove_tree(AT_FDCWD, top);
	return CHECK_DONE();
}
