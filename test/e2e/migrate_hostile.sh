# What a migration key can do through sshd and `ferry receive`: hostile commands are refused with
# nothing changed; --ctid and --from are enforced at every step; a --single-use key stops working
# after its transfer or cancel.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/nodes.sh"

if [ "$(id -u)" != 0 ]; then
	skip "migrate_hostile" "needs root (sshd, namespaces)"
	exit 0
fi
node_new dst 127.0.0.3 || { echo "FAIL nodes: cannot set up the destination"; exit 1; }
for n in hs cs fs us; do
	node_new "$n" 127.0.0.2 nosshd || { echo "FAIL nodes: cannot set up $n"; exit 1; }
done
node_trust hs dst || { echo "FAIL keys: cannot set up"; exit 1; }
# SSH as node NAME's key, straight to the forced command (no ferry on the client side).
key_ssh() {
	local name=$1 root
	shift
	eval "root=\$${name}_ROOT"
	ssh -F /dev/null -T -p "$dst_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes \
		-i "$root/conf/migration/key" -l migration 127.0.0.3 "$@"
}
# Everything the destination holds, as text: containers, their files, held snapshots, keys.
dst_state() {
	(cd "$dst_ROOT" && find pools conf -printf '%p %y %s %m\n' | LC_ALL=C sort)
	cat "$dst_ROOT"/pools/*/ct/*/datasets/*/state/held 2>/dev/null
	sha256sum "$dst_ROOT/conf/migration/allowed-keys"
}
P="-p $dst_PORT"

# ---- Hostile commands ---------------------------------------------------------------------------
check "h1 staged and synced (so there is something to protect)" \
	'node_ferry hs ct create h1 >/dev/null && printf "data\n" >"$(tree_of hs h1)/f" && node_ferry hs migrate stage h1 127.0.0.3 $P -q && node_ferry hs migrate sync h1 -q'
before=$(dst_state)
long=$(printf 'a%.0s' {1..64})
refused_usage() { # NAME COMMAND TEXT: receive exits 2 with TEXT and its usage
	fails_with "refused: $1" "key_ssh hs '$2' </dev/null" 2 "$3"
}
refused_usage "receive; id" 'receive; id' "not a receive command: 'receive; id'"
refused_usage "\$(id)" '$(id)' "not a receive command: '\$(id)'"
refused_usage "receive skel \$(id)" 'receive skel $(id)' "bad pool"
refused_usage "receive status \`id\`" 'receive status `id`' "container id"
refused_usage "receive base ../../etc /" 'receive base ../../etc /' "container id"
refused_usage "receive base h1 ../../etc" 'receive base h1 ../../etc' "dataset"
refused_usage "receive base h1 / ../x" 'receive base h1 / ../x' "bad snapshot name"
refused_usage "receive skel && id" 'receive skel && id' "too many"
refused_usage "receive status h1 | id" 'receive status h1 | id' "too many"
refused_usage "an overlong id" "receive status $long" "too long"
refused_usage "an overlong command" "receive status $(printf 'x%.0s' {1..600})" "command too long"
refused_usage "an unknown verb" 'receive shell h1' "unknown verb 'shell'"
refused_usage "another unknown verb" 'receive rm -rf /' "unknown verb 'rm'"
refused_usage "a tab" "$(printf 'receive\tstatus h1')" "control"
fails_with "refused: a skel that is not one" 'echo "not a skel" | key_ssh hs "receive skel"' 1 "skel"
# A skel whose config would run a command as root on the destination (start_cmd).
forged() {
	node_ferry hs ct create evil >/dev/null 2>&1
	node_ferry hs ct set evil start_cmd "/bin/touch /run/ferry-pwned" >/dev/null
	node_ferry hs migrate stage evil 127.0.0.3 $P
}
fails_with "refused: a skel with start_cmd" 'forged' 1 "commands that would run as root on this node are not accepted"
# An incremental for a snapshot the destination lacks.
node_ferry hs tree send --state "$T/st" --snapshot a "$(tree_of hs h1)" >/dev/null
node_ferry hs tree send --state "$T/st" --snapshot b --from a "$(tree_of hs h1)" >"$T/incr"
held=$(cat "$dst_ROOT/pools/default/ct/h1/datasets/_root/state/held" | sed -n 's/^snapshot //p')
fails_with "refused: an incremental from a snapshot the destination lacks" \
	'key_ssh hs "receive incremental h1 / b" <"$T/incr"' 1 "holds snapshot $held; the incremental stream needs snapshot a"
fails_with "refused: an incremental sent as a base" 'key_ssh hs "receive base h1 / b" <"$T/incr"' 1 \
	"the stream is an incremental, not the expected base"
fails_with "refused: a stream for another snapshot than the command names" \
	'key_ssh hs "receive incremental h1 / c" <"$T/incr"' 1 "the stream creates snapshot b, not the expected c"
fails_with "refused: transfer of an unknown container" 'key_ssh hs "receive transfer nope start" </dev/null' 3 "no container default:nope here"
fails_with "refused: a base into a container that has data" \
	'node_ferry hs tree send --state "$T/st2" --snapshot z "$(tree_of hs h1)" | key_ssh hs "receive base h1 / z"' 1 "exists and is not empty"
testing "nothing changed on the destination" 'dst_state' "$before"
check "no command ran" '[ ! -e /run/ferry-pwned ]'
testing "every refusal is in the log" 'grep -c " refused: \| failed: " "$dst_ROOT/log/receive.log"' "21"
check "h1's migration still works" 'node_ferry hs migrate transfer h1 --no-start -q && node_ferry hs migrate cleanup h1 -q'

# ---- --ctid at every step --------------------------------------------------------------------------
check "cs's key is limited to web*" 'node_trust cs dst --ctid "web*"'
check "two containers on cs" 'node_ferry cs ct create web1 >/dev/null && node_ferry cs ct create db1 >/dev/null'
before=$(dst_state)
fails_with "stage db1 is refused" 'node_ferry cs migrate stage db1 127.0.0.3 $P' 1 \
	"key 'cs' is limited to containers matching 'web*': 'db1' refused"
testing "...nothing created" 'dst_state' "$before"
check "stage, sync of web1 work" 'node_ferry cs migrate stage web1 127.0.0.3 $P -q && node_ferry cs migrate sync web1 -q'
# hs stages d2 (not web*): cs's key may not touch it at any step.
check "d2 staged and synced by hs" 'node_ferry hs ct create d2 >/dev/null && node_ferry hs migrate stage d2 127.0.0.3 $P -q && node_ferry hs migrate sync d2 -q'
before=$(dst_state)
for verb in "base d2 /" "incremental d2 /" "transfer d2 start" "cancel d2" "status d2"; do
	fails_with "cs: receive $verb is refused" 'key_ssh cs "receive $verb" </dev/null' 3 \
		"key 'cs' is limited to containers matching 'web*': 'd2' refused"
done
# web1 matches the pattern but was staged by cs: hs's key may not touch it either.
for verb in "base web1 /" "transfer web1 start" "cancel web1" "status web1"; do
	fails_with "hs: receive $verb on cs's container is refused" 'key_ssh hs "receive $verb" </dev/null' 3 \
		"container default:web1 was staged with another key: key 'hs' may not touch it"
done
testing "...nothing changed" 'dst_state' "$before"
check "web1 goes on" 'node_ferry cs migrate transfer web1 -q && node_ferry cs migrate cleanup web1 -q'

# ---- --from at every step ---------------------------------------------------------------------------
check "fs's key is limited to 127.0.0.*" 'node_trust fs dst --from "127.0.0.*"'
check "f1: stage and sync from 127.0.0.1" 'node_ferry fs ct create f1 >/dev/null && node_ferry fs migrate stage f1 127.0.0.3 $P -q && node_ferry fs migrate sync f1 -q'
# Now the key may only come from 10.9.9.9: every later step is refused.
check "the key is limited to 10.9.9.9" \
	'node_ferry dst authorized-keys del fs >/dev/null && node_ferry dst authorized-keys add fs --from 10.9.9.9 <"$fs_ROOT/conf/migration/key.pub" >/dev/null'
before=$(dst_state)
printf 'x\n' >"$(tree_of fs f1)/new"
fails_with "sync is refused" 'node_ferry fs migrate sync f1' 1 "key 'fs' is limited to clients matching '10.9.9.9': 127.0.0.1 refused"
for verb in "base f1 /" "incremental f1 /" "transfer f1 start" "cancel f1" "status f1" "skel"; do
	fails_with "receive $verb is refused" 'key_ssh fs "receive $verb" </dev/null' 3 \
		"key 'fs' is limited to clients matching '10.9.9.9': 127.0.0.1 refused"
done
fails_with "cancel is refused (and -f resets only this node)" 'node_ferry fs migrate cancel f1' 1 "limited to clients matching"
testing "...nothing changed on the destination" 'dst_state | grep -v "^pools/default/ct/f1/migration\|allowed-keys"' \
	"$(echo "$before" | grep -v "^pools/default/ct/f1/migration\|allowed-keys")"
check "back to 127.0.0.*: the migration goes on" \
	'node_ferry dst authorized-keys del fs >/dev/null && node_ferry dst authorized-keys add fs --from "127.0.0.*" <"$fs_ROOT/conf/migration/key.pub" >/dev/null && node_ferry fs migrate transfer f1 -q && node_ferry fs migrate cleanup f1 -q'

# ---- --single-use --------------------------------------------------------------------------------------
check "us's key is single-use" 'node_trust us dst --single-use'
check "migrate now with it" 'node_ferry us ct create u1 >/dev/null && node_ferry us migrate now u1 127.0.0.3 $P -q'
testing "after the transfer the key is gone" 'node_ferry dst authorized-keys list | grep -c " us "' "0"
fails_with "...and sshd refuses it" 'key_ssh us "receive status u1" </dev/null' 255 "Permission denied"
fails_with "...so a second migration fails clearly" 'node_ferry us ct create u2 >/dev/null; node_ferry us migrate stage u2 127.0.0.3 $P' 1 \
	"SSH session failed: migration@127.0.0.3: Permission denied (publickey)."
check "single-use again" 'node_ferry dst authorized-keys add us --single-use <"$us_ROOT/conf/migration/key.pub" >/dev/null'
check "stage u2, then cancel" 'node_ferry us migrate stage u2 127.0.0.3 $P -q && node_ferry us migrate cancel u2 -q'
testing "after the cancel the key is gone" 'node_ferry dst authorized-keys list | grep -c " us "' "0"
fails_with "...and sshd refuses it" 'key_ssh us "receive status u2" </dev/null' 255 "Permission denied"
