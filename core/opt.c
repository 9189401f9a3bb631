/* The one option parser: short clusters, long options with = or a separate value, positionals in place. */
#include "core/opt.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

void opt_init(struct opt_state *st, int argc, char **argv)
{
	memset(st, 0, sizeof(*st));
	st->argc = argc;
	st->argv = argv;
	st->ind = 1;
}

static int opt_fail(struct opt_state *st, const char *fmt, const char *what)
{
	snprintf(st->err, sizeof(st->err), fmt, what);
	return OPT_ERROR;
}

static int next_long(struct opt_state *st, const struct opt_spec *specs, const char *word)
{
	const char *name = word + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);

	for (const struct opt_spec *s = specs; s->id; s++) {
		if (!s->long_name || strlen(s->long_name) != len || memcmp(s->long_name, name, len))
			continue;
		st->arg = NULL;
		if (eq) {
			if (s->arg == OPT_NOARG)
				return opt_fail(st, "option --%s takes no value", s->long_name);
			st->arg = eq + 1;
		} else if (s->arg == OPT_REQUIRED) {
			if (st->ind >= st->argc)
				return opt_fail(st, "option --%s needs a value", s->long_name);
			st->arg = st->argv[st->ind++];
		}
		return s->id;
	}
	if (len == 4 && !memcmp(name, "help", 4) && !eq)
		return OPT_HELP;
	return opt_fail(st, "unknown option %s", word);
}

static int next_short(struct opt_state *st, const struct opt_spec *specs)
{
	char c = *st->cluster++;
	for (const struct opt_spec *s = specs; s->id; s++) {
		if (s->short_name != c)
			continue;
		st->arg = NULL;
		if (s->arg != OPT_NOARG && *st->cluster) {
			st->arg = st->cluster; /* -p22 */
			st->cluster = NULL;
		} else if (s->arg == OPT_REQUIRED) {
			if (st->ind >= st->argc) {
				char o[3] = {'-', c, 0};
				return opt_fail(st, "option %s needs a value", o);
			}
			st->arg = st->argv[st->ind++];
		}
		if (st->cluster && !*st->cluster)
			st->cluster = NULL;
		return s->id;
	}
	char o[3] = {'-', c, 0};
	st->cluster = NULL;
	return opt_fail(st, "unknown option %s", o);
}

int opt_next(struct opt_state *st, const struct opt_spec *specs)
{
	if (st->cluster)
		return next_short(st, specs);
	if (st->ind >= st->argc)
		return OPT_END;
	const char *word = st->argv[st->ind++];
	if (st->only_positional || word[0] != '-' || word[1] == 0) {
		st->arg = word;
		return OPT_POSITIONAL;
	}
	if (word[1] == '-') {
		if (word[2] == 0) {
			st->only_positional = 1;
			return opt_next(st, specs);
		}
		return next_long(st, specs, word);
	}
	st->cluster = word + 1;
	return next_short(st, specs);
}

int xopt_next(struct opt_state *st, const struct opt_spec *specs, const char *usage)
{
	int id = opt_next(st, specs);
	if (id == OPT_HELP)
		print_help(usage);
	if (id == OPT_ERROR)
		die_usage(usage, "%s", st->err);
	return id;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return err_set("empty number");
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return err_set("'%s' is not a number", s);
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return err_set("'%s' is too large", s);
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return err_set("'%s' is out of range (%llu..%llu)", s, (unsigned long long)min,
			       (unsigned long long)max);
	*out = v;
	return 0;
}

uint64_t xparse_uint(const char *s, uint64_t min, uint64_t max, const char *what, const char *usage)
{
	uint64_t v;
	if (parse_uint(s, min, max, &v) < 0)
		die_usage(usage, "%s: %s", what, err_msg());
	return v;
}
