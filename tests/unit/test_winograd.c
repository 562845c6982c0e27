/* Unit tests of the Winograd convolutions (common/winograd, through nn's
 * 3x3 convolution with nn_set_winograd forcing F(2x2) and F(4x4)): forward
 * (bias, ReLU), input gradient (with and without the ReLU mask) and weight
 * gradient against the direct definition in double, each output's error
 * relative to the sum of |terms| it adds (sum |x||k| for y); odd map sizes,
 * channel counts not a multiple of the vector, buffers wider than their
 * channels; the same bits with 1, 2 and 3 threads. The forward with bf16
 * products (nn_set_precision) against the same definition, where the CPU
 * has AVX512_BF16; elsewhere it must give fp32's bits. On the plain path
 * (UNETPIPE_ISA=plain) Winograd is never chosen, which is checked too.
 * nn_keep_kernels: the kept kernels give the same bits, and are kept. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "nn.h"
#include "rng.h"
#include "tap.h"
#include "util.h"
#include "winograd_isa.h"

/* The bounds asserted; measured maxima are printed (F(2x2) about 1e-7,
 * F(4x4) a few 1e-6 on these data). */
#define BOUND2 1e-6
#define BOUND4 1e-5

/* With bf16 products (nn_set_precision(NN_BF16)): the transformed input
 * and kernel rounded to bf16, each by at most 2^-8 of itself, so each
 * product by 2 x 2^-8, which the output transform sums with F(m)'s
 * weights, against sums of |x||k| that can be smaller than the
 * transformed values: bounds of 2^-8 for F(2x2) and 16 x 2^-8 for F(4x4)
 * (measured maxima 0.6 and 9 x 2^-8 on these data; the largest of F(4x4)
 * on the 64 x 64 and the 16-channel maps, whose outputs are many or sum
 * few products). nn takes F(2x2) with bf16. */
#define BOUND_BF16_2 (1.0 / 256)
#define BOUND_BF16_4 (16.0 / 256)

static struct rng rng;

static float *
random_floats(size_t n)
{
	float *p = xmalloc_for(n, sizeof(float), "test data");

	for (size_t i = 0; i < n; i++)
		p[i] = (float)(rng_uniform(&rng) * 2 - 1);
	return p;
}

struct shape {
	int n, h, w, cin, cout;
};

/* The pixel of image i at (y, x), or -1 outside the map. */
static long
pix(const struct shape *s, int i, int y, int x)
{
	if (y < 0 || y >= s->h || x < 0 || x >= s->w)
		return -1;
	return ((long)i * s->h + y) * s->w + x;
}

/* Largest |got - want| / scale over the count values. */
static double
worst(const float *got, int ldg, const double *want, const double *scale,
      size_t npix, int c)
{
	double e = 0;

	for (size_t p = 0; p < npix; p++)
		for (int i = 0; i < c; i++) {
			double d = fabs(got[p * ldg + i] - want[p * c + i]);
			double sc = scale[p * c + i] > 0 ? scale[p * c + i] : 1;

			if (!(d / sc <= e))
				e = d / sc;
		}
	return e;
}

/* 1 when the floats of the pixels' padding (channels c .. ld-1) still hold
 * the sentinel. */
static int
padding_kept(const float *p, int ld, size_t npix, int c)
{
	for (size_t q = 0; q < npix; q++)
		for (int i = c; i < ld; i++)
			if (p[q * ld + i] != 1234.5f)
				return 0;
	return 1;
}

static float *
sentinel_floats(size_t n)
{
	float *p = xmalloc_for(n, sizeof(float), "test output");

	for (size_t i = 0; i < n; i++)
		p[i] = 1234.5f;
	return p;
}

/* The forward with nn_set_precision(NN_BF16) against the definition (yr,
 * with ys the sums of |x||k|) and against fp32's output y32: where the
 * CPU has AVX512_BF16, within BOUND_BF16_m and not fp32's bits (the bf16
 * products ran), the same bits with 1 and 2 threads; elsewhere fp32's
 * bits. */
static void
test_bf16(int m, const struct shape *s, const float *x, int ldx,
	  const float *k, const float *b, const float *y32, const double *yr,
	  const double *ys)
{
	int cin = s->cin, cout = s->cout, ldy = cout + 3;
	size_t npix = (size_t)s->n * s->h * s->w, bytes;
	float *y[2];
	int bf16 = nn_set_precision(NN_BF16) == NN_BF16;
	double e, bound = m == 2 ? BOUND_BF16_2 : BOUND_BF16_4;

	bytes = npix * ldy * sizeof(float);
	for (int nt = 1; nt <= 2; nt++) {
		y[nt - 1] = sentinel_floats(npix * ldy);
		nn_conv3x3_forward(nt, x, ldx, s->n, s->h, s->w, cin, k, b,
				   cout, y[nt - 1], ldy, 0);
	}
	nn_set_precision(NN_FP32);
	e = worst(y[0], ldy, yr, ys, npix, cout);
	if (bf16)
		tap_ok(e <= bound && padding_kept(y[0], ldy, npix, cout)
		       && memcmp(y[0], y32, bytes) != 0 &&
		       memcmp(y[0], y[1], bytes) == 0,
		       "F(%dx%d) bf16 forward %dx%dx%dx%d -> %d: error %.2g of "
		       "sum |x||k| (bound %.2g), not fp32's bits, the same "
		       "bits with 1 and 2 threads", m, m, s->n, s->h, s->w,
		       cin, cout, e, bound);
	else
		tap_ok(memcmp(y[0], y32, bytes) == 0 &&
		       memcmp(y[1], y32, bytes) == 0,
		       "F(%dx%d) bf16 without AVX512_BF16: fp32's bits", m, m);
	free(y[0]);
	free(y[1]);
}

static void
test_shape(int m, const struct shape *s)
{
	int cin = s->cin, cout = s->cout, ldx = cin + 5, ldy = cout + 3;
	int lddx = cin + 2;
	size_t npix = (size_t)s->n * s->h * s->w, nk = (size_t)9 * cin * cout;
	float *x = random_floats(npix * ldx), *k = random_floats(nk);
	float *b = random_floats(cout), *dy = random_floats(npix * ldy);
	double *yr = xmalloc_for(npix * cout, sizeof(double), "reference");
	double *ys = xmalloc_for(npix * cout, sizeof(double), "scale");
	double *xr = xmalloc_for(npix * cin, sizeof(double), "reference");
	double *xs = xmalloc_for(npix * cin, sizeof(double), "scale");
	double *kr = xmalloc_for(nk, sizeof(double), "reference");
	double *ks = xmalloc_for(nk, sizeof(double), "scale");
	double br[4096] = { 0 }, e, em, ek;
	float *y[3], *dx[3], *dxm[3], *dk[3], *db[3];
	double bound = m == 2 ? BOUND2 : BOUND4;
	int same = 1;

	memset(yr, 0, npix * cout * sizeof(double));
	memset(ys, 0, npix * cout * sizeof(double));
	memset(xr, 0, npix * cin * sizeof(double));
	memset(xs, 0, npix * cin * sizeof(double));
	memset(kr, 0, nk * sizeof(double));
	memset(ks, 0, nk * sizeof(double));
	for (int i = 0; i < s->n; i++)
		for (int oy = 0; oy < s->h; oy++)
			for (int ox = 0; ox < s->w; ox++) {
				long p = pix(s, i, oy, ox);

				for (int t = 0; t < 9; t++) {
					long q = pix(s, i, oy + t / 3 - 1,
						     ox + t % 3 - 1);

					if (q < 0)
						continue;
					for (int co = 0; co < cout; co++) {
						const float *kk = k + ((size_t)co * 9 + t) * cin;
						double g = dy[p * ldy + co];

						for (int ci = 0; ci < cin; ci++) {
							double xv = x[q * ldx + ci];

							yr[p * cout + co] += xv * kk[ci];
							ys[p * cout + co] += fabs(xv * kk[ci]);
							xr[q * cin + ci] += g * kk[ci];
							xs[q * cin + ci] += fabs(g * kk[ci]);
							kr[((size_t)co * 9 + t) * cin + ci] += xv * g;
							ks[((size_t)co * 9 + t) * cin + ci] += fabs(xv * g);
						}
					}
				}
				for (int co = 0; co < cout; co++) {
					yr[p * cout + co] += b[co];
					ys[p * cout + co] += fabs(b[co]);
					br[co] += dy[p * ldy + co];
				}
			}
	for (int nt = 1; nt <= 3; nt++) {
		int u = nt - 1;

		y[u] = sentinel_floats(npix * ldy);
		dx[u] = sentinel_floats(npix * lddx);
		dxm[u] = sentinel_floats(npix * lddx);
		dk[u] = xmalloc_for(nk, sizeof(float), "dk");
		db[u] = xmalloc_for(cout, sizeof(float), "db");
		for (size_t i = 0; i < nk; i++)
			dk[u][i] = 0.25f;
		for (int i = 0; i < cout; i++)
			db[u][i] = 0.25f;
		nn_conv3x3_forward(nt, x, ldx, s->n, s->h, s->w, cin, k, b,
				   cout, y[u], ldy, 0);
		nn_conv3x3_backward(nt, x, ldx, s->n, s->h, s->w, cin, k, cout,
				    dy, ldy, dx[u], lddx, 0, dk[u], db[u]);
		nn_conv3x3_backward(nt, x, ldx, s->n, s->h, s->w, cin, k, cout,
				    dy, ldy, dxm[u], lddx, 1, dk[u], db[u]);
	}
	e = worst(y[0], ldy, yr, ys, npix, cout);
	tap_ok(e <= bound && padding_kept(y[0], ldy, npix, cout),
	       "F(%dx%d) forward %dx%dx%dx%d -> %d: error %.2g of sum |x||k| "
	       "(bound %.0e), padding kept", m, m, s->n, s->h, s->w, cin,
	       cout, e, bound);
	e = worst(dx[0], lddx, xr, xs, npix, cin);
	for (size_t p = 0; p < npix; p++)
		for (int ci = 0; ci < cin; ci++)
			if (x[p * ldx + ci] <= 0)
				xr[p * cin + ci] = 0;
	em = worst(dxm[0], lddx, xr, xs, npix, cin);
	tap_ok(e <= bound && em <= bound &&
		       padding_kept(dx[0], lddx, npix, cin) &&
		       padding_kept(dxm[0], lddx, npix, cin),
	       "F(%dx%d) input gradient: error %.2g, masked %.2g of sum "
	       "|dy||k|", m, m, e, em);
	/* dk and db received two backward passes on top of 0.25 */
	for (size_t i = 0; i < nk; i++) {
		kr[i] = 0.25 + 2 * kr[i];
		ks[i] = 2 * ks[i] + 0.25;
	}
	ek = worst(dk[0], 1, kr, ks, nk, 1);
	e = 0;
	for (int co = 0; co < cout; co++) {
		double d = fabs(db[0][co] - (0.25 + 2 * br[co]));

		e = d > e ? d : e;
	}
	tap_ok(ek <= bound && e <= 1e-3,
	       "F(%dx%d) weight gradient added to dk: error %.2g of sum "
	       "|x||dy|; db within %.2g", m, m, ek, e);
	for (int u = 1; u < 3; u++)
		same = same &&
		       memcmp(y[0], y[u], npix * ldy * sizeof(float)) == 0 &&
		       memcmp(dx[0], dx[u], npix * lddx * sizeof(float)) == 0 &&
		       memcmp(dxm[0], dxm[u],
			      npix * lddx * sizeof(float)) == 0 &&
		       memcmp(dk[0], dk[u], nk * sizeof(float)) == 0 &&
		       memcmp(db[0], db[u], cout * sizeof(float)) == 0;
	tap_ok(same, "F(%dx%d): the same bits with 1, 2 and 3 threads", m, m);
	test_bf16(m, s, x, ldx, k, b, y[0], yr, ys);
	for (int u = 0; u < 3; u++) {
		free(y[u]);
		free(dx[u]);
		free(dxm[u]);
		free(dk[u]);
		free(db[u]);
	}
	free(x), free(k), free(b), free(dy);
	free(yr), free(ys), free(xr), free(xs), free(kr), free(ks);
}

/* With nn_keep_kernels(1) the forward gives the bits it gives without,
 * with 1 and 2 threads, in fp32 and bf16; weights changed behind a kept
 * kernel are not seen (the promise broken shows that it was kept) until
 * nn_keep_kernels(0). */
static void
test_keep(int m)
{
	const struct shape s = { 2, 16, 16, 48, 40 };
	size_t npix = (size_t)s.n * s.h * s.w, nk = (size_t)9 * s.cin * s.cout;
	size_t bytes = npix * s.cout * sizeof(float);
	float *x = random_floats(npix * s.cin), *k = random_floats(nk);
	float *b = random_floats(s.cout), *y[6];
	int same = 1;

	for (int i = 0; i < 6; i++)
		y[i] = xmalloc_for(npix * s.cout, sizeof(float), "test output");
	for (int bf16 = 0; bf16 <= 1; bf16++) {
		nn_set_precision(bf16 ? NN_BF16 : NN_FP32);
		nn_conv3x3_forward(2, x, s.cin, s.n, s.h, s.w, s.cin, k, b,
				   s.cout, y[0], s.cout, 1);
		nn_keep_kernels(1);
		for (int nt = 1; nt <= 2; nt++) {
			nn_conv3x3_forward(nt, x, s.cin, s.n, s.h, s.w, s.cin, k,
					   b, s.cout, y[nt], s.cout, 1);
			same &= memcmp(y[nt], y[0], bytes) == 0;
		}
		nn_keep_kernels(0);
	}
	nn_set_precision(NN_FP32);
	tap_ok(same, "F(%dx%d) nn_keep_kernels: the same bits, kept or not, "
	       "1 and 2 threads, fp32 and bf16", m, m);
	nn_keep_kernels(1);
	nn_conv3x3_forward(2, x, s.cin, s.n, s.h, s.w, s.cin, k, b, s.cout,
			   y[3], s.cout, 1);
	for (size_t i = 0; i < nk; i++)
		k[i] = -k[i];
	nn_conv3x3_forward(2, x, s.cin, s.n, s.h, s.w, s.cin, k, b, s.cout,
			   y[4], s.cout, 1);
	nn_keep_kernels(0);
	nn_conv3x3_forward(2, x, s.cin, s.n, s.h, s.w, s.cin, k, b, s.cout,
			   y[5], s.cout, 1);
	tap_ok(memcmp(y[4], y[3], bytes) == 0 &&
	       memcmp(y[5], y[3], bytes) != 0, "F(%dx%d) nn_keep_kernels: "
	       "the kernel kept while on, the weights read again once off",
	       m, m);
	for (int i = 0; i < 6; i++)
		free(y[i]);
	free(x);
	free(k);
	free(b);
}

/* The scratch's point stride: room for the tiles, less than two lines
 * more, and an odd number of 64-byte lines (so never a multiple of 4
 * KiB). */
static void
test_point_stride(void)
{
	static const int ntiles[] = { 1, 2, 7, 32, 64, 74, 108 };
	static const int lds[] = { 8, 16, 32, 40, 64, 128, 272 };
	int bad = 0;

	for (size_t i = 0; i < sizeof ntiles / sizeof *ntiles; i++)
		for (size_t j = 0; j < sizeof lds / sizeof *lds; j++) {
			size_t need = (size_t)ntiles[i] * lds[j];
			size_t s = wino_point_stride(ntiles[i], lds[j]);

			if (s < need || s > need + 31 || s % 16 != 0 ||
			    (s / 16) % 2 != 1)
				bad++;
		}
	tap_ok(bad == 0, "wino_point_stride: at least ntile ld, less than "
	       "two lines more, an odd number of lines (%d bad)", bad);
}

int
main(int argc, char **argv)
{
	static const struct shape shapes[] = {
		{ 1, 9, 9, 32, 32 },
		{ 2, 15, 17, 33, 48 },
		{ 1, 33, 31, 48, 96 },
		{ 3, 8, 8, 96, 33 },
		{ 1, 9, 10, 300, 40 },
		/* 512 tiles of F(4x4), 2048 of F(2x2): several forward steps
		 * a thread, the last one short (winograd_conv) */
		{ 2, 64, 64, 32, 32 },
		/* 16 channels: product blocks of one vector on AVX-512 */
		{ 2, 20, 19, 16, 16 },
		{ 1, 17, 18, 16, 32 },
		{ 1, 16, 9, 32, 16 },
	};

	int bf16;

	prog_init(argc, argv);
	rng_seed(&rng, 7);
	test_point_stride();
	nn_reserve(300, 2);
	if (isa_current() == ISA_PLAIN) {
		nn_set_winograd(2);
		tap_ok(nn_conv_winograd(64, 64, 64) == 0,
		       "plain path: no Winograd");
		return tap_done();
	}
	nn_set_winograd(NN_WINOGRAD_AUTO);
	tap_ok(nn_conv_winograd(8, 64, 64) == 4 &&
		       nn_conv_winograd(15, 16, 16) == 4 &&
		       nn_conv_winograd(128, 16, 32) == 4 &&
		       nn_conv_winograd(64, 8, 64) == 0 &&
		       nn_conv_winograd(64, 64, 15) == 0 &&
		       nn_conv_winograd(7, 64, 64) == 0,
	       "the planner: F(4x4) from 16 channels in and out and maps 8 "
	       "wide, none below");
	bf16 = nn_set_precision(NN_BF16) == NN_BF16;
	tap_ok(bf16 == isa_bf16() && (!bf16 || isa_current() == ISA_AVX512),
	       "nn_set_precision(NN_BF16) takes effect where isa_bf16() (%d), "
	       "on the avx512 path only", isa_bf16());
	if (bf16)
		tap_ok(nn_conv_winograd(16, 64, 64) == 2 &&
			       nn_conv_winograd(128, 64, 64) == 2,
		       "the planner with bf16: F(2x2) on every map");
	else
		tap_ok(1, "# SKIP no AVX512_BF16 on this path: the bf16 "
			  "forward is checked to give fp32's bits");
	nn_set_precision(NN_FP32);
	nn_set_winograd(0);
	tap_ok(nn_conv_winograd(32, 64, 64) == 0, "nn_set_winograd(0): off");
	for (int m = 2; m <= 4; m += 2) {
		nn_set_winograd(m);
		for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
			test_shape(m, &shapes[i]);
		test_keep(m);
	}
	return tap_done();
}
