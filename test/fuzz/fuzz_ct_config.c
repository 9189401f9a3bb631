/* Fuzz target: the container config parser (text from migration peers) and the name checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct.h"

/* 1 if NAME, accepted as a dataset name, could still escape: absolute, empty or dot components. */
static int dataset_escapes(const char *name)
{
	if (!strcmp(name, "/"))
		return 0;
	if (name[0] == '/' || strstr(name, "//") || name[strlen(name) - 1] == '/')
		return 1;
	for (const char *p = name; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (p[0] == '.' || !strncmp(p, "..", 2))
			return 1;
	return 0;
}

/* Parse; whatever parses must format, and the formatted text must parse back to the same config. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ct_config c, d;
	static char text[CT_CONFIG_MAX], again[CT_CONFIG_MAX];
	size_t len, len2;
	if (ct_config_parse(&c, data, size) == 0) {
		if (ct_config_format(&c, text, sizeof(text), &len) != 0)
			abort();
		if (ct_config_parse(&d, text, len) != 0 || memcmp(&c, &d, sizeof(c)) != 0)
			abort();
		if (ct_config_format(&d, again, sizeof(again), &len2) != 0 || len != len2 ||
		    memcmp(text, again, len) != 0)
			abort();
	}
	/* The same bytes as a name, a [pool:]id and a dataset name. */
	char name[512];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = 0;
	struct ct_ref ref;
	if (ct_ref_parse(&ref, name) == 0 && (!ct_name_ok(ref.pool) || !ct_name_ok(ref.id)))
		abort();
	if (ct_dataset_name_check(name) == 0 && dataset_escapes(name))
		abort();
	ct_mountpoint_check(name);
	return 0;
}
