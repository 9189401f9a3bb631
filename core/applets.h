/*
 * The applet list: one line per applet, sorted by name (strcmp order), so
 * the dispatcher can bsearch it. Adding an applet = one file in applets/
 * (hyphens become underscores) and one line here. test/unit/test_applets.c
 * checks the order and that every line has its file and every file a line.
 *
 * APPLET(name, c_identifier, one-line summary)
 */
APPLET("authorized-keys", authorized_keys, "manage the keys allowed to migrate to this node")
APPLET("ct", ct, "create, start, stop and inspect containers on this node")
APPLET("keygen", keygen, "create this node's migration key pair")
APPLET("migrate", migrate, "move a container to another node over SSH, step by step")
APPLET("move-instance", move_instance, "move instances between clusters through their APIs")
APPLET("node", node, "set up this node: state root, migration user, sshd")
APPLET("rapi", rapi, "serve the cluster's HTTPS API (Ganeti RAPI compatible)")
APPLET("receive", receive, "receive migrations: the forced command of the migration key")
APPLET("renew-crypto", renew_crypto, "manage the cluster domain secret and API certificate")
APPLET("tree", tree, "send and receive directory trees as ferry streams")
