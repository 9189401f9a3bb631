# Sourced by tests that run ferry clusters (ferry rapi) on loopback and move instances between them.
#
#   cluster_start NAME [RAPI-ARGS...]
#       A cluster NAME: state root $T/NAME, the domain secret $T/secret (made on first use), the API
#       on a fresh loopback address (127.X.Y.Z, default port 5080) so that concurrent test runs do
#       not meet; its certificate in $T/NAME.pem, its log in $T/NAME.log, user "ferry" with the
#       password in $T/NAME.pw. Sets CL_IP[NAME], CL_PID[NAME], CL_ROOT[NAME]. Stopped at exit.
#   cluster_stop NAME [SIGNAL]   stops it (SIGTERM by default) and waits for it to end
#   cluster_restart NAME         starts it again on the same address
#   (These three set variables: call them directly, not inside `check`, which runs a subshell.)
#   capi NAME [CURL-ARGS...] PATH   curl against the cluster's API as user ferry (JSON out)
#   capi_anon NAME [CURL-ARGS...] PATH   the same without credentials
#   ct_busybox NAME CT [DATA-DIR]   a container CT on cluster NAME with a busybox root whose init
#       appends "started", and "stopped" on SIGTERM, to /state; with DATA-DIR, a sub-dataset "data"
#       at /srv/data holding a copy (cp -a) of DATA-DIR
#   ctc NAME ARGS...             ferry ct on cluster NAME
#   mi SRC DEST ARGS...          ferry move-instance from SRC to DEST with CA files and passwords
#   job_wait NAME ID             waits for job ID to end; prints its status
#   jv EXPR                      evaluates a Python expression over the JSON on stdin as "v" (an
#                                independent parser; strings print bare, the rest as JSON)
# Needs: curl, busybox-static (test/lib/rootfs.sh), root for containers.

. "$TOP/test/lib/rootfs.sh"

declare -A CL_IP CL_PID CL_ROOT CL_ARGS

_cluster_secret() {
	[ -s "$T/secret" ] || "$FERRY" renew-crypto --root "$T/secret-maker" --new-cluster-domain-secret >/dev/null &&
		cp "$T/secret-maker/conf/cluster/domain-secret" "$T/secret"
}

# A loopback address nobody else is likely to use right now: 127.[20-219].[1-250].[2-250].
_cluster_ip() {
	echo "127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 249 + 2))"
}

_cluster_up() {
	local name=$1 ip=$2 tries=0
	shift 2
	"$FERRY" rapi --root "$T/$name" --bind "$ip" --node-name "$name-node" --cluster-name "$name" \
		"$@" >/dev/null 2>>"$T/$name.log" &
	CL_PID[$name]=$!
	while ! curl -s -o /dev/null --cacert "$T/$name.pem" "https://$ip:5080/version"; do
		if ! kill -0 "${CL_PID[$name]}" 2>/dev/null; then
			wait "${CL_PID[$name]}" 2>/dev/null
			return 1
		fi
		tries=$((tries + 1))
		[ $tries -lt 600 ] || return 1
		sleep 0.05
	done
}

cluster_start() {
	local name=$1 ip attempt
	shift
	_cluster_secret || return 1
	CL_ROOT[$name]=$T/$name
	CL_ARGS[$name]="$*"
	if [ ! -e "$T/$name/conf/cluster/domain-secret" ]; then
		"$FERRY" renew-crypto --root "$T/$name" --cluster-domain-secret="$T/secret" >/dev/null || return 1
	fi
	for attempt in 1 2 3 4 5; do
		ip=$(_cluster_ip)
		"$FERRY" renew-crypto --root "$T/$name" -f --new-rapi-certificate --rapi-name "$ip" \
			--rapi-name "$name-node" >/dev/null || return 1
		"$FERRY" renew-crypto --root "$T/$name" --show-rapi-certificate >"$T/$name.pem" || return 1
		if _cluster_up "$name" "$ip" "$@"; then
			CL_IP[$name]=$ip
			cp "$T/$name/conf/cluster/rapi-password" "$T/$name.pw"
			at_exit "cluster_stop $name KILL; cluster_cts_stop $name"
			return 0
		fi
		grep -q "Address already in use" "$T/$name.log" || break
	done
	echo "cluster_start $name: the API server did not come up:" >&2
	cat "$T/$name.log" >&2
	return 1
}

cluster_stop() {
	local name=$1 sig=${2:-TERM} pid=${CL_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	CL_PID[$name]=
	return 0
}

# Stops every container of cluster NAME at once (cleanup).
cluster_cts_stop() {
	local c
	for c in $(ctc "$1" list -H -o name 2>/dev/null); do ctc "$1" stop -t 0 "$c" >/dev/null 2>&1; done
}

cluster_restart() {
	local name=$1
	# shellcheck disable=SC2086
	_cluster_up "$name" "${CL_IP[$name]}" ${CL_ARGS[$name]}
}

capi() {
	local name=$1
	shift
	local path=${*: -1} args=("${@:1:$#-1}")
	curl -sS --cacert "$T/$name.pem" -u "ferry:$(cat "$T/$name.pw")" "${args[@]}" \
		"https://${CL_IP[$name]}:5080$path"
}

capi_anon() {
	local name=$1
	shift
	local path=${*: -1} args=("${@:1:$#-1}")
	curl -sS --cacert "$T/$name.pem" "${args[@]}" "https://${CL_IP[$name]}:5080$path"
}

ctc() {
	local name=$1
	shift
	"$FERRY" ct --root "$T/$name" "$@"
}

ct_busybox() {
	local name=$1 ct=$2 data=${3:-}
	local init='trap "echo stopped >>/state; exit 0" TERM
echo started >>/state
while :; do sleep 1 & wait; done'
	[ -d "$T/rootfs-busybox" ] || rootfs_busybox "$T/rootfs-busybox" "$init" || return 1
	mkdir -p "$T/rootfs-busybox/srv/data"
	if [ -n "$data" ]; then
		ctc "$name" create "$ct" --from "$T/rootfs-busybox" --dataset data:/srv/data || return 1
		local tree=$T/$name/pools/default/ct/$ct/datasets/data/tree
		rm -rf "$tree" && cp -a "$data" "$tree"
	else
		ctc "$name" create "$ct" --from "$T/rootfs-busybox"
	fi
}

mi() {
	local src=$1 dest=$2
	shift 2
	"$FERRY" move-instance --src-ca-file "$T/$src.pem" --dest-ca-file "$T/$dest.pem" \
		--src-username ferry --src-password-file "$T/$src.pw" --dest-password-file "$T/$dest.pw" \
		"${CL_IP[$src]}" "${CL_IP[$dest]}" "$@"
}

job_wait() {
	local name=$1 id=$2 st i
	for i in $(seq 1 600); do
		st=$(capi "$name" "/2/jobs/$id" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
		case $st in success | error | canceled) echo "$st" && return 0 ;; esac
		sleep 0.1
	done
	echo "timeout($st)"
}

jv() {
	/usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if isinstance(r,str) else json.dumps(r,sort_keys=True))' "$1"
}
