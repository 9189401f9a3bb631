# Ferry nodes on this machine for migration tests and the demo: state roots, keys, each node's own
# sshd. Source after test/lib/testing.sh, test/lib/sshd.sh and test/lib/rootfs.sh. Needs root.
#
# node_new NAME ADDR [nosshd]
#   A node: a state root in a fresh directory under $NODES_DIR (default /run; sshd's StrictModes
#   refuses keys files below a world-writable directory such as /tmp), in ${NAME}_ROOT. Unless "nosshd": its own
#   sshd on ADDR (test/lib/sshd.sh: sshd_start) made ready as an operator does it, with
#   `ferry node setup --root ROOT --sshd-config CONFIG` (which creates the `migration` user,
#   uid 0, when this machine lacks it, and leaves it) and a reload (SIGHUP). Sets ${NAME}_SSHD
#   (the sshd's directory), ${NAME}_PORT and ${NAME}_ADDR. Everything goes when the test exits:
#   containers are stopped, the sshd stopped, the root removed.
# node_trust FROM TO [authorized-keys add options...]
#   `ferry keygen` on FROM (once) and FROM's public key allowed on TO under the name FROM.
# node_ferry NAME ARGS...: `ferry ARGS` with FERRY_ROOT set to NAME's root.
# ct_counter NAME CT [ct create options...]
#   On node NAME, a busybox container CT whose init appends "N STAMP" to /seq every 50 ms and
#   prints the same line (so the node's container log has it too): N counts on from the lines
#   already in /seq (a migrated container goes on where it stopped), STAMP is the uptime when
#   that init started, so lines written by the source's and the destination's init differ.
#   Started; returns once the first line is written.
# seq_check FILE: 0 when FILE's first fields are 1, 2, 3... in order, none missing or repeated.
# tree_of NAME CT [DATASET-DIR]: the tree of CT's dataset (default the root dataset) on node NAME.
# nodes_pair TEST
#   The two nodes of most migration tests: src (127.0.0.2, no sshd) and dst (127.0.0.3, with its
#   sshd), src's key trusted on dst. Without root it skips TEST and exits; when the nodes cannot
#   be set up it fails and exits.

node_new() {
	local name=$1 addr=$2 mode=${3:-} root
	root=$(mktemp -d "${NODES_DIR:-/run}/ferry-node-$name.XXXXXX") || return 1
	chmod 0755 "$root"
	at_exit "rm -rf '$root'"
	# Stop whatever runs on this node before its root goes (registered later: runs earlier).
	at_exit "for c in \$(FERRY_ROOT='$root' \"\$FERRY\" ct list -H -o name 2>/dev/null); do FERRY_ROOT='$root' \"\$FERRY\" ct stop -t 0 \"\$c\" >/dev/null 2>&1; done"
	eval "${name}_ROOT=$root"
	"$FERRY" node init --root "$root" >/dev/null || return 1
	[ "$mode" = nosshd ] && return 0
	sshd_start "$addr" "" "AllowUsers migration" || return 1
	eval "${name}_SSHD=$SSHD_DIR ${name}_PORT=$SSHD_PORT ${name}_ADDR=$addr"
	"$FERRY" node setup --root "$root" --sshd-config "$SSHD_DIR/private/sshd_config" \
		>"$SSHD_DIR/private/setup.out" 2>&1 || { cat "$SSHD_DIR/private/setup.out" >&2; return 1; }
	sshd_reload "$SSHD_DIR"
}

nodes_pair() {
	if [ "$(id -u)" != 0 ]; then
		skip "$1" "needs root (sshd, namespaces)"
		exit 0
	fi
	node_new src 127.0.0.2 nosshd || { echo "FAIL nodes: cannot set up"; exit 1; }
	node_new dst 127.0.0.3 || { echo "FAIL nodes: cannot set up the destination"; exit 1; }
	node_trust src dst || { echo "FAIL keys: cannot set up"; exit 1; }
}

node_ferry() {
	local name=$1 root
	shift
	eval "root=\$${name}_ROOT"
	FERRY_ROOT=$root "$FERRY" "$@"
}

node_trust() {
	local from=$1 to=$2 from_root to_root
	shift 2
	eval "from_root=\$${from}_ROOT to_root=\$${to}_ROOT"
	[ -e "$from_root/conf/migration/key" ] || "$FERRY" keygen --root "$from_root" -b 256 >/dev/null || return 1
	"$FERRY" authorized-keys --root "$to_root" add "$from" "$@" <"$from_root/conf/migration/key.pub" >/dev/null
}

tree_of() {
	local root
	eval "root=\$${1}_ROOT"
	local id=${2#*:} pool=default
	[ "$id" != "$2" ] && pool=${2%%:*}
	echo "$root/pools/$pool/ct/$id/datasets/${3:-_root}/tree"
}

ct_counter() {
	local name=$1 ct=$2 rfs
	shift 2
	rfs=$(mktemp -d "$T/rootfs.XXXXXX") || return 1
	rootfs_busybox "$rfs" "trap 'exit 0' TERM
s=\$(cut -d' ' -f1 /proc/uptime)
n=\$(wc -l 2>/dev/null </seq || echo 0)
while :; do n=\$((n + 1)); echo \"\$n \$s\" >>/seq; echo \"\$n \$s\"; sleep 0.05 & wait; done" || return 1
	node_ferry "$name" ct create "$ct" --from "$rfs" "$@" >/dev/null || return 1
	rm -rf "$rfs"
	node_ferry "$name" ct start "$ct" || return 1
	wait_until 30 test -s "$(tree_of "$name" "$ct")/seq"
}

seq_check() {
	awk 'BEGIN { n = 0 } { n++; if ($1 != n) { print "line " n ": " $0 " (expected " n ")"; bad = 1; exit } }
	     END { if (n == 0) { print "empty"; bad = 1 } exit bad }' "$1"
}
