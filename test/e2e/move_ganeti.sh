# Interop: Ganeti's own move-instance (Debian's ganeti-3.0, unpacked, no daemons) moves containers
# between two ferry clusters, and fails cleanly when the clusters do not share a domain secret.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/cluster.sh"
. "$TOP/test/lib/tree.sh"

if [ "$(id -u)" != 0 ]; then
	skip "Ganeti interop" "needs root (containers)"
	exit 0
fi
PY=/usr/bin/python3
G=${BUILD:-$TOP/build}/ganeti-3.0
if [ ! -x "$G/usr/share/ganeti/3.0/move-instance" ]; then
	rm -rf "$G.tmp" && mkdir -p "$G.tmp"
	if (cd "$G.tmp" && timeout 300 apt-get download -q ganeti-3.0 >/dev/null 2>&1) &&
		dpkg -x "$G.tmp"/ganeti-3.0_*.deb "$G.tmp/x" && [ -x "$G.tmp/x/usr/share/ganeti/3.0/move-instance" ]; then
		rm -rf "$G" && mv "$G.tmp/x" "$G"
	fi
	rm -rf "$G.tmp"
fi
if [ ! -x "$G/usr/share/ganeti/3.0/move-instance" ]; then
	skip "Ganeti interop" "cannot fetch Debian's ganeti-3.0 package (apt-get download ganeti-3.0 failed)"
	exit 0
fi
if ! "$PY" -c 'import pycurl, simplejson, bitarray, OpenSSL, pyparsing' 2>/dev/null; then
	echo "FAIL Ganeti interop: python3-pycurl, -simplejson, -bitarray, -openssl, -pyparsing are missing (.ci/prereqs check)"
	exit 0
fi
# gmi SRC DEST [OPTIONS...] INSTANCE: Ganeti's tool as the operator runs it (user ferry, passwords and
# CA files of both clusters).
gmi() {
	local src=$1 dest=$2
	shift 2
	PYTHONPATH="$G/usr/share/ganeti/3.0" "$PY" "$G/usr/share/ganeti/3.0/move-instance" -v \
		--src-ca-file "$T/$src.pem" --dest-ca-file "$T/$dest.pem" --src-username ferry \
		--src-password-file "$T/$src.pw" --dest-password-file "$T/$dest.pw" \
		"${@:1:$#-1}" "${CL_IP[$src]}" "${CL_IP[$dest]}" "${@: -1}" 2>&1
}

"$FERRY" renew-crypto --root "$T/other" --new-cluster-domain-secret >/dev/null
cluster_start a && cluster_start b && cluster_start other || { echo "FAIL the clusters start"; exit 1; }
tree_of() { echo "$T/$1/pools/default/ct/$2/datasets/${3:-_root}/tree"; }

tree_make "$T/data"
ct_busybox a web "$T/data" && ctc a start web >/dev/null
gmi a b --opportunistic-tries=0 web >"$T/g1.out"
rc=$?
testing "Ganeti's move-instance moves a running container (exit 0)" 'echo $rc' "0"
testing "it reports success" 'grep -o "INFO web: Success" "$T/g1.out"' "INFO web: Success"
testing "the destination runs it" 'ctc b list -H -o id,state' "web	running"
testing "the source no longer has it" 'ctc a list -H -o id' ""
check "the data set arrived exactly (independent tools)" 'tree_compare "$T/data" "$(tree_of b web data)"'

ct_busybox a two
testing "with -I and a rename" 'gmi a b -I ferry-single --dest-instance-name renamed two | grep -o "INFO two as renamed: Success"' \
	"INFO two as renamed: Success"
testing "the renamed instance is there, stopped as it was" 'ctc b list -H -o id,state | grep renamed' "renamed	stopped"

ct_busybox a web2 && ctc a start web2 >/dev/null
gmi a other --opportunistic-tries=0 web2 >"$T/g2.out"
rc=$?
testing "between clusters without a shared secret it fails (exit 1)" 'echo $rc' "1"
check "with Ganeti's handshake message" 'grep -q "Invalid handshake: Hash didn.t match, clusters don.t share the same domain secret" "$T/g2.out"'
testing "the source still runs its instance" 'ctc a list -H -o id,state' "web2	running"
testing "the destination holds nothing" 'ls -A "$T/other/pools/default/ct" 2>/dev/null | wc -l' "0"
