/* test_targets: the output list, the distance target and the
 * separation-border and touch weight map against a brute-force computation on
 * hand-made and random label planes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "targets.h"
#include "tap.h"
#include "util.h"

/* Brute force: each object pixel's distance to the nearest pixel of
 * another label, or outside the image, divided by its object's largest. */
static void
brute_distance(const uint16_t *lab, int w, int h, double *out)
{
	double top[65536] = { 0 };

	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			unsigned k = lab[y * w + x];
			double best = fmin(fmin(x + 1, w - x), fmin(y + 1, h - y));

			if (!k) {
				out[y * w + x] = 0;
				continue;
			}
			for (int v = 0; v < h; v++)
				for (int u = 0; u < w; u++)
					if (lab[v * w + u] != k)
						best = fmin(best, hypot(u - x,
								       v - y));
			out[y * w + x] = best;
			top[k] = fmax(top[k], best);
		}
	for (int p = 0; p < w * h; p++)
		if (lab[p])
			out[p] /= top[lab[p]];
}

/* Brute force: eq. 2 of the U-Net paper with d1, d2 the distances to the
 * nearest and second nearest object on background pixels (weight border),
 * d1 = 0 and d2 the distance to the nearest other object on object pixels
 * (weight touch). */
static void
brute_weight(const uint16_t *lab, int w, int h, double border, double touch,
	     double sigma, double *out)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double d[65536];
			unsigned n = 0, d1 = 0, d2 = 0;

			for (int p = 0; p < w * h; p++)
				if (lab[p] > n)
					n = lab[p];
			for (unsigned k = 0; k <= n; k++)
				d[k] = INFINITY;
			for (int v = 0; v < h; v++)
				for (int u = 0; u < w; u++) {
					unsigned k = lab[v * w + u];
					d[k] = fmin(d[k], hypot(u - x, v - y));
				}
			out[y * w + x] = 1;
			if (lab[y * w + x]) {
				double s = INFINITY;

				for (unsigned k = 1; k <= n; k++)
					if (k != lab[y * w + x])
						s = fmin(s, d[k]);
				if (isfinite(s))
					out[y * w + x] = 1 + touch *
						exp(-s * s / (2 * sigma * sigma));
				continue;
			}
			for (unsigned k = 1; k <= n; k++) {
				if (!d1 || d[k] < d[d1]) {
					d2 = d1;
					d1 = k;
				} else if (!d2 || d[k] < d[d2]) {
					d2 = k;
				}
			}
			if (d1 && d2 && isfinite(d[d2])) {
				double s = d[d1] + d[d2];
				out[y * w + x] = 1 + border * exp(-s * s /
							(2 * sigma * sigma));
			}
		}
}

static double
max_diff_distance(const uint16_t *lab, int w, int h)
{
	float *ours = xmalloc((size_t)w * h * sizeof *ours);
	double *ref = xmalloc((size_t)w * h * sizeof *ref), m = 0;

	targets_distance(lab, w, h, ours);
	brute_distance(lab, w, h, ref);
	for (int p = 0; p < w * h; p++)
		m = fmax(m, fabs(ours[p] - ref[p]));
	free(ours);
	free(ref);
	return m;
}

static double
max_diff_weight(const uint16_t *lab, int w, int h, double border,
		double touch, double sigma)
{
	float *ours = xmalloc((size_t)w * h * sizeof *ours);
	double *ref = xmalloc((size_t)w * h * sizeof *ref), m = 0;

	targets_border_weight(lab, w, h, border, touch, sigma, ours);
	brute_weight(lab, w, h, border, touch, sigma, ref);
	for (int p = 0; p < w * h; p++)
		m = fmax(m, fabs(ours[p] - ref[p]));
	free(ours);
	free(ref);
	return m;
}

static void
test_parse(void)
{
	struct targets t;
	char err[128], buf[64];

	tap_ok(targets_parse("foreground", &t, err, sizeof err) == 0 &&
	       t.count == 1 && t.kind[0] == TARGET_FOREGROUND &&
	       !targets_need_labels(&t), "foreground alone, no labels needed");
	tap_ok(targets_parse("foreground,distance", &t, err, sizeof err) ==
	       0 && t.count == 2 && t.kind[1] == TARGET_DISTANCE &&
	       targets_need_labels(&t), "foreground,distance needs labels");
	targets_format(&t, buf, sizeof buf);
	tap_ok(strcmp(buf, "foreground,distance") == 0, "format: %s", buf);
	tap_ok(targets_parse("distance,foreground", &t, err, sizeof err) < 0 &&
	       strstr(err, "first output must be foreground"), "%s", err);
	tap_ok(targets_parse("foreground,foreground", &t, err, sizeof err) <
	       0 && strstr(err, "named twice"), "%s", err);
	tap_ok(targets_parse("foreground,", &t, err, sizeof err) < 0 &&
	       strstr(err, "empty name"), "%s", err);
	tap_ok(targets_parse("foreground,border", &t, err, sizeof err) < 0 &&
	       strstr(err, "'border' is not one of"), "%s", err);
}

static void
test_hand_made(void)
{
	/* A 3x3 square (1), a 1-pixel object (2) and, touching at column
	 * 5 | 6, a 2x4 block (3) beside a 2x4 block (4) cut by the edge. */
	enum { W = 9, H = 6 };
	static const uint16_t lab[W * H] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 1, 1, 1, 0, 3, 3, 4, 4,
		0, 1, 1, 1, 0, 3, 3, 4, 4,
		0, 1, 1, 1, 0, 3, 3, 4, 4,
		0, 0, 0, 0, 0, 3, 3, 4, 4,
		2, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	float d[W * H], wt[W * H], t[W * H * 2];
	struct targets two = { 2, { TARGET_FOREGROUND, TARGET_DISTANCE } };
	double e;

	targets_distance(lab, W, H, d);
	tap_ok(d[2 * W + 2] == 1.0f && d[1 * W + 1] == 0.5f &&
	       d[1 * W + 2] == 0.5f, "square: centre 1, rim 1/2");
	tap_ok(d[5 * W] == 1.0f, "a 1-pixel object at a corner: 1");
	tap_ok(d[2 * W + 5] == 1.0f && d[2 * W + 6] == 1.0f,
	       "two touching blocks: the other object counts as not the "
	       "object");
	tap_ok(d[2 * W + 8] == 1.0f && d[2 * W + 7] == 1.0f,
	       "the image edge counts as background");
	tap_ok(d[0] == 0 && d[4 * W + 4] == 0, "background 0");
	targets_fill(&two, lab, W, H, t);
	tap_ok(t[(2 * W + 2) * 2] == 1 && t[(2 * W + 2) * 2 + 1] == 1.0f &&
	       t[(1 * W + 1) * 2 + 1] == 0.5f && t[0] == 0 && t[1] == 0,
	       "targets_fill: channels interleaved");
	targets_border_weight(lab, W, H, 10, 0, 5, wt);
	/* (4, 2): 1 from the square, 1 from block 3 */
	e = 1 + 10 * exp(-4.0 / 50);
	tap_ok(fabs(wt[2 * W + 4] - e) < 1e-6 && wt[2 * W + 2] == 1.0f &&
	       wt[2 * W + 6] == 1.0f, "weight: %g between two objects one "
	       "pixel from each (%g), 1 on objects without --touch-weight",
	       wt[2 * W + 4], e);
	targets_border_weight(lab, W, H, 0, 4, 2, wt);
	/* (6, 2) of block 3 touches block 4 at (7, 2); (5, 2) is 2 from
	 * block 4 and from the square */
	tap_ok(fabs(wt[2 * W + 6] - (1 + 4 * exp(-1.0 / 8))) < 1e-6 &&
	       fabs(wt[2 * W + 5] - (1 + 4 * exp(-4.0 / 8))) < 1e-6 &&
	       wt[2 * W + 4] == 1.0f, "touch weight: %g where blocks 3 and "
	       "4 touch, %g a pixel further, 1 on the background without "
	       "--border-weight", wt[2 * W + 6], wt[2 * W + 5]);
	tap_ok(max_diff_distance(lab, W, H) < 1e-6, "hand-made distance = "
	       "brute force");
	tap_ok(max_diff_weight(lab, W, H, 10, 0, 5) < 2e-6 &&
	       max_diff_weight(lab, W, H, 10, 6, 2) < 2e-6, "hand-made "
	       "weight = brute force (border alone, border and touch)");
}

static void
test_edge_cases(void)
{
	uint16_t lab[12] = { 0 };
	float d[12], wt[12];
	int ok = 1;

	targets_distance(lab, 4, 3, d);
	targets_border_weight(lab, 4, 3, 10, 10, 3, wt);
	for (int p = 0; p < 12; p++)
		ok &= d[p] == 0 && wt[p] == 1;
	tap_ok(ok, "no objects: distance 0, weight 1");
	lab[5] = 7;
	targets_border_weight(lab, 4, 3, 10, 10, 3, wt);
	ok = 1;
	for (int p = 0; p < 12; p++)
		ok &= wt[p] == 1;
	tap_ok(ok, "one object: weight 1 (no second object)");
	for (int p = 0; p < 12; p++)
		lab[p] = 65535;
	targets_distance(lab, 4, 3, d);
	tap_ok(d[5] == 1.0f && d[0] == 0.5f, "one object filling the image, "
	       "label 65535: the edge bounds it");
	tap_ok(targets_border_reach(0, 3) == 0 &&
	       targets_border_reach(10, 3) == 20, "reach: 0 without weight, "
	       "%d for w0 10 sigma 3", targets_border_reach(10, 3));
}

/* Random planes of blobs and rectangles, labels overwriting each other
 * (objects touch, some are cut in pieces). */
static void
test_random(void)
{
	struct rng r;
	double worst_d = 0, worst_w = 0;

	rng_seed(&r, 14);
	for (int iter = 0; iter < 60; iter++) {
		int w = 1 + (int)rng_below(&r, 24), h = 1 + (int)rng_below(&r, 20);
		int nobj = (int)rng_below(&r, 8);
		uint16_t *lab = xcalloc((size_t)w * h, sizeof *lab);
		double sigma = 1 + 4 * rng_uniform(&r);

		for (int o = 1; o <= nobj; o++) {
			int cx = (int)rng_below(&r, w), cy = (int)rng_below(&r, h);
			int rad = 1 + (int)rng_below(&r, 5);
			int rect = (int)rng_below(&r, 2);
			uint16_t k = (uint16_t)(iter % 3 ? o : 60000 + o);
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++) {
					int dx = x - cx, dy = y - cy;
					if (rect ? abs(dx) <= rad && abs(dy) < rad
						 : dx * dx + dy * dy <= rad * rad)
						lab[y * w + x] = k;
				}
		}
		worst_d = fmax(worst_d, max_diff_distance(lab, w, h));
		worst_w = fmax(worst_w, max_diff_weight(lab, w, h, 10,
						       iter % 2 ? 5 : 0, sigma));
		free(lab);
	}
	tap_ok(worst_d < 1e-6, "60 random planes: distance = brute force "
	       "(largest difference %g)", worst_d);
	tap_ok(worst_w < 2e-6, "60 random planes: weight = brute force "
	       "(largest difference %g)", worst_w);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_parse();
	test_hand_made();
	test_edge_cases();
	test_random();
	printf("1..%d\n", tap_count);
	return tap_failed != 0;
}
