#!/bin/bash
# The main job, live: two ferry nodes on this machine, each with its own sshd set up by
# `ferry node setup`, and a running container moved from one to the other with `ferry migrate
# now`, with the evidence that nothing was lost. Run by `make demo` (as root); cleans up after.
set -u
: "${FERRY:?run it with make demo}"
. "$(dirname "$0")/lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/nodes.sh"

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# show NODE COMMAND...: prints the command as a user would type it on that node, then runs it.
show() {
	local node=$1
	shift
	printf '%s$ ferry %s\n' "$node" "$*"
	node_ferry "$node" "$@"
}
fail() {
	printf '\nDEMO FAILED: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || fail "run it as root (sshd, namespaces, the migration user)"

bold "Two nodes on this machine, each with its own state root and sshd"
node_new node1 127.0.0.2 || fail "cannot set up node1"
node_new node2 127.0.0.3 || fail "cannot set up node2"
for n in node1 node2; do
	eval "root=\$${n}_ROOT addr=\$${n}_ADDR port=\$${n}_PORT dir=\$${n}_SSHD"
	echo "$n: state root $root, sshd on $addr port $port"
	echo "       set up with: ferry node setup --root $root --sshd-config $dir/private/sshd_config"
done
echo "The block ferry put into node2's sshd config:"
sed -n '/^# BEGIN ferry/,/^# END ferry/p' "$node2_SSHD/private/sshd_config" | sed 's/^/    /'

bold "Keys: node1 may migrate to node2"
show node1 keygen -t ecdsa -b 256 || fail "keygen"
printf 'node2$ ferry authorized-keys add node1 < key.pub\n'
node_ferry node2 authorized-keys add node1 <"$node1_ROOT/conf/migration/key.pub" || fail "authorized-keys"
show node2 authorized-keys list
echo "A bare ssh with that key reaches only 'ferry receive', which prints its usage:"
ssh -F /dev/null -T -p "$node2_PORT" -i "$node1_ROOT/conf/migration/key" -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-l migration 127.0.0.3 </dev/null 2>&1 | sed 's/^/    /'

bold "A running container on node1 whose init counts"
ct_counter node1 counter || fail "cannot start the container"
sleep 1
show node1 ct list
echo "Its /seq so far (number, and when that init started):"
tail -n 3 "$(tree_of node1 counter)/seq" | sed 's/^/    /'
# A witness of every line node1's init writes, kept outside the container.
tail -n +1 -s 0.1 -f "$node1_ROOT/pools/default/ct/counter/log" >"$T/witness" 2>/dev/null &
witness_pid=$!
at_exit "kill $witness_pid 2>/dev/null"

bold "Migrate it while it runs"
show node1 migrate now counter 127.0.0.3 -p "$node2_PORT" || fail "migrate now"

bold "The evidence"
sleep 1
show node2 ct list
running=$(node_ferry node2 ct list -H -o name,state)
[ "$running" = "default:counter	running" ] || fail "the container does not run on node2"
echo "It runs on node2."
show node1 ct list
[ -z "$(node_ferry node1 ct list -H)" ] || fail "node1 still has containers"
[ -z "$(ls -A "$node1_ROOT/pools/default/ct")" ] || fail "node1 still has container files"
echo "node1 has nothing left."
node_ferry node2 ct stop counter >/dev/null
kill "$witness_pid" 2>/dev/null
seqfile=$(tree_of node2 counter)/seq
grep '^[0-9]* [0-9.]*$' "$T/witness" >"$T/written-on-node1"
on1=$(wc -l <"$T/written-on-node1")
total=$(wc -l <"$seqfile")
seq_check "$seqfile" || fail "the counter has a gap"
cmp -s "$T/written-on-node1" <(head -n "$on1" "$seqfile") || fail "a line node1 wrote is missing on node2"
stamp1=$(head -n1 "$seqfile" | cut -d' ' -f2)
stamp2=$(tail -n1 "$seqfile" | cut -d' ' -f2)
echo "The counter on node2 holds 1 to $total with no gap and no repeat."
echo "Lines 1 to $on1 were written by node1's init (started at uptime $stamp1), each one"
echo "exactly as node1 wrote it; lines $((on1 + 1)) to $total by node2's (started at uptime $stamp2):"
sed -n "$((on1 - 1)),$((on1 + 2))p" "$seqfile" | sed 's/^/    /'
echo
echo "Demo done: the container moved while running, nothing lost. Cleaning up."
