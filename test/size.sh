#!/bin/sh
# Prints the stripped size of ferry and what BearSSL, LZ4, musl and ferry's own code contribute,
# from the link map. usage: test/size.sh BINARY MAPFILE
set -eu
bin=$1 map=$2
budget=$((512 * 1024))
size=$(stat -c %s "$bin")
printf 'ferry: %d bytes stripped (%d KiB of a %d KiB budget)\n' "$size" $((size / 1024)) $((budget / 1024))
# Input sections kept in loaded, file-backed output sections, summed per origin.
awk '
function hex(s,   i, c, v) {
	v = 0; s = tolower(substr(s, 3))
	for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }
	return v
}
function origin(f) {
	if (f ~ /libbearssl\.a/) return "BearSSL"
	if (f ~ /liblz4\.a/) return "LZ4"
	if (f ~ /\/musl\/applets\//) return "ferry applets/"
	if (f ~ /\/musl\/core\//) return "ferry core/"
	if (f ~ /\/musl\/crypto\//) return "ferry crypto/"
	return "musl libc + runtime"
}
/^\.[a-z]/ { split($1, a, " "); out = a[1] }
/^Discarded input sections/ { discarded = 1 }
/^Linker script and memory map/ { discarded = 0 }
discarded { next }
out ~ /^\.(text|rodata|data|init_array|fini_array|eh_frame|gcc_except_table|tdata)/ {
	n = split($0, w, /[ \t]+/)
	for (i = 1; i <= n; i++) if (w[i] ~ /^0x/ && w[i+1] ~ /^0x/ && w[i+2] != "") {
		sz = hex(w[i+1]); f = w[i+2]
		if (f ~ /^\*/ || f ~ /^0x/) break
		sum[origin(f)] += sz; total += sz
		break
	}
}
END {
	for (k in sum) printf "  %-22s %8d bytes  %5.1f%%\n", k, sum[k], 100 * sum[k] / (total ? total : 1)
}' "$map" | sort -k2 -n -r
[ "$size" -le "$budget" ] || { echo "over the 512 KiB budget" >&2; exit 1; }
