/* Unit tests of common/dice: the soft Dice loss against its definition
 * computed here, cases by hand (an image without foreground, p = 1/2,
 * huge logits), the gradient against finite differences, the other
 * channels and the pixels of weight 0 left alone, the gradient added to
 * dx, and each image's term independent of the batch and the threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dice.h"
#include "rng.h"
#include "tap.h"
#include "util.h"

/* The definition: the mean over the n images of 1 - (2 sum p t + 1) /
 * (sum p + sum t + 1) over channel 0 (stride ld) where wt is not 0. */
static double
plain(const float *x, const float *t, const float *wt, int ld, int n,
      size_t npix)
{
	double loss = 0;

	for (int i = 0; i < n; i++) {
		double sp = 0, st = 0, spt = 0;

		for (size_t j = 0; j < npix; j++) {
			size_t k = ((size_t)i * npix + j) * ld;
			double p = 1 / (1 + exp(-(double)x[k]));

			if (wt && wt[k] == 0)
				continue;
			sp += p;
			st += t[k];
			spt += p * t[k];
		}
		loss += 1 - (2 * spt + 1) / (sp + st + 1);
	}
	return loss / n;
}

/* n images of npix pixels and ld channels: logits in [-4, 4], targets 0
 * or 1 (or soft), weights in [0, 3) a fifth of them 0 (or none). */
static void
fill(struct rng *r, float *x, float *t, float *wt, size_t count, int soft)
{
	for (size_t k = 0; k < count; k++) {
		x[k] = (float)(8 * rng_uniform(r) - 4);
		t[k] = soft ? (float)rng_uniform(r) : rng_uniform(r) < 0.3;
		if (wt)
			wt[k] = rng_below(r, 5) == 0 ? 0
						     : (float)(3 * rng_uniform(r));
	}
}

static void
test_definition(void)
{
	enum { N = 3, NPIX = 50, LD = 2 };
	float x[N * NPIX * LD], t[N * NPIX * LD], wt[N * NPIX * LD];
	struct rng r;
	int ok = 1;

	rng_seed(&r, 1);
	for (int soft = 0; soft < 2; soft++) {
		fill(&r, x, t, wt, N * NPIX * LD, soft);
		for (int weighted = 0; weighted < 2; weighted++) {
			const float *w = weighted ? wt : NULL;
			double want = plain(x, t, w, LD, N, NPIX);

			for (int nt = 1; nt <= 7; nt += 2) {
				double got = dice_loss_logits(nt, x, t, w, LD,
							      N, NPIX, NULL);
				if (fabs(got - want) > 1e-12) {
					ok = 0;
					tap_diag("soft %d weighted %d nt %d: "
						 "%.17g, want %.17g", soft,
						 weighted, nt, got, want);
				}
			}
		}
	}
	tap_ok(ok, "the definition, channel 0 of 2, 0/1 and soft targets, "
	       "with and without weights, on 1, 3, 5, 7 threads");
}

static void
test_by_hand(void)
{
	float x[100], t[100], dx[100];
	int finite = 1;

	/* p = 1/2 on two pixels, one of them foreground: (1 + 1) / (1 + 1
	 * + 1) */
	x[0] = x[1] = 0;
	t[0] = 1;
	t[1] = 0;
	tap_ok(fabs(dice_loss_logits(1, x, t, NULL, 1, 1, 2, NULL) - 1.0 / 3)
	       < 1e-15, "p = 1/2 on a foreground and a background pixel: 1/3");
	/* no foreground: p = 1/2 gives 1 - 1 / 51, p near 0 gives near 0 */
	for (int i = 0; i < 100; i++) {
		x[i] = 0;
		t[i] = 0;
	}
	tap_ok(fabs(dice_loss_logits(2, x, t, NULL, 1, 1, 100, NULL)
		    - 50.0 / 51) < 1e-15,
	       "no foreground, p = 1/2 on 100 pixels: 50/51");
	for (int i = 0; i < 100; i++)
		x[i] = -30;
	memset(dx, 0, sizeof dx);
	tap_ok(dice_loss_logits(2, x, t, NULL, 1, 1, 100, dx) < 1e-10,
	       "no foreground, p near 0: near 0 (%.3g)",
	       dice_loss_logits(2, x, t, NULL, 1, 1, 100, NULL));
	/* perfect and all wrong beyond exp's range, 34 foreground pixels
	 * of 100: 0 and 1 - 1 / (66 + 34 + 1), finite gradients */
	for (int i = 0; i < 100; i++) {
		t[i] = i % 3 == 0;
		x[i] = t[i] ? 1000 : -1000;
	}
	memset(dx, 0, sizeof dx);
	double perfect = dice_loss_logits(1, x, t, NULL, 1, 1, 100, dx);
	for (int i = 0; i < 100; i++) {
		finite &= isfinite(dx[i]);
		x[i] = -x[i];
	}
	double wrong = dice_loss_logits(1, x, t, NULL, 1, 1, 100, dx);
	for (int i = 0; i < 100; i++)
		finite &= isfinite(dx[i]);
	tap_ok(perfect == 0 && fabs(wrong - 100.0 / 101) < 1e-12 && finite,
	       "logits of +-1000: perfect 0 (%.3g), all wrong 1 - 1 / 101 "
	       "(%.17g), finite gradients", perfect, wrong);
}

/* The gradient against central differences of the definition, element
 * by element; other channels and pixels of weight 0 keep dx's value. */
static void
check_gradient(int soft, int weighted)
{
	enum { N = 2, NPIX = 12, LD = 3, COUNT = N * NPIX * LD };
	float x[COUNT], t[COUNT], wt[COUNT], dx[COUNT], dx0[COUNT];
	const float *w = weighted ? wt : NULL;
	double worst = 0;
	int kept = 1, added = 1;
	struct rng r;

	rng_seed(&r, 7 + soft + 2 * weighted);
	fill(&r, x, t, wt, COUNT, soft);
	memset(dx0, 0, sizeof dx0);
	dice_loss_logits(2, x, t, w, LD, N, NPIX, dx0);
	for (int k = 0; k < COUNT; k++)
		dx[k] = 0.25f * (float)(k % 5);
	dice_loss_logits(2, x, t, w, LD, N, NPIX, dx);
	for (int k = 0; k < COUNT; k++) {
		float keep = x[k], xp, xm;
		double num, err;

		added &= dx[k] == 0.25f * (float)(k % 5) + dx0[k];
		if (k % LD || (w && w[k] == 0)) {
			kept &= dx0[k] == 0;
			continue;
		}
		xp = x[k] = keep + 1e-3f;
		double lp = plain(x, t, w, LD, N, NPIX);
		xm = x[k] = keep - 1e-3f;
		double lm = plain(x, t, w, LD, N, NPIX);
		x[k] = keep;
		num = (lp - lm) / ((double)xp - xm);
		err = fabs(num - dx0[k]) / (fabs(num) + 1e-4);
		worst = err > worst ? err : worst;
	}
	tap_ok(worst < 1e-3, "%s targets, %s: dL/dx matches finite "
	       "differences (worst relative error %.2g)", soft ? "soft" : "0/1",
	       weighted ? "weights" : "no weights", worst);
	tap_ok(kept && added, "%s targets, %s: the gradient is added to dx, "
	       "other channels%s untouched", soft ? "soft" : "0/1",
	       weighted ? "weights" : "no weights",
	       weighted ? " and pixels of weight 0" : "");
}

/* An image's term alone equals its term in a batch: the loss of n is the
 * mean of the n images' losses to the bit, its gradient 1/n of theirs,
 * for a given thread count; other thread counts agree to rounding. */
static void
test_per_image(void)
{
	enum { N = 4, NPIX = 1000, LD = 2, COUNT = N * NPIX * LD };
	float *x = xmalloc(COUNT * sizeof *x), *t = xmalloc(COUNT * sizeof *t);
	float *wt = xmalloc(COUNT * sizeof *wt);
	float *dn = xmalloc(COUNT * sizeof *dn), *d1 = xmalloc(COUNT * sizeof *d1);
	double worst = 0;
	int same = 1;
	struct rng r;

	rng_seed(&r, 3);
	fill(&r, x, t, wt, COUNT, 0);
	for (int nt = 1; nt <= 4; nt += 3) {
		double all, sum = 0;

		memset(dn, 0, COUNT * sizeof *dn);
		memset(d1, 0, COUNT * sizeof *d1);
		all = dice_loss_logits(nt, x, t, wt, LD, N, NPIX, dn);
		for (int i = 0; i < N; i++) {
			size_t off = (size_t)i * NPIX * LD;
			sum += dice_loss_logits(nt, x + off, t + off, wt + off,
						LD, 1, NPIX, d1 + off);
		}
		same &= all == sum / N;
		for (int k = 0; k < COUNT; k++) {
			double e = fabs(dn[k] * N - d1[k])
				   / (fabs(d1[k]) + 1e-9);
			worst = e > worst ? e : worst;
		}
	}
	tap_ok(same, "the loss of 4 images = the mean of each alone, to the "
	       "bit, on 1 and 4 threads");
	tap_ok(worst < 1e-6, "the gradient in a batch of 4 = 1/4 of each "
	       "image's alone (worst relative difference %.2g)", worst);
	tap_ok(fabs(dice_loss_logits(1, x, t, wt, LD, N, NPIX, NULL)
		    - dice_loss_logits(4, x, t, wt, LD, N, NPIX, NULL)) < 1e-13,
	       "1 and 4 threads agree to rounding");
	free(x);
	free(t);
	free(wt);
	free(dn);
	free(d1);
}

int
main(void)
{
	test_definition();
	test_by_hand();
	check_gradient(0, 0);
	check_gradient(1, 1);
	check_gradient(0, 1);
	test_per_image();
	return tap_done();
}
