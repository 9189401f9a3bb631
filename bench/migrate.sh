#!/bin/bash
# Benchmark of ferry migrate between two local nodes over ssh on loopback: the downtime of
# `transfer` for a running container of BENCH_CT_FILES files (100 changed since the last sync)
# against the full copy (the first sync) of the same container, and a whole `migrate now` against
# `tar | lz4 | ssh | lz4 -d | tar` and `rsync -aHAX -e ssh`, all measured in the same run.
# Not a test: prints times and ratios, best of BENCH_ROUNDS (no timing assertion anywhere).
# usage: FERRY=build/ferry bench/migrate.sh   (as root; BENCH_CT_FILES=100000 BENCH_FILES=20000
#        BENCH_ROUNDS=2 BENCH_DIR=/var/lib/ferry-bench)
#
# The page cache holds the source and nothing is dirty (`sync`) when a timed step starts; ferry's
# receiver ends each stream with syncfs, so each baseline is followed by `sync -f` on the
# destination's file system, timed apart and printed both ways.
set -u
: "${FERRY:?set FERRY to the ferry binary}" "${BENCH_CT_FILES:=100000}" "${BENCH_FILES:=20000}"
: "${BENCH_ROUNDS:=2}" "${BENCH_DIR:=/var/lib/ferry-bench}"
FERRY=$(readlink -f "$FERRY")
[ "$(id -u)" = 0 ] || { echo "bench/migrate.sh: needs root (sshd, namespaces)" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
. test/lib/testing.sh
. test/lib/sshd.sh
. test/lib/rootfs.sh
. test/lib/nodes.sh
mkdir -p "$BENCH_DIR" && chmod 0755 "$BENCH_DIR"
export NODES_DIR=$BENCH_DIR
at_exit "rmdir '$BENCH_DIR' 2>/dev/null"

now() { date +%s.%N; }
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
min() { echo "if ($1 < $2) $1 else $2" | bc; }
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
echo "== downtime of transfer: a running container of $BENCH_CT_FILES files, 100 changed since the last sync (best of $BENCH_ROUNDS)"
# The container's init writes the uptime to /beat every 20 ms, so the copy on the destination shows
# the pause as the container saw it (last beat on the source to the first on the destination): an
# oracle independent of the downtime ferry measures (stop to the destination's confirmation).
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
HB=$(mktemp -d "$BENCH_DIR/hb.XXXXXX")
at_exit "rm -rf '$HB'"
rootfs_busybox "$HB" 'trap "exit 0" TERM
while :; do read -r up _ </proc/uptime; echo "$up" >>/beat; sleep 0.02 & wait; done' || exit 1
max_gap() { awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { printf "%.3f\n", m }' "$1"; }
more_beats() { [ "$(wc -l <"$2")" -gt "$(($(wc -l <"$1") + 5))" ]; } # SRC-BEAT DST-BEAT
walk() { find "$1" -printf '%s %T@ %C@ %i\n' >/dev/null; }
bd=999999 bg=999999 bs=999999 bw=999999 bt=999999
for round in $(seq 1 "$BENCH_ROUNDS"); do
	ct=big$round
	node_ferry src ct create "$ct" --from "$HB" >/dev/null || exit 1
	many_files "$(tree_of src "$ct")" "$BENCH_CT_FILES"
	node_ferry src ct start "$ct" || exit 1
	wait_until 30 test -s "$(tree_of src "$ct")/beat" || { echo "the container did not start" >&2; exit 1; }
	M stage "$ct" 127.0.0.3 $P -q || exit 1
	sync
	t0=$(now)
	M sync "$ct" -q || exit 1
	t1=$(now)
	mapfile -t files < <(find "$(tree_of src "$ct")/data" -type f | head -n 100)
	for f in "${files[@]}"; do echo changed >>"$f"; done
	sync
	walk "$(tree_of src "$ct")"
	s=$(now); walk "$(tree_of src "$ct")"; w=$(echo "$(now) - $s" | bc)
	M transfer "$ct" -j >"$T/transfer$round.json" || exit 1
	d=$(json_field "$T/transfer$round.json" summary downtime)
	total=$(json_field "$T/transfer$round.json" summary duration)
	wait_until 30 more_beats "$(tree_of src "$ct")/beat" "$(tree_of dst "$ct")/beat" ||
		{ echo "the container does not run on the destination" >&2; exit 1; }
	gap=$(max_gap "$(tree_of dst "$ct")/beat")
	full=$(echo "$t1 - $t0" | bc)
	printf 'round %d: full copy (first sync) %.2f s; transfer %.2f s in all, downtime %.3f s, pause seen by the container %.3f s; walk of its tree %.2f s\n' \
		"$round" "$full" "$total" "$d" "$gap" "$w"
	bd=$(min "$d" "$bd") bg=$(min "$gap" "$bg") bs=$(min "$full" "$bs") bw=$(min "$w" "$bw") bt=$(min "$total" "$bt")
	M cleanup "$ct" -q
	node_ferry dst ct stop "$ct" >/dev/null
	node_ferry dst ct delete "$ct" >/dev/null
done
printf 'downtime (ferry)                  %7.3f s   (target <= 1 s)\n' "$bd"
printf 'pause seen by the container       %7.3f s   seen/downtime = %s\n' "$bg" "$(ratio "$bg" "$bd")"
printf 'full copy of the container        %7.2f s   downtime/full copy = %s\n' "$bs" "$(ratio "$bd" "$bs")"
printf 'transfer in all                   %7.2f s   transfer/full copy = %s\n' "$bt" "$(ratio "$bt" "$bs")"
printf 'find -printf walk of its tree     %7.2f s   downtime/walk = %s\n' "$bw" "$(ratio "$bd" "$bw")"

# ---- 2. A whole migration against tar|lz4|ssh and rsync over ssh -------------------------------------
echo
echo "== migrate now of a stopped container of $BENCH_FILES files, against tar|lz4|ssh|lz4 -d|tar and rsync -aHAX -e ssh (best of $BENCH_ROUNDS)"
# The tree of bench/tree.sh without its sparse file: about 20 KiB a file on average.
gen() { "$(dirname "$0")/gentree.py" "$1" "$2"; }
PAYLOAD=$(mktemp -d "$BENCH_DIR/payload.XXXXXX")
at_exit "rm -rf '$PAYLOAD'"
rmdir "$PAYLOAD" && gen "$PAYLOAD" "$BENCH_FILES" && sync
echo "payload: $(du -sh --apparent-size "$PAYLOAD" | cut -f1) apparent, $(find "$PAYLOAD" | wc -l) entries"
# The baselines log in to a second sshd (same OpenSSH and ciphers as migrate's) as the account that
# ferry's receive runs as: "migration" (made by `ferry node setup` above: uid 0, home /, /bin/sh).
# Not as root: root's shell may start slowly (here ~0.7 s: bash reads ~/.bashrc for sshd commands,
# and this machine's runs pyenv init), which would be charged to the baselines only.
ssh-keygen -q -t ed25519 -N "" -f "$T/benchkey"
sshd_start 127.0.0.4 "" "PermitRootLogin prohibit-password" || exit 1
sshd_authorize "$SSHD_DIR" migration "$(cat "$T/benchkey.pub")"
echo "baseline login: $(getent passwd migration)"
BPORT=$SSHD_PORT
SSH="ssh -F /dev/null -T -p $BPORT -i $T/benchkey -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
OUT=$(mktemp -d "$BENCH_DIR/out.XXXXXX")
at_exit "rm -rf '$OUT'"

# Each round: a fresh container with a copy of the payload (untimed), moved with `migrate now`.
ferry_prepare() {
	node_ferry src ct create "payload$1" >/dev/null &&
		rm -rf "$(tree_of src "payload$1")" && cp -a "$PAYLOAD" "$(tree_of src "payload$1")"
}
# --no-delete: the baselines leave the source alone too (the source container is deleted untimed).
# -q: with -j (or on a terminal) migrate first walks the tree for an estimate of the progress.
ferry_now() { M now "payload$1" 127.0.0.3 $P -q --no-delete; }
tar_ssh() {
	tar -C "$PAYLOAD" --numeric-owner --xattrs --acls -cf - . | lz4 -q -1 |
		$SSH migration@127.0.0.4 "lz4 -q -d | tar -C '$OUT/t' --numeric-owner --xattrs --acls -xpf -"
}
rsync_ssh() { rsync -aHAX --numeric-ids -e "$SSH" "$PAYLOAD/" "migration@127.0.0.4:$OUT/r/"; }
timed() { local s; s=$(now); "$@" || return 1; echo "$(now) - $s" | bc; }
bf=999999 bt=999999 bts=999999 br=999999 brs=999999
for round in $(seq 1 "$BENCH_ROUNDS"); do
	ferry_prepare "$round" || exit 1
	sync
	a0=$(grep -c 'Accepted publickey' "$dst_SSHD/private/log")
	x=$(timed ferry_now "$round") || exit 1
	bf=$(min "$x" "$bf")
	sessions=$(($(grep -c 'Accepted publickey' "$dst_SSHD/private/log") - a0))
	diff -r --no-dereference "$PAYLOAD" "$(tree_of dst "payload$round")" >/dev/null ||
		{ echo "bench/migrate.sh: ferry's copy differs" >&2; exit 1; }
	node_ferry dst ct delete "payload$round" >/dev/null
	node_ferry src ct delete "payload$round" >/dev/null
	rm -rf "$OUT/t" && mkdir "$OUT/t" && sync
	x=$(timed tar_ssh) || exit 1
	y=$(timed sync -f "$OUT")
	bt=$(min "$x" "$bt") bts=$(min "$(echo "$x + $y" | bc)" "$bts")
	rm -rf "$OUT/t" "$OUT/r" && mkdir "$OUT/r" && sync
	x=$(timed rsync_ssh) || exit 1
	y=$(timed sync -f "$OUT")
	br=$(min "$x" "$br") brs=$(min "$(echo "$x + $y" | bc)" "$brs")
	rm -rf "$OUT/r"
done
printf 'ferry migrate now (stage, sync, transfer, cleanup)  %6.2f s   (%d SSH logins; each baseline: 1)\n' "$bf" "$sessions"
printf 'tar | lz4 | ssh | lz4 -d | tar                      %6.2f s, + sync %6.2f s   ferry/tar   = %s, with sync %s\n' \
	"$bt" "$bts" "$(ratio "$bf" "$bt")" "$(ratio "$bf" "$bts")"
printf 'rsync -aHAX -e ssh                                  %6.2f s, + sync %6.2f s   ferry/rsync = %s, with sync %s\n' \
	"$br" "$brs" "$(ratio "$bf" "$br")" "$(ratio "$bf" "$brs")"
