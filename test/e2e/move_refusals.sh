# ferry move-instance refusals: a wrong domain secret, tampered signed data (by an independent Python
# client), a wrong CA file, a bad password, bad options. Each fails clearly and loses nothing: the
# source instance stays intact and running, the destination keeps no half instance.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/cluster.sh"

if [ "$(id -u)" != 0 ]; then
	skip "move refusals" "needs root (containers)"
	exit 0
fi
PY=/usr/bin/python3
"$FERRY" renew-crypto --root "$T/other" --new-cluster-domain-secret >/dev/null
cluster_start a && cluster_start b && cluster_start other ||
	{ echo "FAIL the clusters start"; exit 1; }
ct_busybox a web && echo precious >"$T/a/pools/default/ct/web/datasets/_root/tree/precious" &&
	ctc a start web >/dev/null
spec() { echo "${CL_IP[$1]},$T/$1.pem,$T/$1.pw"; }
# Nothing lost: the source runs its intact instance, the destination has no instance and no leftovers.
intact() {
	[ "$(ctc a list -H -o id,state)" == "web	running" ] &&
		[ "$(cat "$T/a/pools/default/ct/web/datasets/_root/tree/precious")" == precious ] &&
		[ -z "$(ls -A "$T/$1/pools/default/ct" 2>/dev/null)" ]
}

# ---- A different domain secret -------------------------------------------------------------------------
testing "a cluster with another domain secret refuses the handshake (Ganeti's message)" 'mi a other web; echo "rc=$?"' \
	"web: Failed (Source error: Aborted, destination error: Invalid handshake: Hash didn't match, clusters don't share the same domain secret)
rc=1"
check "nothing lost" 'intact other'

# ---- Tampering with what the tool in the middle relays (the Python client) --------------------------------
testing "a tampered source certificate" '"$PY" "$TOP/test/lib/rapi_move.py" "$(spec a)" "$(spec b)" web --tamper source-cert' \
	"source: OK
destination: ERROR Source X509 CA: X509 certificate signature is invalid
destination job: error"
check "nothing lost" 'intact b'
testing "a tampered handshake" '"$PY" "$TOP/test/lib/rapi_move.py" "$(spec a)" "$(spec b)" web --tamper handshake' \
	"source: OK
destination: ERROR Invalid handshake: Hash didn't match, clusters don't share the same domain secret
destination job: error"
check "nothing lost" 'intact b'
testing "a tampered disk info (the port)" '"$PY" "$TOP/test/lib/rapi_move.py" "$(spec a)" "$(spec b)" web --tamper disk-info' \
	"source: ERROR Target info for disk 0: HMAC is wrong
destination: ERROR Job canceled by request
destination job: canceled"
check "nothing lost: the canceled import removed its half instance" 'intact b'
testing "a tampered destination certificate" '"$PY" "$TOP/test/lib/rapi_move.py" "$(spec a)" "$(spec b)" web --tamper dest-cert | sed -n 1p' \
	"source: ERROR Destination X509 CA: X509 certificate signature is invalid"
check "nothing lost" 'intact b'
testing "a wrong x509 key name" '"$PY" "$TOP/test/lib/rapi_move.py" "$(spec a)" "$(spec b)" web --tamper key-name | sed -n 1p' \
	"source: ERROR HMAC for X509 key name is wrong"
check "nothing lost" 'intact b'

# ---- Credentials and trust ------------------------------------------------------------------------------------
fails_with "the wrong CA file for the source" \
	'"$FERRY" move-instance --src-ca-file "$T/b.pem" --src-username ferry --src-password-file "$T/a.pw" "${CL_IP[a]}" "${CL_IP[b]}" web' \
	1 "source cluster: https://${CL_IP[a]}:5080: TLS handshake: certificate not trusted"
echo wrong >"$T/wrong.pw"
fails_with "a bad password: 401 at the first request, nothing moves" \
	'"$FERRY" move-instance --src-ca-file "$T/a.pem" --dest-ca-file "$T/b.pem" --src-username ferry --src-password-file "$T/wrong.pw" "${CL_IP[a]}" "${CL_IP[b]}" web' \
	1 "GET /version: 401 Unauthorized: Wrong user name or password"
check "nothing lost" 'intact b'
testing "an unknown instance" 'mi a b nope | sed "s|https://[^ ]* ||"' \
	"nope: Failed (Source error: Instance nope not found (GET /2/instances/nope: 404 Not Found: Instance 'nope' not known), destination error: Aborted)"

# ---- What the destination refuses -----------------------------------------------------------------------------
testing "a compression the clusters do not support" 'mi a b --compress gzip web | grep -o "destination error: .*"' \
	"destination error: Unsupported compression 'gzip' (this cluster supports none, lz4))"
check "nothing lost" 'intact b'
testing "a node outside the one-node cluster" 'mi a b --dest-primary-node elsewhere web | grep -o "destination error: .*"' \
	"destination error: Node 'elsewhere' is not in this cluster (a ferry cluster has one node: 'b-node'))"
testing "a name ferry cannot hold" 'mi a b --dest-instance-name Web web | grep -o "destination error: .*"' \
	"destination error: Instance name 'Web' cannot be used on a ferry cluster: bad instance name 'Web': must start with a-z or 0-9)"
check "nothing lost" 'intact b'
ct_busybox b web
testing "a name the destination already has" 'mi a b web | grep -o "destination error: .*"' \
	"destination error: Instance 'web' is already in the cluster)"
testing "the destination's own instance is untouched" 'ctc b list -H -o id,state' "web	stopped"
ctc b delete web
check "nothing lost" 'intact b'

# ---- Options (Ganeti's checks: usage errors, exit 2) -------------------------------------------------------------
fails_with "fewer than three arguments" '"$FERRY" move-instance --src-ca-file "$T/a.pem" x y' 2 "Not enough arguments"
fails_with "no source CA" '"$FERRY" move-instance x y z' 2 "Missing source cluster CA file"
fails_with "--parallel below 1" '"$FERRY" move-instance --src-ca-file "$T/a.pem" -p 0 x y z' 2 "--parallel"
fails_with "a rename of several instances" '"$FERRY" move-instance --src-ca-file "$T/a.pem" --dest-instance-name n x y z1 z2' 2 \
	"can only be used when moving exactly one instance"
fails_with "-I with a destination node" '"$FERRY" move-instance --src-ca-file "$T/a.pem" -I hail --dest-primary-node n x y z' 2 \
	"Destination node and iallocator options exclude each other"
fails_with "opportunistic tries without -I" '"$FERRY" move-instance --src-ca-file "$T/a.pem" --opportunistic-tries 2 x y z' 2 \
	"Opportunistic instance creation can only be used with an iallocator"
fails_with "a delay without tries" '"$FERRY" move-instance --src-ca-file "$T/a.pem" --opportunistic-delay 2 x y z' 2 \
	"Opportunistic delay can only be specified when opportunistic tries are used"
testing "-I hail is accepted by a ferry cluster (its allocator picks the one node)" 'mi a b -I hail --opportunistic-tries 1 web' "web: Success"
testing "and the move happened" 'ctc b list -H -o id,state' "web	running"
