/* ferry migrate: move a container to another node over SSH, step by step. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] =
	"usage: ferry migrate stage|sync|transfer|cleanup|cancel|now|status CT [DEST] [OPTIONS]\n"
	"\n"
	"Migrate a container to another node over SSH.\n";

int migrate_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
