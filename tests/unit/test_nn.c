/* Unit tests of common/nn: every layer's forward against a direct loop
 * and its backward against central finite differences, max-pool routing,
 * BCE and Adam against hand-computed numbers, Glorot bounds, and the
 * PyTorch layout conversion of unet_param_export/import. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convdirect.h"
#include "isa.h"
#include "nn.h"
#include "optim.h"
#include "rng.h"
#include "tap.h"
#include "unet.h"
#include "util.h"
#include "winograd.h"

static struct rng rng;

/* The threads every layer under test runs on. */
static int threads = 1;

static float *
randv(size_t n, double lo, double hi)
{
	float *v = xmalloc((n ? n : 1) * sizeof *v);

	for (size_t i = 0; i < n; i++)
		v[i] = (float)(lo + (hi - lo) * rng_uniform(&rng));
	return v;
}

static float *
zerov(size_t n)
{
	return xcalloc(n ? n : 1, sizeof(float));
}

/* A layer under test: its buffers, and a forward that returns the scalar
 * loss sum(r .* y) in double. */
struct lcase {
	int kind;
	int n, h, w, cin, cout;
	int ldx, ldy;           /* pixel strides (>= channels) */
	size_t nx, ny, nk;      /* floats in x, y (with strides), kernel */
	float *x, *k, *b, *y, *r;
	float *dx, *dk, *db, *dy;
};

enum { CONV3, UPCONV, CONV1, RELU, MAXPOOL };

static size_t
out_pixels(const struct lcase *c)
{
	size_t p = (size_t)c->n * c->h * c->w;

	return c->kind == UPCONV ? 4 * p : c->kind == MAXPOOL ? p / 4 : p;
}

static double
lforward(struct lcase *c)
{
	size_t np = out_pixels(c), inp = (size_t)c->n * c->h * c->w;
	double s = 0;

	switch (c->kind) {
	case CONV3:
		nn_conv3x3_forward(threads, c->x, c->ldx, c->n, c->h, c->w,
				   c->cin, c->k, c->b, c->cout, c->y, c->ldy,
				   0);
		break;
	case UPCONV:
		nn_upconv_forward(threads, c->x, c->ldx, c->n, c->h, c->w,
				  c->cin, c->k, c->b, c->cout, c->y, c->ldy);
		break;
	case CONV1:
		nn_conv1x1_forward(threads, c->x, c->ldx, inp, c->cin, c->k,
				   c->b, c->cout, c->y, c->ldy);
		break;
	case RELU:
		for (size_t p = 0; p < inp; p++)
			memcpy(c->y + p * c->ldy, c->x + p * c->ldx,
			       c->cin * sizeof(float));
		nn_relu_forward(c->y, c->ldy, inp, c->cin);
		break;
	case MAXPOOL:
		nn_maxpool_forward(threads, c->x, c->ldx, c->n, c->h, c->w,
				   c->cin, c->y, c->ldy);
		break;
	}
	for (size_t p = 0; p < np; p++)
		for (int i = 0; i < c->cout; i++)
			s += (double)c->r[p * c->ldy + i] * c->y[p * c->ldy + i];
	return s;
}

static void
lbackward(struct lcase *c)
{
	size_t inp = (size_t)c->n * c->h * c->w;

	switch (c->kind) {
	case CONV3:
		nn_conv3x3_backward(threads, c->x, c->ldx, c->n, c->h, c->w,
				    c->cin, c->k, c->cout, c->r, c->ldy, c->dx,
				    c->ldx, 0, c->dk, c->db);
		break;
	case UPCONV:
		nn_upconv_backward(threads, c->x, c->ldx, c->n, c->h, c->w,
				   c->cin, c->k, c->cout, c->r, c->ldy, c->dx,
				   c->ldx, 0, c->dk, c->db);
		break;
	case CONV1:
		nn_conv1x1_backward(threads, c->x, c->ldx, inp, c->cin, c->k,
				    c->cout, c->r, c->ldy, c->dx, c->ldx, 0,
				    c->dk, c->db);
		break;
	case RELU:
		lforward(c);
		for (size_t p = 0; p < inp; p++)
			memcpy(c->dx + p * c->ldx, c->r + p * c->ldy,
			       c->cin * sizeof(float));
		nn_relu_backward(threads, c->y, c->ldy, c->dx, c->ldx, inp,
				 c->cin);
		break;
	case MAXPOOL:
		memset(c->dx, 0, c->nx * sizeof(float));
		nn_maxpool_backward(threads, c->x, c->ldx, c->n, c->h, c->w,
				    c->cin, c->r, c->ldy, c->dx, c->ldx, 0);
		break;
	}
}

static struct lcase
lcase_new(int kind, int n, int h, int w, int cin, int cout, int pad)
{
	struct lcase c = {
		.kind = kind, .n = n, .h = h, .w = w, .cin = cin,
		.cout = cout, .ldx = cin + pad, .ldy = cout + pad,
	};

	c.nx = (size_t)n * h * w * c.ldx;
	c.ny = out_pixels(&c) * c.ldy;
	c.nk = kind == CONV1 ? (size_t)cin * cout
	       : kind == CONV3 || kind == UPCONV ? 9 * (size_t)cin * cout : 0;
	c.x = randv(c.nx, -1, 1);
	c.k = randv(c.nk, -0.5, 0.5);
	c.b = randv(cout, -0.5, 0.5);
	c.y = zerov(c.ny);
	c.r = randv(c.ny, -1, 1);
	c.dx = zerov(c.nx);
	c.dk = zerov(c.nk);
	c.db = zerov(cout);
	return c;
}

static void
lcase_free(struct lcase *c)
{
	free(c->x);
	free(c->k);
	free(c->b);
	free(c->y);
	free(c->r);
	free(c->dx);
	free(c->dk);
	free(c->db);
}

/* Central differences of the loss in each of the count values v[i]
 * (pixel stride ld, channels ch, or ld = ch = 1 for a plain array)
 * against the analytic gradient g; the worst relative error. */
static double
fd_check(struct lcase *c, float *v, const float *g, size_t count, int ld,
	 int ch, double h)
{
	double worst = 0;
	/* large cases: a sample of about 300 elements */
	size_t step = count > 600 ? count / 300 | 1 : 1;

	for (size_t j = 0; j < count; j += step) {
		size_t i = j / ch * ld + j % ch;
		float keep = v[i];
		double lp, lm, num, err;

		v[i] = keep + (float)h;
		lp = lforward(c);
		v[i] = keep - (float)h;
		lm = lforward(c);
		v[i] = keep;
		num = (lp - lm) / (2 * h);
		err = fabs(num - g[i]) / (fabs(num) + fabs(g[i]) + 1e-2);
		if (err > worst)
			worst = err;
	}
	return worst;
}

static void
check_layer(const char *name, struct lcase *c, double h, double tol)
{
	size_t inp = (size_t)c->n * c->h * c->w;
	double e;

	lbackward(c);
	e = fd_check(c, c->x, c->dx, inp * c->cin, c->ldx, c->cin, h);
	tap_diag("%s: max relative error d/dx %.2g", name, e);
	tap_ok(e < tol, "%s backward: input gradient", name);
	if (c->nk) {
		e = fd_check(c, c->k, c->dk, c->nk, 1, 1, h);
		tap_diag("%s: max relative error d/dk %.2g", name, e);
		tap_ok(e < tol, "%s backward: kernel gradient", name);
		e = fd_check(c, c->b, c->db, c->cout, 1, 1, h);
		tap_diag("%s: max relative error d/db %.2g", name, e);
		tap_ok(e < tol, "%s backward: bias gradient", name);
	}
}

/* The forward of each layer against its definition, written as directly
 * as possible. */
static void
test_conv3x3_forward(int n, int h, int w, int cin, int cout)
{
	struct lcase c = lcase_new(CONV3, n, h, w, cin, cout, 2);
	double worst = 0;
	int relu_ok = 1;

	lforward(&c);
	for (int i = 0; i < c.n; i++)
		for (int y = 0; y < c.h; y++)
			for (int x = 0; x < c.w; x++)
				for (int co = 0; co < c.cout; co++) {
					double s = c.b[co];
					size_t p = ((size_t)i * c.h + y) * c.w
						   + x;

					for (int ky = 0; ky < 3; ky++)
						for (int kx = 0; kx < 3; kx++) {
							int yy = y + ky - 1;
							int xx = x + kx - 1;

							if (yy < 0 || yy >= c.h
							    || xx < 0
							    || xx >= c.w)
								continue;
							for (int ci = 0;
							     ci < c.cin; ci++)
								s += c.k[((co * 3 + ky) * 3 + kx) * c.cin + ci]
								     * c.x[(((size_t)i * c.h + yy) * c.w + xx) * c.ldx + ci];
						}
					double d = fabs(s - c.y[p * c.ldy + co]);

					worst = d > worst ? d : worst;
				}
	tap_ok(worst < 1e-5, "conv3x3 forward, %d image(s) of %dx%d, %d -> %d "
	       "channels, matches the direct sum (max diff %.2g)", n, w, h,
	       cin, cout, worst);
	float *plain = xmalloc(c.ny * sizeof(float));

	memcpy(plain, c.y, c.ny * sizeof(float));
	nn_conv3x3_forward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k, c.b,
			   c.cout, c.y, c.ldy, 1);
	for (size_t p = 0; p < (size_t)c.n * c.h * c.w; p++)
		for (int co = 0; co < c.cout; co++) {
			float v = plain[p * c.ldy + co];

			if (c.y[p * c.ldy + co] != (v > 0 ? v : 0))
				relu_ok = 0;
		}
	tap_ok(relu_ok, "conv3x3 forward with fused ReLU = ReLU(conv3x3), "
	       "%dx%d", w, h);
	free(plain);
	lcase_free(&c);
}

static void
test_upconv_forward(int h, int w, int cin, int cout)
{
	struct lcase c = lcase_new(UPCONV, 2, h, w, cin, cout, 1);
	int oh = 2 * c.h, ow = 2 * c.w;
	double *ref = xcalloc((size_t)c.n * oh * ow * c.cout, sizeof(double));
	double worst = 0;

	lforward(&c);
	/* PyTorch's definition: each input pixel scatters its kernel */
	for (int i = 0; i < c.n; i++)
		for (int iy = 0; iy < c.h; iy++)
			for (int ix = 0; ix < c.w; ix++)
				for (int ky = 0; ky < 3; ky++)
					for (int kx = 0; kx < 3; kx++) {
						int oy = 2 * iy - 1 + ky;
						int ox = 2 * ix - 1 + kx;

						if (oy < 0 || oy >= oh
						    || ox < 0 || ox >= ow)
							continue;
						for (int ci = 0; ci < c.cin; ci++)
							for (int co = 0; co < c.cout; co++)
								ref[(((size_t)i * oh + oy) * ow + ox) * c.cout + co] +=
									(double)c.x[(((size_t)i * c.h + iy) * c.w + ix) * c.ldx + ci]
									* c.k[((ci * 3 + ky) * 3 + kx) * c.cout + co];
					}
	for (size_t p = 0; p < (size_t)c.n * oh * ow; p++)
		for (int co = 0; co < c.cout; co++) {
			double d = fabs(ref[p * c.cout + co] + c.b[co]
					- c.y[p * c.ldy + co]);

			worst = d > worst ? d : worst;
		}
	tap_ok(worst < 1e-5, "transposed conv forward: %dx%d -> %dx%d, %d -> "
	       "%d channels, matches the definition (max diff %.2g)", w, h,
	       ow, oh, cin, cout, worst);
	free(ref);
	lcase_free(&c);
}

static void
test_conv1x1_forward(void)
{
	struct lcase c = lcase_new(CONV1, 2, 3, 3, 4, 2, 1);
	double worst = 0;

	lforward(&c);
	for (size_t p = 0; p < (size_t)c.n * c.h * c.w; p++)
		for (int co = 0; co < c.cout; co++) {
			double s = c.b[co];

			for (int ci = 0; ci < c.cin; ci++)
				s += (double)c.k[co * c.cin + ci]
				     * c.x[p * c.ldx + ci];
			s = fabs(s - c.y[p * c.ldy + co]);
			worst = s > worst ? s : worst;
		}
	tap_ok(worst < 1e-6, "conv1x1 forward matches the direct sum");
	lcase_free(&c);
}

static void
test_gradients(void)
{
	struct lcase c;

	/* Linear in each argument: a large step is exact up to rounding. */
	c = lcase_new(CONV3, 2, 6, 5, 3, 4, 2);
	check_layer("conv3x3", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(CONV3, 2, 4, 4, 5, 3, 0);
	check_layer("conv3x3 (5 -> 3, dense)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	/* maps of 512 pixels and more take the row-im2col path */
	c = lcase_new(CONV3, 2, 24, 32, 3, 4, 1);
	check_layer("conv3x3 (32x24, strided)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(CONV3, 1, 20, 30, 4, 3, 0);
	check_layer("conv3x3 (30x20, dense)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(UPCONV, 2, 3, 4, 4, 3, 1);
	check_layer("upconv", &c, 1e-1, 1e-3);
	lcase_free(&c);
	/* the direct paths: 8, 16 or 32 output channels, and dx direct too
	 * when the input has 8, 16 or 32 channels */
	c = lcase_new(CONV3, 2, 5, 7, 3, 16, 1);
	check_layer("conv3x3 (3 -> 16, direct)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(CONV3, 1, 6, 9, 16, 8, 2);
	check_layer("conv3x3 (16 -> 8, direct, dx direct)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(CONV3, 1, 4, 8, 32, 16, 1);
	check_layer("conv3x3 (32 -> 16, direct, dx direct)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(CONV3, 1, 5, 6, 12, 32, 0);
	check_layer("conv3x3 (12 -> 32, direct, dx by GEMM)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(UPCONV, 1, 3, 8, 5, 16, 1);
	check_layer("upconv (5 -> 16, direct forward)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(UPCONV, 1, 3, 5, 16, 8, 1);
	check_layer("upconv (16 -> 8, direct forward and backward)", &c, 1e-1,
		    1e-3);
	lcase_free(&c);
	c = lcase_new(CONV1, 2, 4, 4, 5, 2, 1);
	check_layer("conv1x1", &c, 1e-1, 1e-3);
	lcase_free(&c);
	c = lcase_new(CONV1, 2, 4, 4, 5, 1, 1);
	check_layer("conv1x1 (5 -> 1)", &c, 1e-1, 1e-3);
	lcase_free(&c);

	/* Piecewise linear: keep the inputs away from the kinks. */
	c = lcase_new(RELU, 2, 4, 4, 3, 3, 1);
	for (size_t i = 0; i < c.nx; i++)
		c.x[i] = c.x[i] < 0 ? c.x[i] - 0.1f : c.x[i] + 0.1f;
	check_layer("relu", &c, 1e-2, 1e-3);
	lcase_free(&c);
	c = lcase_new(MAXPOOL, 2, 6, 4, 3, 3, 1);
	/* distinct values, at least 0.05 apart */
	int *perm = xmalloc(c.nx * sizeof *perm);

	for (size_t i = 0; i < c.nx; i++)
		perm[i] = (int)i;
	rng_shuffle(&rng, perm, (int)c.nx);
	for (size_t i = 0; i < c.nx; i++)
		c.x[i] = (float)(perm[i] * 0.05);
	free(perm);
	check_layer("maxpool", &c, 1e-2, 1e-3);
	lcase_free(&c);
}

/* Several threads agree with one (to rounding: GEMM tiles differ) and
 * with themselves (bit for bit), for each layer and for one image whose
 * rows the threads share; 16 threads on maps of fewer rows than that. */
static void
test_threads(void)
{
	const char *names[] = { "conv3x3", "upconv", "conv1x1", "maxpool" };
	int kinds[] = { CONV3, UPCONV, CONV1, MAXPOOL };

	/* sizes: 10 x 6, the smallest (fewer rows than threads), and 40 x 30
	 * (the row-im2col path of the 3x3 convolution) */
	/* sz 4: 16 channels in and out (5 for maxpool), the direct paths */
	for (int kind = 0; kind < 4; kind++)
		for (int sz = 0; sz < 5; sz++) {
			int n = sz == 1 ? 3 : 1;
			int h = sz == 2 ? (kinds[kind] == MAXPOOL ? 2 : 1)
				: sz == 3 ? 30 : 10;
			int w = sz == 2 ? h : sz == 3 ? 40 : 6;
			int cout = kinds[kind] == MAXPOOL ? 5 : sz == 4 ? 16 : 6;
			int cin = sz == 4 && kinds[kind] != MAXPOOL ? 16 : 5;
			struct lcase c = lcase_new(kinds[kind], n, h, w, cin,
						   cout, 1);
			float *y1 = xmalloc(c.ny * sizeof(float));
			float *dx1 = xmalloc(c.nx * sizeof(float));
			float *dk1 = zerov(c.nk), *y2 = zerov(c.ny);
			float *dx2 = zerov(c.nx), *dk2 = zerov(c.nk);
			double d = 0;
			int same = 1;

			lforward(&c);
			lbackward(&c);
			memcpy(y1, c.y, c.ny * sizeof(float));
			memcpy(dx1, c.dx, c.nx * sizeof(float));
			memcpy(dk1, c.dk, c.nk * sizeof(float));
			for (int nt = 2; nt <= 16; nt = nt == 3 ? 16 : nt + 1) {
				threads = nt;
				for (int rep = 0; rep < 2; rep++) {
					memset(c.dk, 0, c.nk * sizeof(float));
					memset(c.db, 0, c.cout * sizeof(float));
					lforward(&c);
					lbackward(&c);
					if (rep == 1 && (memcmp(y2, c.y, c.ny * sizeof(float))
					    || memcmp(dx2, c.dx, c.nx * sizeof(float))
					    || memcmp(dk2, c.dk, c.nk * sizeof(float))))
						same = 0;
					memcpy(y2, c.y, c.ny * sizeof(float));
					memcpy(dx2, c.dx, c.nx * sizeof(float));
					memcpy(dk2, c.dk, c.nk * sizeof(float));
				}
				/* relative to 1 + |value| */
				for (size_t i = 0; i < c.ny; i++)
					d = fmax(d, fabs(y1[i] - c.y[i])
						 / (1 + fabs(y1[i])));
				for (size_t i = 0; i < c.nx; i++)
					d = fmax(d, fabs(dx1[i] - c.dx[i])
						 / (1 + fabs(dx1[i])));
				for (size_t i = 0; i < c.nk; i++)
					d = fmax(d, fabs(dk1[i] - c.dk[i])
						 / (1 + fabs(dk1[i])));
			}
			threads = 1;
			tap_ok(d < 1e-4 && same, "%s, %d image(s) of %dx%d, "
			       "%d channels out: 2, 3 and 16 threads agree "
			       "with 1 (max relative diff %.2g) and with "
			       "themselves",
			       names[kind], n, w, h, cout, d);
			free(y1);
			free(dx1);
			free(dk1);
			free(y2);
			free(dx2);
			free(dk2);
			lcase_free(&c);
		}
}

static void
test_maxpool_routing(void)
{
	/* one image 2x4, one channel: windows [1 3 / 3 2] and [5 5 / 5 5] */
	float x[8] = { 1, 3, 5, 5, 3, 2, 5, 5 };
	float y[2], dy[2] = { 10, 20 }, dx[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	float want[8] = { 0, 10, 20, 0, 0, 0, 0, 1 };

	nn_maxpool_forward(threads, x, 1, 1, 2, 4, 1, y, 1);
	tap_ok(y[0] == 3 && y[1] == 5, "maxpool forward: window maxima");
	nn_maxpool_backward(threads, x, 1, 1, 2, 4, 1, dy, 1, dx, 1, 0);
	tap_ok(memcmp(dx, want, sizeof want) == 0, "maxpool backward: to the "
	       "first maximum in row-major order, added to dx");

	/* x a ReLU output with zeros: [0 0 / 2 0] and [4 0 / 0 1] */
	float xr[8] = { 0, 0, 4, 0, 2, 0, 0, 1 };
	float dxr[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	float wantr[8] = { 0, 0, 3 + 20, 0, 5 + 10, 0, 0, 8 };

	nn_maxpool_backward(threads, xr, 1, 1, 2, 4, 1, dy, 1, dxr, 1, 1);
	tap_ok(memcmp(dxr, wantr, sizeof wantr) == 0, "maxpool backward with "
	       "mask: added, then zero where x <= 0");
}

/* conv3x3 backward computes the kernel gradient two ways, with and
 * without dx: they agree */
static void
test_conv_no_dx(void)
{
	struct lcase c = lcase_new(CONV3, 2, 24, 24, 3, 4, 1);
	float *dk = zerov(c.nk), *db = zerov(c.cout);
	double d = 0;

	nn_conv3x3_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			    c.cout, c.r, c.ldy, c.dx, c.ldx, 0, c.dk, c.db);
	nn_conv3x3_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			    c.cout, c.r, c.ldy, NULL, c.ldx, 0, dk, db);
	for (size_t i = 0; i < c.nk; i++)
		d = fmax(d, fabs(dk[i] - c.dk[i]) / (1 + fabs(dk[i])));
	for (int i = 0; i < c.cout; i++)
		d = fmax(d, fabs(db[i] - c.db[i]) / (1 + fabs(db[i])));
	tap_ok(d < 1e-4, "conv3x3 backward without dx: the same kernel and "
	       "bias gradients (max relative diff %.2g)", d);
	free(dk);
	free(db);
	lcase_free(&c);
}

/* NN_BF16 on a Winograd layer (F(2x2) forced, as bf16 takes it): the
 * input gradient within bf16's rounding of fp32's (relative to the sum of
 * |dy||k| it sums: 0.0022 at most in test_winograd's forward, 0.0014
 * here; a wrong product would be off by the order of 1) and not its
 * bits; the kernel and bias gradients, fp32 in both, the same bits.
 * Where the path has no bf16, nn_set_precision says fp32. */
/* The sum of |dy| |k| over the terms of conv3x3's input gradient at
 * pixel (y, x) of image n, channel i. */
static double
abs_terms(const struct lcase *c, int n, int y, int x, int i)
{
	double s = 0;

	for (int ky = 0; ky < 3; ky++)
		for (int kx = 0; kx < 3; kx++) {
			int sy = y - ky + 1, sx = x - kx + 1;
			if (sy < 0 || sy >= c->h || sx < 0 || sx >= c->w)
				continue;
			for (int o = 0; o < c->cout; o++)
				s += fabs(c->r[(((size_t)n * c->h + sy) * c->w
						+ sx) * c->ldy + o]) *
				     fabs(c->k[((size_t)o * 9 + ky * 3 + kx) *
					       c->cin + i]);
		}
	return s;
}

static void
test_bf16_backward(void)
{
	struct lcase c = lcase_new(CONV3, 2, 12, 12, 32, 48, 0);
	float *dx = zerov(c.nx), *dk = zerov(c.nk), *db = zerov(c.cout);
	double worst = 0, scale = 0;
	int same_dx = 1;

	nn_set_winograd(2);
	if (nn_set_precision(NN_BF16) != NN_BF16) {
		tap_ok(!winograd_bf16_available(),
		       "# SKIP no bf16 on this path: nn_set_precision says fp32");
		nn_set_precision(NN_FP32);
		nn_set_winograd(0);
		lcase_free(&c);
		free(dx), free(dk), free(db);
		return;
	}
	nn_conv3x3_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			    c.cout, c.r, c.ldy, dx, c.ldx, 0, dk, db);
	nn_set_precision(NN_FP32);
	nn_conv3x3_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			    c.cout, c.r, c.ldy, c.dx, c.ldx, 0, c.dk, c.db);
	for (int n = 0; n < c.n; n++)
		for (int y = 0; y < c.h; y++)
			for (int x = 0; x < c.w; x++)
				for (int i = 0; i < c.cin; i++) {
					size_t at = (((size_t)n * c.h + y) * c.w
						     + x) * c.cin + i;
					scale = abs_terms(&c, n, y, x, i);
					worst = fmax(worst, fabs(dx[at] -
							 c.dx[at]) / scale);
					same_dx &= dx[at] == c.dx[at];
				}
	tap_ok(worst < 0.004 && !same_dx,
	       "bf16 backward: the input gradient within %.2g of the sum of "
	       "|dy||k| (at most 0.004), not fp32's bits", worst);
	tap_ok(memcmp(dk, c.dk, c.nk * sizeof *dk) == 0 &&
		       memcmp(db, c.db, c.cout * sizeof *db) == 0,
	       "bf16 backward: the kernel and bias gradients fp32's bits");
	nn_set_winograd(0);
	free(dx), free(dk), free(db);
	lcase_free(&c);
}

/* mask = 1 in a backward pass equals a ReLU backward (zero where x <= 0)
 * applied to its dx */
static void
test_masks(void)
{
	struct lcase c = lcase_new(CONV3, 2, 4, 5, 3, 4, 1);
	float *plain = xmalloc(c.nx * sizeof(float));
	int ok3 = 1, oku = 1, ok1 = 1;

	for (size_t i = 0; i < c.nx; i++)
		c.x[i] = c.x[i] < 0 ? 0 : c.x[i];
	nn_conv3x3_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			    c.cout, c.r, c.ldy, c.dx, c.ldx, 0, c.dk, c.db);
	memcpy(plain, c.dx, c.nx * sizeof(float));
	nn_relu_backward(threads, c.x, c.ldx, plain, c.ldx,
			 (size_t)c.n * c.h * c.w, c.cin);
	nn_conv3x3_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			    c.cout, c.r, c.ldy, c.dx, c.ldx, 1, c.dk, c.db);
	for (size_t p = 0; p < (size_t)c.n * c.h * c.w; p++)
		for (int i = 0; i < c.cin; i++)
			if (c.dx[p * c.ldx + i] != plain[p * c.ldx + i])
				ok3 = 0;
	tap_ok(ok3, "conv3x3 backward with mask = ReLU backward of dx");
	lcase_free(&c);

	c = lcase_new(UPCONV, 2, 3, 2, 3, 2, 1);
	for (size_t i = 0; i < c.nx; i++)
		c.x[i] = c.x[i] < 0 ? 0 : c.x[i];
	nn_upconv_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			   c.cout, c.r, c.ldy, c.dx, c.ldx, 0, c.dk, c.db);
	memcpy(plain, c.dx, c.nx * sizeof(float));
	nn_relu_backward(threads, c.x, c.ldx, plain, c.ldx,
			 (size_t)c.n * c.h * c.w, c.cin);
	nn_upconv_backward(threads, c.x, c.ldx, c.n, c.h, c.w, c.cin, c.k,
			   c.cout, c.r, c.ldy, c.dx, c.ldx, 1, c.dk, c.db);
	for (size_t p = 0; p < (size_t)c.n * c.h * c.w; p++)
		for (int i = 0; i < c.cin; i++)
			if (c.dx[p * c.ldx + i] != plain[p * c.ldx + i])
				oku = 0;
	tap_ok(oku, "upconv backward with mask = ReLU backward of dx");
	lcase_free(&c);

	c = lcase_new(CONV1, 2, 3, 3, 3, 2, 1);
	for (size_t i = 0; i < c.nx; i++)
		c.x[i] = c.x[i] < 0 ? 0 : c.x[i];
	nn_conv1x1_backward(threads, c.x, c.ldx, (size_t)c.n * c.h * c.w, c.cin,
			    c.k, c.cout, c.r, c.ldy, c.dx, c.ldx, 0, c.dk,
			    c.db);
	memcpy(plain, c.dx, c.nx * sizeof(float));
	nn_relu_backward(threads, c.x, c.ldx, plain, c.ldx,
			 (size_t)c.n * c.h * c.w, c.cin);
	nn_conv1x1_backward(threads, c.x, c.ldx, (size_t)c.n * c.h * c.w, c.cin,
			    c.k, c.cout, c.r, c.ldy, c.dx, c.ldx, 1, c.dk,
			    c.db);
	for (size_t p = 0; p < (size_t)c.n * c.h * c.w; p++)
		for (int i = 0; i < c.cin; i++)
			if (c.dx[p * c.ldx + i] != plain[p * c.ldx + i])
				ok1 = 0;
	tap_ok(ok1, "conv1x1 backward with mask = ReLU backward of dx");
	lcase_free(&c);

	c = lcase_new(CONV1, 2, 3, 3, 4, 1, 1);
	for (size_t i = 0; i < c.nx; i++)
		c.x[i] = c.x[i] < 0 ? 0 : c.x[i];
	nn_conv1x1_backward(threads, c.x, c.ldx, (size_t)c.n * c.h * c.w, c.cin,
			    c.k, c.cout, c.r, c.ldy, c.dx, c.ldx, 0, c.dk,
			    c.db);
	memcpy(plain, c.dx, c.nx * sizeof(float));
	nn_relu_backward(threads, c.x, c.ldx, plain, c.ldx,
			 (size_t)c.n * c.h * c.w, c.cin);
	nn_conv1x1_backward(threads, c.x, c.ldx, (size_t)c.n * c.h * c.w, c.cin,
			    c.k, c.cout, c.r, c.ldy, c.dx, c.ldx, 1, c.dk,
			    c.db);
	ok1 = 1;
	for (size_t p = 0; p < (size_t)c.n * c.h * c.w; p++)
		for (int i = 0; i < c.cin; i++)
			if (c.dx[p * c.ldx + i] != plain[p * c.ldx + i])
				ok1 = 0;
	tap_ok(ok1, "conv1x1 to one channel: backward with mask = ReLU "
	       "backward of dx");
	free(plain);
	lcase_free(&c);
}

static double
softplus(double v)
{
	return log(1 + exp(v));
}

static void
test_sigmoid(void)
{
	float x[] = {0, 2, -2, 88, -100, 1e30f, -1e30f}, p[7], q[7];
	int ok = 1;

	nn_sigmoid(1, x, p, 7);
	for (int i = 0; i < 5; i++)
		ok &= p[i] == (float)(1 / (1 + exp(-(double)x[i])));
	tap_ok(ok && p[0] == 0.5f && p[1] + p[2] == 1.0f && p[3] == 1.0f &&
	       p[4] > 0 && p[4] < 1e-43f && p[5] == 1.0f && p[6] == 0.0f,
	       "nn_sigmoid: 1 / (1 + e^-x) in double, saturating");
	nn_sigmoid(3, x, q, 7);
	tap_ok(memcmp(q, p, sizeof p) == 0, "nn_sigmoid: the same bits on 3 "
	       "threads");
	nn_sigmoid(2, x, x, 7);
	tap_ok(memcmp(x, p, sizeof p) == 0, "nn_sigmoid: in place");
}

static void
test_bce(void)
{
	float x[6] = { 0, 2, -3, 0.5f, 100, -100 };
	float t[6] = { 1, 0, 1, 1, 0, 1 };
	float g[6];
	double pws[2] = { 1, 2.5 };

	for (int k = 0; k < 2; k++) {
		double pw = pws[k], want = 0, worst = 0;
		double l = nn_bce_logits(threads, x, t, NULL, 6, (float)pw, g);

		/* by hand: -pw log s(x) for a positive, -log(1 - s(x)) for a
		 * negative; the two extreme logits asymptotically */
		want += pw * log(2);               /* x = 0, y = 1 */
		want += softplus(2);               /* x = 2, y = 0 */
		want += pw * softplus(3);          /* x = -3, y = 1 */
		want += pw * softplus(-0.5);       /* x = 0.5, y = 1 */
		want += 100;                       /* x = 100, y = 0 */
		want += pw * 100;                  /* x = -100, y = 1 */
		want /= 6;
		tap_ok(fabs(l - want) < 1e-12 * (1 + want),
		       "BCE, pos_weight %g: %.12g, by hand %.12g", pw, l, want);

		double sg[6] = {
			-pw * 0.5, 1 / (1 + exp(-2.0)),
			-pw * (1 - 1 / (1 + exp(3.0))),
			-pw * (1 - 1 / (1 + exp(-0.5))), 1, -pw,
		};
		for (int i = 0; i < 6; i++) {
			double d = fabs(g[i] - sg[i] / 6);

			worst = d > worst ? d : worst;
		}
		tap_ok(worst < 1e-7, "BCE gradient, pos_weight %g (max diff %.2g)",
		       pw, worst);
	}
	tap_ok(nn_bce_logits(threads, x, t, NULL, 6, 1, NULL)
	       == nn_bce_logits(threads, x, t, NULL, 6, 1, g),
	       "BCE without gradient: same loss");
}

static void
test_adam(void)
{
	/* two parameters, lr 0.1, three steps with gradients (0.5, -2),
	 * (-1, 0), (0.25, 1e-9); expected values from the update rule
	 * worked out in double */
	float p[2] = { 1, -1 }, m[2] = { 0, 0 }, v[2] = { 0, 0 };
	float g[3][2] = { { 0.5f, -2 }, { -1, 0 }, { 0.25f, 1e-9f } };
	double want[3][2] = {
		{ 0.900000019999996, -0.900000005000000 },
		{ 0.936610368073392, -0.832994184325558 },
		{ 0.950279432311758, -0.781198491596886 },
	};

	for (int t = 0; t < 3; t++) {
		adam_update(1, p, g[t], m, v, 2, 0.1, 0.9, 0.999, 1e-7, t + 1);
		tap_ok(fabs(p[0] - want[t][0]) < 1e-6
		       && fabs(p[1] - want[t][1]) < 1e-6,
		       "Adam step %d: (%.9f, %.9f)", t + 1, p[0], p[1]);
	}
}

static void
test_glorot(void)
{
	struct unet_config cfg = { 3, 4, 3, 1 };
	struct unet *a = unet_new(&cfg), *b = unet_new(&cfg), *c;
	int bounds_ok = 1, same = 1, spread = 1;

	unet_init_glorot(a, 42);
	unet_init_glorot(b, 42);
	for (int i = 0; i < unet_param_count(a); i++) {
		struct unet_param *p = unet_param_at(a, i);
		struct unet_param *q = unet_param_at(b, i);
		double bound = 0, mx = 0;

		if (memcmp(p->value, q->value, p->count * sizeof(float)))
			same = 0;
		if (p->ndim == 4) {
			int rf = p->shape[2] * p->shape[3];

			bound = sqrt(6.0 / ((p->shape[0] + p->shape[1]) * rf));
		}
		for (size_t j = 0; j < p->count; j++) {
			double v = fabs(p->value[j]);

			if (v > bound * (1 + 1e-6))
				bounds_ok = 0;
			mx = v > mx ? v : mx;
		}
		/* with >= 36 draws the largest is near the bound */
		if (p->ndim == 4 && p->count >= 36 && mx < 0.8 * bound)
			spread = 0;
	}
	tap_ok(bounds_ok, "Glorot: kernels within sqrt(6 / (fan_in + "
	       "fan_out)), biases zero");
	tap_ok(spread, "Glorot: kernels fill their range");
	tap_ok(same, "Glorot: the same seed gives the same weights");
	c = unet_new(&cfg);
	unet_init_glorot(c, 43);
	tap_ok(memcmp(unet_param_at(a, 1)->value, unet_param_at(c, 1)->value,
		      unet_param_at(a, 1)->count * sizeof(float)) != 0,
	       "Glorot: another seed gives other weights");
	unet_free(a);
	unet_free(b);
	unet_free(c);
}

static struct unet_param *
find_param(struct unet *net, const char *name)
{
	for (int i = 0; i < unet_param_count(net); i++)
		if (strcmp(unet_param_at(net, i)->name, name) == 0)
			return unet_param_at(net, i);
	return NULL;
}

static void
test_layout(void)
{
	struct unet_config cfg = { 3, 4, 3, 1 };
	struct unet *net = unet_new(&cfg);
	int all_ok = 1;

	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);
		float *t = randv(p->count, -1, 1), *back = zerov(p->count);

		unet_param_import(p, t);
		unet_param_export(p, back);
		if (memcmp(t, back, p->count * sizeof(float)) != 0)
			all_ok = 0;
		free(t);
		free(back);
	}
	tap_ok(all_ok, "export(import(t)) == t for every parameter");

	/* c2.conv1.weight: PyTorch [8][4][3][3]; element [o=5][i=2][ky=1]
	 * [kx=2] is ours [o][ky][kx][i] */
	struct unet_param *p = find_param(net, "c2.conv1.weight");
	float *t = zerov(p->count);

	t[((5 * 4 + 2) * 3 + 1) * 3 + 2] = 7;
	unet_param_import(p, t);
	tap_ok(p->shape[0] == 8 && p->shape[1] == 4
	       && p->value[((5 * 3 + 1) * 3 + 2) * 4 + 2] == 7,
	       "conv kernel: PyTorch [Cout][Cin][ky][kx] -> ours "
	       "[Cout][ky][kx][Cin]");
	free(t);

	/* u5.weight: PyTorch [Cin 8][Cout 4][3][3]; element [i=6][o=3][ky=2]
	 * [kx=0] is ours [i][ky][kx][o] */
	p = find_param(net, "u5.weight");
	t = zerov(p->count);
	t[((6 * 4 + 3) * 3 + 2) * 3 + 0] = -3;
	unet_param_import(p, t);
	tap_ok(p->shape[0] == 8 && p->shape[1] == 4
	       && p->value[((6 * 3 + 2) * 3 + 0) * 4 + 3] == -3,
	       "transposed conv kernel: PyTorch [Cin][Cout][ky][kx] -> ours "
	       "[Cin][ky][kx][Cout]");
	free(t);
	unet_free(net);
}

/* The direct convolution (kind, cin -> cout, 2 images of w x h) gives
 * what the GEMM paths give, forward and backward, up to rounding
 * (relative to 1 + |value|), on 2 threads. */
static void
direct_vs_gemm(int kind, int cin, int cout, int h, int w)
{
	struct lcase c = lcase_new(kind, 2, h, w, cin, cout, 1);
	float *y = xmalloc(c.ny * sizeof(float));
	float *dx = xmalloc(c.nx * sizeof(float));
	float *dk = xmalloc(c.nk * sizeof(float));
	float *db = xmalloc(c.cout * sizeof(float));
	int direct = nn_conv_direct(c.w, c.cin, c.cout);
	double d = 0;

	threads = 2;
	nn_set_direct(0);
	lforward(&c);
	lbackward(&c);
	memcpy(y, c.y, c.ny * sizeof(float));
	memcpy(dx, c.dx, c.nx * sizeof(float));
	memcpy(dk, c.dk, c.nk * sizeof(float));
	memcpy(db, c.db, c.cout * sizeof(float));
	nn_set_direct(1);
	memset(c.dk, 0, c.nk * sizeof(float));
	memset(c.db, 0, c.cout * sizeof(float));
	lforward(&c);
	lbackward(&c);
	for (size_t j = 0; j < c.ny; j++)
		d = fmax(d, fabs(y[j] - c.y[j]) / (1 + fabs(y[j])));
	for (size_t j = 0; j < c.nx; j++)
		d = fmax(d, fabs(dx[j] - c.dx[j]) / (1 + fabs(dx[j])));
	for (size_t j = 0; j < c.nk; j++)
		d = fmax(d, fabs(dk[j] - c.dk[j]) / (1 + fabs(dk[j])));
	for (int j = 0; j < c.cout; j++)
		d = fmax(d, fabs(db[j] - c.db[j]) / (1 + fabs(db[j])));
	tap_ok(d < 1e-4, "%s %d -> %d on %dx%d: the %s path equals the "
	       "GEMMs (max relative diff %.2g)",
	       kind == CONV3 ? "conv3x3" : "upconv", c.cin, c.cout, w, h,
	       direct ? "direct" : "(no direct on this CPU)", d);
	free(y);
	free(dx);
	free(dk);
	free(db);
	lcase_free(&c);
	threads = 1;
}

/* The direct convolutions against the GEMM paths: on maps of 500 pixels
 * and more, where the GEMMs take their row-im2col path, and on maps of a
 * single pixel, row or column. */
static void
test_direct_vs_gemm(void)
{
	static const int shapes[][5] = {
		/* kind, cin, cout, h, w */
		{ CONV3, 3, 16, 20, 27 }, { CONV3, 16, 16, 20, 27 },
		{ CONV3, 32, 16, 20, 27 }, { CONV3, 16, 32, 20, 27 },
		{ CONV3, 8, 8, 20, 27 }, { UPCONV, 32, 16, 10, 27 },
		{ UPCONV, 64, 32, 10, 27 },
		/* wider: several blocks of 16 (AVX2) or 32 (AVX-512) */
		{ CONV3, 64, 64, 9, 13 }, { CONV3, 16, 64, 6, 11 },
		{ UPCONV, 64, 64, 5, 9 },
		/* several blocks of output channels, several tiles of rows
		 * in an image (w 64: 4 rows a tile), either way */
		{ CONV3, 64, 96, 9, 64 }, { CONV3, 96, 64, 9, 64 },
		/* input channels not a multiple of the weight gradient's
		 * blocks (AVX-512: 8 for 16 outputs, 4 for 32) */
		{ CONV3, 11, 16, 20, 27 }, { CONV3, 10, 32, 6, 11 },
		/* maps of one pixel, one row, one column */
		{ CONV3, 16, 16, 1, 1 }, { CONV3, 8, 16, 1, 9 },
		{ CONV3, 16, 8, 9, 1 }, { UPCONV, 16, 16, 1, 1 },
		{ UPCONV, 8, 8, 1, 7 }, { UPCONV, 16, 32, 7, 1 },
	};

	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		direct_vs_gemm(shapes[i][0], shapes[i][1], shapes[i][2],
			       shapes[i][3], shapes[i][4]);
}

/* The direct convolution with its kernel packed by blocks of 32 (AVX-512)
 * or 16 (AVX2) output channels, two and more blocks each way, maps of
 * several tiles of rows (w 64: 4 rows a tile), and the weight gradient of
 * many blocks. Last in main: the random data of the other tests stays
 * what it was. */
static void
test_packed_blocks(void)
{
	struct lcase c;

	test_conv3x3_forward(2, 9, 64, 16, 96);
	c = lcase_new(CONV3, 2, 5, 4, 32, 64, 1);
	check_layer("conv3x3 (32 -> 64, direct, dx direct)", &c, 1e-1, 1e-3);
	lcase_free(&c);
	/* 256 output channels: the weight gradient gathers its inputs
	 * first, by groups of (tap, channel) pairs within a tap (40) and
	 * across taps (3) */
	nn_reserve(256, 1);
	direct_vs_gemm(CONV3, 40, 256, 7, 10);
	direct_vs_gemm(CONV3, 3, 256, 5, 9);
	/* the transposed convolution, its kernel packed too */
	direct_vs_gemm(UPCONV, 96, 64, 5, 9);
}

/* Where the direct path stops: at output channels other than 8, 16 and
 * multiples of two vectors; with the plain kernels (UNETPIPE_ISA=plain)
 * it is never taken. */
static void
test_direct_limits(void)
{
	size_t any = (size_t)-1;
	int wide = isa_current() == ISA_AVX512;

	if (isa_current() == ISA_PLAIN) {
		tap_ok(!convdirect_available(16, 8, 3, any) &&
			       !convdirect_upback_available(16, 16, 8, any),
		       "the plain kernels take no direct path");
		return;
	}
	tap_ok(convdirect_available(64, 8, 64, any) &&
		       convdirect_available(48, 8, 64, any) == !wide,
	       "the direct path takes 64 output channels, 48 with AVX2 only "
	       "(%s)", isa_name(isa_current()));
	tap_ok(convdirect_available(16, 8, 3, any) &&
		       convdirect_available(512, 8, 512, any) &&
		       convdirect_available(1024, 8, 1024, any) &&
		       convdirect_upback_available(1024, 512, 8, any) &&
		       !convdirect_upback_available(1024, 24, 8, any) &&
		       !convdirect_available(24, 8, 16, any),
	       "the direct path takes 8, 16 and multiples of %d output "
	       "channels, up to 1024 x 1024 channel pairs and beyond",
	       wide ? 32 : 16);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	rng_seed(&rng, 1);
	nn_reserve(96, 1);
	/* the direct and GEMM paths; Winograd's are test_winograd's, and
	 * test_bf16_backward's here */
	nn_set_winograd(0);
	test_conv3x3_forward(2, 5, 6, 3, 4);
	test_conv3x3_forward(2, 24, 30, 3, 4);
	/* 8, 16, 32 and 64 output channels take the direct path (on AVX2 or
	 * AVX-512) */
	test_conv3x3_forward(2, 5, 7, 3, 16);
	test_conv3x3_forward(1, 9, 13, 16, 8);
	test_conv3x3_forward(1, 6, 20, 5, 32);
	test_conv3x3_forward(1, 7, 10, 9, 64);
	test_upconv_forward(3, 4, 3, 2);
	test_upconv_forward(3, 8, 5, 16);
	test_upconv_forward(4, 13, 16, 8);
	test_upconv_forward(2, 7, 4, 32);
	test_upconv_forward(2, 3, 6, 64);
	test_conv1x1_forward();
	test_gradients();
	test_threads();
	test_direct_vs_gemm();
	test_direct_limits();
	test_maxpool_routing();
	test_masks();
	test_conv_no_dx();
	test_bf16_backward();
	test_sigmoid();
	test_bce();
	test_adam();
	test_glorot();
	test_layout();
	test_packed_blocks();
	return tap_done();
}
