"""An independent writer of ferry tree streams, written from docs/stream-format.md alone.

Tests use it to build valid and hostile streams without ferry's own encoder, which also
checks that the document says everything a writer needs. Checksums come from the reference
XXH64 (python3-xxhash), LZ4 blocks from python3-lz4 (lz4.block, without the size prefix).
Run it with /usr/bin/python3 (Debian's interpreter, which has those modules).

    s = Stream()                          # preamble: magic and version 1
    s.header(BASE, "s1")                  # HEADER
    s.entry(b"", DIR | 0o755)             # the root
    s.entry(b"f", REG | 0o644, size=5)    # a file ...
    s.data(0, b"hello")                   # ... and its data
    s.leave()                             # LEAVE the root
    s.end()                               # END with the right totals and digest
    open(path, "wb").write(s.bytes())

Every method takes overrides to lie (a length, a checksum, END's totals) and s.raw() appends
arbitrary bytes. s.offsets[i] is the byte offset of record i.
"""
import stat
import struct

import lz4.block
import xxhash

MAGIC = b"\x89FTREE\r\n"
VERSION = 1

# record types
HEADER, ENTRY, ENTER, LEAVE, DATA, LINK, DELETE, END = range(1, 9)
SKIPPABLE = 0x8000
# HEADER kind and flags, ENTRY flags, DATA encodings
BASE, INCREMENTAL = 1, 2
COMPRESSED = 0x0001
KEEP_DATA = 0x0001
STORED, LZ4 = 0, 1
# file types for ENTRY's mode
REG, DIR, LNK, CHR, BLK, FIFO = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO

MTIME = (1000000000, 0)


def _b(x):
    """Names may be given as str (encoded with surrogateescape) or bytes."""
    return x.encode("utf-8", "surrogateescape") if isinstance(x, str) else bytes(x)


def xxh64(data, seed=0):
    return xxhash.xxh64_intdigest(bytes(data), seed=seed)


class Stream:
    def __init__(self, version=VERSION, magic=MAGIC):
        self.out = bytearray(magic + struct.pack(">I", version))
        self.records = 0  # records written (the next record's number, its checksum seed)
        self.checks = bytearray()  # the 8-byte checks of the records so far (for the digest)
        self.entries = 0  # ENTRY and LINK records
        self.data_bytes = 0  # raw lengths of DATA records
        self.offsets = []

    # ---- framing ----
    def record(self, rtype, payload=b"", length=None, check=None, seed=None):
        """u16 type | u32 length | payload | u64 XXH64(header + payload, seed = record number)."""
        payload = bytes(payload)
        head = struct.pack(">HI", rtype, len(payload) if length is None else length)
        if check is None:
            check = xxh64(head + payload, self.records if seed is None else seed)
        tail = struct.pack(">Q", check)
        self.offsets.append(len(self.out))
        self.out += head + payload + tail
        self.checks += tail
        self.records += 1
        return self

    def raw(self, data):
        self.out += bytes(data)
        return self

    def digest(self):
        """XXH64 (seed 0) over the concatenated checks of all records so far."""
        return xxh64(self.checks, 0)

    def bytes(self):
        return bytes(self.out)

    # ---- records ----
    def header(self, kind=BASE, snapshot="s1", base="", flags=COMPRESSED, backend=0, created=0,
               size_hint=0, **kw):
        sn, bn = _b(snapshot), _b(base)
        p = struct.pack(">BBH", kind, backend, flags)
        p += struct.pack(">B", len(sn)) + sn + struct.pack(">B", len(bn)) + bn
        p += struct.pack(">QQ", created, size_hint)
        return self.record(HEADER, p, **kw)

    def entry(self, name, mode, uid=0, gid=0, mtime=MTIME, size=0, target=b"", rdev=(0, 0),
              xattrs=(), flags=0, name_len=None, target_len=None, xattr_count=None, **kw):
        """xattrs: (name, value) pairs; *_len and xattr_count override the encoded counts."""
        n = _b(name)
        p = struct.pack(">HB", flags, len(n) if name_len is None else name_len) + n
        p += struct.pack(">IIIqI", mode, uid, gid, mtime[0], mtime[1])
        ft = stat.S_IFMT(mode)
        if ft == REG:
            p += struct.pack(">Q", size)
        elif ft == LNK:
            t = _b(target)
            p += struct.pack(">H", len(t) if target_len is None else target_len) + t
        elif ft in (CHR, BLK):
            p += struct.pack(">II", rdev[0], rdev[1])
        p += struct.pack(">H", len(xattrs) if xattr_count is None else xattr_count)
        for xn, xv in xattrs:
            xn, xv = _b(xn), _b(xv)
            p += struct.pack(">B", len(xn)) + xn + struct.pack(">I", len(xv)) + xv
        self.entries += 1
        return self.record(ENTRY, p, **kw)

    def enter(self, name, mtime=MTIME, **kw):
        n = _b(name)
        return self.record(ENTER, struct.pack(">B", len(n)) + n + struct.pack(">qI", *mtime), **kw)

    def leave(self, **kw):
        return self.record(LEAVE, b"", **kw)

    def data(self, offset, raw, encoding=STORED, raw_len=None, **kw):
        """A DATA block of RAW at OFFSET; LZ4 compresses it as an LZ4 block (no size prefix)."""
        raw = bytes(raw)
        body = lz4.block.compress(raw, store_size=False) if encoding == LZ4 else raw
        rl = len(raw) if raw_len is None else raw_len
        self.data_bytes += rl
        return self.record(DATA, struct.pack(">QIB", offset, rl, encoding) + body, **kw)

    def link(self, name, path, **kw):
        n, t = _b(name), _b(path)
        self.entries += 1
        return self.record(LINK, struct.pack(">B", len(n)) + n + struct.pack(">H", len(t)) + t, **kw)

    def delete(self, name, **kw):
        n = _b(name)
        return self.record(DELETE, struct.pack(">B", len(n)) + n, **kw)

    def end(self, records=None, entries=None, data_bytes=None, digest=None, **kw):
        """END: records before it, ENTRY+LINK count, file data bytes, the stream digest."""
        p = struct.pack(">QQQQ", self.records if records is None else records,
                        self.entries if entries is None else entries,
                        self.data_bytes if data_bytes is None else data_bytes,
                        self.digest() if digest is None else digest)
        return self.record(END, p, **kw)


# ---- reading (framing only: offsets and types, for tests that cut streams at boundaries) ----
NAMES = {HEADER: "HEADER", ENTRY: "ENTRY", ENTER: "ENTER", LEAVE: "LEAVE", DATA: "DATA",
         LINK: "LINK", DELETE: "DELETE", END: "END"}


def records(data):
    """Yields (offset, type, total bytes) of each framed record after the 12-byte preamble."""
    off = len(MAGIC) + 4
    while off + 6 <= len(data):
        rtype, length = struct.unpack_from(">HI", data, off)
        yield off, rtype, 6 + length + 8
        off += 6 + length + 8


def first_of_each(data):
    """{type name: (offset, total bytes)} of the first record of each type (END: the last)."""
    seen = {}
    for off, rtype, size in records(data):
        name = NAMES.get(rtype, "0x%04x" % rtype)
        if name not in seen or name == "END":
            seen[name] = (off, size)
    return seen


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "cuts":
        # offsets to cut a saved stream at: inside and right after the first record of each type
        # (for END: before it and inside it), sorted, one per line
        with open(sys.argv[2], "rb") as f:
            data = f.read()
        cuts = set()
        for name, (off, size) in first_of_each(data).items():
            cuts.update((off + size // 2, off if name == "END" else off + size))
        for c in sorted(cuts):
            print(c)
    else:
        sys.exit("usage: ferrystream.py cuts STREAM   (otherwise a module: import ferrystream)")
