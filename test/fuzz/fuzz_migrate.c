/* Fuzzes the parsers of what a migration peer or a state file hands us: receive commands, skels, migration state. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/knownhosts.h"
#include "core/migstate.h"
#include "core/recvcmd.h"
#include "core/skel.h"

/* A channel reading from memory. */
struct mem {
	const uint8_t *p;
	size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	if (n > m->left)
		n = m->left;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

static ssize_t mem_write(void *ctx, const void *buf, size_t n)
{
	(void)ctx;
	(void)buf;
	return (ssize_t)n;
}

/* The first byte picks the parser: 0 receive command, 1 skel, 2 migration state, 3 known_hosts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 4;
	data++;
	size--;
	if (which == 0) {
		char line[RECVCMD_MAX + 2], again[RECVCMD_MAX + 1];
		struct recvcmd c, c2;
		if (size > RECVCMD_MAX + 1)
			return 0;
		memcpy(line, data, size);
		line[size] = 0;
		if (recvcmd_parse(&c, line) < 0)
			return 0;
		/* What parses formats to a line that parses to the same command. */
		if (recvcmd_format(&c, again, sizeof(again)) < 0 || recvcmd_parse(&c2, again) < 0 ||
		    c2.verb != c.verb || strcmp(c2.ref.pool, c.ref.pool) ||
		    strcmp(c2.ref.id, c.ref.id) || strcmp(c2.dataset, c.dataset) ||
		    strcmp(c2.snapshot, c.snapshot) || c2.start != c.start)
			__builtin_trap();
	} else if (which == 1) {
		struct mem m = {data, size};
		struct io_chan in = {&m, mem_read, mem_write};
		struct skel *s = malloc(sizeof(*s));
		if (!s)
			return 0;
		if (skel_read(&in, s) == 0 && s->n_datasets != s->config.n_datasets + 1)
			__builtin_trap();
		free(s);
	} else if (which == 3) {
		static char out[1 << 16];
		size_t len;
		knownhosts_select((const char *)data, size, "[127.0.0.3]:2222", "127.0.0.3", out,
				  sizeof(out), &len);
		knownhosts_select((const char *)data, size, "h", "h", out, sizeof(out), &len);
	} else {
		struct migstate *m = malloc(sizeof(*m)), *m2 = malloc(sizeof(*m2));
		char *buf = malloc(CT_MIGRATION_MAX), *buf2 = malloc(CT_MIGRATION_MAX);
		if (m && m2 && buf && buf2 && migstate_parse(m, (const char *)data, size) == 0) {
			int n = migstate_format(m, buf, CT_MIGRATION_MAX);
			if (n < 0 || migstate_parse(m2, buf, (size_t)n) < 0 ||
			    migstate_format(m2, buf2, CT_MIGRATION_MAX) != n ||
			    memcmp(buf, buf2, (size_t)n))
				__builtin_trap();
		}
		free(m);
		free(m2);
		free(buf);
		free(buf2);
	}
	return 0;
}
