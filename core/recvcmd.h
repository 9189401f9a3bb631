/* The command grammar of `ferry receive`, the forced SSH command: a strict parser and its formatter (docs/migration-protocol.md). */
#ifndef FERRY_RECVCMD_H
#define FERRY_RECVCMD_H

#include <stddef.h>

#include "core/ct.h"
#include "core/stream.h"

/*
 * Bounds (docs/migration-protocol.md, "Commands"). A command line is at
 * most RECVCMD_MAX bytes of printable ASCII, words separated by exactly one
 * space, no leading or trailing space, at most RECVCMD_WORDS_MAX words.
 */
#define RECVCMD_MAX	  512
#define RECVCMD_WORDS_MAX 5
#define RECVCMD_SNAP_MAX                                                                           \
	64 /* a snapshot name: 1-64 of A-Z a-z 0-9 . _ -, not starting with . or - */

enum recvcmd_verb {
	RECV_SKEL = 1,	  /* receive skel [pool] */
	RECV_BASE,	  /* receive base [pool:]<id> <dataset> [snapshot] */
	RECV_INCREMENTAL, /* receive incremental [pool:]<id> <dataset> [snapshot] */
	RECV_TRANSFER,	  /* receive transfer [pool:]<id> [start] */
	RECV_CANCEL,	  /* receive cancel [pool:]<id> */
	RECV_STATUS,	  /* receive status [pool:]<id> */
};

struct recvcmd {
	enum recvcmd_verb verb;
	struct ct_ref ref; /* skel: only ref.pool (the id comes with the skel); others: both */
	char dataset[CT_DATASET_NAME_MAX + 1]; /* base, incremental */
	char snapshot[RECVCMD_SNAP_MAX + 1];   /* base, incremental: "" when not given */
	int start;			       /* transfer: 1 with "start" */
};

/* The verb's word ("skel", "base"...), or "?" for an unknown value. */
const char *recvcmd_verb_name(enum recvcmd_verb verb);
/* 1 if NAME is a valid snapshot name (stream_snap_name_ok: 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -), else 0. */
int recvcmd_snap_ok(const char *name);

/*
 * Parses the command line LINE (SSH_ORIGINAL_COMMAND: "receive VERB ...")
 * into C. Refuses everything outside the grammar: an empty line, bytes
 * other than printable ASCII and single spaces, a first word other than
 * "receive", unknown verbs, missing or extra words, names outside their
 * character sets (core/ct.h for pools, ids and datasets; snapshots as
 * above), over-long lines. -1 with err_set saying what is wrong (peer bytes
 * shown as printable ASCII, cut with "..."); 0 on success.
 */
int recvcmd_parse(struct recvcmd *c, const char *line);

/*
 * The same for words already split (a hand-run `ferry receive --key K
 * VERB ARGS...`): WORDS[0..N) start with the verb, without "receive". The
 * words are joined with single spaces and parsed as above, so both paths
 * accept exactly the same commands.
 */
int recvcmd_parse_words(struct recvcmd *c, size_t n, char *const *words);

/*
 * Writes C as a command line ("receive base pool:id / snap") into BUF (CAP
 * bytes). The pool is always written. Returns the length, or -1 with
 * err_set if C is not valid or does not fit. recvcmd_parse of the result
 * gives back C.
 */
int recvcmd_format(const struct recvcmd *c, char *buf, size_t cap);

#endif
