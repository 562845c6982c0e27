/* winograd: the 3x3 convolution (padding 1, stride 1) by Winograd's minimal
 * filtering, F(2x2, 3x3) or F(4x4, 3x3) (Lavin and Gray 2015): tiles of
 * m x m output pixels, a = m + 2 input pixels square, T = a a transform
 * points, one product of cin by cout channels per point. Forward (with the
 * bias, ReLU and ReLU mask in the output transform, so also the input
 * gradient, the convolution of dy with the flipped, transposed kernel) and
 * weight gradient; the forward also with its products in bf16. Used by
 * nn; the kernels are those of isa_current() (winograd_isa.c); with the
 * plain path nothing is available.
 *
 * Every output sums in a fixed order, whatever the thread count: the same
 * bits with 1 and 2 threads. Each thread's scratch is its pool_col; the
 * transformed kernel is the caller's buffer u. */
#ifndef UNETPIPE_WINOGRAD_H
#define UNETPIPE_WINOGRAD_H

#include <stddef.h>

/* 1 when F(m x m, 3x3) (m 2 or 4) has kernels on this path. */
int winograd_available(int m);

/* 1 when winograd_conv has its bf16 products on this path (isa_bf16). */
int winograd_bf16_available(void);

/* The floats of the transformed kernel (and of the weight gradient's
 * products) of F(m x m, 3x3) from nin to nout channels: T nin nout,
 * nout rounded up to the kernels' block; 0 when not available. */
size_t winograd_kernel_floats(int m, int nin, int nout);

/* The scratch floats each thread needs for a layer of cin to cout
 * channels: at most winograd_reserve_floats(max(cin, cout)). */
size_t winograd_scratch_floats(int m, int cin, int cout);

/* The scratch floats a thread must have (nn_reserve reserves them) for
 * the layers of up to `channels` input and output channels. */
size_t winograd_reserve_floats(int channels);

/* u (winograd_kernel_floats(m, nin, nout) floats) = the transformed
 * kernel of winograd_conv, on nt threads: the kernel's weight of tap s
 * (ky kx), input i and output o is k[(flip ? 8 - s : s) ss + i si + o so];
 * with bf16 set where winograd_bf16_available(), rounded to bf16 (to
 * nearest even) for bf16 products. */
void winograd_kernel(int nt, int m, const float *k, size_t ss, size_t si,
		     size_t so, int flip, int nin, int nout, int bf16,
		     float *u);

/* y = (relu)(bias + conv(x, k)) on nt threads, by F(m x m, 3x3), u the
 * kernel k transformed by winograd_kernel with the same m, nin, nout and
 * bf16: x is n x h x w x nin at pixel stride ldx; bias NULL for none; y
 * (pixel stride ldy) overwritten, then zeroed where mx (n x h x w x nout
 * at stride ldmx) is not positive when mx is not NULL. With bf16 set
 * where winograd_bf16_available(), the transformed input is rounded to
 * bf16 for the products, which sum in fp32 (the transforms stay fp32);
 * elsewhere bf16 changes nothing. */
void winograd_conv(int nt, int m, const float *x, int ldx, int n, int h,
		   int w, int nin, const float *bias, int nout, float *y,
		   int ldy, int relu, const float *mx, int ldmx, int bf16,
		   const float *u);

/* dk ([cout][ky][kx][cin], nn's layout) += the kernel gradient of the 3x3
 * convolution of x (n x h x w x cin, stride ldx) whose output gradient is
 * dy (cout channels, stride lddy), by F(m x m, 3x3) on nt threads; u, a
 * scratch of ufloats >= winograd_kernel_floats(m, cin, cout) floats: with
 * room for two, a narrow layer's tiles sum in two halves, faster on two
 * threads (the bits depend on ufloats, not on nt). */
void winograd_wgrad(int nt, int m, const float *x, int ldx, const float *dy,
		    int lddy, int n, int h, int w, int cin, int cout,
		    float *dk, float *u, size_t ufloats);

#endif
