/* Fuzz target: the API users file parser and the password check over what it accepted. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rapiusers.h"

/* Parse; an accepted file must answer checks; a cleartext "u p" first line must let u in with p. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rapiusers *u = NULL;
	if (rapiusers_parse(&u, (const char *)data, size) != 0) {
		if (u)
			abort();
		return 0;
	}
	char user[64] = "", pass[64] = "";
	size_t i = 0, k = 0;
	while (i < size && k < sizeof(user) - 1 && isalnum(data[i]))
		user[k++] = (char)data[i++];
	user[k] = 0;
	rapiusers_check(u, user, "");
	rapiusers_check(u, user, user);
	if (i < size && data[i] == ' ') {
		i++;
		k = 0;
		while (i < size && k < sizeof(pass) - 1 && isalnum(data[i]))
			pass[k++] = (char)data[i++];
		pass[k] = 0;
		/* "name pw" alone on the first line (alphanumeric): the same text logs in */
		if (user[0] && pass[0] && (i == size || data[i] == '\n') &&
		    rapiusers_check(u, user, pass) == RAPIUSERS_DENIED)
			abort();
	}
	rapiusers_free(u);
	return 0;
}
