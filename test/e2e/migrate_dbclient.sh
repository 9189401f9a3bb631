# The same migration over Dropbear's dbclient (--ssh dbclient): key.dropbear, the host key pinned
# at stage in the node's known_hosts (the store ssh uses too) and checked on every later step.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/tree.sh"
. "$TOP/test/lib/nodes.sh"

if ! command -v dbclient >/dev/null; then
	skip "migrate_dbclient" "no dbclient (apt-get install dropbear-bin)"
	exit 0
fi
nodes_pair migrate_dbclient
M() { node_ferry src migrate "$@"; }
KH=$src_ROOT/conf/migration/known_hosts

check "a running counter container with a sub-dataset" \
	'ct_counter src db --dataset data:/srv/data && seq 1 20000 >"$(tree_of src db data)/numbers"'
data_before=$(tree_listing "$(tree_of src db data)")
check "stage over dbclient" 'M stage db 127.0.0.3 -p "$dst_PORT" --ssh dbclient -q'
testing "stage pinned the host key in the node's known_hosts, port and all (ssh-keygen -F)" \
	'ssh-keygen -F "[127.0.0.3]:$dst_PORT" -f "$KH" | grep -v "^#" | cut -d" " -f2-3' \
	"$(cut -d' ' -f1-2 "$dst_SSHD/private/host_key.pub")"
testing "...and dbclient's own file is made from it (plain host name: dbclient ignores ports)" \
	'cat "$src_ROOT/conf/migration/dropbear/.ssh/known_hosts"' \
	"127.0.0.3 $(cut -d' ' -f1-2 "$dst_SSHD/private/host_key.pub")"
testing "the state remembers the client" 'M status db | grep "^dest"' "dest      127.0.0.3 port $dst_PORT via dbclient as migration"
check "sync, transfer, cleanup over dbclient" 'M sync db -q && M transfer db >"$T/transfer.out" && M cleanup db -q'
testing "the destination's log shows the steps (status: stage's pinning probe)" \
	'sed -n "s/.*cmd=\"receive \([a-z]*\) .*/\1/p" "$dst_ROOT/log/receive.log" | uniq' \
	"status
skel
base
incremental
transfer"
testing "it runs on the destination; nothing is left on the source" \
	'node_ferry dst ct list -H -o name,state; node_ferry src ct list -H' "default:db	running"
check "stop it there" 'node_ferry dst ct stop db >/dev/null'
testing "its counter has no gap" 'seq_check "$(tree_of dst db)/seq" && echo ok' "ok"
testing "the sub-dataset is the same tree" \
	'diff <(echo "$data_before") <(tree_listing "$(tree_of dst db data)") && echo same' "same"
testing "transfer measured its downtime" 'grep -c "downtime [0-9.]* s" "$T/transfer.out"' "1"

# The negative twin: a changed host key stops dbclient too.
check "d2 staged over dbclient" 'node_ferry src ct create d2 >/dev/null && M stage d2 127.0.0.3 -p "$dst_PORT" --ssh dbclient -q'
rm -f "$dst_SSHD/private/host_key" "$dst_SSHD/private/host_key.pub"
ssh-keygen -q -t ed25519 -N "" -f "$dst_SSHD/private/host_key"
sshd_reload "$dst_SSHD"
fails_with "a changed host key stops the migration" 'M sync d2' 1 "127.0.0.3: host key verification failed"
fails_with "...and says how to drop the pinned key" 'M sync d2' 1 "ssh-keygen -f $KH -R '[127.0.0.3]:$dst_PORT'"
testing "the destination received nothing" 'grep -c "receive base default:d2" "$dst_ROOT/log/receive.log"' "0"
fails_with "an unpinned host is refused before dbclient could ask" \
	'sed -i "/127.0.0.3/d" "$KH"; M sync d2' 1 "no key pinned for [127.0.0.3]:$dst_PORT in $KH (ferry migrate stage pins it on first contact)"
