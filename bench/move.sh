#!/bin/bash
# Benchmark of a move between two clusters on loopback (ferry rapi + ferry move-instance, LZ4) against
# tar | lz4 | openssl s_client into openssl s_server | lz4 -d | tar, measured in the same run.
# Not a test: prints times and the throughput ratio (target >= 0.9), best of BENCH_ROUNDS.
# Both copies start with the data in the page cache and nothing dirty (`sync`); ferry's receiver ends
# with syncfs, so the pipeline is followed by `sync -f` on the target, timed apart, printed both ways.
# usage: FERRY=build/ferry bench/move.sh   (as root; BENCH_MOVE_MB=1024 BENCH_ROUNDS=3
#        BENCH_DIR=a new directory /var/tmp/ferry-bench-move.XXXXXX, removed at the end)
set -eu
: "${FERRY:?set FERRY to the ferry binary}" "${BENCH_MOVE_MB:=1024}" "${BENCH_ROUNDS:=3}"
: "${BENCH_DIR:=$(mktemp -u /var/tmp/ferry-bench-move.XXXXXX)}"
if [ "$(id -u)" != 0 ]; then
	echo "bench/move.sh: needs root (containers)" >&2
	exit 1
fi
TOP=$(cd "$(dirname "$0")/.." && pwd)
T=$BENCH_DIR
rm -rf "$T" && mkdir -p "$T"
_cleanups=()
at_exit() { _cleanups=("$1" "${_cleanups[@]}"); }
trap 'for c in "${_cleanups[@]}"; do eval "$c" || true; done; rm -rf "$T"' EXIT
set +u
. "$TOP/test/lib/cluster.sh"
set -u

# ~BENCH_MOVE_MB MiB in files of 4 KiB to 32 MiB, half random, half text (reproducible).
gen() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, random, sys
root, limit = sys.argv[1], int(sys.argv[2]) << 20
rnd = random.Random(7)
os.makedirs(root)
text = b"ferry moves containers between clusters over TLS; " * 4000
total = i = 0
while total < limit:
    d = os.path.join(root, "d%02d" % (i % 40))
    os.makedirs(d, exist_ok=True)
    size = rnd.choice([4096, 65536, 1 << 20, 8 << 20, 32 << 20])
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        left = size
        while left:
            k = min(left, 1 << 20)
            f.write(rnd.randbytes(k) if i % 2 == 0 else (text * (k // len(text) + 1))[:k])
            left -= k
    total += size
    i += 1
PY
}

now() { date +%s.%N; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo), $(uname -r), $(df -T "$T" | awk 'NR==2 {print $2}') at $T"
gen "$T/data" "$BENCH_MOVE_MB"
echo "data: $(du -sh --apparent-size "$T/data" | cut -f1) in $(find "$T/data" -type f | wc -l) files"

cluster_start a && cluster_start b
ctree() { echo "$T/$1/pools/default/ct/$2/datasets/_root/tree"; }

# ferry: create the container on a (a copy of the data as its root), move it to b; time move-instance.
ferry_move() {
	local ct=$1
	ctc a create "$ct" >/dev/null
	rm -rf "$(ctree a "$ct")" && cp -a "$T/data" "$(ctree a "$ct")"
	sync
	local s e
	s=$(now)
	mi a b --compress lz4 "$ct" >/dev/null
	e=$(now)
	diff -r "$T/data" "$(ctree b "$ct")" >/dev/null || { echo "ferry: the copy differs" >&2; exit 1; }
	ctc b delete "$ct" >/dev/null
	echo "$e - $s" | bc
}

# the pipeline: one TLS connection on the same kind of address, LZ4 at its fastest level. s_server
# writes exactly the bytes it receives to stdout (-quiet: no banner, no ACCEPT/DONE lines there) and,
# with -naccept 1, exits when that one connection ends. It must not see any other connection first,
# so its readiness is polled with ss, never with a probe connection (which would be its one
# connection). Its stdin is a FIFO that stays open and silent: on EOF there it would close the
# connection. The client ends the connection on its stdin's EOF (-no_ign_eof after -quiet, which
# implies -ign_eof).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
	-out "$T/c.pem" -days 1 -subj /CN=bench 2>/dev/null
pipe_move() {
	local ip=${CL_IP[b]} port=4433 s e e2 i
	rm -rf "$T/p" && mkdir "$T/p" && rm -f "$T/ctl" "$T/out" && mkfifo "$T/ctl" "$T/out"
	sync
	exec 7<>"$T/ctl"
	s=$(now)
	(lz4 -q -d <"$T/out" | tar -C "$T/p" -xf -) &
	local rx=$!
	openssl s_server -accept "$ip:$port" -cert "$T/c.pem" -key "$T/k.pem" -naccept 1 -quiet \
		<"$T/ctl" >"$T/out" 2>"$T/s_server.err" &
	local srv=$!
	for i in $(seq 1 500); do
		ss -Hltn "src $ip:$port" | grep -q . && break
		sleep 0.01
	done
	tar -C "$T/data" -cf - . | lz4 -q -1 |
		openssl s_client -connect "$ip:$port" -brief -no_ign_eof -nocommands >/dev/null 2>"$T/s_client.err" ||
		{ echo "pipeline: s_client failed:" >&2; cat "$T/s_client.err" "$T/s_server.err" >&2; kill "$srv"; exit 1; }
	exec 7>&-
	wait "$srv" || { echo "pipeline: s_server failed:" >&2; cat "$T/s_server.err" >&2; exit 1; }
	wait "$rx" || { echo "pipeline: lz4 -d | tar -x failed" >&2; exit 1; }
	e=$(now)
	sync -f "$T/p"
	e2=$(now)
	diff -r "$T/data" "$T/p" >/dev/null || { echo "pipeline: the copy differs" >&2; exit 1; }
	echo "$(echo "$e - $s" | bc) $(echo "$e2 - $s" | bc)"
}

best_f=999999 best_p=999999 best_ps=999999
for r in $(seq 1 "$BENCH_ROUNDS"); do
	f=$(ferry_move "bench$r")
	read -r p ps < <(pipe_move)
	[ -n "$ps" ] || exit 1
	printf 'round %d: ferry move-instance %.2f s, pipeline %.2f s (+ sync %.2f s)\n' "$r" "$f" "$p" "$ps"
	best_f=$(echo "if ($f < $best_f) $f else $best_f" | bc)
	best_p=$(echo "if ($p < $best_p) $p else $best_p" | bc)
	best_ps=$(echo "if ($ps < $best_ps) $ps else $best_ps" | bc)
done
mb=$(du -sm --apparent-size "$T/data" | cut -f1)
rate() { echo "scale=1; $mb / $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
echo "pipeline TLS: $(sed -n 's/^Protocol version: //p' "$T/s_client.err"), $(sed -n 's/^Ciphersuite: //p' "$T/s_client.err") (OpenSSL's defaults); ferry: TLS 1.2 by BearSSL (docs/cluster-crypto.md)"
echo
printf 'best of %d (%d MiB):\n' "$BENCH_ROUNDS" "$mb"
printf 'ferry move-instance --compress lz4       %6.2f s  %6.1f MiB/s\n' "$best_f" "$(rate "$best_f")"
printf 'tar|lz4|s_client -> s_server|lz4 -d|tar  %6.2f s  %6.1f MiB/s, + sync %6.2f s  %6.1f MiB/s\n' \
	"$best_p" "$(rate "$best_p")" "$best_ps" "$(rate "$best_ps")"
echo "throughput ratio ferry/pipeline: $(ratio "$best_p" "$best_f"), with sync $(ratio "$best_ps" "$best_f")  (target >= 0.9)"
