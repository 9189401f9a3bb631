# Sourced by tests after testing.sh: a private OpenSSH sshd on loopback for checking migration keys for real.
# Root may log in only with public keys and only through a forced command (PermitRootLogin
# forced-commands-only), so nothing but what authorized_keys says can run. Needs root.
#
# sshd_keys_start DIR AUTHORIZED_KEYS_FILE
#   Starts sshd on 127.0.0.1 at a free port, with a host key and config made in DIR, reading
#   AUTHORIZED_KEYS_FILE with StrictModes on (so the file and every directory above it must be
#   root-owned and not group/world-writable: keep it out of /tmp). Sets SSHD_KEYS_PORT,
#   SSHD_KEYS_PID and SSHD_KEYS_LOG (sshd's log: "Accepted publickey ... SHA256:..." lines).
#   Stops sshd when the test exits. Returns 1 (with a reason on stderr) if it cannot start.
# sshd_keys_can_run: returns 0 if this machine can run it (root, sshd present, root not locked).
# sshd_keys_ssh KEY [COMMAND...]: OpenSSH ssh as root with only KEY, batch mode, no host key check.
# sshd_keys_dbclient KEY [COMMAND...]: the same with Dropbear's dbclient (KEY in Dropbear's format).

sshd_keys_can_run() {
	[ "$(id -u)" = 0 ] || { echo "needs root" >&2; return 1; }
	[ -x /usr/sbin/sshd ] || { echo "no /usr/sbin/sshd" >&2; return 1; }
	# OpenSSH without PAM refuses accounts whose password field starts with "!" (locked).
	case $(getent shadow root | cut -d: -f2) in
	'!'*) echo "the root account is locked (password field '!...')" >&2; return 1 ;;
	esac
	return 0
}

sshd_keys_start() {
	local dir=$1 keys=$2 try port
	mkdir -p /run/sshd "$dir" || return 1
	ssh-keygen -q -t ed25519 -N "" -C sshd-keys-test -f "$dir/host_key" || return 1
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		cat >"$dir/sshd_config" <<-EOF
			ListenAddress 127.0.0.1:$port
			HostKey $dir/host_key
			PidFile $dir/sshd.pid
			AuthorizedKeysFile $keys
			AuthenticationMethods publickey
			PermitRootLogin forced-commands-only
			AllowUsers root
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			UsePAM no
			StrictModes yes
			LogLevel VERBOSE
		EOF
		/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
		SSHD_KEYS_PID=$!
		SSHD_KEYS_PORT=$port
		SSHD_KEYS_LOG=$dir/sshd.log
		local i
		for i in $(seq 1 100); do
			grep -q "Server listening on 127.0.0.1 port $port" "$dir/sshd.log" && break
			kill -0 "$SSHD_KEYS_PID" 2>/dev/null || break
			sleep 0.1
		done
		if grep -q "Server listening on 127.0.0.1 port $port" "$dir/sshd.log"; then
			at_exit "kill $SSHD_KEYS_PID 2>/dev/null; wait $SSHD_KEYS_PID 2>/dev/null"
			return 0
		fi
		kill "$SSHD_KEYS_PID" 2>/dev/null
		wait "$SSHD_KEYS_PID" 2>/dev/null
	done
	echo "sshd did not start:" >&2
	cat "$dir/sshd.log" >&2
	return 1
}

sshd_keys_ssh() {
	local key=$1
	shift
	ssh -F /dev/null -T -p "$SSHD_KEYS_PORT" -i "$key" -o IdentitiesOnly=yes -o IdentityAgent=none \
		-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o ConnectTimeout=20 root@127.0.0.1 "$@" </dev/null
}

sshd_keys_dbclient() {
	local key=$1
	shift
	dbclient -T -y -y -p "$SSHD_KEYS_PORT" -i "$key" root@127.0.0.1 "$@" </dev/null
}
