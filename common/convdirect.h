/* convdirect: the 3x3 convolution (padding 1, stride 1) and the stride-2
 * transposed one, forward and backward, computed directly in vector
 * registers, without im2col or GEMM: for 8 and 16 output channels and
 * every multiple of two vectors (16 channels with AVX2, 32 with AVX-512).
 * Used by nn. Each function calls the kernels of the
 * instruction set isa_current() chose (AVX-512, else AVX2 and FMA;
 * convdirect_isa.c); with the plain path (no AVX2 and FMA, or
 * UNETPIPE_ISA=plain) nothing is available and nn keeps to its GEMM
 * paths. */
#ifndef UNETPIPE_CONVDIRECT_H
#define UNETPIPE_CONVDIRECT_H

#include <stddef.h>

/* 1 when convdirect_rows and convdirect_wgrad_rows can compute a layer
 * with cout output channels on maps w pixels wide within scratch_floats
 * floats of scratch (cout 8, 16 or a multiple of 16 with AVX2, of 32 with
 * AVX-512). */
int convdirect_available(int cout, int w, int cin, size_t scratch_floats);

/* The output channels B of a block of the packed kernel convdirect_rows
 * takes for cout output channels (B divides cout): the kernel laid out
 * [cout / B][ky][kx][cin][B], so that the kernel's blocks are read in
 * sequence. */
int convdirect_block(int cout);

/* Output rows r0 .. r1-1 (numbered over all n x h rows) of
 * y = (relu)(bias + conv(x, wt)): x is n x h x w x cin at pixel stride
 * ldx, wt the kernel packed as convdirect_block says, bias NULL for none,
 * y at pixel stride ldy, overwritten. scratch holds the scratch_floats
 * of a convdirect_available that said yes. The sums run in a fixed
 * order, whatever the rows asked for. */
void convdirect_rows(const float *x, int ldx, int h, int w, int cin,
		     const float *wt, const float *bias, int cout, float *y,
		     int ldy, int relu, size_t r0, size_t r1, float *scratch);

/* Add to dk, laid out [ky][kx][cin][cout], the kernel gradient of the
 * output rows r0 .. r1-1: the sum over their pixels of x(window) dy, dy
 * with cout channels at pixel stride lddy. scratch as for convdirect_rows.
 */
void convdirect_wgrad_rows(const float *x, int ldx, int h, int w, int cin,
			   const float *dy, int lddy, int cout, float *dk,
			   size_t r0, size_t r1, float *scratch);

/* Output rows r0 .. r1-1 (numbered over all n x 2h rows) of the stride-2
 * transposed convolution y = bias + upconv(x, k) of nn_upconv_forward: x
 * is n x h x w x cin, k the kernel [cin][ky][kx][cout] packed as for
 * convdirect_rows ([cout / B][ky][kx][cin][B]), y n x 2h x 2w at
 * pixel stride ldy, overwritten. Each output pixel sums only the 1, 2 or
 * 4 taps that reach it. scratch as for convdirect_rows (cout output
 * channels on maps w pixels wide). */
void convdirect_up_rows(const float *x, int ldx, int h, int w, int cin,
			const float *k, const float *bias, int cout, float *y,
			int ldy, size_t r0, size_t r1, float *scratch);

/* 1 when convdirect_upback_rows can compute the backward of a transposed
 * convolution of cin to cout channels (both as cout of
 * convdirect_available) on inputs w pixels wide within scratch_floats
 * floats of scratch. */
int convdirect_upback_available(int cin, int cout, int w,
				size_t scratch_floats);

/* The backward of convdirect_up_rows for the input rows r0 .. r1-1
 * (numbered over all n x h rows): dx (pixel stride lddx, overwritten;
 * skipped when NULL) = the stride-2 convolution of dy (n x 2h x 2w x cout,
 * pixel stride lddy) with kt, the kernel [ky][kx][cout][cin] packed by
 * blocks of convdirect_block(cin) channels as for convdirect_rows, each
 * input pixel's window centred on its output pixel (2 iy, 2 ix); dk, laid out
 * [cin][ky][kx][cout] like nn's kernel, += x times dy over those windows.
 * scratch holds 3 (2w + 2) cout floats. */
void convdirect_upback_rows(const float *x, int ldx, const float *dy,
			    int lddy, int h, int w, int cin, int cout,
			    const float *kt, float *dx, int lddx, float *dk,
			    size_t r0, size_t r1, float *scratch);

#endif
