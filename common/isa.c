#include "isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const names[] = { "plain", "avx2", "avx512" };

const char *
isa_name(enum isa isa)
{
	return names[isa];
}

int
isa_vector_floats(enum isa isa)
{
	return isa == ISA_AVX512 ? 16 : isa == ISA_AVX2 ? 8 : 1;
}

/* The per-ISA kernels are built only for x86-64 (see the Makefile).
 * __builtin_cpu_supports reports AVX features only when XGETBV shows that
 * the operating system saves their registers (libgcc and compiler-rt
 * both check), and each path asks for every feature its kernels are
 * compiled with (-mavx512f -mfma, -mavx2 -mfma). */
int
isa_supported(enum isa isa)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	switch (isa) {
	case ISA_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
	case ISA_AVX2:
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
	case ISA_PLAIN:
		return 1;
	}
	return 0;
#else
	return isa == ISA_PLAIN;
#endif
}

static enum isa chosen;
static int with_bf16;   /* isa_bf16's answer, with chosen */

static void
choose_path(void)
{
	const char *want = getenv("UNETPIPE_ISA");
	enum isa best = ISA_AVX512;

	while (!isa_supported(best))
		best--;
	if (!want || !*want) {
		chosen = best;
		return;
	}
	for (enum isa i = ISA_PLAIN; i <= ISA_AVX512; i++)
		if (strcmp(want, names[i]) == 0) {
			if (!isa_supported(i))
				die("UNETPIPE_ISA=%s: this CPU or build cannot "
				    "run it (the best it runs is %s)",
				    want, names[best]);
			chosen = i;
			return;
		}
	die("UNETPIPE_ISA=%s: unknown (avx512, avx2 or plain)", want);
}

/* AVX512_BF16 (CPUID leaf 7, subleaf 1, EAX bit 5), with the AVX512BW
 * that -mavx512bf16 implies. */
static int
cpu_bf16(void)
{
#if defined(__x86_64__)
	unsigned int eax, ebx, ecx, edx;

	if (!__builtin_cpu_supports("avx512bw"))
		return 0;
	/* leaf 7's EAX: its last subleaf */
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || eax < 1)
		return 0;
	__cpuid_count(7, 1, eax, ebx, ecx, edx);
	return (eax >> 5) & 1;
#else
	return 0;
#endif
}

static void
choose(void)
{
	choose_path();
	with_bf16 = chosen == ISA_AVX512 && cpu_bf16();
}

enum isa
isa_current(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, choose);
	return chosen;
}

int
isa_bf16(void)
{
	isa_current();
	return with_bf16;
}
