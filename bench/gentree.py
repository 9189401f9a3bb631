#!/usr/bin/python3
# The benchmarks' reproducible tree (bench/tree.sh describes its shape): ROOT (made here) with N
# files, and with --sparse one 8 GiB sparse file with 1 MiB of data at 3 GiB.
# usage: bench/gentree.py ROOT N [--sparse]
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
sparse = sys.argv[3:] == ["--sparse"]
rnd = random.Random(42)
os.makedirs(root)
text = b"ferry moves containers between nodes; " * 2000
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 500), "e%02d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "f%06d" % i)
    r = rnd.random()
    size = rnd.randint(1, 200) if r < 0.5 else rnd.randint(200, 16 << 10) if r < 0.95 else \
           rnd.randint(16 << 10, 256 << 10) if r < 0.9967 else \
           rnd.randint(1 << 20, 4 << 20) if r < 0.9997 else rnd.randint(8 << 20, 24 << 20)
    with open(p, "wb") as f:
        left = size
        while left:
            k = min(left, 1 << 20)
            f.write(rnd.randbytes(k) if i % 3 == 0 else (text * (k // len(text) + 1))[:k])
            left -= k
    if i % 50 == 1:
        os.link(p, p + ".link")
    if i % 100 == 2:
        os.symlink("f%06d" % i, p + ".sym")
if sparse:
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.truncate(8 << 30)
        f.seek(3 << 30)
        f.write(rnd.randbytes(1 << 20))
