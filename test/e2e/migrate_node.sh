# ferry node (init, sshd-config, setup, show) checked with sshd itself, and the key workflow of
# docs/migration.md against a real sshd: the forced command is all a migration key can reach.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/nodes.sh"

if [ "$(id -u)" != 0 ]; then
	skip "migrate_node" "needs root (sshd, useradd)"
	exit 0
fi

# ---- node init -------------------------------------------------------------------------------
R=$(mktemp -d /run/ferry-node-init.XXXXXX)
at_exit "rm -rf '$R'"
rmdir "$R"
testing "node init prints the root" '"$FERRY" node init --root "$R"' "state root $R ready"
testing "node init: directories and modes (stat)" \
	'cd "$R" && find . -printf "%m %u %p\n" | LC_ALL=C sort -k3' \
	"755 root .
755 root ./conf
700 root ./conf/cluster
755 root ./conf/migration
600 root ./conf/migration/authorized-keys.lock
644 root ./conf/migration/authorized_keys
700 root ./log
700 root ./pools"
sum=$(cd "$R" && find . -printf "%m %p\n" | sort)
testing "node init twice changes nothing" '"$FERRY" node init --root "$R" >/dev/null && cd "$R" && find . -printf "%m %p\n" | sort' "$sum"
chmod 0777 "$R/conf"
fails_with "node init refuses a world-writable conf" '"$FERRY" node init --root "$R"' 1 "writable by group or others"
chmod 0755 "$R/conf"
fails_with "node init with a relative junk option" '"$FERRY" node init --root "$R" --user x' 2 "init: --user does not apply"
fails_with "node without a command" '"$FERRY" node' 2 "missing command"
fails_with "node bogus" '"$FERRY" node frobnicate' 2 "unknown command 'frobnicate'"

# ---- node sshd-config: what sshd makes of it -------------------------------------------------
block=$("$FERRY" node sshd-config --root "$R")
testing "sshd-config names the keys file and the user" \
	'printf "%s\n" "$block" | sed -n "1p;4,5p;\$p"' \
	"# BEGIN ferry migration user migration
Match User migration
	AuthorizedKeysFile $R/conf/migration/authorized_keys
# END ferry migration user migration"
D=$(mktemp -d /run/ferry-sshdcfg.XXXXXX)
at_exit "rm -rf '$D'"
ssh-keygen -q -t ed25519 -N "" -f "$D/hk"
printf 'ListenAddress 127.0.0.2:2222\nHostKey %s/hk\nUsePAM no\nPermitRootLogin yes\nPasswordAuthentication yes\nAllowTcpForwarding yes\n' "$D" >"$D/cfg"
printf '%s\n' "$block" >>"$D/cfg"
# sshd -T -C prints the settings sshd would apply to a connection: the oracle for the block.
effective() { /usr/sbin/sshd -T -f "$D/cfg" -C "user=$1,host=h,addr=127.0.0.1" | grep -E "^($2) " | sort; }
testing "sshd applies the block to user migration" \
	'effective migration "permitrootlogin|passwordauthentication|kbdinteractiveauthentication|authenticationmethods|authorizedkeysfile|allowtcpforwarding|allowagentforwarding|allowstreamlocalforwarding|x11forwarding|permittty|permittunnel|permituserrc"' \
	"allowagentforwarding no
allowstreamlocalforwarding no
allowtcpforwarding no
authenticationmethods publickey
authorizedkeysfile $R/conf/migration/authorized_keys
kbdinteractiveauthentication no
passwordauthentication no
permitrootlogin forced-commands-only
permittty no
permittunnel no
permituserrc no
x11forwarding no"
testing "...and not to other users" 'effective root "permitrootlogin|passwordauthentication|allowtcpforwarding"' \
	"allowtcpforwarding yes
passwordauthentication yes
permitrootlogin yes"
testing "sshd-config --user" '"$FERRY" node sshd-config --root "$R" --user mig2 | sed -n 4p' "Match User mig2"
fails_with "sshd-config refuses a bad user" '"$FERRY" node sshd-config --user "-oX"' 2 "not a user name"
fails_with "sshd-config refuses a root sshd would misread" '"$FERRY" node sshd-config --root "/run/a b"' 1 "must be an absolute path of"
fails_with "sshd-config refuses a root with %" '"$FERRY" node sshd-config --root /run/a%u' 1 "must be an absolute path of"

# ---- node setup: the user and the block, idempotent, checked by sshd -t first ---------------
printf 'ListenAddress 127.0.0.2:2222\nHostKey %s/hk\nUsePAM no\n\nMatch Group nobody\n\tX11Forwarding yes\n' "$D" >"$D/setup.cfg"
chmod 0640 "$D/setup.cfg"
check "node setup edits the config" '"$FERRY" node setup --root "$R" --sshd-config "$D/setup.cfg" >"$D/out"'
testing "node setup said what it did" 'grep -c "block for user migration written" "$D/out"; grep -c "reload sshd" "$D/out"' $'1\n1'
testing "the migration user: uid 0, shell /bin/sh, password field * (getent)" \
	'getent passwd migration | cut -d: -f3,7; getent shadow migration | cut -d: -f2' $'0:/bin/sh\n*'
testing "the block went before the first Match block, the file kept its mode" \
	'grep -n "^Match\|^# BEGIN\|^# END" "$D/setup.cfg"; stat -c %a "$D/setup.cfg"' \
	"5:# BEGIN ferry migration user migration
8:Match User migration
27:Match all
28:# END ferry migration user migration
29:Match Group nobody
640"
check "sshd -t accepts the result" '/usr/sbin/sshd -t -f "$D/setup.cfg"'
sum=$(sha256sum "$D/setup.cfg")
testing "node setup twice: nothing to change" \
	'"$FERRY" node setup --root "$R" --sshd-config "$D/setup.cfg" | tail -n1; sha256sum "$D/setup.cfg"' \
	"$D/setup.cfg already has the block for user migration: nothing to change
$sum"
sed -i 's/PermitTTY no/PermitTTY yes/' "$D/setup.cfg"
testing "node setup restores an edited block" \
	'"$FERRY" node setup --root "$R" --sshd-config "$D/setup.cfg" >/dev/null; sha256sum "$D/setup.cfg"' "$sum"
printf 'Bogus keyword\n' >>"$D/setup.cfg"
sed -i '/^# BEGIN/,/^# END/d' "$D/setup.cfg"
before=$(sha256sum "$D/setup.cfg")
fails_with "node setup refuses a config sshd -t rejects" \
	'"$FERRY" node setup --root "$R" --sshd-config "$D/setup.cfg"' 1 "sshd -t refuses the config"
testing "...and leaves it alone" 'sha256sum "$D/setup.cfg"; ls "$D" | grep -c ferry-check' "$before
0"
printf 'Port 22\n# BEGIN ferry migration user migration\nMatch User migration\n' >"$D/broken.cfg"
fails_with "node setup refuses a block without its end" \
	'"$FERRY" node setup --root "$R" --sshd-config "$D/broken.cfg"' 1 "is not closed"
fails_with "node setup of a missing config" '"$FERRY" node setup --root "$R" --sshd-config "$D/none"' 1 "No such file"
fails_with "node setup refuses a user with another uid" \
	'"$FERRY" node setup --root "$R" --user nobody --sshd-config "$D/cfg"' 1 "user nobody exists with uid 65534"

testing "node show" '"$FERRY" node show --root "$R" | cut -c1-13 | sed "s/ *$//"' \
	"root
key
allowed keys
known hosts
user
receive log"
testing "node show: no key yet, the user" '"$FERRY" node show --root "$R" | grep -E "^(key|user) "' \
	"key           none (ferry keygen)
user          migration uid 0 shell /bin/sh"
# ferry reads /etc/passwd and /etc/shadow itself (docs/privileges.md): a locked password field
# is seen, and users only the name service knows come from getent (a stand-in here).
usermod -p '!*' migration
testing "node show sees a locked user (usermod -p '!*')" \
	'"$FERRY" node show --root "$R" | grep "^user "' "user          migration uid 0 shell /bin/sh LOCKED (usermod -p '*')"
usermod -p '*' migration
testing "...and unlocked again" '"$FERRY" node show --root "$R" | grep -c LOCKED' "0"
FAKEBIN=$(mktemp -d)
at_exit "rm -rf '$FAKEBIN'"
printf '#!/bin/sh\n[ "$1 $2" = "passwd dirmig" ] && echo "dirmig:*:0:0:from a directory:/:/bin/bash" && exit 0\nexit 2\n' >"$FAKEBIN/getent"
chmod 755 "$FAKEBIN/getent"
testing "a user only the name service knows (getent passwd)" \
	'PATH="$FAKEBIN:$PATH" "$FERRY" node show --root "$R" --user dirmig | grep "^user "' "user          dirmig uid 0 shell /bin/bash"
testing "...and one it does not know" \
	'PATH="$FAKEBIN:$PATH" "$FERRY" node show --root "$R" --user dirmig2 | grep "^user "' "user          dirmig2 missing (ferry node setup)"

# ---- The key workflow against a real sshd set up by ferry node ---------------------------------
node_new src 127.0.0.2 nosshd || { echo "FAIL nodes: cannot set up"; exit 1; }
node_new dst 127.0.0.3 || { echo "FAIL nodes: cannot set up the destination's sshd"; exit 1; }
check "keygen on the source" 'node_ferry src keygen -t ecdsa >/dev/null'
PUB=$(node_ferry src keygen path public)
KEY=$(node_ferry src keygen path private)
testing "keygen path public" 'echo "$PUB"' "$src_ROOT/conf/migration/key.pub"
testing "authorized-keys add on the destination" 'node_ferry dst authorized-keys add src <"$PUB" | cut -d" " -f1,2' "added src"
testing "node show counts the key" 'node_ferry dst node show | awk "/^allowed keys/ { print \$3 }"' "1"
bare_ssh() {
	ssh -F /dev/null -T -p "$dst_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes "$@"
}
usage_lines="usage: receive skel [pool]
       receive base [pool:]<id> <dataset> [snapshot]
       receive incremental [pool:]<id> <dataset> [snapshot]
       receive transfer [pool:]<id> [start]
       receive cancel [pool:]<id>
       receive status [pool:]<id>"
testing "a bare ssh with the key prints receive's usage" \
	'bare_ssh -i "$KEY" -l migration 127.0.0.3 2>&1 </dev/null | grep -v "^ferry receive\|^Try"; echo "status ${PIPESTATUS[0]}"' \
	"$usage_lines
status 2"
testing "ssh asking for a shell command gets the usage too" \
	'bare_ssh -i "$KEY" -l migration 127.0.0.3 id 2>&1 </dev/null | head -n1' "ferry receive: not a receive command: 'id'"
testing "ssh -t: no TTY for the key" \
	'bare_ssh -tt -i "$KEY" -l migration 127.0.0.3 receive status ct1 2>&1 </dev/null | grep -c "PTY allocation request failed"' "1"
testing "port forwarding refused" \
	'timeout 20 ssh -F /dev/null -p "$dst_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -i "$KEY" -l migration -W 127.0.0.1:22 127.0.0.3 2>&1 </dev/null | grep -c "administratively prohibited"' "1"
testing "the log has what the key asked for" \
	'grep -c "key=src client=127.0.0.1 cmd=\"\" refused: empty command" "$dst_ROOT/log/receive.log"' "1"
ssh-keygen -q -t ed25519 -N "" -f "$T/foreign"
testing "a foreign key is refused by sshd" \
	'bare_ssh -i "$T/foreign" -l migration 127.0.0.3 receive status ct1 2>&1 </dev/null | grep -c "Permission denied"' "1"
testing "root with the migration key is refused (AllowUsers, and no root key)" \
	'bare_ssh -i "$KEY" -l root 127.0.0.3 receive status ct1 2>&1 </dev/null | grep -c "Permission denied"' "1"
testing "the key reaches receive: status of a missing container" \
	'bare_ssh -i "$KEY" -l migration 127.0.0.3 receive status ct1 </dev/null' \
	"container default:ct1
state absent
ok"
check "dbclient with key.dropbear reaches receive too" \
	'HOME=$T dbclient -T -y -y -p "$dst_PORT" -i "$(node_ferry src keygen path dropbear)" -l migration 127.0.0.3 receive status ct1 </dev/null | grep -qx "state absent"'
check "authorized-keys del" 'node_ferry dst authorized-keys del src >/dev/null'
testing "a deleted key is refused by sshd" \
	'bare_ssh -i "$KEY" -l migration 127.0.0.3 receive status ct1 2>&1 </dev/null | grep -c "Permission denied"' "1"
