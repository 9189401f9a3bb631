/* JSON (RFC 8259) for the cluster API: a bounded parser for untrusted input and a writer. */
#ifndef FERRY_JSON_H
#define FERRY_JSON_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bounds on what json_parse accepts (docs/http-json.md says why). Every
 * input larger or deeper than these is refused before anything is built.
 */
#define JSON_INPUT_MAX	    (8u << 20) /* bytes of JSON text */
#define JSON_DEPTH_MAX	    64	       /* nesting of arrays and objects */
#define JSON_STRING_MAX	    (1u << 20) /* decoded bytes of one string or key */
#define JSON_VALUES_MAX	    (1u << 20) /* values in one document (members count once) */
#define JSON_NUMBER_LEN_MAX 64	       /* characters of one number literal */
/* Bound on the text one writer produces (the writer fails beyond it). */
#define JSON_OUTPUT_MAX (64u << 20)
/* Longest path json_path renders ("disks[0].size"); longer ones are cut with "...". */
#define JSON_PATH_MAX 256

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_INT,    /* an integer literal (no fraction, no exponent) that fits int64_t */
	JSON_DOUBLE, /* a literal with a fraction or an exponent, finite */
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/*
 * A parsed value. Read it through the functions below; the fields are
 * public only so that callers can iterate quickly. Children of an array or
 * object are contiguous (kids[0..len)); object members are sorted by key
 * (bytewise, which is code point order for UTF-8) and keys are unique.
 * Strings and keys are NUL-terminated UTF-8 without NUL bytes inside.
 */
struct json {
	uint8_t type;	 /* enum json_type */
	uint32_t len;	 /* string bytes, array elements or object members */
	const char *key; /* the member's key if the parent is an object, else NULL */
	struct json *up; /* the parent, NULL for the root */
	union {
		int b;		   /* JSON_BOOL: 0 or 1 */
		int64_t i;	   /* JSON_INT */
		double d;	   /* JSON_DOUBLE */
		const char *s;	   /* JSON_STRING */
		struct json *kids; /* JSON_ARRAY, JSON_OBJECT */
	} u;
};

/* A parsed document: every value and string lives in one allocation. */
struct json_doc {
	struct json *root;
	void *mem;
};

/*
 * Parses exactly one JSON value from TEXT[0..LEN) (surrounding whitespace
 * allowed, nothing else). Strict RFC 8259: no comments, no trailing commas,
 * no BOM, no NaN/Infinity, no leading zeros; strings must be valid UTF-8
 * (no overlong forms, no surrogates), escapes \uXXXX with surrogate pairs
 * are decoded to UTF-8, lone surrogates, raw control characters and
 * \u0000 are refused; duplicate keys in one object are refused; integers
 * beyond int64_t and numbers beyond double are refused. Everything is
 * checked in a first pass, then the document is built in one allocation of
 * exactly the size it needs. Returns 0 and fills DOC (free it with
 * json_doc_free), or -1 with err_set naming the byte offset; DOC is then
 * empty (json_doc_free on it is harmless).
 */
int json_parse(struct json_doc *doc, const char *text, size_t len);
/* Checks TEXT like json_parse without building anything. 0 or -1 with err_set. */
int json_validate(const char *text, size_t len);
/* Frees everything of DOC (values and strings) and empties it. DOC may be empty. */
void json_doc_free(struct json_doc *doc);

/* Name of a type for messages: "null", "boolean", "integer", "number", "string", "array", "object". */
const char *json_type_name(enum json_type type);

/*
 * Renders where V sits in its document, e.g. "disks[0].size", into BUF
 * (CAP bytes, NUL-terminated, cut with "..." if too small). Keys that are
 * not plain identifiers are rendered as ["key"]. The root is "top level".
 */
void json_path(const struct json *v, char *buf, size_t cap);

/* Navigation. Each returns NULL when V is NULL, of another type, or has no such child. */
const struct json *json_get(const struct json *obj, const char *key); /* binary search */
const struct json *json_at(const struct json *arr, size_t index);

/*
 * Typed reads. Each returns 0, or -1 with err_set("PATH: expected TYPE,
 * got TYPE") when V is of another type. V must not be NULL.
 */
int json_expect(const struct json *v, enum json_type type);
int json_as_int(const struct json *v, int64_t *out);
/* As json_as_int, also failing with "PATH: N out of range [MIN, MAX]". */
int json_as_int_range(const struct json *v, int64_t min, int64_t max, int64_t *out);
/* Integers are converted; doubles as they are. */
int json_as_double(const struct json *v, double *out);
int json_as_bool(const struct json *v, int *out);
/* *S points into the document; *LEN (if LEN is not NULL) gets its length. */
int json_as_string(const struct json *v, const char **s, size_t *len);

/*
 * Member reads: like the json_as_* above on json_get(OBJ, KEY), failing
 * with "PATH.KEY: missing" when the member is absent and "PATH: expected
 * object" when OBJ is not an object. OBJ must not be NULL.
 */
const struct json *json_need(const struct json *obj, const char *key, enum json_type type);
int json_get_int(const struct json *obj, const char *key, int64_t *out);
int json_get_bool(const struct json *obj, const char *key, int *out);
int json_get_string(const struct json *obj, const char *key, const char **s);

/* 1 if A and B are the same JSON value (type, value, keys, order of elements), else 0. */
int json_equal(const struct json *a, const struct json *b);

/*
 * The writer: builds JSON text in a growable buffer. Calls are checked
 * against the structure (a key only inside an object, a value after each
 * key, balanced ends); the first misuse or failure is recorded and every
 * later call does nothing, so a caller may check once, at json_writer_finish.
 * Output is compact (no spaces). Strings are escaped as RFC 8259 requires
 * (quote, backslash, control characters as \n \t ... or \u00XX); non-ASCII
 * passes through as UTF-8 unless JSON_WRITE_ASCII is set (then \uXXXX, with
 * surrogate pairs, and DEL as \u007f: Python's ensure_ascii output). Doubles
 * are written like Python's repr (shortest text that reads back). Strings given to the writer must be valid UTF-8 without
 * NUL when given as C strings (json_write_strn allows NUL, written \u0000).
 */
#define JSON_WRITE_SORTED                                                                          \
	1u		    /* emit each object's members sorted by key (like Python's sort_keys) */
#define JSON_WRITE_ASCII 2u /* escape everything outside ASCII */

struct json_writer {
	char *buf;
	size_t len, cap;
	unsigned flags;
	int failed; /* 0, or -1 after the first error (err_msg says why, see err_text) */
	char err_text[128];
	unsigned depth;
	uint8_t frame[JSON_DEPTH_MAX];	  /* per open container: kind and state */
	size_t obj_first[JSON_DEPTH_MAX]; /* index of the container's first member span */
	/* JSON_WRITE_SORTED: the members of open objects, to sort at their end. */
	struct json_span {
		size_t start;		 /* offset of the member's key in buf */
		size_t key_off, key_len; /* the raw key in keys */
	} * spans;
	size_t nspans, spans_cap;
	char *keys;
	size_t keys_len, keys_cap;
};

void json_writer_init(struct json_writer *w, unsigned flags);
/* Frees the writer's buffers (also after json_writer_finish handed them out). */
void json_writer_free(struct json_writer *w);

void json_write_object_begin(struct json_writer *w);
void json_write_object_end(struct json_writer *w);
void json_write_array_begin(struct json_writer *w);
void json_write_array_end(struct json_writer *w);
/* A member's key inside an object; the next call writes its value. */
void json_write_key(struct json_writer *w, const char *key);
void json_write_string(struct json_writer *w, const char *s);
void json_write_strn(struct json_writer *w, const char *s, size_t n);
void json_write_int(struct json_writer *w, int64_t v);
/* A finite double: the shortest text that reads back the same, always with '.' or 'e'. */
void json_write_double(struct json_writer *w, double v);
void json_write_bool(struct json_writer *w, int v);
void json_write_null(struct json_writer *w);
/* A parsed value (and everything inside it). */
void json_write_value(struct json_writer *w, const struct json *v);
/* An already serialised value, copied verbatim after checking it is exactly one JSON value. */
void json_write_raw(struct json_writer *w, const char *text, size_t len);

/*
 * Ends writing: fails (-1 with err_set) if any call failed or a container
 * is still open. On success *OUT points to the NUL-terminated text (owned
 * by the caller: free() it) and *LEN (if not NULL) gets its length; the
 * writer is left empty.
 */
int json_writer_finish(struct json_writer *w, char **out, size_t *len);

#endif
