# ferry migrate step by step: data changed between sync and transfer, steps out of order refused
# with nothing changed, cancel after stage and after sync leaving both nodes clean, -j and -q.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/tree.sh"
. "$TOP/test/lib/nodes.sh"

nodes_pair migrate_steps
M() { node_ferry src migrate "$@"; }
P="-p $dst_PORT"
# What must not change when a step is refused: the source's migration file, the destination's containers.
snapshot_state() {
	sha256sum "$src_ROOT/pools/default/ct/$1/migration" 2>/dev/null || echo "no migration file"
	node_ferry dst ct list -H -o name,state
	find "$src_ROOT/pools/default/ct/$1/datasets" -path "*/state/snapshots/*" -printf "%P\n" | sort
}

check "a running container with a sub-dataset" 'ct_counter src ct1 --dataset data:/srv/data'
mkdir -p "$(tree_of src ct1 data)/docs"
seq 1 5000 >"$(tree_of src ct1 data)/docs/numbers"
printf 'first\n' >"$(tree_of src ct1 data)/docs/keep"

# ---- Out of order before stage ----------------------------------------------------------------
before=$(snapshot_state ct1)
fails_with "transfer before stage is refused" 'M transfer ct1' 1 \
	"ct1 is not being migrated (state: none); run 'ferry migrate stage ct1 DEST' first"
fails_with "sync before stage is refused" 'M sync ct1' 1 "ct1 is not being migrated (state: none)"
fails_with "cleanup before stage is refused" 'M cleanup ct1' 1 "ct1 is not being migrated (state: none): nothing to clean up"
fails_with "cancel before stage is refused" 'M cancel ct1' 1 "ct1 is not being migrated (state: none): nothing to cancel"
testing "...nothing changed" 'snapshot_state ct1' "$before"
fails_with "stage without DEST is a usage error" 'M stage ct1' 2 "stage: missing DEST"
fails_with "an option of another step is a usage error" 'M sync ct1 --no-delete' 2 "sync: option --no-delete does not apply"
fails_with "a destination that looks like an option" 'M stage ct1 -- -oProxyCommand=x' 2 "bad destination"
fails_with "a missing container" 'M stage nope 127.0.0.3 $P' 1 "no container default:nope"

# ---- stage ------------------------------------------------------------------------------------------
testing "stage" 'M stage ct1 127.0.0.3 $P 2>/dev/null' \
	"staged ct1 on 127.0.0.3 (2 datasets); next: ferry migrate sync ct1"
testing "the destination holds it staged, with no data yet" \
	'node_ferry dst ct list -H -o name,state; ls "$(tree_of dst ct1)" 2>&1 | grep -c "No such file"' \
	$'default:ct1\tstaged\n1'
fails_with "a staged container cannot start on the destination" 'node_ferry dst ct start ct1' 1 "is staged"
testing "status" 'M status ct1 | grep -v "^since"' \
	"ct        default:ct1
state     staged
dest      127.0.0.3 port $dst_PORT via ssh as migration
dataset   / confirmed -
dataset   data confirmed -
next      sync"
testing "status of every container" 'M status' \
	"CT                       STATE         DEST                     NEXT
default:ct1              staged        127.0.0.3                sync"
before=$(snapshot_state ct1)
fails_with "a second stage is refused" 'M stage ct1 127.0.0.3 $P' 1 \
	"ct1 is being migrated to 127.0.0.3 already (state: staged)"
fails_with "cleanup right after stage is refused" 'M cleanup ct1' 1 \
	"ct1 has not been transferred yet (state: staged); run 'ferry migrate transfer ct1' or 'ferry migrate cancel ct1'"
fails_with "now to another destination is refused" 'M now ct1 127.0.0.9 $P' 1 \
	"ct1 is being migrated to 127.0.0.3 (state: staged), not 127.0.0.9"
testing "...nothing changed" 'snapshot_state ct1' "$before"

# ---- sync, change, sync, change, transfer ---------------------------------------------------------
check "sync" 'M sync ct1 >"$T/sync1.out" 2>&1'
testing "sync prints a summary" 'grep -c "^sync ct1: .* sent (.* of file data, .* files, compression ratio [0-9.]*) in [0-9.]* s$" "$T/sync1.out"' "1"
testing "status: synced, each dataset confirmed" 'M status ct1 | grep -c "^dataset   .* confirmed ferry-mig-"; M status ct1 | grep "^state"' \
	$'2\nstate     synced'
testing "the source keeps exactly one snapshot record per dataset" \
	'find "$src_ROOT/pools/default/ct/ct1/datasets" -path "*/state/snapshots/*" | wc -l' "2"
D=$(tree_of src ct1 data)
printf 'changed\n' >"$D/docs/keep"
printf 'new\n' >"$D/docs/new"
rm "$D/docs/numbers"
mkdir "$D/newdir" && ln -s ../docs/keep "$D/newdir/link"
setfattr -n user.tag -v one "$D/docs/keep"
check "sync again" 'M sync ct1 >/dev/null 2>&1'
testing "the second sync was incremental" 'grep -c "cmd=\"receive incremental default:ct1 data " "$dst_ROOT/log/receive.log"' "1"
testing "still one snapshot record per dataset" \
	'find "$src_ROOT/pools/default/ct/ct1/datasets" -path "*/state/snapshots/*" | wc -l' "2"
# Changes after the last sync: only transfer's syncs carry them.
printf 'late\n' >"$D/docs/late"
chmod 0600 "$D/docs/new"
chown 1234:5678 "$D/docs/keep"
setfattr -n user.tag -v two "$D/docs/keep"
rm -r "$D/newdir"
printf 'root change\n' >"$(tree_of src ct1)/etc/motd"
check "transfer --no-start" 'M transfer ct1 --no-start >"$T/transfer.out" 2>&1'
testing "transfer said what it did" 'grep -c "^transferred ct1 to 127.0.0.3 (not started there); next: ferry migrate cleanup ct1$" "$T/transfer.out"' "1"
testing "no downtime is reported without a start" 'grep -c "downtime" "$T/transfer.out"' "0"
testing "stopped on both nodes; staged on the source" \
	'node_ferry src ct list -H -o name,state; node_ferry dst ct list -H -o name,state' \
	$'default:ct1\tstaged\ndefault:ct1\tstopped'
check "the root datasets are the same (tree_compare)" 'tree_compare "$(tree_of src ct1)" "$(tree_of dst ct1)"'
check "the sub-datasets are the same (tree_compare)" 'tree_compare "$(tree_of src ct1 data)" "$(tree_of dst ct1 data)"'
testing "the late changes arrived" 'cat "$(tree_of dst ct1 data)/docs/late"; stat -c "%a %u:%g" "$(tree_of dst ct1 data)/docs/new" "$(tree_of dst ct1 data)/docs/keep"; getfattr --only-values -n user.tag "$(tree_of dst ct1 data)/docs/keep"; echo; ls "$(tree_of dst ct1 data)"' \
	"late
600 0:0
644 1234:5678
two
docs"
fails_with "the transferred source cannot start" 'node_ferry src ct start ct1' 1 "is staged"
before=$(snapshot_state ct1)
fails_with "cancel after transfer is refused" 'M cancel ct1' 1 \
	"ct1 has been transferred to 127.0.0.3 (state: transferred): cancel is refused"
fails_with "sync after transfer is refused" 'M sync ct1' 1 \
	"ct1 has been transferred to 127.0.0.3 already (state: transferred); run 'ferry migrate cleanup ct1'"
fails_with "a second transfer is refused" 'M transfer ct1' 1 "(state: transferred)"
testing "...nothing changed" 'snapshot_state ct1' "$before"
testing "cleanup --no-delete" 'M cleanup ct1 --no-delete | cut -d" " -f1-9' \
	"kept ct1 here, staged so that it cannot start"
testing "the kept copy: staged, no snapshot records left, state kept" \
	'node_ferry src ct list -H -o name,state; find "$src_ROOT/pools/default/ct/ct1/datasets" -path "*/state/snapshots/*" | wc -l; M status ct1 | grep ^state' \
	$'default:ct1\tstaged\n0\nstate     kept'
fails_with "a second cleanup is refused" 'M cleanup ct1' 1 "ct1 was cleaned up already (state: kept)"
check "the destination starts it" 'node_ferry dst ct start ct1'
check "...and its counter goes on from where it stopped" \
	'n=$(wc -l <"$(tree_of src ct1)/seq"); wait_until 30 test "$(wc -l <"$(tree_of dst ct1)/seq")" -gt "$n"; node_ferry dst ct stop ct1 >/dev/null; seq_check "$(tree_of dst ct1)/seq"'

# ---- cancel after stage, cancel after sync: both nodes clean ------------------------------------
check "two more running containers" 'ct_counter src c2 && ct_counter src c3'
check "stage c2, stage and sync c3" 'M stage c2 127.0.0.3 $P -q && M stage c3 127.0.0.3 $P -q && M sync c3 -q'
testing "the destination holds both staged" 'node_ferry dst ct list -H -o name,state | grep -v ct1' \
	$'default:c2\tstaged\ndefault:c3\tstaged'
check "cancel c2 (after stage)" 'M cancel c2 -q'
check "cancel c3 (after sync)" 'M cancel c3 -q'
testing "the destination has neither" 'node_ferry dst ct list -H -o name | grep -v ct1; ls -A "$dst_ROOT/pools/default/ct"' "ct1"
testing "the source: both run, no migration state, no snapshot records" \
	'node_ferry src ct list -H -o name,state | grep -v ct1; ls "$src_ROOT/pools/default/ct/c2" "$src_ROOT/pools/default/ct/c3" | grep -c "^migration$"; find "$src_ROOT/pools/default/ct/c3/datasets" -path "*/state/snapshots/*" | wc -l' \
	$'default:c2\trunning\ndefault:c3\trunning\n0\n0'
fails_with "a second cancel is refused" 'M cancel c3' 1 "c3 is not being migrated (state: none): nothing to cancel"
check "c3 can be migrated again after the cancel" 'M stage c3 127.0.0.3 $P -q && M sync c3 -q'
check "cancel --local touches only this node" 'M cancel c3 --local -q'
testing "...so the destination still holds it" 'node_ferry dst ct list -H -o name,state | grep c3' $'default:c3\tstaged'

# ---- -j: JSON lines; -q: nothing ----------------------------------------------------------------
check "stage -j of c2" 'M stage c2 127.0.0.3 $P -j >"$T/j.out"'
check "sync -j of c2" 'M sync c2 -j >>"$T/j.out"'
testing "every line is one JSON object (python3 json)" \
	'/usr/bin/python3 -c "
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    print(o[\"event\"], o.get(\"step\"), o.get(\"phase\", \"\"), o[\"ct\"])
" "$T/j.out" | grep -v "^progress" | sort -u' \
	"dataset sync done default:c2
dataset sync start default:c2
step stage done default:c2
step stage start default:c2
step sync done default:c2
step sync start default:c2
summary sync  default:c2"
testing "the summary's numbers" \
	'/usr/bin/python3 -c "
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o[\"event\"] == \"summary\":
        print(o[\"bytes_sent\"] > 0, o[\"ratio\"] > 0, o[\"downtime\"])
" "$T/j.out"' "True True None"
testing "-q prints nothing" 'M sync c2 -q 2>&1' ""
fails_with "a failed step with -j still says why on stderr" 'M cleanup c2 -j' 1 "c2 has not been transferred yet"
testing "...and as a JSON event" 'M cleanup c2 -j 2>/dev/null | /usr/bin/python3 -c "import json,sys; o=json.loads(sys.stdin.readline()); print(o[\"event\"], o[\"step\"], o[\"phase\"], o[\"state\"])"' "step cleanup failed synced"
