# Shared helpers for tests that move directory trees: build a rich tree, compare two trees with
# independent tools (find, sha256sum, getfattr, getfacl, stat), never with ferry's own code.
#   tree_make DIR           a tree with every kind of entry ferry must keep (root only: devices, owners)
#   tree_compare A B        prints the differences and fails when A and B differ
#   tree_listing DIR        what tree_compare compares, as text (one block per tool)
# Needs: find, sha256sum, getfattr/setfattr (attr), getfacl/setfacl (acl), setcap (libcap2-bin).

# tree_make DIR [nosparse]: creates DIR (must not exist) with files of many sizes, an empty file and
# directory, a >4 GiB sparse file, hard links, symlinks, a FIFO, devices, odd modes and owners,
# nanosecond mtimes, user/trusted/security xattrs, a file capability, ACLs and awkward names.
tree_make() {
	local d=$1 sparse=${2:-}
	mkdir -p "$d" || return 1
	(
		set -e
		cd "$d"
		mkdir -p sub/deeper/deepest empty-dir 'dir with spaces' $'nl\ndir'
		printf 'hello\n' >small
		: >empty
		head -c 100000 /dev/urandom >sub/random
		yes 'compressible line of text' | head -c 3000000 >sub/compressible
		head -c 300000 /dev/urandom >sub/deeper/deepest/bin
		seq 1 20000 >'dir with spaces/numbers'
		printf 'x' >$'nl\ndir/file\nwith newline'
		printf 'y' >"$(printf 'latin1-\xe9t\xe9')"
		printf 'z' >-leading-dash
		printf 'q' >'--double-dash'
		# sparse: >4 GiB apparent, data at the start, in the middle, a trailing hole
		# (left out with "nosparse": hashing 5 GiB of zeros per comparison is slow)
		[ "$sparse" = nosparse ] || truncate -s 5G sparse
		printf 'start' | dd of=sparse conv=notrunc status=none
		[ "$sparse" = nosparse ] || head -c 70000 /dev/urandom |
			dd of=sparse bs=1 seek=4300000000 conv=notrunc status=none
		# hard links: a pair, a triple across directories
		printf 'linked\n' >link-a
		ln link-a link-b
		printf 'three\n' >sub/tri
		ln sub/tri sub/deeper/tri2
		ln sub/tri tri3
		# symlinks: relative, absolute, dangling, to a directory
		ln -s small sym-rel
		ln -s /etc/passwd sym-abs
		ln -s does/not/exist sym-dangling
		ln -s sub sym-dir
		mkfifo fifo
		# modes
		printf '#!/bin/sh\n' >setuid && chmod 4755 setuid
		printf 'g\n' >setgid && chmod 2711 setgid
		mkdir sticky && chmod 1777 sticky
		printf 'ro\n' >readonly && chmod 0400 readonly
		mkdir locked && printf 'inside\n' >locked/file && chmod 0500 locked
		# nanosecond mtimes
		touch -h -d '2001-02-03 04:05:06.123456789' small sym-rel
		touch -d '1999-12-31 23:59:59.000000001' sub/deeper
		# xattrs: user, trusted, security.capability, ACLs (access and default)
		setfattr -n user.colour -v blue small
		setfattr -n user.binary -v 0x00ff10 sub/random
		setfattr -n user.dir -v yes sub
		if [ "$(id -u)" = 0 ]; then
			setfattr -n trusted.secret -v hidden small
			cp small capable && setcap cap_net_raw+ep capable
			mknod chardev c 1 3
			mknod blockdev b 7 200
			chown 1234:5678 small sub/random
			chown -h 4321:8765 sym-rel
			chown 2000:2000 setuid && chmod 4755 setuid
			chown 3000:3001 empty-dir
		fi
		setfacl -m u:1000:rx,g:100:r small
		setfacl -d -m u:1000:rwx sub/deeper
		setfacl -m u:1001:rwx sub/deeper
		touch -d '1999-12-31 23:59:59.000000001' sub/deeper
		touch -d '2010-01-01 00:00:00.5' sub empty-dir
	)
}

# tree_listing DIR: what tree_compare compares. Names are printed with newlines shown as '\n'.
tree_listing() {
	(
		cd "$1" || exit 1
		echo "== entries (type mode uid gid size mtime links target name)"
		find . -mindepth 1 ! -type d -printf '%y %m %U %G %s %T@ %n %l %P\0' | LC_ALL=C sort -z | _tree_z2nl
		echo "== directories (mode uid gid mtime name)"
		find . -type d -printf '%m %U %G %T@ %P\0' | LC_ALL=C sort -z | _tree_z2nl
		echo "== devices (major minor name)"
		find . \( -type c -o -type b \) -printf '%P\0' | LC_ALL=C sort -z |
			xargs -0 -r stat -c '%t %T %n' | _tree_nl
		echo "== sha256"
		find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum --
		echo "== xattrs"
		{ printf '.\0'; find . -mindepth 1 -printf '%P\0'; } | LC_ALL=C sort -z |
			xargs -0 -r getfattr -h -d -m - -e hex -- 2>/dev/null | _tree_blocks
		echo "== acls"
		{ printf '.\0'; find . -mindepth 1 ! -type l -printf '%P\0'; } | LC_ALL=C sort -z |
			xargs -0 -r getfacl -p -n -- 2>/dev/null | _tree_blocks
		echo "== allocated blocks of files over 1 MiB"
		find . -type f -size +1M -printf '%b %s %P\0' | LC_ALL=C sort -z | _tree_z2nl
		echo "== hard-link groups"
		find . -mindepth 1 ! -type d -links +1 -printf '%i %P\0' | LC_ALL=C sort -z | _tree_z2nl |
			awk '{ i = $1; sub(/^[^ ]* /, ""); g[i] = g[i] (g[i] == "" ? "" : " | ") $0 }
			     END { for (i in g) print g[i] }' | LC_ALL=C sort
	)
}

_tree_z2nl() { sed -z 's/\n/\\n/g' | tr '\0' '\n'; }
_tree_nl() { cat; }
# "# file: NAME" blocks (getfattr, getfacl) as sorted "NAME: line" lines.
_tree_blocks() { awk '/^# file: /{ f = substr($0, 9); next } /^#/ { next } NF { print f ": " $0 }' | LC_ALL=C sort; }

# tree_compare A B: 0 if the two trees are the same by every measure of tree_listing;
# otherwise prints a diff (A's lines with '<', B's with '>') and returns 1.
tree_compare() {
	local a b
	a=$(tree_listing "$1") || return 1
	b=$(tree_listing "$2") || return 1
	if [ "$a" != "$b" ]; then
		echo "tree_compare: $1 and $2 differ:"
		diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -n 60
		return 1
	fi
}
