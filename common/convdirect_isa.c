/* The kernels of convdirect, written once over a vector type and compiled
 * once per instruction set (see the Makefile: -mavx512f -mfma, then -mavx2
 * -mfma, appended after OPT) into the table CONVDIRECT_OPS, which
 * convdirect.c picks from at run time. */
#include "convdirect_isa.h"

#include <string.h>

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(CONVDIRECT_OPS)
#error "convdirect_isa.c needs -mavx2 -mfma (or -mavx512f) and CONVDIRECT_OPS"
#endif

#include "vec_isa.h"

/* The lanes of a vector that hold channels when there are cout of them. */
#define LANES(cout) ((cout) < VW ? (cout) : VW)

/* Measured per layer by unet-bench --mode layers at base 16 and 64: the
 * direct path beats OpenBLAS 0.3.21's sgemm (an AVX2 kernel) by 2x and
 * more at 8 and 16 channels and every multiple of two vectors, with AVX2
 * as with AVX-512, up to the widest layers of base 64 (1024 channels). */
static int
direct_channels(int c)
{
	return c == 8 || c == 16 || c % (VW * 2) == 0;
}

/* The P V accumulators of a block of P output pixels by V vectors of
 * channels: set to the bias (zero without one); stored through the ReLU
 * when relu is set. */
static inline __attribute__((always_inline)) void
acc_init(vec *acc, const float *bias, const int P, const int V,
	 const int lanes)
{
#pragma GCC unroll 24
	for (int p = 0; p < P; p++)
#pragma GCC unroll 4
		for (int v = 0; v < V; v++)
			acc[p * V + v] = bias ? vload(bias + VW * v, lanes)
					      : vzero();
}

static inline __attribute__((always_inline)) void
acc_store(const vec *acc, float *y, int ldy, int relu, const int P,
	  const int V, const int lanes)
{
#pragma GCC unroll 24
	for (int p = 0; p < P; p++)
#pragma GCC unroll 4
		for (int v = 0; v < V; v++) {
			vec a = acc[p * V + v];

			if (relu)
				a = vmax(a, vzero());
			vstore(y + (size_t)p * ldy + VW * v, a, lanes);
		}
}

/* P output pixels by V vectors of channels, P V <= MAXACC accumulators: for
 * every tap (ky, kx) and input channel, one weight load per vector and one
 * broadcast per pixel feed P V fused multiply-adds. prow[ky] points at the
 * padded input row of the first pixel's window; the windows are S input
 * pixels apart (the stride). wt is the kernel's block of the channels,
 * [ky][kx][cin][ldw]. */
static inline __attribute__((always_inline)) void
conv_block(const float *const prow[3], int cin, const float *wt, int ldw,
	   const float *bias, float *y, int ldy, int relu, const int P,
	   const int V, const int S, const int lanes)
{
	vec acc[MAXACC];

	acc_init(acc, bias, P, V, lanes);
	for (int ky = 0; ky < 3; ky++)
		for (int kx = 0; kx < 3; kx++) {
			const float *xs = prow[ky] + kx * cin;
			const float *ws = wt + (size_t)(ky * 3 + kx) * cin * ldw;

			for (int ci = 0; ci < cin; ci++, ws += ldw) {
				vec wv[4];

#pragma GCC unroll 4
				for (int v = 0; v < V; v++)
					wv[v] = vload(ws + VW * v, lanes);
#pragma GCC unroll 24
				for (int p = 0; p < P; p++) {
					vec xb = vbcast(xs + (size_t)p * S * cin
							+ ci);
#pragma GCC unroll 4
					for (int v = 0; v < V; v++)
						acc[p * V + v] = vfma(
							xb, wv[v],
							acc[p * V + v]);
				}
			}
		}
	acc_store(acc, y, ldy, relu, P, V, lanes);
}

/* conv_block at stride 1, each input pixel's broadcast feeding the three
 * output pixels whose windows hold it in a row (taps kx = 0, 1, 2), so
 * 3 P V multiply-adds take P + 2 broadcasts and 3 V weight loads instead
 * of 3 P and 3 V: with AVX-512 the layers of 16 and 32 channels are
 * bound by loads, not by the multiply-adds (unet-bench --mode layers,
 * base 16: 10-25 % faster). AVX2's 16 registers cannot hold the 3 V
 * weights beside its accumulators: it keeps conv_block. Sums in another
 * order than conv_block's. */
static inline __attribute__((always_inline)) void
conv_block_slide(const float *const prow[3], int cin, const float *wt,
		 int ldw, const float *bias, float *y, int ldy, int relu,
		 const int P, const int V, const int lanes)
{
	vec acc[MAXACC];

	acc_init(acc, bias, P, V, lanes);
	for (int ky = 0; ky < 3; ky++) {
		const float *xs = prow[ky];
		const float *ws = wt + (size_t)ky * 3 * cin * ldw;

		for (int ci = 0; ci < cin; ci++, ws += ldw) {
			vec wv[3][2];

#pragma GCC unroll 3
			for (int kx = 0; kx < 3; kx++)
#pragma GCC unroll 2
				for (int v = 0; v < V; v++)
					wv[kx][v] = vload(ws + (size_t)kx * cin
							  * ldw + VW * v,
							  lanes);
#pragma GCC unroll 26
			for (int i = 0; i < P + 2; i++) {
				vec xb = vbcast(xs + (size_t)i * cin + ci);

#pragma GCC unroll 3
				for (int kx = 0; kx < 3; kx++) {
					int p = i - kx;

					if (p < 0 || p >= P)
						continue;
#pragma GCC unroll 2
					for (int v = 0; v < V; v++)
						acc[p * V + v] = vfma(
							xb, wv[kx][v],
							acc[p * V + v]);
				}
			}
		}
	}
	acc_store(acc, y, ldy, relu, P, V, lanes);
}

/* Input row iy of image img, zero-padded by one pixel on each side (all
 * zeros outside the image), into pad. */
static void
pad_row(const float *x, int ldx, int h, int w, int cin, size_t img, int iy,
	float *pad)
{
	size_t rowbytes = (size_t)cin * sizeof(float);
	const float *src;

	if (iy < 0 || iy >= h) {
		memset(pad, 0, ((size_t)w + 2) * rowbytes);
		return;
	}
	memset(pad, 0, rowbytes);
	memset(pad + ((size_t)w + 1) * cin, 0, rowbytes);
	src = x + (img * h + iy) * (size_t)w * ldx;
	if (ldx == cin) {
		memcpy(pad + cin, src, (size_t)w * rowbytes);
		return;
	}
	for (int i = 0; i < w; i++)
		memcpy(pad + (size_t)(i + 1) * cin, src + (size_t)i * ldx,
		       rowbytes);
}

/* Point prow[0..2] at the padded input rows oy-1, oy and oy+1 of image
 * img, kept in a ring of `slots` rows (slot (iy + 1) mod slots for row
 * iy, held[slot] naming the row it holds), filling the slots that do not
 * hold them yet. */
static void
ring_rows(const float *x, int ldx, int h, int w, int cin, size_t img, int oy,
	  float *scratch, int slots, long *held, const float *prow[3])
{
	size_t padlen = ((size_t)w + 2) * cin;

	for (int ky = 0; ky < 3; ky++) {
		int iy = oy + ky - 1, slot = (iy + 1) % slots;
		long id = (long)(img * (h + 2) + iy + 1);
		float *pad = scratch + slot * padlen;

		if (held[slot] != id) {
			pad_row(x, ldx, h, w, cin, img, iy, pad);
			held[slot] = id;
		}
		prow[ky] = pad;
	}
}

/* The kernel packed by blocks of output channels, as nn lays it out for
 * convdirect_rows: [cout / B][ky][kx][cin][B] with B = k_block(cout), one
 * block (WIDE_V vectors beyond one) per call of conv_block, read in
 * sequence. */
#define WIDE_V 2

static int
k_block(int cout)
{
	return cout <= VW ? cout : VW * WIDE_V;
}

/* conv_block at output pixel ox of the row whose padded input rows are
 * prow, for the channels c0 .. c0 + V VW - 1, whose block of the packed
 * kernel is wb. C and L, when not 0, are cin and the lanes as constants
 * (see k_rows). */
static inline __attribute__((always_inline)) void
conv_at(const float *const prow[3], int ox, int cin, const float *wb,
	int c0, int cout, const float *bias, float *yrow, int ldy, int relu,
	const int P, const int V, const int S, const int C, const int L)
{
	int nc = C ? C : cin;
	size_t at0 = (size_t)ox * S * nc;
	const float *at[3] = { prow[0] + at0, prow[1] + at0, prow[2] + at0 };

	if (S == 1 && VW == 16)
		conv_block_slide(at, nc, wb, k_block(cout),
				 bias ? bias + c0 : NULL,
				 yrow + (size_t)ox * ldy + c0, ldy, relu, P,
				 V, L ? L : LANES(cout));
	else
		conv_block(at, nc, wb, k_block(cout), bias ? bias + c0 : NULL,
			   yrow + (size_t)ox * ldy + c0, ldy, relu, P, V, S,
			   L ? L : LANES(cout));
}

/* The w output pixels of one row for the block of channels from c0, with
 * P and V fixed so that conv_block's accumulators live in registers; the
 * pixels left over at the end of the row go by 4, 2 and 1. */
static inline __attribute__((always_inline)) void
conv_row(const float *const prow[3], int w, int cin, const float *wt,
	 int c0, int cout, const float *bias, float *yrow, int ldy, int relu,
	 const int P, const int V, const int S, const int C, const int L)
{
	const float *wb = wt + (size_t)c0 * 9 * cin;
	int ox = 0;

	for (; ox + P <= w; ox += P)
		conv_at(prow, ox, cin, wb, c0, cout, bias, yrow, ldy, relu, P,
			V, S, C, L);
	for (; P > 4 && ox + 4 <= w; ox += 4)
		conv_at(prow, ox, cin, wb, c0, cout, bias, yrow, ldy, relu, 4,
			V, S, C, L);
	for (; ox + 2 <= w; ox += 2)
		conv_at(prow, ox, cin, wb, c0, cout, bias, yrow, ldy, relu, 2,
			V, S, C, L);
	for (; ox < w; ox++)
		conv_at(prow, ox, cin, wb, c0, cout, bias, yrow, ldy, relu, 1,
			V, S, C, L);
}

/* A tile of output rows (within one image) aims at TILE_PIXELS pixels, at
 * most MAX_TILE rows: every block of the kernel is used for all the rows
 * of a tile before the next, so it is read from memory once per tile and
 * from the L2 cache (9 cin B floats: 576 KiB at 512 input channels) for
 * the rest. */
#define TILE_PIXELS 256
#define MAX_TILE 32

static int
tile_rows(int w)
{
	int t = TILE_PIXELS / w;

	return t < 1 ? 1 : t > MAX_TILE ? MAX_TILE : t;
}

/* The scratch of the padded input rows of a tile and the two around it,
 * then of the gathered inputs of MAXACC (tap, channel) pairs over the
 * tile's pixels (wgrad_at). */
static size_t
rows_scratch(int w, int cin)
{
	size_t tile = tile_rows(w);

	return (tile + 2) * ((size_t)w + 2) * cin + tile * w * MAXACC;
}

static int
k_available(int cout, int w, int cin, size_t scratch_floats)
{
	return direct_channels(cout) &&
	       rows_scratch(w, cin) <= scratch_floats;
}

/* The rows by tiles, and in each tile block of channels after block over
 * all its rows; the padded input rows in a ring of a tile's rows and the
 * two around them (ring_rows), so each is padded once. */
static inline __attribute__((always_inline)) void
conv_rows(const float *x, int ldx, int h, int w, int cin, const float *wt,
	  const float *bias, int cout, float *y, int ldy, int relu,
	  size_t r0, size_t r1, float *scratch, const int P, const int V,
	  const int C, const int L)
{
	int tile = tile_rows(w), slots = tile + 2;
	long held[MAX_TILE + 2];

	for (int i = 0; i < slots; i++)
		held[i] = -1;
	for (size_t r = r0; r < r1;) {
		size_t img = r / h, n = h - r % h;

		if (n > (size_t)tile)
			n = tile;
		if (n > r1 - r)
			n = r1 - r;
		for (int c0 = 0; c0 < cout; c0 += VW * V)
			for (size_t j = r; j < r + n; j++) {
				const float *prow[3];

				ring_rows(x, ldx, h, w, cin, img, (int)(j % h),
					  scratch, slots, held, prow);
				conv_row(prow, w, cin, wt, c0, cout, bias,
					 y + j * (size_t)w * ldy, ldy, relu,
					 P, V, 1, C, L);
			}
		r += n;
	}
}

/* The block shapes, measured per layer with unet-bench --mode layers: P
 * pixels (or G tap and channel pairs) by V vectors. */
#if VW == 16
#define NARROW 16, 1 /* cout 8 or 16: one vector */
#define WIDE 8, WIDE_V /* cout 32 and more: two vectors a block */
#else
#define NARROW 12, 1 /* cout 8 */
#define WIDE 6, WIDE_V /* cout 16 and more: 16 channels a block */
#endif

/* The layers of few input channels, whose pixels lie cin floats apart in
 * the padded rows, are compiled with cin a constant (the P pixels'
 * addresses fixed offsets, not registers spilled to the stack), and full
 * vectors of output channels without the mask's test in the inner loop. */
#define K_ROWS(P_V, C, L) \
	conv_rows(x, ldx, h, w, cin, wt, bias, cout, y, ldy, relu, r0, r1, \
		  scratch, P_V, C, L)

static void
k_rows(const float *x, int ldx, int h, int w, int cin, const float *wt,
       const float *bias, int cout, float *y, int ldy, int relu, size_t r0,
       size_t r1, float *scratch)
{
	if (cout < VW)
		K_ROWS(NARROW, 0, 0);
	else if (cout == VW && cin == 16)
		K_ROWS(NARROW, 16, VW);
	else if (cout == VW && cin == 32)
		K_ROWS(NARROW, 32, VW);
	else if (cout == VW)
		K_ROWS(NARROW, 0, VW);
	else if (cin == 16)
		K_ROWS(WIDE, 16, VW);
	else if (cin == 32)
		K_ROWS(WIDE, 32, VW);
	else
		K_ROWS(WIDE, 0, VW);
}
#undef K_ROWS

/* G (tap, input channel) pairs by V vectors of output channels, G V <=
 * MAXACC accumulators, over the w pixels of each of nrows rows:
 * dk[pair][co] += x at the pair's offset (pixels ldxp apart, rows xstep
 * apart) times dy (rows dystep apart), pixel after pixel, row after row;
 * the accumulators are loaded and stored once. With C, the pairs' inputs
 * are consecutive floats from xp[0] on (one register for their address).
 */
static inline __attribute__((always_inline)) void
wgrad_block(const float *const xp[MAXACC], int ldxp, size_t xstep,
	    const float *dyrow, int lddy, size_t dystep, int w, int nrows,
	    float *const dkp[MAXACC], const int G, const int V, const int C,
	    const int lanes)
{
	vec acc[MAXACC];

#pragma GCC unroll 24
	for (int g = 0; g < G; g++)
#pragma GCC unroll 2
		for (int v = 0; v < V; v++)
			acc[g * V + v] = vload(dkp[g] + VW * v, lanes);
	for (int j = 0; j < nrows; j++)
		for (int ox = 0; ox < w; ox++) {
			const float *d = dyrow + j * dystep + (size_t)ox * lddy;
			size_t at = j * xstep + (size_t)ox * ldxp;
			vec dv[2];

#pragma GCC unroll 2
			for (int v = 0; v < V; v++)
				dv[v] = vload(d + VW * v, lanes);
#pragma GCC unroll 24
			for (int g = 0; g < G; g++) {
				vec xb = vbcast((C ? xp[0] + g : xp[g]) + at);

#pragma GCC unroll 2
				for (int v = 0; v < V; v++)
					acc[g * V + v] = vfma(xb, dv[v],
							      acc[g * V + v]);
			}
		}
#pragma GCC unroll 24
	for (int g = 0; g < G; g++)
#pragma GCC unroll 2
		for (int v = 0; v < V; v++)
			vstore(dkp[g] + VW * v, acc[g * V + v], lanes);
}

/* The gather of wgrad_at pays from this many blocks of output channels on
 * (measured: from 256 channels with AVX-512; it costs 10-15 % at 64 and
 * 128). */
#define PACK_BLOCKS 8

/* wgrad_block for the G pairs from q on (pair q: tap q / cin, input
 * channel q % cin), for every block of output channels, over the nrows
 * output rows whose padded input rows are pad[0 .. nrows + 1] (padlen
 * floats each) and whose gradient rows start at dyrow. With many blocks,
 * the pairs' inputs are first gathered pixel after pixel into xpack (G
 * nrows w floats), so that each block reads them in sequence. */
static inline __attribute__((always_inline)) void
wgrad_at(const float *pad, size_t padlen, int q, int cin, const float *dyrow,
	 int lddy, int w, int nrows, float *dk, int cout, float *xpack,
	 const int G, const int V)
{
	const float *xs[MAXACC], *xp[MAXACC];
	int pack = cout >= PACK_BLOCKS * VW * V;
	float *o = xpack;

	for (int g = 0; g < G; g++) {
		int s = (q + g) / cin, ci = (q + g) % cin;

		xs[g] = pad + s / 3 * padlen + (s % 3) * cin + ci;
		xp[g] = pack ? xpack + g : xs[g];
	}
	for (int j = 0; pack && j < nrows; j++)
		for (int ox = 0; ox < w; ox++)
#pragma GCC unroll 24
			for (int g = 0; g < G; g++)
				*o++ = xs[g][j * padlen + (size_t)ox * cin];
	for (int c0 = 0; c0 < cout; c0 += VW * V) {
		float *dkp[MAXACC];

		for (int g = 0; g < G; g++)
			dkp[g] = dk + (size_t)(q + g) * cout + c0;
		if (pack)
			wgrad_block(xp, G, (size_t)w * G, dyrow + c0, lddy,
				    (size_t)w * lddy, w, nrows, dkp, G, V, 1,
				    LANES(cout));
		else if (q % cin + G <= cin) /* the pairs of one tap */
			wgrad_block(xp, cin, padlen, dyrow + c0, lddy,
				    (size_t)w * lddy, w, nrows, dkp, G, V, 1,
				    LANES(cout));
		else
			wgrad_block(xp, cin, padlen, dyrow + c0, lddy,
				    (size_t)w * lddy, w, nrows, dkp, G, V, 0,
				    LANES(cout));
	}
}

/* Input pixel i's channels ci0 .. ci0 + Gc - 1 of a padded row (xr, cin
 * apart) by the output gradient of the pixels i - kx its window holds at
 * kx = K0 .. K1 (d, lddy apart), into acc[kx][g][v]. */
static inline __attribute__((always_inline)) void
wslide_pixel(const float *xr, int cin, const float *d, int lddy, int i,
	     vec *acc, const int K0, const int K1, const int Gc, const int V,
	     const int lanes)
{
	vec dv[3][2];

#pragma GCC unroll 3
	for (int kx = K0; kx <= K1; kx++)
#pragma GCC unroll 2
		for (int v = 0; v < V; v++)
			dv[kx][v] = vload(d + (size_t)(i - kx) * lddy + VW * v,
					  lanes);
#pragma GCC unroll 8
	for (int g = 0; g < Gc; g++) {
		vec xb = vbcast(xr + (size_t)i * cin + g);

#pragma GCC unroll 3
		for (int kx = K0; kx <= K1; kx++)
#pragma GCC unroll 2
			for (int v = 0; v < V; v++)
				acc[(kx * Gc + g) * V + v] = vfma(
					xb, dv[kx][v], acc[(kx * Gc + g) * V + v]);
	}
}

/* wgrad_slide's accumulators acc[kx][g][v] loaded from (store 0) or
 * stored to (store 1) the kernel gradient's rows dkp[kx] + g cout. */
static inline __attribute__((always_inline)) void
dk_move(vec *acc, float *const dkp[3], int cout, const int store,
	const int Gc, const int V, const int lanes)
{
#pragma GCC unroll 3
	for (int kx = 0; kx < 3; kx++)
#pragma GCC unroll 8
		for (int g = 0; g < Gc; g++)
#pragma GCC unroll 2
			for (int v = 0; v < V; v++) {
				float *at = dkp[kx] + (size_t)g * cout + VW * v;

				if (store)
					vstore(at, acc[(kx * Gc + g) * V + v],
					       lanes);
				else
					acc[(kx * Gc + g) * V + v] =
						vload(at, lanes);
			}
}

/* The weight gradient of kernel row ky, input channels ci0 .. ci0 + Gc - 1
 * and the V vectors of output channels from c0, over the nrows rows of a
 * tile (padded input rows at pad, padlen floats apart; output gradient
 * rows from dyrow, dystep apart): each input pixel's broadcast feeds the
 * three taps of its row whose windows hold it, 3 Gc V multiply-adds for
 * Gc broadcasts and 3 V loads (wgrad_block: G V for G and V). Each
 * (tap, channel) pair sums pixel after pixel, row after row, as
 * wgrad_block does: the same bits. */
static inline __attribute__((always_inline)) void
wgrad_slide(const float *pad, size_t padlen, int ky, int ci0, int cin,
	    const float *dyrow, int lddy, size_t dystep, int w, int nrows,
	    float *dk, int cout, int c0, const int Gc, const int V)
{
	const int lanes = LANES(cout);
	vec acc[MAXACC];
	float *dkp[3];

	for (int kx = 0; kx < 3; kx++)
		dkp[kx] = dk + ((size_t)(ky * 3 + kx) * cin + ci0) * cout + c0;
	dk_move(acc, dkp, cout, 0, Gc, V, lanes);
	for (int j = 0; j < nrows; j++) {
		const float *xr = pad + (j + ky) * padlen + ci0;
		const float *d = dyrow + j * dystep;
		int i;

		if (w == 1) {
			wslide_pixel(xr, cin, d, lddy, 0, acc, 0, 0, Gc, V,
				     lanes);
			wslide_pixel(xr, cin, d, lddy, 1, acc, 1, 1, Gc, V,
				     lanes);
			wslide_pixel(xr, cin, d, lddy, 2, acc, 2, 2, Gc, V,
				     lanes);
			continue;
		}
		wslide_pixel(xr, cin, d, lddy, 0, acc, 0, 0, Gc, V, lanes);
		wslide_pixel(xr, cin, d, lddy, 1, acc, 0, 1, Gc, V, lanes);
		for (i = 2; i < w; i++)
			wslide_pixel(xr, cin, d, lddy, i, acc, 0, 2, Gc, V,
				     lanes);
		wslide_pixel(xr, cin, d, lddy, w, acc, 1, 2, Gc, V, lanes);
		wslide_pixel(xr, cin, d, lddy, w + 1, acc, 2, 2, Gc, V, lanes);
	}
	dk_move(acc, dkp, cout, 1, Gc, V, lanes);
}

/* wgrad_slide over every kernel row, block of Gc input channels (the rest
 * by 2 and 1) and block of output channels. */
static inline __attribute__((always_inline)) void
wgrad_slide_tile(const float *pad, size_t padlen, int cin,
		 const float *dyrow, int lddy, int w, int nrows, float *dk,
		 int cout, const int Gc, const int V)
{
	size_t dystep = (size_t)w * lddy;

	for (int ky = 0; ky < 3; ky++)
		for (int c0 = 0; c0 < cout; c0 += VW * V) {
			int ci = 0;

			for (; ci + Gc <= cin; ci += Gc)
				wgrad_slide(pad, padlen, ky, ci, cin, dyrow + c0,
					    lddy, dystep, w, nrows, dk, cout, c0,
					    Gc, V);
			for (; Gc > 2 && ci + 2 <= cin; ci += 2)
				wgrad_slide(pad, padlen, ky, ci, cin, dyrow + c0,
					    lddy, dystep, w, nrows, dk, cout, c0,
					    2, V);
			for (; ci < cin; ci++)
				wgrad_slide(pad, padlen, ky, ci, cin, dyrow + c0,
					    lddy, dystep, w, nrows, dk, cout, c0,
					    1, V);
		}
}

/* The rows by the tiles of conv_rows, each tile's padded input rows and
 * the two around them in scratch in order, then xpack; the 9 cin pairs by
 * G, the rest by 4 and 1, each over all the rows of the tile. With
 * AVX-512, fewer blocks than PACK_BLOCKS and at least a block of input
 * channels, by wgrad_slide_tile instead (unet-bench --mode layers, base
 * 16: the backward of d1.conv1 25 -> 23 ms, of d1.conv2 13 -> 12; at 3
 * input channels it lost); AVX2's 16 registers cannot hold its
 * accumulators. */
static inline __attribute__((always_inline)) void
wgrad_rows(const float *x, int ldx, int h, int w, int cin, const float *dy,
	   int lddy, int cout, float *dk, size_t r0, size_t r1,
	   float *scratch, const int G, const int V)
{
	size_t padlen = ((size_t)w + 2) * cin;
	int pairs = 9 * cin, tile = tile_rows(w);
	float *xpack = scratch + (tile + 2) * padlen;

	for (size_t r = r0; r < r1;) {
		size_t img = r / h, n = h - r % h;
		const float *dyrow = dy + r * (size_t)w * lddy;
		int oy = (int)(r % h), q = 0;

		if (n > (size_t)tile)
			n = tile;
		if (n > r1 - r)
			n = r1 - r;
		for (int j = 0; j < (int)n + 2; j++)
			pad_row(x, ldx, h, w, cin, img, oy - 1 + j,
				scratch + j * padlen);
		if (VW == 16 && cout < PACK_BLOCKS * VW * V &&
		    cin >= MAXACC / (3 * V)) {
			wgrad_slide_tile(scratch, padlen, cin, dyrow, lddy, w,
					 (int)n, dk, cout, MAXACC / (3 * V), V);
			r += n;
			continue;
		}
		for (; q + G <= pairs; q += G)
			wgrad_at(scratch, padlen, q, cin, dyrow, lddy, w, n, dk,
				 cout, xpack, G, V);
		for (; G > 4 && q + 4 <= pairs; q += 4)
			wgrad_at(scratch, padlen, q, cin, dyrow, lddy, w, n, dk,
				 cout, xpack, 4, V);
		for (; q < pairs; q++)
			wgrad_at(scratch, padlen, q, cin, dyrow, lddy, w, n, dk,
				 cout, xpack, 1, V);
		r += n;
	}
}

static void
k_wgrad_rows(const float *x, int ldx, int h, int w, int cin, const float *dy,
	     int lddy, int cout, float *dk, size_t r0, size_t r1,
	     float *scratch)
{
	if (cout <= VW)
		wgrad_rows(x, ldx, h, w, cin, dy, lddy, cout, dk, r0, r1,
			   scratch, NARROW);
	else
		wgrad_rows(x, ldx, h, w, cin, dy, lddy, cout, dk, r0, r1,
			   scratch, WIDE);
}

/* The transposed convolution: P output pixels of one column parity (input
 * columns ix0 .. ix0+P-1) by V vectors, summing T taps; tap t reads input
 * pixels from xs[t] (cin apart) and weights from ws[t] (wstride apart per
 * input channel). */
static inline __attribute__((always_inline)) void
tap_block(const float *const xs[4], const float *const ws[4], const int T,
	  int cin, int wstride, const float *bias, float *y, int ystride,
	  const int P, const int V, const int lanes)
{
	vec acc[MAXACC];

#pragma GCC unroll 24
	for (int p = 0; p < P; p++)
#pragma GCC unroll 2
		for (int v = 0; v < V; v++)
			acc[p * V + v] = vload(bias + VW * v, lanes);
#pragma GCC unroll 4
	for (int t = 0; t < T; t++) {
		const float *x = xs[t], *wp = ws[t];

		for (int ci = 0; ci < cin; ci++, wp += wstride) {
			vec wv[2];

#pragma GCC unroll 2
			for (int v = 0; v < V; v++)
				wv[v] = vload(wp + VW * v, lanes);
#pragma GCC unroll 24
			for (int p = 0; p < P; p++) {
				vec xb = vbcast(x + (size_t)p * cin + ci);

#pragma GCC unroll 2
				for (int v = 0; v < V; v++)
					acc[p * V + v] = vfma(xb, wv[v],
							      acc[p * V + v]);
			}
		}
	}
#pragma GCC unroll 24
	for (int p = 0; p < P; p++)
#pragma GCC unroll 2
		for (int v = 0; v < V; v++)
			vstore(y + (size_t)p * ystride + VW * v,
			       acc[p * V + v], lanes);
}

/* Input row iy of image img followed by one zero pixel (all zeros when iy
 * is h, below the image), into pad. */
static void
pad_row_right(const float *x, int ldx, int h, int w, int cin, size_t img,
	      int iy, float *pad)
{
	size_t rowbytes = (size_t)cin * sizeof(float);
	const float *src;

	if (iy >= h) {
		memset(pad, 0, ((size_t)w + 1) * rowbytes);
		return;
	}
	memset(pad + (size_t)w * cin, 0, rowbytes);
	src = x + (img * h + iy) * (size_t)w * ldx;
	if (ldx == cin) {
		memcpy(pad, src, (size_t)w * rowbytes);
		return;
	}
	for (int i = 0; i < w; i++)
		memcpy(pad + (size_t)i * cin, src + (size_t)i * ldx, rowbytes);
}


/* Output row oy = 2 iy + odd takes kernel row 1 from input row iy when even;
 * rows 2 (from iy) and 0 (from iy + 1) when odd. Output column 2 ix takes
 * kernel column 1 from ix, column 2 ix + 1 columns 2 (from ix) and 0 (from
 * ix + 1). tap_at sums the taps of P pixels from input column ix on. */
static inline __attribute__((always_inline)) void
tap_at(const float *const prow[2], int odd, int px, int ix, int cin,
       const float *k, int c0, int cout, const float *bias, float *yrow,
       int ldy, const int P, const int V, const int C)
{
	static const int kys[2][2] = { { 1, -1 }, { 2, 0 } };
	static const int kxs[2][2] = { { 1, -1 }, { 2, 0 } };
	const float *xs[4] = { 0 }, *ws[4] = { 0 };
	const float *wb;
	float *y = yrow + (size_t)(2 * ix + px) * ldy + c0;
	int t = 0, bw = k_block(cout);

	cin = C ? C : cin;
	wb = k + (size_t)c0 * 9 * cin;
	for (int a = 0; a <= odd; a++)
		for (int b = 0; b <= px; b++, t++) {
			xs[t] = prow[a] + (size_t)(ix + b) * cin;
			ws[t] = wb + (size_t)(kys[odd][a] * 3 + kxs[px][b]) * cin
				* bw;
		}
	if (t == 1)
		tap_block(xs, ws, 1, cin, bw, bias + c0, y, 2 * ldy, P, V,
			  LANES(cout));
	else if (t == 2)
		tap_block(xs, ws, 2, cin, bw, bias + c0, y, 2 * ldy, P, V,
			  LANES(cout));
	else
		tap_block(xs, ws, 4, cin, bw, bias + c0, y, 2 * ldy, P, V,
			  LANES(cout));
}

/* One column parity px of an output row: the input columns by P, the rest
 * by 4, 2 and 1. */
static inline __attribute__((always_inline)) void
up_row_parity(const float *const prow[2], int odd, int px, int w, int cin,
	      const float *k, int cout, const float *bias, float *yrow,
	      int ldy, const int P, const int V, const int C)
{
	for (int c0 = 0; c0 < cout; c0 += VW * V) {
		int ix = 0;

		for (; ix + P <= w; ix += P)
			tap_at(prow, odd, px, ix, cin, k, c0, cout, bias, yrow,
			       ldy, P, V, C);
		for (; P > 4 && ix + 4 <= w; ix += 4)
			tap_at(prow, odd, px, ix, cin, k, c0, cout, bias, yrow,
			       ldy, 4, V, C);
		for (; ix + 2 <= w; ix += 2)
			tap_at(prow, odd, px, ix, cin, k, c0, cout, bias, yrow,
			       ldy, 2, V, C);
		for (; ix < w; ix++)
			tap_at(prow, odd, px, ix, cin, k, c0, cout, bias, yrow,
			       ldy, 1, V, C);
	}
}

static inline __attribute__((always_inline)) void
up_rows(const float *x, int ldx, int h, int w, int cin, const float *k,
	const float *bias, int cout, float *y, int ldy, size_t r0, size_t r1,
	float *scratch, const int P, const int V, const int C)
{
	size_t padlen = ((size_t)w + 1) * cin;
	long held[2] = { -1, -1 };

	for (size_t r = r0; r < r1; r++) {
		size_t img = r / (2 * h);
		int oy = (int)(r % (2 * h)), iy = oy / 2, odd = oy % 2;
		const float *prow[2];
		float *yrow = y + r * (size_t)(2 * w) * ldy;

		for (int a = 0; a <= odd; a++) {
			int row = iy + a, slot = row % 2;
			long id = (long)(img * (h + 1) + row);
			float *pad = scratch + slot * padlen;

			if (held[slot] != id) {
				pad_row_right(x, ldx, h, w, cin, img, row, pad);
				held[slot] = id;
			}
			prow[a] = pad;
		}
		up_row_parity(prow, odd, 0, w, cin, k, cout, bias, yrow, ldy,
			      P, V, C);
		up_row_parity(prow, odd, 1, w, cin, k, cout, bias, yrow, ldy,
			      P, V, C);
	}
}

/* As k_rows: 32 input channels to one vector (the last up-sampling of
 * base 16) a constant; wider blocks spill less and gained nothing. */
#define K_UP_ROWS(P_V, C) \
	up_rows(x, ldx, h, w, cin, k, bias, cout, y, ldy, r0, r1, scratch, \
		P_V, C)

static void
k_up_rows(const float *x, int ldx, int h, int w, int cin, const float *k,
	  const float *bias, int cout, float *y, int ldy, size_t r0, size_t r1,
	  float *scratch)
{
	if (cout <= VW && cin == 32)
		K_UP_ROWS(NARROW, 32);
	else if (cout <= VW)
		K_UP_ROWS(NARROW, 0);
	else
		K_UP_ROWS(WIDE, 0);
}
#undef K_UP_ROWS

static int
k_upback_available(int cin, int cout, int w, size_t scratch_floats)
{
	return direct_channels(cin) && direct_channels(cout) &&
	       3 * (2 * (size_t)w + 2) * cout <= scratch_floats;
}

/* wgrad_block for the g input channels from ci on and tap s of the
 * transposed convolution: x from its row xrow (pixels ldx apart), dy from
 * dytap (the tap's pixel of the first window, windows 2 cout apart). */
static inline __attribute__((always_inline)) void
upback_dk_at(const float *xrow, int ldx, int ci, const float *dytap, int w,
	     float *dk, int cout, int s, const int G, const int V)
{
	const float *xp[MAXACC];

	for (int j = 0; j < G; j++)
		xp[j] = xrow + ci + j;
	for (int c0 = 0; c0 < cout; c0 += VW * V) {
		float *dkp[MAXACC];

		for (int j = 0; j < G; j++)
			dkp[j] = dk + ((size_t)(ci + j) * 9 + s) * cout + c0;
		wgrad_block(xp, ldx, 0, dytap + c0, 2 * cout, 0, w, 1, dkp, G,
			    V, 1, LANES(cout));
	}
}

/* Input row iy of the transposed convolution takes its gradient from the
 * padded rows 2 iy - 1 .. 2 iy + 1 of dy, held in the ring of conv_rows:
 * dx by conv_row at stride 2 (P by Vx vectors of its cin channels), dk tap
 * by tap (G input channels by V vectors of the cout). */
static inline __attribute__((always_inline)) void
upback_rows(const float *x, int ldx, const float *dy, int lddy, int h,
	    int w, int cin, int cout, const float *kt, float *dx, int lddx,
	    float *dk, size_t r0, size_t r1, float *scratch, const int P,
	    const int Vx, const int G, const int V)
{
	long held[3] = { -1, -1, -1 };

	for (size_t r = r0; r < r1; r++) {
		const float *prow[3];
		const float *xrow = x + r * (size_t)w * ldx;

		ring_rows(dy, lddy, 2 * h, 2 * w, cout, r / h,
			  2 * (int)(r % h), scratch, 3, held, prow);
		for (int c0 = 0; dx && c0 < cin; c0 += VW * Vx)
			conv_row(prow, w, cout, kt, c0, cin, NULL,
				 dx + r * (size_t)w * lddx, lddx, 0, P, Vx, 2,
				 0, 0);
		for (int s = 0; s < 9; s++) {
			const float *dytap = prow[s / 3] + (s % 3) * cout;
			int ci = 0;

			for (; ci + G <= cin; ci += G)
				upback_dk_at(xrow, ldx, ci, dytap, w, dk, cout,
					     s, G, V);
			for (; G > 4 && ci + 4 <= cin; ci += 4)
				upback_dk_at(xrow, ldx, ci, dytap, w, dk, cout,
					     s, 4, V);
			for (; ci < cin; ci++)
				upback_dk_at(xrow, ldx, ci, dytap, w, dk, cout,
					     s, 1, V);
		}
	}
}

static void
k_upback_rows(const float *x, int ldx, const float *dy, int lddy, int h, int w,
	      int cin, int cout, const float *kt, float *dx, int lddx,
	      float *dk, size_t r0, size_t r1, float *scratch)
{
	if (cin <= VW && cout <= VW)
		upback_rows(x, ldx, dy, lddy, h, w, cin, cout, kt, dx, lddx,
			    dk, r0, r1, scratch, NARROW, NARROW);
	else if (cin <= VW)
		upback_rows(x, ldx, dy, lddy, h, w, cin, cout, kt, dx, lddx,
			    dk, r0, r1, scratch, NARROW, WIDE);
	else if (cout <= VW)
		upback_rows(x, ldx, dy, lddy, h, w, cin, cout, kt, dx, lddx,
			    dk, r0, r1, scratch, WIDE, NARROW);
	else
		upback_rows(x, ldx, dy, lddy, h, w, cin, cout, kt, dx, lddx,
			    dk, r0, r1, scratch, WIDE, WIDE);
}

const struct convdirect_ops CONVDIRECT_OPS = {
	.available = k_available,
	.block = k_block,
	.rows = k_rows,
	.wgrad_rows = k_wgrad_rows,
	.up_rows = k_up_rows,
	.upback_available = k_upback_available,
	.upback_rows = k_upback_rows,
};
