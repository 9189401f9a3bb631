# Interrupted receives: a base leaves nothing visible, an incremental converges exactly on retry.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/tree.sh"

if [ "$(id -u)" != 0 ]; then
	skip "tree interruptions" "needs root"
	exit 0
fi

# A tree of some thousand files, so a stream has many records and the apply has many steps.
mk_files() {
	local d=$1 i
	mkdir -p "$d"
	for i in $(seq 1 40); do
		mkdir -p "$d/d$i"
		for j in $(seq 1 25); do printf 'file %s %s\n' "$i" "$j" >"$d/d$i/f$j"; done
	done
	head -c 2000000 /dev/urandom >"$d/big"
	ln "$d/d1/f1" "$d/hard"
	mkdir -p "$d/keep/sub" && echo old >"$d/keep/sub/file"
}
# Where to cut a saved stream: inside the preamble, and inside and right after the first record
# of each type the stream has (END: before and inside it), found by the independent reader.
cuts() { printf '%s\n' 0 5 11 12; /usr/bin/python3 "$TOP/test/lib/ferrystream.py" cuts "$1"; }
# The record types a saved stream has, sorted (the independent reader again).
types() {
	/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import ferrystream as f
print(" ".join(sorted(f.first_of_each(open(sys.argv[2], "rb").read()))))' "$TOP/test/lib" "$1"
}
# What any change to a tree alters: every entry's type, inode, ctime (content, owner, mode, xattrs,
# links) and mtime; a directory's ctime also changes when an entry is added or removed below it.
fingerprint() { (cd "$1" && find . -printf '%y %i %C@ %T@ %n %P\0' | LC_ALL=C sort -z | sha256sum); }

mk_files "$T/src"
S=$T/ss
"$FERRY" tree send --state "$S" --snapshot a "$T/src" >"$T/a.fts" || echo "FAIL setup: send a"
size=$(stat -c %s "$T/a.fts")
testing "the base has every record type a base may have" 'types "$T/a.fts"' "DATA END ENTRY HEADER LEAVE LINK"

# --- base: truncated at every record type's boundary ------------------------------------------
ok=1 n=0
for off in $(cuts "$T/a.fts") $((size - 1)); do
	n=$((n + 1))
	head -c "$off" "$T/a.fts" | "$FERRY" tree recv --state "$T/rb" "$T/base" 2>/dev/null && { echo "offset $off: accepted" >&2; ok=0; }
	if [ -e "$T/base" ] || [ -n "$(ls -A "$T" | grep ferry-recv)" ]; then
		echo "offset $off: something visible or left behind" >&2
		ok=0
	fi
done
check "a base cut at each of $n places (every record type) is refused and leaves nothing" '[ $ok = 1 ]'

# --- base: receiver killed mid-stream ----------------------------------------------------
# most of the stream through a FIFO held open, so the receiver waits for more; killed once it wrote files
mkfifo "$T/half"
"$FERRY" tree recv --state "$T/rb" "$T/base" <"$T/half" 2>/dev/null &
pid=$!
exec 7>"$T/half"
head -c $((size - 20000)) "$T/a.fts" >&7
for _ in $(seq 1 300); do [ -e "$T/.base.ferry-recv/root/d1/f25" ] && break; sleep 0.1; done
check "the killed receive had written files into its staging" '[ -e "$T/.base.ferry-recv/root/d1/f25" ]'
kill -9 "$pid"
wait "$pid" 2>/dev/null
exec 7>&-
check "a killed base receive leaves nothing visible" '[ ! -e "$T/base" ]'
check "a retry cleans the hidden staging and succeeds" '"$FERRY" tree recv --state "$T/rb" "$T/base" <"$T/a.fts" &&
	tree_compare "$T/src" "$T/base" && [ -z "$(ls -A "$T" | grep ferry-recv)" ]'

check "the fingerprint sees a metadata-only change (negative twin)" 'b=$(fingerprint "$T/base") &&
	chmod 0600 "$T/base/d5/f5" && [ "$(fingerprint "$T/base")" != "$b" ]'

# --- incremental: changes of every kind ------------------------------------------------
"$FERRY" tree recv --state "$T/ri" "$T/inc" <"$T/a.fts" || echo "FAIL setup: base"
tree_listing "$T/src" >"$T/a.listing"
for i in $(seq 1 40); do
	for j in 1 2 3; do echo "changed $i $j" >"$T/src/d$i/f$j"; done
	rm -f "$T/src/d$i/f25"
	echo new >"$T/src/d$i/new"
done
rm -rf "$T/src/d40" && echo "was a dir" >"$T/src/d40"
chmod 0600 "$T/src/d2/f10"
echo new >"$T/src/keep/sub/file" # only the file changes: its directories are entered
ln "$T/src/d3/f4" "$T/src/d3/f4-link"
"$FERRY" tree send --state "$S" --snapshot b --from a "$T/src" >"$T/b.fts" || echo "FAIL setup: send b"
tree_listing "$T/src" >"$T/b.listing"
isize=$(stat -c %s "$T/b.fts")
testing "the incremental has every record type" 'types "$T/b.fts"' "DATA DELETE END ENTER ENTRY HEADER LEAVE LINK"

ok=1 n=0
before=$(fingerprint "$T/inc")
for off in $(cuts "$T/b.fts") $((isize - 1)); do
	n=$((n + 1))
	head -c "$off" "$T/b.fts" | "$FERRY" tree recv --state "$T/ri" "$T/inc" 2>/dev/null && { echo "offset $off: accepted" >&2; ok=0; }
	[ "$(fingerprint "$T/inc")" = "$before" ] || { echo "offset $off: target changed" >&2; ok=0; }
done
check "an incremental cut at each of $n places (every record type) is refused and touches nothing" '[ $ok = 1 ]'
check "the target is still snapshot a" 'tree_matches "$T/a.listing" "$T/inc"'
check "the retry converges exactly" '"$FERRY" tree recv --state "$T/ri" "$T/inc" <"$T/b.fts" && tree_matches "$T/b.listing" "$T/inc"'
testing "and the target holds b" '"$FERRY" tree held --state "$T/ri" "$T/inc"' "b"

# --- incremental: receiver killed before and after its commit -----------------------------
# kill_when FILE: receive b.fts into a fresh copy of snapshot a, SIGKILL it when FILE appears
reset_target() {
	rm -rf "$T/k" "$T/rk" "$T/.k.ferry-recv"
	"$FERRY" tree recv --state "$T/rk" "$T/k" <"$T/a.fts"
}
kill_when() {
	local file=$1
	"$FERRY" tree recv --state "$T/rk" "$T/k" <"$T/b.fts" 2>/dev/null &
	local pid=$!
	while kill -0 $pid 2>/dev/null && [ ! -e "$file" ]; do :; done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
}
ok=1
for round in 1 2 3; do
	reset_target
	before=$(fingerprint "$T/k")
	kill_when "$T/.k.ferry-recv/journal"
	[ "$(fingerprint "$T/k")" = "$before" ] || { echo "killed before commit: target changed" >&2; ok=0; }
	"$FERRY" tree recv --state "$T/rk" "$T/k" <"$T/b.fts" && tree_matches "$T/b.listing" "$T/k" >&2 || ok=0
done
check "killed before its commit: target untouched, retry converges (3 rounds)" '[ $ok = 1 ]'
ok=1 landed=0
for round in 1 2 3 4 5; do
	reset_target
	kill_when "$T/.k.ferry-recv/commit"
	[ -e "$T/.k.ferry-recv/commit" ] && landed=$((landed + 1))
	# the next receive of the same stream finishes the commit and then finds b already there
	"$FERRY" tree recv --state "$T/rk" "$T/k" <"$T/b.fts" 2>/dev/null && tree_matches "$T/b.listing" "$T/k" >&2 || ok=0
	[ "$("$FERRY" tree held --state "$T/rk" "$T/k")" = b ] || ok=0
done
check "killed during its apply: the next receive finishes it exactly (5 rounds)" '[ $ok = 1 ]'
echo "kills that landed after the commit: $landed of 5" >&2
