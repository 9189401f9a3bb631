/* Unit tests of core/migstate: the exact state file text, round trips, and refusals of damaged files. */
#define CHECK_SUITE "migstate"
#include "test/unit/check.h"

#include "core/err.h"
#include "core/migstate.h"

#define SUM "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char source_text[] = "# ferry migration state v1 (docs/migration.md)\n"
				  "role = source\n"
				  "state = transferring\n"
				  "since = 1795550000\n"
				  "dest = 127.0.0.3\n"
				  "port = 2222\n"
				  "ssh = dbclient\n"
				  "user = migration\n"
				  "config_sha256 = " SUM "\n"
				  "was_running = 1\n"
				  "dataset./ = m1-2 m1-3\n"
				  "dataset.data = m1-1 -\n"
				  "dataset.srv/www = - -\n";

static const char dest_text[] = "# ferry migration state v1 (docs/migration.md)\n"
				"role = destination\n"
				"state = staged\n"
				"since = 5\n"
				"key = node1\n"
				"client = 127.0.0.2\n";

static void test_source_round_trip(void)
{
	static struct migstate m;
	static char buf[4096];
	CHECK_INT(migstate_parse(&m, source_text, sizeof(source_text) - 1), 0);
	CHECK_INT(m.role, MIG_ROLE_SOURCE);
	CHECK_INT(m.state, MIG_TRANSFERRING);
	CHECK_STR(m.dest, "127.0.0.3");
	CHECK_INT(m.port, 2222);
	CHECK_STR(m.ssh, "dbclient");
	CHECK_INT(m.was_running, 1);
	CHECK_INT(m.n_datasets, 3);
	CHECK_STR(m.datasets[0].name, "/");
	CHECK_STR(m.datasets[0].confirmed, "m1-2");
	CHECK_STR(m.datasets[0].pending, "m1-3");
	CHECK_STR(m.datasets[1].name, "data");
	CHECK_STR(m.datasets[1].pending, "");
	CHECK_STR(m.datasets[2].name, "srv/www");
	CHECK_STR(m.datasets[2].confirmed, "");
	int n = migstate_format(&m, buf, sizeof(buf));
	CHECK_INT(n, (int)sizeof(source_text) - 1);
	CHECK_STR(buf, source_text);
	CHECK_INT(migstate_format(&m, buf, 100), -1);
	CHECK(migstate_dataset(&m, "data") == &m.datasets[1]);
	CHECK(migstate_dataset(&m, "nope") == NULL);
	/* was_running is written only while transferring */
	m.state = MIG_SYNCED;
	CHECK(migstate_format(&m, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "was_running") == NULL);
	CHECK(strstr(buf, "state = synced\n") != NULL);
}

static void test_dest_round_trip(void)
{
	struct migstate m;
	char buf[1024];
	CHECK_INT(migstate_parse(&m, dest_text, sizeof(dest_text) - 1), 0);
	CHECK_INT(m.role, MIG_ROLE_DEST);
	CHECK_STR(m.key, "node1");
	CHECK_STR(m.client, "127.0.0.2");
	CHECK(migstate_format(&m, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, dest_text);
}

static void test_datasets_sorted(void)
{
	static struct migstate m;
	migstate_init(&m);
	CHECK_INT(migstate_dataset_add(&m, "zz"), 0);
	CHECK_INT(migstate_dataset_add(&m, "/"), 0);
	CHECK_INT(migstate_dataset_add(&m, "aa/b"), 0);
	CHECK_STR(m.datasets[0].name, "/");
	CHECK_STR(m.datasets[1].name, "aa/b");
	CHECK_STR(m.datasets[2].name, "zz");
	CHECK_INT(migstate_dataset_add(&m, "zz"), -1);
	CHECK_INT(migstate_dataset_add(&m, "../x"), -1);
}

/* SOURCE_TEXT with line FROM replaced by TO must be refused with WHY. */
static void refused(const char *from, const char *to, const char *why)
{
	static struct migstate m;
	char text[4096];
	const char *at = strstr(source_text, from);
	if (!CHECK(at != NULL))
		return;
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - source_text), source_text, to,
		 at + strlen(from));
	int r = migstate_parse(&m, text, strlen(text));
	if (!CHECK_INT(r, -1) || !CHECK(strstr(err_msg(), why) != NULL))
		fprintf(stderr, "    replaced '%s' by '%s': %s\n", from, to, err_msg());
	CHECK_INT(m.role, 0);
}

static void test_refused(void)
{
	refused("# ferry migration state v1", "# ferry migration state v2", "line 1");
	refused("dest = 127.0.0.3\n", "dest = -oProxyCommand=x\n", "bad dest");
	refused("dest = 127.0.0.3\n", "dest = a b\n", "bad dest");
	refused("ssh = dbclient\n", "ssh = -oFoo\n", "bad ssh");
	refused("ssh = dbclient\n", "ssh = db;client\n", "bad ssh");
	refused("user = migration\n", "user = -l\n", "bad user");
	refused("port = 2222\n", "port = 0\n", "out of range");
	refused("port = 2222\n", "port = 65536\n", "out of range");
	refused("port = 2222\n", "port = 22x\n", "");
	refused("state = transferring\n", "state = complete\n", "does not belong");
	refused("state = transferring\n", "state = bogus\n", "unknown state");
	refused("user = migration\n", "user = migration\nuser = x\n", "given twice");
	refused("user = migration\n", "key = k\n", "does not belong to a source");
	refused("user = migration\n", "bogus = 1\n", "unknown key");
	refused("user = migration\n", "user=x\n", "expected 'key = value'");
	refused("user = migration\n", "user = \n", "empty value");
	refused("dataset./ = m1-2 m1-3\n", "dataset./ = m1-2\n", "CONFIRMED PENDING");
	refused("dataset./ = m1-2 m1-3\n", "dataset./ = ../x -\n", "bad snapshot");
	refused("dataset./ = m1-2 m1-3\n", "dataset./ = m1-2 m1-3 x\n", "CONFIRMED PENDING");
	refused("dataset./ = m1-2 m1-3\n", "dataset.../x = - -\n", "dataset name");
	refused("dataset./ = m1-2 m1-3\n", "dataset.data = - -\n", "listed twice");
	refused("dataset./ = m1-2 m1-3\n", "", "dataset./");
	refused("config_sha256 = " SUM, "config_sha256 = 00", "bad config_sha256");
	refused("was_running = 1", "was_running = 2", "expected 0 or 1");
	refused("role = source\n", "", "before role");
	refused("since = 1795550000\n", "since = 17\x01\n", "control");
	refused("dataset.srv/www = - -\n", "dataset.srv/www = - -", "no newline");
}

int main(void)
{
	RUN(test_source_round_trip);
	RUN(test_dest_round_trip);
	RUN(test_datasets_sorted);
	RUN(test_refused);
	return CHECK_DONE();
}
