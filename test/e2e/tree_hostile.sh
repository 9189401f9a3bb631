# ferry tree recv against streams from an independent writer (test/lib/ferrystream.py, written from
# docs/stream-format.md alone): valid ones arrive exactly; hostile ones are refused, the error says
# where the stream went wrong, and nothing is written outside the target.
. "$(dirname "$0")/../lib/testing.sh"

if [ "$(id -u)" != 0 ]; then
	skip "hostile streams" "needs root (owners, devices)"
	exit 0
fi

W=$T/work # holds the target and, next to it, a sentinel directory
mkdir -p "$W/sentinel-dir" && echo keep >"$W/sentinel-dir/sentinel"
CANARY=ferry-canary-hostile-$$ # hostile streams aim at this name in /tmp, /, /etc and $W
at_exit "rm -f '/tmp/$CANARY' '/$CANARY' '/etc/$CANARY'"

# Writes CASE.fts and CASE.want (a text the error must contain) into $T/base and $T/inc.
/usr/bin/python3 - "$TOP/test/lib" "$T" "$CANARY" "$W/sentinel-dir" <<'PY' || echo "FAIL setup: the stream writer"
import os, sys
sys.path.insert(0, sys.argv[1])
from ferrystream import *
top, canary, sdir = sys.argv[2], sys.argv[3], sys.argv[4]
for d in ("base", "inc", "valid"):
    os.makedirs(os.path.join(top, d))

def save(kind, name, s, want):
    with open(os.path.join(top, kind, name + ".fts"), "wb") as f:
        f.write(s if isinstance(s, bytes) else s.bytes())
    with open(os.path.join(top, kind, name + ".want"), "w") as f:
        f.write(want)

def base(flags=COMPRESSED):
    return Stream().header(BASE, "s1", flags=flags).entry("", DIR | 0o755)

def inc():
    return Stream().header(INCREMENTAL, "s2", "s1").enter("")

def done(s, leaves=1):
    for _ in range(leaves):
        s.leave()
    return s.end()

# ---- the valid base: every kind of entry, in tree order (names sorted bytewise) ----
block = b"ferry moves trees " * 7282  # 131076 bytes: one full LZ4 block and 4 bytes more
s = Stream().header(BASE, "s1", flags=COMPRESSED, size_hint=300000)
s.entry("", DIR | 0o751, mtime=(1000000000, 5))
s.record(SKIPPABLE | 0x42, b"a record from the future")  # skipped after its check
s.entry("-dash", REG | 0o600, size=0)
s.entry("big", REG | 0o644, uid=1234, gid=5678, mtime=(1234567890, 123456789), size=300000,
        xattrs=[("user.colour", "blue"), ("trusted.t", b"\x00\xff")])
s.data(0, block[:131072], LZ4)
s.data(131072, block[131072:], STORED)
s.data(299996, b"tail", STORED)  # a hole between, none after
s.entry("blk", BLK | 0o660, gid=6, rdev=(7, 200))
s.entry("chr", CHR | 0o620, rdev=(1, 3))
s.entry("dir", DIR | 0o2750, uid=42, mtime=(1500000000, 999999999))
s.entry("inner", REG | 0o4755, mtime=(1600000000, 1), size=6)
s.data(0, b"inner\n")
s.leave()
s.entry("fifo", FIFO | 0o1640)
s.link("hard", "big")
s.entry("nl\nname", REG | 0o644, size=3).data(0, b"nl\n")
s.entry("out", LNK | 0o777, target=sdir)
s.entry("sym", LNK | 0o777, uid=7, gid=8, mtime=(1700000000, 7), target="big")
s.entry("up", LNK | 0o777, target="/")
s.entry(b"\xe9t\xe9", REG | 0o644, size=1).data(0, b"e")
save("valid", "base", done(s), "")
open(os.path.join(top, "valid", "big.content"), "wb").write(block + bytes(299996 - len(block)) + b"tail")

# ---- the valid incremental: deletes the symlinks out of the tree, changes a file ----
s = inc()
s.entry("dir", DIR | 0o2750, uid=42, mtime=(1500000000, 999999999))
s.entry("inner", REG | 0o644, mtime=(1600000000, 2), size=4).data(0, b"new\n")
s.leave()
s.delete("out").delete("up")
save("valid", "inc", done(s), "")

# ---- hostile base streams ----
cases = {
    "dotdot": (base().entry("..", DIR | 0o755).entry("..", DIR | 0o755)
               .entry(canary, REG | 0o644, size=1).data(0, b"x"), 3, 'invalid name ".."'),
    "dotdot-x": (base().entry("../" + canary, REG | 0o644), 1, "invalid name"),
    "dot": (base().entry(".", DIR | 0o755).leave(), 1, 'invalid name "."'),
    "absolute-etc": (base().entry("/etc/" + canary, REG | 0o644), 1, "invalid name"),
    "absolute-tmp": (base().entry("/tmp/" + canary, REG | 0o644), 1, "invalid name"),
    "slash": (base().entry("a/" + canary, REG | 0o644), 1, "invalid name"),
    "nul": (base().entry(b"a\0b", REG | 0o644), 1, "invalid name"),
    "empty-name": (base().entry("", REG | 0o644), 1, "invalid name"),
    "symlink-to-root-then-dir": (base().entry("a", LNK | 0o777, target="/")
                                 .entry("a", DIR | 0o755).entry("tmp", DIR | 0o755)
                                 .entry(canary, REG | 0o644), 3, "out of order"),
    "symlink-to-root-then-link": (base().entry("a", LNK | 0o777, target="/")
                                  .link("b", "a" + sdir + "/sentinel"), 1,
                                  "not a directory of the target"),
    "symlink-out-then-link": (base().entry("a", LNK | 0o777, target=sdir)
                              .link("b", "a/sentinel"), 1, "not a directory of the target"),
    "link-up": (base().link("b", "../sentinel-dir/sentinel"), 1, "invalid target path"),
    "link-absolute": (base().link("zz", sdir[1:] + "/sentinel"), 1, "not a directory of the target"),
    "link-to-directory": (base().entry("d", DIR | 0o755).leave().link("e", "d"), 1,
                          "is not an earlier file"),
    "link-forward": (base().link("a", "b").entry("b", REG | 0o644), 1, "does not come before it"),
    "file-size": (base().entry("f", REG | 0o644, size=(1 << 50) + 1), 1, "exceeds the limit"),
    "xattr-value": (base().entry("f", REG | 0o644, xattrs=[("user.v", b"v" * 65537)]), 1,
                    "exceeds the limit"),
    "xattr-count": (base().entry("f", REG | 0o644, xattr_count=1025), 1, "exceed the limit"),
    "xattr-namespace": (base().entry("f", REG | 0o644, xattrs=[("system.evil", "x")]), 1,
                        "name not accepted"),
    "symlink-target": (base().entry("l", LNK | 0o777, target="t" * 4096), 1,
                       "bad symlink target length"),
    "name-length": (base().entry("f", REG | 0o644, name_len=200), 1, "truncated"),
    "data-past-size": (base().entry("f", REG | 0o644, size=2).data(1, b"abc"), 1,
                       "outside the file"),
    "data-overlap": (base().entry("f", REG | 0o644, size=10).data(0, b"abcde").data(4, b"xy"), 1,
                     "out of order"),
    "data-after-dir": (base().entry("d", DIR | 0o755).data(0, b"x").leave(), 1,
                       "DATA not after a file entry"),
    "lz4-inflates": (base().entry("f", REG | 0o644, size=200).data(0, b"z" * 4096, LZ4, raw_len=100),
                     1, "does not decompress to 100 bytes"),
    "lz4-uncompressed-stream": (base(flags=0).entry("f", REG | 0o644, size=5).data(0, b"x" * 5, LZ4),
                                1, "compressed block in an uncompressed stream"),
    "block-length": (base().entry("f", REG | 0o644, size=1 << 20).data(0, b"b" * 5, raw_len=(128 << 10) + 1),
                     1, "out of range"),
    "base-delete": (base().delete("x"), 1, "DELETE in a base stream"),
    "base-enter": (base().enter("d").leave(), 1, "ENTER in a base stream"),
    "unknown-type": (base().record(0x0042, b"?"), 1, "not skippable"),
    "depth": (base().entry("d", DIR | 0o755), 0, None),  # filled below
    "checksum": (base().entry("f", REG | 0o644, check=12345), 1, "checksum mismatch"),
    "checksum-position": (base().entry("f", REG | 0o644, seed=5), 1, "checksum mismatch"),
}
for name, (s, leaves, want) in cases.items():
    if name == "depth":
        s = base()
        for _ in range(256):
            s.entry("d", DIR | 0o755)
        leaves, want = 257, "nested deeper than 256"
    save("base", name, done(s, leaves), want)

ok = base().entry("f", REG | 0o644, size=5).data(0, b"hello").leave()
save("base", "end-records", Stream().header(BASE, "s1").entry("", DIR | 0o755).leave()
     .end(records=9), "END totals do not match")
save("base", "end-entries", Stream().header(BASE, "s1").entry("", DIR | 0o755).leave()
     .end(entries=9), "END totals do not match")
save("base", "end-bytes", Stream().header(BASE, "s1").entry("", DIR | 0o755).leave()
     .end(data_bytes=1), "END totals do not match")
save("base", "end-digest", Stream().header(BASE, "s1").entry("", DIR | 0o755).leave()
     .end(digest=1), "stream digest mismatch")
save("base", "after-end", done(base()).raw(b"\0"), "after the END record")
save("base", "no-end", base().leave().bytes(), "truncated")
save("base", "record-length", Stream().header(BASE, "s1").record(ENTRY, b"", length=0x7fffffff),
     "exceeds the limit")
save("base", "version", Stream(version=2).header(BASE, "s1"), "unsupported stream version 2")
save("base", "magic", Stream(magic=b"\x89FTREX\r\n").header(BASE, "s1"), "bad magic")
save("base", "backend", done(Stream().header(BASE, "s1", backend=1).entry("", DIR | 0o755)),
     "storage backend 1")
save("base", "header-flags", done(Stream().header(BASE, "s1", flags=0x8000).entry("", DIR | 0o755)),
     "unknown flags")
save("base", "not-header-first", done(Stream().entry("", DIR | 0o755)), "not a HEADER")

# ---- hostile incrementals, against the valid base ----
keep = dict(flags=KEEP_DATA)
icases = {
    "enter-symlink-to-root": (inc().enter("up").enter("tmp").entry(canary, REG | 0o644, size=1)
                              .data(0, b"x"), 3, "/up: the stream enters a directory the target does not have"),
    "enter-symlink-out": (inc().enter("out").entry(canary, REG | 0o644), 2,
                          "/out: the stream enters a directory the target does not have"),
    "enter-file": (inc().enter("big").entry(canary, REG | 0o644), 2, "does not have"),
    "link-through-symlink": (inc().link("x", "out/sentinel"), 1, "lies beyond a non-directory"),
    "link-through-root": (inc().link("x", "up" + sdir + "/sentinel"), 1,
                          "lies beyond a non-directory"),
    "keep-data-of-symlink": (inc().entry("out", REG | 0o666, **keep), 1,
                             "the target has no such file"),
    "delete-dotdot": (inc().delete(".."), 1, "invalid name"),
    "delete-path": (inc().delete("out/sentinel"), 1, "invalid name"),
    "delete-in-new-dir": (inc().entry("new", DIR | 0o755).delete("x").leave(), 1,
                          "DELETE inside a new directory"),
    "checksum": (inc().delete("up", check=1), 1, "checksum mismatch"),
}
for name, (s, leaves, want) in icases.items():
    save("inc", name, done(s, leaves), want)
PY

# The state of everything around the target: what its parent holds (the receiver may only create and
# remove its hidden staging there, so the parent's own times may change), the sentinel, canaries.
around() {
	(cd "$W" && find . -mindepth 1 -printf '%y %i %C@ %T@ %n %s %P\n' | LC_ALL=C sort)
	sha256sum "$W/sentinel-dir/sentinel"
	ls -d "/tmp/$CANARY" "/$CANARY" "/etc/$CANARY" "$T/$CANARY" 2>/dev/null
}

# hostile KIND CASE: the stream is refused (status 1) with its .want text and a byte offset, and
# nothing around the target (or, for an incremental, in it) changed: around is still $before.
hostile() {
	local f=$T/$1/$2.fts want err rc
	want=$(cat "$T/$1/$2.want")
	err=$("$FERRY" tree recv --state "$T/state" "$W/dst" <"$f" 2>&1 >/dev/null)
	rc=$?
	if [ $rc != 1 ] || [[ "$err" != *"$want"* ]] || ! [[ "$err" =~ \ at\ byte\ [0-9]+ ]]; then
		echo "$2: status $rc, wanted \"$want\" and where, got: $err"
		return 1
	fi
	[ "$(around)" = "$before" ] || { echo "$2: something changed around the target"; return 1; }
}

n=0
before=$(around)
for f in "$T"/base/*.fts; do
	c=$(basename "$f" .fts)
	n=$((n + 1))
	check "base $c: refused, says where, nothing written" 'hostile base "$c" && [ ! -e "$W/dst" ]'
done
check "every hostile base case ran" '[ $n -ge 40 ]'

# the valid twins, checked with stat, sha256sum, getfattr, filefrag: the format doc is complete
check "a valid base from the independent writer is received" '"$FERRY" tree recv --state "$T/state" "$W/dst" <"$T/valid/base.fts"'
testing "every entry as the stream said (stat)" '(cd "$W/dst" && TZ=UTC stat -c "%F %a %u:%g %s %.9Y %h %t,%T %N" -- . -dash big blk chr dir dir/inner fifo hard "$(printf "nl\nname")" out sym up "$(printf "\351t\351")")' \
"directory 751 0:0 4096 1000000000.000000005 3 0,0 '.'
regular empty file 600 0:0 0 1000000000.000000000 1 0,0 '-dash'
regular file 644 1234:5678 300000 1234567890.123456789 2 0,0 'big'
block special file 660 0:6 0 1000000000.000000000 1 7,c8 'blk'
character special file 620 0:0 0 1000000000.000000000 1 1,3 'chr'
directory 2750 42:0 4096 1500000000.999999999 2 0,0 'dir'
regular file 4755 0:0 6 1600000000.000000001 1 0,0 'dir/inner'
fifo 1640 0:0 0 1000000000.000000000 1 0,0 'fifo'
regular file 644 1234:5678 300000 1234567890.123456789 2 0,0 'hard'
regular file 644 0:0 3 1000000000.000000000 1 0,0 'nl'\$'\\n''name'
symbolic link 777 0:0 $((${#W} + 13)) 1000000000.000000000 1 0,0 'out' -> '$W/sentinel-dir'
symbolic link 777 7:8 3 1700000000.000000007 1 0,0 'sym' -> 'big'
symbolic link 777 0:0 1 1000000000.000000000 1 0,0 'up' -> '/'
regular file 644 0:0 1 1000000000.000000000 1 0,0 ''\$'\\351''t'\$'\\351'"
testing "file contents (sha256sum)" '(cd "$W/dst" && sha256sum big dir/inner) | cut -c1-64' "$(sha256sum <"$T/valid/big.content" | cut -c1-64)
$(printf 'inner\n' | sha256sum | cut -c1-64)"
testing "the hole between the data stayed a hole (filefrag: 4 KiB blocks)" 'filefrag -e "$W/dst/big" | awk "/^ *[0-9]+:/ { print \$2, \$3 }"' "0.. 32:
73.. 73:"
testing "extended attributes (getfattr)" 'getfattr -d -m - -e hex "$W/dst/big" | grep = | LC_ALL=C sort' 'trusted.t=0x00ff
user.colour=0x626c7565'
testing "hard link (same inode)" 'stat -c %i "$W/dst/big" "$W/dst/hard" | uniq | wc -l' "1"

# hostile incrementals against it: refused, and the target itself untouched
before=$(around)
for f in "$T"/inc/*.fts; do
	c=$(basename "$f" .fts)
	check "incremental $c: refused, says where, nothing written" 'hostile inc "$c"'
done
testing "the target still holds s1" '"$FERRY" tree held --state "$T/state" "$W/dst"' "s1"
check "a valid incremental deletes the symlinks, not what they point to" '"$FERRY" tree recv --state "$T/state" "$W/dst" <"$T/valid/inc.fts" &&
	[ ! -L "$W/dst/up" ] && [ ! -L "$W/dst/out" ] && [ "$(cat "$W/sentinel-dir/sentinel")" = keep ] && [ -d /tmp ]'
testing "and changes what it says" 'stat -c "%a %s %.9Y" "$W/dst/dir/inner"; cat "$W/dst/dir/inner"' "644 4 1600000000.000000002
new"

# negative twin of the watch around the target: a file next to the target, or a canary, is seen
before=$(around)
check "the watch sees a file written next to the target" 'touch "$W/sentinel-dir/new" && [ "$(around)" != "$before" ]'
rm -f "$W/sentinel-dir/new"
before=$(around)
check "the watch sees a canary in /tmp" 'touch "/tmp/$CANARY" && [ "$(around)" != "$before" ]'
rm -f "/tmp/$CANARY"
