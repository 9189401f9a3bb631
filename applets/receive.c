/* ferry receive: receive migrations: the forced command of the migration key. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] = "usage: receive skel [pool]\n"
			    "       receive base [pool:]<id> <dataset> [snapshot]\n"
			    "       receive incremental [pool:]<id> <dataset> [snapshot]\n"
			    "       receive transfer [pool:]<id> [start]\n"
			    "       receive cancel [pool:]<id>\n"
			    "\n"
			    "The forced SSH command of migration keys.\n";

int receive_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
