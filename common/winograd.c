#include "winograd.h"

#include <stdint.h>
#include <string.h>

#include "isa.h"
#include "pool.h"
#include "util.h"
#include "winograd_isa.h"

/* The kernels of the process's instruction set; NULL on the plain path. */
static const struct winograd_ops *
kernels(void)
{
	switch (isa_current()) {
#if defined(__x86_64__)
	case ISA_AVX512:
		return &winograd_avx512;
	case ISA_AVX2:
		return &winograd_avx2;
#endif
	default:
		return NULL;
	}
}

/* The forward's kernels: those of the bf16 products when bf16 is set and
 * the CPU has them. */
static const struct winograd_ops *
fwd_kernels(int bf16)
{
#if defined(__x86_64__)
	if (bf16 && isa_bf16())
		return &winograd_avx512bf16;
#endif
	return kernels();
}

int
winograd_available(int m)
{
	return (m == 2 || m == 4) && kernels() != NULL;
}

int
winograd_bf16_available(void)
{
	return fwd_kernels(1) != kernels();
}

static size_t
round_up(size_t v, size_t q)
{
	return (v + q - 1) / q * q;
}

/* A scratch row stride of c channels: whole vectors, and not a multiple
 * of 1 KiB, whose rows would share the cache's sets. */
static int
row_stride(int c, int vw)
{
	int ld = (int)round_up(c, vw);

	return ld % 256 == 0 ? ld + vw : ld;
}

size_t
winograd_kernel_floats(int m, int nin, int nout)
{
	const struct winograd_ops *ops = kernels();
	size_t a = m + 2;

	if (!ops)
		return 0;
	return a * a * nin * round_up(nout, wino_block_cols(ops->nr, nout));
}

/* The layer as the kernels see it, for F(m x m) from cin to cout. */
static struct wino_layer
layer(int m, int n, int h, int w, int cin, int cout)
{
	const struct winograd_ops *ops = kernels();
	int nr = wino_block_cols(ops->nr, cout);
	struct wino_layer l = {
		.m = m, .a = m + 2, .T = (m + 2) * (m + 2), .n = n, .h = h,
		.w = w, .th = (h + m - 1) / m, .tw = (w + m - 1) / m,
		.cin = cin, .cout = cout, .nr = nr,
		.coutp = (int)round_up(cout, nr),
		.ldv = row_stride(cin, ops->nr / 2),
	};

	l.ldm = row_stride(l.coutp, ops->nr / 2);
	return l;
}

size_t
winograd_reserve_floats(int channels)
{
	return (size_t)4 * 9 * 256 * channels;
}

/* The weight gradient's steps: all the transform points of nb tiles at
 * a time, as many tiles as fit in the least scratch nn_reserve gives
 * (winograd_reserve_floats: about 100 tiles of F(4x4) for square layers,
 * at least 56 from 32 channels on). Each step adds its products to du,
 * read and written once per step. (A quarter of that scratch, where the
 * steps took the points by rows and transformed each tile six times,
 * made training at base 16 3.5 % slower.) A function of the layer alone,
 * so that the sums run in the same order whatever the thread count. */
static int
wgrad_tiles_per_step(const struct wino_layer *l, size_t ntiles)
{
	size_t least = winograd_reserve_floats(l->cin > l->cout ? l->cin
							   : l->cout);
	/* at least ldv + ldm on every path, and the same on all of them:
	 * the steps, so the sums' order, do not depend on the vector width */
	size_t per = (size_t)l->cin + l->cout + 80;
	size_t nb = least / ((size_t)l->T * per);

	if (nb < 1)
		nb = 1;
	if (nb > ntiles && ntiles > 0)
		nb = ntiles;
	return (int)nb;
}

/* The scratch floats of a step of nb tiles at np transform points. */
static size_t
step_scratch(const struct wino_layer *l, int nb, int np)
{
	return (size_t)np * (wino_point_stride(nb, l->ldv) +
			     wino_point_stride(nb, l->ldm));
}

size_t
winograd_scratch_floats(int m, int cin, int cout)
{
	struct wino_layer l;

	if (!winograd_available(m))
		return 0;
	l = layer(m, 1, 1, 1, cin, cout);
	return step_scratch(&l, wgrad_tiles_per_step(&l, 256), l.T);
}

/* ------------------------------------------------------------ kernel */

struct kernel_args {
	const float *k;
	size_t ss, si, so;
	int flip, m, nin, nout, noutp, nr;
	int bf16;       /* u in bf16 pairs (winograd_isa.h) */
	float *u;
	const float *du;
	int parts;      /* du's partial sums, added in order */
	size_t sdu;     /* the floats from one partial sum to the next */
	float *dk;
};

/* f rounded to bf16 as VCVTNEPS2BF16 (the kernels') rounds: to nearest,
 * ties to even; a denormal to zero of its sign, a NaN quiet. */
static uint16_t
to_bf16(float f)
{
	uint32_t b;

	memcpy(&b, &f, sizeof b);
	if ((b & 0x7fffffff) > 0x7f800000)
		return (uint16_t)(b >> 16 | 0x40);
	if ((b & 0x7f800000) == 0)
		return (uint16_t)(b >> 16 & 0x8000);
	return (uint16_t)((b + 0x7fff + (b >> 16 & 1)) >> 16);
}

/* Lavin and Gray's G (a x 3) of F(2x2, 3x3) and F(4x4, 3x3). */
static const float g2[4][3] = {
	{ 1, 0, 0 }, { .5f, .5f, .5f }, { .5f, -.5f, .5f }, { 0, 0, 1 },
};
static const float g4[6][3] = {
	{ 1 / 4.f, 0, 0 },
	{ -1 / 6.f, -1 / 6.f, -1 / 6.f },
	{ -1 / 6.f, 1 / 6.f, -1 / 6.f },
	{ 1 / 24.f, 1 / 12.f, 1 / 6.f },
	{ 1 / 24.f, -1 / 12.f, 1 / 6.f },
	{ 0, 0, 1 },
};

/* The kernel transforms run on NB_MAX outputs at a time (a block of the
 * kernels, nr <= NB_MAX), in loops over them that the compiler vectorises. */
#define NB_MAX 32

/* u[p][r] = (G g G^T)[p] of the 3x3 g[s][r] (s row-major), r < nb. */
static void
g_transform(int m, int nb, float g[9][NB_MAX], float u[36][NB_MAX])
{
	const float(*G)[3] = m == 2 ? g2 : g4;
	int a = m + 2;
	float t[6][3][NB_MAX];

	for (int i = 0; i < a; i++)
		for (int j = 0; j < 3; j++)
			for (int r = 0; r < nb; r++)
				t[i][j][r] = G[i][0] * g[j][r]
					     + G[i][1] * g[3 + j][r]
					     + G[i][2] * g[6 + j][r];
	for (int i = 0; i < a; i++)
		for (int j = 0; j < a; j++)
			for (int r = 0; r < nb; r++)
				u[i * a + j][r] = t[i][0][r] * G[j][0]
						  + t[i][1][r] * G[j][1]
						  + t[i][2][r] * G[j][2];
}

/* g[s][r] = (G^T d G)[s] of the a x a d[p][r], r < nb. */
static void
gt_transform(int m, int nb, float d[36][NB_MAX], float g[9][NB_MAX])
{
	const float(*G)[3] = m == 2 ? g2 : g4;
	int a = m + 2;
	float t[3][6][NB_MAX];

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < a; j++) {
			for (int r = 0; r < nb; r++)
				t[i][j][r] = 0;
			for (int q = 0; q < a; q++)
				for (int r = 0; r < nb; r++)
					t[i][j][r] += G[q][i] * d[q * a + j][r];
		}
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			for (int r = 0; r < nb; r++)
				g[i * 3 + j][r] = 0;
			for (int c = 0; c < a; c++)
				for (int r = 0; r < nb; r++)
					g[i * 3 + j][r] += t[i][c][r] * G[c][j];
		}
}

/* u[p][o / nr][i][o % nr] = (G g G^T)[p] of the kernel of (i, o), zero for
 * the padding outputs; by blocks of nr outputs. With bf16, rounded to
 * bf16 into u's bf16 pairs [p][o / nr][i / 2][o % nr][i % 2] instead,
 * the pair of an odd nin's last i completed by zeros. */
static void
kernel_part(void *arg, int t, int nt)
{
	const struct kernel_args *a = arg;
	int nr = a->nr, ncb = a->noutp / nr, T = (a->m + 2) * (a->m + 2);
	int ninp = (a->nin + 1) / 2 * 2;
	uint16_t *ub = (uint16_t *)a->u;
	size_t lo, hi;

	pool_share(ncb, t, nt, &lo, &hi);
	for (size_t cb = lo; cb < hi; cb++)
		for (int i = 0; i < a->nin; i++) {
			float g[9][NB_MAX], u[36][NB_MAX];

			for (int s = 0; s < 9; s++) {
				const float *k = a->k + (a->flip ? 8 - s : s)
							* a->ss + i * a->si;

				for (int r = 0; r < nr; r++) {
					int o = (int)cb * nr + r;

					g[s][r] = o < a->nout ? k[o * a->so] : 0;
				}
			}
			g_transform(a->m, nr, g, u);
			for (int p = 0; p < T; p++) {
				uint16_t *row;

				if (!a->bf16) {
					memcpy(a->u + (((size_t)p * ncb + cb)
						       * a->nin + i) * nr,
					       u[p], nr * sizeof(float));
					continue;
				}
				row = ub + (((size_t)p * ncb + cb) * ninp
					    + i / 2 * 2) * nr + i % 2;
				for (int r = 0; r < nr; r++) {
					row[2 * r] = to_bf16(u[p][r]);
					if (i == a->nin - 1 && i % 2 == 0)
						row[2 * r + 1] = 0;
				}
			}
		}
}

/* dk[o][s][i] += (G^T du G)[s] of du[p][o / nr][i][o % nr], du the sum of
 * the parts' partial sums, by blocks of nr outputs (du's and dk's rows of
 * a block are then read and written in sequence). */
static void
kernel_grad_part(void *arg, int t, int nt)
{
	const struct kernel_args *a = arg;
	int T = (a->m + 2) * (a->m + 2), nin = a->nin, nr = a->nr;
	int ncb = a->noutp / nr;
	size_t lo, hi;

	pool_share(ncb, t, nt, &lo, &hi);
	for (size_t cb = lo; cb < hi; cb++)
		for (int i = 0; i < nin; i++) {
			int o0 = (int)cb * nr;
			int nb = a->nout - o0 < nr ? a->nout - o0 : nr;
			float d[36][NB_MAX], g[9][NB_MAX];

			for (int p = 0; p < T; p++) {
				const float *du = a->du + (((size_t)p * ncb
							    + cb) * nin + i)
							  * nr;

				memcpy(d[p], du, nb * sizeof(float));
				for (int q = 1; q < a->parts; q++)
					for (int r = 0; r < nb; r++)
						d[p][r] += du[q * a->sdu + r];
			}
			gt_transform(a->m, nb, d, g);
			for (int r = 0; r < nb; r++)
				for (int s = 0; s < 9; s++)
					a->dk[((size_t)(o0 + r) * 9 + s) * nin
					      + i] += g[s][r];
		}
}

/* ------------------------------------------------------------ passes */

struct pass_args {
	struct wino_layer l;
	const struct winograd_ops *ops;
	size_t ntiles;
	int nb;         /* tiles per step */
	int parts;      /* wgrad: the tiles' parts, each its own sum of du */
	size_t sdu;     /* wgrad: the floats of a part's du */
};

/* Forward: each thread its share of the steps of nb tiles. */
static void
fwd_part(void *arg, int t, int nt)
{
	const struct pass_args *a = arg;
	size_t steps = (a->ntiles + a->nb - 1) / a->nb, lo, hi;

	pool_share(steps, t, nt, &lo, &hi);
	for (size_t s = lo; s < hi; s++) {
		size_t t0 = s * a->nb;
		int m = a->ntiles - t0 < (size_t)a->nb ? (int)(a->ntiles - t0)
						       : a->nb;

		a->ops->fwd_tiles(&a->l, t0, m, pool_col(t));
	}
}

/* Weight gradient: the tiles in `parts` parts, each summed into its own
 * du (l.du + q sdu) in steps of nb tiles. With as many threads as parts
 * or more, each part has its group of threads, which share its transform
 * points; with fewer, each thread sums whole parts. */
static void
wgrad_part(void *arg, int t, int nt)
{
	const struct pass_args *a = arg;
	int P = a->parts;
	size_t q0, q1, p0 = 0, p1 = a->l.T;

	if (nt >= P) {
		int q = t * P / nt, g0 = (q * nt + P - 1) / P,
		    g1 = ((q + 1) * nt + P - 1) / P;

		q0 = q, q1 = q + 1;
		pool_share(a->l.T, t - g0, g1 - g0, &p0, &p1);
	} else {
		pool_share(P, t, nt, &q0, &q1);
	}
	if (p0 == p1)
		return;
	for (size_t q = q0; q < q1; q++) {
		struct wino_layer l = a->l;
		size_t lo = q * a->ntiles / P, hi = (q + 1) * a->ntiles / P;

		l.du += q * a->sdu;
		for (size_t t0 = lo; t0 < hi; t0 += a->nb) {
			int m = hi - t0 < (size_t)a->nb ? (int)(hi - t0)
							: a->nb;

			a->ops->wgrad_tiles(&l, t0, m, (int)p0, (int)p1,
					    pool_col(t));
		}
	}
}

struct zero_args {
	float *p;
	size_t count;
};

static void
zero_part(void *arg, int t, int nt)
{
	const struct zero_args *a = arg;
	size_t lo, hi;

	pool_share(a->count, t, nt, &lo, &hi);
	memset(a->p + lo, 0, (hi - lo) * sizeof(float));
}

/* The transformed tiles of a forward step (their points and products)
 * take at most this many floats, 1 MiB, to stay in the L2 cache, unless
 * the transformed kernel is larger: each step reads the whole of it, so
 * a step then takes as many tiles as the kernel has floats. Measured
 * with unet-bench --mode layers (Sapphire Rapids, 2 MiB of L2 a core):
 * the Winograd layers of base 16 went from 43 to 35 ms a batch of 16,
 * those of 64 to 256 channels at base 64 by as much; steps of the whole
 * scratch, the rule before, were 3-4 MiB there. */
#define STEP_FLOATS ((size_t)1 << 18)

static size_t
step_floats(const struct wino_layer *l)
{
	size_t kernel = (size_t)l->T * l->cin * l->coutp;

	return kernel > STEP_FLOATS ? kernel : STEP_FLOATS;
}

void
winograd_kernel(int nt, int m, const float *k, size_t ss, size_t si,
		size_t so, int flip, int nin, int nout, int bf16, float *u)
{
	struct wino_layer l = layer(m, 1, 1, 1, nin, nout);
	struct kernel_args ka = {
		.k = k, .ss = ss, .si = si, .so = so, .flip = flip, .m = m,
		.nin = nin, .nout = nout, .bf16 = fwd_kernels(bf16) != kernels(),
		.u = u, .nr = l.nr, .noutp = l.coutp,
	};

	pool_run(nt, kernel_part, &ka);
}

void
winograd_conv(int nt, int m, const float *x, int ldx, int n, int h, int w,
	      int nin, const float *bias, int nout, float *y, int ldy,
	      int relu, const float *mx, int ldmx, int bf16, const float *u)
{
	struct pass_args a = { .ops = fwd_kernels(bf16) };
	size_t per, cap, fit, steps;

	a.l = layer(m, n, h, w, nin, nout);
	a.l.x = x, a.l.ldx = ldx, a.l.u = u, a.l.bias = bias;
	a.l.relu = relu, a.l.mx = mx, a.l.ldmx = ldmx, a.l.y = y;
	a.l.ldy = ldy;
	a.ntiles = (size_t)n * a.l.th * a.l.tw;
	/* steps in a multiple of nt, as large as the scratch allows but no
	 * larger than needed: see STEP_FLOATS */
	per = (size_t)a.l.T * (a.l.ldv + a.l.ldm);
	cap = pool_col_floats() / per;
	while (cap > 0 && step_scratch(&a.l, (int)cap, a.l.T) >
			  pool_col_floats())
		cap--;
	fit = step_floats(&a.l) / per;
	if (fit < cap)
		cap = fit;
	if (cap < 1)
		die("winograd: scratch of %zu floats, %zu needed",
		    pool_col_floats(), step_scratch(&a.l, 1, a.l.T));
	steps = (a.ntiles + cap - 1) / cap;
	steps = (steps + nt - 1) / nt * nt;
	a.nb = (int)((a.ntiles + steps - 1) / steps);
	pool_run(nt, fwd_part, &a);
}

/* The parts of a weight gradient's tiles (pass_args' parts): two for a
 * layer of at most 64 x 64 channels when u has room for two sums, one
 * otherwise. With one, two threads split the transform points, and each
 * reads and transforms every tile; with two, each thread half the tiles.
 * Measured at base 16 (unet-bench --mode layers, 2 threads, batch 16, a
 * Zen 4), the backward of c1.conv2 (16 -> 16 at 128x128) went from 12.2
 * to 10.4 ms, and the Winograd layers' backward from 127.5 to 118.3 ms;
 * wider layers, whose products outweigh their transforms, would only
 * double the sums' traffic. The room is counted with blocks of 32
 * outputs, the widest of every path, so that the parts, and the sums'
 * order, are the same on each. */
static int
wgrad_parts(const struct wino_layer *l, size_t ufloats)
{
	size_t two = 2 * (size_t)l->T * l->cin * round_up(l->cout, 32);

	return l->cin * l->cout <= 64 * 64 && two <= ufloats ? 2 : 1;
}

void
winograd_wgrad(int nt, int m, const float *x, int ldx, const float *dy,
	       int lddy, int n, int h, int w, int cin, int cout, float *dk,
	       float *u, size_t ufloats)
{
	struct pass_args a = { .ops = kernels() };
	struct kernel_args ka = {
		.m = m, .nin = cin, .nout = cout, .du = u, .dk = dk,
	};
	struct zero_args z = { u, 0 };

	a.l = layer(m, n, h, w, cin, cout);
	a.l.x = x, a.l.ldx = ldx, a.l.dy = dy, a.l.lddy = lddy, a.l.du = u;
	a.ntiles = (size_t)n * a.l.th * a.l.tw;
	a.nb = wgrad_tiles_per_step(&a.l, a.ntiles);
	a.parts = wgrad_parts(&a.l, ufloats);
	a.sdu = winograd_kernel_floats(m, cin, cout);
	if (step_scratch(&a.l, a.nb, a.l.T) > pool_col_floats())
		die("winograd: scratch of %zu floats, %zu needed",
		    pool_col_floats(), step_scratch(&a.l, a.nb, a.l.T));
	if (a.parts * a.sdu > ufloats)
		die("winograd: weight gradient of %zu floats in %zu",
		    a.parts * a.sdu, ufloats);
	z.count = a.parts * a.sdu;
	ka.nr = a.l.nr;
	ka.noutp = a.l.coutp;
	ka.parts = a.parts;
	ka.sdu = a.sdu;
	pool_run(nt, zero_part, &z);
	pool_run(nt, wgrad_part, &a);
	pool_run(nt, kernel_grad_part, &ka);
}
