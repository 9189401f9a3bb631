/* The one option parser for all applets: getopt-style short and long options, positionals in place. */
#ifndef FERRY_OPT_H
#define FERRY_OPT_H

#include <stddef.h>
#include <stdint.h>

enum opt_arg {
	OPT_NOARG = 0,
	OPT_REQUIRED = 1, /* -p 22, -p22, --port 22, --port=22 */
	OPT_OPTIONAL = 2, /* only --name=value and -nVALUE take a value */
};

/* One recognised option. ID is what opt_next returns (use values >= 1). */
struct opt_spec {
	int id;
	char short_name;       /* 0 if none */
	const char *long_name; /* NULL if none */
	enum opt_arg arg;
};
#define OPT_SPEC_END                                                                               \
	{                                                                                          \
		0, 0, NULL, OPT_NOARG                                                              \
	}

/* Special results of opt_next (option ids are positive). */
#define OPT_END	       0  /* no more arguments */
#define OPT_POSITIONAL -1 /* a non-option argument, in st->arg */
#define OPT_ERROR      -2 /* malformed or unknown option: st->err says why */
#define OPT_HELP       -3 /* --help (unless the spec defines its own) */

#define OPT_ERR_MAX 160

struct opt_state {
	int argc;
	char **argv;
	int ind;	     /* next argv index */
	const char *cluster; /* rest of a short-option cluster like -qj */
	const char *arg;     /* the option's value or the positional word */
	int only_positional; /* after "--" */
	char err[OPT_ERR_MAX];
};

/* Starts parsing at ARGV[1] (ARGV[0] is the applet or sub-command name). */
void opt_init(struct opt_state *st, int argc, char **argv);
/*
 * Returns the next option's id, OPT_POSITIONAL, OPT_END, OPT_ERROR or
 * OPT_HELP. Options and positionals may be interleaved; "--" ends options;
 * "-" alone is a positional. SPECS ends with OPT_SPEC_END.
 */
int opt_next(struct opt_state *st, const struct opt_spec *specs);
/*
 * opt_next for applets: --help prints USAGE and exits 0; a malformed or
 * unknown option prints the error and USAGE's first line and exits 2.
 */
int xopt_next(struct opt_state *st, const struct opt_spec *specs, const char *usage);

/*
 * Parses a decimal unsigned integer in [MIN, MAX] into *OUT. Rejects empty
 * strings, signs, spaces, trailing junk and overflow. 0 or -1 with err_set.
 */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* parse_uint for applets: a bad value is a usage error naming WHAT. */
uint64_t xparse_uint(const char *s, uint64_t min, uint64_t max, const char *what,
		     const char *usage);

#endif
