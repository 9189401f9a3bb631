/* ferry authorized-keys: manage the keys allowed to migrate to this node. */
#include "core/err.h"
#include "core/opt.h"

static const char usage[] =
	"usage: ferry authorized-keys add [NAME] [--ctid PATTERN] [--from PATTERNS] [--single-use] < KEY.pub\n"
	"       ferry authorized-keys list\n"
	"       ferry authorized-keys del INDEX|NAME|FINGERPRINT\n"
	"\n"
	"Manage the public keys allowed to migrate containers to this node.\n";

int authorized_keys_main(int argc, char **argv)
{
	static const struct opt_spec specs[] = {OPT_SPEC_END};
	struct opt_state st;
	opt_init(&st, argc, argv);
	while (xopt_next(&st, specs, usage) != OPT_END)
		;
	die("not implemented yet in this build");
}
