#include "convdirect.h"

#include "convdirect_isa.h"
#include "isa.h"

static int
never(int a, int b, int c, size_t scratch_floats)
{
	(void)a, (void)b, (void)c, (void)scratch_floats;
	return 0;
}

/* Nothing is available: nn keeps to its GEMM paths and never calls the
 * kernels. */
static const struct convdirect_ops plain = {
	.available = never,
	.upback_available = never,
};

/* The kernels of the process's instruction set (isa_current chooses it
 * once). */
static const struct convdirect_ops *
kernels(void)
{
	switch (isa_current()) {
#if defined(__x86_64__)
	case ISA_AVX512:
		return &convdirect_avx512;
	case ISA_AVX2:
		return &convdirect_avx2;
#endif
	default:
		return &plain;
	}
}

int
convdirect_available(int cout, int w, int cin, size_t scratch_floats)
{
	return kernels()->available(cout, w, cin, scratch_floats);
}

int
convdirect_block(int cout)
{
	return kernels()->block(cout);
}

void
convdirect_rows(const float *x, int ldx, int h, int w, int cin,
		const float *wt, const float *bias, int cout, float *y,
		int ldy, int relu, size_t r0, size_t r1, float *scratch)
{
	kernels()->rows(x, ldx, h, w, cin, wt, bias, cout, y, ldy, relu, r0,
			r1, scratch);
}

void
convdirect_wgrad_rows(const float *x, int ldx, int h, int w, int cin,
		      const float *dy, int lddy, int cout, float *dk,
		      size_t r0, size_t r1, float *scratch)
{
	kernels()->wgrad_rows(x, ldx, h, w, cin, dy, lddy, cout, dk, r0, r1,
			      scratch);
}

void
convdirect_up_rows(const float *x, int ldx, int h, int w, int cin,
		   const float *k, const float *bias, int cout, float *y,
		   int ldy, size_t r0, size_t r1, float *scratch)
{
	kernels()->up_rows(x, ldx, h, w, cin, k, bias, cout, y, ldy, r0, r1,
			   scratch);
}

int
convdirect_upback_available(int cin, int cout, int w, size_t scratch_floats)
{
	return kernels()->upback_available(cin, cout, w, scratch_floats);
}

void
convdirect_upback_rows(const float *x, int ldx, const float *dy, int lddy,
		       int h, int w, int cin, int cout, const float *kt,
		       float *dx, int lddx, float *dk, size_t r0, size_t r1,
		       float *scratch)
{
	kernels()->upback_rows(x, ldx, dy, lddy, h, w, cin, cout, kt, dx,
			       lddx, dk, r0, r1, scratch);
}
