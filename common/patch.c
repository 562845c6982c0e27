#include "patch.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "util.h"

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

long
patch_area_draws(int width, int height, int size)
{
	double c = round((double)width * height / ((double)size * size));

	return c < 1 ? 1 : (long)c;
}

struct patch_slot *
patch_slots(const int *idx, const long *copies, int n, int *count)
{
	struct patch_slot *slots;
	long total = 0;
	int m = 0;

	for (int k = 0; k < n; k++) {
		total += copies[k];
		if (total > INT_MAX)
			die("more than %d draws in a pass (a larger --patch "
			    "draws fewer)", INT_MAX);
	}
	slots = xmalloc_for((size_t)total, sizeof *slots, "the draws of a pass");
	for (int k = 0; k < n; k++)
		for (long j = 0; j < copies[k]; j++)
			slots[m++] = (struct patch_slot){ idx[k], (int)j,
							  (int)copies[k] };
	*count = m;
	return slots;
}

void
patch_epoch(struct rng *r, const struct patch_slot *slots, int nslots,
	    long count, int *sample, int *draw)
{
	int *perm = xmalloc_for((size_t)nslots, sizeof *perm, "a shuffle");

	for (long pos = 0; pos < count; pos += nslots) {
		long n = count - pos < nslots ? count - pos : nslots;
		int shuffle = (int)(pos / nslots);

		for (int p = 0; p < nslots; p++)
			perm[p] = p;
		rng_shuffle(r, perm, nslots);
		for (long k = 0; k < n; k++) {
			const struct patch_slot *s = &slots[perm[k]];

			sample[pos + k] = s->sample;
			draw[pos + k] = shuffle * s->copies + s->copy;
		}
	}
	free(perm);
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
