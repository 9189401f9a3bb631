/* The node's cluster crypto files: domain secret and API key + certificate in ROOT/conf/cluster (docs/cluster-crypto.md). */
#ifndef FERRY_KEYRING_H
#define FERRY_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "crypto/x509.h"

/* File names inside NODE_CLUSTER_DIR. */
#define KEYRING_SECRET_FILE "domain-secret" /* the secret's line + "\n", mode 0600 */
#define KEYRING_RAPI_FILE   "rapi.pem"	    /* private key PEM + certificate PEM, mode 0600 */
#define KEYRING_LOCK_FILE   ".lock"	    /* flock'd while files are replaced */

/* Lifetime of a generated API certificate: 5 years. */
#define KEYRING_RAPI_LIFETIME_SECONDS (5u * 365 * 86400)
/* Largest rapi.pem (or --rapi-certificate file) read. */
#define KEYRING_RAPI_FILE_MAX (64 * 1024)

/* Returned (with err_set) by the load functions when the file does not exist. */
#define KEYRING_MISSING (-2)

/* ROOT/conf/cluster/NAME into BUF (CAP bytes). 0 or -1. */
int keyring_path(char *buf, size_t cap, const char *root, const char *name);

/*
 * Loads ROOT's domain secret (sign_secret_load rules). 0, KEYRING_MISSING
 * (message suggests `ferry renew-crypto --new-cluster-domain-secret`), or
 * -1 with err_set.
 */
int keyring_secret_load(const char *root, struct sign_secret *s);
/*
 * Writes S's key line + "\n" as ROOT's domain secret: atomically, mode
 * 0600, under the keyring lock. An existing secret is replaced only with
 * FORCE (else -1, "... exists; use -f to replace it"). Creates the
 * directories as needed. 0 or -1.
 */
int keyring_secret_store(const char *root, const struct sign_secret *s, int force);

/*
 * A fresh API identity (X509_KEY_EC P-256 or X509_KEY_RSA 2048), valid
 * KEYRING_RAPI_LIFETIME_SECONDS: x509_identity_generate with NAMES, or, when
 * NAMES is NULL or empty, this host's name, "localhost", "127.0.0.1" and
 * "::1". 0 or -1.
 */
int keyring_rapi_generate(struct x509_identity *id, enum x509_key_type type,
			  const char *const *names);
/* Loads ROOT's rapi.pem (x509_identity_from_pem). 0, KEYRING_MISSING or -1. */
int keyring_rapi_load(const char *root, struct x509_identity *id);
/* Writes ID as ROOT's rapi.pem (key PEM, certificate PEM): like keyring_secret_store. 0 or -1. */
int keyring_rapi_store(const char *root, const struct x509_identity *id, int force);
/*
 * For the API server's first start: loads rapi.pem, or generates an EC one
 * with the default names and stores it if there is none (*CREATED = 1).
 * 0 or -1.
 */
int keyring_rapi_ensure(const char *root, struct x509_identity *id, int *created);

#endif
