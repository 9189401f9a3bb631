/* ferry tree: send and receive directory trees as ferry streams. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] =
	"usage: ferry tree send [--state DIR] --snapshot NAME [--from NAME] [--no-compress] SRC > FILE\n"
	"       ferry tree recv [--state DIR] DST < FILE\n"
	"\n"
	"Send and receive directory trees as ferry streams.\n";

int tree_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
