/* fma-peak: the machine's peak of fused multiply-adds on the widest float
 * vectors the build targets (AVX-512 or AVX2), the hardware's ceiling for
 * the U-Net's GFLOP/s beside OpenBLAS sgemm's. Prints one JSON object. Part
 * of `make bench` (bench/run), not of the installed tools. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <immintrin.h>
#include <jansson.h>

#include "util.h"

#if defined(__AVX512F__)
typedef __m512 vec;
#define VW 16
#define vset(x) _mm512_set1_ps(x)
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vsum(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define VW 8
#define vset(x) _mm256_set1_ps(x)
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
static float
vsum(vec v)
{
	float f[8], s = 0;

	_mm256_storeu_ps(f, v);
	for (int i = 0; i < 8; i++)
		s += f[i];
	return s;
}
#else
#error "fma-peak needs AVX2 and FMA or AVX-512"
#endif

/* Independent accumulators: enough to cover the FMA latency on every pipe. */
#define CHAINS 16
#define ITERATIONS 50000000L

static const char usage_text[] =
	"usage: fma-peak [--threads N] [--reps N]\n"
	"Run chains of independent fused multiply-adds on the widest float\n"
	"vectors of the build, on N threads at once, and print a JSON object:\n"
	"the vector width, the seconds of each timed run, the best GFLOP/s.\n"
	"  -t, --threads N    threads (default 1)\n"
	"  -r, --reps N       timed runs after one warm-up (default 5)\n"
	"      --help         show this help and exit\n"
	"      --version      show the version and exit\n";

static volatile float sink[64];

/* ITERATIONS rounds of CHAINS multiply-adds; the result goes to sink so
 * that the compiler keeps them. */
static void *
spin(void *arg)
{
	int t = (int)(long)arg;
	vec acc[CHAINS], m = vset(0.999999f), a = vset(1e-7f);
	float s = 0;

	for (int c = 0; c < CHAINS; c++)
		acc[c] = vset((float)c);
	for (long i = 0; i < ITERATIONS; i++)
#pragma GCC unroll 16
		for (int c = 0; c < CHAINS; c++)
			acc[c] = vfma(acc[c], m, a);
	for (int c = 0; c < CHAINS; c++)
		s += vsum(acc[c]);
	sink[t] = s;
	return NULL;
}

/* Seconds for every thread to finish its spin. */
static double
run(int threads)
{
	pthread_t tid[64];
	double t0 = now_seconds();

	for (int t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, spin, (void *)(long)t))
			die("cannot start a thread");
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	return now_seconds() - t0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int threads = 1, reps = 5, c;
	double best = 0, flops;
	json_t *o, *list;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":t:r:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			threads = (int)parse_long(optarg, 1, 64, "--threads");
			break;
		case 'r':
			reps = (int)parse_long(optarg, 1, 1000, "--reps");
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (optind < argc)
		die_usage("too many operands");

	flops = 2.0 * VW * CHAINS * ITERATIONS * threads;
	run(threads);
	o = json_object();
	json_object_set_new(o, "threads", json_integer(threads));
	json_object_set_new(o, "vector_floats", json_integer(VW));
	list = json_array();
	for (int i = 0; i < reps; i++) {
		double s = run(threads);

		json_array_append_new(list, json_real(s));
		if (best == 0 || s < best)
			best = s;
	}
	json_object_set_new(o, "seconds", list);
	json_object_set_new(o, "best_gflops_per_second",
			    json_real(flops / best / 1e9));
	if (json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6)) < 0)
		die("write error");
	putchar('\n');
	json_decref(o);
	close_stdout();
	return 0;
}
