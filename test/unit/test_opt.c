/* Unit tests of core/opt: short clusters, long options, values, positionals, errors, numbers. */
#define CHECK_SUITE "opt"
#include "test/unit/check.h"

#include <stdint.h>

#include "core/err.h"
#include "core/opt.h"

enum { O_PORT = 1, O_QUIET, O_JSON, O_FORCE, O_SSH, O_LEVEL };

static const struct opt_spec specs[] = {
	{O_PORT, 'p', "port", OPT_REQUIRED},
	{O_QUIET, 'q', "quiet", OPT_NOARG},
	{O_JSON, 'j', "json", OPT_NOARG},
	{O_FORCE, 'f', "force", OPT_NOARG},
	{O_SSH, 0, "ssh", OPT_REQUIRED},
	{O_LEVEL, 'l', "level", OPT_OPTIONAL},
	OPT_SPEC_END,
};

/* Parses ARGV and renders what came back as one string, e.g. "p=22 q P:ct E". */
static void render(int argc, char **argv, char *out, size_t cap)
{
	struct opt_state st;
	size_t n = 0;
	opt_init(&st, argc, argv);
	for (;;) {
		int id = opt_next(&st, specs);
		const char *a = st.arg ? st.arg : "-";
		if (id == OPT_END)
			break;
		if (id == OPT_POSITIONAL)
			n += (size_t)snprintf(out + n, cap - n, "P:%s ", a);
		else if (id == OPT_ERROR) {
			n += (size_t)snprintf(out + n, cap - n, "ERR(%s)", st.err);
			return;
		} else if (id == OPT_HELP) {
			n += (size_t)snprintf(out + n, cap - n, "HELP ");
		} else {
			n += (size_t)snprintf(out + n, cap - n, "%d=%s ", id, a);
		}
	}
	n += (size_t)snprintf(out + n, cap - n, "END");
}

#define PARSE(want, ...)                                                                           \
	do {                                                                                       \
		char *argv[] = {"cmd", __VA_ARGS__, NULL};                                         \
		char got[512];                                                                     \
		render((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, got, sizeof(got));         \
		CHECK_STR(got, want);                                                              \
	} while (0)

static void test_short_and_long(void)
{
	PARSE("1=22 2=- END", "-p", "22", "-q");
	PARSE("1=22 END", "-p22");
	PARSE("1=22 END", "--port", "22");
	PARSE("1=22 END", "--port=22");
	PARSE("1= END", "--port=");
	PARSE("5=ssh -v END", "--ssh", "ssh -v");
}

static void test_clusters(void)
{
	PARSE("2=- 3=- 4=- END", "-qjf");
	PARSE("2=- 1=80 END", "-qp80");
	PARSE("2=- 1=80 END", "-qp", "80");
}

static void test_positionals_interleaved(void)
{
	PARSE("P:stage P:ct01 P:dest 1=2222 END", "stage", "ct01", "dest", "-p", "2222");
	PARSE("P:- 2=- END", "-", "-q");
	PARSE("2=- P:-p P:--port END", "-q", "--", "-p", "--port");
}

static void test_optional_values(void)
{
	PARSE("6=- P:3 END", "--level", "3");
	PARSE("6=3 END", "--level=3");
	PARSE("6=3 END", "-l3");
}

static void test_errors(void)
{
	PARSE("ERR(unknown option --bogus)", "--bogus");
	PARSE("ERR(unknown option -x)", "-x");
	PARSE("2=- ERR(unknown option -z)", "-qz");
	PARSE("ERR(option --port needs a value)", "--port");
	PARSE("ERR(option -p needs a value)", "-p");
	PARSE("ERR(option --quiet takes no value)", "--quiet=1");
	PARSE("ERR(unknown option --por)", "--por"); /* no abbreviations */
}

static void test_help(void)
{
	PARSE("2=- HELP END", "-q", "--help");
	PARSE("P:--help END", "--", "--help");
	PARSE("5=--help END", "--ssh", "--help"); /* a value, not a request for help */
}

static void test_parse_uint(void)
{
	uint64_t v = 0;
	CHECK_INT(parse_uint("0", 0, 10, &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(parse_uint("65535", 1, 65535, &v), 0);
	CHECK_INT(v, 65535);
	CHECK_INT(parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_INT(parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -1);
	CHECK(strstr(err_msg(), "too large") != NULL);
	CHECK_INT(parse_uint("65536", 1, 65535, &v), -1);
	CHECK(strstr(err_msg(), "out of range (1..65535)") != NULL);
	CHECK_INT(parse_uint("0", 1, 65535, &v), -1);
	CHECK_INT(parse_uint("", 0, 10, &v), -1);
	CHECK_INT(parse_uint("-1", 0, 10, &v), -1);
	CHECK_INT(parse_uint("+1", 0, 10, &v), -1);
	CHECK_INT(parse_uint(" 1", 0, 10, &v), -1);
	CHECK_INT(parse_uint("1 ", 0, 10, &v), -1);
	CHECK_INT(parse_uint("12abc", 0, 100, &v), -1);
	CHECK(strstr(err_msg(), "not a number") != NULL);
	CHECK_INT(parse_uint("0x10", 0, 100, &v), -1);
}

int main(void)
{
	RUN(test_short_and_long);
	RUN(test_clusters);
	RUN(test_positionals_interleaved);
	RUN(test_optional_values);
	RUN(test_errors);
	RUN(test_help);
	RUN(test_parse_uint);
	return CHECK_DONE();
}
