/* Fuzzes the parsers of untrusted certificate text: DER certificates, PEM, signed PEM, keys, domain secrets. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sign.h"
#include "crypto/tls.h"
#include "crypto/x509.h"

/* The first byte picks the parser; the rest is its input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t der[X509_CERT_DER_MAX];
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 6;
	const char *text = (const char *)data + 1;
	size_t len = size - 1, pos = 0, n;
	char label[X509_PEM_LABEL_MAX + 1];
	switch (mode) {
	case 0: {
		struct x509_cert_info info;
		if (x509_cert_parse(data + 1, len, &info) == 0)
			x509_cert_check_time(&info, 1700000000);
		break;
	}
	case 1:
		while (x509_pem_next(text, len, &pos, label, der, sizeof(der), &n) == 1)
			;
		break;
	case 2: {
		struct sign_secret s;
		char salt[SIGN_SALT_MAX + 1];
		sign_secret_parse(&s, "0123456789abcdef0123456789abcdef01234567", 40);
		sign_cert_verify(&s, text, len, der, sizeof(der), &n, salt);
		break;
	}
	case 3: {
		struct x509_key key;
		if (x509_key_from_pem(&key, text, len) == 0)
			x509_cert_matches_key(der, 0, &key);
		break;
	}
	case 4: {
		struct sign_secret s;
		sign_secret_parse(&s, text, len);
		break;
	}
	case 5: {
		struct tls_trust *t;
		if (tls_trust_from_pem(&t, text, len) == 0)
			tls_trust_free(t);
		break;
	}
	}
	return 0;
}
