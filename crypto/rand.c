/* Cryptographic randomness: getrandom(2) seeding a per-thread BearSSL HMAC-DRBG, reseeded after fork. */
#include "crypto/rand.h"

#include <bearssl.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/err.h"

#define RAND_SEED_LEN 48

static _Thread_local br_hmac_drbg_context drbg;
static _Thread_local pid_t drbg_pid; /* 0: not seeded; else the pid that seeded it */

/* getrandom via syscall(2), so an old libc without the wrapper still works. */
static int kernel_random(void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		long r = syscall(SYS_getrandom, (char *)buf + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOSYS)
				return err_set("getrandom: not supported by this kernel; "
					       "ferry needs Linux 3.17 or later for key material");
			return err_set_errno("getrandom");
		}
		done += (size_t)r;
	}
	return 0;
}

static int ensure_seeded(void)
{
	pid_t pid = getpid();
	if (drbg_pid == pid)
		return 0;
	unsigned char seed[RAND_SEED_LEN];
	if (kernel_random(seed, sizeof(seed)) < 0)
		return -1;
	br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof(seed));
	memset(seed, 0, sizeof(seed));
	__asm__ __volatile__("" : : "r"(seed) : "memory"); /* keep the wipe */
	drbg_pid = pid;
	return 0;
}

int rand_bytes(void *buf, size_t n)
{
	if (ensure_seeded() < 0)
		return -1;
	br_hmac_drbg_generate(&drbg, buf, n);
	return 0;
}

const void *rand_prng(void)
{
	if (ensure_seeded() < 0)
		return NULL;
	return &drbg.vtable;
}
