# ferry tree incrementals: every kind of change arrives, nothing else does, and a wrong base is refused.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/tree.sh"

if [ "$(id -u)" != 0 ]; then
	skip "tree incrementals" "needs root (owners, devices, trusted xattrs)"
	exit 0
fi

S=$T/ss R=$T/rs
tree_make "$T/src" nosparse
head -c 1000000 /dev/urandom >"$T/src/big-random"
mkdir -p "$T/src/tc/d2f/inner" "$T/src/tc/d2l" "$T/src/gone/a/b" && echo f >"$T/src/gone/a/b/f"
echo file >"$T/src/tc/f2d" && echo file >"$T/src/tc/f2l" && echo file >"$T/src/tc/f2p"
ln -s x "$T/src/tc/l2f" && ln -s x "$T/src/tc/l2d" && mkfifo "$T/src/tc/p2f"
mknod "$T/src/tc/c2f" c 1 5 && echo d >"$T/src/tc/d2f/inner/x"
echo moveme >"$T/src/renamed-from"
"$FERRY" tree send --state "$S" --snapshot s0 "$T/src" >"$T/s0.fts" &&
	"$FERRY" tree recv --state "$R" "$T/dst" <"$T/s0.fts" || echo "FAIL setup: base round trip"

# round N: send an incremental from the previous snapshot, receive it, compare with independent tools
n=0
round() {
	local name=$1
	n=$((n + 1))
	check "$name: incremental s$((n - 1)) -> s$n arrives exactly" '
		"$FERRY" tree send --state "$S" --snapshot s$n --from s$((n - 1)) "$T/src" >"$T/s$n.fts" &&
		"$FERRY" tree recv --state "$R" "$T/dst" <"$T/s$n.fts" && tree_compare "$T/src" "$T/dst"'
}

# content changed, size and mtime kept: only ctime tells
printf 'HELLO\n' >"$T/src/x" && touch -r "$T/src/small" "$T/src/x" && cat "$T/src/x" >"$T/src/small" &&
	touch -r "$T/src/x" "$T/src/small" && rm "$T/src/x"
round "content change keeping size and mtime"
testing "the change arrived" 'cat "$T/dst/small"' "HELLO"

# metadata only: no file data travels
chmod 0640 "$T/src/big-random" && chown 77:88 "$T/src/big-random" && setfattr -n user.new -v 1 "$T/src/big-random"
round "metadata-only change"
check "metadata-only change sends no file data (stream < 4 KiB)" '[ $(stat -c %s "$T/s$n.fts") -lt 4096 ]'
check "an unchanged tree sends a tiny stream" '"$FERRY" tree send --state "$S" --snapshot idle --from s$n "$T/src" >"$T/idle.fts" && [ $(stat -c %s "$T/idle.fts") -lt 512 ]'
"$FERRY" tree drop --state "$S" --snapshot idle

# deletions of a file and of a whole subtree; renames; new awkward names; empty file and directory
rm "$T/src/empty" && rm -rf "$T/src/gone"
mv "$T/src/renamed-from" "$T/src/renamed-to"
mkdir -p "$T/src/new dir/$(printf 'caf\xe9')" "$T/src/new-empty-dir"
echo nl >"$T/src/new dir/$(printf 'line\nbreak')"
echo dash >"$T/src/new dir/-n"
: >"$T/src/new dir/$(printf 'caf\xe9')/empty-new"
round "deletions, renames, awkward names, empty entries"
check "the deleted subtree is gone" '[ ! -e "$T/dst/gone" ] && [ ! -e "$T/dst/empty" ]'

# every type change
tc=$T/src/tc
rm "$tc/f2d" && mkdir "$tc/f2d" && echo in >"$tc/f2d/child"
rm -rf "$tc/d2f" && echo now-a-file >"$tc/d2f"
rm "$tc/f2l" && ln -s target "$tc/f2l"
rm "$tc/l2f" && echo was-link >"$tc/l2f"
rm -rf "$tc/d2l" && ln -s / "$tc/d2l"
rm "$tc/l2d" && mkdir "$tc/l2d" && echo x >"$tc/l2d/x"
rm "$tc/f2p" && mkfifo "$tc/f2p"
rm "$tc/p2f" && echo was-fifo >"$tc/p2f"
rm "$tc/c2f" && echo was-dev >"$tc/c2f"
round "every type change"
testing "a directory that became a symlink to / is a symlink" 'readlink "$T/dst/tc/d2l"' "/"

# hard links in incrementals: a new link to an unchanged file, a link broken, a file replaced under a link
ln "$T/src/big-random" "$T/src/aaa-new-link-first"
ln "$T/src/sub/random" "$T/src/zzz-new-link-last"
rm "$T/src/link-b" && echo separate >"$T/src/link-b"
round "hard links added and broken"
testing "new links share the inode" 'stat -c %i "$T/dst/big-random" "$T/dst/aaa-new-link-first" | uniq | wc -l; stat -c %i "$T/dst/sub/random" "$T/dst/zzz-new-link-last" | uniq | wc -l' $'1\n1'

# directory metadata and a changed file inside an unchanged directory (its mtime must be kept)
echo more >>"$T/src/sub/deeper/deepest/bin" 2>/dev/null || { mkdir -p "$T/src/sub/deeper/deepest"; echo more >"$T/src/sub/deeper/deepest/bin"; }
chmod 0700 "$T/src/sub"
setfacl -m u:1002:r "$T/src/sub/deeper"
round "directory metadata and nested content"

# negative twins
fails_with "an incremental the target has no base for is refused, naming what it holds" \
	'"$FERRY" tree recv --state "$R" "$T/dst" <"$T/s1.fts"' 1 "holds snapshot s$n; the incremental stream needs snapshot s0"
fails_with "an incremental into an empty target is refused" \
	'"$FERRY" tree recv --state "$T/other" "$T/dst-other" <"$T/s1.fts"' 1 "holds no snapshot; the incremental stream needs snapshot s0"
check "and created nothing" '[ ! -e "$T/dst-other" ]'
cp -a "$T/dst" "$T/dst-moved"
fails_with "a copy of the target is not the target (held record bound to the directory)" \
	'"$FERRY" tree recv --state "$R" "$T/dst-moved" <"$T/s$n.fts"' 1 "holds no snapshot"
