/* ferry rapi: serve the cluster's HTTPS API (Ganeti RAPI compatible). */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] = "usage: ferry rapi [--port PORT] [--bind ADDR]\n"
			    "\n"
			    "Serve the cluster API over HTTPS.\n";

int rapi_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
