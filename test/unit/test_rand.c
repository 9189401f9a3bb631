/* Unit tests of crypto/rand: output that is not constant, and differs between parent and forked child. */
#define CHECK_SUITE "rand"
#include "test/unit/check.h"

#include <sys/wait.h>
#include <unistd.h>

#include "crypto/rand.h"

static void test_bytes_vary(void)
{
	unsigned char a[32], b[32], zero[32] = {0};
	CHECK_INT(rand_bytes(a, sizeof(a)), 0);
	CHECK_INT(rand_bytes(b, sizeof(b)), 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK(rand_prng() != NULL);
}

/* A forked child must not repeat the parent's stream (the DRBG is reseeded). */
static void test_fork_reseeds(void)
{
	unsigned char warm[8], parent[32], child[32];
	int p[2];
	CHECK_INT(rand_bytes(warm, sizeof(warm)), 0);
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		rand_bytes(child, sizeof(child));
		_exit(write(p[1], child, sizeof(child)) == sizeof(child) ? 0 : 1);
	}
	CHECK_INT(rand_bytes(parent, sizeof(parent)), 0);
	CHECK_INT(read(p[0], child, sizeof(child)), sizeof(child));
	int status;
	waitpid(pid, &status, 0);
	CHECK(memcmp(parent, child, sizeof(parent)) != 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	RUN(test_bytes_vary);
	RUN(test_fork_reseeds);
	return CHECK_DONE();
}
