/* Unit tests of core/knownhosts: names with ports, plain and hashed entries (hashed by ssh-keygen -H), skipped lines. */
#define CHECK_SUITE "knownhosts"
#include "test/unit/check.h"

#include "core/err.h"
#include "core/knownhosts.h"

#define ED "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPIMFCQpU8EIie/Q1SULX78un40lBtlXzRDdjVaQ/Vci"

static void test_name(void)
{
	char b[KNOWNHOSTS_NAME_MAX];
	CHECK_INT(knownhosts_name(b, sizeof(b), "10.0.0.3", 22), 0);
	CHECK_STR(b, "10.0.0.3");
	CHECK_INT(knownhosts_name(b, sizeof(b), "10.0.0.3", 0), 0);
	CHECK_STR(b, "10.0.0.3");
	CHECK_INT(knownhosts_name(b, sizeof(b), "10.0.0.3", 2222), 0);
	CHECK_STR(b, "[10.0.0.3]:2222");
	CHECK_INT(knownhosts_name(b, 8, "10.0.0.3", 2222), -1);
}

static void test_select(void)
{
	/* The first two lines as `ssh-keygen -H` wrote them for "[127.0.0.3]:2222" and "other". */
	static const char text[] =
		"# comment\n"
		"|1|v614rPAcfY/VsW1gm66gBNLgZPY=|k/HGgc7eY9mVn/shf5Z9XetIWyg= " ED "\n"
		"|1|HhtBV3EkRP3cTl8dMJlf9Nfp1Bo=|1opA+TiVpvXbBocLVVtiABSSuCk= ssh-rsa AAAAB3Nza\n"
		"\n"
		"a.example,[127.0.0.3]:2222 ssh-rsa AAAAPLAIN comment here\r\n"
		"[127.0.0.3]:22222 ssh-rsa AAAAOTHERPORT\n"
		"127.0.0.3 ssh-rsa AAAANOPORT\n"
		"@revoked [127.0.0.3]:2222 ssh-rsa AAAAREVOKED\n"
		"[127.0.0.3]:2222\n"
		"*.example ssh-rsa AAAAWILD";
	char out[1024];
	size_t len;
	int n = knownhosts_select(text, sizeof(text) - 1, "[127.0.0.3]:2222", "127.0.0.3", out,
				  sizeof(out), &len);
	CHECK_INT(n, 2);
	CHECK_STR(out, "127.0.0.3 " ED "\n127.0.0.3 ssh-rsa AAAAPLAIN\n");
	CHECK_INT(len, strlen(out));
	CHECK_INT(knownhosts_select(text, sizeof(text) - 1, "other", "x", out, sizeof(out), &len),
		  1);
	CHECK_STR(out, "x ssh-rsa AAAAB3Nza\n");
	CHECK_INT(knownhosts_select(text, sizeof(text) - 1, "127.0.0.3", "127.0.0.3", out,
				    sizeof(out), &len),
		  1);
	CHECK_STR(out, "127.0.0.3 ssh-rsa AAAANOPORT\n");
	CHECK_INT(
		knownhosts_select(text, sizeof(text) - 1, "b.example", "b", out, sizeof(out), &len),
		0);
	CHECK_STR(out, "");
	CHECK_INT(knownhosts_select("", 0, "x", "x", out, sizeof(out), &len), 0);
	CHECK_INT(knownhosts_select(text, sizeof(text) - 1, "[127.0.0.3]:2222", "h", out, 20, &len),
		  -1);
	static char big[KNOWNHOSTS_LINE_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	CHECK_INT(knownhosts_select(big, sizeof(big) - 1, "a", "a", out, sizeof(out), &len), -1);
}

int main(void)
{
	RUN(test_name);
	RUN(test_select);
	return CHECK_DONE();
}
