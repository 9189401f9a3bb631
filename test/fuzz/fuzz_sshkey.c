/* Fuzzes the public key parsers (line and blob), the Dropbear and PEM private key readers of crypto/sshkey. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/sshkey.h"

static struct sshkey_pub key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char fp[SSHKEY_FP_SIZE], line[SSHKEY_LINE_MAX + 1];
	if (sshkey_parse_line(&key, (const char *)data, size) == 0) {
		/* What parses formats back and parses again to the same key. */
		sshkey_fingerprint(&key, fp);
		static struct sshkey_pub again;
		if (sshkey_format_line(&key, line, sizeof(line)) < 0 ||
		    sshkey_parse_line(&again, line, strlen(line)) < 0 || !sshkey_same(&key, &again))
			__builtin_trap();
	}
	if (sshkey_parse_blob(&key, data, size) == 0)
		sshkey_fingerprint(&key, fp);
	sshkey_dropbear_public(&key, data, size);
	sshkey_pem_public(&key, (const char *)data, size);
	return 0;
}
