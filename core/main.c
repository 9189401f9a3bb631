/* Dispatch: one binary, many applets, chosen by the name it was called by or by its first argument. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/opt.h"

#define APPLET(name, id, summary) int id##_main(int argc, char **argv);
#include "core/applets.h"
#undef APPLET

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static const struct applet applets[] = {
#define APPLET(name, id, summary) {name, id##_main, summary},
#include "core/applets.h"
#undef APPLET
};
#define APPLET_COUNT (sizeof(applets) / sizeof(applets[0]))

static const char usage[] =
	"usage: ferry APPLET [ARGS...]\n"
	"       ferry --list | --install DIR | --help\n"
	"\n"
	"ferry moves containers between nodes over SSH and instances between\n"
	"clusters over HTTPS. It is one static binary: call it as `ferry APPLET`\n"
	"or through a symlink named after the applet.\n"
	"\n"
	"  --list         print the applet names, one per line\n"
	"  --install DIR  create a symlink to ferry in DIR for every applet\n"
	"  --help         this text\n"
	"\n"
	"Every applet answers --help. Exit status: 0 success, 1 failure, 2 usage error.\n"
	"\n"
	"Applets:\n";

static int applet_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct applet *)elem)->name);
}

static const struct applet *applet_find(const char *name)
{
	return bsearch(name, applets, APPLET_COUNT, sizeof(applets[0]), applet_cmp);
}

static void print_usage(FILE *f)
{
	fputs(usage, f);
	for (size_t i = 0; i < APPLET_COUNT; i++)
		fprintf(f, "  %-16s %s\n", applets[i].name, applets[i].summary);
}

/* 1 if PATH is a symlink that resolves to the running ferry binary. */
static int links_to_self(const char *path, const struct stat *self)
{
	struct stat lst, st;
	if (lstat(path, &lst) < 0 || !S_ISLNK(lst.st_mode))
		return 0;
	if (stat(path, &st) < 0)
		return 0;
	return st.st_dev == self->st_dev && st.st_ino == self->st_ino;
}

static int install_links(const char *dir)
{
	char self[PATH_MAX], path[PATH_MAX];
	struct stat self_st;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		die_errno("--install: cannot find the ferry binary (/proc/self/exe)");
	self[n] = 0;
	if (stat(self, &self_st) < 0)
		die_errno("--install: %s", self);
	int failed = 0;
	for (size_t i = 0; i < APPLET_COUNT; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, applets[i].name) >=
		    (int)sizeof(path))
			die("--install: %s: path too long", dir);
		if (links_to_self(path, &self_st))
			continue;
		if (symlink(self, path) == 0)
			continue;
		if (errno == EEXIST)
			warn("--install: %s exists and is not a link to ferry: left alone", path);
		else
			warn_errno("--install: %s", path);
		failed = 1;
	}
	return failed ? EXIT_FAIL : EXIT_OK;
}

static int ferry_main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stdout);
		return EXIT_OK;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		print_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--list")) {
		for (size_t i = 0; i < APPLET_COUNT; i++)
			puts(applets[i].name);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--install")) {
		if (argc != 3)
			die_usage(usage, "--install needs exactly one directory");
		return install_links(argv[2]);
	}
	if (cmd[0] == '-')
		die_usage(usage, "unknown option %s", cmd);
	const struct applet *a = applet_find(cmd);
	if (!a)
		die_usage(usage, "unknown applet '%s' (see 'ferry --list')", cmd);
	err_set_applet(a->name);
	return a->main(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	/* A closed pipe is an error return (EPIPE), reported quietly, not a signal death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 1 || !argv[0])
		return ferry_main(0, NULL);
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	const struct applet *a = applet_find(base);
	if (a) {
		err_set_applet(a->name);
		return a->main(argc, argv);
	}
	return ferry_main(argc, argv);
}
