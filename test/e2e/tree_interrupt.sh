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
}
mk_files "$T/src"
S=$T/ss
"$FERRY" tree send --state "$S" --snapshot a "$T/src" >"$T/a.fts" || echo "FAIL setup: send a"
size=$(stat -c %s "$T/a.fts")

# --- base: truncated at sampled offsets ---------------------------------------------------
ok=1
for off in 0 5 12 20 40 100 1000 $((size / 7)) $((size / 3)) $((size / 2)) $((size - 100)) $((size - 41)) $((size - 1)); do
	head -c "$off" "$T/a.fts" | "$FERRY" tree recv --state "$T/rb" "$T/base" 2>/dev/null && { echo "offset $off: accepted" >&2; ok=0; }
	if [ -e "$T/base" ] || [ -n "$(ls -A "$T" | grep ferry-recv)" ]; then
		echo "offset $off: something visible or left behind" >&2
		ok=0
	fi
done
check "a base truncated at any of 13 offsets is refused and leaves nothing" '[ $ok = 1 ]'

# --- base: receiver killed mid-stream ----------------------------------------------------
{ head -c $((size / 2)) "$T/a.fts"; sleep 30; } | "$FERRY" tree recv --state "$T/rb" "$T/base" 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do [ -d "$T/.base.ferry-recv" ] && break; sleep 0.1; done
sleep 0.5
kill -9 "$(pgrep -P $$ -f "tree recv --state $T/rb" | head -n 1)" 2>/dev/null
pkill -9 -f "tree recv --state $T/rb" 2>/dev/null
wait $pid 2>/dev/null
check "a killed base receive leaves nothing visible" '[ ! -e "$T/base" ]'
check "a retry cleans the hidden staging and succeeds" '"$FERRY" tree recv --state "$T/rb" "$T/base" <"$T/a.fts" &&
	tree_compare "$T/src" "$T/base" && [ -z "$(ls -A "$T" | grep ferry-recv)" ]'

# --- incremental: changes of every kind ------------------------------------------------
"$FERRY" tree recv --state "$T/ri" "$T/inc" <"$T/a.fts" || echo "FAIL setup: base"
cp -a "$T/src" "$T/snap-a"
for i in $(seq 1 40); do
	for j in 1 2 3; do echo "changed $i $j" >"$T/src/d$i/f$j"; done
	rm -f "$T/src/d$i/f25"
	echo new >"$T/src/d$i/new"
done
rm -rf "$T/src/d40" && echo "was a dir" >"$T/src/d40"
chmod 0600 "$T/src/d2/f10"
"$FERRY" tree send --state "$S" --snapshot b --from a "$T/src" >"$T/b.fts" || echo "FAIL setup: send b"
isize=$(stat -c %s "$T/b.fts")

ok=1
for off in 12 30 200 $((isize / 5)) $((isize / 2)) $((isize * 4 / 5)) $((isize - 41)) $((isize - 1)); do
	head -c "$off" "$T/b.fts" | "$FERRY" tree recv --state "$T/ri" "$T/inc" 2>/dev/null && { echo "offset $off: accepted" >&2; ok=0; }
	tree_compare "$T/snap-a" "$T/inc" >&2 || { echo "offset $off: target changed" >&2; ok=0; }
done
check "an incremental truncated at 8 offsets is refused and changes nothing" '[ $ok = 1 ]'
check "the retry converges exactly" '"$FERRY" tree recv --state "$T/ri" "$T/inc" <"$T/b.fts" && tree_compare "$T/src" "$T/inc"'
testing "and the target holds b" '"$FERRY" tree held --state "$T/ri" "$T/inc"' "b"

# --- incremental: receiver killed before and after its commit -----------------------------
# kill_at WHAT: receive b.fts into a fresh copy of snapshot a, SIGKILL it when WHAT appears
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
	kill_when "$T/.k.ferry-recv/journal"
	tree_compare "$T/snap-a" "$T/k" >&2 || { echo "killed before commit: target changed" >&2; ok=0; }
	"$FERRY" tree recv --state "$T/rk" "$T/k" <"$T/b.fts" && tree_compare "$T/src" "$T/k" >&2 || ok=0
done
check "killed before its commit: target unchanged, retry converges (3 rounds)" '[ $ok = 1 ]'
ok=1 landed=0
for round in 1 2 3 4 5; do
	reset_target
	kill_when "$T/.k.ferry-recv/commit"
	[ -e "$T/.k.ferry-recv/commit" ] && landed=$((landed + 1))
	# the next receive of the same stream finishes the commit and then finds b already there
	"$FERRY" tree recv --state "$T/rk" "$T/k" <"$T/b.fts" 2>/dev/null && tree_compare "$T/src" "$T/k" >&2 || ok=0
	[ "$("$FERRY" tree held --state "$T/rk" "$T/k")" = b ] || ok=0
done
check "killed during its apply: the next receive finishes it exactly (5 rounds)" '[ $ok = 1 ]'
echo "kills that landed after the commit: $landed of 5" >&2
