# ferry move-instance between two ferry clusters on loopback: a running container with data, three at
# once, a rename, keeping the source, LZ4; trees compared with independent tools (test/lib/tree.sh).
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/cluster.sh"
. "$TOP/test/lib/tree.sh"

if [ "$(id -u)" != 0 ]; then
	skip "move e2e" "needs root (containers, owners, devices)"
	exit 0
fi
cluster_start a && cluster_start b || { echo "FAIL the two clusters start"; exit 1; }
tree_of() { echo "$T/$1/pools/default/ct/$2/datasets/${3:-_root}/tree"; }
states() { ctc "$1" list -H -o id,state; }

# ---- One running container with a rich data set ---------------------------------------------------
tree_make "$T/data"
ct_busybox a web "$T/data" && ctc a set web hostname webhost && ctc a start web >/dev/null
check "the source holds the data (sanity)" 'tree_compare "$T/data" "$(tree_of a web data)"'
testing "move-instance moves the running container" 'mi a b web' "web: Success"
testing "it runs on the destination" 'states b' "web	running"
testing "and is gone from the source" 'states a' ""
check "the data set arrived exactly (find, sha256sum, getfattr, getfacl, blocks, links)" \
	'tree_compare "$T/data" "$(tree_of b web data)"'
testing "the root file system arrived (busybox's sha256)" \
	'sha256sum <"$(tree_of b web)/bin/busybox"' "$(sha256sum </bin/busybox)"
testing "the last pass came after the stop: init saw SIGTERM there, then started here" \
	'cat "$(tree_of b web)/state"' "started
stopped
started"
testing "the config travelled (hostname, dataset mount point)" \
	'ctc b show web hostname; ctc b show web dataset.data' "webhost
/srv/data"
testing "the source's per-move key was removed" 'ls "$T/a/rapi/x509" | wc -l' "0"
testing "the destination's job log has the remote-import entry once" \
	'capi b /2/jobs/1 | jv "[e[2] for e in v[\"oplog\"][0]].count(\"remote-import\")"' "1"

# ---- Three containers, two at a time ----------------------------------------------------------------
for c in c1 c2 c3; do ct_busybox a $c && echo "I am $c" >"$(tree_of a $c)/whoami"; done
ctc a start c1 >/dev/null && ctc a start c3 >/dev/null
testing "three moves with --parallel 2" 'mi a b -p 2 c1 c2 c3' "c1: Success
c2: Success
c3: Success"
testing "running ones run again, the stopped one stays stopped" 'states b | grep "^c"' "c1	running
c2	stopped
c3	running"
testing "each has its own data" 'cat "$(tree_of b c1)/whoami" "$(tree_of b c2)/whoami" "$(tree_of b c3)/whoami"' "I am c1
I am c2
I am c3"
testing "nothing is left on the source" 'states a' ""

# ---- Rename --------------------------------------------------------------------------------------
ct_busybox a old && ctc a start old >/dev/null
testing "--dest-instance-name renames on the destination" 'mi a b --dest-instance-name new old' "old as new: Success"
testing "the new name runs there" 'states b | grep -E "^(old|new)"' "new	running"
testing "its host name follows the new name" 'ctc b show new hostname' "new"

# ---- Keeping the source ------------------------------------------------------------------------------
ct_busybox a keep && ctc a start keep >/dev/null
testing "--keep-source-instance" 'mi a b --keep-source-instance keep' "keep: Success"
testing "the source is kept and started again" 'states a' "keep	running"
testing "the destination runs its copy" 'states b | grep ^keep' "keep	running"
check "the copies are alike (the root trees, but for /state)" \
	'diff <(cd "$(tree_of a keep)" && find . ! -name state -printf "%p %m %s\n" | sort) <(cd "$(tree_of b keep)" && find . ! -name state -printf "%p %m %s\n" | sort)'
testing "no snapshot records are left on the kept source" 'ls "$T/a/pools/default/ct/keep/datasets/_root/state/snapshots" | wc -l' "0"
ctc a stop -t 0 keep >/dev/null

# ---- LZ4 --------------------------------------------------------------------------------------------------
ct_busybox a zipped && yes "a line that compresses well" | head -c 20000000 >"$(tree_of a zipped)/big.txt"
testing "--compress lz4" 'mi a b --compress lz4 zipped' "zipped: Success"
testing "the data is intact" 'sha256sum <"$(tree_of b zipped)/big.txt"' "$(yes "a line that compresses well" | head -c 20000000 | sha256sum)"
# "disk 0 (/) sent: N files, X MiB of data, Y MiB on the wire": compressed, Y is far below X
check "it travelled compressed (source log: wire bytes < half the data)" \
	'grep "compression lz4" "$T/a.log" >/dev/null && grep "disk 0 (/) sent:" "$T/a.log" | tail -n 1 | awk -F", " "{ split(\$2, d, \" \"); split(\$3, w, \" \"); exit !(w[1] < d[1] / 2) }"'
