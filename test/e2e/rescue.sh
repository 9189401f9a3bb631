# The rescue image (initramfs/): it builds, holds what it should, and boots under QEMU (TCG):
# modules, DHCP or static network, the node's data disk, the image's SSH client against a test
# sshd on the host, the migration plan's result lines, the rescue shell, and power-off.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
: "${BUILD:=$(dirname "$FERRY")}"

# Seconds one boot may take before it counts as hung (a boot takes ~10 s here under TCG).
BOOT_TIMEOUT=${RESCUE_BOOT_TIMEOUT:-180}

if ! qemu-system-x86_64 -version >/dev/null 2>&1; then
	skip "rescue image boots under QEMU" "qemu-system-x86_64 cannot run here"
	exit 0
fi

# ---- The image --------------------------------------------------------------------------------
# The first build downloads ~75 MB of Debian packages; later ones reuse them (or the image).
if ! BUILD=$BUILD FERRY=$FERRY timeout 600 "$TOP/initramfs/build.sh" >"$T/build.log" 2>&1; then
	echo "FAIL make initramfs builds the image"
	sed 's/^/  | /' "$T/build.log" >&2
	exit 1
fi
echo "PASS make initramfs builds the image"
image=$BUILD/initramfs.cpio.gz
kernel=$BUILD/initramfs/vmlinux
testing "the build prints the size report" \
	'grep -c -E "^  (kernel modules|ssh client|their shared libraries|busybox|ferry)( |:).* [0-9.]+ (KiB|MiB) +[0-9.]+ (KiB|MiB)\$" "$T/build.log"' 5

mkdir "$T/img"
(cd "$T/img" && gzip -dc "$image" | cpio -i -d --quiet --no-absolute-filenames)
check "the image is a newc cpio archive with /init" 'gzip -dc "$image" | file - | grep -q "ASCII cpio archive (SVR4 with no CRC)" && [ -x "$T/img/init" ]'
testing "the image's ferry is the binary built" 'cmp "$FERRY" "$T/img/usr/bin/ferry" && echo same' same
testing "one link to ferry per applet in /usr/bin" \
	'for a in $("$FERRY" --list); do echo "$a $(readlink "$T/img/usr/bin/$a")"; done' \
	"$("$FERRY" --list | sed 's/$/ ferry/')"
testing "ferry runs inside the image (chroot)" 'chroot "$T/img" /usr/bin/ferry --list' "$("$FERRY" --list)"
testing "busybox runs inside the image" 'chroot "$T/img" /bin/sh -c "echo \$((6 * 7))"' 42
check "dbclient runs inside the image: every library it needs is there" \
	'chroot "$T/img" /usr/bin/dbclient -h 2>&1 | grep -q "Dropbear SSH client"'
check "without one of its libraries it does not (the check above can fail)" '
	cp -a "$T/img" "$T/img-broken" && rm "$T/img-broken"/lib/x86_64-linux-gnu/libtomcrypt.so.1 &&
	! chroot "$T/img-broken" /usr/bin/dbclient -h >/dev/null 2>&1'
krel=$(ls "$T/img/lib/modules")
testing "modules and kernel come from one package" \
	'file -b "$BUILD/initramfs/vmlinuz" | grep -o "version [^ ]*"' "version $krel"
testing "every module was built for that kernel" \
	'for m in $(cat "$T/img/lib/modules/$krel/ferry.load"); do modinfo -F vermagic "$T/img/lib/modules/$krel/$m" | cut -d" " -f1; done | sort -u' \
	"$krel"
testing "every module is loaded after what it depends on" '
	cd "$T/img/lib/modules/$krel" && seen=" " && while read -r m; do
		for d in $(modinfo -F depends "$m" | tr , " "); do
			case "$seen" in *" $(echo "$d" | tr - _) "*) ;; *) echo "$m before $d" ;; esac
		done
		n=${m##*/}; seen="$seen$(echo "${n%.ko}" | tr - _) "
	done <ferry.load; echo checked' checked
check "the modules virtio disks, virtio_net and ext4 need are in the image" '
	for m in virtio_pci virtio_mmio virtio_blk virtio_net net_failover failover ext4 jbd2 mbcache crc16 crc32c_generic; do
		grep -q "/$m.ko\$" "$T/img/lib/modules/$krel/ferry.load" || { echo "missing $m"; exit 1; }; done'

# ---- The host side: test sshds reached from the guest at 10.0.2.2 (QEMU user networking) -------
# A: accepts the node's key; B: would too, but its host key is not in the node's known_hosts;
# C: its host key is known, but it does not accept the node's key. Each records logins.
user=fres$$
sshd_user_add "$user" || { echo "FAIL test user"; exit 1; }
dropbearkey -t ecdsa -s 521 -f "$T/node.dropbear" >/dev/null 2>&1
dropbearkey -t ecdsa -s 521 -f "$T/other.dropbear" >/dev/null 2>&1
node_pub=$(dropbearkey -y -f "$T/node.dropbear" | grep '^ecdsa-')
other_pub=$(dropbearkey -y -f "$T/other.dropbear" | grep '^ecdsa-')
for s in a b c; do
	sshd_start 127.0.0.1 || { echo "FAIL test sshd $s"; exit 1; }
	eval "dir_$s=\$SSHD_DIR port_$s=\$SSHD_PORT"
	: >"$T/logins-$s" && chown "$user" "$T/logins-$s"
	key=$node_pub
	[ $s = c ] && key=$other_pub
	sshd_authorize "$SSHD_DIR" "$user" "command=\"printenv SSH_CONNECTION >>$T/logins-$s\",restrict $key"
done

# ---- The source node's data disk: its state root with one container, made without mounting -----
# Layout (docs/node-state.md): ROOT/conf/migration/{key,key.pub,key.dropbear,known_hosts},
# ROOT/pools/POOL/ID/. The container's own files are a stand-in until the ct applet defines them.
make_source_node() { # ROOT
	local root=$1 ct=$1/pools/default/ct01
	mkdir -p "$root/conf/migration" "$ct/rootfs/etc" "$ct/rootfs/bin" "$ct/rootfs/var/log"
	cp "$T/node.dropbear" "$root/conf/migration/key.dropbear"
	dropbearconvert dropbear openssh "$T/node.dropbear" "$root/conf/migration/key" >/dev/null 2>&1
	echo "$node_pub" >"$root/conf/migration/key.pub"
	chmod 0600 "$root/conf/migration/key" "$root/conf/migration/key.dropbear"
	{ sshd_known_host "$dir_a" 10.0.2.2; sshd_known_host "$dir_c" 10.0.2.2; } >"$root/conf/migration/known_hosts"
	printf 'init=/bin/sh\n' >"$ct/config"
	echo ct01 >"$ct/rootfs/etc/hostname"
	ln -s /bin/busybox "$ct/rootfs/bin/sh"
	head -c 100000 /dev/urandom >"$ct/rootfs/var/log/data"
	mknod "$ct/rootfs/var/log/fifo" p
}
make_source_node "$T/disk/var/lib/ferry"
mke2fs -q -t ext4 -L ferry-node -d "$T/disk" "$T/disk.img" 32M
check "the node's disk image is a clean ext4 file system" 'e2fsck -fn "$T/disk.img"'

# ---- Booting --------------------------------------------------------------------------------
qemu_pid=''
kill_qemu() {
	[ -n "$qemu_pid" ] || return 0
	kill "$qemu_pid" 2>/dev/null
	wait "$qemu_pid" 2>/dev/null
	qemu_pid=''
}
at_exit kill_qemu
# boot NAME CMDLINE [STDIN]: boots the image under TCG with the disk and user networking; the
# console goes to $T/NAME.log. Waits until QEMU exits (the guest powered off) or BOOT_TIMEOUT.
# Returns QEMU's status (124: timed out). qemu -M pc, not microvm: on a busy host microvm's
# guest cannot calibrate its TSC (no HPET or ACPI PM timer to compare with) and hangs at boot;
# the extracted vmlinux still boots through PVH, skipping the kernel's own decompression, and
# romfile= skips the network card's iPXE ROM (docs/initramfs.md, "Booting under QEMU").
boot() {
	local name=$1 cmdline=$2 input=${3:-/dev/null} rc
	timeout --kill-after=10 "$BOOT_TIMEOUT" qemu-system-x86_64 -M pc -m 256 -smp 1 \
		-nographic -monitor none -serial stdio -no-reboot \
		-kernel "$kernel" -initrd "$image" -append "console=ttyS0 $cmdline" \
		-netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile= \
		-drive id=disk0,file="$T/disk.img",format=raw,if=none -device virtio-blk-pci,drive=disk0 \
		-device virtio-rng-pci <"$input" >"$T/$name.raw" 2>&1 &
	qemu_pid=$!
	wait "$qemu_pid"
	rc=$?
	qemu_pid=''
	tr -d '\r' <"$T/$name.raw" >"$T/$name.log"
	return $rc
}
# line LOG PREFIX: the first console line of LOG starting with "ferry-rescue: PREFIX".
line() { grep -m 1 "^ferry-rescue: $2" "$T/$1.log"; }

# Boot 1: a migration plan (a container that exists and one that does not), three SSH self-tests.
dest=10.0.2.2:$port_a
boot plan "ferry.disk=/dev/vda ferry.user=$user ferry.migrate=default:ct01@$dest ferry.migrate=default:nosuch@$dest \
ferry.migrate=default:ct01@10.0.2.2:notaport \
ferry.selftest=ssh@10.0.2.2:$port_a ferry.selftest=ssh@10.0.2.2:$port_b ferry.selftest=ssh@10.0.2.2:$port_c"
rc=$?
testing "boot 1: the guest powers off by itself" 'echo "$rc $(grep -c "reboot: Power down" "$T/plan.log")"' "0 1"
[ "$rc" = 0 ] || { echo "--- console:" >&2; tail -n 40 "$T/plan.log" >&2; }
testing "boot 1: /init loaded every module" 'line plan modules:' "ferry-rescue: modules: $(wc -l <"$T/img/lib/modules/$krel/ferry.load") loaded"
testing "boot 1: DHCP address from QEMU" 'line plan network:' "ferry-rescue: network: eth0 10.0.2.15/24 via 10.0.2.2 (dhcp)"
testing "boot 1: the node's disk is mounted" 'line plan disk:' "ferry-rescue: disk: /dev/vda mounted on /mnt/node"
testing "boot 1: its state root is found" 'line plan "state root:"' "ferry-rescue: state root: /var/lib/ferry"
testing "boot 1: the container is found" 'line plan containers:' "ferry-rescue: containers: default:ct01"
testing "boot 1: dbclient logs in with the node's key (known host)" \
	'line plan "selftest ssh $user@10.0.2.2:$port_a:"' "ferry-rescue: selftest ssh $user@10.0.2.2:$port_a: OK"
testing "the host's sshd ran the forced command once, for a client behind QEMU's NAT" \
	'cut -d" " -f1,3,4 "$T/logins-a"' "127.0.0.1 127.0.0.1 $port_a"
check "boot 1: an unknown host key stops dbclient" \
	'line plan "selftest ssh $user@10.0.2.2:$port_b:" | grep -q ": FAILED (exit [0-9]*)$"'
testing "the guest reached that host, and nothing ran there" \
	'grep -q "Connection from 127.0.0.1" "$dir_b/private/log" && wc -c <"$T/logins-b"; grep -c "Accepted publickey" "$dir_b/private/log"' $'0\n0'
check "boot 1: a host that does not accept the node's key refuses it" \
	'line plan "selftest ssh $user@10.0.2.2:$port_c:" | grep -q ": FAILED (exit [0-9]*)$"'
testing "that host saw the node's key and refused it; nothing ran" \
	'grep -q "Failed publickey for $user from 127.0.0.1" "$dir_c/private/log" && wc -c <"$T/logins-c"; grep -c "Accepted publickey" "$dir_c/private/log"' $'0\n0'
testing "boot 1: the plan runs ferry migrate now with the node's state root" \
	'line plan "running: .* ferry migrate now default:ct01"' \
	"ferry-rescue: running: FERRY_ROOT=/mnt/node/var/lib/ferry ferry migrate now default:ct01 10.0.2.2 -p $port_a --ssh dbclient"
grep -E "^ferry-rescue: default:[a-z0-9]+ -> " "$T/plan.log" >"$T/results"
testing "boot 1: one result line per container, in plan order, OK or FAILED (exit N)" \
	'sed -E "s/: (OK|FAILED \(exit [0-9]+\))\$/: RESULT/" "$T/results"' \
	"ferry-rescue: default:ct01 -> $dest: RESULT
ferry-rescue: default:nosuch -> $dest: RESULT"
check "boot 1: a container that is not on the node fails" \
	'grep -q -E "^ferry-rescue: default:nosuch -> $dest: FAILED \(exit [0-9]+\)$" "$T/results"'
testing "boot 1: a malformed plan entry fails without running anything" \
	'grep -c "^ferry-rescue: running: .*notaport" "$T/plan.log"; line plan "default:ct01@10.0.2.2:notaport:"' \
	"0
ferry-rescue: default:ct01@10.0.2.2:notaport: FAILED (expected ferry.migrate=[POOL:]CT@HOST[:PORT])"
check "boot 1: the plan's summary adds up" '
	ok=$(grep -c ": OK$" "$T/results"); failed=$(grep -c ": FAILED" "$T/results")
	[ "$(line plan "plan:")" == "ferry-rescue: plan: $ok migrated, $((failed + 1)) failed" ]'
if grep -q "^ferry-rescue: default:ct01 -> $dest: OK$" "$T/results"; then
	echo "FAIL boot 1: the migration reported OK, but this test cannot check a destination yet"
else
	skip "boot 1: the container arrives on the host node, its tree equal, and starts" "migrate applet not implemented yet"
fi
testing "boot 1: the disk was unmounted before power-off" \
	'grep -o -E "EXT4-fs \(vda\): unmounting filesystem|^ferry-rescue: powering off" "$T/plan.log"' \
	"EXT4-fs (vda): unmounting filesystem
ferry-rescue: powering off"
check "the disk is a clean file system afterwards" 'e2fsck -fn "$T/disk.img"'

# Boot 2: no plan, so the rescue shell on the console; static address; the disk by label; hostile
# plan and self-test entries, which are ignored. The test types into the shell once it is up.
mkfifo "$T/console.in"
(
	exec 3>"$T/console.in"
	for _ in $(seq $((BOOT_TIMEOUT * 2))); do
		grep -q "^ferry rescue shell" "$T/shell.raw" 2>/dev/null && break
		sleep 0.5
	done
	echo 'echo "shell: $((6 * 7))"; echo "path: $(command -v migrate)"; echo "root: $FERRY_ROOT"' >&3
	echo "echo | nc 10.0.2.2 $port_a | head -c 7 | sed 's/^/banner: /'; echo" >&3
	echo 'poweroff -f' >&3
	exec sleep "$BOOT_TIMEOUT"
) &
typist=$!
at_exit "kill $typist 2>/dev/null"
boot shell "ferry.disk=LABEL=ferry-node ferry.ip=10.0.2.15/24:10.0.2.2 ferry.migrate=default:ct01@evil;reboot \
ferry.selftest=-oProxyCommand=/bin/sh" "$T/console.in"
rc=$?
kill $typist 2>/dev/null
testing "boot 2: the guest powers off when told to" 'echo "$rc $(grep -c "reboot: Power down" "$T/shell.log")"' "0 1"
[ "$rc" = 0 ] || { echo "--- console:" >&2; tail -n 40 "$T/shell.log" >&2; }
testing "boot 2: a plan entry with bad characters, a value like an option: ignored" 'line shell ignored' \
	"ferry-rescue: ignored kernel command line parameters (unknown or bad characters): ferry.migrate ferry.selftest"
testing "boot 2: static address from the command line" 'line shell network:' "ferry-rescue: network: eth0 10.0.2.15/24 via 10.0.2.2 (static)"
testing "boot 2: the disk found by its label" 'line shell disk:' "ferry-rescue: disk: /dev/vda mounted on /mnt/node"
testing "boot 2: without a plan, nothing is migrated" 'grep -c -E "^ferry-rescue: (running|plan)" "$T/shell.log"' 0
testing "boot 2: the rescue shell runs commands typed on the console" 'grep -m 1 "^shell: " "$T/shell.log"' "shell: 42"
testing "boot 2: ferry's applets are on the shell's PATH" 'grep -m 1 "^path: " "$T/shell.log"' "path: /usr/bin/migrate"
testing "boot 2: FERRY_ROOT names the state root on the disk" 'grep -m 1 "^root: " "$T/shell.log"' "root: /mnt/node/var/lib/ferry"
testing "boot 2: the host's sshd is reachable over the static address" 'grep -m 1 "^banner: " "$T/shell.log"' "banner: SSH-2.0"
