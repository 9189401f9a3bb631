# The size budget of issue 2: the stripped binary stays within 512 KiB, as `make size` checks
# (test/size.sh); its report adds up with the binary it describes (docs/architecture.md, "Size").
. "$(dirname "$0")/../lib/testing.sh"

BUDGET=$((512 * 1024))
MAP=${BUILD:-$TOP/build}/ferry.map
size=$(stat -c %s "$FERRY")
echo "ferry: $size bytes, $((BUDGET - size)) bytes under the budget" >&2

testing "ferry is stripped (no symbol table)" 'readelf -S "$FERRY" | grep -c "\.symtab"' "0"
check "the stripped binary is within 512 KiB ($size bytes, stat)" '[ "$size" -le "$BUDGET" ]'

if [ ! -f "$MAP" ] || [ "$MAP" -ot "$FERRY" ]; then
	skip "size report" "no link map of this binary at $MAP (make builds it)"
	exit 0
fi
testing "make size's script agrees, exit 0" '"$TOP/test/size.sh" "$FERRY" "$MAP" >"$T/report"; echo $?; head -n 1 "$T/report"' \
	"0
ferry: $size bytes stripped ($((size / 1024)) KiB of a 512 KiB budget)"
testing "it names what each part contributes" \
	'"$TOP/test/size.sh" "$FERRY" "$MAP" | tail -n +2 | cut -c3-24 | sed "s/ *$//" | LC_ALL=C sort' \
	"BearSSL
LZ4
ferry applets/
ferry core/
ferry crypto/
musl libc + runtime"
# The parts come from the map, the size from the file: they must describe the same binary.
# The map does not count the ELF headers and the alignment padding between input sections
# (musl's and BearSSL's functions are aligned): about 4 KiB.
parts=$(awk 'NR > 1 { s += $(NF - 2) } END { print s }' "$T/report")
check "the parts add up to the binary ($parts of $size bytes)" \
	'[ "$parts" -le "$size" ] && [ $((size - parts)) -le 16384 ]'

# The negative twin: a binary over the budget fails `make size`.
cp "$FERRY" "$T/fat" && truncate -s $((BUDGET + 1)) "$T/fat"
fails_with "one byte over the budget fails" '"$TOP/test/size.sh" "$T/fat" "$MAP"' 1 "over the 512 KiB budget"
cp "$FERRY" "$T/full" && truncate -s "$BUDGET" "$T/full"
testing "exactly the budget passes" '"$TOP/test/size.sh" "$T/full" "$MAP" >/dev/null; echo $?' "0"
