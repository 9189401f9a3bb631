/* Node state: where this node keeps its configuration, keys and containers (layout: docs/node-state.md). */
#ifndef FERRY_NODE_H
#define FERRY_NODE_H

#include <stddef.h>

#define NODE_ROOT_DEFAULT "/var/lib/ferry"
#define NODE_ROOT_ENV	  "FERRY_ROOT"

/* Fixed places under the state root (relative paths). */
#define NODE_CONF_DIR	   "conf"
#define NODE_MIGRATION_DIR "conf/migration" /* key pair, authorized keys, known hosts */
#define NODE_CLUSTER_DIR   "conf/cluster"   /* domain secret, API certificate, API users */
#define NODE_POOLS_DIR	   "pools"

/*
 * The state root: OPT (an applet's --root) if not NULL, else $FERRY_ROOT if
 * set and not empty, else NODE_ROOT_DEFAULT. Never NULL.
 */
const char *node_root(const char *opt);

/*
 * Writes ROOT "/" REL into BUF (CAP bytes). Returns 0, or -1 with err_set
 * when it does not fit.
 */
int node_path(char *buf, size_t cap, const char *root, const char *rel);

/*
 * Creates ROOT/REL and its parents (mode 0700 for what it creates; ROOT
 * itself 0755 so sshd's StrictModes accepts files beneath it). 0 or -1.
 */
int node_mkdir(const char *root, const char *rel);

#endif
