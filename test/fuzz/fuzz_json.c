/* Fuzz target for core/json: the parser on any bytes, and parse -> write -> parse stability. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_json: %s (%s)\n", what, err_msg());
	abort();
}

static char *write_value(const struct json *v, unsigned flags, size_t *len)
{
	struct json_writer w;
	char *out;
	json_writer_init(&w, flags);
	json_write_value(&w, v);
	if (json_writer_finish(&w, &out, len) < 0)
		fail("a parsed value does not write");
	return out;
}

/* Renders every path (bounded work: the document is bounded) and reads every member back. */
static void walk(const struct json *v, unsigned depth)
{
	char path[JSON_PATH_MAX];
	json_path(v, path, sizeof(path));
	if (strlen(path) >= sizeof(path))
		fail("path overflow");
	if (depth > JSON_DEPTH_MAX + 1)
		fail("deeper than the bound");
	if (v->type == JSON_OBJECT) {
		for (uint32_t i = 0; i < v->len; i++) {
			if (json_get(v, v->u.kids[i].key) != &v->u.kids[i])
				fail("member not found by its key");
			if (v->u.kids[i].up != v)
				fail("wrong parent");
			walk(&v->u.kids[i], depth + 1);
		}
	} else if (v->type == JSON_ARRAY) {
		for (uint32_t i = 0; i < v->len; i++) {
			if (json_at(v, i) != &v->u.kids[i] || v->u.kids[i].up != v)
				fail("element not found by its index");
			walk(&v->u.kids[i], depth + 1);
		}
	} else if (v->type == JSON_STRING) {
		if (strlen(v->u.s) != v->len)
			fail("string with a NUL inside");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc a, b, c;
	const char *text = (const char *)data;
	if (json_parse(&a, text, size) < 0)
		return 0;
	if (json_validate(text, size) < 0)
		fail("validate refuses what parse accepts");
	walk(a.root, 0);

	size_t n1, n2;
	char *t1 = write_value(a.root, 0, &n1);
	if (json_parse(&b, t1, n1) < 0)
		fail("our own output does not parse");
	if (!json_equal(a.root, b.root))
		fail("parse -> write -> parse changed the value");
	char *t2 = write_value(b.root, 0, &n2);
	if (n1 != n2 || memcmp(t1, t2, n1) != 0)
		fail("writing is not stable");

	char *t3 = write_value(a.root, JSON_WRITE_SORTED | JSON_WRITE_ASCII, &n2);
	for (size_t i = 0; i < n2; i++)
		if ((unsigned char)t3[i] >= 0x7f)
			fail("ASCII output with a non-ASCII byte");
	if (json_parse(&c, t3, n2) < 0 || !json_equal(a.root, c.root))
		fail("ASCII output reads back differently");

	json_doc_free(&a);
	json_doc_free(&b);
	json_doc_free(&c);
	free(t1);
	free(t2);
	free(t3);
	return 0;
}
