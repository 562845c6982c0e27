/* patch: the draws of patch training (reproducible, uniform over the
 * valid positions, the 0th draw augment's generator), the padding of a
 * small sample, the default patch size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "patch.h"
#include "tap.h"
#include "util.h"

static void
test_rng(void)
{
	struct rng a, b;
	int same = 1;

	patch_rng(&a, 7, 3, 11, 0);
	augment_rng(&b, 7, 3, 11);
	for (int i = 0; i < 8; i++)
		same &= rng_next(&a) == rng_next(&b);
	tap_ok(same, "draw 0 is augment_rng(seed, epoch, index): whole-image "
	       "training keeps its draws");
	patch_rng(&a, 7, 3, 11, 1);
	patch_rng(&b, 7, 3, 11, 1);
	same = 1;
	for (int i = 0; i < 8; i++)
		same &= rng_next(&a) == rng_next(&b);
	tap_ok(same, "the same (seed, epoch, index, draw), the same draws");
	{
		uint64_t v[5];
		struct rng r;
		int differ = 1;

		patch_rng(&r, 7, 3, 11, 0); v[0] = rng_next(&r);
		patch_rng(&r, 7, 3, 11, 1); v[1] = rng_next(&r);
		patch_rng(&r, 7, 4, 11, 0); v[2] = rng_next(&r);
		patch_rng(&r, 7, 3, 12, 0); v[3] = rng_next(&r);
		patch_rng(&r, 8, 3, 11, 0); v[4] = rng_next(&r);
		for (int i = 0; i < 5; i++)
			for (int j = i + 1; j < 5; j++)
				differ &= v[i] != v[j];
		tap_ok(differ, "another draw, epoch, index or seed: other "
		       "draws");
	}
}

static void
test_draw(void)
{
	struct rng r;
	int seen[5] = { 0 }, inside = 1, all = 1;
	int x0, y0;

	/* 20 x 14 image, 16 x 16 window: x in 0..4, y 0 (padded). */
	rng_seed(&r, 1);
	for (int i = 0; i < 3000; i++) {
		patch_draw(&r, 20, 14, 16, &x0, &y0);
		inside &= x0 >= 0 && x0 <= 4 && y0 == 0;
		if (inside)
			seen[x0]++;
	}
	for (int x = 0; x < 5; x++)
		all &= seen[x] > 500 && seen[x] < 700;
	tap_ok(inside, "the window stays inside; a short side starts at 0");
	tap_ok(all, "every valid position about equally often (%d %d %d %d "
	       "%d of 3000)", seen[0], seen[1], seen[2], seen[3],
	       seen[4]);
	patch_draw(&r, 16, 16, 16, &x0, &y0);
	tap_ok(x0 == 0 && y0 == 0, "a sample of the window's size: (0, 0)");
}

static void
test_pad(void)
{
	/* A 3 x 2 plane of 2-byte pixels padded to 4 x 4. */
	uint16_t buf[16];
	const uint16_t want[16] = { 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0,
				    0, 0, 0, 0 };
	float f[2 * 4 * 4];
	int ok = 1;

	for (int i = 0; i < 16; i++)
		buf[i] = i < 6 ? i + 1 : 0xffff;
	patch_pad(buf, sizeof *buf, 3, 2, 4);
	tap_ok(memcmp(buf, want, sizeof want) == 0, "rows moved to the new "
	       "stride, zeros right and bottom");
	/* 2 channels of floats, 1 x 1 to 4 x 4. */
	for (int i = 0; i < 32; i++)
		f[i] = 9;
	f[0] = 1;
	f[1] = 2;
	patch_pad(f, 2 * sizeof *f, 1, 1, 4);
	for (int i = 2; i < 32; i++)
		ok &= f[i] == 0;
	tap_ok(ok && f[0] == 1 && f[1] == 2, "a 1x1 sample of 2 channels "
	       "padded to 4x4");
}

static void
test_area(void)
{
	tap_ok(patch_area_draws(256, 256, 128) == 4 &&
	       patch_area_draws(1024, 1024, 128) == 64 &&
	       patch_area_draws(360, 360, 128) == 8 &&
	       patch_area_draws(1272, 603, 128) == 47,
	       "draws by area: the patches an area holds, rounded");
	tap_ok(patch_area_draws(16, 16, 32) == 1 &&
	       patch_area_draws(100, 100, 128) == 1 &&
	       patch_area_draws(1, 1, 16384) == 1,
	       "at least one draw of a sample smaller than a patch");
}

static void
test_slots(void)
{
	int idx[] = { 5, 9 }, n, sample[12], draw[12], seen[12] = { 0 }, ok;
	long copies[] = { 1, 3 };
	struct patch_slot *s = patch_slots(idx, copies, 2, &n);
	struct rng r;

	tap_ok(n == 4 && s[0].sample == 5 && s[0].copies == 1 &&
	       s[1].sample == 9 && s[1].copy == 0 && s[3].copy == 2 &&
	       s[3].copies == 3, "the slots: 5 once, 9 three times");
	/* Three shuffles: each sample's draw numbers all differ. */
	rng_seed(&r, 3);
	patch_epoch(&r, s, n, 12, sample, draw);
	ok = 1;
	for (int i = 0; i < 12; i++) {
		int base = sample[i] == 5 ? 0 : 3;

		ok &= (sample[i] == 5 && draw[i] < 3) ||
		      (sample[i] == 9 && draw[i] < 9);
		if (ok)
			ok &= !seen[base + draw[i]]++;
	}
	tap_ok(ok, "3 shuffles: sample 5 drawn as 0, 1, 2, sample 9 as 0..8, "
	       "none twice");
	free(s);
}

static void
test_epoch_frequency(void)
{
	int idx[] = { 0, 1 }, n, sample[2], draw[2], k[2] = { 0, 0 };
	long copies[] = { 1, 16 };
	struct patch_slot *s = patch_slots(idx, copies, 2, &n);
	struct rng r;

	rng_seed(&r, 1);
	for (int e = 0; e < 4000; e++) {
		patch_epoch(&r, s, n, 2, sample, draw);
		k[sample[0]]++;
		k[sample[1]]++;
	}
	/* 8000 draws, 8000 / 17 = 471 of sample 0 expected (sd about 21). */
	tap_ok(k[0] > 400 && k[0] < 540 && k[0] + k[1] == 8000,
	       "draws in proportion to the copies: %d of 8000 for 1 of 17",
	       k[0]);
	free(s);
}

static void
test_epoch_uniform(void)
{
	int idx[7] = { 3, 1, 4, 15, 9, 2, 6 }, perm[7], n, sample[10],
	    draw[10], ok = 1;
	long copies[7] = { 1, 1, 1, 1, 1, 1, 1 };
	struct patch_slot *s = patch_slots(idx, copies, 7, &n);
	struct rng a, b;

	/* One draw of each: the shuffles of the samples themselves, as
	 * training drew them before draws by area. */
	rng_seed(&a, 11);
	rng_seed(&b, 11);
	patch_epoch(&a, s, n, 10, sample, draw);
	for (int pos = 0; pos < 10; pos += 7) {
		memcpy(perm, idx, sizeof perm);
		rng_shuffle(&b, perm, 7);
		for (int k = 0; k < 7 && pos + k < 10; k++)
			ok &= sample[pos + k] == perm[k] &&
			      draw[pos + k] == pos / 7;
	}
	tap_ok(ok, "one draw of each: successive shuffles of the samples, "
	       "numbered by shuffle");
	free(s);
}

static void
test_default(void)
{
	int a[] = { 600, 256, 360, 256, 1024 };
	int b[] = { 520, 603 };
	int c[] = { 20, 30, 40 };

	tap_ok(patch_default(256, 16, a, 5) == 256, "median 360: 256 kept");
	tap_ok(a[0] == 256 && a[4] == 1024, "the sides sorted");
	tap_ok(patch_default(1024, 16, b, 2) == 592, "upper median 603 of two: "
	       "592, the multiple of 16 below");
	tap_ok(patch_default(256, 16, c, 3) == 16, "median 30: 16");
	tap_ok(patch_default(256, 64, c, 3) == 64, "never below the "
	       "multiple");
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_rng();
	test_draw();
	test_pad();
	test_area();
	test_slots();
	test_epoch_frequency();
	test_epoch_uniform();
	test_default();
	return tap_done();
}
