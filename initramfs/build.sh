#!/bin/sh
# Builds ferry's netboot/rescue image BUILD/initramfs.cpio.gz and the kernel it boots with.
# usage: BUILD=DIR FERRY=STATIC-BINARY initramfs/build.sh     (what `make initramfs` runs)
#
# Inputs come from Debian bookworm's binary packages, fetched with apt-get download through a
# private apt state in BUILD/initramfs/apt (the host's apt configuration is not touched) and
# unpacked with dpkg-deb -x. Outputs (docs/initramfs.md):
#   BUILD/initramfs.cpio.gz        the image (newc cpio, gzip -9)
#   BUILD/initramfs/vmlinuz        the kernel of the same package as the image's modules
#   BUILD/initramfs/vmlinux        the same kernel as an uncompressed ELF (PVH boot in QEMU)
#   BUILD/initramfs/packages       package, version and sha256 of every .deb used
#   BUILD/initramfs/size.txt       the size report, also printed
# Environment: INITRAMFS_SSH ("dbclient" default, or "dbclient ssh" to carry OpenSSH's client
# too), INITRAMFS_MODULES (module list files, default initramfs/modules), INITRAMFS_KERNEL
# (an exact linux-image-amd64 version instead of the newest), INITRAMFS_REFRESH=1 (look for
# newer packages instead of reusing the ones fetched before).
set -eu

: "${BUILD:?BUILD must name the build directory}" "${FERRY:?FERRY must name the static ferry binary}"
top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/initramfs
out=$BUILD/initramfs
image=$BUILD/initramfs.cpio.gz
: "${INITRAMFS_SSH:=dbclient}" "${INITRAMFS_MODULES:=$here/modules}" "${INITRAMFS_KERNEL:=}"
: "${INITRAMFS_REFRESH:=}"

# Version series accepted for each package (a glob over the Debian version). Security updates
# within a series are taken; anything else stops the build until the pins here are changed.
pin_kernel='6.1.*'
pin_busybox='1:1.35.0-4*'
pin_dropbear='2022.83-1*'
pin_openssh='1:9.2p1-2*'

die() {
	echo "initramfs: $*" >&2
	exit 1
}

case $FERRY in /*) ;; *) FERRY=$PWD/$FERRY ;; esac
[ -x "$FERRY" ] || die "$FERRY: no such executable (run make first)"
file -b "$FERRY" | grep -q 'statically linked' || die "$FERRY: not a static binary"
for ssh in $INITRAMFS_SSH; do
	case $ssh in dbclient | ssh) ;; *) die "INITRAMFS_SSH: unknown client '$ssh' (dbclient, ssh)" ;; esac
done
case " $INITRAMFS_SSH " in *" dbclient "*) ;; *) die "INITRAMFS_SSH must include dbclient (the rescue plan's client)" ;; esac

mkdir -p "$out/debs" "$out/pkg"
# One build at a time per build directory (make initramfs and the boot test may meet).
exec 9>"$out/lock"
flock 9 || die "cannot lock $out/lock"

# ---- Fetch: the .deb files, through a private apt state ---------------------------------
apt=$out/apt
aptopt="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$apt/sources.list.d
 -o Dir::State::Lists=$apt/lists -o Dir::State::Status=/dev/null -o Dir::Cache=$apt/cache
 -o APT::Sandbox::User=root -o Debug::NoLocking=1"

apt_update() {
	mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
	cat >"$apt/sources.list.d/ferry-initramfs.sources" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: bookworm bookworm-updates
		Components: main
		Architectures: amd64
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: http://deb.debian.org/debian-security
		Suites: bookworm-security
		Components: main
		Architectures: amd64
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt-get $aptopt update -q >/dev/null || die "apt-get update (private state in $apt) failed"
}

# candidate PKG: the version apt would pick (the newest in bookworm and its updates).
candidate() {
	apt-cache $aptopt policy "$1" | sed -n 's/^ *Candidate: //p'
}

# pinned PKG VERSION GLOB: stops the build when VERSION is outside the pinned series.
pinned() {
	# shellcheck disable=SC2254
	case $2 in $3) ;; *) die "$1 $2 is not in the pinned series '$3' (initramfs/build.sh)" ;; esac
}

# download PKG VERSION: fetches PKG=VERSION into debs/ (apt checks it against the signed
# index) and prints "PKG VERSION FILE SHA256".
download() {
	(cd "$out/debs" && apt-get $aptopt download -q "$1=$2" >/dev/null) || die "apt-get download $1=$2 failed"
	f=${1}_$(echo "$2" | sed 's/:/%3a/')_amd64.deb
	[ -f "$out/debs/$f" ] || die "apt-get download $1=$2 did not write $f"
	echo "$1 $2 $f $(sha256sum "$out/debs/$f" | cut -d' ' -f1)"
}

fetch() {
	apt_update
	kver=${INITRAMFS_KERNEL:-$(candidate linux-image-amd64)}
	[ -n "$kver" ] || die "linux-image-amd64: not found in bookworm"
	pinned linux-image-amd64 "$kver" "$pin_kernel"
	kpkg=$(apt-cache $aptopt show "linux-image-amd64=$kver" |
		sed -n 's/^Depends:.*\(linux-image-[0-9][^ ]*-amd64\) (= \([^)]*\)).*/\1/p' | head -n 1)
	[ -n "$kpkg" ] || die "linux-image-amd64 $kver: cannot find the kernel package it depends on"
	bver=$(candidate busybox-static) && pinned busybox-static "$bver" "$pin_busybox"
	dver=$(candidate dropbear-bin) && pinned dropbear-bin "$dver" "$pin_dropbear"
	{
		download "$kpkg" "$kver"
		download busybox-static "$bver"
		download dropbear-bin "$dver"
		case " $INITRAMFS_SSH " in *" ssh "*)
			over=$(candidate openssh-client) && pinned openssh-client "$over" "$pin_openssh"
			download openssh-client "$over" ;;
		esac
	} >"$out/packages.new"
	mv "$out/packages.new" "$out/packages"
}

# Reuse what was fetched before when it is all there and unchanged.
fetched_ok() {
	[ -s "$out/packages" ] || return 1
	while read -r _ _ f sum; do
		[ -f "$out/debs/$f" ] || return 1
		echo "$sum  $out/debs/$f" | sha256sum -c --quiet >/dev/null 2>&1 ||
			die "$out/debs/$f: sha256 differs from $out/packages (remove $out to start over)"
	done <"$out/packages"
	grep -q '^linux-image-[0-9]' "$out/packages" || return 1
	[ -z "$INITRAMFS_KERNEL" ] || grep -q "^linux-image-[0-9][^ ]* $INITRAMFS_KERNEL " "$out/packages" || return 1
	case " $INITRAMFS_SSH " in *" ssh "*) grep -q '^openssh-client ' "$out/packages" || return 1 ;; esac
}
if [ -n "$INITRAMFS_REFRESH" ] || ! fetched_ok; then
	echo "initramfs: fetching Debian packages" >&2
	fetch
fi

# ---- Nothing changed since the last build? ------------------------------------------------
stamp=$({
	cat "$0" "$here/init" "$here/udhcpc.script" $INITRAMFS_MODULES "$FERRY" "$out/packages"
	echo "$INITRAMFS_SSH|$INITRAMFS_MODULES|$(id -u)"
} | sha256sum | cut -d' ' -f1)
if [ -f "$image" ] && [ -f "$out/size.txt" ] && [ -f "$out/vmlinux" ] && [ -f "$out/vmlinuz" ] &&
	[ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	cat "$out/size.txt"
	exit 0
fi
rm -f "$out/stamp"

# unpack PKG: prints the directory PKG's .deb is unpacked in (once per version).
unpack() {
	line=$(grep "^$1 " "$out/packages") || die "$1: not fetched"
	set -- $line
	d=$out/pkg/$1_$2
	if [ ! -f "$d.done" ]; then
		rm -rf "$d" && mkdir -p "$d"
		dpkg-deb -x "$out/debs/$3" "$d" || die "dpkg-deb -x $3 failed"
		touch "$d.done"
	fi
	echo "$d"
}

kpkg=$(sed -n 's/^\(linux-image-[0-9][^ ]*\) .*/\1/p' "$out/packages")
kdir=$(unpack "$kpkg")
bbdir=$(unpack busybox-static)
dbdir=$(unpack dropbear-bin)
krel=$(ls "$kdir/lib/modules")
[ "$(echo "$krel" | wc -l)" = 1 ] || die "$kpkg: expected one module directory, got: $krel"
moddir=$kdir/lib/modules/$krel

# ---- The kernel: vmlinuz as shipped, vmlinux extracted from its payload ---------------------
# bzImage boot protocol (>= 2.08): setup_sects at 0x1f1; payload_offset (0x248) and
# payload_length (0x24c) locate the compressed ELF after the (setup_sects+1)*512 setup bytes.
# Debian's config: CONFIG_KERNEL_XZ=y; the payload is followed by its size, hence --single-stream.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
if [ ! -f "$out/kernel.done" ] || [ "$(cat "$out/kernel.done")" != "$kpkg $krel" ]; then
	vmlinuz=$kdir/boot/vmlinuz-$krel
	cp "$vmlinuz" "$out/vmlinuz"
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$vmlinuz" | tr -d ' ')
	poff=$(le32 "$vmlinuz" $((0x248)))
	plen=$(le32 "$vmlinuz" $((0x24c)))
	tail -c +$(((setup + 1) * 512 + poff + 1)) "$vmlinuz" | head -c "$plen" |
		xz -dc --single-stream >"$out/vmlinux.new" || die "cannot extract vmlinux from $vmlinuz"
	file -b "$out/vmlinux.new" | grep -q '^ELF 64-bit' || die "extracted vmlinux is not an ELF file"
	mv "$out/vmlinux.new" "$out/vmlinux"
	echo "$kpkg $krel" >"$out/kernel.done"
fi

# ---- The root tree -------------------------------------------------------------------------
root=$out/root
rm -rf "$root"
mkdir -p "$root"
for d in bin sbin usr/bin usr/sbin usr/share/udhcpc lib lib64 etc root proc sys dev run tmp mnt/node; do
	mkdir -p "$root/$d"
done
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
# The kernel opens /dev/console before /init runs; without root (mknod) /init reopens it later.
if [ "$(id -u)" = 0 ]; then
	mknod -m 0600 "$root/dev/console" c 5 1
	mknod -m 0666 "$root/dev/null" c 1 3
fi

# busybox: /bin/sh for /init; /init makes the other applet links at boot (busybox --install -s).
install -m 0755 "$bbdir/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

# ferry: one link per applet, next to it.
install -m 0755 "$FERRY" "$root/usr/bin/ferry"
for a in $("$FERRY" --list); do
	[ ! -e "$root/usr/bin/$a" ] || die "applet $a clashes with $(readlink "$root/usr/bin/$a")"
	ln -s ferry "$root/usr/bin/$a"
done

# Dynamic programs: the binary, exactly the libraries ldd lists, and the loader.
add_dynamic() { # SRC DEST-PATH
	install -m 0755 "$1" "$root$2"
	ldd "$1" >"$out/ldd.out" 2>&1 || die "ldd $1 failed: $(cat "$out/ldd.out")"
	! grep -q 'not found' "$out/ldd.out" ||
		die "$1 needs libraries this host lacks (.ci/prereqs initramfs): $(grep 'not found' "$out/ldd.out")"
	for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' "$out/ldd.out"); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
		echo "$lib" >>"$out/libs.list"
	done
}
: >"$out/libs.list"
# Only the client: ferry keygen writes the key in Dropbear's format too (key.dropbear).
add_dynamic "$dbdir/usr/bin/dbclient" /usr/bin/dbclient
case " $INITRAMFS_SSH " in *" ssh "*)
	add_dynamic "$(unpack openssh-client)/usr/bin/ssh" /usr/bin/ssh ;;
esac

# Kernel modules: the listed ones and what they depend on, in load order.
kmods=$root/lib/modules/$krel
mkdir -p "$kmods"
# NAME PATH for every module of the kernel, NAME with - turned into _ as the kernel does.
awk -F/ '{n = $NF; sub(/\.ko$/, "", n); gsub(/-/, "_", n); print n, $0}' "$moddir/modules.order" >"$out/modules.map"
modpath() { # NAME: its path under $moddir
	awk -v n="$1" 'BEGIN {gsub(/-/, "_", n)} $1 == n {print $2; found = 1; exit} END {exit !found}' "$out/modules.map"
}
: >"$out/load.order"
add_module() { # NAME: appends its dependencies, then itself, to load.order (once)
	local m dep
	m=$(modpath "$1") || die "kernel module $1: not in $kpkg (built in? see its config)"
	grep -qx "$m" "$out/load.order" && return 0
	for dep in $(modinfo -F depends "$moddir/$m" | tr , ' '); do
		add_module "$dep"
	done
	echo "$m" >>"$out/load.order"
}
for list in $INITRAMFS_MODULES; do
	[ -f "$list" ] || die "module list $list: no such file"
	for name in $(sed 's/#.*//' "$list"); do add_module "$name"; done
done
while read -r m; do
	mkdir -p "$kmods/$(dirname "$m")"
	cp "$moddir/$m" "$kmods/$m"
done <"$out/load.order"
cp "$out/load.order" "$kmods/modules.order"
cp "$out/load.order" "$kmods/ferry.load"
cp "$moddir/modules.builtin" "$moddir/modules.builtin.modinfo" "$kmods/"
depmod -b "$root" "$krel" || die "depmod failed"
rm "$kmods/modules.builtin.modinfo"

# /init, the DHCP script, the few files glibc and the tools look at.
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/udhcpc.script" "$root/usr/share/udhcpc/default.script"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$root/etc/hosts"
printf 'rescue\n' >"$root/etc/hostname"
{
	echo "ferry rescue image"
	echo "kernel $krel"
	echo "ferry $(sha256sum "$FERRY" | cut -d' ' -f1)"
	awk '{print $1, $2}' "$out/packages"
} >"$root/etc/ferry-rescue"

# ---- The archive: sorted, owned by root, fixed times, so equal inputs give equal bytes -------
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$out/image.cpio"
gzip -9 -n <"$out/image.cpio" >"$image.new"
mv "$image.new" "$image"

# ---- Size report: what takes the space ------------------------------------------------------
human() { awk -v b="$1" 'BEGIN {
	if (b >= 1048576) printf "%.1f MiB", b / 1048576; else printf "%.0f KiB", b / 1024 }'; }
# part NAME PATH...: unpacked bytes and gzip -9 bytes of a cpio of just these paths (under root).
part() {
	name=$1
	shift
	list=$(cd "$root" && for p in "$@"; do find "./$p" ! -type d; done | LC_ALL=C sort)
	unpacked=$(cd "$root" && echo "$list" | xargs -r stat -c %s | awk '{s += $1} END {print s + 0}')
	packed=$(cd "$root" && echo "$list" | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -9 -n | wc -c)
	printf '  %-40s %10s %10s\n' "$name" "$(human "$unpacked")" "$(human "$packed")"
}
libs=$(sed 's|^/||' "$out/libs.list" | tr '\n' ' ')
ssh_bins="usr/bin/dbclient"
[ -f "$root/usr/bin/ssh" ] && ssh_bins="$ssh_bins usr/bin/ssh"
nfiles=$(cd "$root" && find . ! -type d | wc -l)
{
	echo "initramfs: $image"
	printf '  %s compressed (gzip -9), %s unpacked, %s files and links\n' \
		"$(human "$(stat -c %s "$image")")" "$(human "$(stat -c %s "$out/image.cpio")")" "$nfiles"
	printf '  %-40s %10s %10s\n' "part" "unpacked" "gzip -9"
	part "kernel modules ($(wc -l <"$out/load.order"))" lib/modules
	part "ssh client: $INITRAMFS_SSH" $ssh_bins
	part "their shared libraries ($(wc -l <"$out/libs.list"))" $libs
	part "busybox" bin/busybox
	part "ferry" usr/bin/ferry
	part "/init, udhcpc script, etc" init usr/share/udhcpc etc
	echo "  largest files:"
	(cd "$root" && find . -type f -printf '%s %P\n') | sort -rn | head -n 6 |
		while read -r b p; do printf '    %-56s %10s\n' "$p" "$(human "$b")"; done
	echo "kernel (not in the image): vmlinuz $(human "$(stat -c %s "$out/vmlinuz")")," \
		"vmlinux $(human "$(stat -c %s "$out/vmlinux")") ($krel)"
	echo "packages:"
	awk '{printf "  %s %s\n", $1, $2}' "$out/packages"
} | tee "$out/size.txt"
rm -f "$out/image.cpio"
# The unpacked kernel package is ~400 MB; a later build unpacks it again from the cached .deb.
rm -rf "$kdir" "$kdir.done"
echo "$stamp" >"$out/stamp"
