/* sgemm-peak: OpenBLAS sgemm's throughput on a large square product, as
 * the yardstick for the U-Net's GFLOP/s. Prints one JSON object. Part of
 * `make bench` (bench/run), not of the installed tools. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <jansson.h>

#include "rng.h"
#include "util.h"

/* OpenBLAS's own entry point: cblas.h of the reference CBLAS lacks it. */
void openblas_set_num_threads(int);

static const char usage_text[] =
	"usage: sgemm-peak [--size N] [--threads N] [--warmup N] [--reps N]\n"
	"Time C = A B for N x N float matrices with OpenBLAS on the given\n"
	"threads and print a JSON object: seconds of each timed product, the\n"
	"best and the median GFLOP/s (2 N^3 per product).\n"
	"  -n, --size N       matrix side (default 2048)\n"
	"  -t, --threads N    OpenBLAS threads (default 1)\n"
	"  -w, --warmup N     untimed products first (default 1)\n"
	"  -r, --reps N       timed products (default 5)\n"
	"      --help         show this help and exit\n"
	"      --version      show the version and exit\n";

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int n = 2048, threads = 1, warmup = 1, reps = 5, c;
	float *a, *b, *cm;
	double *sec, flops, med;
	size_t nn;
	struct rng r;
	json_t *o, *list;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":n:t:w:r:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'n':
			n = (int)parse_long(optarg, 1, 16384, "--size");
			break;
		case 't':
			threads = (int)parse_long(optarg, 1, 64, "--threads");
			break;
		case 'w':
			warmup = (int)parse_long(optarg, 0, 1000, "--warmup");
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

	openblas_set_num_threads(threads);
	nn = (size_t)n * n;
	a = xmalloc(nn * sizeof *a);
	b = xmalloc(nn * sizeof *b);
	cm = xmalloc(nn * sizeof *cm);
	rng_seed(&r, 1);
	for (size_t i = 0; i < nn; i++) {
		a[i] = (float)rng_uniform(&r) - 0.5f;
		b[i] = (float)rng_uniform(&r) - 0.5f;
	}
	sec = xmalloc((size_t)reps * sizeof *sec);
	for (int i = 0; i < warmup + reps; i++) {
		double t0 = now_seconds();

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n,
			    n, 1.0f, a, n, b, n, 0.0f, cm, n);
		if (i >= warmup)
			sec[i - warmup] = now_seconds() - t0;
	}
	flops = 2.0 * n * n * n;
	o = json_object();
	json_object_set_new(o, "size", json_integer(n));
	json_object_set_new(o, "threads", json_integer(threads));
	list = json_array();
	for (int i = 0; i < reps; i++)
		json_array_append_new(list, json_real(sec[i]));
	json_object_set_new(o, "seconds", list);
	qsort(sec, reps, sizeof *sec, cmp_double);
	med = reps % 2 ? sec[reps / 2] : (sec[reps / 2 - 1] + sec[reps / 2]) / 2;
	json_object_set_new(o, "best_gflops_per_second",
			    json_real(flops / sec[0] / 1e9));
	json_object_set_new(o, "median_gflops_per_second",
			    json_real(flops / med / 1e9));
	if (json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6)) < 0)
		die("write error");
	putchar('\n');
	json_decref(o);
	free(sec);
	free(a);
	free(b);
	free(cm);
	close_stdout();
	return 0;
}
