/* Node state: the state root and the fixed places beneath it. */
#include "core/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/file.h"

const char *node_root(const char *opt)
{
	if (opt && *opt)
		return opt;
	const char *env = getenv(NODE_ROOT_ENV);
	if (env && *env)
		return env;
	return NODE_ROOT_DEFAULT;
}

int node_path(char *buf, size_t cap, const char *root, const char *rel)
{
	int n = snprintf(buf, cap, "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= cap)
		return err_set("path too long: %s/%s", root, rel);
	return 0;
}

int node_mkdir(const char *root, const char *rel)
{
	char path[4096];
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return err_set_errno("create state root %s", root);
	if (node_path(path, sizeof(path), root, rel) < 0)
		return -1;
	return file_mkdir_p(path, 0700);
}
