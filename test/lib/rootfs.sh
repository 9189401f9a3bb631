# Sourced by tests that need a container: a root file system from Debian's busybox-static.
#
# rootfs_busybox DIR [INIT-SCRIPT-TEXT]
#   Builds a minimal root file system in DIR (created if needed): /bin/busybox
#   (a copy of the host's static /bin/busybox) with a symlink for every applet
#   at its usual place (busybox --list-full), /etc/passwd and /etc/group with
#   root, and empty /proc, /sys, /dev, /tmp (1777), /root, /run, /var/log.
#   With INIT-SCRIPT-TEXT, /sbin/init becomes that shell script ("#!/bin/sh"
#   is prepended unless the text starts with "#!"); without it, /sbin/init is
#   busybox init with an /etc/inittab that only runs /etc/init.d/rcS (empty).
#   Remember that a shell script running as PID 1 ignores SIGTERM unless it
#   traps it (`trap 'exit 0' TERM`), and that a trap runs only after the
#   current foreground command: sleep in small steps, or `sleep 1 & wait`.
#   Fails (status 1, message on stderr) if busybox-static is not installed.
#
# wait_until SECONDS COMMAND...
#   Runs COMMAND every 0.05 s until it succeeds (0) or SECONDS have passed
#   (1). For waiting on a container's init without timing assertions: use a
#   generous SECONDS.

rootfs_busybox() {
	local dir=$1 init=${2-} bb=/bin/busybox path
	if [ ! -x "$bb" ] || ! file -b "$bb" | grep -q "statically linked"; then
		echo "rootfs_busybox: $bb is not a static busybox (apt-get install busybox-static)" >&2
		return 1
	fi
	mkdir -p "$dir" || return 1
	(
		set -e
		cd "$dir"
		mkdir -p bin sbin usr/bin usr/sbin etc etc/init.d proc sys dev tmp root run var/log
		chmod 0755 . bin sbin usr usr/bin usr/sbin etc proc sys dev root run var var/log
		chmod 1777 tmp
		cp "$bb" bin/busybox
		chmod 0755 bin/busybox
		if [ "$(id -u)" = 0 ]; then
			chroot . /bin/busybox --install -s # one process: much faster than a loop of ln
			rm -f linuxrc
		else
			"$bb" --list-full | while read -r path; do
				case $path in bin/busybox | linuxrc | */ | "") continue ;; esac
				[ -e "$path" ] || [ -L "$path" ] || ln -s /bin/busybox "$path"
			done
		fi
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >etc/passwd
		printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group
		printf '::sysinit:/etc/init.d/rcS\n' >etc/inittab
		printf '#!/bin/sh\n' >etc/init.d/rcS
		chmod 0755 etc/init.d/rcS
	) || return 1
	if [ -n "$init" ]; then
		rm -f "$dir/sbin/init"
		case $init in
		'#!'*) printf '%s\n' "$init" >"$dir/sbin/init" ;;
		*) printf '#!/bin/sh\n%s\n' "$init" >"$dir/sbin/init" ;;
		esac
		chmod 0755 "$dir/sbin/init"
	fi
}

wait_until() {
	local seconds=$1 tries
	shift
	tries=$((seconds * 20))
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}
