/* test_augment: the op list, exact pixel permutations, image and mask kept
 * aligned and binary, colour on image channels only, reproducibility. */
#include <math.h>
#include <string.h>

#include "augment.h"
#include "image.h"
#include "rng.h"
#include "tap.h"
#include "util.h"

enum { W = 16, H = 16, C = 3, N = W * H };

/* A sample whose mask is its first channel thresholded at 0.5: a blob. */
static void
make(float *img, float *mask, int w, int h)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			size_t p = (size_t)y * w + x;
			int fg = (x - 5) * (x - 5) + (y - 7) * (y - 7) < 20 ||
				 (x > 10 && y < 4);
			img[p * C] = fg ? 1.0f : 0.0f;
			img[p * C + 1] = (float)x / w;
			img[p * C + 2] = (float)y / h;
			mask[p] = (float)fg;
		}
}

static int
binary(const float *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i] != 0 && m[i] != 1)
			return 0;
	return 1;
}

/* Fraction of pixels whose mask equals the first channel thresholded. */
static double
agreement(const float *img, const float *mask, size_t n)
{
	size_t same = 0;

	for (size_t p = 0; p < n; p++)
		same += (img[p * C] >= 0.5f) == (mask[p] != 0);
	return (double)same / n;
}

static void
test_parse(void)
{
	unsigned ops;
	char err[128], buf[64];

	tap_ok(augment_parse("all", &ops, err, sizeof err) == 0 &&
		       ops == AUGMENT_ALL, "all");
	tap_ok(augment_parse("none", &ops, err, sizeof err) == 0 && ops == 0,
	       "none");
	tap_ok(augment_parse("flip,elastic", &ops, err, sizeof err) == 0 &&
		       ops == (AUGMENT_FLIP | AUGMENT_ELASTIC), "flip,elastic");
	augment_format(ops, buf, sizeof buf);
	tap_ok(strcmp(buf, "elastic,flip") == 0, "canonical order (%s)", buf);
	augment_format(AUGMENT_ALL, buf, sizeof buf);
	tap_ok(strcmp(buf, "crop,elastic,rot90,flip,color") == 0, "all (%s)",
	       buf);
	augment_format(0, buf, sizeof buf);
	tap_ok(strcmp(buf, "none") == 0, "none formatted");
	tap_ok(augment_parse("flip,,crop", &ops, err, sizeof err) < 0,
	       "empty element refused (%s)", err);
	tap_ok(augment_parse("", &ops, err, sizeof err) < 0, "empty list");
	tap_ok(augment_parse("flip,zoom", &ops, err, sizeof err) < 0 &&
		       strstr(err, "'zoom'"), "unknown name (%s)", err);
}

/* Flips and rotations only permute pixels: the multiset of (image, mask)
 * tuples is unchanged, and four rotations compose to the identity. */
static void
test_permutations(void)
{
	float img[N * C], mask[N], img0[N * C], mask0[N];
	struct rng r;
	int all_ok = 1;

	make(img0, mask0, W, H);
	for (int seed = 0; seed < 20; seed++) {
		double s0 = 0, s1 = 0, m0 = 0, m1 = 0;
		memcpy(img, img0, sizeof img);
		memcpy(mask, mask0, sizeof mask);
		augment_rng(&r, seed, 0, 0);
		augment_apply(AUGMENT_FLIP | AUGMENT_ROT90, &r, img, mask, W,
			      H, C);
		for (int p = 0; p < N; p++) {
			/* weights tell positions apart: a permutation keeps
			 * the sum of each channel and of image x mask */
			s0 += img0[p * C + 1] * 3 + img0[p * C + 2];
			s1 += img[p * C + 1] * 3 + img[p * C + 2];
			m0 += mask0[p] * (1 + img0[p * C + 1]);
			m1 += mask[p] * (1 + img[p * C + 1]);
		}
		if (fabs(s0 - s1) > 1e-3 || fabs(m0 - m1) > 1e-3 ||
		    agreement(img, mask, N) != 1 || !binary(mask, N))
			all_ok = 0;
	}
	tap_ok(all_ok, "flip+rot90: pixel permutations, mask aligned");

	/* Find a draw that is a pure horizontal flip and check it exactly. */
	{
		int found = 0;
		for (int seed = 0; seed < 200 && !found; seed++) {
			struct rng probe;
			augment_rng(&probe, seed, 1, 2);
			if (!rng_below(&probe, 2) || rng_below(&probe, 2))
				continue;
			found = 1;
			memcpy(img, img0, sizeof img);
			memcpy(mask, mask0, sizeof mask);
			augment_rng(&r, seed, 1, 2);
			augment_apply(AUGMENT_FLIP, &r, img, mask, W, H, C);
			int exact = 1;
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++)
					for (int k = 0; k < C; k++)
						exact &= img[(y * W + x) * C + k] ==
							 img0[(y * W + W - 1 - x) * C + k] &&
							 mask[y * W + x] == mask0[y * W + W - 1 - x];
			tap_ok(exact, "seed %d: an exact horizontal flip", seed);
		}
		if (!found)
			tap_ok(0, "no pure horizontal flip drawn");
	}
}

/* rot90 with k = 1 is numpy's rot90: dst(y, x) = src(x, w - 1 - y). */
static void
test_rot90(void)
{
	float img[N * C], mask[N], img0[N * C], mask0[N];
	struct rng r, probe;
	int seed, exact = 1;

	make(img0, mask0, W, H);
	for (seed = 0; seed < 200; seed++) {
		augment_rng(&probe, seed, 0, 0);
		if (rng_below(&probe, 4) == 1)
			break;
	}
	memcpy(img, img0, sizeof img);
	memcpy(mask, mask0, sizeof mask);
	augment_rng(&r, seed, 0, 0);
	augment_apply(AUGMENT_ROT90, &r, img, mask, W, H, C);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int s = x * W + (W - 1 - y);
			exact &= mask[y * W + x] == mask0[s];
			for (int k = 0; k < C; k++)
				exact &= img[(y * W + x) * C + k] ==
					 img0[s * C + k];
		}
	tap_ok(seed < 200 && exact, "seed %d: an exact 90-degree rotation",
	       seed);
}

static void
test_geometry(void)
{
	float img[N * C], mask[N], img0[N * C], mask0[N];
	static const unsigned ops[] = { AUGMENT_CROP, AUGMENT_ELASTIC,
		AUGMENT_CROP | AUGMENT_ELASTIC | AUGMENT_ROT90 | AUGMENT_FLIP };
	struct rng r;

	make(img0, mask0, W, H);
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		double worst = 1;
		int bin = 1, changed = 0;
		for (int seed = 0; seed < 20; seed++) {
			memcpy(img, img0, sizeof img);
			memcpy(mask, mask0, sizeof mask);
			augment_rng(&r, seed, 3, 4);
			augment_apply(ops[i], &r, img, mask, W, H, C);
			double a = agreement(img, mask, N);
			worst = a < worst ? a : worst;
			bin &= binary(mask, N);
			changed |= memcmp(img, img0, sizeof img) != 0;
		}
		tap_ok(bin && changed && worst >= 0.95,
		       "ops %#x: mask binary and aligned (worst %.3f)", ops[i],
		       worst);
	}
}

static void
test_color(void)
{
	float img[N * C], mask[N], img0[N * C], mask0[N];
	struct rng r;
	int inrange = 1;

	make(img0, mask0, W, H);
	memcpy(img, img0, sizeof img);
	memcpy(mask, mask0, sizeof mask);
	augment_rng(&r, 5, 0, 0);
	augment_apply(AUGMENT_COLOR, &r, img, mask, W, H, C);
	for (int i = 0; i < N * C; i++)
		inrange &= img[i] >= 0 && img[i] <= 1;
	tap_ok(memcmp(mask, mask0, sizeof mask) == 0 &&
		       memcmp(img, img0, sizeof img) != 0 && inrange,
	       "color: image changed within [0, 1], mask untouched");
}

static void
test_reproducible(void)
{
	float a[N * C], am[N], b[N * C], bm[N];
	struct rng r;

	make(a, am, W, H);
	make(b, bm, W, H);
	augment_rng(&r, 42, 7, 3);
	augment_apply(AUGMENT_ALL, &r, a, am, W, H, C);
	augment_rng(&r, 42, 7, 3);
	augment_apply(AUGMENT_ALL, &r, b, bm, W, H, C);
	tap_ok(memcmp(a, b, sizeof a) == 0 && memcmp(am, bm, sizeof am) == 0,
	       "same seed, pass and index: same bytes");
	make(b, bm, W, H);
	augment_rng(&r, 43, 7, 3);
	augment_apply(AUGMENT_ALL, &r, b, bm, W, H, C);
	tap_ok(memcmp(a, b, sizeof a) != 0, "another seed differs");
	make(b, bm, W, H);
	augment_rng(&r, 42, 8, 3);
	augment_apply(AUGMENT_ALL, &r, b, bm, W, H, C);
	tap_ok(memcmp(a, b, sizeof a) != 0, "another pass differs");
	make(b, bm, W, H);
	augment_rng(&r, 42, 7, 3);
	augment_apply(0, &r, b, bm, W, H, C);
	make(a, am, W, H);
	tap_ok(memcmp(a, b, sizeof a) == 0, "ops 0 changes nothing");
}

static void
test_nonsquare(void)
{
	enum { w = 8, h = 4 };
	float img[w * h * C], mask[w * h];
	struct rng r;
	int ok = 1;

	for (int seed = 0; seed < 30; seed++) {
		make(img, mask, w, h);
		augment_rng(&r, seed, 0, 0);
		augment_apply(AUGMENT_ALL & ~AUGMENT_COLOR, &r, img, mask, w,
			      h, C);
		ok &= binary(mask, w * h);
	}
	tap_ok(ok, "8x4 images: every geometric op keeps the mask binary");
}

static void
test_image(void)
{
	struct image im, orig;
	struct rng r;
	int ok = 1, bin = 1;

	image_alloc(&im, 6, 6, 2, 255, "GRAYSCALE_MASK");
	for (int p = 0; p < 36; p++) {
		im.data[p * 2] = (uint16_t)(p * 7);
		im.data[p * 2 + 1] = p % 5 == 0 ? 255 : 0;
	}
	image_alloc(&orig, 6, 6, 2, 255, "GRAYSCALE_MASK");
	memcpy(orig.data, im.data, 72 * sizeof *im.data);
	augment_rng(&r, 1, 0, 0);
	augment_image(AUGMENT_FLIP | AUGMENT_ROT90, &r, &im);
	/* Every (value, mask) pair of the original is still there. */
	for (int p = 0; p < 36; p++) {
		int seen = 0;
		for (int q = 0; q < 36; q++)
			seen |= im.data[q * 2] == orig.data[p * 2] &&
				im.data[q * 2 + 1] == orig.data[p * 2 + 1];
		ok &= seen;
	}
	tap_ok(ok, "augment_image: 8-bit values survive a permutation exactly");
	augment_rng(&r, 2, 0, 0);
	augment_image(AUGMENT_ALL, &r, &im);
	for (int p = 0; p < 36; p++)
		bin &= im.data[p * 2 + 1] == 0 || im.data[p * 2 + 1] == 255;
	tap_ok(bin, "augment_image: mask channel 0 or maxval");
	image_free(&im);
	image_free(&orig);
}

/* Labels: a few objects, two of them touching, with values up to 65535. */
static void
make_labels(uint16_t *lab, float *mask, int w, int h)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			size_t p = (size_t)y * w + x;
			uint16_t k = 0;
			if ((x - 5) * (x - 5) + (y - 7) * (y - 7) < 20)
				k = x < 5 ? 3 : 65535;
			else if (x > 10 && y < 4)
				k = 12;
			lab[p] = k;
			mask[p] = k != 0;
		}
}

/* The same draws move a mask and the same labels alike: flip, rot90 and
 * elastic give the same foreground, every label keeps its value and
 * stays one whole value per pixel; crop enlarges labels by nearest
 * neighbour but resamples the mask, so they may differ on rim pixels. */
static void
test_labels(void)
{
	static const unsigned ops[] = { AUGMENT_FLIP, AUGMENT_ROT90,
					AUGMENT_ELASTIC,
					AUGMENT_FLIP | AUGMENT_ROT90 |
					AUGMENT_ELASTIC | AUGMENT_COLOR };
	static const char *const names[] = { "flip", "rot90", "elastic",
					     "flip,rot90,elastic,color" };
	float a[N * C], b[N * C], mask[N], lmask[N];
	uint16_t lab[N];

	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		int same = 1, valid = 1, image = 1;
		for (int seed = 0; seed < 20; seed++) {
			struct rng r;
			make(a, mask, W, H);
			make(b, lmask, W, H);
			make_labels(lab, lmask, W, H);
			augment_rng(&r, seed, 1, 2);
			augment_apply(ops[i], &r, a, mask, W, H, C);
			augment_rng(&r, seed, 1, 2);
			augment_apply_labels(ops[i], &r, b, lab, W, H, C);
			for (int p = 0; p < N; p++) {
				same &= mask[p] == (lab[p] != 0);
				valid &= lab[p] == 0 || lab[p] == 3 ||
					 lab[p] == 12 || lab[p] == 65535;
			}
			image &= memcmp(a, b, sizeof a) == 0;
		}
		tap_ok(same && valid && image, "labels: %s moves labels as the "
		       "mask (same foreground, same image, values kept)",
		       names[i]);
	}
	{
		int valid = 1, differ = 0, moved = 0;
		for (int seed = 0; seed < 20; seed++) {
			struct rng r;
			make(a, mask, W, H);
			make_labels(lab, lmask, W, H);
			augment_rng(&r, seed, 0, 0);
			augment_apply(AUGMENT_CROP, &r, a, mask, W, H, C);
			augment_rng(&r, seed, 0, 0);
			augment_apply_labels(AUGMENT_CROP, &r, b, lab, W, H, C);
			for (int p = 0; p < N; p++) {
				valid &= lab[p] == 0 || lab[p] == 3 ||
					 lab[p] == 12 || lab[p] == 65535;
				differ += mask[p] != (lab[p] != 0);
				moved += (lab[p] != 0) != (lmask[p] != 0);
			}
		}
		tap_ok(valid && moved > 0 && differ < moved / 4,
		       "labels: crop by nearest neighbour keeps the values; "
		       "foreground as the mask's but %d of %d changed pixels",
		       differ, moved);
	}
}

static void
test_image_labels(void)
{
	struct image im;
	struct rng r;
	int ok = 1;
	size_t count[4] = { 0 }, after[4] = { 0 };
	static const uint16_t values[4] = { 0, 1, 300, 65535 };

	image_alloc(&im, 8, 8, 4, 65535, "RGB_LABEL");
	for (int p = 0; p < 64; p++) {
		im.data[p * 4] = (uint16_t)(p * 1000);
		im.data[p * 4 + 3] = values[p % 7 % 4];
		count[p % 7 % 4]++;
	}
	augment_rng(&r, 5, 0, 0);
	augment_image(AUGMENT_FLIP | AUGMENT_ROT90, &r, &im);
	for (int p = 0; p < 64; p++)
		for (int k = 0; k < 4; k++)
			after[k] += im.data[p * 4 + 3] == values[k];
	for (int k = 0; k < 4; k++)
		ok &= after[k] == count[k];
	tap_ok(ok, "augment_image: a RGB_LABEL image's labels permuted, "
	       "values kept (65535 is not maxval-thresholded)");
	augment_rng(&r, 6, 0, 0);
	augment_image(AUGMENT_ALL, &r, &im);
	ok = 1;
	for (int p = 0; p < 64; p++) {
		uint16_t v = im.data[p * 4 + 3];
		ok &= v == 0 || v == 1 || v == 300 || v == 65535;
	}
	tap_ok(ok, "augment_image: every op keeps label values");
	image_free(&im);
}

int
main(void)
{
	test_parse();
	test_permutations();
	test_rot90();
	test_geometry();
	test_color();
	test_reproducible();
	test_nonsquare();
	test_image();
	test_labels();
	test_image_labels();
	return tap_done();
}
