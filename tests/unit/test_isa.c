/* Unit tests of common/isa and of convdirect's per-ISA kernels: the choice
 * of UNETPIPE_ISA and its errors, and every kernel this CPU runs against
 * its definition written as plain loops, and against each other (the
 * AVX-512 and AVX2 kernels sum in the same order: the same bits, but for
 * the 3x3 forward, whose AVX-512 kernel sums in its own); and
 * winograd's per-ISA kernels against each other (their definitions:
 * test_winograd, which tests/run runs under every path).
 * `test_isa --paths` prints the paths this CPU runs instead, best first
 * (tests/run runs the network's tests under each). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convdirect_isa.h"
#include "isa.h"
#include "rng.h"
#include "tap.h"
#include "util.h"
#include "winograd_isa.h"

static struct rng rng;

static void
choose_now(const void *arg)
{
	(void)arg;
	isa_current();
}

/* isa_current() in a child with UNETPIPE_ISA=value: its exit status, its
 * stderr in err. */
static int
current_with(const char *value, char *err, size_t errsize)
{
	int status;

	setenv("UNETPIPE_ISA", value, 1);
	status = tap_child(choose_now, NULL, err, errsize);
	unsetenv("UNETPIPE_ISA");
	return status;
}

static void
test_choice(void)
{
	char err[256];
	enum isa best = ISA_AVX512;
	int lines;

	while (!isa_supported(best))
		best--;
	tap_ok(strcmp(isa_name(ISA_PLAIN), "plain") == 0 &&
		       strcmp(isa_name(ISA_AVX2), "avx2") == 0 &&
		       strcmp(isa_name(ISA_AVX512), "avx512") == 0 &&
		       isa_vector_floats(ISA_PLAIN) == 1 &&
		       isa_vector_floats(ISA_AVX2) == 8 &&
		       isa_vector_floats(ISA_AVX512) == 16,
	       "names and vector widths");
	tap_ok(isa_supported(ISA_PLAIN) &&
		       (!isa_supported(ISA_AVX512) || isa_supported(ISA_AVX2)),
	       "plain runs everywhere, AVX-512 only where AVX2 does");
	for (enum isa i = ISA_PLAIN; i <= ISA_AVX512; i++)
		if (isa_supported(i))
			tap_ok(current_with(isa_name(i), err, sizeof err) == 0 &&
				       !*err,
			       "UNETPIPE_ISA=%s is accepted", isa_name(i));
		else
			tap_ok(current_with(isa_name(i), err, sizeof err) == 1 &&
				       strstr(err, "cannot run it"),
			       "UNETPIPE_ISA=%s is refused on this CPU",
			       isa_name(i));
	lines = 0;
	tap_ok(current_with("avx", err, sizeof err) == 1 &&
		       strcmp(err, "test_isa: UNETPIPE_ISA=avx: unknown "
				   "(avx512, avx2 or plain)\n") == 0,
	       "an unknown UNETPIPE_ISA: status 1 and the message");
	for (const char *p = err; *p; p++)
		lines += *p == '\n';
	tap_ok(lines == 1, "one line");
	tap_ok(current_with("AVX2", err, sizeof err) == 1,
	       "the names are lower case");
	setenv("UNETPIPE_ISA", "", 1);
	tap_ok(isa_current() == best, "an empty UNETPIPE_ISA: the best, %s",
	       isa_name(best));
	unsetenv("UNETPIPE_ISA");
}

static float *
randoms(size_t n)
{
	float *p = xmalloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
		p[i] = (float)(rng_uniform(&rng) * 2 - 1);
	return p;
}

/* One shape of every kernel: n images h x w, cin to cout channels, and
 * the outputs of one kernel table. */
struct run {
	float *y, *dk, *up, *dx, *dku;
};

struct shape {
	int n, h, w, cin, cout;
	float *x, *wt, *bias, *dy, *upx, *upk, *updy, *upkt;
};

static struct shape
shape_new(int n, int h, int w, int cin, int cout)
{
	struct shape s = { n, h, w, cin, cout, NULL, NULL, NULL, NULL, NULL,
			   NULL, NULL, NULL };
	size_t px = (size_t)n * h * w;

	s.x = randoms(px * cin);
	s.wt = randoms((size_t)9 * cin * cout);
	s.bias = randoms((size_t)cout);
	s.dy = randoms(px * cout);
	/* the transposed convolution from cin to cout: x n x h x w x cin,
	 * dy n x 2h x 2w x cout; kt is k as [ky][kx][cout][cin] */
	s.upk = randoms((size_t)9 * cin * cout);
	s.updy = randoms(4 * px * cout);
	s.upkt = xmalloc((size_t)9 * cin * cout * sizeof(float));
	for (int ci = 0; ci < cin; ci++)
		for (int t = 0; t < 9; t++)
			for (int co = 0; co < cout; co++)
				s.upkt[((size_t)t * cout + co) * cin + ci] =
					s.upk[((size_t)ci * 9 + t) * cout + co];
	return s;
}

static void
shape_free(struct shape *s)
{
	free(s->x);
	free(s->wt);
	free(s->bias);
	free(s->dy);
	free(s->upk);
	free(s->updy);
	free(s->upkt);
}

static void
run_free(struct run *r)
{
	free(r->y);
	free(r->dk);
	free(r->up);
	free(r->dx);
	free(r->dku);
}

/* The input pixel that tap t (ky 3 + kx) takes to output pixel (oy, ox)
 * of image i, numbered over all n h w pixels, or -1 for none (padding):
 * iy = oy + ky - 1 for the convolution, oy = 2 iy + ky - 1 for the
 * transposed one (up). */
static long
source(const struct shape *s, int up, int i, int oy, int ox, int t)
{
	int iy = oy + 1 - t / 3, ix = ox + 1 - t % 3;

	if (!up) {
		iy = oy + t / 3 - 1;
		ix = ox + t % 3 - 1;
	} else if (iy < 0 || ix < 0 || iy % 2 || ix % 2) {
		return -1;
	} else {
		iy /= 2;
		ix /= 2;
	}
	if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
		return -1;
	return ((long)i * s->h + iy) * s->w + ix;
}

/* The definitions of the convolution (ReLU on y) or the transposed one,
 * summed in double: y, dk (+= x dy) and, for the transposed one, dx (the
 * gradient of x for dy). */
static void
definition(const struct shape *s, int up, float *y, float *dk, float *dx)
{
	int cin = s->cin, cout = s->cout;
	int fw = up ? 2 * s->w : s->w, fh = up ? 2 * s->h : s->h;
	const float *k = up ? s->upk : s->wt, *dy = up ? s->updy : s->dy;
	size_t nk = (size_t)9 * cin * cout, npix = (size_t)s->n * fh * fw;
	double *dkd = xmalloc(nk * sizeof(double));

	for (size_t q = 0; q < nk; q++)
		dkd[q] = 1; /* the kernels add to a dk of ones */
	for (size_t o = 0; o < npix; o++) {
		int ox = (int)(o % fw), oy = (int)(o / fw % fh);
		int i = (int)(o / fw / fh);

		for (int co = 0; co < cout; co++) {
			double sum = s->bias[co], g = dy[o * cout + co];

			for (int t = 0; t < 9; t++) {
				long at = source(s, up, i, oy, ox, t);

				for (int ci = 0; at >= 0 && ci < cin; ci++) {
					size_t q = up ? ((size_t)ci * 9 + t) * cout
						      : ((size_t)t * cin + ci) * cout;
					double xv = s->x[at * cin + ci];

					sum += xv * k[q + co];
					dkd[q + co] += xv * g;
					if (dx)
						dx[at * cin + ci] += (float)(g * k[q + co]);
				}
			}
			y[o * cout + co] = (float)(up ? sum : fmax(sum, 0));
		}
	}
	for (size_t q = 0; q < nk; q++)
		dk[q] = (float)dkd[q];
	free(dkd);
}

static struct run
reference(const struct shape *s)
{
	size_t px = (size_t)s->n * s->h * s->w, nk = (size_t)9 * s->cin * s->cout;
	struct run r = {
		xmalloc(px * s->cout * sizeof(float)), xmalloc(nk * sizeof(float)),
		xmalloc(4 * px * s->cout * sizeof(float)),
		xcalloc(px * s->cin, sizeof(float)), xmalloc(nk * sizeof(float)),
	};

	definition(s, 0, r.y, r.dk, NULL);
	definition(s, 1, r.up, r.dku, r.dx);
	return r;
}

/* The kernel whose weight of tap t, input i and output o is
 * k[t ss + i si + o so] (nin inputs, nout outputs), packed by blocks of
 * B outputs as the kernels take it: [nout / B][t][nin][B]. */
static float *
packed(const float *k, size_t ss, size_t si, size_t so, int nin, int nout,
       int B)
{
	float *p = xmalloc((size_t)9 * nin * nout * sizeof(float));

	for (int o = 0; o < nout; o++)
		for (int t = 0; t < 9; t++)
			for (int i = 0; i < nin; i++)
				p[(((size_t)(o / B) * 9 + t) * nin + i) * B + o % B] =
					k[t * ss + i * si + o * so];
	return p;
}

/* The floats of scratch every kernel of ops needs on s: the smallest
 * power of two they all accept. */
static size_t
scratch_floats(const struct convdirect_ops *ops, const struct shape *s)
{
	size_t n = 1;

	while (!ops->available(s->cout, s->w, s->cin, n) ||
	       !ops->upback_available(s->cin, s->cout, s->w, n))
		n *= 2;
	return n;
}

/* Every kernel of ops on s, over all rows at once, then again row by row
 * into the same outputs (the sums run in a fixed order whatever the rows:
 * the same bits). *rows_agree tells whether they did. */
static struct run
kernels(const struct convdirect_ops *ops, const struct shape *s,
	int *rows_agree)
{
	int n = s->n, h = s->h, w = s->w, cin = s->cin, cout = s->cout;
	size_t px = (size_t)n * h * w, nk = (size_t)9 * cin * cout;
	float *scratch = xmalloc(scratch_floats(ops, s) * sizeof(float));
	/* wt [t][cin][cout], upk [cin][t][cout], upkt [t][cout][cin] */
	float *wt = packed(s->wt, (size_t)cin * cout, (size_t)cout, 1, cin,
			   cout, ops->block(cout));
	float *upk = packed(s->upk, (size_t)cout, (size_t)9 * cout, 1, cin,
			    cout, ops->block(cout));
	float *upkt = packed(s->upkt, (size_t)cout * cin, (size_t)cin, 1, cout,
			     cin, ops->block(cin));
	struct run r = {
		xmalloc(px * cout * sizeof(float)), xmalloc(nk * sizeof(float)),
		xmalloc(4 * px * cout * sizeof(float)),
		xmalloc(px * cin * sizeof(float)), xmalloc(nk * sizeof(float)),
	};
	float *y = xmalloc(px * cout * sizeof(float));
	float *up = xmalloc(4 * px * cout * sizeof(float));

	for (size_t q = 0; q < nk; q++)
		r.dk[q] = r.dku[q] = 1;

	ops->rows(s->x, cin, h, w, cin, wt, s->bias, cout, r.y, cout, 1, 0,
		  (size_t)n * h, scratch);
	ops->wgrad_rows(s->x, cin, h, w, cin, s->dy, cout, cout, r.dk, 0,
			(size_t)n * h, scratch);
	ops->up_rows(s->x, cin, h, w, cin, upk, s->bias, cout, r.up, cout,
		     0, (size_t)n * 2 * h, scratch);
	ops->upback_rows(s->x, cin, s->updy, cout, h, w, cin, cout, upkt,
			 r.dx, cin, r.dku, 0, (size_t)n * h, scratch);
	for (size_t row = 0; row < (size_t)n * h; row++)
		ops->rows(s->x, cin, h, w, cin, wt, s->bias, cout, y, cout,
			  1, row, row + 1, scratch);
	for (size_t row = 0; row < (size_t)n * 2 * h; row++)
		ops->up_rows(s->x, cin, h, w, cin, upk, s->bias, cout, up,
			     cout, row, row + 1, scratch);
	*rows_agree = memcmp(y, r.y, px * cout * sizeof(float)) == 0 &&
		      memcmp(up, r.up, 4 * px * cout * sizeof(float)) == 0;
	free(y);
	free(up);
	free(wt);
	free(upk);
	free(upkt);
	free(scratch);
	return r;
}

/* The largest difference of a and b relative to 1 + |b|. */
static double
diff(const float *a, const float *b, size_t n)
{
	double d = 0;

	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - b[i]) / (1 + fabs(b[i])));
	return d;
}

/* The same bits but for the 3x3 forward, whose sums AVX-512 runs in
 * another order (conv_block_slide). */
static int
same_bits(const struct run *a, const struct run *b, const struct shape *s)
{
	size_t px = (size_t)s->n * s->h * s->w, nk = (size_t)9 * s->cin * s->cout;

	return memcmp(a->dk, b->dk, nk * sizeof(float)) == 0 &&
	       memcmp(a->up, b->up, 4 * px * s->cout * sizeof(float)) == 0 &&
	       memcmp(a->dx, b->dx, px * s->cin * sizeof(float)) == 0 &&
	       memcmp(a->dku, b->dku, nk * sizeof(float)) == 0;
}

static void
test_kernels(void)
{
#if defined(__x86_64__)
	static const int shapes[][5] = {
		/* n, h, w, cin, cout: narrow, wide, odd widths; several
		 * tiles of rows and blocks of channels; 16 and 32 input
		 * channels (compiled as constants) to one and more blocks; rows
		 * of several blocks of pixels, a whole number of them and not */
		{ 2, 5, 7, 8, 8 }, { 1, 6, 19, 16, 16 }, { 1, 4, 9, 32, 16 },
		{ 1, 3, 13, 16, 32 }, { 1, 5, 11, 32, 32 }, { 2, 1, 1, 8, 16 },
		{ 1, 3, 5, 64, 64 }, { 1, 40, 9, 64, 96 }, { 2, 3, 48, 16, 16 },
		{ 1, 4, 50, 32, 64 }, { 1, 2, 37, 8, 8 },
	};
	const struct { enum isa isa; const struct convdirect_ops *ops; } paths[] = {
		{ ISA_AVX512, &convdirect_avx512 }, { ISA_AVX2, &convdirect_avx2 },
	};

	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		const int *p = shapes[i];
		struct shape s = shape_new(p[0], p[1], p[2], p[3], p[4]);
		struct run ref = reference(&s), got[2];
		size_t px = (size_t)s.n * s.h * s.w, nk = (size_t)9 * s.cin * s.cout;
		int have[2] = { 0, 0 };

		for (int j = 0; j < 2; j++) {
			const struct convdirect_ops *ops = paths[j].ops;
			int rows_agree;
			double d;

			if (!isa_supported(paths[j].isa) ||
			    !ops->available(s.cout, s.w, s.cin, (size_t)-1) ||
			    !ops->upback_available(s.cin, s.cout, s.w, (size_t)-1))
				continue;
			have[j] = 1;
			got[j] = kernels(ops, &s, &rows_agree);
			d = fmax(fmax(diff(got[j].y, ref.y, px * s.cout),
				      diff(got[j].dk, ref.dk, nk)),
				 fmax(fmax(diff(got[j].up, ref.up, 4 * px * s.cout),
					   diff(got[j].dx, ref.dx, px * s.cin)),
				      diff(got[j].dku, ref.dku, nk)));
			tap_ok(d < 1e-5, "%s, %d -> %d channels on %dx%d (n %d): "
			       "the definitions (max relative diff %.2g)",
			       isa_name(paths[j].isa), s.cin, s.cout, s.w, s.h,
			       s.n, d);
			tap_ok(rows_agree, "%s, %d -> %d channels: row by row, "
			       "the same bits", isa_name(paths[j].isa), s.cin,
			       s.cout);
		}
		if (have[0] && have[1]) {
			double d = diff(got[0].y, got[1].y, px * s.cout);

			/* each within 1e-5 of the definition */
			tap_ok(same_bits(&got[0], &got[1], &s) && d < 2e-5,
			       "avx512 and avx2, %d -> %d channels: the same "
			       "bits, but the 3x3 forward within %.2g", s.cin,
			       s.cout, d);
		}
		for (int j = 0; j < 2; j++)
			if (have[j])
				run_free(&got[j]);
		run_free(&ref);
		shape_free(&s);
	}
#endif
}

#if defined(__x86_64__)
/* One run of a winograd kernel table on layer l (x, its shape and m set):
 * the forward of every tile with the transform-domain kernel U
 * ([p][ci][co], laid out for the table here) into y (ldy = cout), and the
 * weight gradient's products of x and dy at every point into du, returned
 * as [p][ci][co]. */
static void
wino_run(const struct winograd_ops *ops, struct wino_layer l,
	 const float *U, float *y, float *du)
{
	int T = l.T, cin = l.cin, cout = l.cout, nr, ncb;
	size_t ntiles, nu;
	float *u, *dul, *scratch;

	nr = wino_block_cols(ops->nr, cout);
	l.nr = nr;
	l.coutp = (cout + nr - 1) / nr * nr;
	l.ldv = (cin + 15) / 16 * 16;
	l.ldm = l.coutp;
	ncb = l.coutp / nr;
	ntiles = (size_t)l.n * l.th * l.tw;
	nu = (size_t)T * cin * l.coutp;
	u = xcalloc(nu, sizeof *u);
	dul = xcalloc(nu, sizeof *dul);
	scratch = xcalloc((size_t)T * (wino_point_stride((int)ntiles, l.ldv) +
				       wino_point_stride((int)ntiles, l.ldm)),
			  sizeof(float));
	for (int p = 0; p < T; p++)
		for (int ci = 0; ci < cin; ci++)
			for (int co = 0; co < cout; co++)
				u[(((size_t)p * ncb + co / nr) * cin + ci) * nr
				  + co % nr] = U[((size_t)p * cin + ci) * cout + co];
	l.u = u, l.y = y, l.ldy = cout, l.du = dul;
	ops->fwd_tiles(&l, 0, (int)ntiles, scratch);
	ops->wgrad_tiles(&l, 0, (int)ntiles, 0, T, scratch);
	for (int p = 0; p < T; p++)
		for (int ci = 0; ci < cin; ci++)
			for (int co = 0; co < cout; co++)
				du[((size_t)p * cin + ci) * cout + co] =
					dul[(((size_t)p * ncb + co / nr) * cin
					     + ci) * nr + co % nr];
	free(u);
	free(dul);
	free(scratch);
}
#endif

/* winograd's AVX-512 and AVX2 kernels, F(2x2) and F(4x4), on maps not a
 * multiple of the tile and channels not a multiple of the vectors, with
 * product blocks of two vectors of outputs and of one (16 outputs: one
 * on AVX-512, two on AVX2; 5: one on both): the same bits (each output
 * is the same sequence of operations). */
static void
test_winograd_kernels(void)
{
#if defined(__x86_64__)
	static const int couts[] = { 48, 16, 5 };

	if (!isa_supported(ISA_AVX512) || !isa_supported(ISA_AVX2))
		return;
	for (int c = 0; c < 6; c++) {
		int m = c % 2 ? 4 : 2, cout = couts[c / 2];
		int n = 2, h = 9, w = 11, cin = 33, a = m + 2;
		struct wino_layer l = {
			.m = m, .a = a, .T = a * a, .n = n, .h = h, .w = w,
			.th = (h + m - 1) / m, .tw = (w + m - 1) / m,
			.cin = cin, .cout = cout, .ldx = cin + 3,
			.lddy = cout + 5, .relu = 1,
		};
		size_t px = (size_t)n * h * w, nu = (size_t)l.T * cin * cout;
		float *x = randoms(px * l.ldx), *dy = randoms(px * l.lddy);
		float *U = randoms(nu), *b = randoms(cout);
		float *y[2], *du[2];
		int nonzero = 0;

		l.x = x, l.dy = dy, l.bias = b;
		for (int j = 0; j < 2; j++) {
			y[j] = xcalloc(px * cout, sizeof(float));
			du[j] = xcalloc(nu, sizeof(float));
			wino_run(j ? &winograd_avx2 : &winograd_avx512, l, U,
				 y[j], du[j]);
		}
		for (size_t i = 0; i < px * cout; i++)
			nonzero += y[0][i] > 0;
		tap_ok(nonzero > 0 && memcmp(y[0], y[1], px * cout * 4) == 0 &&
			       memcmp(du[0], du[1], nu * 4) == 0,
		       "winograd F(%dx%d) avx512 and avx2, %d -> %d channels on "
		       "%dx%d: the same bits, forward and weight gradient",
		       m, m, cin, cout, w, h);
		for (int j = 0; j < 2; j++) {
			free(y[j]);
			free(du[j]);
		}
		free(x), free(dy), free(U), free(b);
	}
#endif
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	if (argc == 2 && strcmp(argv[1], "--paths") == 0) {
		for (int i = ISA_AVX512; i >= ISA_PLAIN; i--)
			if (isa_supported(i))
				printf("%s\n", isa_name(i));
		return 0;
	}
	rng_seed(&rng, 1);
	test_choice();
	test_kernels();
	test_winograd_kernels();
	return tap_done();
}
