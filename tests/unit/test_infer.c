/* Unit tests of common/infer on a tiny random network: odd sizes padded
 * with zeros (against the network run by hand on the padded input), n
 * images at once equal to one at a time, tiled (by size and by budget)
 * equal to whole-image inference, the tile check and the batch a forward
 * pass takes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "rng.h"
#include "tap.h"
#include "unet.h"
#include "util.h"

/* A 3-channel, F 4, depth 3 (multiple 4, margin 32) network of two
 * outputs with Glorot weights and small random biases, so that every
 * output channel differs. */
static struct unet *
tiny_net(void)
{
	struct unet_config cfg = { 3, 4, 3, 2 };
	struct unet *net = unet_new(&cfg);
	struct rng r;

	unet_init_glorot(net, 7);
	rng_seed(&r, 8);
	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);

		if (p->ndim == 1)
			for (size_t j = 0; j < p->count; j++)
				p->value[j] = (float)(rng_uniform(&r) - 0.5);
	}
	return net;
}

static float *
random_images(int n, int w, int h, uint64_t seed)
{
	size_t count = (size_t)n * w * h * 3;
	float *x = xmalloc_for(count, sizeof *x, "test images");
	struct rng r;

	rng_seed(&r, seed);
	for (size_t i = 0; i < count; i++)
		x[i] = (float)rng_uniform(&r);
	return x;
}

/* The largest difference of a and b relative to max(1, |b|). */
static double
max_diff(const float *a, const float *b, size_t n)
{
	double worst = 0;

	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]) / fmax(1, fabs(b[i]));
		if (!(d <= worst))
			worst = d;
	}
	return worst;
}

/* The logits of one image by hand: zero-padded to multiples of 4, the
 * network run on it, cropped. */
static void
by_hand(struct unet *net, int w, int h, const float *in, float *out)
{
	int pw = (w + 3) / 4 * 4, ph = (h + 3) / 4 * 4;
	struct unet_work *wk = unet_work_new(net, 1, ph, pw, 0, 1);
	float *x = unet_work_input(wk);
	const float *l;

	memset(x, 0, sizeof *x * (size_t)pw * ph * 3);
	for (int y = 0; y < h; y++)
		memcpy(x + (size_t)y * pw * 3, in + (size_t)y * w * 3,
		       sizeof *x * (size_t)w * 3);
	l = unet_forward(wk, 1);
	for (int y = 0; y < h; y++)
		memcpy(out + (size_t)y * w * 2, l + (size_t)y * pw * 2,
		       sizeof *out * (size_t)w * 2);
	unet_work_free(wk);
}

static void
test_padding(struct unet *net)
{
	static const int sizes[][2] = { { 1, 1 }, { 5, 3 }, { 37, 50 },
					{ 48, 32 } };

	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		int w = sizes[s][0], h = sizes[s][1];
		size_t on = (size_t)w * h * 2;
		float *in = random_images(1, w, h, 10 + s);
		float *a = xmalloc_for(on, sizeof *a, "logits");
		float *b = xmalloc_for(on, sizeof *b, "logits");
		struct infer *inf = infer_new(net, 1, 1e9, 0);
		double d;

		infer_images(inf, 1, w, h, in, a);
		by_hand(net, w, h, in, b);
		d = max_diff(a, b, on);
		tap_ok(d <= 1e-6, "%dx%d: padded with zeros as by hand "
		       "(difference %g)", w, h, d);
		infer_free(inf);
		free(in);
		free(a);
		free(b);
	}
}

static void
test_batch(struct unet *net)
{
	int n = 5, w = 45, h = 31;
	size_t on = (size_t)w * h * 2;
	float *in = random_images(n, w, h, 20);
	float *all = xmalloc_for(on * n, sizeof *all, "logits");
	float *one = xmalloc_for(on * n, sizeof *one, "logits");
	struct infer *a = infer_new(net, 2, 1e9, -1);
	struct infer *b = infer_new(net, 1, 1e9, -1);
	double d, spread = 0;

	tap_ok(infer_batch(a, w, h) >= n, "the budget holds %d images of "
	       "%dx%d in one pass (%d)", n, w, h, infer_batch(a, w, h));
	infer_set_batch(a, 3);
	tap_ok(infer_batch(a, w, h) == 3, "infer_set_batch caps the pass "
	       "(%d)", infer_batch(a, w, h));
	infer_set_batch(a, 1000);
	infer_images(a, n, w, h, in, all);
	for (int k = 0; k < n; k++)
		infer_images(b, 1, w, h, in + (size_t)k * w * h * 3,
			     one + k * on);
	d = max_diff(all, one, on * n);
	tap_ok(d <= 1e-5, "%d images at once equal one at a time "
	       "(difference %g)", n, d);
	/* The images are told apart: the comparison has teeth. */
	spread = max_diff(one, one + on, on);
	tap_ok(spread > 1e-3, "different images give different logits (%g)",
	       spread);
	infer_free(a);
	infer_free(b);
	free(in);
	free(all);
	free(one);
}

/* A pass takes the images that give each thread 2^15 pixels, no more:
 * 4 of 128x128 on 2 threads, 2 on 1, 1 of 256x256, 16 of 64x64; the
 * engine's batch and the budget still cap it. */
static void
test_pass_size(struct unet *net)
{
	struct infer *two = infer_new(net, 2, 1e9, -1);
	struct infer *one = infer_new(net, 1, 1e9, -1);
	struct infer *tight = infer_new(net, 2,
					2.5 * unet_work_bytes(net, 64, 64), -1);

	tap_ok(infer_batch(two, 128, 128) == 4 &&
		       infer_batch(one, 128, 128) == 2 &&
		       infer_batch(two, 256, 256) == 1 &&
		       infer_batch(two, 64, 64) == 16,
	       "passes of 2^15 pixels a thread: %d %d %d %d",
	       infer_batch(two, 128, 128), infer_batch(one, 128, 128),
	       infer_batch(two, 256, 256), infer_batch(two, 64, 64));
	infer_set_batch(two, 3);
	tap_ok(infer_batch(two, 64, 64) == 3 && infer_batch(two, 128, 128) == 3,
	       "the engine's batch caps a pass (%d, %d)",
	       infer_batch(two, 64, 64), infer_batch(two, 128, 128));
	tap_ok(infer_batch(tight, 64, 64) == 2, "the budget caps a pass (%d)",
	       infer_batch(tight, 64, 64));
	infer_free(two);
	infer_free(one);
	infer_free(tight);
}

/* Tiled inference of an image against whole-image inference. */
static void
check_tiled(struct unet *net, int w, int h, int tile, double budget,
	    int batch, const char *what)
{
	size_t on = (size_t)w * h * 2;
	float *in = random_images(2, w, h, 30 + tile);
	float *whole = xmalloc_for(on * 2, sizeof *whole, "logits");
	float *tiled = xmalloc_for(on * 2, sizeof *tiled, "logits");
	struct infer *a = infer_new(net, 1, 1e9, 0);
	struct infer *b = infer_new(net, 2, budget, tile);
	double d;

	infer_set_batch(b, batch);
	infer_images(a, 2, w, h, in, whole);
	infer_images(b, 2, w, h, in, tiled);
	d = max_diff(tiled, whole, on * 2);
	tap_ok(d <= 1e-5, "%dx%d %s: tiled equals whole (difference %g)",
	       w, h, what, d);
	tap_ok(infer_batch(b, w, h) == 1, "%dx%d %s: one image a pass", w, h,
	       what);
	infer_free(a);
	infer_free(b);
	free(in);
	free(whole);
	free(tiled);
}

static void
test_tiles(struct unet *net)
{
	char err[128];

	check_tiled(net, 150, 97, 76, 1e9, 1, "in tiles of 76");
	check_tiled(net, 150, 97, 100, 1e9, 4, "in tiles of 100, 4 a pass");
	check_tiled(net, 67, 201, 68, 1e9, 3, "in tiles of 68");
	/* A budget below the whole image's maps: the largest tiles within. */
	check_tiled(net, 203, 190, -1,
		    unet_work_bytes(net, 100, 100), 8, "under a budget");
	tap_ok(infer_tile_check(net, 68, err, sizeof err) == 0 &&
	       infer_tile_check(net, 400, err, sizeof err) == 0,
	       "tiles 68 and 400 accepted");
	tap_ok(infer_tile_check(net, 64, err, sizeof err) < 0 &&
	       strcmp(err, "this model needs a multiple of 4, at least 68")
	       == 0, "tile 64 refused: %s", err);
	tap_ok(infer_tile_check(net, 70, err, sizeof err) < 0,
	       "tile 70 refused");
}

int
main(void)
{
	struct unet *net = tiny_net();

	test_padding(net);
	test_batch(net);
	test_pass_size(net);
	test_tiles(net);
	unet_free(net);
	return tap_done();
}
