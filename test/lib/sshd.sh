# A private OpenSSH sshd for tests: one loopback address and port, its own host key, config and
# log, torn down when the test exits. Source it after test/lib/testing.sh (it needs at_exit).
# Needs root (sshd, useradd). Interface:
#
#   sshd_start ADDR [PORT] [CONFIG_LINE...]
#       Starts /usr/sbin/sshd -D on ADDR (a loopback address: 127.x.y.z or ::1) and PORT
#       (default: a free port chosen at random; tried again if another process takes it first),
#       waits until it answers with an SSH banner, and registers its stop with at_exit.
#       Sets SSHD_DIR (this sshd's directory, see below), SSHD_ADDR and SSHD_PORT.
#       CONFIG_LINEs are sshd_config lines placed before the defaults below, so they override
#       them (sshd keeps the first value it reads); from the first line that starts with
#       "Match" on they go after the defaults instead, so a Match block stays last.
#       Defaults: public keys only (no passwords, no PAM: UsePAM no), PermitRootLogin no,
#       StrictModes yes, no forwarding, LogLevel VERBOSE, AuthorizedKeysFile
#       $SSHD_DIR/authorized_keys/%u.
#   sshd_user_add NAME [HOME]
#       Creates the local user NAME (shell /bin/sh, home HOME, default /, not created) with
#       password field '*': locked for passwords but, unlike useradd's '!', accepted for key
#       logins by sshd with UsePAM no. Refuses an existing user. Removed (userdel) at exit.
#   sshd_authorize DIR USER KEYLINE...
#       Appends KEYLINEs (authorized_keys lines, options allowed) to DIR/authorized_keys/USER,
#       owned by USER, mode 0600.
#   sshd_known_host DIR [NAME]
#       Prints a known_hosts line for that sshd's host key: "[NAME]:PORT TYPE BASE64"
#       (NAME defaults to its address; plain "NAME TYPE BASE64" for port 22).
#   sshd_stop DIR
#       Stops that sshd and removes DIR (done at exit anyway; safe to call twice).
#
# Layout of an sshd's DIR (created under /run, so that no directory above it is world-writable
# and StrictModes yes accepts it; /tmp would be rejected):
#   DIR/                  root, 0711
#   DIR/private/          root, 0700: sshd_config, host_key, host_key.pub, sshd.pid, log, port
#   DIR/authorized_keys/  root, 0755: one file per user, owned by that user, 0600
# sshd reads authorized_keys as the user, hence the traversable DIR. SSHD_HOSTKEY_TYPE
# (ed25519 by default; ecdsa or rsa) selects the host key type. Facts: OpenSSH's sshd needs
# /run/sshd (privilege separation directory) to exist; it is created if missing.

: "${SSHD_HOSTKEY_TYPE:=ed25519}"

# _sshd_free_port: prints a TCP port in 20000..60999 that nothing listens on right now.
_sshd_free_port() {
	local port used
	used=$(ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://')
	while :; do
		port=$((20000 + RANDOM % 41000))
		grep -qx "$port" <<<"$used" || break
	done
	echo "$port"
}

# _sshd_banner ADDR PORT: 0 when something at ADDR:PORT answers with an SSH-2.0 banner.
_sshd_banner() {
	local line
	timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r -t 4 line <&3 &&
		[[ $line == SSH-2.0-* ]]' _ "$1" "$2" 2>/dev/null
}

sshd_start() {
	local addr=$1 port=${2:-} dir priv listen pid line _
	shift $(($# < 2 ? $# : 2))
	local pre=() post=() in_match=0
	for line in "$@"; do
		[[ $line == Match* ]] && in_match=1
		if [ $in_match = 1 ]; then post+=("$line"); else pre+=("$line"); fi
	done
	mkdir -p /run/sshd
	dir=$(mktemp -d /run/ferry-sshd.XXXXXX) || return 1
	chmod 0711 "$dir"
	priv=$dir/private
	mkdir -m 0700 "$priv" && mkdir -m 0755 "$dir/authorized_keys" || return 1
	at_exit "sshd_stop '$dir'"
	ssh-keygen -q -t "$SSHD_HOSTKEY_TYPE" -N '' -C "ferry-test-sshd" -f "$priv/host_key" || return 1
	for _ in 1 2 3 4 5; do
		local p=${port:-$(_sshd_free_port)}
		case $addr in *:*) listen="[$addr]:$p" ;; *) listen="$addr:$p" ;; esac
		{
			printf '%s\n' "${pre[@]}"
			cat <<-EOF
				ListenAddress $listen
				HostKey $priv/host_key
				PidFile $priv/sshd.pid
				AuthorizedKeysFile $dir/authorized_keys/%u
				UsePAM no
				PasswordAuthentication no
				KbdInteractiveAuthentication no
				PubkeyAuthentication yes
				PermitRootLogin no
				StrictModes yes
				UseDNS no
				PrintMotd no
				X11Forwarding no
				AllowTcpForwarding no
				AllowAgentForwarding no
				PermitTunnel no
				MaxStartups 50
				LogLevel VERBOSE
			EOF
			printf '%s\n' "${post[@]}"
		} | grep -v '^$' >"$priv/sshd_config"
		: >"$priv/log"
		/usr/sbin/sshd -D -f "$priv/sshd_config" -E "$priv/log" &
		pid=$!
		echo "$pid" >"$priv/pid"
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			if _sshd_banner "$addr" "$p"; then
				echo "$p" >"$priv/port"
				echo "$addr" >"$priv/addr"
				SSHD_DIR=$dir SSHD_ADDR=$addr SSHD_PORT=$p
				return 0
			fi
			sleep 0.2
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		# Only a port taken between choosing and binding is worth another try.
		if [ -z "$port" ] && grep -q "Address already in use" "$priv/log"; then
			continue
		fi
		break
	done
	echo "sshd_start: sshd on $addr did not start; its log:" >&2
	sed 's/^/  | /' "$priv/log" >&2
	return 1
}

sshd_stop() {
	local dir=$1 pid
	[ -d "$dir" ] || return 0
	pid=$(cat "$dir/private/pid" 2>/dev/null)
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}

sshd_user_add() {
	local name=$1 home=${2:-/}
	if getent passwd "$name" >/dev/null; then
		echo "sshd_user_add: user $name exists already" >&2
		return 1
	fi
	useradd -M -d "$home" -s /bin/sh "$name" || return 1
	at_exit "userdel -f '$name' 2>/dev/null"
	usermod -p '*' "$name"
}

sshd_authorize() {
	local dir=$1 user=$2 file
	shift 2
	file=$dir/authorized_keys/$user
	printf '%s\n' "$@" >>"$file" && chown "$user:" "$file" && chmod 0600 "$file"
}

sshd_known_host() {
	local dir=$1 name=${2:-} port
	port=$(cat "$dir/private/port") || return 1
	: "${name:=$(cat "$dir/private/addr")}"
	[ "$port" = 22 ] && printf '%s ' "$name" || printf '[%s]:%s ' "$name" "$port"
	awk '{print $1, $2}' "$dir/private/host_key.pub"
}
