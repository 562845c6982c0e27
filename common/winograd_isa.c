/* The kernels of winograd, written once over a vector type (vec_isa.h)
 * and compiled once per instruction set (see the Makefile) into the table
 * WINOGRAD_OPS, which winograd.c picks from at run time. The transforms
 * work on one vector of channels of a tile at a time, in registers; the
 * products are blocks of MR rows by two vectors of columns. Compiled with
 * -mavx512bf16 (winograd_avx512bf16), the table has the forward only, its
 * products in bf16: the transformed input rounded to bf16 as it is
 * stored, the transformed kernel as winograd.c packed it, two products
 * per lane and instruction (vdpbf16ps) summed in fp32. */
#include "winograd_isa.h"

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(WINOGRAD_OPS)
#error "winograd_isa.c needs -mavx2 -mfma (or -mavx512f) and WINOGRAD_OPS"
#endif

#include <stdint.h>
#include <string.h>

#include "vec_isa.h"

#if defined(__AVX512BF16__)
#define BF16 1
#else
#define BF16 0
#endif

#define AI static inline __attribute__((always_inline))

/* Rows of a product block (12 with AVX-512, 6 with AVX2: MR x 2
 * accumulators), its columns, and the slice of the sum kept in cache. */
#define MR (MAXACC / 2)
#define NR (2 * VW)
#define KC 256

/* The 1-D transforms of F(2x2, 3x3) (m 2) and F(4x4, 3x3) (m 4), Lavin and
 * Gray's matrices, on vectors i[0], i[s], ... into o[0], o[t], ...:
 * bt: B^T (a -> a), on the input; at: A^T (a -> m), on the products;
 * am: A (m -> a), on the output gradient. */
AI void
bt(const int m, const vec *i, int s, vec *o, int t)
{
	if (m == 2) {
		o[0] = vsub(i[0], i[2 * s]);
		o[t] = vadd(i[s], i[2 * s]);
		o[2 * t] = vsub(i[2 * s], i[s]);
		o[3 * t] = vsub(i[s], i[3 * s]);
		return;
	}
	vec c2 = vset1(2), c4 = vset1(4), c5 = vset1(5);
	vec i1 = i[s], i2 = i[2 * s], i3 = i[3 * s], i4 = i[4 * s];

	o[0] = vfma(c4, i[0], vsub(i4, vmul(c5, i2)));
	o[t] = vsub(vadd(i3, i4), vmul(c4, vadd(i1, i2)));
	o[2 * t] = vfma(c4, vsub(i1, i2), vsub(i4, i3));
	o[3 * t] = vfma(c2, vsub(i3, i1), vsub(i4, i2));
	o[4 * t] = vfma(c2, vsub(i1, i3), vsub(i4, i2));
	o[5 * t] = vfma(c4, i1, vsub(i[5 * s], vmul(c5, i3)));
}

AI void
at(const int m, const vec *i, int s, vec *o, int t)
{
	if (m == 2) {
		o[0] = vadd(vadd(i[0], i[s]), i[2 * s]);
		o[t] = vsub(vsub(i[s], i[2 * s]), i[3 * s]);
		return;
	}
	vec s12 = vadd(i[s], i[2 * s]), d12 = vsub(i[s], i[2 * s]);
	vec s34 = vadd(i[3 * s], i[4 * s]), d34 = vsub(i[3 * s], i[4 * s]);

	o[0] = vadd(vadd(i[0], s12), s34);
	o[t] = vfma(vset1(2), d34, d12);
	o[2 * t] = vfma(vset1(4), s34, s12);
	o[3 * t] = vadd(vfma(vset1(8), d34, d12), i[5 * s]);
}

#if !BF16
AI void
am(const int m, const vec *i, int s, vec *o, int t)
{
	if (m == 2) {
		o[0] = i[0];
		o[t] = vadd(i[0], i[s]);
		o[2 * t] = vsub(i[0], i[s]);
		o[3 * t] = vsub(vzero(), i[s]);
		return;
	}
	vec s02 = vadd(i[0], i[2 * s]), s13 = vadd(i[s], i[3 * s]);
	vec p = vfma(vset1(4), i[2 * s], i[0]);
	vec q = vfma(vset1(4), i[3 * s], i[s]);

	o[0] = i[0];
	o[t] = vadd(s02, s13);
	o[2 * t] = vsub(s02, s13);
	o[3 * t] = vfma(vset1(2), q, p);
	o[4 * t] = vsub(p, vmul(vset1(2), q));
	o[5 * t] = i[3 * s];
}
#endif

/* Where tile `tile` lies: its image and the map coordinates of its first
 * output pixel. */
static void
tile_place(const struct wino_layer *l, size_t tile, size_t *img, int *y0,
	   int *x0)
{
	size_t per = (size_t)l->th * l->tw, r = tile % per;

	*img = tile / per;
	*y0 = (int)(r / l->tw) * l->m;
	*x0 = (int)(r % l->tw) * l->m;
}

#if !BF16
/* The points p0 <= p < p1 of a transformed tile o to dst[(p - p0) ldp]. */
AI void
store_points(const vec *o, int p0, int p1, float *dst, size_t ldp)
{
#pragma GCC unroll 36
	for (int p = p0; p < p1; p++)
		vstore(dst + (size_t)(p - p0) * ldp, o[p], VW);
}
#else
/* store_points of all T points rounded to bf16 (to nearest even). */
AI void
store_points_bf16(const vec *o, int T, uint16_t *dst, size_t ldp)
{
	for (int p = 0; p < T; p++)
		_mm256_storeu_si256((__m256i *)(dst + (size_t)p * ldp),
				    (__m256i)_mm512_cvtneps_pbh(o[p]));
}
#endif

/* The input transform B^T d B of the tile at (img, y0, x0) (its first
 * output pixel), channels c0 .. c0+VW-1 of x (zero beyond cin): the
 * points of the rows of the transform grid that hold p0 <= p < p1 into o. */
AI void
input_tile(const int m, const struct wino_layer *l, size_t img, int y0,
	   int x0, int c0, int p0, int p1, vec o[36])
{
	const int a = m + 2;
	vec d[36], t[36];
	int nl = l->cin - c0, i0 = p0 / a, i1 = (p1 - 1) / a;

	if (y0 >= 1 && y0 - 1 + a <= l->h && x0 >= 1 && x0 - 1 + a <= l->w
	    && nl >= VW) {
		/* inside the map, a whole vector: no test per pixel */
		const float *x = l->x + ((img * l->h + y0 - 1) * l->w + x0
					 - 1) * l->ldx + c0;
		size_t row = (size_t)l->w * l->ldx;

#pragma GCC unroll 36
		for (int q = 0; q < a * a; q++)
			d[q] = vload(x + (q / a) * row + (q % a) * l->ldx, VW);
	} else {
#pragma GCC unroll 6
		for (int r = 0; r < a; r++) {
			int iy = y0 - 1 + r;

#pragma GCC unroll 6
			for (int j = 0; j < a; j++) {
				int ix = x0 - 1 + j;

				d[r * a + j] = iy >= 0 && iy < l->h &&
					       ix >= 0 && ix < l->w
					? vload_n(l->x + ((img * l->h + iy)
							  * l->w + ix)
							 * l->ldx + c0, nl)
					: vzero();
			}
		}
	}
#pragma GCC unroll 6
	for (int j = 0; j < a; j++)
		bt(m, d + j, a, t + j, a);
#pragma GCC unroll 6
	for (int i = i0; i <= i1; i++)
		bt(m, t + i * a, 1, o + i * a, 1);
}

/* The cases of a switch over a product block's rows, CASE(P, V) each:
 * 1 .. MR rows of two vectors, 1 .. 2 MR rows of one. */
#define ROWS_UP_TO_6(CASE, V) \
	CASE(1, V) CASE(2, V) CASE(3, V) CASE(4, V) CASE(5, V) CASE(6, V)
#define ROWS_7_TO_12(CASE, V) \
	CASE(7, V) CASE(8, V) CASE(9, V) CASE(10, V) CASE(11, V) CASE(12, V)
#if MR > 6
#define ROWS_OF_TWO(CASE) ROWS_UP_TO_6(CASE, 2) ROWS_7_TO_12(CASE, 2)
#define ROWS_OF_ONE(CASE) \
	ROWS_UP_TO_6(CASE, 1) ROWS_7_TO_12(CASE, 1) CASE(13, 1) CASE(14, 1) \
	CASE(15, 1) CASE(16, 1) CASE(17, 1) CASE(18, 1) CASE(19, 1) \
	CASE(20, 1) CASE(21, 1) CASE(22, 1) CASE(23, 1) CASE(24, 1)
#else
#define ROWS_OF_TWO(CASE) ROWS_UP_TO_6(CASE, 2)
#define ROWS_OF_ONE(CASE) ROWS_UP_TO_6(CASE, 1) ROWS_7_TO_12(CASE, 1)
#endif

#if !BF16
/* The product block c[P x V VW] (+)= a b over k < K, V vectors of columns
 * (1 or 2): a's element (p, k) at a[p sai + k sak], b's row k at b + k
 * ldb, c's row p at c + p ldc; with acc 0, c is overwritten. Each element
 * sums over k in order, whatever P and V. */
AI void
block(const float *a, size_t sai, size_t sak, const float *b, size_t ldb,
      float *c, size_t ldc, int K, int acc, const int P, const int V)
{
	vec r[2 * MR];

#pragma GCC unroll 24
	for (int p = 0; p < P; p++) {
		r[V * p] = acc ? vload(c + p * ldc, VW) : vzero();
		if (V == 2)
			r[V * p + 1] = acc ? vload(c + p * ldc + VW, VW)
					   : vzero();
	}
	for (int k = 0; k < K; k++) {
		const float *ak = a + k * sak;
		vec b0 = vload(b + k * ldb, VW);
		vec b1 = V == 2 ? vload(b + k * ldb + VW, VW) : b0;

#pragma GCC unroll 24
		for (int p = 0; p < P; p++) {
			vec x = vbcast(ak + p * sai);

			r[V * p] = vfma(x, b0, r[V * p]);
			if (V == 2)
				r[V * p + 1] = vfma(x, b1, r[V * p + 1]);
		}
	}
#pragma GCC unroll 24
	for (int p = 0; p < P; p++) {
		vstore(c + p * ldc, r[V * p], VW);
		if (V == 2)
			vstore(c + p * ldc + VW, r[V * p + 1], VW);
	}
}

/* block with P = rows a constant: 1 .. MR rows of two vectors (nr NR),
 * 1 .. 2 MR rows of one (nr VW). */
static void
product(const float *a, size_t sai, size_t sak, const float *b, size_t ldb,
	float *c, size_t ldc, int K, int acc, int rows, int nr)
{
#define CASE(P, V) \
	case P: \
		block(a, sai, sak, b, ldb, c, ldc, K, acc, P, V); \
		break;
	if (nr == NR)
		switch (rows) { ROWS_OF_TWO(CASE) default: break; }
	else
		switch (rows) { ROWS_OF_ONE(CASE) default: break; }
#undef CASE
}
#else
/* block in bf16: c[P x V VW] (+)= a b over k < K (K even), V vectors of
 * columns (1 or 2): a's element (p, k) at a[p lda + k], b's pair row k / 2
 * at b + k V VW, holding (b[k][j], b[k+1][j]) for j < V VW; each lane adds
 * the products of one pair per step, in order over k. */
AI void
block_bf16(const uint16_t *a, size_t lda, const uint16_t *b, float *c,
	   size_t ldc, int K, int acc, const int P, const int V)
{
	vec r[2 * MR];

#pragma GCC unroll 24
	for (int p = 0; p < P; p++) {
		r[V * p] = acc ? vload(c + p * ldc, VW) : vzero();
		if (V == 2)
			r[V * p + 1] = acc ? vload(c + p * ldc + VW, VW)
					   : vzero();
	}
	for (int k = 0; k < K; k += 2) {
		const uint16_t *bk = b + (size_t)k * V * VW;
		__m512bh b0 = (__m512bh)_mm512_loadu_si512(bk);
		__m512bh b1 = V == 2 ? (__m512bh)_mm512_loadu_si512(bk + 2 * VW)
				     : b0;

#pragma GCC unroll 24
		for (int p = 0; p < P; p++) {
			uint32_t pair;
			__m512bh x;

			memcpy(&pair, a + p * lda + k, sizeof pair);
			x = (__m512bh)_mm512_set1_epi32((int)pair);
			r[V * p] = _mm512_dpbf16_ps(r[V * p], x, b0);
			if (V == 2)
				r[V * p + 1] = _mm512_dpbf16_ps(r[V * p + 1],
								x, b1);
		}
	}
#pragma GCC unroll 24
	for (int p = 0; p < P; p++) {
		vstore(c + p * ldc, r[V * p], VW);
		if (V == 2)
			vstore(c + p * ldc + VW, r[V * p + 1], VW);
	}
}

/* block_bf16 with P = rows a constant, as product. */
static void
product_bf16(const uint16_t *a, size_t lda, const uint16_t *b, float *c,
	     size_t ldc, int K, int acc, int rows, int nr)
{
#define CASE(P, V) \
	case P: \
		block_bf16(a, lda, b, c, ldc, K, acc, P, V); \
		break;
	if (nr == NR)
		switch (rows) { ROWS_OF_TWO(CASE) default: break; }
	else
		switch (rows) { ROWS_OF_ONE(CASE) default: break; }
#undef CASE
}
#endif

/* Output value v (bias added) of pixel pix, channels c0 .. c0+nl-1 (at
 * most VW): with the ReLU and the mask, stored to y. */
AI void
output_pixel(const struct wino_layer *l, size_t pix, int c0, vec v, int nl)
{
	if (l->relu)
		v = vmax(v, vzero());
	if (l->mx)
		v = vpos_mask(v, vload_n(l->mx + pix * l->ldmx + c0, nl));
	vstore_n(l->y + pix * l->ldy + c0, v, nl);
}

/* The output transform A^T M A of tile rl of the block (M's points at
 * mm[p * ldp]) for channels c0 .. c0+VW-1, with the bias, the ReLU and the
 * mask, stored to the tile's pixels inside the map. */
AI void
output_tile(const int m, const struct wino_layer *l, const float *mm,
	    size_t ldp, size_t img, int y0, int x0, int c0)
{
	const int a = m + 2;
	vec in[36], t[24], o[16];
	int nl = l->cout - c0;
	vec b = l->bias ? vload_n(l->bias + c0, nl) : vzero();

#pragma GCC unroll 36
	for (int p = 0; p < a * a; p++)
		in[p] = vload(mm + p * ldp, VW);
#pragma GCC unroll 6
	for (int j = 0; j < a; j++)
		at(m, in + j, a, t + j, a);
#pragma GCC unroll 4
	for (int i = 0; i < m; i++)
		at(m, t + i * a, 1, o + i * m, 1);
	if (y0 + m <= l->h && x0 + m <= l->w && nl >= VW) {
		/* inside the map, a whole vector: no test per pixel */
		size_t pix0 = (img * l->h + y0) * l->w + x0;

#pragma GCC unroll 16
		for (int q = 0; q < m * m; q++)
			output_pixel(l, pix0 + (size_t)(q / m) * l->w + q % m,
				     c0, vadd(o[q], b), VW);
		return;
	}
#pragma GCC unroll 4
	for (int i = 0; i < m; i++) {
		int oy = y0 + i;

		if (oy >= l->h)
			break;
#pragma GCC unroll 4
		for (int j = 0; j < m; j++) {
			int ox = x0 + j;

			if (ox >= l->w)
				break;
			output_pixel(l, (img * l->h + oy) * l->w + ox, c0,
				     vadd(o[i * m + j], b), nl);
		}
	}
}

AI void
fwd_tiles_m(const int m, const struct wino_layer *l, size_t tile0,
	    int ntile, float *scratch)
{
	const int T = (m + 2) * (m + 2);
	int cin = l->cin, ldv = l->ldv, ldm = l->ldm, nr = l->nr;
	int ncb = l->coutp / nr, mr = nr == NR ? MR : 2 * MR;
	size_t sv = wino_point_stride(ntile, ldv);
	size_t sm = wino_point_stride(ntile, ldm);
	float *mm = scratch + (size_t)T * sv;
#if BF16
	/* V's rows in bf16 (zero beyond cin), the kernel's in pairs */
	uint16_t *v = (uint16_t *)scratch;
	const uint16_t *ub = (const uint16_t *)l->u;
	int cinp = (cin + 1) / 2 * 2;
#else
	float *v = scratch;
#endif

	for (int r = 0; r < ntile; r++) {
		size_t img;
		int y0, x0;

		tile_place(l, tile0 + r, &img, &y0, &x0);
		for (int c0 = 0; c0 < cin; c0 += VW) {
			vec o[36];

			input_tile(m, l, img, y0, x0, c0, 0, T, o);
#if BF16
			store_points_bf16(o, T, v + (size_t)r * ldv + c0,
					  sv);
#else
			store_points(o, 0, T, v + (size_t)r * ldv + c0,
				     sv);
#endif
		}
	}
	for (int p = 0; p < T; p++)
		for (int cb = 0; cb < ncb; cb++) {
#if BF16
			const uint16_t *u = ub + ((size_t)p * ncb + cb) * cinp
						 * nr;
#else
			const float *u = l->u + ((size_t)p * ncb + cb) * cin
						* nr;
#endif

			for (int k0 = 0; k0 < cin; k0 += KC) {
				int kc = cin - k0 < KC ? cin - k0 : KC;

				for (int r0 = 0; r0 < ntile; r0 += mr)
#if BF16
					product_bf16(v + (size_t)p * sv
						     + (size_t)r0 * ldv + k0,
						     ldv, u + (size_t)k0 * nr,
						     mm + (size_t)p * sm
						     + (size_t)r0 * ldm
						     + cb * nr, ldm,
						     (kc + 1) / 2 * 2, k0 > 0,
						     ntile - r0 < mr
							? ntile - r0 : mr, nr);
#else
					product(v + (size_t)p * sv
						    + (size_t)r0 * ldv + k0,
						ldv, 1, u + (size_t)k0 * nr, nr,
						mm + (size_t)p * sm
						     + (size_t)r0 * ldm
						     + cb * nr, ldm, kc,
						k0 > 0, ntile - r0 < mr
							? ntile - r0 : mr, nr);
#endif
			}
		}
	for (int r = 0; r < ntile; r++) {
		size_t img;
		int y0, x0;

		tile_place(l, tile0 + r, &img, &y0, &x0);
		for (int c0 = 0; c0 < l->cout; c0 += VW)
			output_tile(m, l, mm + (size_t)r * ldm + c0, sm, img,
				    y0, x0, c0);
	}
}

static void
k_fwd_tiles(const struct wino_layer *l, size_t tile0, int ntile,
	    float *scratch)
{
	if (l->m == 2)
		fwd_tiles_m(2, l, tile0, ntile, scratch);
	else
		fwd_tiles_m(4, l, tile0, ntile, scratch);
}

#if !BF16
/* The transform A dY A^T of the output gradient's tile at (img, y0, x0),
 * channels c0 .. c0+VW-1 (zero beyond cout): points p0 <= p < p1 to
 * w[p * ldp]. */
AI void
grad_tile(const int m, const struct wino_layer *l, size_t img, int y0,
	  int x0, int c0, float *w, size_t ldp, int p0, int p1)
{
	const int a = m + 2;
	vec d[16], t[24], o[36];
	int nl = l->cout - c0, i0 = p0 / a, i1 = (p1 - 1) / a;

	if (y0 + m <= l->h && x0 + m <= l->w && nl >= VW) {
		/* inside the map, a whole vector: no test per pixel */
		const float *dy = l->dy + ((img * l->h + y0) * l->w + x0)
					  * l->lddy + c0;
		size_t row = (size_t)l->w * l->lddy;

#pragma GCC unroll 16
		for (int q = 0; q < m * m; q++)
			d[q] = vload(dy + (q / m) * row + (q % m) * l->lddy,
				     VW);
	} else {
#pragma GCC unroll 4
		for (int r = 0; r < m; r++) {
			int oy = y0 + r;

#pragma GCC unroll 4
			for (int j = 0; j < m; j++) {
				int ox = x0 + j;

				d[r * m + j] = oy < l->h && ox < l->w && nl > 0
					? vload_n(l->dy + ((img * l->h + oy)
							   * l->w + ox)
							  * l->lddy + c0, nl)
					: vzero();
			}
		}
	}
#pragma GCC unroll 4
	for (int j = 0; j < m; j++)
		am(m, d + j, m, t + j, m);
#pragma GCC unroll 6
	for (int i = i0; i <= i1; i++)
		am(m, t + i * m, 1, o + i * a, 1);
	store_points(o, p0, p1, w, ldp);
}

AI void
wgrad_tiles_m(const int m, const struct wino_layer *l, size_t tile0,
	      int ntile, int p0, int p1, float *scratch)
{
	int cin = l->cin, ldv = l->ldv, ldm = l->ldm, nr = l->nr;
	int ncb = l->coutp / nr, mr = nr == NR ? MR : 2 * MR;
	size_t np = p1 - p0, sv = wino_point_stride(ntile, ldv);
	size_t sm = wino_point_stride(ntile, ldm);
	float *v = scratch, *g = scratch + np * sv;

	for (int r = 0; r < ntile; r++) {
		size_t img;
		int y0, x0;

		tile_place(l, tile0 + r, &img, &y0, &x0);
		for (int c0 = 0; c0 < cin; c0 += VW) {
			vec o[36];

			input_tile(m, l, img, y0, x0, c0, p0, p1, o);
			store_points(o, p0, p1, v + (size_t)r * ldv + c0, sv);
		}
		for (int c0 = 0; c0 < l->coutp; c0 += VW)
			grad_tile(m, l, img, y0, x0, c0, g + (size_t)r * ldm + c0,
				  sm, p0, p1);
	}
	for (int p = p0; p < p1; p++) {
		const float *vp = v + (size_t)(p - p0) * sv;
		const float *gp = g + (size_t)(p - p0) * sm;
		for (int cb = 0; cb < ncb; cb++) {
			float *du = l->du + ((size_t)p * ncb + cb) * cin * nr;

			for (int r0 = 0; r0 < cin; r0 += mr)
				product(vp + r0, 1, ldv, gp + cb * nr, ldm,
					du + (size_t)r0 * nr, nr, ntile, 1,
					cin - r0 < mr ? cin - r0 : mr, nr);
		}
	}
}

static void
k_wgrad_tiles(const struct wino_layer *l, size_t tile0, int ntile, int p0,
	      int p1, float *scratch)
{
	if (l->m == 2)
		wgrad_tiles_m(2, l, tile0, ntile, p0, p1, scratch);
	else
		wgrad_tiles_m(4, l, tile0, ntile, p0, p1, scratch);
}

#endif

const struct winograd_ops WINOGRAD_OPS = {
	.nr = NR,
	.fwd_tiles = k_fwd_tiles,
#if !BF16
	.wgrad_tiles = k_wgrad_tiles,
#endif
};
