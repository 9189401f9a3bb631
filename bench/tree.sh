#!/bin/bash
# Benchmark of ferry tree send|recv against tar|lz4 and rsync, incremental against rsync and a find walk,
# and peak RSS at N and 10N files. Not a test: prints times and ratios measured in the same run.
# usage: FERRY=build/ferry bench/tree.sh   (BENCH_FILES=50000 BENCH_DIR=/var/tmp/ferry-bench BENCH_ROUNDS=2)
set -eu
: "${FERRY:?set FERRY to the ferry binary}" "${BENCH_FILES:=50000}" "${BENCH_ROUNDS:=2}"
: "${BENCH_DIR:=/var/tmp/ferry-bench}"
W=$BENCH_DIR
rm -rf "$W" && mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

# A reproducible tree: BENCH_FILES files from a few bytes to tens of MB (text and random),
# every 50th file hard-linked, every 100th a symlink, and one 8 GiB sparse file.
gen() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
os.makedirs(root)
text = b"ferry moves containers between nodes; " * 2000
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 500), "e%02d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "f%06d" % i)
    r = rnd.random()
    size = rnd.randint(1, 200) if r < 0.5 else rnd.randint(200, 64 << 10) if r < 0.98 else \
           rnd.randint(1 << 20, 4 << 20) if r < 0.9995 else rnd.randint(20 << 20, 40 << 20)
    with open(p, "wb") as f:
        left = size
        while left:
            k = min(left, 1 << 20)
            f.write(rnd.randbytes(k) if i % 3 == 0 else (text * (k // len(text) + 1))[:k])
            left -= k
    if i % 50 == 1:
        os.link(p, p + ".link")
    if i % 100 == 2:
        os.symlink("f%06d" % i, p + ".sym")
with open(os.path.join(root, "sparse"), "wb") as f:
    f.truncate(8 << 30)
    f.seek(3 << 30)
    f.write(rnd.randbytes(1 << 20))
PY
}

t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo), $(uname -r), $(df -T "$W" | awk 'NR==2 {print $2}') at $W"
echo "generating $BENCH_FILES files..."
gen "$W/src" "$BENCH_FILES"
echo "source: $(du -sh --apparent-size "$W/src" | cut -f1) apparent, $(du -sh "$W/src" | cut -f1) allocated, $(find "$W/src" | wc -l) entries"

ferry_full() { rm -rf "$W/f" "$W/fs" "$W/fr"; "$FERRY" tree send --state "$W/fs" --snapshot a "$W/src" | "$FERRY" tree recv --state "$W/fr" "$W/f"; }
tar_full() { rm -rf "$W/t" && mkdir "$W/t" && tar -C "$W/src" --sparse -cf - . | lz4 -q -1 | lz4 -q -d | tar -C "$W/t" -xf -; }
rsync_full() { rm -rf "$W/r" && rsync -aHAX "$W/src/" "$W/r/"; }

echo
echo "== full copy (best of $BENCH_ROUNDS, alternating)"
bf=999999 bt=999999 br=999999
for _ in $(seq 1 "$BENCH_ROUNDS"); do
	x=$(t ferry_full); [ "$(echo "$x < $bf" | bc)" = 1 ] && bf=$x
	x=$(t tar_full); [ "$(echo "$x < $bt" | bc)" = 1 ] && bt=$x
	x=$(t rsync_full); [ "$(echo "$x < $br" | bc)" = 1 ] && br=$x
done
echo "ferry send|recv          ${bf}s"
echo "tar|lz4|lz4 -d|tar       ${bt}s   ferry/tar   = $(ratio "$bf" "$bt")  (target <= 1.0)"
echo "rsync -aHAX              ${br}s   ferry/rsync = $(ratio "$bf" "$br")"

echo
echo "== incremental: 1% of files changed, 0.1% deleted"
ferry_full
"$FERRY" tree drop --state "$W/fs" --snapshot a 2>/dev/null || true
rm -rf "$W/f" "$W/fs" "$W/fr"
"$FERRY" tree send --state "$W/fs" --snapshot a "$W/src" | "$FERRY" tree recv --state "$W/fr" "$W/f"
rsync_full
mapfile -t files < <(find "$W/src" -type f -name 'f*[0-9]' | LC_ALL=C sort)
n=${#files[@]}
for ((i = 0; i < n; i += 100)); do echo "changed $i" >>"${files[$i]}"; done
for ((i = 7; i < n; i += 1000)); do rm -f "${files[$i]}"; done
walk() { find "$W/src" -printf '%s %T@ %C@ %i\n' >/dev/null; }
ferry_inc() { "$FERRY" tree send --state "$W/fs" --snapshot b --from a "$W/src" | "$FERRY" tree recv --state "$W/fr" "$W/f"; }
rsync_inc() { rsync -aHAX --delete "$W/src/" "$W/r/"; }
tw=$(t walk); tw=$(t walk)
tfi=$(t ferry_inc)
tri=$(t rsync_inc)
echo "find -printf walk        ${tw}s"
echo "ferry incremental        ${tfi}s   ferry/walk  = $(ratio "$tfi" "$tw")  (target <= 2)"
echo "rsync -aHAX --delete     ${tri}s   ferry/rsync = $(ratio "$tfi" "$tri")  (target <= 0.3)"

echo
echo "== peak RSS (KiB)"
rss() {
	local dir=$1 label=$2
	rm -rf "$W/m" "$W/ms" "$W/mr"
	/usr/bin/time -f %M -o "$W/send.rss" "$FERRY" tree send --state "$W/ms" --snapshot a "$dir" |
		/usr/bin/time -f %M -o "$W/recv.rss" "$FERRY" tree recv --state "$W/mr" "$W/m"
	echo "$label: send $(cat "$W/send.rss"), recv $(cat "$W/recv.rss")"
}
rss "$W/src" "$BENCH_FILES files"
rm -rf "$W/f" "$W/t" "$W/r" "$W/m"
/usr/bin/python3 - "$W/big" $((BENCH_FILES * 10)) <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%04d" % (i % 2000))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d" % i), "w") as f:
        f.write("x" * (i % 100))
PY
rss "$W/big" "$((BENCH_FILES * 10)) small files"
echo "(target: flat, <= 16 MiB = 16384 KiB)"
