/* ferry ct: create, start, stop and inspect containers on this node. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] = "usage: ferry ct create|list|show|start|stop|delete|set ...\n"
			    "\n"
			    "Manage the containers of this node.\n";

int ct_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
