# ferry migrate now of a running container between two nodes, each with its own sshd: afterwards it
# runs on the destination, its counter went on without a gap, the source has nothing left, and
# its trees are what they were (compared with find, sha256sum, getfattr, getfacl, stat).
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/tree.sh"
. "$TOP/test/lib/nodes.sh"

nodes_pair migrate_now

# A running container with a sub-dataset holding every kind of entry (test/lib/tree.sh; its 5 GiB
# sparse file replaced by a 300 MiB one: hashing zeros is all the big one would add here).
check "a running counter container with a rich sub-dataset" '
	ct_counter src web --dataset data:/srv/data --hostname webhost &&
	node_ferry src ct stop web >/dev/null &&
	rmdir "$(tree_of src web data)" && tree_make "$(tree_of src web data)" nosparse &&
	truncate -s 300M "$(tree_of src web data)/sparse" &&
	head -c 70000 /dev/urandom | dd of="$(tree_of src web data)/sparse" bs=1 seek=100000000 conv=notrunc status=none &&
	node_ferry src ct start web'
wait_until 30 test -s "$(tree_of src web)/seq"
# Every line the source's init prints reaches its container log: a witness kept outside the
# container (tail -f holds the file open after cleanup deleted it).
tail -n +1 -s 0.1 -f "$src_ROOT/pools/default/ct/web/log" >"$T/witness" 2>/dev/null &
tail_pid=$!
at_exit "kill $tail_pid 2>/dev/null"
data_before=$(tree_listing "$(tree_of src web data)")
# The root dataset without the file the counter appends to.
root_listing() { tree_listing "$1" | grep -v ' seq$\|[0-9] seq '; }
root_before=$(root_listing "$(tree_of src web)")
sleep 0.5

check "migrate now" 'node_ferry src migrate now web 127.0.0.3 -p "$dst_PORT" >"$T/now.out"'
testing "it runs on the destination" 'node_ferry dst ct list -H -o name,state' "default:web	running"
testing "the source has nothing left" \
	'node_ferry src ct list -H; ls -A "$src_ROOT/pools/default/ct"; node_ferry src migrate status' ""
testing "the destination's migration record says complete" \
	'grep "^state\|^key" "$dst_ROOT/pools/default/ct/web/migration"' $'state = complete\nkey = src'
testing "the summary has bytes, ratio, duration and downtime" \
	'grep -c "^transfer web: .* sent (.* of file data, .* files, compression ratio [0-9.]*) in [0-9.]* s, downtime [0-9.]* s$" "$T/now.out"' "1"
n_before=$(wc -l <"$(tree_of dst web)/seq")
# A function, so that every try counts the lines again (a $(...) in the check would be counted once).
seq_grew() { [ "$(wc -l <"$(tree_of dst web)/seq")" -gt "$1" ]; }
check "the counter goes on on the destination" 'wait_until 30 seq_grew "$n_before"'
check "stop it there" 'node_ferry dst ct stop web >/dev/null'
sleep 0.3
kill "$tail_pid" 2>/dev/null
testing "every number in order, none missing (seq_check)" 'seq_check "$(tree_of dst web)/seq" && echo ok' "ok"
witness_lines=$(grep -c '^[0-9]* [0-9.]*$' "$T/witness")
testing "every line the source wrote is on the destination, as the source wrote it" \
	'grep "^[0-9]* [0-9.]*$" "$T/witness" | cmp - <(head -n "$witness_lines" "$(tree_of dst web)/seq") && echo same' "same"
testing "...and the destination's init wrote the rest (another stamp)" \
	'tail -n +$((witness_lines + 1)) "$(tree_of dst web)/seq" | cut -d" " -f2 | sort -u | grep -vc "^$(head -n1 "$T/witness" | cut -d" " -f2)$"' "1"
check "the source wrote a good number of lines (the test saw it run)" '[ "$witness_lines" -ge 10 ]'
testing "the sub-dataset is the same tree (independent tools)" \
	'diff <(echo "$data_before") <(tree_listing "$(tree_of dst web data)") && echo same' "same"
testing "the root dataset is the same tree, but for /seq" \
	'diff <(echo "$root_before") <(root_listing "$(tree_of dst web)") && echo same' "same"
testing "hostname and datasets came with the config" \
	'node_ferry dst ct show web hostname; node_ferry dst ct show web dataset.data' $'webhost\n/srv/data'
# The negative twin of the tree comparison: a changed byte is seen.
printf 'x' >>"$(tree_of dst web data)/small"
testing "a changed file makes the trees differ" \
	'diff <(echo "$data_before") <(tree_listing "$(tree_of dst web data)") >/dev/null && echo same || echo differ' "differ"
