/* ferry node: set up this node: state root, migration user, sshd. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] = "usage: ferry node init|sshd-config ...\n"
			    "\n"
			    "Set up this node for receiving migrations.\n";

int node_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
