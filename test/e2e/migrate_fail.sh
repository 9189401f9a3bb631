# ferry migrate when things go wrong: a destination whose start fails (rollback to the source, the
# migration stays retryable), peers killed in the middle of a sync (clear error, the retry
# converges), a lost confirmation, an interrupted transfer, a changed host key.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/tree.sh"
. "$TOP/test/lib/nodes.sh"

nodes_pair migrate_fail
M() { node_ferry src migrate "$@"; }
P="-p $dst_PORT"
state_of() { sed -n 's/^state = //p' "$src_ROOT/pools/default/ct/$1/migration"; }

# ---- The destination cannot start it: back to the source, retryable ------------------------------
check "a running container, staged and synced" 'ct_counter src f1 && M stage f1 127.0.0.3 $P -q && M sync f1 -q'
# The destination's copy diverges: its init is gone (the source's manifest says it did not change,
# so no sync brings it back).
mv "$(tree_of dst f1)/sbin/init" "$T/init.saved"
fails_with "transfer fails when the destination's start fails" 'M transfer f1' 1 \
	"transfer f1 failed: 127.0.0.3: start default:f1 failed: "
testing "...the message says what now" 'M transfer f1 2>&1 >/dev/null | grep -o "f1 runs here again (state: synced): run .ferry migrate transfer f1. again, or .ferry migrate cancel f1."' \
	"f1 runs here again (state: synced): run 'ferry migrate transfer f1' again, or 'ferry migrate cancel f1'"
testing "it runs on the source again, is staged on the destination" \
	'node_ferry src ct list -H -o name,state; node_ferry dst ct list -H -o name,state; state_of f1' \
	$'default:f1\trunning\ndefault:f1\tstaged\nsynced'
testing "the destination logged the failed start" 'grep -c "failed: start default:f1 failed: .*staged again here" "$dst_ROOT/log/receive.log"' "2"
mv "$T/init.saved" "$(tree_of dst f1)/sbin/init"
check "the retried transfer succeeds" 'M transfer f1 -q'
testing "it runs on the destination only" \
	'node_ferry src ct list -H -o name,state; node_ferry dst ct list -H -o name,state' \
	$'default:f1\tstaged\ndefault:f1\trunning'
check "its counter has no gap across both attempts" \
	'node_ferry dst ct stop f1 >/dev/null && seq_check "$(tree_of dst f1)/seq"'
check "cleanup" 'M cleanup f1 -q'

# ---- Peers killed in the middle of a sync ----------------------------------------------------------
check "a container with 24 MB of incompressible data, staged" '
	node_ferry src ct create k1 >/dev/null &&
	head -c 24000000 /dev/urandom >"$(tree_of src k1)/big" && seq 1 100000 >"$(tree_of src k1)/small" &&
	M stage k1 127.0.0.3 $P -q'
# --bwlimit makes the base take about 8 s: time to cut it.
FERRY_ROOT=$src_ROOT "$FERRY" migrate sync k1 --bwlimit 3M >"$T/k1.out" 2>&1 &
sync_pid=$!
wait_until 30 sh -c "ls -A '$dst_ROOT/pools/default/ct/k1/datasets/_root' | grep -q ferry-recv"
sleep 1
sshd_kill_sessions "$dst_SSHD"
wait "$sync_pid"
rc=$?
testing "killing the destination's session fails the sync" 'echo $rc' "1"
testing "...with a clear error naming the dataset and the cut session" \
	'grep -c "^ferry migrate: sync k1: dataset /: 127.0.0.3: SSH session failed" "$T/k1.out"' "1"
check "...the sent snapshot is left unconfirmed" 'M status k1 | grep -q "^dataset   / confirmed -, unconfirmed ferry-mig-"'
check "the retried sync converges" 'M sync k1 -q'
testing "...nothing unconfirmed left, one snapshot record" \
	'M status k1 | grep -c unconfirmed; ls "$src_ROOT/pools/default/ct/k1/datasets/_root/state/snapshots" | wc -l' $'0\n1'
check "the trees are the same" 'tree_compare "$(tree_of src k1)" "$(tree_of dst k1)"'
# The source's own ssh client dies in the middle of an incremental.
head -c 24000000 /dev/urandom >"$(tree_of src k1)/big2"
FERRY_ROOT=$src_ROOT "$FERRY" migrate sync k1 --bwlimit 3M >"$T/k1b.out" 2>&1 &
sync_pid=$!
wait_until 30 sh -c "pgrep -P $sync_pid -x ssh >/dev/null"
sleep 1
pkill -KILL -P "$sync_pid" -x ssh
wait "$sync_pid"
rc=$?
testing "killing the source's ssh fails the sync" 'echo $rc' "1"
testing "...with a clear error" 'grep -c "^ferry migrate: sync k1: dataset /: 127.0.0.3: SSH session failed\|^ferry migrate: sync k1: dataset /: .*killed by signal 9" "$T/k1b.out"' "1"
check "the retried sync converges" 'M sync k1 -q'
check "...to the same trees" 'tree_compare "$(tree_of src k1)" "$(tree_of dst k1)"'

# ---- A confirmation lost after the destination committed ------------------------------------------
# What a cut after the commit leaves: the destination holds the snapshot, the source has it as
# unconfirmed. Made here by moving the confirmed name to the pending field.
f=$src_ROOT/pools/default/ct/k1/migration
snap=$(sed -n 's|^dataset\./ = \([^ ]*\) -$|\1|p' "$f")
sed -i "s|^dataset\./ = $snap -\$|dataset./ = - $snap|" "$f"
testing "status shows it unconfirmed" 'M status k1 | grep "^dataset"' "dataset   / confirmed -, unconfirmed $snap"
printf 'more\n' >"$(tree_of src k1)/more"
check "the next sync asks the destination and builds on what it holds" 'M sync k1 -q'
testing "...an incremental from that snapshot" \
	'grep "cmd=\"receive incremental default:k1 / " "$dst_ROOT/log/receive.log" | tail -n1 | grep -c "ok: incremental"' "1"
check "...the trees are the same" 'tree_compare "$(tree_of src k1)" "$(tree_of dst k1)"'

# ---- An interrupted transfer ---------------------------------------------------------------------
# What a transfer killed after the stop leaves: the source stopped and held, state transferring.
interrupt() {
	node_ferry src ct stop "$1" >/dev/null &&
		printf 'staged\n' >"$src_ROOT/pools/default/ct/$1/staged" &&
		sed -i 's/^state = .*/state = transferring\nwas_running = 1/' "$src_ROOT/pools/default/ct/$1/migration"
}
check "i1: running, synced, then an interrupted transfer" 'ct_counter src i1 && M stage i1 127.0.0.3 $P -q && M sync i1 -q && interrupt i1'
testing "status says to settle it" 'M status i1 | grep -E "^(state|next)"' \
	$'state     transferring\nnext      transfer (to settle an interrupted transfer)'
sshd_stop_listener() { kill "$(cat "$dst_SSHD/private/pid")"; }
check "the destination goes away" 'sshd_stop_listener; wait_until 10 sh -c "! kill -0 $(cat "$dst_SSHD/private/pid") 2>/dev/null"'
fails_with "without the destination the outcome cannot be learned" 'M transfer i1' 1 \
	"an earlier transfer of i1 did not finish and 127.0.0.3 cannot say how it ended"
testing "...the source stays stopped, the state transferring" \
	'node_ferry src ct list -H -o name,state | grep i1; state_of i1' $'default:i1\tstaged\ntransferring'
fails_with "...and the message says what to do" 'M sync i1' 1 \
	"when 127.0.0.3 runs it, 'ferry migrate cleanup i1 --force'; when it does not, 'ferry migrate cancel i1 --force --local'"
check "the destination comes back" '
	/usr/sbin/sshd -D -f "$dst_SSHD/private/sshd_config" -E "$dst_SSHD/private/log" & echo $! >"$dst_SSHD/private/pid";
	wait_until 20 _sshd_banner 127.0.0.3 "$dst_PORT"'
check "transfer settles it (the destination never took it over) and goes on" 'M transfer i1 >"$T/i1.out"'
testing "...it said so" 'grep -c "the interrupted transfer did not complete on 127.0.0.3 (staged there): restarting it here" "$T/i1.out"' "1"
testing "...and the container runs on the destination only" \
	'node_ferry src ct list -H -o name,state | grep i1; node_ferry dst ct list -H -o name,state | grep i1' \
	$'default:i1\tstaged\ndefault:i1\trunning'
check "i2: running, synced" 'ct_counter src i2 && M stage i2 127.0.0.3 $P -q && M sync i2 -q && M sync i2 -q'
check "a transfer that reached the destination, but whose answer was lost" '
	interrupt i2 && FERRY_ROOT=$dst_ROOT "$FERRY" receive --key src transfer i2 start >/dev/null'
check "cleanup asks, learns it completed, and cleans up" 'M cleanup i2 >"$T/i2.out"'
testing "...it said so; the source is gone, the destination runs it" \
	'grep -c "the interrupted transfer had completed on 127.0.0.3" "$T/i2.out"; node_ferry src ct list -H -o name | grep -c i2; node_ferry dst ct list -H -o name,state | grep i2' \
	$'1\n0\ndefault:i2\trunning'

# ---- A changed host key ------------------------------------------------------------------------------
check "h1 staged (its host key pinned)" 'node_ferry src ct create h1 >/dev/null && M stage h1 127.0.0.3 $P -q'
testing "the pinned key is the destination's (ssh-keygen -F)" \
	'ssh-keygen -F "[127.0.0.3]:$dst_PORT" -f "$src_ROOT/conf/migration/known_hosts" | grep -v "^#" | cut -d" " -f2-3' \
	"$(cut -d' ' -f1-2 "$dst_SSHD/private/host_key.pub")"
cp "$dst_SSHD/private/host_key" "$T/hk.old" && cp "$dst_SSHD/private/host_key.pub" "$T/hk.old.pub"
rm -f "$dst_SSHD/private/host_key" "$dst_SSHD/private/host_key.pub"
ssh-keygen -q -t ed25519 -N "" -f "$dst_SSHD/private/host_key"
sshd_reload "$dst_SSHD"
before=$(sha256sum "$src_ROOT/pools/default/ct/h1/migration" "$src_ROOT/conf/migration/known_hosts")
fails_with "a changed host key stops the migration" 'M sync h1' 1 "127.0.0.3: host key verification failed"
fails_with "...saying what to do if it is expected" 'M sync h1' 1 "ssh-keygen -f $src_ROOT/conf/migration/known_hosts -R '[127.0.0.3]:$dst_PORT'"
fails_with "stage does not accept a changed key either" 'node_ferry src ct create h2 >/dev/null; M stage h2 127.0.0.3 $P' 1 "host key verification failed"
testing "...nothing changed" 'sha256sum "$src_ROOT/pools/default/ct/h1/migration" "$src_ROOT/conf/migration/known_hosts"; ls "$dst_ROOT/pools/default/ct" | grep -c h2' "$before
0"
cp "$T/hk.old" "$dst_SSHD/private/host_key" && cp "$T/hk.old.pub" "$dst_SSHD/private/host_key.pub"
sshd_reload "$dst_SSHD"
check "the pinned key back: the migration goes on" 'M sync h1 -q && M cancel h1 -q'
