/* Unit tests of core/err: per-thread messages, prefixes, and printable renderings of peer bytes. */
#define CHECK_SUITE "err"
#include "test/unit/check.h"

#include <errno.h>
#include <pthread.h>

#include "core/err.h"

static void test_set_and_prefix(void)
{
	CHECK_INT(err_set("bad %s", "thing"), -1);
	CHECK_STR(err_msg(), "bad thing");
	CHECK_INT(err_prefix("file %d", 7), -1);
	CHECK_STR(err_msg(), "file 7: bad thing");
	errno = ENOENT;
	CHECK_INT(err_set_errno("open %s", "x"), -1);
	CHECK_STR(err_msg(), "open x: No such file or directory");
	CHECK_INT(errno, ENOENT); /* kept for the caller */
}

static void *other_thread(void *arg)
{
	err_set("from the other thread");
	return (void *)err_msg();
}

static void test_messages_are_per_thread(void)
{
	err_set("mine");
	pthread_t t;
	void *theirs;
	pthread_create(&t, NULL, other_thread, NULL);
	pthread_join(t, &theirs);
	CHECK_STR(err_msg(), "mine");
}

static void test_printable(void)
{
	char buf[16];
	CHECK_STR(err_printable(buf, sizeof(buf), "plain", 5), "plain");
	CHECK_STR(err_printable(buf, sizeof(buf), "a\x1b[2J\n\xff", 7), "a?[2J??");
	CHECK_STR(err_printable(buf, sizeof(buf), "a\0b", 3), "a?b");
	CHECK_STR(err_printable(buf, sizeof(buf), "0123456789abcdefghij", 20), "0123456789ab...");
	CHECK_STR(err_printable(buf, sizeof(buf), "0123456789abcde", 15), "0123456789abcde");
	CHECK_STR(err_printable(buf, sizeof(buf), "", 0), "");
}

int main(void)
{
	RUN(test_set_and_prefix);
	RUN(test_messages_are_per_thread);
	RUN(test_printable);
	return CHECK_DONE();
}
