/* LZ4 block compression: the one wrapper around liblz4, with ferry's error convention. */
#ifndef FERRY_LZ4_H
#define FERRY_LZ4_H

#include <stddef.h>

/* Largest block lz4_compress accepts. */
#define LZ4_BLOCK_MAX (1u << 30)

/* Worst-case compressed size of N input bytes (N <= LZ4_BLOCK_MAX). */
size_t lz4_bound(size_t n);
/*
 * Compresses SRC[0..N) into DST (CAP bytes). Returns the compressed size
 * (> 0), 0 when the result would not fit in CAP (the caller then sends the
 * block stored), or -1 on a bad argument.
 */
long lz4_compress(const void *src, size_t n, void *dst, size_t cap);
/*
 * Decompresses SRC[0..N) into DST (CAP bytes), never writing past CAP.
 * Returns the decompressed size, or -1 with err_set if the input is corrupt
 * or would decompress to more than CAP bytes.
 */
long lz4_decompress(const void *src, size_t n, void *dst, size_t cap);

#endif
