/* Unit tests of core/http: requests and responses through memory and socket channels, every refusal, curl and Python as peers. */
#define CHECK_SUITE "http"
#include "test/unit/check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/io.h"
#include "core/json.h"
#include "test/lib/spawn.h"

/* ---- A channel over memory: input given in steps of at most STEP bytes, output collected. */

struct mem {
	const uint8_t *in;
	size_t in_len, in_pos, step;
	char out[1 << 16];
	size_t out_len;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->in_len - m->in_pos;
	if (k > n)
		k = n;
	if (m->step && k > m->step)
		k = m->step;
	memcpy(buf, m->in + m->in_pos, k);
	m->in_pos += k;
	return (ssize_t)k;
}

static ssize_t mem_write(void *ctx, const void *buf, size_t n)
{
	struct mem *m = ctx;
	if (n > sizeof(m->out) - 1 - m->out_len)
		return err_set("memory channel full");
	memcpy(m->out + m->out_len, buf, n);
	m->out_len += n;
	m->out[m->out_len] = 0;
	return (ssize_t)n;
}

static struct mem mem;
static struct http_request req;
static uint8_t inbuf[4096], outbuf[4096];

/* Runs http_request_read on RAW (LEN bytes) delivered STEP bytes at a time. */
static int serve_raw(const char *raw, size_t len, size_t step, size_t body_max, const char *type)
{
	struct io_chan ch = {&mem, mem_read, mem_write};
	struct io_in in;
	struct io_out out;
	memset(&mem, 0, sizeof(mem));
	mem.in = (const uint8_t *)raw;
	mem.in_len = len;
	mem.step = step;
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	io_out_init(&out, &ch, outbuf, sizeof(outbuf));
	return http_request_read(&req, &in, &out, body_max, type);
}

static int serve(const char *raw)
{
	return serve_raw(raw, strlen(raw), 0, 0, NULL);
}

/* ---- Server side: what is accepted ---------------------------------------------------- */

static void test_request_get_with_query(void)
{
	const char *raw = "GET /2/instances/inst1.example.com/info?static=1&x=a%20b+c&flag&=e&"
			  "k%3D=v%26w HTTP/1.1\r\n"
			  "Host: 127.0.0.1:5080\r\n"
			  "User-Agent: Ganeti RAPI Client\r\n"
			  "accept:application/json  \r\n"
			  "X-Empty:\r\n"
			  "\r\n";
	/* One byte at a time and all at once give the same result. */
	for (size_t step = 0; step <= 1; step++) {
		CHECK_INT(serve_raw(raw, strlen(raw), step, 0, "application/json"), 0);
		CHECK_STR(req.method, "GET");
		CHECK_STR(req.path, "/2/instances/inst1.example.com/info");
		CHECK_STR(req.query, "static=1&x=a%20b+c&flag&=e&k%3D=v%26w");
		CHECK_INT(req.minor, 1);
		CHECK_STR(req.host, "127.0.0.1:5080");
		CHECK_INT(req.nparams, 5);
		CHECK_STR(http_query_get(&req, "static"), "1");
		CHECK_STR(http_query_get(&req, "x"), "a b c");
		CHECK_STR(http_query_get(&req, "flag"), "");
		CHECK_STR(http_query_get(&req, ""), "e");
		CHECK_STR(http_query_get(&req, "k="), "v&w");
		CHECK(http_query_get(&req, "nope") == NULL);
		CHECK_STR(http_header_get(req.headers, req.nheaders, "ACCEPT"), "application/json");
		CHECK_STR(http_header_get(req.headers, req.nheaders, "x-empty"), "");
		CHECK_INT(req.auth, HTTP_AUTH_NONE);
		CHECK(req.body == NULL && req.body_len == 0);
		CHECK_STR(req.content_type, "");
		CHECK_INT(mem.out_len, 0);
		http_request_free(&req);
	}
}

static void test_request_body_and_auth(void)
{
	char raw[1024];
	char cred[64];
	base64_encode(cred, "ganeti:pa:ss word", 17);
	snprintf(raw, sizeof(raw),
		 "PUT /2/instances/x/export HTTP/1.1\r\n"
		 "Host: h\r\n"
		 "Content-Type: Application/JSON; charset=utf-8\r\n"
		 "Authorization: basic   %s\r\n"
		 "Content-Length: 14\r\n"
		 "\r\n"
		 "{\"mode\": \"rw\"}",
		 cred);
	CHECK_INT(serve_raw(raw, strlen(raw), 3, 0, "application/json"), 0);
	CHECK_STR(req.method, "PUT");
	CHECK_STR(req.content_type, "application/json");
	CHECK_INT(req.auth, HTTP_AUTH_BASIC);
	CHECK_STR(req.user, "ganeti");
	CHECK_STR(req.password, "pa:ss word");
	CHECK_INT(req.body_len, 14);
	CHECK_STR((char *)req.body, "{\"mode\": \"rw\"}");
	CHECK_INT(req.sent_continue, 0);
	/* Freeing wipes the credentials from the head and the decoded area. */
	http_request_free(&req);
	CHECK(memmem(req.head, sizeof(req.head), cred, strlen(cred)) == NULL);
	CHECK(memmem(req.decoded, sizeof(req.decoded), "pa:ss", 5) == NULL);

	/* Another scheme is reported, not refused: the server answers 401. */
	CHECK_INT(serve("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc\r\n\r\n"), 0);
	CHECK_INT(req.auth, HTTP_AUTH_OTHER);
	CHECK(req.user == NULL);
	http_request_free(&req);

	/* Empty user and password are well-formed. */
	CHECK_INT(serve("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic Og==\r\n\r\n"), 0);
	CHECK_STR(req.user, "");
	CHECK_STR(req.password, "");
	http_request_free(&req);

	/* Repeated equal Content-Length values are one length. */
	const char *twice = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n"
			    "Content-Length: 3\r\nContent-Type: application/json\r\n\r\n[1]";
	CHECK_INT(serve(twice), 0);
	CHECK_INT(req.body_len, 3);
	http_request_free(&req);

	/* Content-Length: 0 is no body, and needs no Content-Type. */
	const char *zero = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
	CHECK_INT(serve_raw(zero, strlen(zero), 0, 0, "application/json"), 0);
	CHECK(req.body == NULL);
	http_request_free(&req);
}

static void test_request_chunked(void)
{
	const char *raw = "POST /2/instances HTTP/1.1\r\nHost: h\r\n"
			  "Transfer-Encoding: Chunked\r\nContent-Type: application/json\r\n\r\n"
			  "5\r\nhello\r\n"
			  "6;name=value\r\n world\r\n"
			  "00A \r\n, chunked!\r\n"
			  "0\r\nX-Trailer: dropped\r\n\r\n"
			  "GET /next";
	for (size_t step = 0; step <= 1; step++) {
		CHECK_INT(serve_raw(raw, strlen(raw), step, 0, "application/json"), 0);
		CHECK_INT(req.body_len, 21);
		CHECK_STR((char *)req.body, "hello world, chunked!");
		/* The next request's bytes are left unread. */
		CHECK(http_header_get(req.headers, req.nheaders, "x-trailer") == NULL);
		http_request_free(&req);
	}
	/* Exactly at the bound passes. */
	const char *at_bound = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n";
	CHECK_INT(serve_raw(at_bound, strlen(at_bound), 0, 10, NULL), 0);
	CHECK_INT(req.body_len, 10);
	http_request_free(&req);
}

static void test_request_expect_continue(void)
{
	const char *raw = "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
			  "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
	CHECK_INT(serve_raw(raw, strlen(raw), 0, 0, "application/json"), 0);
	CHECK_STR(mem.out, "HTTP/1.1 100 Continue\r\n\r\n");
	CHECK_INT(req.sent_continue, 1);
	CHECK_STR((char *)req.body, "{}");
	http_request_free(&req);
	/* No body: no 100. */
	CHECK_INT(serve("GET /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n"), 0);
	CHECK_INT(mem.out_len, 0);
	CHECK_INT(req.sent_continue, 0);
	http_request_free(&req);
	/* A refused request gets its final status instead of 100 (and its body is never read). */
	const char *big = "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
			  "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
	CHECK_INT(serve_raw(big, strlen(big), 0, 0, "application/json"), -1);
	CHECK_INT(req.status, 413);
	CHECK_INT(mem.out_len, 0);
	http_request_free(&req);
	const char *wrong_type = "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				 "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
	CHECK_INT(serve_raw(wrong_type, strlen(wrong_type), 0, 0, "application/json"), -1);
	CHECK_INT(req.status, 415);
	CHECK_INT(mem.out_len, 0);
	http_request_free(&req);
	/* HTTP/1.0 clients never get a 100. */
	const char *old = "POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}";
	CHECK_INT(serve(old), 0);
	CHECK_INT(mem.out_len, 0);
	http_request_free(&req);
}

static void test_request_forms(void)
{
	/* Absolute-form targets. */
	CHECK_INT(
		serve("GET HTTP://cluster.example.com:5080/2/info?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"),
		0);
	CHECK_STR(req.path, "/2/info");
	CHECK_STR(http_query_get(&req, "x"), "1");
	http_request_free(&req);
	CHECK_INT(serve("GET https://h?y=2 HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
	CHECK_STR(req.path, "/");
	CHECK_STR(http_query_get(&req, "y"), "2");
	http_request_free(&req);
	/* HTTP/1.0 needs no Host; HTTP/1.9 reads as 1.1. */
	CHECK_INT(serve("GET /version HTTP/1.0\r\n\r\n"), 0);
	CHECK_INT(req.minor, 0);
	CHECK(req.host == NULL);
	http_request_free(&req);
	CHECK_INT(serve("GET / HTTP/1.9\r\nHost: h\r\n\r\n"), 0);
	CHECK_INT(req.minor, 1);
	http_request_free(&req);
	/* Decoded path with an encoded space and UTF-8; empty segments are fine. */
	CHECK_INT(serve("GET /a%20b//%C3%A9/ HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
	CHECK_STR(req.path, "/a b//\xc3\xa9/");
	http_request_free(&req);
	/* A clean end of input before the first byte is not an error. */
	CHECK_INT(serve(""), 1);
	http_request_free(&req);
}

/* ---- Server side: what is refused, and with which status -------------------------------- */

static void test_request_refusals(void)
{
	static char long_target[6000], long_header[9000], many_headers[4000], many_params[600];
	snprintf(long_target, sizeof(long_target), "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", 4100,
		 0);
	snprintf(long_header, sizeof(long_header),
		 "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %0*d\r\n\r\n", 8200, 0);
	strcpy(many_headers, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 0; i < HTTP_HEADERS_MAX; i++)
		strcat(many_headers, "X-A: b\r\n");
	strcat(many_headers, "\r\n");
	strcpy(many_params, "GET /?");
	for (int i = 0; i <= HTTP_QUERY_PARAMS_MAX; i++)
		strcat(many_params, "a=1&");
	strcat(many_params, " HTTP/1.1\r\nHost: h\r\n\r\n");

	static const struct {
		const char *raw;
		int status;
		const char *why;
	} cases[] = {
		{"GET / HTTP/1.1\nHost: h\n\n", 400, "LF without CR"},
		{"GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "LF without CR"},
		{"GET / HTTP/1.1\rHost: h\r\n\r\n", 400, "CR without LF"},
		{"GET / HTTP/1.1\r\nHost: h\r\n", 400, "connection closed"},
		{"GET / HTTP/1.1", 400, "connection closed"},
		{"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "empty request line"},
		{"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target"},
		{"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "malformed HTTP version"},
		{"GET /\r\nHost: h\r\n\r\n", 400, "malformed request line"},
		{"GET / http/1.1\r\nHost: h\r\n\r\n", 400, "malformed HTTP version"},
		{"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "malformed HTTP version"},
		{"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "not supported"},
		{"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505, "not supported"},
		{"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed method"},
		{"ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nHost: h\r\n\r\n", 501, "method longer"},
		{"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target"},
		{"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400, "obsolete folding"},
		{"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "malformed header line"},
		{"GET / HTTP/1.1\r\nHost: h\r\nX\x1b[31m\xc3\xa9: v\r\n\r\n", 400,
		 "malformed header line 'X?[31m??: v'"},
		{"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400, "malformed header line"},
		{"GET / HTTP/1.1\r\n: h\r\n\r\n", 400, "malformed header line"},
		{"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", 400, "control character 0x01"},
		{"GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n", 400, "control character 0x7f"},
		{"GET / HTTP/1.1\r\n\r\n", 400, "no Host"},
		{"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, "more than one Host"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400,
		 "malformed Content-Length"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400,
		 "malformed Content-Length"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 400,
		 "malformed Content-Length"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400,
		 "malformed Content-Length"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,\r\n\r\n", 400,
		 "malformed Content-Length"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400,
		 "malformed Content-Length"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n", 400, "conflicting"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		 400, "conflicting"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n"
		 "Content-Length: 18446744073709551617\r\n\r\n",
		 413, "larger than"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		 413, "larger than"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", 413,
		 "larger than"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345", 400,
		 "body shorter"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
		 "unsupported Transfer-Encoding"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
		 "unsupported Transfer-Encoding"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n",
		 501, "unsupported Transfer-Encoding"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		 400, "both Transfer-Encoding and Content-Length"},
		{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
		 "malformed chunk size"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400,
		 "malformed chunk size"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n", 400,
		 "malformed chunk size"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
		 400, "not followed by CRLF"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 400,
		 "connection closed"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
		 400, "connection closed"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413,
		 "larger than"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "fffffffffffffffff\r\n",
		 413, "too large"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
		 400, "malformed header line"},
		{"GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "'..' segment"},
		{"GET /a/.. HTTP/1.1\r\nHost: h\r\n\r\n", 400, "'..' segment"},
		{"GET /a/%2e%2E/b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "'..' segment"},
		{"GET /./b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "'.' or '..' segment"},
		{"GET /a%2fb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "encoded '/'"},
		{"GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "%00"},
		{"GET /a%0Ab HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control character in the path"},
		{"GET /a%zzb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed percent escape"},
		{"GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed percent escape"},
		{"GET /a% HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed percent escape"},
		{"GET /x#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400, "fragment"},
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "must start with '/'"},
		{"GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "must start with '/'"},
		{"GET /?a=%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400, "query: malformed percent escape"},
		{"GET /?a=%00 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "%00"},
		{"GET /?%=1 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed percent escape"},
		{"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic !!!!\r\n\r\n", 400,
		 "Basic credentials"},
		{"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dXNlcg=\r\n\r\n", 400,
		 "Basic credentials"},
		{"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dXNlcg==\r\n\r\n", 400,
		 "without ':'"},
		{"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dQB4OnB3\r\n\r\n", 400,
		 "control character in credentials"},
		{"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic\tdTpw\r\n\r\n", 400,
		 "malformed Authorization"},
		{"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dTpw\r\nAuthorization: Basic dTpw\r\n\r\n",
		 400, "more than one Authorization"},
		{"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: json\r\n\r\n", 400,
		 "malformed Content-Type"},
		{"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: application/\r\n\r\n", 400,
		 "malformed Content-Type"},
		{"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: a/b c\r\n\r\n", 400,
		 "malformed Content-Type"},
		{"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: a/b\r\nContent-Type: a/b\r\n\r\n", 400,
		 "more than one Content-Type"},
		{"GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417,
		 "unsupported expectation"},
		{long_target, 414, "request line longer than 4096"},
		{long_header, 431, "header block longer than 8192"},
		{many_headers, 431, "more than 100 header lines"},
		{many_params, 400, "more than 64 query parameters"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = serve(cases[i].raw);
		int ok = CHECK_INT(r, -1);
		ok &= CHECK_INT(req.status, cases[i].status);
		ok &= CHECK(strstr(err_msg(), cases[i].why) != NULL);
		if (!ok)
			fprintf(stderr, "    case %zu: status %d, \"%s\"\n", i, req.status,
				err_msg());
		CHECK(req.body == NULL);
		http_request_free(&req);
	}
	/* A NUL byte in the head (cannot be written in the table above). */
	CHECK_INT(serve_raw("GET / HTTP/1.1\r\nHost: h\0\r\n\r\n", 27, 0, 0, NULL), -1);
	CHECK_INT(req.status, 400);
	CHECK(strstr(err_msg(), "NUL byte") != NULL);
	http_request_free(&req);

	/* Bodies: of the wrong type (415), too large for the caller's bound (413). */
	const char *typed[][2] = {
		{"POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
		 "not text/plain"},
		{"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
		 "without Content-Type"},
		{"POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: application/jsonx\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		 "not application/jsonx"},
	};
	for (size_t i = 0; i < 3; i++) {
		CHECK_INT(serve_raw(typed[i][0], strlen(typed[i][0]), 0, 0, "application/json"),
			  -1);
		CHECK_INT(req.status, 415);
		CHECK(strstr(err_msg(), typed[i][1]) != NULL);
		http_request_free(&req);
	}
	const char *over = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "4\r\nabcd\r\n7\r\nefghijk\r\n0\r\n\r\n";
	CHECK_INT(serve_raw(over, strlen(over), 0, 10, NULL), -1);
	CHECK_INT(req.status, 413);
	http_request_free(&req);
	const char *eleven = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
	CHECK_INT(serve_raw(eleven, strlen(eleven), 0, 10, NULL), -1);
	CHECK_INT(req.status, 413);
	http_request_free(&req);
}

/* A channel whose reads fail: the status must be 0 (nothing can be answered). */
static ssize_t broken_read(void *ctx, void *buf, size_t n)
{
	return err_set("read: connection reset by peer");
}

static void test_request_io_error(void)
{
	struct io_chan ch = {NULL, broken_read, mem_write};
	struct io_in in;
	struct io_out out;
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	io_out_init(&out, &ch, outbuf, sizeof(outbuf));
	CHECK_INT(http_request_read(&req, &in, &out, 0, NULL), -1);
	CHECK_INT(req.status, 0);
	CHECK(strstr(err_msg(), "connection reset") != NULL);
	http_request_free(&req);
}

/* ---- Server side: responses ------------------------------------------------------------- */

static int mem_out_start(struct io_out *out, struct io_chan *ch)
{
	memset(&mem, 0, sizeof(mem));
	ch->ctx = &mem;
	ch->read = mem_read;
	ch->write = mem_write;
	io_out_init(out, ch, outbuf, sizeof(outbuf));
	return 0;
}

/* Replaces the Date header's value in TEXT by "DATE" after checking its form. */
static void mask_date(char *text)
{
	char *d = strstr(text, "\r\nDate: ");
	if (!CHECK(d != NULL))
		return;
	d += 8;
	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
	CHECK(d[3] == ',' && d[4] == ' ' && d[7] == ' ' && d[11] == ' ' && d[16] == ' ' &&
	      d[19] == ':' && d[22] == ':' && memcmp(d + 25, " GMT\r\n", 6) == 0);
	memmove(d + 4, d + HTTP_DATE_LEN, strlen(d + HTTP_DATE_LEN) + 1);
	memcpy(d, "DATE", 4);
}

static void test_response_write(void)
{
	struct io_chan ch;
	struct io_out out;
	mem_out_start(&out, &ch);
	struct http_header extra[] = {{"WWW-Authenticate", "Basic realm=\"Ganeti Remote API\""}};
	CHECK_INT(http_response_write(&out, 401, "application/json", extra, 1, "{}", 2), 0);
	mask_date(mem.out);
	CHECK_STR(mem.out,
		  "HTTP/1.1 401 Unauthorized\r\nDate: DATE\r\nContent-Type: application/json\r\n"
		  "Content-Length: 2\r\nConnection: close\r\n"
		  "WWW-Authenticate: Basic realm=\"Ganeti Remote API\"\r\n\r\n{}");

	mem_out_start(&out, &ch);
	CHECK_INT(http_error_write(&out, 404, "Instance 'x' not known", NULL, 0), 0);
	mask_date(mem.out);
	const char *body =
		"{\"code\":404,\"explain\":\"Instance 'x' not known\",\"message\":\"Not Found\"}";
	char want[512];
	snprintf(want, sizeof(want),
		 "HTTP/1.1 404 Not Found\r\nDate: DATE\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		 strlen(body), body);
	CHECK_STR(mem.out, want);

	/* An explanation that is not UTF-8 does not produce broken JSON. */
	mem_out_start(&out, &ch);
	CHECK_INT(http_error_write(&out, 400, "bad \xff byte", NULL, 0), 0);
	CHECK(strstr(mem.out, "\"explain\":\"(explanation not printable)\"") != NULL);

	/* Header injection and framing headers are refused, and nothing is written. */
	struct http_header bad[][1] = {
		{{"X-A", "x\r\nSet-Cookie: y"}},
		{{"X-A", "x\ny"}},
		{{"X-A", "x\ry"}},
		{{"X-A", "\x1b[2J"}},
		{{"X A", "x"}},
		{{"X-A:", "x"}},
		{{"", "x"}},
		{{"Content-Length", "5"}},
		{{"connection", "keep-alive"}},
		{{"Transfer-Encoding", "chunked"}},
		{{"Content-Type", "text/plain"}},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mem_out_start(&out, &ch);
		CHECK_INT(http_response_write(&out, 200, NULL, bad[i], 1, "", 0), -1);
		CHECK_INT(mem.out_len + out.len, 0);
	}
	mem_out_start(&out, &ch);
	CHECK_INT(http_response_write(&out, 200, "text/plain\r\nX: y", NULL, 0, "", 0), -1);
	CHECK_INT(http_response_write(&out, 42, NULL, NULL, 0, "", 0), -1);
	CHECK_INT(mem.out_len + out.len, 0);
}

/* ---- Client side ------------------------------------------------------------------------ */

static void test_request_write(void)
{
	struct io_chan ch;
	struct io_out out;
	char auth[128];
	CHECK_INT(http_basic_auth(auth, sizeof(auth), "Aladdin", "open sesame"), 34);
	CHECK_STR(auth, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="); /* RFC 7617 section 2 */
	CHECK_INT(http_basic_auth(auth, sizeof(auth), "a:b", "c"), -1);
	CHECK_INT(http_basic_auth(auth, sizeof(auth), "a", "c\r\nX: y"), -1);
	CHECK_INT(http_basic_auth(auth, 20, "Aladdin", "open sesame"), -1);
	CHECK_INT(http_basic_auth(auth, sizeof(auth), "ganeti", "secret"), 26);

	struct http_header hs[] = {{"Authorization", auth},
				   {"Accept", "application/json"},
				   {"Content-type", "application/json"},
				   {"User-Agent", "Ganeti RAPI Client"}};
	mem_out_start(&out, &ch);
	CHECK_INT(http_request_write(&out, "GET", "192.0.2.1:5080", "/2/jobs/17/wait", hs, 4,
				     "{\"fields\":[\"status\"]}", 21),
		  0);
	CHECK_STR(mem.out, "GET /2/jobs/17/wait HTTP/1.1\r\nHost: 192.0.2.1:5080\r\n"
			   "Authorization: Basic Z2FuZXRpOnNlY3JldA==\r\n"
			   "Accept: application/json\r\nContent-type: application/json\r\n"
			   "User-Agent: Ganeti RAPI Client\r\nContent-Length: 21\r\n"
			   "Connection: close\r\n\r\n{\"fields\":[\"status\"]}");
	/* An empty body still announces its length; no body announces none. */
	mem_out_start(&out, &ch);
	CHECK_INT(http_request_write(&out, "GET", "[::1]:5080", "/version", NULL, 0, "", 0), 0);
	CHECK_STR(mem.out, "GET /version HTTP/1.1\r\nHost: [::1]:5080\r\nContent-Length: 0\r\n"
			   "Connection: close\r\n\r\n");
	mem_out_start(&out, &ch);
	CHECK_INT(http_request_write(&out, "GET", "h", "/version", NULL, 0, NULL, 0), 0);
	CHECK_STR(mem.out, "GET /version HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

	/* Every injection attempt is refused before a byte is written. */
	struct {
		const char *method, *host, *target, *hname, *hvalue;
	} bad[] = {
		{"GET", "h", "/x HTTP/1.1\r\nX: y", NULL, NULL},
		{"GET", "h", "/x\r\n", NULL, NULL},
		{"GET", "h", "/a b", NULL, NULL},
		{"GET", "h", "x", NULL, NULL},
		{"GET", "h", "/\xc3\xa9", NULL, NULL},
		{"GET", "h", "/x#y", NULL, NULL},
		{"GET", "h", "", NULL, NULL},
		{"GE T", "h", "/", NULL, NULL},
		{"GET\r\n", "h", "/", NULL, NULL},
		{"", "h", "/", NULL, NULL},
		{"GET", "h\r\nX: y", "/", NULL, NULL},
		{"GET", "h/x", "/", NULL, NULL},
		{"GET", "user@h", "/", NULL, NULL},
		{"GET", "", "/", NULL, NULL},
		{"GET", "h", "/", "X-A", "v\r\nInjected: 1"},
		{"GET", "h", "/", "X-A", "v\n"},
		{"GET", "h", "/", "X-A", "v\r"},
		{"GET", "h", "/", "X-A\r\nB", "v"},
		{"GET", "h", "/", "X A", "v"},
		{"GET", "h", "/", "Host", "evil"},
		{"GET", "h", "/", "content-length", "0"},
		{"GET", "h", "/", "Transfer-Encoding", "chunked"},
		{"GET", "h", "/", "Connection", "keep-alive"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_header h = {bad[i].hname, bad[i].hvalue};
		mem_out_start(&out, &ch);
		int r = http_request_write(&out, bad[i].method, bad[i].host, bad[i].target, &h,
					   bad[i].hname ? 1 : 0, "", 0);
		if (!CHECK_INT(r, -1))
			fprintf(stderr, "    case %zu accepted\n", i);
		CHECK_INT(mem.out_len + out.len, 0);
	}
}

/* Feeds RAW to http_response_read (STEP bytes at a time) for a request made with METHOD. */
static struct http_response resp;
static int read_resp(const char *raw, size_t step, const char *method, size_t max)
{
	struct io_chan ch = {&mem, mem_read, mem_write};
	struct io_in in;
	memset(&mem, 0, sizeof(mem));
	mem.in = (const uint8_t *)raw;
	mem.in_len = strlen(raw);
	mem.step = step;
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	return http_response_read(&resp, &in, method, max);
}

static void test_response_read(void)
{
	static const struct {
		const char *raw, *method, *body, *type;
		int status;
	} good[] = {
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n17",
		 "GET", "17", "application/json", 200},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n1;x=y\r\n]\r\n0\r\n"
		 "T: v\r\n\r\n",
		 "GET", "[1]", "", 200},
		{"HTTP/1.0 200 OK\r\nContent-Type: Text/HTML; charset=x\r\n\r\n<html>until close",
		 "GET", "<html>until close", "text/html", 200},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
		 "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc",
		 "PUT", "abc", "", 404},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", "", "", 200},
		{"HTTP/1.1 204 No Content\r\n\r\n", "DELETE", "", "", 204},
		{"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", "GET", "x", "", 200},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", "", "", 200},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		for (size_t step = 0; step <= 1; step++) {
			int r = read_resp(good[i].raw, step, good[i].method, 0);
			if (!CHECK_INT(r, 0)) {
				fprintf(stderr, "    case %zu: %s\n", i, err_msg());
				continue;
			}
			CHECK_INT(resp.status, good[i].status);
			CHECK_STR((char *)resp.body, good[i].body);
			CHECK_INT(resp.body_len, strlen(good[i].body));
			CHECK_STR(resp.content_type, good[i].type);
			http_response_free(&resp);
		}
	}
	CHECK_INT(read_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", 0, "GET", 0), 0);
	CHECK_STR(resp.reason, "OK");
	CHECK_INT(resp.minor, 1);
	http_response_free(&resp);

	static const struct {
		const char *raw, *why;
		size_t max;
	} bad[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890", "larger than 10", 10},
		{"HTTP/1.1 200 OK\r\n\r\n01234567890", "larger than 10", 10},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n01234567890\r\n0\r\n\r\n",
		 "larger than 10", 10},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", "shorter", 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 4\r\n\r\nabcde",
		 "conflicting", 0},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", "unsupported", 0},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n", "malformed chunk",
		 0},
		{"HTTP/2 200 OK\r\n\r\n", "malformed status line", 0},
		{"HTTP/1.1 20 OK\r\n\r\n", "malformed status code", 0},
		{"HTTP/1.1 200OK\r\n\r\n", "malformed status code", 0},
		{"HTTP/1.1 099 Low\r\n\r\n", "malformed status code", 0},
		{"HTTP/1.1 200 O\x01K\r\n\r\n", "control character", 0},
		{"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "LF without CR", 0},
		{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "folding", 0},
		{"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101", 0},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
		 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
		 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		 "interim", 0},
		{"", "connection closed", 0},
		{"HTTP/1.1 200 OK\r\nContent-Type: a\r\n\r\n", "malformed Content-Type", 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = read_resp(bad[i].raw, 0, "GET", bad[i].max);
		if (!CHECK_INT(r, -1) || !CHECK(strstr(err_msg(), bad[i].why) != NULL))
			fprintf(stderr, "    case %zu: \"%s\"\n", i, err_msg());
		CHECK(resp.body == NULL);
		http_response_free(&resp);
	}
}

static void test_response_check(void)
{
	static const struct {
		const char *raw, *msg;
	} cases[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnull", NULL},
		{"HTTP/1.1 404 Not Found\r\n\r\n{\"code\": 404, \"message\": \"Not Found\","
		 " \"explain\": \"Instance 'x' not known\"}",
		 "404 Not Found: Instance 'x' not known"},
		{"HTTP/1.1 400 Bad Request\r\n\r\n{\"code\": \"x\", \"message\": null, \"explain\": [1]}",
		 "x null: [1]"},
		{"HTTP/1.1 500 Oops\r\n\r\n[\"just\", \"a list\"]", "[\"just\",\"a list\"]"},
		{"HTTP/1.1 500 Oops\r\n\r\n{\"code\": 500}", "{\"code\":500}"},
		{"HTTP/1.1 502 Bad Gateway\r\n\r\n<html>\x1b[2Jbad\r\nsecond line",
		 "HTTP 502 Bad Gateway: "
		 "<html>?[2Jbad"},
		{"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", "HTTP 503 Busy"},
		{"HTTP/1.1 401 Unauthorized\r\n\r\n{\"code\": 401, \"message\": \"Unauthorized\","
		 " \"explain\": \"a\\u001bb\"}",
		 "401 Unauthorized: a?b"},
		{"HTTP/1.1 201 Created\r\n\r\n17", "17"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!CHECK_INT(read_resp(cases[i].raw, 0, "GET", 0), 0))
			continue;
		int r = http_response_check(&resp);
		if (cases[i].msg) {
			CHECK_INT(r, -1);
			CHECK_STR(err_msg(), cases[i].msg);
		} else {
			CHECK_INT(r, 0);
		}
		http_response_free(&resp);
	}
}

/* ---- Helpers ---------------------------------------------------------------------------- */

static void test_percent_and_query(void)
{
	char buf[128];
	CHECK_INT(http_pct_encode(buf, sizeof(buf), "inst1.example.com", 17), 17);
	CHECK_STR(buf, "inst1.example.com");
	CHECK_INT(http_pct_encode(buf, sizeof(buf), "a b/c?d&e=f%\xc3\xa9~_-", 17), 33);
	CHECK_STR(buf, "a%20b%2Fc%3Fd%26e%3Df%25%C3%A9~_-");
	CHECK_INT(http_pct_encode(buf, 4, "abcd", 4), -1);
	CHECK_INT(http_pct_encode(buf, 3, "/", 1), -1);
	CHECK_INT(http_pct_encode(buf, 4, "/", 1), 3);

	CHECK_INT(http_pct_decode(buf, sizeof(buf), "a%20b+c%2B%c3%A9", 16, 1), 8);
	CHECK_STR(buf, "a b c+\xc3\xa9");
	CHECK_INT(http_pct_decode(buf, sizeof(buf), "a+b", 3, 0), 3);
	CHECK_STR(buf, "a+b");
	CHECK_INT(http_pct_decode(buf, sizeof(buf), "%0", 2, 0), -1);
	CHECK_INT(http_pct_decode(buf, sizeof(buf), "%g0", 3, 0), -1);
	CHECK_INT(http_pct_decode(buf, sizeof(buf), "%00", 3, 0), -1);
	CHECK_INT(http_pct_decode(buf, 3, "abc", 3, 0), -1);
	/* Decoding stops at N even if more text follows (no read past the given length). */
	CHECK_INT(http_pct_decode(buf, sizeof(buf), "%4142", 2, 0), -1);

	char target[64] = "/2/instances/x/prepare-export";
	CHECK_INT(http_query_append(target, sizeof(target), "mode", "remote"), 0);
	CHECK_INT(http_query_append(target, sizeof(target), "a b", "c&d"), 0);
	CHECK_STR(target, "/2/instances/x/prepare-export?mode=remote&a%20b=c%26d");
	char small[16] = "/x";
	CHECK_INT(http_query_append(small, sizeof(small), "key", "a long value"), -1);
	CHECK_STR(small, "/x"); /* left as it was */

	char date[HTTP_DATE_LEN + 1];
	http_date(date, 784111777);
	CHECK_STR(date, "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 7231 section 7.1.1.1 */
	http_date(date, 0);
	CHECK_STR(date, "Thu, 01 Jan 1970 00:00:00 GMT");
	http_date(date, 1709208000); /* a leap day */
	CHECK_STR(date, "Thu, 29 Feb 2024 12:00:00 GMT");

	CHECK_STR(http_reason(415), "Unsupported Media Type");
	CHECK_STR(http_reason(299), "Unknown");
}

/* ---- Over real sockets ------------------------------------------------------------------ */

struct peer {
	int fd;
	const char *head, *body;
	char got[256];
};

/* Client half of the 100-continue exchange: head, wait for the 100, then the body. */
static void *continue_client(void *arg)
{
	struct peer *p = arg;
	io_write_str(p->fd, p->head);
	size_t n = 0;
	while (n < 25) { /* "HTTP/1.1 100 Continue\r\n\r\n" */
		ssize_t r = read(p->fd, p->got + n, 25 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	p->got[n] = 0;
	io_write_str(p->fd, p->body);
	shutdown(p->fd, SHUT_WR);
	return NULL;
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = {seconds, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void test_socketpair_continue(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	/* A hang guard only: nothing here measures time. */
	set_timeouts(sv[0], 60);
	set_timeouts(sv[1], 60);
	struct peer p = {sv[1],
			 "POST /2/instances HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
			 "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n",
			 "{\"a\": true}", ""};
	pthread_t t;
	pthread_create(&t, NULL, continue_client, &p);
	int fd = sv[0];
	struct io_chan ch;
	struct io_in in;
	struct io_out out;
	io_chan_fd(&ch, &fd);
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	io_out_init(&out, &ch, outbuf, sizeof(outbuf));
	/* The client sends its body only after our 100: reading it proves the order. */
	CHECK_INT(http_request_read(&req, &in, &out, 0, "application/json"), 0);
	CHECK_STR((char *)req.body, "{\"a\": true}");
	http_request_free(&req);
	pthread_join(t, NULL);
	CHECK_STR(p.got, "HTTP/1.1 100 Continue\r\n\r\n");
	close(sv[0]);
	close(sv[1]);
}

/* Our client and our server over a socketpair: what one writes, the other reads back. */
static void *own_client(void *arg)
{
	struct peer *p = arg;
	int fd = p->fd;
	struct io_chan ch;
	struct io_out out;
	static uint8_t buf[256]; /* smaller than the body: large writes go straight through */
	io_chan_fd(&ch, &fd);
	io_out_init(&out, &ch, buf, sizeof(buf));
	struct http_header hs[] = {{"Content-Type", "application/json"}};
	if (http_request_write(&out, "PUT", "h:5080", p->head, hs, 1, p->body, strlen(p->body)) < 0)
		snprintf(p->got, sizeof(p->got), "%s", err_msg());
	return NULL;
}

static void test_socketpair_own_client(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	set_timeouts(sv[0], 60);
	set_timeouts(sv[1], 60);
	static char body[300000];
	memset(body, 'x', sizeof(body) - 1); /* far beyond a socket buffer: the writer must wait */
	body[0] = '"';
	body[sizeof(body) - 2] = '"';
	char target[128] = "/2/instances/a%20b/export";
	http_query_append(target, sizeof(target), "dry-run", "1 & 2");
	struct peer p = {sv[1], target, body, ""};
	pthread_t t;
	pthread_create(&t, NULL, own_client, &p);
	int fd = sv[0];
	struct io_chan ch;
	struct io_in in;
	struct io_out out;
	io_chan_fd(&ch, &fd);
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	io_out_init(&out, &ch, outbuf, sizeof(outbuf));
	CHECK_INT(http_request_read(&req, &in, &out, 0, "application/json"), 0);
	pthread_join(t, NULL);
	CHECK_STR(p.got, "");
	CHECK_STR(req.path, "/2/instances/a b/export");
	CHECK_STR(http_query_get(&req, "dry-run"), "1 & 2");
	CHECK_INT(req.body_len, sizeof(body) - 1);
	CHECK(req.body && memcmp(req.body, body, sizeof(body) - 1) == 0);
	CHECK_STR(http_header_get(req.headers, req.nheaders, "connection"), "close");
	http_request_free(&req);
	close(sv[0]);
	close(sv[1]);
}

/* ---- curl against our server (independent client) ---------------------------------------- */

struct server {
	int lfd, port, conns;
};

/* Answers one connection: echoes what it understood as JSON, or the error status. */
static void serve_echo(int fd)
{
	struct http_request *r = malloc(sizeof(*r));
	struct io_chan ch;
	struct io_in in;
	struct io_out out;
	uint8_t ib[4096], ob[4096];
	io_chan_fd(&ch, &fd);
	io_in_init(&in, &ch, ib, sizeof(ib));
	io_out_init(&out, &ch, ob, sizeof(ob));
	int rc = http_request_read(r, &in, &out, 64 * 1024, "application/json");
	if (rc < 0 && r->status) {
		http_error_write(&out, r->status, err_msg(), NULL, 0);
	} else if (rc == 0 && strcmp(r->path, "/auth") == 0 &&
		   !(r->auth == HTTP_AUTH_BASIC && strcmp(r->user, "ganeti") == 0 &&
		     strcmp(r->password, "pass:word") == 0)) {
		struct http_header h = {"WWW-Authenticate", "Basic realm=\"Ganeti Remote API\""};
		http_error_write(&out, 401, "wrong user name or password", &h, 1);
	} else if (rc == 0) {
		struct json_writer w;
		char *text;
		size_t len;
		json_writer_init(&w, JSON_WRITE_SORTED);
		json_write_object_begin(&w);
		json_write_key(&w, "method");
		json_write_string(&w, r->method);
		json_write_key(&w, "path");
		json_write_string(&w, r->path);
		json_write_key(&w, "minor");
		json_write_int(&w, r->minor);
		json_write_key(&w, "params");
		json_write_object_begin(&w);
		for (size_t i = 0; i < r->nparams; i++) {
			json_write_key(&w, r->params[i].key);
			json_write_string(&w, r->params[i].value);
		}
		json_write_object_end(&w);
		json_write_key(&w, "user");
		if (r->user)
			json_write_string(&w, r->user);
		else
			json_write_null(&w);
		json_write_key(&w, "password");
		if (r->password)
			json_write_string(&w, r->password);
		else
			json_write_null(&w);
		json_write_key(&w, "type");
		json_write_string(&w, r->content_type);
		json_write_key(&w, "continue");
		json_write_bool(&w, r->sent_continue);
		json_write_key(&w, "body");
		json_write_strn(&w, r->body ? (char *)r->body : "", r->body_len);
		json_write_object_end(&w);
		if (json_writer_finish(&w, &text, &len) == 0) {
			http_response_write(&out, 200, "application/json", NULL, 0, text, len);
			free(text);
		} else {
			json_writer_free(&w);
			http_error_write(&out, 500, err_msg(), NULL, 0);
		}
	}
	http_request_free(r);
	free(r);
}

static void *server_thread(void *arg)
{
	struct server *s = arg;
	for (int i = 0; i < s->conns; i++) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			break; /* the listening socket's timeout: a client never came */
		set_timeouts(fd, 30);
		serve_echo(fd);
		/* Close gracefully: unread request bytes would turn our close into a reset. */
		shutdown(fd, SHUT_WR);
		char sink[4096];
		while (read(fd, sink, sizeof(sink)) > 0)
			;
		close(fd);
	}
	return NULL;
}

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	set_timeouts(fd, 120);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Runs curl with ARGS (URL path appended to our address) and BODY on stdin; returns its stdout. */
static char curl_out[1 << 17];
static int curl(struct server *s, const char *path, const char *body, const char *const *args)
{
	char url[256];
	char *argv[32];
	int n = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	argv[n++] = "/usr/bin/curl";
	argv[n++] = "-sS";
	argv[n++] = "--max-time";
	argv[n++] = "60";
	argv[n++] = "-w";
	argv[n++] = "\n%{http_code}";
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n++] = url;
	argv[n] = NULL;
	return spawn_capture(argv, body, body ? strlen(body) : 0, curl_out, sizeof(curl_out));
}

/* Splits curl's output into the JSON body (parsed into DOC) and the status code. */
static int curl_result(struct json_doc *doc)
{
	char *nl = strrchr(curl_out, '\n');
	if (!nl)
		return -1;
	*nl = 0;
	if (json_parse(doc, curl_out, strlen(curl_out)) < 0) {
		fprintf(stderr, "    curl output is not JSON: %s\n", curl_out);
		return -1;
	}
	return atoi(nl + 1);
}

static const char *member(const struct json_doc *d, const char *key)
{
	const char *s = NULL;
	const struct json *v = json_get(d->root, key);
	if (v && v->type == JSON_STRING)
		s = v->u.s;
	return s ? s : "(not a string)";
}

static void test_curl_against_server(void)
{
	if (access("/usr/bin/curl", X_OK) != 0) {
		printf("SKIP http:test_curl_against_server: /usr/bin/curl missing\n");
		return;
	}
	struct server s = {.conns = 9};
	s.lfd = listen_loopback(&s.port);
	CHECK(s.lfd >= 0);
	pthread_t t;
	pthread_create(&t, NULL, server_thread, &s);
	struct json_doc d;

	/* 1. GET with a query and Basic credentials, as curl encodes them. */
	const char *a1[] = {"-u",	"ganeti:pass:word", "-G",	  "--data-urlencode",
			    "static=1", "--data-urlencode", "name=a b&c", NULL};
	CHECK_INT(curl(&s, "/2/instances/inst%201", NULL, a1), 0);
	CHECK_INT(curl_result(&d), 200);
	CHECK_STR(member(&d, "method"), "GET");
	CHECK_STR(member(&d, "path"), "/2/instances/inst 1");
	CHECK_STR(member(&d, "user"), "ganeti");
	CHECK_STR(member(&d, "password"), "pass:word");
	const struct json *params = json_get(d.root, "params");
	const char *v;
	CHECK(json_get_string(params, "static", &v) == 0 && strcmp(v, "1") == 0);
	CHECK(json_get_string(params, "name", &v) == 0 && strcmp(v, "a b&c") == 0);
	json_doc_free(&d);

	/* 2. POST with Expect: 100-continue and a body bigger than one read. */
	static char big[20001];
	memset(big, 'b', sizeof(big) - 1);
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	const char *a2[] = {"-H",
			    "Content-Type: application/json",
			    "-H",
			    "Expect: 100-continue",
			    "--data-binary",
			    "@-",
			    NULL};
	CHECK_INT(curl(&s, "/2/instances", big, a2), 0);
	CHECK_INT(curl_result(&d), 200);
	CHECK_STR(member(&d, "method"), "POST");
	CHECK(json_get(d.root, "continue") && json_get(d.root, "continue")->u.b == 1);
	CHECK_STR(member(&d, "body"), big);
	CHECK_STR(member(&d, "type"), "application/json");
	json_doc_free(&d);

	/* 3. A chunked request body. */
	const char *a3[] = {"-H",
			    "Content-Type: application/json; charset=utf-8",
			    "-H",
			    "Transfer-Encoding: chunked",
			    "-X",
			    "PUT",
			    "--data-binary",
			    "@-",
			    NULL};
	CHECK_INT(curl(&s, "/2/instances/x/export", "{\"mode\": \"remote\"}", a3), 0);
	CHECK_INT(curl_result(&d), 200);
	CHECK_STR(member(&d, "method"), "PUT");
	CHECK_STR(member(&d, "body"), "{\"mode\": \"remote\"}");
	json_doc_free(&d);

	/* 4. Too large, announced with Expect: the 413 comes instead of the 100. */
	static char huge[70000];
	memset(huge, 'h', sizeof(huge) - 1);
	CHECK_INT(curl(&s, "/2/instances", huge, a2), 0);
	CHECK_INT(curl_result(&d), 413);
	CHECK_STR(member(&d, "message"), "Payload Too Large");
	json_doc_free(&d);

	/* 5. A body that is not JSON. */
	const char *a5[] = {"-H", "Content-Type: text/plain", "--data-binary", "@-", NULL};
	CHECK_INT(curl(&s, "/2/instances", "hello", a5), 0);
	CHECK_INT(curl_result(&d), 415);
	CHECK(strstr(member(&d, "explain"), "not text/plain") != NULL);
	json_doc_free(&d);

	/* 6. A ".." segment, sent as it is. */
	const char *a6[] = {"--path-as-is", NULL};
	CHECK_INT(curl(&s, "/2/../etc/passwd", NULL, a6), 0);
	CHECK_INT(curl_result(&d), 400);
	CHECK(strstr(member(&d, "explain"), "'..' segment") != NULL);
	json_doc_free(&d);

	/* 7. HTTP/1.0. */
	const char *a7[] = {"-0", NULL};
	CHECK_INT(curl(&s, "/version", NULL, a7), 0);
	CHECK_INT(curl_result(&d), 200);
	CHECK(json_get(d.root, "minor") && json_get(d.root, "minor")->u.i == 0);
	json_doc_free(&d);

	/* 8 and 9. Wrong password: 401 with the challenge; the right one passes. */
	const char *a8[] = {"-i", "-u", "ganeti:wrong", NULL};
	CHECK_INT(curl(&s, "/auth", NULL, a8), 0);
	CHECK(strstr(curl_out, "HTTP/1.1 401 Unauthorized\r\n") == curl_out);
	CHECK(strstr(curl_out, "\r\nWWW-Authenticate: Basic realm=\"Ganeti Remote API\"\r\n") !=
	      NULL);
	CHECK(strstr(curl_out, "\r\nConnection: close\r\n") != NULL);
	const char *a9[] = {"-u", "ganeti:pass:word", NULL};
	CHECK_INT(curl(&s, "/auth", NULL, a9), 0);
	CHECK_INT(curl_result(&d), 200);
	json_doc_free(&d);

	pthread_join(t, NULL);
	close(s.lfd);
}

/* ---- Our client against Python's http.server (independent server) --------------------------- */

static const char py_server[] =
	"import base64, json, sys\n"
	"from http.server import BaseHTTPRequestHandler, HTTPServer\n"
	"class H(BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def reply(self, code, out, extra=b''):\n"
	"        self.wfile.write(b'HTTP/1.1 %d X\\r\\nContent-Type: application/json\\r\\n' % code\n"
	"                         + extra + b'Content-Length: %d\\r\\n\\r\\n' % len(out) + out)\n"
	"    def any(self):\n"
	"        n = self.headers.get('Content-Length')\n"
	"        body = self.rfile.read(int(n)) if n is not None else b''\n"
	"        auth = self.headers.get('Authorization', '')\n"
	"        user = pw = None\n"
	"        if auth.startswith('Basic '):\n"
	"            user, _, pw = base64.b64decode(auth[6:]).decode().partition(':')\n"
	"        info = {'method': self.command, 'target': self.path, 'version': self.request_version,\n"
	"                'host': self.headers.get('Host'), 'length': n,\n"
	"                'type': self.headers.get('Content-Type'), 'accept': self.headers.get('Accept'),\n"
	"                'agent': self.headers.get('User-Agent'), 'connection': self.headers.get('Connection'),\n"
	"                'user': user, 'password': pw, 'body': body.decode(), 'count': len(self.headers)}\n"
	"        out = json.dumps(info, sort_keys=True).encode()\n"
	"        p = self.path.split('?')[0]\n"
	"        self.close_connection = True\n"
	"        if p == '/error':\n"
	"            self.reply(404, json.dumps({'code': 404, 'message': 'Not Found',\n"
	"                                        'explain': 'Instance x not found'}).encode())\n"
	"        elif p == '/chunked':\n"
	"            self.wfile.write(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n')\n"
	"            for i in range(0, len(out), 7):\n"
	"                part = out[i:i + 7]\n"
	"                self.wfile.write(b'%x;ext=1\\r\\n' % len(part) + part + b'\\r\\n')\n"
	"            self.wfile.write(b'0\\r\\nX-Trailer: yes\\r\\n\\r\\n')\n"
	"        elif p == '/close':\n"
	"            self.wfile.write(b'HTTP/1.0 200 OK\\r\\nContent-Type: application/json\\r\\n\\r\\n' + out)\n"
	"        elif p == '/continue':\n"
	"            self.wfile.write(b'HTTP/1.1 100 Continue\\r\\n\\r\\n')\n"
	"            self.reply(200, out)\n"
	"        else:\n"
	"            self.reply(200, out)\n"
	"    do_GET = do_POST = do_PUT = do_DELETE = any\n"
	"s = HTTPServer(('127.0.0.1', 0), H)\n"
	"print(s.server_address[1], flush=True)\n"
	"s.serve_forever()\n";

/* One request with our client to 127.0.0.1:PORT; the response is left in resp. */
static int ask(int port, const char *method, const char *target, const char *body)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return err_set_errno("connect");
	set_timeouts(fd, 60);
	struct io_chan ch;
	struct io_in in;
	struct io_out out;
	io_chan_fd(&ch, &fd);
	io_in_init(&in, &ch, inbuf, sizeof(inbuf));
	io_out_init(&out, &ch, outbuf, sizeof(outbuf));
	char auth[128], host[64];
	http_basic_auth(auth, sizeof(auth), "ganeti", "s3cr:et");
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	struct http_header hs[] = {{"Authorization", auth},
				   {"Accept", "application/json"},
				   {"Content-type", "application/json"},
				   {"User-Agent", "Ganeti RAPI Client"}};
	int r = http_request_write(&out, method, host, target, hs, 4, body,
				   body ? strlen(body) : 0);
	if (r == 0)
		r = http_response_read(&resp, &in, method, 0);
	close(fd);
	return r;
}

static void test_client_against_python(void)
{
	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("SKIP http:test_client_against_python: /usr/bin/python3 missing\n");
		return;
	}
	char *argv[] = {"/usr/bin/python3", "-c", (char *)py_server, NULL};
	int out_fd;
	pid_t pid = spawn_start(argv, &out_fd);
	char line[64];
	if (!CHECK(pid > 0 && spawn_read_line(out_fd, line, sizeof(line)) == 0))
		return;
	int port = atoi(line);
	CHECK(port > 0);
	struct json_doc d;
	const char *paths[] = {"/2/jobs/17/wait", "/chunked", "/close", "/continue"};
	for (size_t i = 0; i < 4; i++) {
		char target[128];
		snprintf(target, sizeof(target), "%s", paths[i]);
		http_query_append(target, sizeof(target), "static", "1");
		http_query_append(target, sizeof(target), "x", "a b");
		if (!CHECK_INT(ask(port, "GET", target, "{\"fields\": [\"status\"]}"), 0)) {
			fprintf(stderr, "    %s: %s\n", paths[i], err_msg());
			continue;
		}
		CHECK_INT(resp.status, 200);
		CHECK_INT(http_response_check(&resp), 0);
		if (CHECK_INT(json_parse(&d, (char *)resp.body, resp.body_len), 0)) {
			const struct json *r = d.root;
			const char *s;
			CHECK(json_get_string(r, "method", &s) == 0 && !strcmp(s, "GET"));
			CHECK(json_get_string(r, "target", &s) == 0 && !strcmp(s, target));
			CHECK(json_get_string(r, "version", &s) == 0 && !strcmp(s, "HTTP/1.1"));
			CHECK(json_get_string(r, "length", &s) == 0 && !strcmp(s, "22"));
			CHECK(json_get_string(r, "body", &s) == 0 &&
			      !strcmp(s, "{\"fields\": [\"status\"]}"));
			CHECK(json_get_string(r, "user", &s) == 0 && !strcmp(s, "ganeti"));
			CHECK(json_get_string(r, "password", &s) == 0 && !strcmp(s, "s3cr:et"));
			CHECK(json_get_string(r, "agent", &s) == 0 &&
			      !strcmp(s, "Ganeti RAPI Client"));
			CHECK(json_get_string(r, "type", &s) == 0 &&
			      !strcmp(s, "application/json"));
			CHECK(json_get_string(r, "connection", &s) == 0 && !strcmp(s, "close"));
			int64_t count;
			CHECK(json_get_int(r, "count", &count) == 0 && count == 7);
			json_doc_free(&d);
		}
		http_response_free(&resp);
	}
	/* GET without a body (NULL) sends no Content-Length; an empty body sends 0. */
	CHECK_INT(ask(port, "GET", "/version", NULL), 0);
	CHECK(strstr((char *)resp.body, "\"length\": null") != NULL);
	http_response_free(&resp);
	CHECK_INT(ask(port, "DELETE", "/2/instances/x", ""), 0);
	CHECK(strstr((char *)resp.body, "\"length\": \"0\"") != NULL);
	CHECK(strstr((char *)resp.body, "\"method\": \"DELETE\"") != NULL);
	http_response_free(&resp);
	/* A Ganeti error body becomes Ganeti's error string. */
	CHECK_INT(ask(port, "GET", "/error", ""), 0);
	CHECK_INT(resp.status, 404);
	CHECK_INT(http_response_check(&resp), -1);
	CHECK_STR(err_msg(), "404 Not Found: Instance x not found");
	http_response_free(&resp);
	spawn_stop(pid);
	close(out_fd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_request_get_with_query);
	RUN(test_request_body_and_auth);
	RUN(test_request_chunked);
	RUN(test_request_expect_continue);
	RUN(test_request_forms);
	RUN(test_request_refusals);
	RUN(test_request_io_error);
	RUN(test_response_write);
	RUN(test_request_write);
	RUN(test_response_read);
	RUN(test_response_check);
	RUN(test_percent_and_query);
	RUN(test_socketpair_continue);
	RUN(test_socketpair_own_client);
	RUN(test_curl_against_server);
	RUN(test_client_against_python);
	return CHECK_DONE();
}
