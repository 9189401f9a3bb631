/* Unit test of the applet list: sorted for bsearch, and in step with the files in applets/. */
#define CHECK_SUITE "applets"
#include "test/unit/check.h"

#include <dirent.h>

static const char *names[] = {
#define APPLET(name, id, summary) name,
#include "core/applets.h"
#undef APPLET
};
static const char *ids[] = {
#define APPLET(name, id, summary) #id,
#include "core/applets.h"
#undef APPLET
};
#define COUNT (sizeof(names) / sizeof(names[0]))

static void test_sorted(void)
{
	for (size_t i = 1; i < COUNT; i++)
		if (!CHECK(strcmp(names[i - 1], names[i]) < 0))
			fprintf(stderr, "    '%s' must come after '%s'\n", names[i - 1], names[i]);
}

static void test_ids_match_names(void)
{
	for (size_t i = 0; i < COUNT; i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s", names[i]);
		for (char *p = want; *p; p++)
			if (*p == '-')
				*p = '_';
		CHECK_STR(ids[i], want);
	}
}

/* Every list entry has applets/ID.c and every .c file there has an entry. */
static void test_files_match_list(void)
{
	int seen[COUNT] = {0};
	DIR *d = opendir("applets");
	if (!CHECK(d != NULL))
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 3 || strcmp(e->d_name + n - 2, ".c"))
			continue;
		int found = 0;
		for (size_t i = 0; i < COUNT; i++)
			if (strlen(ids[i]) == n - 2 && !strncmp(ids[i], e->d_name, n - 2))
				found = seen[i] = 1;
		if (!CHECK(found))
			fprintf(stderr, "    applets/%s has no line in core/applets.h\n",
				e->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < COUNT; i++)
		if (!CHECK(seen[i]))
			fprintf(stderr,
				"    core/applets.h names '%s' but applets/%s.c is missing\n",
				names[i], ids[i]);
}

int main(void)
{
	RUN(test_sorted);
	RUN(test_ids_match_names);
	RUN(test_files_match_list);
	return CHECK_DONE();
}
