/* nn: the layers of the U-Net in float32 (the Winograd layers' products
 * in bf16 on request: nn_set_precision), channels-last (NHWC), forward and
 * backward, each run on the threads of pool (pool.h). One function of
 * nn.c, plan_layer, chooses how a layer is computed: Winograd, direct
 * (convdirect), GEMMs over row-im2col or im2col tiles, or GEMMs on the
 * maps.
 *
 * Conventions for every layer:
 * - A feature map is n images of h x w pixels, each pixel `c` consecutive
 *   floats; consecutive pixels are `ld` floats apart (ld >= c), so that a
 *   layer can read or write one channel slice of a wider buffer (the
 *   concatenation [up-sampled, skip] is built that way, without copies).
 * - Kernels are in our layout: a 3x3 convolution [Cout][ky][kx][Cin], a 3x3
 *   transposed convolution [Cin][ky][kx][Cout], a 1x1 convolution
 *   [Cout][Cin]; biases [Cout].
 * - Backward functions ADD the weight and bias gradients into dk and db
 *   and OVERWRITE the input gradient dx (none when dx is NULL), unless said
 *   otherwise. With `mask` set, x is the output of a ReLU and dx is the
 *   gradient of that ReLU's input instead (zero where x <= 0).
 * - Every layer runs on `nt` threads (its first argument, 1 ..
 *   POOL_MAX_THREADS); results are deterministic for a given nt.
 * - Scratch memory is reserved beforehand with nn_reserve; the layers
 *   allocate nothing. Not reentrant: one layer call at a time. */
#ifndef UNETPIPE_NN_H
#define UNETPIPE_NN_H

#include <stddef.h>
#include <stdint.h>

/* The programs' default thread count for the network (--threads):
 * online_cpus(NN_DEFAULT_MAX_THREADS). */
#define NN_DEFAULT_MAX_THREADS 8

/* Make the scratch memory big enough for layers with at most `channels`
 * input or output channels (any layer kind), never shrinking, and start
 * nt threads for them (pool_start: dies when one cannot start or has no
 * room for OpenBLAS's work buffer). */
void nn_reserve(int channels, int nt);

/* Allow (1, the default) or forbid (0) the direct convolutions of
 * convdirect, leaving the GEMM paths: a switch for benchmarks and tests. */
void nn_set_direct(int on);

/* 1 when a 3x3 convolution (or transposed convolution) from cin to cout
 * channels on maps w pixels wide takes the direct path. */
int nn_conv_direct(int w, int cin, int cout);

/* nn_set_winograd's mode that lets the planner choose (the default). */
#define NN_WINOGRAD_AUTO (-1)

/* The Winograd convolutions of the 3x3 convolutions (forward, input and
 * weight gradients; winograd.h): 0 never, 2 or 4 F(2x2, 3x3) or F(4x4,
 * 3x3) on every layer allowed, NN_WINOGRAD_AUTO F(4x4) where its kernel
 * fits and F(2x2) elsewhere (F(2x2) on all with NN_BF16:
 * nn_set_precision). Allowed: at least 16 channels in and out, maps at
 * least 8 wide, a vector path (not UNETPIPE_ISA=plain) and room in what
 * nn_reserve reserved. A switch for benchmarks and tests. */
void nn_set_winograd(int mode);

/* The precision of the 3x3 convolutions that take Winograd. */
enum nn_precision {
	NN_FP32,        /* float32 throughout (the default) */
	NN_BF16,        /* products in bf16, summed in float32 */
};

/* Set the precision of the Winograd layers, process-wide: with NN_BF16
 * the transformed input and kernel of their forward and of their input
 * gradient (winograd_conv) are rounded to bf16, where the CPU has
 * AVX512_BF16 (isa_bf16); their weight gradient, every other layer and
 * the parameters stay float32. Returns the precision in effect: NN_FP32
 * for NN_BF16 on a CPU or path without it. */
enum nn_precision nn_set_precision(enum nn_precision p);

/* With on set, the forward of the Winograd layers transforms the kernel
 * of each weights k once and keeps it (up to 512 MiB; the others at
 * every call): the caller promises that the weights behind every k it
 * passes no longer change, nor are freed, until nn_keep_kernels(0), which
 * drops the kept kernels. For inference from a fixed model. */
void nn_keep_kernels(int on);

/* The m of the F(m x m, 3x3) a 3x3 convolution from cin to cout channels
 * on maps w pixels wide takes, 0 when not Winograd. */
int nn_conv_winograd(int w, int cin, int cout);

/* 3x3 convolution, padding 1, stride 1, bias, optional fused ReLU:
 * y[n,h,w,0..cout) = (relu)(b + sum over 3x3 x cin of x * k), x with cin
 * channels at pixel stride ldx; y overwritten, pixel stride ldy. */
void nn_conv3x3_forward(int nt, const float *x, int ldx, int n, int h, int w,
			int cin, const float *k, const float *b, int cout,
			float *y, int ldy, int relu);

/* Backward of nn_conv3x3_forward (without its ReLU: dy is the gradient of
 * the pre-activation): dk += dL/dk, db += dL/db, dx = dL/dx (pixel stride
 * lddx; masked when mask is set) when dx is not NULL. */
void nn_conv3x3_backward(int nt, const float *x, int ldx, int n, int h, int w,
			 int cin, const float *k, int cout, const float *dy,
			 int lddy, float *dx, int lddx, int mask, float *dk,
			 float *db);

/* 3x3 transposed convolution, stride 2, padding 1, output padding 1, bias
 * (PyTorch's ConvTranspose2d(cin, cout, 3, 2, 1, 1)): x is n x h x w x cin,
 * y is n x 2h x 2w x cout, overwritten, with
 * y[oy,ox] = b + sum of x[iy,ix,ci] k[ci,ky,kx,:] over oy = 2iy-1+ky,
 * ox = 2ix-1+kx. */
void nn_upconv_forward(int nt, const float *x, int ldx, int n, int h, int w,
		       int cin, const float *k, const float *b, int cout,
		       float *y, int ldy);

/* 1 when nn_upconv_backward takes the direct path (convdirect) for inputs
 * w pixels wide and cin to cout channels. */
int nn_upconv_backward_direct(int w, int cin, int cout);

/* Backward of nn_upconv_forward: dy is n x 2h x 2w x cout. */
void nn_upconv_backward(int nt, const float *x, int ldx, int n, int h, int w,
			int cin, const float *k, int cout, const float *dy,
			int lddy, float *dx, int lddx, int mask, float *dk,
			float *db);

/* 1x1 convolution with bias: y[p, 0..cout) = b + k x[p, 0..cin) over the
 * `npix` pixels; y overwritten. */
void nn_conv1x1_forward(int nt, const float *x, int ldx, size_t npix, int cin,
			const float *k, const float *b, int cout, float *y,
			int ldy);

/* Backward of nn_conv1x1_forward. */
void nn_conv1x1_backward(int nt, const float *x, int ldx, size_t npix, int cin,
			 const float *k, int cout, const float *dy, int lddy,
			 float *dx, int lddx, int mask, float *dk, float *db);

/* ReLU in place on npix pixels of c channels. */
void nn_relu_forward(float *y, int ldy, size_t npix, int c);

/* ReLU backward in place: dy = 0 where the ReLU output y <= 0 (PyTorch's
 * relu'(0) = 0). */
void nn_relu_backward(int nt, const float *y, int ldy, float *dy, int lddy,
		      size_t npix, int c);

/* 2x2 max pooling, stride 2 (h and w even): y is n x h/2 x w/2 x c,
 * overwritten. */
void nn_maxpool_forward(int nt, const float *x, int ldx, int n, int h, int w,
			int c, float *y, int ldy);

/* Backward of nn_maxpool_forward: ADDS each dy to dx at the first maximum
 * of its window in row-major order (PyTorch's CPU rule); dx is not
 * cleared. With mask set, x is a ReLU output and afterwards dx is zeroed
 * wherever x <= 0 (the ReLU's backward, fused). */
void nn_maxpool_backward(int nt, const float *x, int ldx, int n, int h, int w,
			 int c, const float *dy, int lddy, float *dx,
			 int lddx, int mask);

/* Mean over the npix logits x of the binary cross-entropy with targets t
 * (in [0, 1]), each term times wt's (NULL: all 1), positives weighted by
 * pw (PyTorch's binary_cross_entropy_with_logits with weight and
 * pos_weight), accumulated in double. When dx is not NULL it receives
 * dL/dx (npix floats). */
double nn_bce_logits(int nt, const float *x, const float *t, const float *wt,
		     size_t npix, float pw, float *dx);

/* The logistic function 1 / (1 + e^-x) of the n logits x into p (which
 * may be x), computed in double, on nt threads: a logit's probability. */
void nn_sigmoid(int nt, const float *x, float *p, size_t n);

#endif
