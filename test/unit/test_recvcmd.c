/* Unit tests of core/recvcmd: the receive grammar accepts exactly the documented commands. */
#define CHECK_SUITE "recvcmd"
#include "test/unit/check.h"

#include "core/err.h"
#include "core/recvcmd.h"

static void test_accepted(void)
{
	struct recvcmd c;
	char buf[RECVCMD_MAX + 1];

	CHECK_INT(recvcmd_parse(&c, "receive skel"), 0);
	CHECK_INT(c.verb, RECV_SKEL);
	CHECK_STR(c.ref.pool, "default");
	CHECK_INT(recvcmd_parse(&c, "receive skel tank"), 0);
	CHECK_STR(c.ref.pool, "tank");

	CHECK_INT(recvcmd_parse(&c, "receive base ct01 /"), 0);
	CHECK_INT(c.verb, RECV_BASE);
	CHECK_STR(c.ref.pool, "default");
	CHECK_STR(c.ref.id, "ct01");
	CHECK_STR(c.dataset, "/");
	CHECK_STR(c.snapshot, "");
	CHECK_INT(recvcmd_parse(&c, "receive incremental tank:ct01 srv/www m-1795550000.2"), 0);
	CHECK_INT(c.verb, RECV_INCREMENTAL);
	CHECK_STR(c.ref.pool, "tank");
	CHECK_STR(c.dataset, "srv/www");
	CHECK_STR(c.snapshot, "m-1795550000.2");

	CHECK_INT(recvcmd_parse(&c, "receive transfer ct01"), 0);
	CHECK_INT(c.verb, RECV_TRANSFER);
	CHECK_INT(c.start, 0);
	CHECK_INT(recvcmd_parse(&c, "receive transfer p:ct01 start"), 0);
	CHECK_INT(c.start, 1);
	CHECK_INT(recvcmd_parse(&c, "receive cancel ct01"), 0);
	CHECK_INT(c.verb, RECV_CANCEL);
	CHECK_INT(recvcmd_parse(&c, "receive status ct01"), 0);
	CHECK_INT(c.verb, RECV_STATUS);

	/* format gives back what parse reads */
	CHECK_INT(recvcmd_parse(&c, "receive incremental ct01 data s1"), 0);
	CHECK_INT(recvcmd_format(&c, buf, sizeof(buf)), 40);
	CHECK_STR(buf, "receive incremental default:ct01 data s1");
	CHECK_INT(recvcmd_parse(&c, "receive transfer ct01 start"), 0);
	CHECK(recvcmd_format(&c, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "receive transfer default:ct01 start");
	CHECK_INT(recvcmd_parse(&c, "receive skel"), 0);
	CHECK(recvcmd_format(&c, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "receive skel default");
	CHECK_INT(recvcmd_format(&c, buf, 10), -1);

	char *words[] = {"base", "tank:ct01", "/", "snap"};
	CHECK_INT(recvcmd_parse_words(&c, 4, words), 0);
	CHECK_STR(c.snapshot, "snap");
	CHECK_STR(c.ref.pool, "tank");
}

static void refused(const char *line, const char *why)
{
	struct recvcmd c;
	int r = recvcmd_parse(&c, line);
	if (!CHECK_INT(r, -1) || !CHECK(strstr(err_msg(), why) != NULL))
		fprintf(stderr, "    line: \"%s\"\n    message: %s\n", line, err_msg());
	CHECK_INT(c.verb, 0);
}

static void test_refused(void)
{
	char long_line[RECVCMD_MAX + 10], long_id[80];
	refused("", "empty command");
	refused("receive", "missing verb");
	refused("receive; id", "not a receive command");
	refused("receive skel; id", "unknown verb 'skel;'");
	refused("receive skel default;id", "bad pool");
	refused("receive skel $(id)", "bad pool");
	refused("receive base ct01 /;id", "dataset");
	refused("receive base `id` /", "container id");
	refused("receive base ../../etc /", "container id");
	refused("receive base ct01 ../../etc", "dataset");
	refused("receive base ct01 /etc", "dataset");
	refused("receive base ct01 a//b", "dataset");
	refused("receive base ct01 / ../snap", "bad snapshot name");
	refused("receive base ct01 / -snap", "bad snapshot name");
	refused("receive base ct01 / a/b", "bad snapshot name");
	refused("receive base ct01", "missing arguments");
	refused("receive base ct01 / s1 extra", "too many words");
	refused("receive cancel ct01 now", "too many arguments");
	refused("receive transfer ct01 stop", "expected 'start'");
	refused("receive transfer ct01 start now", "too many arguments");
	refused("receive shell ct01", "unknown verb 'shell'");
	refused("receive SKEL", "unknown verb");
	refused("ferry receive skel", "not a receive command");
	refused(" receive skel", "empty word");
	refused("receive skel ", "empty word");
	refused("receive  skel", "empty word");
	refused("receive\tskel", "control");
	refused("receive skel\n", "control");
	refused("receive skel\r", "control");
	refused("receive base ct\xc3\xa9 /", "non-ASCII");
	refused("receive status a:b:c", "more than one ':'");
	refused("receive status Ct01", "container id");
	memset(long_id, 'a', 64);
	long_id[64] = 0;
	snprintf(long_line, sizeof(long_line), "receive status %s", long_id);
	refused(long_line, "too long");
	memset(long_line, 'a', sizeof(long_line) - 1);
	memcpy(long_line, "receive status ", 15);
	long_line[sizeof(long_line) - 1] = 0;
	refused(long_line, "command too long");
	char snap[80];
	memset(snap, 's', 65);
	snap[65] = 0;
	snprintf(long_line, sizeof(long_line), "receive base ct01 / %s", snap);
	refused(long_line, "bad snapshot name 'sssss");
}

int main(void)
{
	RUN(test_accepted);
	RUN(test_refused);
	return CHECK_DONE();
}
