/* ferry move-instance: move instances between clusters through their APIs. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] =
	"usage: ferry move-instance [OPTIONS] SRC-CLUSTER DEST-CLUSTER INSTANCE...\n"
	"\n"
	"Move instances between clusters through their HTTPS APIs.\n";

int move_instance_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
