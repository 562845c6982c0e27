/* winograd_isa: the vector kernels of winograd that each instruction set
 * provides (winograd_isa.c compiled once per set); private to winograd.c,
 * which calls the ones isa_current() chose. */
#ifndef UNETPIPE_WINOGRAD_ISA_H
#define UNETPIPE_WINOGRAD_ISA_H

#include <stddef.h>

/* One layer's Winograd F(m x m, 3x3) pass as the kernels see it: tiles of
 * m x m output pixels, numbered over n images of th x tw tiles, each read
 * from a x a input pixels (a = m + 2, T = a a transform points). */
struct wino_layer {
	int m, a, T;
	int n, h, w, th, tw;
	const float *x;         /* input maps, cin channels at stride ldx */
	int ldx, cin;
	int cout, coutp;        /* output channels, rounded up to nr */
	int nr;                 /* columns of a product block: the table's
				 * nr, or one vector when cout fits in one */
	const float *u;         /* forward: [T][coutp / nr][cin][nr]; the
				 * bf16 kernels' [T][coutp / nr][cinp / 2][nr][2]
				 * bf16, cinp = cin rounded up to even (its
				 * zeros: odd cin's last pair) */
	const float *bias;      /* forward: NULL for none */
	int relu;               /* forward: ReLU on the output */
	const float *mx;        /* forward: zero the output where mx <= 0 */
	int ldmx;
	float *y;               /* forward: output maps, stride ldy */
	int ldy;
	const float *dy;        /* wgrad: output gradient, stride lddy */
	int lddy;
	float *du;              /* wgrad: [T][coutp / nr][cin][nr], added to */
	int ldv, ldm;           /* scratch strides: cin and coutp sides */
};

/* The distance in floats between two transform points' rows of ntile
 * tiles of ld floats in the scratch: ntile ld rounded up to an odd number
 * of 64-byte lines, so that a tile's T points fall in different cache
 * sets (at multiples of 4 KiB they all fell in one set of L1). At most
 * ntile ld + 31. */
static inline size_t
wino_point_stride(int ntile, int ld)
{
	return (((size_t)ntile * ld + 15) / 16 | 1) * 16;
}

/* The columns of a layer's product blocks for cout outputs, from a
 * table's nr (two vectors): one vector when cout fits in one (16 outputs
 * on AVX-512 would waste half of two), two otherwise. */
static inline int
wino_block_cols(int nr, int cout)
{
	return cout <= nr / 2 ? nr / 2 : nr;
}

struct winograd_ops {
	/* Columns of the widest product block (two vectors). */
	int nr;
	/* The forward of tiles tile0 .. tile0+ntile-1: their input
	 * transforms, the T products with u, the output transforms written
	 * to y. scratch: T (wino_point_stride(ntile, ldv) +
	 * wino_point_stride(ntile, ldm)) floats. */
	void (*fwd_tiles)(const struct wino_layer *l, size_t tile0, int ntile,
			  float *scratch);
	/* du[p] += the products of the transformed x and dy tiles tile0 ..
	 * tile0+ntile-1 at the transform points p0 <= p < p1, summed in
	 * tile order. scratch: (p1 - p0) (wino_point_stride(ntile, ldv) +
	 * wino_point_stride(ntile, ldm)) floats. NULL in the bf16 table
	 * (the forward only). */
	void (*wgrad_tiles)(const struct wino_layer *l, size_t tile0,
			    int ntile, int p0, int p1, float *scratch);
};

/* The AVX-512 and the AVX2 and FMA kernels, and the AVX-512 forward
 * with AVX512_BF16 products (isa_bf16); x86-64 builds only. */
extern const struct winograd_ops winograd_avx512, winograd_avx2,
	winograd_avx512bf16;

#endif
