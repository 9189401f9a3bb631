/* ferry renew-crypto: manage the cluster domain secret and API certificate. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] =
	"usage: ferry renew-crypto [--new-cluster-domain-secret | --cluster-domain-secret=FILE] [-f]\n"
	"\n"
	"Manage the cluster domain secret and the API certificate.\n";

int renew_crypto_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
