/* patch: the draws of patch training (reproducible, uniform over the
 * valid positions, the 0th draw augment's generator), the padding of a
 * small sample, the default patch size. */
#include <stdint.h>
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
	test_default();
	return tap_done();
}
