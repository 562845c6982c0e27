#include "dice.h"

#include <math.h>
#include <stdlib.h>

#include "pool.h"
#include "util.h"

struct dice_args {
	const float *x, *t, *wt;
	float *dx;
	int ld, n;
	size_t npix;
	double *part;       /* per image and thread: sum p, sum t, sum p t */
	const double *coef; /* per image: the gradient's a and b (below) */
};

/* p = sigmoid(v) and p (1 - p), from one exponential without overflow. */
static double
sigmoid_slope(double v, double *slope)
{
	double e = exp(-fabs(v)), d = 1 + e;

	*slope = e / (d * d);
	return v >= 0 ? 1 / d : e / d;
}

/* Thread t's sums over its share of the pixels of every image. */
static void
sums_part(void *arg, int t, int nt)
{
	const struct dice_args *a = arg;
	size_t lo, hi;

	pool_share(a->npix, t, nt, &lo, &hi);
	for (int i = 0; i < a->n; i++) {
		size_t base = (size_t)i * a->npix;
		double sp = 0, st = 0, spt = 0, slope, p, y;
		double *s = a->part + ((size_t)i * nt + t) * 3;

		for (size_t j = lo; j < hi; j++) {
			size_t k = (base + j) * a->ld;

			if (a->wt && a->wt[k] == 0)
				continue;
			p = sigmoid_slope(a->x[k], &slope);
			y = a->t[k];
			sp += p;
			st += y;
			spt += p * y;
		}
		s[0] = sp;
		s[1] = st;
		s[2] = spt;
	}
}

/* Thread t's share of dx: with the image's numerator A = 2 sum p t + 1
 * and denominator B = sum p + sum t + 1, d(1 - A / B) / dp = (A - 2 t B)
 * / B^2, as coef a = A / (n B^2), b = 2 / (n B) (the mean over n):
 * dL/dx = (a - b t) p (1 - p). */
static void
grad_part(void *arg, int t, int nt)
{
	const struct dice_args *a = arg;
	size_t lo, hi;

	pool_share(a->npix, t, nt, &lo, &hi);
	for (int i = 0; i < a->n; i++) {
		size_t base = (size_t)i * a->npix;
		double ca = a->coef[2 * i], cb = a->coef[2 * i + 1], slope;

		for (size_t j = lo; j < hi; j++) {
			size_t k = (base + j) * a->ld;

			if (a->wt && a->wt[k] == 0)
				continue;
			sigmoid_slope(a->x[k], &slope);
			a->dx[k] += (float)((ca - cb * a->t[k]) * slope);
		}
	}
}

double
dice_loss_logits(int nt, const float *x, const float *t, const float *wt,
		 int ld, int n, size_t npix, float *dx)
{
	struct dice_args a = {
		.x = x, .t = t, .wt = wt, .dx = dx, .ld = ld, .n = n,
		.npix = npix,
	};
	double *part = xmalloc_for((size_t)n * nt * 3, sizeof *part,
				   "the Dice sums");
	double *coef = xmalloc_for((size_t)n * 2, sizeof *coef,
				   "the Dice sums");
	double loss = 0;

	a.part = part;
	pool_run(nt, sums_part, &a);
	for (int i = 0; i < n; i++) {
		double sp = 0, st = 0, spt = 0, num, den;

		for (int k = 0; k < nt; k++) {
			const double *s = part + ((size_t)i * nt + k) * 3;
			sp += s[0];
			st += s[1];
			spt += s[2];
		}
		num = 2 * spt + 1;
		den = sp + st + 1;
		loss += 1 - num / den;
		coef[2 * i] = num / (n * den * den);
		coef[2 * i + 1] = 2 / (n * den);
	}
	if (dx) {
		a.coef = coef;
		pool_run(nt, grad_part, &a);
	}
	free(part);
	free(coef);
	return loss / n;
}
