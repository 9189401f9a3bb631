/* The one file that wraps liblz4: block compression with ferry's return convention. */
#include "core/lz4.h"

#include <lz4.h>

#include "core/err.h"

size_t lz4_bound(size_t n)
{
	return (size_t)LZ4_compressBound((int)n);
}

long lz4_compress(const void *src, size_t n, void *dst, size_t cap)
{
	if (n > LZ4_BLOCK_MAX || n > (size_t)LZ4_MAX_INPUT_SIZE)
		return err_set("lz4: block of %zu bytes is too large", n);
	int c = cap > (size_t)0x7fffffff ? 0x7fffffff : (int)cap;
	int r = LZ4_compress_default(src, dst, (int)n, c);
	return r > 0 ? r : 0;
}

long lz4_decompress(const void *src, size_t n, void *dst, size_t cap)
{
	if (n > 0x7fffffff || cap > 0x7fffffff)
		return err_set("lz4: block too large");
	int r = LZ4_decompress_safe(src, dst, (int)n, (int)cap);
	if (r < 0)
		return err_set("lz4: corrupt compressed block");
	return r;
}
