/* The receive command grammar: exactly the documented verbs, strict names, nothing a shell would see. */
#include "core/recvcmd.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

#define SHOW_MAX 64 /* characters of a peer's word quoted in a message */

static const char *const verb_names[] = {
	[RECV_SKEL] = "skel",	      [RECV_BASE] = "base",	[RECV_INCREMENTAL] = "incremental",
	[RECV_TRANSFER] = "transfer", [RECV_CANCEL] = "cancel", [RECV_STATUS] = "status",
};
#define VERB_COUNT (sizeof(verb_names) / sizeof(verb_names[0]))

const char *recvcmd_verb_name(enum recvcmd_verb verb)
{
	if ((size_t)verb < VERB_COUNT && verb_names[verb])
		return verb_names[verb];
	return "?";
}

int recvcmd_snap_ok(const char *name)
{
	return stream_snap_name_ok(name);
}

/* A peer's bytes as printable ASCII ('?' for others), cut to SHOW_MAX with "...". */
static const char *show(const char *s, size_t n, char buf[SHOW_MAX + 4])
{
	size_t i;
	for (i = 0; i < n && i < SHOW_MAX; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n > SHOW_MAX) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

static int copy_word(char *dst, size_t cap, const char *w)
{
	size_t n = strlen(w);
	if (n >= cap)
		return -1;
	memcpy(dst, w, n + 1);
	return 0;
}

/* [pool:]id of a command (not skel). */
static int parse_ref(struct recvcmd *c, const char *w)
{
	if (ct_ref_parse(&c->ref, w) < 0)
		return -1;
	return 0;
}

static int parse_dataset(struct recvcmd *c, const char *w)
{
	if (ct_dataset_name_check(w) < 0)
		return -1;
	if (copy_word(c->dataset, sizeof(c->dataset), w) < 0)
		return err_set("dataset name too long");
	return 0;
}

static int parse_snapshot(struct recvcmd *c, const char *w)
{
	char sb[SHOW_MAX + 4];
	if (!recvcmd_snap_ok(w))
		return err_set("bad snapshot name '%s' (1-%d of A-Z a-z 0-9 . _ -, not starting "
			       "with . or -)",
			       show(w, strlen(w), sb), RECVCMD_SNAP_MAX);
	memcpy(c->snapshot, w, strlen(w) + 1);
	return 0;
}

/* Words after "receive": W[0] is the verb. */
static int parse_verb(struct recvcmd *c, size_t n, char **w)
{
	char sb[SHOW_MAX + 4];
	size_t verb = 0;
	for (size_t i = 1; i < VERB_COUNT; i++)
		if (verb_names[i] && !strcmp(w[0], verb_names[i]))
			verb = i;
	if (!verb)
		return err_set("unknown verb '%s'", show(w[0], strlen(w[0]), sb));
	c->verb = (enum recvcmd_verb)verb;
	size_t min = 2, max = 2;
	switch (c->verb) {
	case RECV_SKEL:
		min = 1;
		break;
	case RECV_BASE:
	case RECV_INCREMENTAL:
		min = 3;
		max = 4;
		break;
	case RECV_TRANSFER:
		max = 3;
		break;
	case RECV_CANCEL:
	case RECV_STATUS:
		break;
	}
	if (n < min)
		return err_set("%s: missing arguments", w[0]);
	if (n > max)
		return err_set("%s: too many arguments", w[0]);
	switch (c->verb) {
	case RECV_SKEL:
		if (n == 2) {
			if (ct_name_check("pool", w[1]) < 0)
				return -1;
			memcpy(c->ref.pool, w[1], strlen(w[1]) + 1);
		} else {
			snprintf(c->ref.pool, sizeof(c->ref.pool), "%s", CT_POOL_DEFAULT);
		}
		return 0;
	case RECV_BASE:
	case RECV_INCREMENTAL:
		if (parse_ref(c, w[1]) < 0 || parse_dataset(c, w[2]) < 0)
			return -1;
		return n == 4 ? parse_snapshot(c, w[3]) : 0;
	case RECV_TRANSFER:
		if (parse_ref(c, w[1]) < 0)
			return -1;
		if (n == 3) {
			if (strcmp(w[2], "start"))
				return err_set("transfer: expected 'start', got '%s'",
					       show(w[2], strlen(w[2]), sb));
			c->start = 1;
		}
		return 0;
	case RECV_CANCEL:
	case RECV_STATUS:
		return parse_ref(c, w[1]);
	}
	return err_set("unknown verb");
}

int recvcmd_parse(struct recvcmd *c, const char *line)
{
	char buf[RECVCMD_MAX + 1], sb[SHOW_MAX + 4];
	char *words[RECVCMD_WORDS_MAX + 1];
	size_t n = 0, len = strlen(line);
	memset(c, 0, sizeof(*c));
	if (len == 0)
		return err_set("empty command");
	if (len > RECVCMD_MAX)
		return err_set("command too long (%zu bytes, at most %d)", len, RECVCMD_MAX);
	for (size_t i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] >= 0x7f)
			return err_set("command contains a control or non-ASCII byte (0x%02x) at "
				       "offset %zu",
				       (unsigned char)line[i], i);
	memcpy(buf, line, len + 1);
	for (char *p = buf;;) {
		if (*p == ' ' || !*p)
			return err_set("empty word in the command (spaces at the start, the end "
				       "or doubled)");
		if (n == RECVCMD_WORDS_MAX)
			return err_set("too many words in the command");
		words[n++] = p;
		char *sp = strchr(p, ' ');
		if (!sp)
			break;
		*sp = 0;
		p = sp + 1;
	}
	if (strcmp(words[0], "receive"))
		return err_set("not a receive command: '%s'", show(line, len, sb));
	if (n < 2)
		return err_set("missing verb");
	if (parse_verb(c, n - 1, words + 1) < 0) {
		memset(c, 0, sizeof(*c));
		return -1;
	}
	return 0;
}

int recvcmd_parse_words(struct recvcmd *c, size_t n, char *const *words)
{
	char line[RECVCMD_MAX + 1];
	size_t len = strlen("receive");
	memcpy(line, "receive", len + 1);
	memset(c, 0, sizeof(*c));
	if (n == 0)
		return err_set("empty command");
	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(words[i]);
		if (len + 1 + w > RECVCMD_MAX)
			return err_set("command too long (at most %d bytes)", RECVCMD_MAX);
		line[len++] = ' ';
		memcpy(line + len, words[i], w + 1);
		len += w;
	}
	return recvcmd_parse(c, line);
}

int recvcmd_format(const struct recvcmd *c, char *buf, size_t cap)
{
	char ref[CT_REF_MAX + 1];
	int n = -1;
	switch (c->verb) {
	case RECV_SKEL:
		if (!ct_name_ok(c->ref.pool))
			return err_set("bad pool");
		n = snprintf(buf, cap, "receive skel %s", c->ref.pool);
		break;
	case RECV_BASE:
	case RECV_INCREMENTAL:
		if (!ct_name_ok(c->ref.pool) || !ct_name_ok(c->ref.id) ||
		    ct_dataset_name_check(c->dataset) < 0)
			return err_set("bad container or dataset name");
		if (c->snapshot[0] && !recvcmd_snap_ok(c->snapshot))
			return err_set("bad snapshot name");
		n = snprintf(buf, cap, "receive %s %s %s%s%s", recvcmd_verb_name(c->verb),
			     ct_ref_str(&c->ref, ref), c->dataset, c->snapshot[0] ? " " : "",
			     c->snapshot);
		break;
	case RECV_TRANSFER:
	case RECV_CANCEL:
	case RECV_STATUS:
		if (!ct_name_ok(c->ref.pool) || !ct_name_ok(c->ref.id))
			return err_set("bad container name");
		n = snprintf(buf, cap, "receive %s %s%s", recvcmd_verb_name(c->verb),
			     ct_ref_str(&c->ref, ref),
			     c->verb == RECV_TRANSFER && c->start ? " start" : "");
		break;
	default:
		return err_set("unknown verb");
	}
	if (n < 0 || (size_t)n >= cap || (size_t)n > RECVCMD_MAX)
		return err_set("receive command does not fit");
	return n;
}
