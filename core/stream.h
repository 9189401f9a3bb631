/* The tree stream's framing and records: encoders, bounded decoders, and the structure checker (docs/stream-format.md). */
#ifndef FERRY_STREAM_H
#define FERRY_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"
#include "core/xxh64.h"

/* Bounds on everything a peer controls (docs/stream-format.md, "Bounds"). */
#define STREAM_VERSION	 1
#define STREAM_MAGIC_LEN 8
#define STREAM_MAGIC                                                                               \
	"\x89"                                                                                     \
	"FTREE\r\n"			    /* a tree stream */
#define STREAM_RECORD_MAX      (1u << 20)   /* payload bytes of one record */
#define STREAM_BLOCK_MAX       (128u << 10) /* file bytes in one DATA record */
#define STREAM_NAME_MAX	       255	    /* bytes of one name (a path component) */
#define STREAM_PATH_MAX	       4096	    /* bytes of a path, including the NUL */
#define STREAM_DEPTH_MAX       256	    /* directories open at once, root included */
#define STREAM_SYMLINK_MAX     4095	    /* bytes of a symlink target */
#define STREAM_XATTRS_MAX      1024	    /* extended attributes of one entry */
#define STREAM_XATTR_NAME_MAX  255
#define STREAM_XATTR_VALUE_MAX 65536
#define STREAM_FILE_SIZE_MAX   (1ULL << 50) /* apparent size of one file */
#define STREAM_SNAP_NAME_MAX   64

/* Record types; STREAM_SKIPPABLE marks a type an older reader may skip. */
enum stream_type {
	STREAM_HEADER = 1,
	STREAM_ENTRY = 2,
	STREAM_ENTER = 3,
	STREAM_LEAVE = 4,
	STREAM_DATA = 5,
	STREAM_LINK = 6,
	STREAM_DELETE = 7,
	STREAM_END = 8,
};
#define STREAM_SKIPPABLE 0x8000u

enum stream_kind { STREAM_KIND_BASE = 1, STREAM_KIND_INCREMENTAL = 2 };
#define STREAM_FLAG_COMPRESSED 0x0001u /* header flags */
#define STREAM_ENTRY_KEEP_DATA 0x0001u /* entry flags: content unchanged (incremental) */
enum stream_encoding { STREAM_STORED = 0, STREAM_LZ4 = 1 };

/* ---- Framing ------------------------------------------------------------ */

/* Writes records to a buffered channel: each with its checksum, all into the running digest. */
struct stream_writer {
	struct io_out *out;
	uint64_t records;
	struct xxh64 digest; /* over every record's checksum */
};
/* Starts a writer and writes MAGIC (STREAM_MAGIC_LEN bytes) and the version. 0 or -1. */
int stream_writer_start(struct stream_writer *w, struct io_out *out, const char *magic);
/*
 * Writes one record of TYPE whose payload is A[0..ALEN) followed by
 * B[0..BLEN) (B may be NULL when BLEN is 0). ALEN + BLEN <= STREAM_RECORD_MAX.
 * 0 or -1 with err_set.
 */
int stream_write(struct stream_writer *w, uint16_t type, const void *a, size_t alen, const void *b,
		 size_t blen);
/* The digest of all records written so far (what END carries). */
uint64_t stream_writer_digest(const struct stream_writer *w);

/* Reads and verifies records into a caller-owned buffer. */
struct stream_reader {
	struct io_in *in;
	uint8_t *buf;
	size_t cap;	      /* of buf; longer records are rejected */
	uint64_t records;     /* records read so far */
	uint64_t at;	      /* stream offset of the current record */
	uint16_t type;	      /* current record */
	uint32_t len;	      /* its payload length, payload in buf */
	uint64_t digest_prev; /* digest of the records before the current one (set for END) */
	struct xxh64 digest;
	const char *what; /* "stream" or "manifest", for messages */
};
/*
 * Starts a reader over IN with BUF (CAP bytes, at most STREAM_RECORD_MAX
 * useful): reads the magic and the version and rejects anything else ("not a ferry tree stream", "unsupported stream version N").
 */
int stream_reader_start(struct stream_reader *r, struct io_in *in, uint8_t *buf, size_t cap,
			const char *magic, const char *what);
/*
 * Reads the next record into r->type, r->len, r->buf and verifies its
 * length bound and checksum. Errors name the record number and byte
 * offset. End of input is an error (a stream ends with its END record).
 * 0 or -1 with err_set.
 */
int stream_read(struct stream_reader *r);
/* Checks that nothing follows the END record. 0 or -1. */
int stream_reader_finish(struct stream_reader *r);
/* The name of a record type for messages ("DATA", "type 0x0042"). BUF holds 16 bytes. */
const char *stream_type_name(uint16_t type, char buf[16]);

/* ---- Record payloads ----------------------------------------------------- */

struct stream_header {
	uint8_t kind;	 /* enum stream_kind */
	uint8_t backend; /* 0: a directory tree; others reserved */
	uint16_t flags;	 /* STREAM_FLAG_* */
	char snapshot[STREAM_SNAP_NAME_MAX + 1];
	char from[STREAM_SNAP_NAME_MAX + 1]; /* "" for a base stream */
	uint64_t created;		     /* unix seconds, informative */
	uint64_t size_hint;		     /* expected file bytes, 0 = unknown, informative */
};

/*
 * One file system entry. XATTRS points at XATTR_COUNT encoded attributes
 * (each: u8 name length, name, u32 value length, value), XATTRS_LEN bytes.
 */
struct stream_entry {
	uint16_t flags;
	size_t name_len;
	char name[STREAM_NAME_MAX + 1];
	uint32_t mode; /* S_IFMT type and the 07777 bits */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t size;			 /* regular files */
	uint32_t rdev_major, rdev_minor; /* devices */
	size_t target_len;		 /* symlinks */
	char target[STREAM_SYMLINK_MAX + 1];
	uint16_t xattr_count;
	size_t xattrs_len;
	const uint8_t *xattrs;
};

struct stream_data {
	uint64_t offset;
	uint32_t raw_len;
	uint8_t encoding;
	size_t len;
	const uint8_t *bytes;
};

/* ENTER, LINK and DELETE share this: a name, and for ENTER a time, for LINK a target path. */
struct stream_named {
	size_t name_len;
	char name[STREAM_NAME_MAX + 1];
	int64_t mtime_sec; /* ENTER */
	uint32_t mtime_nsec;
	size_t path_len; /* LINK: the earlier path this name becomes a hard link of */
	char path[STREAM_PATH_MAX];
};

struct stream_end {
	uint64_t records; /* records before END */
	uint64_t entries; /* ENTRY and LINK records */
	uint64_t data_bytes;
	uint64_t digest;
};

/*
 * Encoders write a payload into BUF (CAP bytes) and return its length, or
 * -1 with err_set when it does not fit or a field is out of bounds.
 */
long stream_encode_header(uint8_t *buf, size_t cap, const struct stream_header *h);
long stream_encode_entry(uint8_t *buf, size_t cap, const struct stream_entry *e);
long stream_encode_named(uint8_t *buf, size_t cap, uint16_t type, const struct stream_named *n);
long stream_encode_end(uint8_t *buf, size_t cap, const struct stream_end *e);
/* DATA's fixed part (13 bytes) into BUF; the block bytes follow it in the record. */
size_t stream_encode_data_head(uint8_t buf[13], uint64_t offset, uint32_t raw_len,
			       uint8_t encoding);
/*
 * Appends one extended attribute to an encoded list in BUF (CAP bytes,
 * *LEN used). 0, or -1 with err_set if the name is not allowed or it does
 * not fit.
 */
int stream_xattr_append(uint8_t *buf, size_t cap, size_t *len, const char *name, const void *value,
			size_t value_len);

/*
 * Decoders read a payload P[0..N) through a cursor, check every field
 * against its bound and reject trailing bytes. 0 or -1 with err_set.
 */
int stream_decode_header(const uint8_t *p, size_t n, struct stream_header *h);
int stream_decode_entry(const uint8_t *p, size_t n, struct stream_entry *e);
int stream_decode_named(const uint8_t *p, size_t n, uint16_t type, struct stream_named *nm);
int stream_decode_data(const uint8_t *p, size_t n, struct stream_data *d);
int stream_decode_end(const uint8_t *p, size_t n, struct stream_end *e);
/*
 * Iterates over the encoded attributes of an entry (already validated by
 * stream_decode_entry): *OFF starts at 0. NAME gets the NUL-terminated name.
 * Returns 1 with an attribute, 0 at the end.
 */
int stream_xattr_next(const struct stream_entry *e, size_t *off,
		      char name[STREAM_XATTR_NAME_MAX + 1], const uint8_t **value,
		      uint32_t *value_len);

/* 1 if P[0..N) is a name the receiver accepts: 1..255 bytes, no '/', no NUL, not . or .. */
int stream_name_ok(const char *p, size_t n);
/* 1 if P[0..N) is a relative path of valid names joined by single '/'. */
int stream_path_ok(const char *p, size_t n);
/* 1 if NAME is a valid snapshot name: 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int stream_snap_name_ok(const char *name);
/* 1 if NAME is an extended attribute name ferry sends and accepts. */
int stream_xattr_name_ok(const char *name, size_t n);
/*
 * Tree order: paths compared name by name, bytewise (as if '/' sorted
 * before every other byte); the order of a depth-first walk that visits
 * each directory's names sorted by strcmp. Returns <0, 0, >0.
 */
int stream_path_cmp(const char *a, const char *b);

/* ---- Structure ----------------------------------------------------------- */

/*
 * Checks the order and nesting of a stream's records (docs/stream-format.md,
 * "Structure"), independently of any file system: header first, the root,
 * names strictly increasing inside each directory, DATA only after a file
 * and inside its size with increasing offsets, LEAVE matching, no base
 * stream using incremental records, END totals. Heap-allocate it (large).
 */
struct stream_check {
	int state;
	struct stream_header header;
	unsigned depth; /* directories open */
	size_t dir_len; /* length of the current directory's path */
	char dir[STREAM_PATH_MAX];
	size_t level[STREAM_DEPTH_MAX + 1]; /* dir_len at each depth */
	char last[STREAM_DEPTH_MAX][STREAM_NAME_MAX + 1];
	size_t entry_len; /* path of the last ENTRY/ENTER/LINK/DELETE */
	char entry[STREAM_PATH_MAX];
	int in_file;
	uint64_t file_size, next_offset;
	uint64_t entries, data_bytes;
};
void stream_check_init(struct stream_check *c);
/*
 * Feeds one decoded record. Exactly one of the pointers matching TYPE is
 * used (HEADER: h, ENTRY: e, ENTER/LINK/DELETE: nm, DATA: d, END: end,
 * LEAVE: none). END also needs R_RECORDS (records before it) and DIGEST
 * (the reader's digest_prev). 0 or -1 with err_set saying what is wrong.
 */
int stream_check_record(struct stream_check *c, uint16_t type, const struct stream_header *h,
			const struct stream_entry *e, const struct stream_named *nm,
			const struct stream_data *d, const struct stream_end *end,
			uint64_t r_records, uint64_t digest);
/* 1 once END was accepted. */
int stream_check_done(const struct stream_check *c);

#endif
