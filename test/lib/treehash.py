"""File contents for tree_listing (test/lib/tree.sh), independent of ferry: reads NUL-separated
file names on stdin and prints one line per file, names with newlines shown as '\\n':

    SHA256  NAME                                  a regular file: sha256 of its bytes
    sparse SIZE START-END,... SHA256  NAME        a sparse file (over 1 MiB, less than half of it
                                                  allocated): its data ranges as SEEK_DATA and
                                                  SEEK_HOLE report them, and the sha256 of the
                                                  bytes in those ranges only

A hole reads as zeros, so size, ranges and data together fix the content; reading only the data
keeps a >4 GiB sparse file as cheap as its few MiB of data, and the ranges check that holes stayed
holes. Run with /usr/bin/python3.
"""
import errno
import hashlib
import os
import sys

CHUNK = 1 << 20


def digest(fd, h, start, end):
    os.lseek(fd, start, os.SEEK_SET)
    left = end - start
    while left > 0:
        b = os.read(fd, min(CHUNK, left))
        if not b:
            break
        h.update(b)
        left -= len(b)


def data_ranges(fd, size):
    ranges, off = [], 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:  # only a hole up to the end
                break
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        ranges.append((start, end))
        off = end
    return ranges


def main():
    out = sys.stdout.buffer
    for name in sys.stdin.buffer.read().split(b"\0"):
        if not name:
            continue
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            st = os.fstat(fd)
            h = hashlib.sha256()
            shown = name.replace(b"\n", b"\\n")
            if st.st_size > CHUNK and st.st_blocks * 512 < st.st_size // 2:
                ranges = data_ranges(fd, st.st_size)
                for start, end in ranges:
                    digest(fd, h, start, end)
                r = ",".join("%d-%d" % x for x in ranges)
                out.write(b"sparse %d %s %s  %s\n" % (st.st_size, r.encode(), h.hexdigest().encode(), shown))
            else:
                digest(fd, h, 0, st.st_size)
                out.write(b"%s  %s\n" % (h.hexdigest().encode(), shown))
        finally:
            os.close(fd)


main()
