/* Unit tests of core/json: RFC 8259 vectors, every refusal, paths in errors, the writer, Python as oracle. */
#define CHECK_SUITE "json"
#include "test/unit/check.h"

#include <math.h>
#include <stdint.h>

#include "core/err.h"
#include "core/json.h"
#include "test/lib/spawn.h"

/* Parses TEXT; returns 0 with DOC filled or -1. */
static int parse(struct json_doc *doc, const char *text)
{
	return json_parse(doc, text, strlen(text));
}

/* Writes V with FLAGS into a malloc'd string (NULL on failure). */
static char *write_value(const struct json *v, unsigned flags)
{
	struct json_writer w;
	char *out = NULL;
	json_writer_init(&w, flags);
	json_write_value(&w, v);
	if (json_writer_finish(&w, &out, NULL) < 0) {
		json_writer_free(&w);
		return NULL;
	}
	return out;
}

static void test_scalars(void)
{
	struct json_doc d;
	CHECK_INT(parse(&d, " 42 "), 0);
	CHECK_INT(d.root->type, JSON_INT);
	CHECK_INT(d.root->u.i, 42);
	json_doc_free(&d);

	CHECK_INT(parse(&d, "-0"), 0);
	CHECK_INT(d.root->type, JSON_INT);
	CHECK_INT(d.root->u.i, 0);
	json_doc_free(&d);

	CHECK_INT(parse(&d, "9223372036854775807"), 0);
	CHECK(d.root->u.i == INT64_MAX);
	json_doc_free(&d);
	CHECK_INT(parse(&d, "-9223372036854775808"), 0);
	CHECK(d.root->u.i == INT64_MIN);
	json_doc_free(&d);

	CHECK_INT(parse(&d, "1.5e3"), 0);
	CHECK_INT(d.root->type, JSON_DOUBLE);
	CHECK(d.root->u.d == 1500.0);
	json_doc_free(&d);
	CHECK_INT(parse(&d, "-0.0"), 0);
	CHECK(d.root->type == JSON_DOUBLE && d.root->u.d == 0.0 && signbit(d.root->u.d));
	json_doc_free(&d);
	CHECK_INT(parse(&d, "1E-400"), 0); /* underflow reads as zero, which is finite */
	CHECK(d.root->type == JSON_DOUBLE && d.root->u.d == 0.0);
	json_doc_free(&d);
	CHECK_INT(parse(&d, "1.7976931348623157e308"), 0);
	CHECK(d.root->u.d == 1.7976931348623157e308);
	json_doc_free(&d);

	CHECK_INT(parse(&d, "\ttrue\r\n"), 0);
	CHECK(d.root->type == JSON_BOOL && d.root->u.b == 1);
	json_doc_free(&d);
	CHECK_INT(parse(&d, "false"), 0);
	CHECK(d.root->type == JSON_BOOL && d.root->u.b == 0);
	json_doc_free(&d);
	CHECK_INT(parse(&d, "null"), 0);
	CHECK_INT(d.root->type, JSON_NULL);
	json_doc_free(&d);
	json_doc_free(&d); /* twice is harmless */
}

static void test_string_escapes(void)
{
	struct json_doc d;
	CHECK_INT(parse(&d, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""), 0);
	CHECK_EQUALS(d.root->u.s, d.root->len, "a\"b\\c/d\b\f\n\r\t", 12);
	json_doc_free(&d);
	/* \u escapes to UTF-8: 1, 2, 3 and (surrogate pair) 4 bytes. */
	CHECK_INT(parse(&d, "\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\""), 0);
	CHECK_EQUALS(d.root->u.s, d.root->len, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);
	json_doc_free(&d);
	/* Raw UTF-8 passes as it is, including the largest code point. */
	CHECK_INT(parse(&d, "\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\x7f\""), 0);
	CHECK_EQUALS(d.root->u.s, d.root->len, "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\x7f", 10);
	json_doc_free(&d);
	CHECK_INT(parse(&d, "\"\""), 0);
	CHECK_INT(d.root->len, 0);
	CHECK_STR(d.root->u.s, "");
	json_doc_free(&d);
}

/* Each of these must be refused, with a message naming what is wrong. */
static const struct {
	const char *text;
	const char *why;
} bad_inputs[] = {
	{"", "found end of input"},
	{"   ", "found end of input"},
	{"\xef\xbb\xbf{}", "unexpected byte 0xef"},
	{"{} {}", "trailing data"},
	{"[1,]", "unexpected character ']'"},
	{"{\"a\":1,}", "object key"},
	{"[1 2]", "',' or ']' expected"},
	{"{\"a\" 1}", "':' expected"},
	{"{1:2}", "object key"},
	{"[", "value expected"},
	{"{\"a\":[}", "unexpected character"},
	{"// c\n1", "unexpected character '/'"},
	{"NaN", "unexpected character 'N'"},
	{"Infinity", "unexpected character 'I'"},
	{"-Infinity", "invalid number"},
	{"tru", "invalid literal"},
	{"nul", "invalid literal"},
	{"01", "leading zero"},
	{"-01", "leading zero"},
	{"1.", "digit expected after decimal point"},
	{".5", "unexpected character '.'"},
	{"+1", "unexpected character '+'"},
	{"-", "invalid number"},
	{"1e", "digit expected in exponent"},
	{"1e+", "digit expected in exponent"},
	{"0x10", "trailing data"},
	{"9223372036854775808", "integer out of range"},
	{"-9223372036854775809", "integer out of range"},
	{"1e309", "number out of range"},
	{"-1e309", "number out of range"},
	{"\"abc", "unterminated string"},
	{"\"abc\\", "unterminated string"},
	{"\"a\tb\"", "control character 0x09"},
	{"\"a\nb\"", "control character 0x0a"},
	{"\"\\x41\"", "invalid escape \\x"},
	{"\"\\u12x4\"", "bad hex digit"},
	{"\"\\u12", "truncated"},
	{"\"\\u0000\"", "NUL is not accepted"},
	{"\"\\ud800\"", "lone high surrogate"},
	{"\"\\ud800x\"", "lone high surrogate"},
	{"\"\\ud800\\u0041\"", "not followed by a low one"},
	{"\"\\udc00\"", "lone low surrogate"},
	{"\"\xc0\xaf\"", "invalid UTF-8"},	   /* overlong '/' */
	{"\"\xe0\x80\xaf\"", "invalid UTF-8"},	   /* overlong, 3 bytes */
	{"\"\xf0\x80\x80\xaf\"", "invalid UTF-8"}, /* overlong, 4 bytes */
	{"\"\xed\xa0\x80\"", "invalid UTF-8"},	   /* encoded surrogate U+D800 */
	{"\"\xf4\x90\x80\x80\"", "invalid UTF-8"}, /* above U+10FFFF */
	{"\"\xc3\"", "invalid UTF-8"},		   /* truncated sequence */
	{"\"\x80\"", "invalid UTF-8"},		   /* lone continuation byte */
	{"\"\xff\"", "invalid UTF-8"},
	{"{\"a\":1,\"a\":2}", "duplicate key \"a\""},
	{"{\"b\":{\"x\":1,\"y\":2,\"x\":3}}", "duplicate key \"x\""},
	{"{\"\\u001b[2J\xc3\xa9\":1,\"\\u001b[2J\xc3\xa9\":2}", "duplicate key \"?[2J??\""},
};

static void test_refusals(void)
{
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
		struct json_doc d;
		int r = parse(&d, bad_inputs[i].text);
		if (!CHECK_INT(r, -1)) {
			fprintf(stderr, "    input #%zu was accepted\n", i);
			json_doc_free(&d);
			continue;
		}
		CHECK(d.root == NULL && d.mem == NULL);
		if (!CHECK(strstr(err_msg(), bad_inputs[i].why) != NULL))
			fprintf(stderr, "    input #%zu: \"%s\" does not say \"%s\"\n", i,
				err_msg(), bad_inputs[i].why);
		CHECK(strncmp(err_msg(), "JSON at byte ", 13) == 0 || strstr(err_msg(), "larger"));
		/* json_validate agrees with json_parse on everything but duplicate keys. */
		if (!strstr(bad_inputs[i].why, "duplicate"))
			CHECK_INT(json_validate(bad_inputs[i].text, strlen(bad_inputs[i].text)),
				  -1);
	}
	/* A NUL byte inside the text is just another bad byte. */
	struct json_doc d;
	CHECK_INT(json_parse(&d, "[1]\0", 4), -1);
	CHECK_INT(json_parse(&d, "\"a\0b\"", 5), -1);
	CHECK(strstr(err_msg(), "control character 0x00") != NULL);
}

static char *repeat(const char *unit, size_t n, const char *middle, const char *end_unit)
{
	size_t ul = strlen(unit), ml = strlen(middle), el = strlen(end_unit);
	char *s = malloc(n * (ul + el) + ml + 1), *p = s;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, middle, ml);
	p += ml;
	for (size_t i = 0; i < n; i++, p += el)
		memcpy(p, end_unit, el);
	*p = 0;
	return s;
}

static void test_bounds(void)
{
	struct json_doc d;
	char *s = repeat("[", JSON_DEPTH_MAX, "1", "]");
	CHECK_INT(parse(&d, s), 0);
	json_doc_free(&d);
	free(s);
	s = repeat("[", JSON_DEPTH_MAX + 1, "1", "]");
	CHECK_INT(parse(&d, s), -1);
	CHECK(strstr(err_msg(), "nested deeper than 64") != NULL);
	free(s);
	s = repeat("{\"a\":", JSON_DEPTH_MAX + 1, "1", "}");
	CHECK_INT(parse(&d, s), -1);
	free(s);
	/* Depth far beyond the bound must fail, not overflow the C stack. */
	s = repeat("[", 100000, "", "");
	CHECK_INT(parse(&d, s), -1);
	free(s);

	/* Values: JSON_VALUES_MAX elements (the array itself is one more). */
	/* Values: JSON_VALUES_MAX - 1 elements and the array itself pass, one more fails. */
	size_t n = JSON_VALUES_MAX - 1;
	char *t = malloc(2 * n + 2);
	t[0] = '[';
	for (size_t i = 0; i < n; i++) {
		t[1 + 2 * i] = '0';
		t[2 + 2 * i] = ',';
	}
	t[2 * n] = ']';
	t[2 * n + 1] = 0;
	CHECK_INT(parse(&d, t), 0);
	CHECK_INT(d.root->len, n);
	CHECK(json_at(d.root, n - 1) && json_at(d.root, n - 1)->u.i == 0);
	json_doc_free(&d);
	t[2 * n] = ',';
	t = realloc(t, 2 * n + 4);
	memcpy(t + 2 * n + 1, "0]", 3);
	CHECK_INT(parse(&d, t), -1);
	CHECK(strstr(err_msg(), "more than 1048576 values") != NULL);
	free(t);

	/* Strings: JSON_STRING_MAX decoded bytes pass, one more fails. */
	s = malloc(JSON_STRING_MAX + 4);
	s[0] = '"';
	memset(s + 1, 'x', JSON_STRING_MAX);
	memcpy(s + 1 + JSON_STRING_MAX, "\"", 2);
	CHECK_INT(parse(&d, s), 0);
	CHECK_INT(d.root->len, JSON_STRING_MAX);
	json_doc_free(&d);
	s = realloc(s, JSON_STRING_MAX + 5);
	memcpy(s + 1 + JSON_STRING_MAX, "x\"", 3);
	CHECK_INT(parse(&d, s), -1);
	CHECK(strstr(err_msg(), "string longer than") != NULL);
	free(s);

	/* Input size is checked before anything else. */
	CHECK_INT(json_parse(&d, "1", JSON_INPUT_MAX + 1), -1);
	CHECK(strstr(err_msg(), "larger than") != NULL);

	/* Number literals are bounded in length. */
	char num[JSON_NUMBER_LEN_MAX + 8] = "0.";
	memset(num + 2, '1', JSON_NUMBER_LEN_MAX - 2);
	num[JSON_NUMBER_LEN_MAX] = 0;
	CHECK_INT(parse(&d, num), 0);
	json_doc_free(&d);
	strcat(num, "1");
	CHECK_INT(parse(&d, num), -1);
	CHECK(strstr(err_msg(), "number longer than") != NULL);
}

static const char ganeti_job[] =
	"{\"id\": 17, \"status\": \"error\", \"received_ts\": [1700000000, 123456],"
	" \"oplog\": [[[1, [1700000001, 5], \"message\", \"starting\"]]],"
	" \"opresult\": [[\"OpPrereqError\", [\"Instance 'x' not known\", \"unknown_entity\"]]],"
	" \"summary\": [\"INSTANCE_CREATE(x)\"], \"start_ts\": 1700000000.25,"
	" \"result\": {\"inst1.example.com\": {\"disks\": [{\"size\": 1024, \"mode\": \"rw\"},"
	" {\"size\": \"big\", \"name\": null}], \"nics\": []}}}";

static void test_accessors_and_paths(void)
{
	struct json_doc d;
	CHECK_INT(parse(&d, ganeti_job), 0);
	const struct json *r = d.root;
	int64_t i;
	const char *s;
	double x;
	CHECK_INT(json_get_int(r, "id", &i), 0);
	CHECK_INT(i, 17);
	CHECK_INT(json_get_string(r, "status", &s), 0);
	CHECK_STR(s, "error");
	CHECK(json_get(r, "nope") == NULL);
	CHECK(json_get(NULL, "id") == NULL);
	CHECK(json_at(r, 0) == NULL); /* not an array */
	const struct json *ts = json_need(r, "received_ts", JSON_ARRAY);
	CHECK(ts != NULL && ts->len == 2);
	CHECK_INT(json_as_int_range(json_at(ts, 1), 0, 999999, &i), 0);
	CHECK_INT(i, 123456);
	CHECK(json_at(ts, 2) == NULL);
	CHECK_INT(json_as_int_range(json_at(ts, 1), 0, 99, &i), -1);
	CHECK_STR(err_msg(), "received_ts[1]: 123456 out of range [0, 99]");
	/* Doubles: start_ts is one; an integer reads as double too, not the reverse. */
	CHECK_INT(json_as_double(json_get(r, "start_ts"), &x), 0);
	CHECK(x == 1700000000.25);
	CHECK_INT(json_as_double(json_get(r, "id"), &x), 0);
	CHECK(x == 17.0);
	CHECK_INT(json_get_int(r, "start_ts", &i), -1);
	CHECK_STR(err_msg(), "start_ts: expected integer, got number");

	const struct json *entry = json_at(json_at(json_get(r, "oplog"), 0), 0);
	CHECK(entry != NULL);
	CHECK_INT(json_as_string(json_at(entry, 2), &s, NULL), 0);
	CHECK_STR(s, "message");
	char path[JSON_PATH_MAX];
	json_path(json_at(json_at(entry, 1), 1), path, sizeof(path));
	CHECK_STR(path, "oplog[0][0][1][1]");
	json_path(r, path, sizeof(path));
	CHECK_STR(path, "top level");

	/* Keys that are not identifiers are quoted in paths (instance names have dots). */
	const struct json *inst = json_get(json_get(r, "result"), "inst1.example.com");
	CHECK(inst != NULL);
	const struct json *disk1 = json_at(json_get(inst, "disks"), 1);
	CHECK_INT(json_get_int(disk1, "size", &i), -1);
	CHECK_STR(err_msg(),
		  "result[\"inst1.example.com\"].disks[1].size: expected integer, got string");
	CHECK_INT(json_get_string(disk1, "mode", &s), -1);
	CHECK_STR(err_msg(), "result[\"inst1.example.com\"].disks[1].mode: missing");
	CHECK_INT(json_get_string(disk1, "name", &s), -1);
	CHECK_STR(err_msg(),
		  "result[\"inst1.example.com\"].disks[1].name: expected string, got null");
	CHECK_INT(json_get_int(json_at(json_get(inst, "disks"), 0), "size", &i), 0);
	CHECK_INT(i, 1024);
	CHECK(json_need(json_get(inst, "nics"), "x", JSON_INT) == NULL);
	CHECK_STR(err_msg(), "result[\"inst1.example.com\"].nics: expected object, got array");
	CHECK(json_need(r, "missing key", JSON_INT) == NULL);
	CHECK_STR(err_msg(), "[\"missing key\"]: missing");
	int b;
	CHECK_INT(json_get_bool(r, "id", &b), -1);
	CHECK_STR(err_msg(), "id: expected boolean, got integer");
	CHECK_INT(json_expect(r, JSON_ARRAY), -1);
	CHECK_STR(err_msg(), "top level: expected array, got object");

	/* A tiny buffer cuts the path visibly. */
	char small[12];
	json_path(json_get(disk1, "size"), small, sizeof(small));
	CHECK_STR(small, "result[\"...");
	json_doc_free(&d);

	/* Keys with control characters are escaped in paths, never printed raw. */
	CHECK_INT(parse(&d, "{\"a\\u001b[2J\": true}"), 0);
	CHECK_INT(json_get_int(d.root, "a\x1b[2J", &i), -1);
	CHECK_STR(err_msg(), "[\"a\\u001b[2J\"]: expected integer, got boolean");
	json_doc_free(&d);
}

static void test_objects_sorted_and_parents(void)
{
	struct json_doc d;
	CHECK_INT(
		parse(&d,
		      "{\"b\": 1, \"a\": [true, {\"z\": 0, \"\xc3\xa9\": 2, \"y\": 1}], \"c\": {}}"),
		0);
	const struct json *r = d.root;
	CHECK_INT(r->len, 3);
	CHECK_STR(r->u.kids[0].key, "a");
	CHECK_STR(r->u.kids[1].key, "b");
	CHECK_STR(r->u.kids[2].key, "c");
	const struct json *inner = json_at(json_get(r, "a"), 1);
	CHECK_STR(inner->u.kids[0].key, "y");
	CHECK_STR(inner->u.kids[1].key, "z");
	CHECK_STR(inner->u.kids[2].key, "\xc3\xa9");
	CHECK(inner->up == json_get(r, "a"));
	CHECK(inner->up->up == r);
	CHECK(r->up == NULL);
	CHECK_INT(json_get(r, "c")->len, 0);
	/* Every key is found by binary search. */
	for (uint32_t k = 0; k < inner->len; k++)
		CHECK(json_get(inner, inner->u.kids[k].key) == &inner->u.kids[k]);
	json_doc_free(&d);
}

static void test_writer_basics(void)
{
	struct json_writer w;
	char *out;
	size_t len;
	json_writer_init(&w, 0);
	json_write_object_begin(&w);
	json_write_key(&w, "name");
	json_write_string(&w, "in\"st\\1\n\x01\x1f\x7f\xc3\xa9");
	json_write_key(&w, "n");
	json_write_array_begin(&w);
	json_write_int(&w, INT64_MIN);
	json_write_int(&w, 0);
	json_write_double(&w, 0.1);
	json_write_double(&w, 1.0);
	json_write_double(&w, -0.0);
	json_write_double(&w, 1e300);
	json_write_double(&w, 5e-324);
	json_write_bool(&w, 1);
	json_write_bool(&w, 0);
	json_write_null(&w);
	json_write_array_begin(&w);
	json_write_array_end(&w);
	json_write_object_begin(&w);
	json_write_object_end(&w);
	json_write_array_end(&w);
	json_write_key(&w, "nul");
	json_write_strn(&w, "a\0b", 3);
	json_write_object_end(&w);
	CHECK_INT(json_writer_finish(&w, &out, &len), 0);
	const char *want =
		"{\"name\":\"in\\\"st\\\\1\\n\\u0001\\u001f\x7f\xc3\xa9\",\"n\":["
		"-9223372036854775808,0,0.1,1.0,-0.0,1e+300,5e-324,true,false,null,[],{}],"
		"\"nul\":\"a\\u0000b\"}";
	CHECK_STR(out, want);
	CHECK_INT(len, strlen(want));
	free(out);

	/* ASCII mode escapes everything non-ASCII, with surrogate pairs above U+FFFF. */
	json_writer_init(&w, JSON_WRITE_ASCII);
	json_write_string(&w, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	CHECK_INT(json_writer_finish(&w, &out, NULL), 0);
	CHECK_STR(out, "\"\\u00e9\\u20ac\\ud83d\\ude00\"");
	free(out);
}

static void test_writer_sorted(void)
{
	struct json_writer w;
	char *out;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_object_begin(&w);
	json_write_key(&w, "source_handshake");
	json_write_array_begin(&w);
	json_write_int(&w, 0);
	json_write_object_begin(&w); /* an object inside an array inside an object */
	json_write_key(&w, "z");
	json_write_int(&w, 1);
	json_write_key(&w, "a");
	json_write_int(&w, 2);
	json_write_object_end(&w);
	json_write_array_end(&w);
	json_write_key(&w, "__version__");
	json_write_int(&w, 1);
	json_write_key(&w, "mode");
	json_write_string(&w, "remote-import");
	json_write_key(&w, "disks");
	json_write_array_begin(&w);
	json_write_object_begin(&w);
	json_write_key(&w, "size");
	json_write_int(&w, 1024);
	json_write_key(&w, "name");
	json_write_string(&w, "None");
	json_write_key(&w, "mode");
	json_write_string(&w, "rw");
	json_write_object_end(&w);
	json_write_array_end(&w);
	json_write_key(&w, "a\"");
	json_write_null(&w);
	json_write_key(&w, "a#");
	json_write_null(&w);
	json_write_object_end(&w);
	CHECK_INT(json_writer_finish(&w, &out, NULL), 0);
	/* Sorted by the raw key ('"' 0x22 < '#' 0x23), not by its escaped text. */
	CHECK_STR(out, "{\"__version__\":1,\"a\\\"\":null,\"a#\":null,"
		       "\"disks\":[{\"mode\":\"rw\",\"name\":\"None\",\"size\":1024}],"
		       "\"mode\":\"remote-import\",\"source_handshake\":[0,{\"a\":2,\"z\":1}]}");
	free(out);

	/* A duplicate key is caught in sorted mode. */
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_object_begin(&w);
	json_write_key(&w, "k");
	json_write_int(&w, 1);
	json_write_key(&w, "k");
	json_write_int(&w, 2);
	json_write_object_end(&w);
	CHECK_INT(json_writer_finish(&w, &out, NULL), -1);
	CHECK(strstr(err_msg(), "duplicate key \"k\"") != NULL);
	json_writer_free(&w);
}

static void test_writer_misuse(void)
{
	struct json_writer w;
	char *out = NULL;
	struct {
		const char *why;
		int step;
	} cases[] = {
		{"needs a key first", 0},
		{"containers still open", 1},
		{"without its beginning", 2},
		{"second value at the top level", 3},
		{"not valid UTF-8", 4},
		{"key outside an object", 5},
		{"not finite", 6},
		{"after a key without a value", 7},
		{"no value written", 8},
		{"embedded value", 9},
		{"nested deeper", 10},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_writer_init(&w, 0);
		switch (cases[i].step) {
		case 0:
			json_write_object_begin(&w);
			json_write_int(&w, 1);
			json_write_object_end(&w);
			break;
		case 1:
			json_write_array_begin(&w);
			break;
		case 2:
			json_write_array_begin(&w);
			json_write_object_end(&w);
			break;
		case 3:
			json_write_int(&w, 1);
			json_write_int(&w, 2);
			break;
		case 4:
			json_write_string(&w, "\xc3(");
			break;
		case 5:
			json_write_array_begin(&w);
			json_write_key(&w, "k");
			break;
		case 6:
			json_write_double(&w, NAN);
			break;
		case 7:
			json_write_object_begin(&w);
			json_write_key(&w, "k");
			json_write_object_end(&w);
			break;
		case 8:
			break;
		case 9:
			json_write_raw(&w, "[1,", 3);
			break;
		case 10:
			for (int k = 0; k <= JSON_DEPTH_MAX; k++)
				json_write_array_begin(&w);
			break;
		}
		/* Later calls after a failure change nothing. */
		if (cases[i].step != 8)
			json_write_null(&w);
		CHECK_INT(json_writer_finish(&w, &out, NULL), -1);
		if (!CHECK(strstr(err_msg(), cases[i].why) != NULL))
			fprintf(stderr, "    case %zu: %s\n", i, err_msg());
		json_writer_free(&w);
	}
}

static void test_writer_raw(void)
{
	struct json_writer w;
	char *out;
	json_writer_init(&w, JSON_WRITE_SORTED);
	json_write_object_begin(&w);
	json_write_key(&w, "destination");
	const char *relayed = " [[\"192.0.2.10\", 40123, \"m\", \"h\", \"s\"]]\n";
	json_write_raw(&w, relayed, strlen(relayed));
	json_write_key(&w, "compress");
	json_write_string(&w, "none");
	json_write_object_end(&w);
	CHECK_INT(json_writer_finish(&w, &out, NULL), 0);
	CHECK_STR(out,
		  "{\"compress\":\"none\",\"destination\":[[\"192.0.2.10\", 40123, \"m\", \"h\", "
		  "\"s\"]]}");
	free(out);
}

/* xorshift64: a fixed sequence, so a failure is reproducible. */
static uint64_t rng = 0x853c49e6748fea9bu;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * One number literal: json_parse must give the double glibc's strtod gives
 * (bit for bit: correctly rounded, ties to even, subnormals, -0.0), or
 * refuse it when strtod overflows; then the writer's text must read back
 * to the same double.
 */
static int number_agrees(const char *lit)
{
	struct json_doc d;
	double want = strtod(lit, NULL);
	if (isinf(want)) {
		if (parse(&d, lit) == 0 || !strstr(err_msg(), "number out of range")) {
			json_doc_free(&d);
			fprintf(stderr, "    %s: accepted, strtod overflows\n", lit);
			return check_fail_at(__FILE__, __LINE__, "infinite refused");
		}
		return 1;
	}
	if (parse(&d, lit) < 0) {
		fprintf(stderr, "    %s: %s\n", lit, err_msg());
		return check_fail_at(__FILE__, __LINE__, "number parsed");
	}
	double got = d.root->type == JSON_DOUBLE ? d.root->u.d : (double)d.root->u.i;
	int ok = d.root->type == JSON_INT || !memcmp(&got, &want, sizeof(got));
	if (!ok) {
		fprintf(stderr, "    %s: got %a, strtod %a\n", lit, got, want);
		check_fail_at(__FILE__, __LINE__, "json double == strtod");
	}
	if (ok && d.root->type == JSON_DOUBLE) {
		char *out = write_value(d.root, 0);
		double back = out ? strtod(out, NULL) : 0;
		if (!out || memcmp(&back, &want, sizeof(back))) {
			fprintf(stderr, "    %s written as %s\n", lit, out ? out : "(nothing)");
			ok = check_fail_at(__FILE__, __LINE__, "written double reads back");
		}
		free(out);
	}
	json_doc_free(&d);
	return ok;
}

static void test_numbers_against_strtod(void)
{
	static const char *edges[] = {
		"0.0",
		"-0.0",
		"0e5",
		"-0e-5",
		"1.0",
		"0.1",
		"0.5",
		"1e23",
		"8.5e-323",
		"2.2250738585072011e-308",
		"2.2250738585072014e-308", /* around DBL_MIN */
		"2.225073858507201136057409796709131975934819546351645648e-308",
		"4.9406564584124654e-324",
		"2.4703282292062328e-324", /* half the smallest: 0 */
		"2.4703282292062328e-324",
		"2.4703282292062329e-324",
		"1e-400",
		"-1e-400",
		"1.7976931348623157e308",
		"1.7976931348623158e308",
		"1.7976931348623159e308", /* rounds to infinity */
		"1e309",
		"-1e309",
		"1e99999",
		"1e-99999",
		"9007199254740993.0",
		"9007199254740992.999999999999999999999999999999999999999999999",
		"0.30000000000000004",
		"123456789012345678901234567890e-30",
		"0.000000000000000000000000000000000000000000000000000000000001",
		"1.00000000000000011102230246251565404236316680908203125", /* an exact tie */
		"1.00000000000000011102230246251565404236316680908203126",
		"1.00000000000000033306690738754696212708950042724609375", /* tie, odd below */
		"3.0e-5",
		"5e-324",
		"1E+2",
		"1e+00000000000000000000000000000000000000000000000002",
	};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		number_agrees(edges[i]);
	int failures = 0;
	for (int i = 0; i < 60000 && failures < 10; i++) {
		char lit[JSON_NUMBER_LEN_MAX + 1];
		size_t o = 0;
		if (next_rand() % 2)
			lit[o++] = '-';
		int idigits = 1 + (int)(next_rand() % 20), fdigits = (int)(next_rand() % 25);
		if (next_rand() % 4 == 0)
			idigits = 1;
		for (int k = 0; k < idigits; k++)
			lit[o++] = (char)('0' + (k == 0 && idigits > 1 ? 1 + next_rand() % 9
								       : next_rand() % 10));
		if (fdigits) {
			lit[o++] = '.';
			for (int k = 0; k < fdigits; k++)
				lit[o++] = (char)('0' + next_rand() % 10);
		}
		if (!fdigits || next_rand() % 3) {
			int e = (int)(next_rand() % 700) - 350;
			o += (size_t)snprintf(lit + o, sizeof(lit) - o, "e%d", e);
		}
		lit[o] = 0;
		if (!number_agrees(lit))
			failures++;
	}
	/* Doubles chosen by their bits (subnormals, huge, halfway cases) written and read back. */
	for (int i = 0; i < 30000 && failures < 10; i++) {
		uint64_t bits = next_rand();
		double v;
		memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v))
			continue;
		char lit[64];
		snprintf(lit, sizeof(lit), "%.17e", v);
		if (!number_agrees(lit))
			failures++;
		snprintf(lit, sizeof(lit), "%.*e", (int)(next_rand() % 17), v);
		if (!number_agrees(lit))
			failures++;
	}
}

/* Documents that write back byte for byte (compact, sorted, escapes as the writer makes them). */
static const char *canonical[] = {
	"{\"a\":[1,-2,3.5,1e+100,-0.0,true,false,null],\"b\":{\"c\":\"\\u0001\\n\\\"x\\\\\"}}",
	"[[[[]]],{},\"\",0]",
	"\"\xf0\x9f\x98\x80\"",
	"{\"disks\":[{\"mode\":\"rw\",\"name\":\"None\",\"size\":1024}],\"ts\":[1700000000,999999]}",
	"2.5e-300",
	"[0.30000000000000004,100.0,1e+16,123456789012345.6]",
};

static void test_round_trip(void)
{
	for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		struct json_doc d, d2;
		CHECK_INT(parse(&d, canonical[i]), 0);
		char *out = write_value(d.root, 0);
		if (CHECK(out != NULL))
			CHECK_STR(out, canonical[i]);
		CHECK_INT(parse(&d2, out), 0);
		CHECK(json_equal(d.root, d2.root));
		free(out);
		json_doc_free(&d);
		json_doc_free(&d2);
	}
	/* Whitespace, key order and escapes change; the value does not. */
	struct json_doc a, b;
	CHECK_INT(parse(&a, " { \"y\" : [ 1 , \"\\u0041\\/\" ] ,\n\"x\" : 0.5e1 } "), 0);
	char *out = write_value(a.root, 0);
	CHECK_STR(out, "{\"x\":5.0,\"y\":[1,\"A/\"]}");
	CHECK_INT(parse(&b, out), 0);
	CHECK(json_equal(a.root, b.root));
	free(out);
	json_doc_free(&b);
	/* json_equal tells values apart. */
	const char *others[] = {"{\"x\":5,\"y\":[1,\"A/\"]}", "{\"x\":5.0,\"y\":[1,\"A\"]}",
				"{\"x\":5.0,\"z\":[1,\"A/\"]}", "{\"x\":5.0,\"y\":[1,\"A/\",null]}",
				"{\"x\":5.0}"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CHECK_INT(parse(&b, others[i]), 0);
		CHECK(!json_equal(a.root, b.root));
		json_doc_free(&b);
	}
	json_doc_free(&a);
}

/*
 * Independent oracle: Python's json module re-serialises what we wrote with
 * sort_keys, ensure_ascii and compact separators; for these values its text
 * must equal ours byte for byte, and it must accept everything we write.
 */
static void test_python_agrees(void)
{
	static const char script[] =
		"import json,sys\n"
		"for line in sys.stdin.read().split('\\x1e'):\n"
		"    v = json.loads(line)\n"
		"    sys.stdout.write(json.dumps(v, sort_keys=True, ensure_ascii=True,"
		" separators=(',', ':')) + '\\x1e')\n";
	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("SKIP json:test_python_agrees: /usr/bin/python3 missing\n");
		return;
	}
	static const char *docs[] = {
		"{\"b\":[1,2.5,\"\xc3\xa9\\u0001\\u001f\x7f\\t\"],\"a\":{\"z\":null,\"\xe2\x82\xac\":true}}",
		"[0.1,1e+16,1e-05,0.0001,-0.0,1.5,123456789.0,-9223372036854775808]",
		"\"\xf0\x9f\x98\x80 \\\" \\\\ / \\b\\f\\n\\r\"",
		"{\"a\\\"\":1,\"a#\":2,\"A\":3,\"\":4}",
	};
	char in[4096] = "", want[4096] = "", out[8192];
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct json_doc d;
		CHECK_INT(parse(&d, docs[i]), 0);
		char *ours = write_value(d.root, JSON_WRITE_SORTED | JSON_WRITE_ASCII);
		CHECK(ours != NULL);
		if (i)
			strcat(in, "\x1e");
		strcat(in, ours);
		strcat(want, ours);
		strcat(want, "\x1e");
		free(ours);
		json_doc_free(&d);
	}
	char *argv[] = {"/usr/bin/python3", "-c", (char *)script, NULL};
	CHECK_INT(spawn_capture(argv, in, strlen(in), out, sizeof(out)), 0);
	CHECK_STR(out, want);
}

int main(void)
{
	RUN(test_scalars);
	RUN(test_string_escapes);
	RUN(test_refusals);
	RUN(test_bounds);
	RUN(test_accessors_and_paths);
	RUN(test_objects_sorted_and_parents);
	RUN(test_writer_basics);
	RUN(test_writer_sorted);
	RUN(test_writer_misuse);
	RUN(test_writer_raw);
	RUN(test_round_trip);
	RUN(test_numbers_against_strtod);
	RUN(test_python_agrees);
	return CHECK_DONE();
}
