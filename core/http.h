/* HTTP/1.1 for the cluster API over any struct io_chan (plain socket, pipe or TLS): server and client. */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/io.h"

/*
 * Bounds (docs/http-json.md says why). What exceeds them is refused with
 * the status in brackets when we are the server, an error when the client.
 */
#define HTTP_REQUEST_LINE_MAX  4096	  /* bytes of the request line [414] */
#define HTTP_STATUS_LINE_MAX   1024	  /* bytes of a response's status line */
#define HTTP_HEADER_BLOCK_MAX  8192	  /* bytes of the header lines [431] */
#define HTTP_HEADERS_MAX       100	  /* header lines [431] */
#define HTTP_METHOD_MAX	       16	  /* characters of a method [501] */
#define HTTP_QUERY_PARAMS_MAX  64	  /* key=value pairs in a query [400] */
#define HTTP_MEDIA_TYPE_MAX    127	  /* characters of a media type [400] */
#define HTTP_CHUNK_LINE_MAX    256	  /* a chunk-size line with its extensions */
#define HTTP_BODY_MAX	       (1u << 20) /* default bound of a request body [413] */
#define HTTP_RESPONSE_BODY_MAX (8u << 20) /* default bound of a response body */
#define HTTP_INTERIM_MAX       8	  /* 1xx responses skipped before the final one */
/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_DATE_LEN 29

/* A header as received or to be sent. Names compare case-insensitively. */
struct http_header {
	const char *name;
	const char *value;
};

/* A decoded query parameter ("a=1&b" gives a/1 and b/""). */
struct http_param {
	const char *key;
	const char *value;
};

enum http_auth {
	HTTP_AUTH_NONE,	 /* no Authorization header */
	HTTP_AUTH_BASIC, /* Basic: user and password are set */
	HTTP_AUTH_OTHER, /* another scheme (the server should answer 401) */
};

/*
 * One request as the server read it. About 30 KiB: allocate it (not on a
 * thread's stack). All strings are NUL-terminated and point into the
 * struct, except the body.
 */
struct http_request {
	const char *method; /* as sent (methods are case-sensitive) */
	const char *target; /* the request-target as sent */
	const char *path;   /* percent-decoded, starts with '/', no "." or ".." segments */
	const char *query;  /* raw query without '?', "" if none */
	int minor;	    /* HTTP/1.MINOR (0 or 1; higher minors read as 1) */
	struct http_header headers[HTTP_HEADERS_MAX];
	size_t nheaders;
	struct http_param params[HTTP_QUERY_PARAMS_MAX];
	size_t nparams;
	const char *host; /* the Host header, NULL if none (only HTTP/1.0 may omit it) */
	/* The media type of Content-Type, lowercased, without parameters; "" if none. */
	char content_type[HTTP_MEDIA_TYPE_MAX + 1];
	enum http_auth auth;
	const char *user,
		*password; /* HTTP_AUTH_BASIC only, else NULL; wiped by http_request_free */
	int sent_continue; /* 1 if "100 Continue" was sent before reading the body */
	uint8_t *body;	   /* malloc'd, NUL-terminated; NULL if the request had none */
	size_t body_len;
	int status; /* after a failed read: the status to answer, 0 if none can be sent */
	char head[HTTP_REQUEST_LINE_MAX + HTTP_HEADER_BLOCK_MAX + 8];
	char decoded[HTTP_REQUEST_LINE_MAX + HTTP_HEADER_BLOCK_MAX + 4 * HTTP_QUERY_PARAMS_MAX + 8];
	size_t decoded_used;
};

/*
 * Reads one request from IN. Accepts origin-form targets ("/2/info?x=1")
 * and absolute-form ("http://host/2/info"); CRLF line ends only; header
 * values without obsolete folding; Content-Length bodies (repeated equal
 * values allowed) and Transfer-Encoding: chunked bodies (trailers read and
 * dropped), both at most BODY_MAX bytes (0 means HTTP_BODY_MAX). If
 * BODY_TYPE is not NULL, a request announcing a body must have that media
 * type (415). "Expect: 100-continue" is answered on OUT (if not NULL),
 * once the head passed every check, before the body is read (an unknown
 * expectation is 417). Returns 0 with REQ filled; 1 if the input ended cleanly before the
 * first byte (the peer closed: answer nothing); -1 with err_set and
 * REQ->status set to the status to answer (400, 413, 414, 415, 417, 431,
 * 501, 505), or to 0 when reading failed and no answer is possible.
 * Call http_request_free afterwards in every case.
 */
int http_request_read(struct http_request *req, struct io_in *in, struct io_out *out,
		      size_t body_max, const char *body_type);
/* Frees the body and wipes everything read (credentials included). */
void http_request_free(struct http_request *req);
/* The first query value of KEY, or NULL. */
const char *http_query_get(const struct http_request *req, const char *key);
/* The value of the first header named NAME (case-insensitive) among H[0..N), or NULL. */
const char *http_header_get(const struct http_header *h, size_t n, const char *name);

/* The reason phrase of STATUS ("Not Found"); "Unknown" for codes without one here. */
const char *http_reason(int status);

/*
 * Writes a whole response and flushes OUT: status line, Date,
 * Content-Type (if CONTENT_TYPE is not NULL), Content-Length, Connection:
 * close (ferry never keeps connections alive), the EXTRA headers, the
 * body. EXTRA may not set Content-Length, Transfer-Encoding, Connection or
 * Date, and no name or value may hold CR, LF or other control characters.
 * 0, or -1 with err_set (nothing is written for a refused header).
 */
int http_response_write(struct io_out *out, int status, const char *content_type,
			const struct http_header *extra, size_t nextra, const void *body,
			size_t len);
/*
 * Writes an error response with the JSON body Ganeti's RAPI uses:
 * {"code": STATUS, "message": REASON, "explain": EXPLAIN}. 0 or -1.
 */
int http_error_write(struct io_out *out, int status, const char *explain,
		     const struct http_header *extra, size_t nextra);

/*
 * Writes a request and flushes OUT: "METHOD TARGET HTTP/1.1", Host (HOST,
 * e.g. "192.0.2.1:5080" or "[::1]:5080"), the HEADERS, Content-Length when
 * BODY is not NULL (also for GET and for an empty body: Ganeti's client
 * sends one on every request), Connection: close, then the body. TARGET
 * must be an already encoded origin-form target (see http_pct_encode).
 * Refuses CR, LF and control characters anywhere, a HEADERS entry naming
 * Host, Content-Length, Transfer-Encoding or Connection, and a malformed
 * method or target. 0, or -1 with err_set (nothing is written if refused).
 */
int http_request_write(struct io_out *out, const char *method, const char *host, const char *target,
		       const struct http_header *headers, size_t nheaders, const void *body,
		       size_t len);

/*
 * Writes "Basic " and base64("USER:PASSWORD") into DST (CAP bytes,
 * NUL-terminated): the Authorization value. USER may not contain ':'; no
 * control characters in either. Returns the length, or -1 with err_set.
 */
ssize_t http_basic_auth(char *dst, size_t cap, const char *user, const char *password);

/* One response as the client read it. About 10 KiB. */
struct http_response {
	int status;
	int minor;
	const char *reason;
	struct http_header headers[HTTP_HEADERS_MAX];
	size_t nheaders;
	char content_type[HTTP_MEDIA_TYPE_MAX + 1]; /* as in struct http_request */
	uint8_t *body; /* malloc'd, NUL-terminated, never NULL after a successful read */
	size_t body_len;
	char head[HTTP_STATUS_LINE_MAX + HTTP_HEADER_BLOCK_MAX + 8];
};

/*
 * Reads the response to a request made with METHOD: skips interim 1xx
 * responses, then reads the body by Transfer-Encoding: chunked,
 * Content-Length, or until the end of input, at most BODY_MAX bytes (0
 * means HTTP_RESPONSE_BODY_MAX); none for HEAD, 204 and 304. 0, or -1
 * with err_set. Call http_response_free afterwards in every case.
 */
int http_response_read(struct http_response *resp, struct io_in *in, const char *method,
		       size_t body_max);
void http_response_free(struct http_response *resp);
/*
 * Ganeti client semantics: 0 if the status is 200; otherwise -1 with
 * err_set("CODE MESSAGE: EXPLAIN") from a JSON error body, the JSON text
 * of another JSON body, or "HTTP STATUS REASON" and the start of a body
 * that is not JSON. Control characters from the peer are shown as '?'.
 */
int http_response_check(const struct http_response *resp);

/*
 * Percent-encodes SRC[0..N) into DST (CAP bytes, NUL-terminated): every
 * byte but the unreserved ALPHA DIGIT - . _ ~ becomes %XX. Fit for path
 * segments and query keys and values. Returns the length, or -1 with
 * err_set if CAP is too small.
 */
ssize_t http_pct_encode(char *dst, size_t cap, const char *src, size_t n);
/*
 * Decodes SRC[0..N) into DST (CAP bytes, NUL-terminated); with PLUS_SPACE
 * '+' becomes a space (query strings). Refuses malformed escapes and %00.
 * Returns the length, or -1 with err_set.
 */
ssize_t http_pct_decode(char *dst, size_t cap, const char *src, size_t n, int plus_space);
/*
 * Appends "?KEY=VALUE" (or "&KEY=VALUE" when TARGET already has a query),
 * both percent-encoded, to the NUL-terminated TARGET (CAP bytes). 0 or -1.
 */
int http_query_append(char *target, size_t cap, const char *key, const char *value);

/* Formats T as an RFC 7231 IMF-fixdate into DST (HTTP_DATE_LEN + 1 bytes). */
void http_date(char *dst, time_t t);

#endif
