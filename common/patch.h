/* patch: the random square windows that patch training draws from
 * samples of any size, and the zero padding of a sample smaller than a
 * window, every draw from a struct rng so that a seed reproduces it. */
#ifndef UNETPIPE_PATCH_H
#define UNETPIPE_PATCH_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* The generator of one draw of a sample in training: a function of seed,
 * epoch, the sample's index in its stream and the draw's number in the
 * epoch only (the 0th draw's is augment_rng(seed, epoch, index), what
 * whole-image training has always used), so that it depends neither on
 * the batch nor on the thread count. */
void patch_rng(struct rng *r, uint64_t seed, uint64_t epoch, uint64_t index,
	       uint64_t draw);

/* The top-left corner of a size x size window of a width x height image,
 * uniform over the positions that keep the window inside the image (0 on
 * a side shorter than size, which is then padded). */
void patch_draw(struct rng *r, int width, int height, int size, int *x0,
		int *y0);

/* Pad in place a w x h plane of pixels of `bytes` bytes each, stored
 * compactly at buf, to size x size (size >= w, h): rows moved to the new
 * stride, zeros on the right and bottom. */
void patch_pad(void *buf, size_t bytes, int w, int h, int size);

/* A draw of an epoch's list: training sample `sample` (its index in its
 * stream), the copy-th of the `copies` draws it has in the list. */
struct patch_slot {
	int sample, copy, copies;
};

/* The draws of a sample of width x height when samples are drawn by area:
 * the size x size patches its area holds, rounded, at least one. */
long patch_area_draws(int width, int height, int size);

/* The list of n samples idx[k] with copies[k] draws each (xmalloc'ed);
 * its length in *count. Dies when it would hold more than INT_MAX. */
struct patch_slot *patch_slots(const int *idx, const long *copies, int n,
			       int *count);

/* count draws from successive shuffles of the nslots slots by r, each
 * shuffle's first nslots (the last one's first count - done): sample[i]
 * the slot's sample, draw[i] its number, shuffle * copies + copy, so that
 * no two draws of a sample in one call share one. */
void patch_epoch(struct rng *r, const struct patch_slot *slots, int nslots,
		 long count, int *sample, int *draw);

/* The default patch size: want (a multiple of multiple) reduced to the
 * largest multiple of multiple not above the median of the n sides
 * (the upper one of an even count; sides is sorted in place), at least
 * multiple. */
int patch_default(int want, int multiple, int *sides, int n);

#endif
