# ferry tree send/recv: base round trips checked with independent tools, and their negative twins.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/tree.sh"

if [ "$(id -u)" != 0 ]; then
	skip "tree round trips" "needs root (owners, devices, trusted xattrs)"
	exit 0
fi

tree_make "$T/src"
S1=$T/state-send R1=$T/state-recv

check "send a base stream" '"$FERRY" tree send --state "$S1" --snapshot one "$T/src" >"$T/one.fts"'
testing "the stream starts with the magic and version 1" 'head -c 12 "$T/one.fts" | od -An -tx1 | tr -d " \n"' "8946545245450d0a00000001"
testing "the snapshot is recorded" '"$FERRY" tree snapshots --state "$S1"' "one"
check "receive it" '"$FERRY" tree recv --state "$R1" "$T/dst" <"$T/one.fts"'
check "the copy is exact (find, sha256sum, getfattr, getfacl, blocks, links)" 'tree_compare "$T/src" "$T/dst"'
testing "the target holds the snapshot" '"$FERRY" tree held --state "$R1" "$T/dst"' "one"
testing "the sparse file stays sparse" 'stat -c "%s %b" "$T/dst/sparse" | awk "{print \$1, (\$2 < 1000)}"' "5368709120 1"
testing "hard links share an inode" 'stat -c %i "$T/dst/sub/tri" "$T/dst/tri3" "$T/dst/sub/deeper/tri2" | uniq | wc -l' "1"
testing "the capability survived" 'getcap "$T/dst/capable" | sed "s|.*/||"' "capable cap_net_raw=ep"
testing "setuid bit and owner kept" 'stat -c "%a %u:%g" "$T/dst/setuid"' "4755 2000:2000"
testing "nanosecond mtime kept" 'stat -c %y "$T/dst/small"' "$(stat -c %y "$T/src/small")"
testing "nothing left next to the target" 'ls -A "$T" | grep -c ferry-recv' "0"

# uncompressed, and compressed being smaller
check "--no-compress works too" '"$FERRY" tree send --state "$S1" --snapshot raw --no-compress "$T/src" >"$T/raw.fts" &&
	"$FERRY" tree recv --state "$T/r-raw" "$T/dst-raw" <"$T/raw.fts" && tree_compare "$T/src" "$T/dst-raw"'
check "the compressed stream is smaller" '[ $(stat -c %s "$T/one.fts") -lt $(stat -c %s "$T/raw.fts") ]'
check "a pipe works like a file" '"$FERRY" tree send --state "$S1" --snapshot piped "$T/src" |
	"$FERRY" tree recv --state "$T/r-pipe" "$T/dst-pipe" && tree_compare "$T/src" "$T/dst-pipe"'
mkdir "$T/emptytarget"
check "an empty existing directory is a valid base target" '"$FERRY" tree recv --state "$T/r-empty" "$T/emptytarget" <"$T/one.fts" && tree_compare "$T/src" "$T/emptytarget"'

# negative twins
fails_with "the same snapshot name twice is refused" '"$FERRY" tree send --state "$S1" --snapshot one "$T/src" >/dev/null' 1 "snapshot 'one' already exists"
fails_with "a bad snapshot name is refused" '"$FERRY" tree send --state "$S1" --snapshot ../x "$T/src" >/dev/null' 1 "invalid snapshot name"
fails_with "an incremental from an unknown snapshot is refused" '"$FERRY" tree send --state "$S1" --snapshot x --from nope "$T/src" >/dev/null' 1 "no snapshot 'nope'"
testing "a failed send records nothing" '"$FERRY" tree snapshots --state "$S1"' $'one\npiped\nraw'
fails_with "a base into a non-empty target is refused" '"$FERRY" tree recv --state "$R1" "$T/dst" <"$T/raw.fts"' 1 "is not empty (it holds snapshot one)"
testing "the snapshot it already holds is verified and changes nothing" '"$FERRY" tree recv --state "$R1" "$T/dst" <"$T/one.fts" 2>&1; tree_compare "$T/src" "$T/dst" && echo same' "ferry tree: $T/dst already holds snapshot one: nothing to do
same"
mkdir "$T/full" && echo x >"$T/full/x"
fails_with "a base into a foreign non-empty directory is refused" '"$FERRY" tree recv --state "$T/r-full" "$T/full" <"$T/one.fts"' 1 "exists and is not empty"
testing "which was left alone" 'ls "$T/full"' "x"
fails_with "send needs --snapshot" '"$FERRY" tree send "$T/src"' 2 "needs --snapshot"
fails_with "recv needs DST" '"$FERRY" tree recv </dev/null' 2 "recv needs DST"
fails_with "unknown command" '"$FERRY" tree frobnicate' 2 "unknown command"
fails_with "an empty stream is refused" '"$FERRY" tree recv --state "$T/r-e" "$T/e" </dev/null' 1 "stream is empty"
fails_with "a non-stream is refused" 'echo hello | "$FERRY" tree recv --state "$T/r-e" "$T/e"' 1 "not a ferry tree stream"
# wrong version: bytes 8..11
cp "$T/one.fts" "$T/v2.fts" && printf '\x00\x00\x00\x02' | dd of="$T/v2.fts" bs=1 seek=8 conv=notrunc status=none
fails_with "another version is refused" '"$FERRY" tree recv --state "$T/r-e" "$T/e" <"$T/v2.fts"' 1 "unsupported stream version 2"
# a flipped byte in the middle of the data
size=$(stat -c %s "$T/one.fts")
cp "$T/one.fts" "$T/flip.fts" && printf '\xff' | dd of="$T/flip.fts" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$T/one.fts" "$T/flip.fts" || true
fails_with "a flipped byte is caught by a checksum" '"$FERRY" tree recv --state "$T/r-e" "$T/e" <"$T/flip.fts"' 1 "checksum mismatch"
# absurd record length: the first record's length field (bytes 14..17)
cp "$T/one.fts" "$T/len.fts" && printf '\x7f\xff\xff\xff' | dd of="$T/len.fts" bs=1 seek=14 conv=notrunc status=none
fails_with "an absurd record length is refused" '"$FERRY" tree recv --state "$T/r-e" "$T/e" <"$T/len.fts"' 1 "exceeds the limit"
head -c $((size - 1)) "$T/one.fts" >"$T/trunc.fts"
fails_with "a truncated stream is refused" '"$FERRY" tree recv --state "$T/r-e" "$T/e" <"$T/trunc.fts"' 1 "truncated"
cat "$T/one.fts" <(echo junk) >"$T/trail.fts"
fails_with "trailing bytes after END are refused" '"$FERRY" tree recv --state "$T/r-e" "$T/e" <"$T/trail.fts"' 1 "after the END record"
testing "no failed receive left anything" 'ls -A "$T" | grep -E "^(e|\.e\..*)$" | wc -l' "0"

# the default state directory is outside the tree, under FERRY_ROOT
check "default state under FERRY_ROOT" 'FERRY_ROOT="$T/root" "$FERRY" tree send --snapshot d "$T/src" >"$T/d.fts" &&
	[ -n "$(ls "$T/root/trees/")" ] && FERRY_ROOT="$T/root" "$FERRY" tree snapshots "$T/src" | grep -qx d'
check "drop deletes a snapshot record" 'FERRY_ROOT="$T/root" "$FERRY" tree drop --snapshot d "$T/src" &&
	[ -z "$(FERRY_ROOT="$T/root" "$FERRY" tree snapshots "$T/src")" ]'
fails_with "drop of a missing snapshot fails" 'FERRY_ROOT="$T/root" "$FERRY" tree drop --snapshot d "$T/src"' 1 "no such snapshot"

# mount points and sockets are skipped with a warning
mkdir -p "$T/msrc/mnt" "$T/msrc/keep" && echo k >"$T/msrc/keep/f"
if mount -t tmpfs none "$T/msrc/mnt" 2>/dev/null; then
	at_exit "umount '$T/msrc/mnt'"
	echo hidden >"$T/msrc/mnt/secret"
	fails_with "a mount point is skipped with a warning" '"$FERRY" tree send --state "$T/ms" --snapshot m "$T/msrc" >"$T/m.fts" && false' 1 "mount point), skipped"
	check "and not sent" '"$FERRY" tree recv --state "$T/mr" "$T/mdst" <"$T/m.fts" && [ -f "$T/mdst/keep/f" ] && [ ! -e "$T/mdst/mnt" ]'
else
	skip "mount points are skipped" "cannot mount tmpfs here"
fi
/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/msrc/keep/sock"
testing "a socket is skipped with a warning" '"$FERRY" tree send --state "$T/ms" --snapshot s "$T/msrc" 2>&1 >/dev/null | grep -c "socket skipped"' "1"
