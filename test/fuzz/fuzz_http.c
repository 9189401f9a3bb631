/* Fuzz target for core/http: the request parser (and the response parser) on any bytes, in any pieces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/http.h"
#include "core/io.h"

struct mem {
	const uint8_t *p;
	size_t len, pos, step;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->pos;
	if (k > n)
		k = n;
	if (k > m->step)
		k = m->step;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static ssize_t sink_write(void *ctx, const void *buf, size_t n)
{
	return (ssize_t)n;
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_http: %s (%s)\n", what, err_msg());
	abort();
}

static void check_request(const struct http_request *r, int rc, size_t body_max)
{
	static const int allowed[] = {0, 400, 413, 414, 415, 417, 431, 500, 501, 505};
	if (rc < 0) {
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			if (r->status == allowed[i])
				return;
		fail("unexpected status");
	}
	if (rc != 0)
		return;
	if (r->path[0] != '/' || strstr(r->path, "/../") || strstr(r->path, "/./"))
		fail("path escapes its checks");
	size_t n = strlen(r->path);
	if ((n >= 3 && !strcmp(r->path + n - 3, "/..")) ||
	    (n >= 2 && !strcmp(r->path + n - 2, "/.")))
		fail("path ends in a dot segment");
	if (r->body_len > body_max || (r->body_len && !r->body) ||
	    (r->body && r->body[r->body_len]))
		fail("body out of bounds or not terminated");
	for (const char *c = r->content_type; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			fail("media type not lowercased");
	if (r->nheaders > HTTP_HEADERS_MAX || r->nparams > HTTP_QUERY_PARAMS_MAX)
		fail("counts beyond bounds");
	if (r->auth == HTTP_AUTH_BASIC && (!r->user || !r->password))
		fail("basic credentials missing");
	if (r->minor == 1 && !r->host)
		fail("HTTP/1.1 without Host accepted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* The first byte picks the parser and how the input is cut into reads. */
	uint8_t mode = data[0];
	struct mem m = {data + 1, size - 1, 0, (size_t)(mode & 0x3f) + 1};
	struct io_chan in_ch = {&m, mem_read, sink_write};
	struct io_chan out_ch = {NULL, mem_read, sink_write};
	struct io_in in;
	struct io_out out;
	static uint8_t ib[512], ob[512];
	io_in_init(&in, &in_ch, ib, sizeof(ib));
	io_out_init(&out, &out_ch, ob, sizeof(ob));
	size_t body_max = 4096;
	if (mode & 0x80) {
		static struct http_response resp;
		int rc = http_response_read(&resp, &in, (mode & 0x40) ? "HEAD" : "GET", body_max);
		if (rc == 0) {
			if (!resp.body || resp.body_len > body_max || resp.body[resp.body_len])
				fail("response body out of bounds");
			if (resp.status < 200 || resp.status > 999)
				fail("final status out of range");
			http_response_check(&resp);
		}
		http_response_free(&resp);
		return 0;
	}
	static struct http_request req;
	int rc = http_request_read(&req, &in, &out, body_max,
				   (mode & 0x40) ? "application/json" : NULL);
	check_request(&req, rc, body_max);
	http_request_free(&req);
	return 0;
}
