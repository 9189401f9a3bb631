# The rescue image (initramfs/): it builds, holds what it should, and boots under QEMU (TCG):
# modules, DHCP or static network, the node's data disk, SSH self-tests, and a real rescue-mode
# migration: a source node made by ferry on a disk image, `ferry migrate now` run by the guest's
# /init over dbclient to a destination node on the host, the container arriving whole and starting
# there, the source cleaned up, a refused container left in place; then the rescue shell.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd.sh"
. "$TOP/test/lib/rootfs.sh"
. "$TOP/test/lib/tree.sh"
. "$TOP/test/lib/nodes.sh"
: "${BUILD:=$(dirname "$FERRY")}"

# Seconds one boot may take before it counts as hung (a boot takes ~10 s here under TCG, the one
# with the migration ~30 s).
BOOT_TIMEOUT=${RESCUE_BOOT_TIMEOUT:-180}

if [ "$(id -u)" != 0 ]; then
	skip "rescue image boots under QEMU" "needs root (sshd, the destination node, mknod)"
	exit 0
fi
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

# ---- The host side: real nodes and sshds on 127.0.0.1, reached from the guest at 10.0.2.2 ------
# (QEMU user networking: the guest's connections arrive from 127.0.0.1, the address --from sees.)
#   dst: a ferry node (test/lib/nodes.sh: own state root and sshd, `ferry node setup`) that allows
#        the source node's key for ct01 only (--ctid) and from 127.0.0.1 only (--from);
#   oth: a ferry node that does not allow the source node's key;
#   bad: an sshd whose pinned host key is another host's (a changed or spoofed key);
#   unk: an sshd whose host key is not pinned at all.
at_exit "FERRY_ROOT='$T/disk/var/lib/ferry' \"\$FERRY\" ct stop -t 0 ct01 >/dev/null 2>&1"
node_new dst 127.0.0.1 || { echo "FAIL the destination node"; exit 1; }
node_new oth 127.0.0.1 || { echo "FAIL a second node"; exit 1; }
sshd_start 127.0.0.1 || { echo "FAIL test sshd"; exit 1; }
bad_SSHD=$SSHD_DIR bad_PORT=$SSHD_PORT
sshd_start 127.0.0.1 || { echo "FAIL test sshd"; exit 1; }
unk_SSHD=$SSHD_DIR unk_PORT=$SSHD_PORT

# ---- The source node's data disk: a state root made by ferry itself, then mke2fs -d (no mount) ---
src_ROOT=$T/disk/var/lib/ferry
KH=$src_ROOT/conf/migration/known_hosts
mkdir -p "$T/disk/var/lib"
check "the source node: ferry node init on the disk's tree, ferry keygen, its key allowed on dst" '
	"$FERRY" node init --root "$src_ROOT" >/dev/null &&
	node_trust src dst --ctid ct01 --from 127.0.0.1 && node_trust dst oth'
# The pins, as `ferry migrate stage` writes them ([HOST]:PORT TYPE BASE64, unhashed), for the names
# the guest uses; bad's port gets dst's key.
{
	sshd_known_host "$dst_SSHD" 10.0.2.2
	sshd_known_host "$oth_SSHD" 10.0.2.2
	echo "[10.0.2.2]:$bad_PORT $(cut -d' ' -f1,2 "$dst_SSHD/private/host_key.pub")"
} >"$KH"
testing "dst's host key is pinned for the guest's name of it (ssh-keygen -F)" \
	'ssh-keygen -F "[10.0.2.2]:$dst_PORT" -f "$KH" | grep -v "^#" | cut -d" " -f2-3' \
	"$(cut -d' ' -f1-2 "$dst_SSHD/private/host_key.pub")"

# ct01: a busybox root file system whose init logs each start to /var/log/boots, files of every
# kind a tree must keep (test/lib/tree.sh: random data, hard links, symlinks, a FIFO, devices,
# xattrs, ACLs, a file capability, odd owners and modes, awkward names) and a sparse file.
rootfs_busybox "$T/rootfs" 'trap "exit 0" TERM
echo "up $(hostname)" >>/var/log/boots
while :; do sleep 1 & wait; done' || { echo "FAIL rootfs"; exit 1; }
check "ct01: ferry ct create from the rootfs, then files of every kind and a sparse file" '
	node_ferry src ct create ct01 --from "$T/rootfs" --hostname rescued >/dev/null &&
	tree_make "$(tree_of src ct01)/srv/data" nosparse &&
	truncate -s 64M "$(tree_of src ct01)/srv/sparse" &&
	head -c 20000 /dev/urandom | dd of="$(tree_of src ct01)/srv/sparse" conv=notrunc status=none &&
	head -c 8192 /dev/urandom | dd of="$(tree_of src ct01)/srv/sparse" bs=4096 seek=10000 conv=notrunc status=none'
# The node then crashed with ct01 running: its init killed, its run record left behind.
ct01_stopped() { [ "$(node_ferry src ct show ct01 state)" = stopped ]; }
check "ct01 ran on the source node, which crashed (SIGKILL to its init; the run record stays)" '
	node_ferry src ct start ct01 && wait_until 30 test -s "$(tree_of src ct01)/var/log/boots" &&
	kill -9 "$(node_ferry src ct show ct01 pid)" && wait_until 30 ct01_stopped &&
	test -f "$src_ROOT/pools/default/ct/ct01/run"'
check "ct02: an empty container with one file" \
	'node_ferry src ct create ct02 >/dev/null && echo "stays here" >"$(tree_of src ct02)/note"'
# mke2fs -d keeps whole seconds of a file's times (ext4 could hold nanoseconds): make the trees'
# times whole seconds, so that the listings made here are what the disk holds.
python3 - "$src_ROOT/pools" <<'EOF'
import os, sys
for top, dirs, files in os.walk(sys.argv[1]):
    for p in [top] + [os.path.join(top, n) for n in dirs + files]:
        st = os.lstat(p)
        os.utime(p, ns=(st.st_atime_ns // 10**9 * 10**9, st.st_mtime_ns // 10**9 * 10**9),
                 follow_symlinks=False)
EOF
tree_listing "$(tree_of src ct01)" >"$T/ct01.listing"
testing "ct01's tree as recorded holds what the test made" \
	'sed -n "/^== entries/,/^== directories/p" "$T/ct01.listing" | awk "{print \$1, \$NF}" |
		grep -E " (srv/data/(link-[ab]|fifo|sym-rel|sub/random|chardev)|srv/sparse|bin/sh|var/log/boots)$" | LC_ALL=C sort' \
	"c srv/data/chardev
f srv/data/link-a
f srv/data/link-b
f srv/data/sub/random
f srv/sparse
f var/log/boots
l bin/sh
l srv/data/sym-rel
p srv/data/fifo"
mke2fs -q -t ext4 -L ferry-node -d "$T/disk" "$T/disk.img" 64M >&2
check "the node's disk image is a clean ext4 file system" 'e2fsck -fn "$T/disk.img"'
# disk_ls DIR / disk_cat FILE: the disk image's view, read with debugfs (nothing mounted).
disk_ls() { debugfs -R "ls -p $1" "$T/disk.img" 2>/dev/null | awk -F/ 'NF > 5 && $6 != "." && $6 != ".." {print $6}'; }
disk_cat() { debugfs -R "cat $1" "$T/disk.img" 2>/dev/null; }
testing "the disk holds both containers (debugfs)" 'disk_ls /var/lib/ferry/pools/default/ct' $'ct01\nct02'

# ---- Booting --------------------------------------------------------------------------------
qemu_pid=''
kill_qemu() {
	[ -n "$qemu_pid" ] || return 0
	kill "$qemu_pid" 2>/dev/null
	wait "$qemu_pid" 2>/dev/null
	qemu_pid=''
}
at_exit kill_qemu
# The consoles are kept next to test/run's logs, for whoever reads a failure.
at_exit 'for f in "$T"/*.log; do [ -d "$BUILD/test-logs" ] && cp "$f" "$BUILD/test-logs/rescue-console-${f##*/}"; done'
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
	# The kernel's messages can land in the middle of a line of /init's: each on its own line.
	tr -d '\r' <"$T/$name.raw" | sed -E 's/(.)(\[ *[0-9]+\.[0-9]+\] )/\1\n\2/g' >"$T/$name.log"
	return $rc
}
# line LOG PREFIX: the first console line of LOG starting with "ferry-rescue: PREFIX".
line() { grep -m 1 "^ferry-rescue: $2" "$T/$1.log"; }

# Boot 1: the self-tests, then a migration plan: ct01 (allowed on dst), a container that is not on
# the node, ct02 (dst refuses it: --ctid) and a malformed entry.
dest=10.0.2.2:$dst_PORT
conns() { grep -c "Connection from 127.0.0.1" "$1/private/log"; } # sshd_start's own check is one
unk_conns=$(conns "$unk_SSHD") bad_conns=$(conns "$bad_SSHD")
boot plan "ferry.disk=/dev/vda ferry.migrate=default:ct01@$dest ferry.migrate=default:nosuch@$dest \
ferry.migrate=ct02@$dest ferry.migrate=default:ct01@10.0.2.2:notaport \
ferry.selftest=ssh@$dest ferry.selftest=ssh@10.0.2.2:$unk_PORT ferry.selftest=ssh@10.0.2.2:$bad_PORT \
ferry.selftest=ssh@10.0.2.2:$oth_PORT"
rc=$?
testing "boot 1: the guest powers off by itself" 'echo "$rc $(grep -c "reboot: Power down" "$T/plan.log")"' "0 1"
[ "$rc" = 0 ] || { echo "--- console:" >&2; tail -n 60 "$T/plan.log" >&2; }
testing "boot 1: /init loaded every module" 'line plan modules:' "ferry-rescue: modules: $(wc -l <"$T/img/lib/modules/$krel/ferry.load") loaded"
testing "boot 1: DHCP address from QEMU" 'line plan network:' "ferry-rescue: network: eth0 10.0.2.15/24 via 10.0.2.2 (dhcp)"
testing "boot 1: the node's disk is mounted" 'line plan disk:' "ferry-rescue: disk: /dev/vda mounted on /mnt/node"
testing "boot 1: its state root is found" 'line plan "state root:"' "ferry-rescue: state root: /var/lib/ferry"
testing "boot 1: ferry ct list finds the containers" 'line plan containers:' "ferry-rescue: containers: default:ct01 default:ct02"

# The self-tests: a bare login that ferry receive answers with its usage.
testing "boot 1: self-test: dbclient logs in to dst with the node's key, and ferry receive answers" \
	'line plan "selftest ssh migration@$dest:"' "ferry-rescue: selftest ssh migration@$dest: OK"
testing "dst logged it: a login without a command, from 127.0.0.1 (QEMU's NAT)" \
	'grep -c "client=127.0.0.1 cmd=\"\" refused: empty command" "$dst_ROOT/log/receive.log"' 1
testing "boot 1: an unpinned host is refused before connecting" \
	'line plan "selftest ssh migration@10.0.2.2:$unk_PORT:"' \
	"ferry-rescue: selftest ssh migration@10.0.2.2:$unk_PORT: FAILED (no host key pinned for [10.0.2.2]:$unk_PORT in /mnt/node/var/lib/ferry/conf/migration/known_hosts)"
testing "...and no connection reached it" 'echo $(($(conns "$unk_SSHD") - unk_conns))' 0
check "boot 1: a host whose key is not the pinned one stops dbclient, which says why" \
	'line plan "selftest ssh migration@10.0.2.2:$bad_PORT:" | grep -q ": FAILED (exit [0-9]*)$" &&
	grep -q "^  ssh-ed25519 host key mismatch for 10.0.2.2 !$" "$T/plan.log"'
testing "...which reached it and logged in nowhere" \
	'echo $(($(conns "$bad_SSHD") - bad_conns)); grep -c "Accepted publickey" "$bad_SSHD/private/log"' $'1\n0'
check "boot 1: a node that does not allow the node's key refuses it" \
	'line plan "selftest ssh migration@10.0.2.2:$oth_PORT:" | grep -q ": FAILED (exit [0-9]*)$"'
testing "...it saw the key and refused it; ferry receive never ran there" \
	'grep -c "Failed publickey for migration from 127.0.0.1" "$oth_SSHD/private/log"; grep -c "Accepted publickey" "$oth_SSHD/private/log"; cat "$oth_ROOT/log/receive.log" 2>/dev/null | wc -l' \
	$'1\n0\n0'

# The plan.
testing "boot 1: the plan runs ferry migrate now with the node's state root" \
	'line plan "running: .* ferry migrate now default:ct01"' \
	"ferry-rescue: running: FERRY_ROOT=/mnt/node/var/lib/ferry ferry migrate now default:ct01 10.0.2.2 -p $dst_PORT --ssh dbclient --user migration"
grep -E "^ferry-rescue: [a-z0-9:]+ -> " "$T/plan.log" >"$T/results"
testing "boot 1: one result line per container, in plan order" 'cat "$T/results"' \
	"ferry-rescue: default:ct01 -> $dest: OK
ferry-rescue: default:nosuch -> $dest: FAILED (exit 1)
ferry-rescue: ct02 -> $dest: FAILED (exit 1)"
testing "boot 1: a malformed plan entry fails without running anything" \
	'grep -c "^ferry-rescue: running: .*notaport" "$T/plan.log"; line plan "default:ct01@10.0.2.2:notaport:"' \
	"0
ferry-rescue: default:ct01@10.0.2.2:notaport: FAILED (expected ferry.migrate=[POOL:]CT@HOST[:PORT])"
testing "boot 1: the plan's summary adds up" 'line plan "plan:"' "ferry-rescue: plan: 1 migrated, 3 failed"
check "boot 1: migrate's own output is on the console, indented (its transfer summary)" \
	'grep -q "^  transfer default:ct01: .* sent (.* files, compression ratio [0-9.]*) in [0-9.]* s" "$T/plan.log" &&
	grep -q "^  migrated default:ct01 to 10.0.2.2 in [0-9.]* s$" "$T/plan.log"'
testing "boot 1: ...and why ct02 failed (dst refused it)" \
	'sed -n "/running: .* ct02 /,/ct02 -> /p" "$T/plan.log" | grep "^  ferry migrate: stage"' \
	"  ferry migrate: stage ct02 on 10.0.2.2: 10.0.2.2: key 'src' is limited to containers matching 'ct01': 'ct02' refused"

# The destination: ct01 arrived whole and starts; ct02 did not come.
testing "dst has ct01 (stopped: it was not running on the rescued node), and no ct02" \
	'node_ferry dst ct list -H -o name,state' "default:ct01	stopped"
testing "dst's migration record: complete, by the source's key, from QEMU's NAT address" \
	'grep "^state\|^key\|^client" "$dst_ROOT/pools/default/ct/ct01/migration"' \
	$'state = complete\nkey = src\nclient = 127.0.0.1'
testing "its config came along" 'node_ferry dst ct show ct01 hostname' "rescued"
check "its tree is the source's tree (find, sha256sum, getfattr, getfacl, stat)" \
	'tree_matches "$T/ct01.listing" "$(tree_of dst ct01)"'
testing "the hard links are still one file" \
	'cd "$(tree_of dst ct01)/srv/data" && [ link-a -ef link-b ] && [ sub/tri -ef tri3 ] && echo linked' linked
testing "dst logged ct02's refusal (--ctid) and received nothing of it" \
	'grep -c "client=127.0.0.1 cmd=\"receive skel[^\"]*\" refused: .*.ct02. refused" "$dst_ROOT/log/receive.log"; grep -c "ct02" "$dst_ROOT/log/receive.log"' $'1\n1'
check "ct01 starts on dst" 'node_ferry dst ct start ct01 && wait_until 30 test "$(wc -l <"$(tree_of dst ct01)/var/log/boots")" = 2'
testing "it runs there, with its hostname" \
	'node_ferry dst ct list -H -o name,state; cat "$(tree_of dst ct01)/var/log/boots"' \
	$'default:ct01\trunning\nup rescued\nup rescued'
check "and stops" 'node_ferry dst ct stop ct01 >/dev/null && [ "$(node_ferry dst ct show ct01 state)" = stopped ]'
testing "the comparison sees a change: after it ran there, the trees differ in /var/log/boots only" \
	'diff "$T/ct01.listing" <(tree_listing "$(tree_of dst ct01)") | grep "^[<>]" | sed "s/.* //" | sort -u' \
	"var/log/boots"

# The source, read from the disk image with debugfs: ct01 gone (migrate now cleans up), ct02 as it
# was, not being migrated; the pins unchanged, dbclient's file made from them by ferry.
testing "the source's disk: ct01 is gone, ct02 stays, nothing half-deleted" \
	'disk_ls /var/lib/ferry/pools/default/ct' "ct02"
testing "ct02 is not staged nor being migrated, its file is there" \
	'disk_ls /var/lib/ferry/pools/default/ct/ct02 | grep -c "^staged$\|^migration$"; disk_cat /var/lib/ferry/pools/default/ct/ct02/datasets/_root/tree/note' \
	$'0\nstays here'
testing "the node's pins are unchanged" 'disk_cat /var/lib/ferry/conf/migration/known_hosts | cmp - "$KH" && echo same' same
testing "dbclient's known_hosts was made by ferry from the pin of dst (plain host name)" \
	'disk_cat /var/lib/ferry/conf/migration/dropbear/.ssh/known_hosts' \
	"10.0.2.2 $(cut -d' ' -f1-2 "$dst_SSHD/private/host_key.pub")"
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
	echo "echo | nc 10.0.2.2 $dst_PORT | head -c 7 | sed 's/^/banner: /'; echo" >&3
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
