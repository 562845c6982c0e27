/* convdirect_isa: the table of convdirect's kernels that each instruction
 * set provides (convdirect_isa.c compiled once per set); private to
 * convdirect.c, which calls the one isa_current() chose. The functions
 * are those of convdirect.h, same arguments, same contracts. */
#ifndef UNETPIPE_CONVDIRECT_ISA_H
#define UNETPIPE_CONVDIRECT_ISA_H

#include <stddef.h>

struct convdirect_ops {
	int (*available)(int cout, int w, int cin, size_t scratch_floats);
	int (*block)(int cout);
	void (*rows)(const float *x, int ldx, int h, int w, int cin,
		     const float *wt, const float *bias, int cout, float *y,
		     int ldy, int relu, size_t r0, size_t r1, float *scratch);
	void (*wgrad_rows)(const float *x, int ldx, int h, int w, int cin,
			   const float *dy, int lddy, int cout, float *dk,
			   size_t r0, size_t r1, float *scratch);
	void (*up_rows)(const float *x, int ldx, int h, int w, int cin,
			const float *k, const float *bias, int cout, float *y,
			int ldy, size_t r0, size_t r1, float *scratch);
	int (*upback_available)(int cin, int cout, int w,
				size_t scratch_floats);
	void (*upback_rows)(const float *x, int ldx, const float *dy,
			    int lddy, int h, int w, int cin, int cout,
			    const float *kt, float *dx, int lddx, float *dk,
			    size_t r0, size_t r1, float *scratch);
};

/* The AVX-512 (16-float vectors, any multiple of 32 channels too) and the
 * AVX2 and FMA (8-float vectors) kernels; x86-64 builds only. */
extern const struct convdirect_ops convdirect_avx512, convdirect_avx2;

#endif
