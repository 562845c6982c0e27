/* vec_isa: the vector type and operations the per-ISA kernels
 * (convdirect_isa.c, winograd_isa.c) are written over, for the instruction
 * set they are compiled for (-mavx512f: 16-float vectors; -mavx2 -mfma:
 * 8-float vectors). Include only from those files. */
#ifndef UNETPIPE_VEC_ISA_H
#define UNETPIPE_VEC_ISA_H

#include <immintrin.h>

/* The kernels are written once for a vector of VW floats: 16 with
 * AVX-512 (32 registers, so up to MAXACC = 24 accumulators), 8 with AVX2
 * (16 registers, 12 accumulators). A layer of 8 channels uses the lower 8
 * lanes of an AVX-512 vector: vload and vstore take the lanes in use. */
#if defined(__AVX512F__)
typedef __m512 vec;
#define VW 16
#define MAXACC 24

static inline __attribute__((always_inline)) vec
vload(const float *p, int lanes)
{
	return lanes == 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(0xff, p);
}

static inline __attribute__((always_inline)) void
vstore(float *p, vec v, int lanes)
{
	if (lanes == 16)
		_mm512_storeu_ps(p, v);
	else
		_mm512_mask_storeu_ps(p, 0xff, v);
}

#define vbcast(p) _mm512_set1_ps(*(p))
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vmax(a, b) _mm512_max_ps(a, b)
#define vzero() _mm512_setzero_ps()
#define vadd(a, b) _mm512_add_ps(a, b)
#define vsub(a, b) _mm512_sub_ps(a, b)
#define vmul(a, b) _mm512_mul_ps(a, b)
#define vset1(f) _mm512_set1_ps(f)

/* The first n lanes (0 .. VW) of p, the others zero; a store of the first
 * n lanes of v. */
static inline __attribute__((always_inline)) vec
vload_n(const float *p, int n)
{
	return n >= 16 ? _mm512_loadu_ps(p)
		       : _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
}

static inline __attribute__((always_inline)) void
vstore_n(float *p, vec v, int n)
{
	if (n >= 16)
		_mm512_storeu_ps(p, v);
	else
		_mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), v);
}

/* Zero where m is not positive, v elsewhere. */
static inline __attribute__((always_inline)) vec
vpos_mask(vec v, vec m)
{
	return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, vzero(), _CMP_GT_OQ),
				   v);
}
#else
typedef __m256 vec;
#define VW 8
#define MAXACC 12

static inline __attribute__((always_inline)) vec
vload(const float *p, int lanes)
{
	(void)lanes;
	return _mm256_loadu_ps(p);
}

static inline __attribute__((always_inline)) void
vstore(float *p, vec v, int lanes)
{
	(void)lanes;
	_mm256_storeu_ps(p, v);
}

#define vbcast(p) _mm256_broadcast_ss(p)
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vmax(a, b) _mm256_max_ps(a, b)
#define vzero() _mm256_setzero_ps()
#define vadd(a, b) _mm256_add_ps(a, b)
#define vsub(a, b) _mm256_sub_ps(a, b)
#define vmul(a, b) _mm256_mul_ps(a, b)
#define vset1(f) _mm256_set1_ps(f)

static inline __attribute__((always_inline)) __m256i
lanes_n(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
				  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) vec
vload_n(const float *p, int n)
{
	return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes_n(n));
}

static inline __attribute__((always_inline)) void
vstore_n(float *p, vec v, int n)
{
	if (n >= 8)
		_mm256_storeu_ps(p, v);
	else
		_mm256_maskstore_ps(p, lanes_n(n), v);
}

static inline __attribute__((always_inline)) vec
vpos_mask(vec v, vec m)
{
	return _mm256_and_ps(_mm256_cmp_ps(m, vzero(), _CMP_GT_OQ), v);
}
#endif

#endif
