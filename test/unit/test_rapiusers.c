/* Unit tests of core/rapiusers: Ganeti's users file format, the three password forms, refusals, generation. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/rapiusers.h"
#include "test/unit/check.h"

#define CHECK_SUITE "rapiusers"

static struct rapiusers *parse_ok(const char *text)
{
	struct rapiusers *u = NULL;
	if (!CHECK(rapiusers_parse(&u, text, strlen(text)) == 0))
		fprintf(stderr, "    %s\n", err_msg());
	return u;
}

static void parse_fails(const char *text, const char *want)
{
	struct rapiusers *u = (struct rapiusers *)1;
	CHECK_INT(rapiusers_parse(&u, text, strlen(text)), -1);
	CHECK(u == NULL);
	if (!CHECK(strstr(err_msg(), want) != NULL))
		fprintf(stderr, "    got \"%s\", wanted \"%s\"\n", err_msg(), want);
}

static void test_forms(void)
{
	/* the HA1 values are md5sum's: printf 'alice:Ganeti Remote API:s3cret' | md5sum */
	struct rapiusers *u = parse_ok("# comment\n"
				       "\n"
				       "   # indented comment\n"
				       "plain   pw1\n"
				       "clear {CLEARTEXT}pw2 write\n"
				       "lower {cleartext}pw3 read,write\n"
				       "alice {HA1}ca99c7d5df5f6cc24ef6c1df11911761 write\r\n"
				       "bob\t{ha1}A1594495613200DE40C27C499CE91F95\tread\n"
				       "spaced pw4  read , write \n"
				       "braced }x{\n");
	if (!u)
		return;
	CHECK_INT(rapiusers_count(u), 7);
	CHECK_INT(rapiusers_check(u, "plain", "pw1"), RAPIUSERS_READ);
	CHECK_INT(rapiusers_check(u, "plain", "pw"), RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(u, "plain", "pw1 "), RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(u, "clear", "pw2"), RAPIUSERS_WRITE);
	CHECK_INT(rapiusers_check(u, "clear", "{CLEARTEXT}pw2"), RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(u, "lower", "pw3"), RAPIUSERS_WRITE);
	CHECK_INT(rapiusers_check(u, "alice", "s3cret"), RAPIUSERS_WRITE);
	CHECK_INT(rapiusers_check(u, "alice", "s3cre"), RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(u, "alice", "ca99c7d5df5f6cc24ef6c1df11911761"),
		  RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(u, "bob", "pw"), RAPIUSERS_READ);
	CHECK_INT(rapiusers_check(u, "spaced", "pw4"), RAPIUSERS_WRITE);
	CHECK_INT(rapiusers_check(u, "braced", "}x{"), RAPIUSERS_READ);
	CHECK_INT(rapiusers_check(u, "nobody", "pw1"), RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(u, "Plain", "pw1"), RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(u, "", ""), RAPIUSERS_DENIED);
	CHECK_INT(rapiusers_check(NULL, "plain", "pw1"), RAPIUSERS_DENIED);
	rapiusers_free(u);

	u = parse_ok("");
	if (u) {
		CHECK_INT(rapiusers_count(u), 0);
		CHECK_INT(rapiusers_check(u, "a", "b"), RAPIUSERS_DENIED);
		rapiusers_free(u);
	}
}

static void test_refusals(void)
{
	parse_fails("ok pw\nlonely\n", "line 2: a user needs a name and a password");
	parse_fails("a pw wirte\n", "line 1: unknown option 'wirte'");
	parse_fails("a pw read,admin\n", "unknown option 'admin'");
	parse_fails("a {MD5}abc\n", "unknown password scheme '{MD5}'");
	parse_fails("a {}abc\n", "malformed password scheme");
	parse_fails("a {HA1abc\n", "malformed password scheme");
	parse_fails("a {HA1}abc\n", "{HA1} needs 32 hex digits");
	parse_fails("a {HA1}ca99c7d5df5f6cc24ef6c1df1191176g\n", "{HA1} needs 32 hex digits");
	parse_fails("a:b pw\n", "bad user name");
	parse_fails("a pw\nb pw\na other\n", "user 'a' is listed twice");
	parse_fails("a p\001w\n", "line 1: control character");
	char big[RAPIUSERS_LINE_MAX + 16];
	memset(big, 'x', sizeof(big) - 1);
	big[0] = 'a';
	big[1] = ' ';
	big[sizeof(big) - 1] = 0;
	parse_fails(big, "line 1: longer than");
}

static void test_load_and_generate(void)
{
	char dir[] = "/tmp/ferry-rapiusers.XXXXXX", users[256], pass[256], link[256];
	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(users, sizeof(users), "%s/rapi-users", dir);
	snprintf(pass, sizeof(pass), "%s/rapi-password", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	struct rapiusers *u;
	CHECK_INT(rapiusers_load(&u, users), -2);
	CHECK(strstr(err_msg(), "does not exist") != NULL);

	char pw[RAPIUSERS_GEN_LEN + 1];
	CHECK_INT(rapiusers_generate(users, pass, pw), 0);
	CHECK_INT(strlen(pw), RAPIUSERS_GEN_LEN);
	struct stat st;
	CHECK(stat(users, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK(stat(pass, &st) == 0 && (st.st_mode & 07777) == 0600);
	char buf[128] = {0};
	int fd = open(pass, O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == RAPIUSERS_GEN_LEN + 1);
	close(fd);
	CHECK(strncmp(buf, pw, RAPIUSERS_GEN_LEN) == 0 && buf[RAPIUSERS_GEN_LEN] == '\n');
	if (CHECK(rapiusers_load(&u, users) == 0)) {
		CHECK_INT(rapiusers_count(u), 1);
		CHECK_INT(rapiusers_check(u, RAPIUSERS_GEN_USER, pw), RAPIUSERS_WRITE);
		CHECK_INT(rapiusers_check(u, RAPIUSERS_GEN_USER, "wrong"), RAPIUSERS_DENIED);
		rapiusers_free(u);
	}
	/* never over an existing file */
	CHECK_INT(rapiusers_generate(users, pass, NULL), -1);
	CHECK(strstr(err_msg(), "File exists") != NULL);
	/* no symlink as the file */
	CHECK(symlink(users, link) == 0);
	CHECK_INT(rapiusers_load(&u, link), -1);
	unlink(link);

	/* errors name the file */
	fd = open(users, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "x y z\n", 6) == 6);
	close(fd);
	CHECK_INT(rapiusers_load(&u, users), -1);
	CHECK(strstr(err_msg(), users) != NULL && strstr(err_msg(), "unknown option 'z'"));
	unlink(users);
	unlink(pass);
	rmdir(dir);
}

int main(void)
{
	RUN(test_forms);
	RUN(test_refusals);
	RUN(test_load_and_generate);
	return CHECK_DONE();
}
