#!/bin/bash
# Benchmark of ferry tree send|recv against tar|lz4 and rsync, of an incremental against rsync, a find
# walk and ferry's own full copy, and of peak RSS at N and 10N files. Not a test: prints times and
# ratios measured in the same run, best of BENCH_ROUNDS (alternating), no timing assertion anywhere.
# usage: FERRY=build/ferry bench/tree.sh   (BENCH_FILES=50000 BENCH_ROUNDS=2 BENCH_RSS_FACTOR=10
#        BENCH_DIR=a new directory /var/tmp/ferry-bench.XXXXXX, removed at the end)
#
# Every copy is timed from a clean page cache state (source in cache, nothing dirty: `sync` first)
# until the copy is on disk: ferry tree recv ends with syncfs, so each baseline is followed by
# `sync -f` on the target's file system, timed separately and printed both ways.
set -eu
: "${FERRY:?set FERRY to the ferry binary}" "${BENCH_FILES:=50000}" "${BENCH_ROUNDS:=2}"
: "${BENCH_RSS_FACTOR:=10}" "${BENCH_DIR:=$(mktemp -u /var/tmp/ferry-bench.XXXXXX)}"
FERRY=$(readlink -f "$FERRY")
W=$BENCH_DIR
rm -rf "$W" && mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

# A reproducible tree of BENCH_FILES files, about 1 GiB at 50 000 (21 KiB on average): half of
# 1-200 bytes, most of the rest up to 16 KiB, a few up to 256 KiB, 0.3 % of 1-4 MiB and 0.03 % of
# 8-24 MiB; a third random, two thirds compressible text; every 50th file hard-linked, every 100th
# with a symlink next to it; and one 8 GiB sparse file with 1 MiB of data at 3 GiB.
gen() { "$(dirname "$0")/gentree.py" "$1" "$2" --sparse; }

# N small files (0-99 bytes) in 2000 directories: the same shape at any N, for memory.
gen_small() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%04d" % (i % 2000))
    if i < 2000:
        os.makedirs(d)
    fd = os.open(os.path.join(d, "f%07d" % i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"x" * (i % 100))
    os.close(fd)
PY
}

# t CMD...: runs CMD, prints its wall time in seconds.
t() {
	local s=$EPOCHREALTIME
	"$@"
	echo "$EPOCHREALTIME - $s" | bc
}
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
min() { echo "if ($1 < $2) $1 else $2" | bc; }
sec() { printf '%7.2f s' "$1"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo), Linux $(uname -r)," \
	"$(df -T "$W" | awk 'NR==2 {print $2}') at $W, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: ferry $(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo '?') ($(stat -c %s "$FERRY") bytes), $(tar --version | head -n1), lz4 $(lz4 -V 2>&1 | sed -n 's/.* v\([0-9.]*\).*/\1/p'), $(rsync --version | awk 'NR == 1 {print $1, $3}')"
echo "generating $BENCH_FILES files..."
gen "$W/src" "$BENCH_FILES"
sync
echo "source: $(du -sh --apparent-size "$W/src" | cut -f1) apparent, $(du -sh "$W/src" | cut -f1) allocated" \
	"($(du -sh --apparent-size --exclude=sparse "$W/src" | cut -f1) apparent without the 8 GiB sparse file)," \
	"$(find "$W/src" | wc -l) entries"
# warm the cache: every copy reads the source from memory
tar -C "$W/src" --sparse -cf - . >/dev/null

clean() { rm -rf "$@" && sync; }
# peak RSS of both sides: /usr/bin/time -f %M, in the timed runs (it costs a fork and a wait4)
ferry_full() {
	/usr/bin/time -f %M -o "$W/send.rss" "$FERRY" tree send --state "$W/fs" --snapshot a "$W/src" |
		/usr/bin/time -f %M -o "$W/recv.rss" "$FERRY" tree recv --state "$W/fr" "$W/f"
}
tar_full() { mkdir "$W/t" && tar -C "$W/src" --sparse -cf - . | lz4 -q -1 | lz4 -q -d | tar -C "$W/t" -xf -; }
rsync_full() { rsync -aHAXS "$W/src/" "$W/r/"; }
sync_w() { sync -f "$W"; }

echo
echo "== full copy (best of $BENCH_ROUNDS, alternating; baselines + their sync timed apart)"
# rsync -S (--sparse) or it writes the 8 GiB sparse file in full; it still reads it whole.
# The last copies of ferry and rsync stay for the incrementals.
bf=999999 bt=999999 bts=999999 br=999999 brs=999999
for r in $(seq 1 "$BENCH_ROUNDS"); do
	clean "$W/f" "$W/fs" "$W/fr"
	bf=$(min "$(t ferry_full)" "$bf")
	s0=$(cat "$W/send.rss") r0=$(cat "$W/recv.rss")
	clean "$W/t"
	x=$(t tar_full) y=$(t sync_w)
	bt=$(min "$x" "$bt") bts=$(min "$(echo "$x + $y" | bc)" "$bts")
	if [ "$r" = 1 ]; then # once: minutes, and not a target
		x=$(t rsync_full) y=$(t sync_w)
		br=$x brs=$(echo "$x + $y" | bc)
	fi
done
clean "$W/t"
echo "ferry send|recv                 $(sec "$bf")"
echo "tar|lz4|lz4 -d|tar              $(sec "$bt"), + sync $(sec "$bts")   ferry/tar   = $(ratio "$bf" "$bt"), with sync $(ratio "$bf" "$bts")  (target <= 1.0)"
echo "rsync -aHAXS (once)             $(sec "$br"), + sync $(sec "$brs")   ferry/rsync = $(ratio "$bf" "$br"), with sync $(ratio "$bf" "$brs")"

echo
echo "== incremental: 1% of files changed (appended to), 0.1% deleted (best of $BENCH_ROUNDS)"
# Round r changes other files than round r-1 and sends from the snapshot the last round made; rsync
# updates its own copy the same way. Before each timed step the page cache holds the source and
# nothing is dirty. "no change" is the incremental right after, with nothing changed.
walk() { find "$W/src" -printf '%s %T@ %C@ %i\n' >/dev/null; }
ferry_inc() { "$FERRY" tree send --state "$W/fs" --snapshot "$2" --from "$1" "$W/src" | "$FERRY" tree recv --state "$W/fr" "$W/f"; }
rsync_inc() { rsync -aHAXS --delete "$W/src/" "$W/r/"; }
mapfile -t files < <(find "$W/src" -type f -name 'f*[0-9]' | LC_ALL=C sort)
n=${#files[@]}
bw=999999 bi=999999 bn=999999 bri=999999 from=a changed=0 deleted=0
for r in $(seq 1 "$BENCH_ROUNDS"); do
	for ((i = r - 1; i < n; i += 100)); do
		[ -e "${files[$i]}" ] && echo "changed $i in round $r" >>"${files[$i]}" && changed=$((changed + 1))
	done
	for ((i = 6 + r; i < n; i += 1000)); do
		[ -e "${files[$i]}" ] && rm -f "${files[$i]}" && deleted=$((deleted + 1))
	done
	sync
	walk
	bw=$(min "$(t walk)" "$bw")
	bi=$(min "$(t ferry_inc "$from" "b$r")" "$bi")
	bn=$(min "$(t ferry_inc "b$r" "c$r")" "$bn")
	from=c$r
	x=$(t rsync_inc) y=$(t sync_w)
	bri=$(min "$(echo "$x + $y" | bc)" "$bri")
done
echo "($changed files changed and $deleted deleted in $BENCH_ROUNDS rounds, of $n)"
# the copy is checked (the sparse file by its size, allocation and data: cmp would read 8 GiB twice)
sparse_sum() { echo "$(stat -c '%s %b' "$1") $(dd if="$1" bs=1M skip=3072 count=1 2>/dev/null | sha256sum)"; }
diff -r --no-dereference -x sparse "$W/src" "$W/f" >/dev/null &&
	[ "$(sparse_sum "$W/src/sparse")" = "$(sparse_sum "$W/f/sparse")" ] ||
	{ echo "bench/tree.sh: ferry's copy differs from the source after the incrementals" >&2; exit 1; }
echo "find -printf walk               $(sec "$bw")"
echo "ferry incremental               $(sec "$bi")   ferry/walk  = $(ratio "$bi" "$bw")  (target <= 2)"
echo "rsync -aHAXS --delete (+ sync)  $(sec "$bri")   ferry/rsync = $(ratio "$bi" "$bri")  (target <= 0.3)"
echo "ferry full copy (above)         $(sec "$bf")   incremental/full = $(ratio "$bi" "$bf")"
echo "ferry incremental, no change    $(sec "$bn")   no change/walk = $(ratio "$bn" "$bw")"

echo
echo "== peak RSS of tree send and tree recv (KiB, /usr/bin/time -f %M)"
rss() { # DIR: sets RS and RR, the peak RSS of sender and receiver
	local m
	m=$(dirname "$1")/m
	rm -rf "$m" "$m.s" "$m.r"
	/usr/bin/time -f %M -o "$W/send.rss" "$FERRY" tree send --state "$m.s" --snapshot a "$1" |
		/usr/bin/time -f %M -o "$W/recv.rss" "$FERRY" tree recv --state "$m.r" "$m"
	RS=$(cat "$W/send.rss") RR=$(cat "$W/recv.rss")
	rm -rf "$m" "$m.s" "$m.r"
}
echo "generated tree (full copy), $BENCH_FILES files:  send $s0, recv $r0"
# The small-file trees live in a tmpfs when we may mount one: memory does not depend on the disk,
# and creating and deleting half a million files on it takes minutes.
M=$W/mem
mkdir "$M"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=16g,nr_inodes=4m ferry-bench "$M"; then
	trap 'umount "$M"; rm -rf "$W"' EXIT
	where=tmpfs
else
	where=$(df -T "$W" | awk 'NR==2 {print $2}')
fi
big=$((BENCH_FILES * BENCH_RSS_FACTOR))
gen_small "$M/small" "$BENCH_FILES"
rss "$M/small"
s1=$RS r1=$RR
rm -rf "$M/small"
gen_small "$M/small" "$big"
rss "$M/small"
s2=$RS r2=$RR
rm -rf "$M/small"
echo "small files ($where), $BENCH_FILES:  send $s1, recv $r1"
echo "small files ($where), $big:  send $s2, recv $r2   ${BENCH_RSS_FACTOR}x the files: send $(ratio "$s2" "$s1")x, recv $(ratio "$r2" "$r1")x  (target: flat, <= 16384 KiB)"
