# The multicall binary: static, runs alone in an empty chroot, dispatches by name and by argument.
. "$(dirname "$0")/../lib/testing.sh"

applets_from_files() { ls "$TOP"/applets/*.c | sed 's|.*/||; s|\.c$||; s|_|-|g' | LC_ALL=C sort; }

testing "--list names exactly the files in applets/" '"$FERRY" --list' "$(applets_from_files)"
testing "--list is sorted" '"$FERRY" --list | LC_ALL=C sort -c && echo sorted' "sorted"
check "no arguments list every applet with a summary" '
	out=$("$FERRY") && for a in $("$FERRY" --list); do
		grep -Eq "^  $a +[a-z]" <<<"$out" || { echo "missing $a"; exit 1; }; done'
testing "--help is the same list" 'diff <("$FERRY") <("$FERRY" --help) && echo same' "same"

fails_with "unknown applet is a usage error" '"$FERRY" no-such-applet' 2 "ferry: unknown applet 'no-such-applet'"
fails_with "unknown top-level option" '"$FERRY" --bogus' 2 "unknown option --bogus"

mkdir "$T/bin"
check "--install creates one link per applet" '"$FERRY" --install "$T/bin" &&
	[ "$(ls "$T/bin" | LC_ALL=C sort)" == "$("$FERRY" --list)" ]'
check "--install again is fine (links already point to ferry)" '"$FERRY" --install "$T/bin"'
mkdir "$T/bin2" && echo precious >"$T/bin2/ct"
fails_with "--install refuses to overwrite a file" '"$FERRY" --install "$T/bin2"' 1 "exists and is not a link to ferry"
testing "--install left the file alone" 'cat "$T/bin2/ct"' "precious"

for a in $("$FERRY" --list); do
	want=$("$FERRY" "$a" --help)
	testing "ferry $a --help prints usage, exit 0" '"$FERRY" "$a" --help | head -n 1 | cut -c1-6; echo "${PIPESTATUS[0]}"' $'usage:\n0'
	testing "symlink $a --help is the same" '"$T/bin/$a" --help' "$want"
	fails_with "ferry $a --bogus-option is a usage error" '"$FERRY" "$a" --bogus-option' 2 "usage:"
	fails_with "symlink $a names itself in errors" '"$T/bin/$a" --bogus-option' 2 "ferry $a: unknown option --bogus-option"
done

ln -s "$FERRY" "$T/renamed-ferry"
testing "a binary under another name acts as ferry" '"$T/renamed-ferry" --list | head -n 1' "$("$FERRY" --list | head -n 1)"

testing "the binary is statically linked" 'file -b "$FERRY" | grep -o "statically linked"' "statically linked"
testing "the binary has no dynamic section" 'readelf -d "$FERRY" 2>&1 | grep -c "Dynamic section"' "0"
testing "the binary is stripped" 'file -b "$FERRY" | grep -o ", stripped"' ", stripped"

if [ "$(id -u)" = 0 ]; then
	mkdir "$T/chroot"
	cp "$FERRY" "$T/chroot/ferry"
	testing "runs alone in an empty chroot" 'chroot "$T/chroot" /ferry --list' "$("$FERRY" --list)"
	check "chroot dir holds nothing but ferry" '[ "$(ls -A "$T/chroot")" == ferry ]'
	ln -s ferry "$T/chroot/keygen"
	testing "symlink dispatch inside the chroot" 'chroot "$T/chroot" /keygen --help | head -n 1 | cut -c1-6' "usage:"
else
	skip "runs alone in an empty chroot" "needs root for chroot"
fi

check "make install puts ferry and its links under DESTDIR" '
	make -s -C "$TOP" install BUILD="$(dirname "$FERRY")" DESTDIR="$T/dest" PREFIX=/usr >&2 &&
	[ -x "$T/dest/usr/bin/ferry" ] &&
	for a in $("$FERRY" --list); do [ "$(readlink "$T/dest/usr/bin/$a")" == ferry ] || exit 1; done &&
	"$T/dest/usr/bin/receive" --help | grep -q "receive skel"'

testing "README's applet list is ferry --help's" \
	'sed -n "/^<!-- ferry --help -->/,/^<!-- end -->/p" "$TOP/README.md" | sed "1,2d;\$d" | sed "\$d"' \
	"$("$FERRY" --help | sed -n '/^Applets:/,$p')"
