#include "patch.h"

#include <stdlib.h>
#include <string.h>

#include "augment.h"

void
patch_rng(struct rng *r, uint64_t seed, uint64_t epoch, uint64_t index,
	  uint64_t draw)
{
	augment_rng(r, seed, draw ? epoch ^ (draw << 32) : epoch, index);
}

void
patch_draw(struct rng *r, int width, int height, int size, int *x0, int *y0)
{
	*x0 = width > size ? (int)rng_below(r, width - size + 1) : 0;
	*y0 = height > size ? (int)rng_below(r, height - size + 1) : 0;
}

void
patch_pad(void *buf, size_t bytes, int w, int h, int size)
{
	unsigned char *b = buf;
	size_t row = (size_t)w * bytes, stride = (size_t)size * bytes;

	/* From the last row up: a row never lands on one not yet moved. */
	for (int y = h - 1; y >= 0; y--) {
		memmove(b + y * stride, b + y * row, row);
		memset(b + y * stride + row, 0, stride - row);
	}
	memset(b + h * stride, 0, (size_t)(size - h) * stride);
}

static int
by_value(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int
patch_default(int want, int multiple, int *sides, int n)
{
	int median, size;

	qsort(sides, n, sizeof *sides, by_value);
	median = sides[n / 2];
	size = want < median ? want : median / multiple * multiple;
	return size < multiple ? multiple : size;
}
