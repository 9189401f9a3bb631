# test/lib/sshd.sh, the private test sshd other tests build on: it starts, accepts exactly the
# keys it was given, applies StrictModes, honours extra config lines, and leaves nothing behind.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"

if [ "$(id -u)" != 0 ]; then
	skip "test sshd helper" "needs root (sshd, useradd)"
	exit 0
fi

user=fsshd$$
sshd_user_add "$user" || { echo "FAIL sshd_user_add"; exit 1; }
fails_with "sshd_user_add refuses an existing user" 'sshd_user_add "$user"' 1 "user $user exists already"
testing "the user's password field is '*' (key logins only)" 'getent shadow "$user" | cut -d: -f2' '*'

sshd_start 127.0.0.3 || { echo "FAIL sshd_start"; exit 1; }
dir=$SSHD_DIR port=$SSHD_PORT
testing "it listens on the address and port it reports" \
	'ss -Hltn "sport = :$port" | awk "{print \$4}"' "127.0.0.3:$port"
testing "its private directory is root's, mode 0700" 'stat -c "%U %a" "$dir/private"' "root 700"
check "it answers with an SSH banner" '_sshd_banner 127.0.0.3 "$port"'

ssh-keygen -q -t ed25519 -N "" -f "$T/id" && ssh-keygen -q -t ed25519 -N "" -f "$T/other"
sshd_authorize "$dir" "$user" "$(cat "$T/id.pub")"
sshd_known_host "$dir" 127.0.0.3 >"$T/known_hosts"
testing "sshd_known_host prints [addr]:port and the host key" 'cut -d" " -f1,2 "$T/known_hosts"' "[127.0.0.3]:$port ssh-ed25519"
ssh_to() { # KEY COMMAND: ssh as the test user, the host key checked against known_hosts
	ssh -T -F none -i "$1" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$T/known_hosts" -p "$port" -l "$user" 127.0.0.3 "$2" </dev/null
}
testing "an authorized key logs in (host key verified)" 'ssh_to "$T/id" "id -un"' "$user"
fails_with "another key is refused" 'ssh_to "$T/other" "id -un"' 255 "Permission denied (publickey)"
: >"$T/empty_known_hosts"
fails_with "a wrong host key is refused by the client" \
	'ssh -T -F none -i "$T/id" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/empty_known_hosts" -p "$port" -l "$user" 127.0.0.3 true </dev/null' \
	255 "Host key verification failed"
# (Debian's sshd lets a file be group-writable when the group is the user's own: world-writable.)
chmod 0777 "$dir/authorized_keys"
fails_with "StrictModes: keys under a world-writable directory are refused" 'ssh_to "$T/id" true' 255 "Permission denied"
check "and sshd says why" 'grep -q "bad ownership or modes for directory $dir/authorized_keys" "$dir/private/log"'
chmod 0755 "$dir/authorized_keys"
testing "the same key logs in again once the directory is fixed" 'ssh_to "$T/id" "id -un"' "$user"

# A second sshd with a forced command given as a config line, and a Match block kept last.
sshd_start 127.0.0.3 "" "ForceCommand echo forced" "Match User nobody" "PermitTTY no" || { echo "FAIL second sshd"; exit 1; }
dir2=$SSHD_DIR port2=$SSHD_PORT
sshd_authorize "$dir2" "$user" "$(cat "$T/id.pub")"
testing "config lines go in: ForceCommand applies" \
	'ssh -T -F none -i "$T/id" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p "$port2" -l "$user" 127.0.0.3 "id -un" </dev/null 2>/dev/null' forced
testing "and the Match block comes after the defaults" 'tail -n 2 "$dir2/private/sshd_config"' $'Match User nobody\nPermitTTY no'
check "the two sshds use different ports" '[ "$port" != "$port2" ]'

sshd_stop "$dir2"
check "sshd_stop removes its directory" '[ ! -e "$dir2" ]'
fails_with "and nothing listens there any more" 'ssh -T -F none -o BatchMode=yes -o ConnectTimeout=5 -p "$port2" 127.0.0.3 true </dev/null' 255 "Connection refused"

# Everything is undone at exit: run a script that starts one and exits.
cat >"$T/inner.sh" <<EOF
FERRY=$FERRY
. "$TOP/test/lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
sshd_user_add finner$$ && sshd_start 127.0.0.3 && echo "\$SSHD_DIR \$SSHD_PORT \$(cat \$SSHD_DIR/private/pid)"
EOF
bash "$T/inner.sh" >"$T/inner.out"
read -r idir iport ipid <"$T/inner.out"
testing "the inner script started an sshd" 'echo "${idir%.*}"' /run/ferry-sshd
check "at exit its sshd is stopped" '! kill -0 "$ipid" 2>/dev/null'
check "its directory removed" '[ -n "$idir" ] && [ ! -e "$idir" ]'
check "its user removed" '! getent passwd "finner$$" && ! getent group "finner$$"'
