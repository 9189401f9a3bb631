/* Fuzzes the allowed-keys registry parser of core/authkeys and the restriction checks on what it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/authkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authkeys list;
	if (authkeys_parse(&list, (const char *)data, size) < 0)
		return 0;
	/* What parses formats to text that parses and formats to the same text again. */
	char *text, *text2;
	size_t len, len2;
	struct authkeys again;
	if (authkeys_format(&list, &text, &len) < 0 || authkeys_parse(&again, text, len) < 0 ||
	    authkeys_format(&again, &text2, &len2) < 0 || again.count != list.count ||
	    len2 != len || memcmp(text, text2, len))
		__builtin_trap();
	free(text);
	free(text2);
	authkeys_free(&again);
	for (size_t i = 0; i < list.count; i++) {
		authkey_allows_ctid(&list.keys[i], "pool", "web1");
		authkey_allows_client(&list.keys[i], "10.0.0.1 1 2 3");
	}
	if (authkeys_format_sshd(&list, "/usr/bin/ferry", "/var/lib/ferry", &text, &len) == 0)
		free(text);
	authkeys_free(&list);
	return 0;
}
