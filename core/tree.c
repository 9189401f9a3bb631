/* The per-tree state directory and path helpers shared by tree send and receive. */
#include "core/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/xxh64.h"

int tree_abs_path(const char *path, char *buf, size_t cap)
{
	char dir[PATH_MAX], real[PATH_MAX];
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(dir))
		return err_set("bad path '%s'", path);
	memcpy(dir, path, n);
	dir[n] = 0;
	char *slash = strrchr(dir, '/');
	const char *base;
	if (!slash) {
		base = path;
		strcpy(real, ".");
	} else {
		*slash = 0;
		base = slash + 1;
		snprintf(real, sizeof(real), "%s", slash == dir ? "/" : dir);
	}
	char base_copy[NAME_MAX + 1];
	size_t bl = strlen(base);
	if (bl > NAME_MAX)
		return err_set("%s: name too long", path);
	memcpy(base_copy, base, bl);
	base_copy[bl] = 0;
	if (slash == NULL && n < bl)
		base_copy[n] = 0;
	if (!strcmp(base_copy, ".") || !strcmp(base_copy, ".."))
		return err_set("%s: name the directory itself, not . or ..", path);
	char parent[PATH_MAX];
	if (!realpath(real, parent))
		return err_set_errno("%s", real);
	int r = snprintf(buf, cap, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", base_copy);
	if (r < 0 || (size_t)r >= cap)
		return err_set("%s: path too long", path);
	return 0;
}

int tree_state_default(char *buf, size_t cap, const char *root, const char *tree)
{
	char abs[PATH_MAX];
	if (tree_abs_path(tree, abs, sizeof(abs)) < 0)
		return -1;
	int r = snprintf(buf, cap, "%s/%s/%016llx", root, TREE_STATES_DIR,
			 (unsigned long long)xxh64(abs, strlen(abs), 0));
	if (r < 0 || (size_t)r >= cap)
		return err_set("state directory path too long");
	return 0;
}

int tree_state_open(const char *state_dir, int *lock_fd)
{
	if (file_mkdir_p(state_dir, 0700) < 0)
		return err_prefix("state directory");
	int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno("state directory %s", state_dir);
	*lock_fd = file_lock(fd, TREE_LOCK_FILE, LOCK_EX | LOCK_NB);
	if (*lock_fd < 0) {
		close(fd);
		return err_prefix("state directory %s", state_dir);
	}
	return fd;
}
