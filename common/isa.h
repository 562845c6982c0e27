/* isa: the instruction set of the vector kernels (convdirect), chosen once
 * per process at run time: the best this CPU runs, or the one the
 * environment variable UNETPIPE_ISA names (avx512, avx2 or plain). One
 * binary thus runs on any x86-64, and every path can be tested on a CPU
 * that runs them all. */
#ifndef UNETPIPE_ISA_H
#define UNETPIPE_ISA_H

/* plain: no vector kernels (the network keeps to its GEMM paths); avx2:
 * AVX2 and FMA, 8-float vectors; avx512: AVX-512F, 16-float vectors. */
enum isa { ISA_PLAIN, ISA_AVX2, ISA_AVX512 };

/* The path of this process, chosen on the first call (thread-safe):
 * UNETPIPE_ISA when set and not empty, else the best isa_supported.
 * An unknown UNETPIPE_ISA, or a path this CPU cannot run (or this build
 * lacks), dies with one line: never a silent fallback. */
enum isa isa_current(void);

/* 1 when this build has the kernels of isa and this CPU (with its
 * operating system saving the vector registers) can run them. */
int isa_supported(enum isa isa);

/* 1 when the process's path (isa_current) is avx512 and this CPU has
 * AVX512_BF16 (CPUID leaf 7, subleaf 1, EAX bit 5) and AVX512BW, which
 * winograd's bf16 kernels are compiled with; 0 otherwise, so also under
 * UNETPIPE_ISA=avx2 or plain. */
int isa_bf16(void);

/* The name of isa: "plain", "avx2" or "avx512". */
const char *isa_name(enum isa isa);

/* The floats in one vector of isa's kernels: 1 (plain), 8 or 16. */
int isa_vector_floats(enum isa isa);

#endif
