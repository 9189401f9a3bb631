#!/bin/bash
# Benchmark of ferry migrate between two local nodes over ssh on loopback: the downtime of
# `transfer` for a running container of BENCH_CT_FILES files (100 changed since the last sync),
# and a whole `migrate now` against `tar | lz4 | ssh | lz4 -d | tar` and `rsync -aHAX -e ssh`, all
# measured in the same run. Not a test: prints times and ratios (no timing assertion anywhere).
# usage: FERRY=build/ferry bench/migrate.sh   (as root; BENCH_CT_FILES=100000 BENCH_FILES=20000
#        BENCH_ROUNDS=2 BENCH_DIR=/var/lib/ferry-bench)
set -u
: "${FERRY:?set FERRY to the ferry binary}" "${BENCH_CT_FILES:=100000}" "${BENCH_FILES:=20000}"
: "${BENCH_ROUNDS:=2}" "${BENCH_DIR:=/var/lib/ferry-bench}"
FERRY=$(readlink -f "$FERRY")
[ "$(id -u)" = 0 ] || { echo "bench/migrate.sh: needs root (sshd, namespaces)" >&2; exit 1; }
cd "$(dirname "$0")/.."
. test/lib/testing.sh
. test/lib/sshd.sh
. test/lib/rootfs.sh
. test/lib/nodes.sh
mkdir -p "$BENCH_DIR" && chmod 0755 "$BENCH_DIR"
export NODES_DIR=$BENCH_DIR
at_exit "rmdir '$BENCH_DIR' 2>/dev/null"

now() { date +%s.%N; }
ratio() { echo "scale=2; $1 / $2" | bc; }
json_field() { # FILE EVENT FIELD: the field of the last JSON line with that event
	/usr/bin/python3 -c '
import json, sys
v = None
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("event") == sys.argv[2]:
        v = o.get(sys.argv[3])
print(v)' "$@"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo), $(uname -r), $(df -T "$BENCH_DIR" | awk 'NR==2 {print $2}') at $BENCH_DIR, load $(cut -d' ' -f1-3 /proc/loadavg)"
node_new src 127.0.0.2 nosshd || exit 1
node_new dst 127.0.0.3 || exit 1
node_trust src dst || exit 1
M() { node_ferry src migrate "$@"; }
P="-p $dst_PORT"

# ---- 1. Downtime of transfer ---------------------------------------------------------------------
echo
echo "== downtime of transfer: a running container of $BENCH_CT_FILES files, 100 changed since the last sync"
many_files() { # DIR N: N small files in 1000 directories
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "data", "d%03d" % (i % 1000))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "w") as f:
        f.write("file %d\n" % i * (1 + i % 20))
PY
}
downtimes=()
for round in $(seq 1 "$BENCH_ROUNDS"); do
	ct=big$round
	ct_counter src "$ct" || exit 1
	many_files "$(tree_of src "$ct")" "$BENCH_CT_FILES"
	t0=$(now)
	M stage "$ct" 127.0.0.3 $P -q && M sync "$ct" -q || exit 1
	t1=$(now)
	mapfile -t files < <(find "$(tree_of src "$ct")/data" -type f | head -n 100)
	for f in "${files[@]}"; do echo changed >>"$f"; done
	M transfer "$ct" -j >"$T/transfer$round.json" || exit 1
	d=$(json_field "$T/transfer$round.json" summary downtime)
	total=$(json_field "$T/transfer$round.json" summary duration)
	downtimes+=("$d")
	printf 'round %d: base sync %.1f s; transfer %.2f s in all, downtime %.3f s (target <= 1 s)\n' \
		"$round" "$(echo "$t1 - $t0" | bc)" "$total" "$d"
	M cleanup "$ct" -q
	node_ferry dst ct stop "$ct" >/dev/null
	node_ferry dst ct delete "$ct" >/dev/null
done
best=$(printf '%s\n' "${downtimes[@]}" | sort -n | head -n1)
echo "best downtime: ${best} s (target <= 1 s)"

# ---- 2. A whole migration against tar|lz4|ssh and rsync over ssh -------------------------------------
echo
echo "== migrate now of a stopped container of $BENCH_FILES files, against tar|lz4|ssh|lz4 -d|tar and rsync -aHAX -e ssh"
gen() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
text = b"ferry moves containers between nodes; " * 2000
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200), "e%02d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "f%06d" % i)
    r = rnd.random()
    size = rnd.randint(1, 200) if r < 0.5 else rnd.randint(200, 64 << 10) if r < 0.98 else \
           rnd.randint(1 << 20, 4 << 20)
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
PY
}
node_ferry src ct create payload >/dev/null || exit 1
gen "$(tree_of src payload)/srv" "$BENCH_FILES"
echo "payload: $(du -sh --apparent-size "$(tree_of src payload)" | cut -f1) apparent, $(find "$(tree_of src payload)" | wc -l) entries"
# A plain root login for the baselines: a second sshd, same OpenSSH and ciphers as migrate's.
ssh-keygen -q -t ed25519 -N "" -f "$T/benchkey"
sshd_start 127.0.0.4 "" "PermitRootLogin prohibit-password" || exit 1
sshd_authorize "$SSHD_DIR" root "$(cat "$T/benchkey.pub")"
BPORT=$SSHD_PORT
SSH="ssh -F /dev/null -T -p $BPORT -i $T/benchkey -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
OUT=$(mktemp -d "$BENCH_DIR/out.XXXXXX")
at_exit "rm -rf '$OUT'"
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

ferry_now() {
	M now payload 127.0.0.3 $P -q --no-delete || return 1
	# Undo for the next round: the destination's copy goes, the source is the source again.
	node_ferry dst ct delete payload >/dev/null
	rm -f "$src_ROOT/pools/default/ct/payload/migration" "$src_ROOT/pools/default/ct/payload/staged"
}
tar_ssh() {
	rm -rf "$OUT/t" && mkdir "$OUT/t"
	tar -C "$(tree_of src payload)" --numeric-owner --xattrs --acls -cf - . | lz4 -q -1 |
		$SSH root@127.0.0.4 "lz4 -q -d | tar -C '$OUT/t' --numeric-owner --xattrs --acls -xpf -"
}
rsync_ssh() {
	rm -rf "$OUT/r" && mkdir "$OUT/r"
	rsync -aHAX --numeric-ids -e "$SSH" "$(tree_of src payload)/" "root@127.0.0.4:$OUT/r/"
}
bf=999999 bt=999999 br=999999
for _ in $(seq 1 "$BENCH_ROUNDS"); do
	drop
	s=$(now); ferry_now || exit 1; x=$(echo "$(now) - $s" | bc)
	[ "$(echo "$x < $bf" | bc)" = 1 ] && bf=$x
	drop
	s=$(now); tar_ssh || exit 1; x=$(echo "$(now) - $s" | bc)
	[ "$(echo "$x < $bt" | bc)" = 1 ] && bt=$x
	drop
	s=$(now); rsync_ssh || exit 1; x=$(echo "$(now) - $s" | bc)
	[ "$(echo "$x < $br" | bc)" = 1 ] && br=$x
done
printf 'ferry migrate now (stage, sync, transfer, cleanup)  %.2f s\n' "$bf"
printf 'tar | lz4 | ssh | lz4 -d | tar                      %.2f s   ferry/tar   = %s\n' "$bt" "$(ratio "$bf" "$bt")"
printf 'rsync -aHAX -e ssh                                  %.2f s   ferry/rsync = %s\n' "$br" "$(ratio "$bf" "$br")"
