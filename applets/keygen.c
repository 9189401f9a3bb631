/* ferry keygen: create this node's migration key pair. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] =
	"usage: ferry keygen [-t ecdsa|rsa] [-b BITS] [-f]\n"
	"       ferry keygen path [public|private]\n"
	"\n"
	"Create the key pair this node uses to migrate containers to other nodes.\n";

int keygen_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
