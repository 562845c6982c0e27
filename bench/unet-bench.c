/* unet-bench: time the U-Net's training step (forward, backward, Adam) or
 * its inference (forward) on random data and print one JSON object; or
 * write a stream of random samples or images for the filters' end-to-end
 * runs. Part of `make bench` (bench/run), not of the installed tools. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "isa.h"
#include "nn.h"
#include "optim.h"
#include "pamio.h"
#include "pool.h"
#include "rng.h"
#include "unet.h"
#include "util.h"

static const char usage_text[] =
	"usage: unet-bench [--mode train|infer|layers|samples|images]\n"
	"                  [--base-filters F]\n"
	"                  [--depth D] [--size N] [--batch N] [--threads N]\n"
	"                  [--warmup N] [--steps N] [--count N] [--seed N]\n"
	"                  [--loss bce|bce+dice] [--winograd 0|2|4|auto]\n"
	"                  [--precision fp32|bf16]\n"
	"Time `steps` training steps (forward, backward, Adam) or forward\n"
	"passes of a batch of random N x N RGB images after `warmup` untimed\n"
	"ones and print a JSON object (per-step seconds, median, images/s,\n"
	"analytic FLOPs, GFLOP/s, peak resident memory); or time each\n"
	"convolution of the network forward and backward, by the direct path,\n"
	"by GEMM and by Winograd in turn (layers: the best of `steps`); or\n"
	"write `count` random RGB_MASK samples or RGB images to stdout as a\n"
	"PAM stream.\n"
	"  -m, --mode M          train (default), infer, layers, samples or\n"
	"                        images\n"
	"  -F, --base-filters F  width of the first level (default 16)\n"
	"  -D, --depth D         levels (default 5)\n"
	"  -s, --size N          image side (default 128)\n"
	"  -b, --batch N         images per step (default 16)\n"
	"  -t, --threads N       threads (default 2)\n"
	"  -w, --warmup N        untimed steps first (default 2)\n"
	"  -n, --steps N         timed steps (default 5)\n"
	"  -c, --count N         images written by samples/images (default 64)\n"
	"  -S, --seed N          seed of weights and data (default 0)\n"
	"  -L, --loss L          the training loss: bce (default) or bce+dice\n"
	"      --winograd M      the 3x3 convolutions by Winograd: 0 never, 2\n"
	"                        F(2x2, 3x3), 4 F(4x4, 3x3) where allowed, auto\n"
	"                        (default) as the planner chooses\n"
	"      --precision P     the Winograd layers' products: fp32\n"
	"                        (default) or bf16 (forward and input\n"
	"                        gradient; fp32 without AVX512_BF16)\n"
	"      --help            show this help and exit\n"
	"      --version         show the version and exit\n";

enum { MODE_TRAIN, MODE_INFER, MODE_LAYERS, MODE_SAMPLES, MODE_IMAGES };

struct flops {
	double forward, backward_data, backward_weights;
};

/* One 3x3 convolution (or transposed convolution, counted over its input
 * pixels) of npix pixels: 2 * npix * 9 * cin * cout in each direction. */
static void
add_conv(struct flops *f, double npix, int k, int cin, int cout, int data)
{
	double n = 2.0 * npix * k * cin * cout;

	f->forward += n;
	f->backward_weights += n;
	if (data)
		f->backward_data += n;
}

/* Multiply-adds of the GEMMs per image, as nominal sizes (padding
 * included, as im2col computes it); bias, ReLU, pooling and the loss are
 * left out. The first convolution needs no input gradient. */
static struct flops
count_flops(const struct unet_config *cfg, int size)
{
	struct flops f = { 0, 0, 0 };
	int d = cfg->depth, cin = cfg->in_channels;

	for (int l = 1; l <= d; l++) {
		double side = size >> (l - 1);
		int ch = cfg->base_filters << (l - 1);

		add_conv(&f, side * side, 9, cin, ch, l > 1);
		add_conv(&f, side * side, 9, ch, ch, 1);
		cin = ch;
	}
	for (int l = d - 1; l >= 1; l--) {
		double side = size >> (l - 1), below = size >> l;
		int ch = cfg->base_filters << (l - 1);

		add_conv(&f, below * below, 9, 2 * ch, ch, 1);
		add_conv(&f, side * side, 9, 2 * ch, ch, 1);
		add_conv(&f, side * side, 9, ch, ch, 1);
	}
	add_conv(&f, (double)size * size, 1, cfg->base_filters, 1, 1);
	return f;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(const double *v, int n)
{
	double *s = xmalloc(n * sizeof *s), m;

	memcpy(s, v, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static long
max_rss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		die("getrusage:");
	return ru.ru_maxrss;
}

static void
set_num(json_t *o, const char *key, double v)
{
	json_object_set_new(o, key, json_real(v));
}

static void
set_int(json_t *o, const char *key, long v)
{
	json_object_set_new(o, key, json_integer(v));
}

/* The instruction-set path of the kernels (UNETPIPE_ISA) and its vector
 * width in floats. */
static void
set_isa(json_t *o)
{
	json_object_set_new(o, "isa", json_string(isa_name(isa_current())));
	set_int(o, "vector_floats", isa_vector_floats(isa_current()));
}

/* The precision of the Winograd layers' products in effect. */
static void
set_precision(json_t *o, enum nn_precision p)
{
	json_object_set_new(o, "precision",
			    json_string(p == NN_BF16 ? "bf16" : "fp32"));
}

static float *
random_floats(struct rng *r, size_t n)
{
	float *v = xmalloc(n * sizeof *v);

	for (size_t i = 0; i < n; i++)
		v[i] = (float)(rng_uniform(r) - 0.5);
	return v;
}

/* The Winograd mode of --winograd. */
static int wino_mode = NN_WINOGRAD_AUTO;

/* Time one convolution of the network: `side` is its input's side, up a
 * transposed convolution; data whether it needs the input gradient. The
 * best of `steps` forward and backward passes with GEMM, the direct path
 * and Winograd (wino_mode), taken in turn; direct or winograd null where
 * the layer has none. "side" in the JSON is the output's. */
static json_t *
time_layer(const char *name, int up, int side, int cin, int cout, int data,
	   int batch, int steps, int nt, struct rng *r)
{
	size_t np = (size_t)batch * side * side, ny = up ? 4 * np : np;
	int oside = up ? 2 * side : side;
	float *x = random_floats(r, np * cin), *k = random_floats(r, 9 * (size_t)cin * cout);
	float *b = random_floats(r, cout), *dy = random_floats(r, ny * cout);
	float *y = xmalloc(ny * cout * sizeof *y);
	float *dx = xmalloc(np * cin * sizeof *dx);
	float *dk = xcalloc(9 * (size_t)cin * cout, sizeof *dk);
	float *db = xcalloc(cout, sizeof *db);
	int direct, back_direct, wino;
	double best[3][2] = { { 1e30, 1e30 }, { 1e30, 1e30 }, { 1e30, 1e30 } };
	double flops = 2.0 * np * 9 * cin * cout;
	json_t *o = json_object();

	nn_set_winograd(0);
	direct = nn_conv_direct(up ? side : oside, cin, cout);
	back_direct = direct &&
		      (!up || nn_upconv_backward_direct(side, cin, cout));
	nn_set_winograd(wino_mode);
	wino = up ? 0 : nn_conv_winograd(side, cin, cout);
	for (int s = 0; s < steps; s++)
		for (int path = 0; path <= 2; path++) {
			double t0, t1, t2;

			if ((path == 1 && !direct) || (path == 2 && !wino))
				continue;
			nn_set_direct(path != 0);
			nn_set_winograd(path == 2 ? wino_mode : 0);
			t0 = now_seconds();
			if (up)
				nn_upconv_forward(nt, x, cin, batch, side, side,
						  cin, k, b, cout, y, cout);
			else
				nn_conv3x3_forward(nt, x, cin, batch, side,
						   side, cin, k, b, cout, y,
						   cout, 1);
			t1 = now_seconds();
			if (up)
				nn_upconv_backward(nt, x, cin, batch, side,
						   side, cin, k, cout, dy, cout,
						   dx, cin, 1, dk, db);
			else
				nn_conv3x3_backward(nt, x, cin, batch, side,
						    side, cin, k, cout, dy,
						    cout, data ? dx : NULL, cin,
						    1, dk, db);
			t2 = now_seconds();
			if (t1 - t0 < best[path][0])
				best[path][0] = t1 - t0;
			if (t2 - t1 < best[path][1])
				best[path][1] = t2 - t1;
		}
	nn_set_direct(1);
	nn_set_winograd(wino_mode);
	json_object_set_new(o, "layer", json_string(name));
	set_int(o, "side", oside);
	set_int(o, "in_channels", cin);
	set_int(o, "out_channels", cout);
	set_num(o, "gflop_forward", flops * 1e-9);
	set_num(o, "gflop_backward", flops * (data ? 2 : 1) * 1e-9);
	set_num(o, "gemm_forward_seconds", best[0][0]);
	set_num(o, "gemm_backward_seconds", best[0][1]);
	json_object_set_new(o, "direct_forward_seconds",
			    direct ? json_real(best[1][0]) : json_null());
	/* the transposed convolution's backward goes direct only where both
	 * its channel counts allow */
	json_object_set_new(o, "direct_backward_seconds",
			    back_direct ? json_real(best[1][1]) : json_null());
	set_int(o, "winograd", wino);
	json_object_set_new(o, "winograd_forward_seconds",
			    wino ? json_real(best[2][0]) : json_null());
	json_object_set_new(o, "winograd_backward_seconds",
			    wino ? json_real(best[2][1]) : json_null());
	free(x);
	free(k);
	free(b);
	free(dy);
	free(y);
	free(dx);
	free(dk);
	free(db);
	return o;
}

/* Every convolution of the U-Net of cfg on size x size inputs, in
 * network order, as a JSON array. */
static json_t *
time_layers(const struct unet_config *cfg, int size, int batch, int steps,
	    int nt, uint64_t seed)
{
	json_t *list = json_array();
	struct rng r;
	char name[32];
	int d = cfg->depth, cin = cfg->in_channels;

	rng_seed(&r, seed);
	nn_reserve(cfg->base_filters << d > cin ? cfg->base_filters << d : cin,
		   nt);
	for (int l = 1; l <= d; l++) {
		int side = size >> (l - 1), ch = cfg->base_filters << (l - 1);

		snprintf(name, sizeof name, "c%d.conv1", l);
		json_array_append_new(list, time_layer(name, 0, side, cin, ch,
						       l > 1, batch, steps, nt,
						       &r));
		snprintf(name, sizeof name, "c%d.conv2", l);
		json_array_append_new(list, time_layer(name, 0, side, ch, ch, 1,
						       batch, steps, nt, &r));
		cin = ch;
	}
	for (int l = d - 1; l >= 1; l--) {
		int side = size >> (l - 1), ch = cfg->base_filters << (l - 1);

		snprintf(name, sizeof name, "u%d", l);
		json_array_append_new(list, time_layer(name, 1, side / 2,
						       2 * ch, ch, 1, batch,
						       steps, nt, &r));
		snprintf(name, sizeof name, "d%d.conv1", l);
		json_array_append_new(list, time_layer(name, 0, side, 2 * ch,
						       ch, 1, batch, steps, nt,
						       &r));
		snprintf(name, sizeof name, "d%d.conv2", l);
		json_array_append_new(list, time_layer(name, 0, side, ch, ch, 1,
						       batch, steps, nt, &r));
	}
	return list;
}

/* Random images (and masks of random 0/1 pixels) to stdout. */
static void
write_stream(int samples, int count, int size, uint64_t seed)
{
	struct rng r;
	struct image img = { 0 };
	int depth = samples ? 4 : 3;

	rng_seed(&r, seed);
	image_alloc(&img, size, size, depth, 255,
		    samples ? "RGB_MASK" : "RGB");
	for (int i = 0; i < count; i++) {
		size_t n = (size_t)size * size * depth;

		for (size_t j = 0; j < n; j++)
			img.data[j] = (uint16_t)rng_below(&r, 256);
		if (samples)
			for (size_t p = 0; p < (size_t)size * size; p++)
				img.data[p * 4 + 3] = rng_below(&r, 2) * 255;
		pamio_write(stdout, &img);
	}
	image_free(&img);
	close_stdout();
}


int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "base-filters", required_argument, NULL, 'F' },
		{ "depth", required_argument, NULL, 'D' },
		{ "size", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "steps", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 'S' },
		{ "loss", required_argument, NULL, 'L' },
		{ "winograd", required_argument, NULL, 'W' },
		{ "precision", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct unet_config cfg = { 3, 16, 5, 1 };
	int mode = MODE_TRAIN, size = 128, batch = 16, threads = 2;
	int warmup = 2, steps = 5, count = 64, dice = 0, c;
	enum nn_precision precision = NN_FP32;
	uint64_t seed = 0;
	char err[256];
	struct unet *net;
	struct unet_work *w;
	struct adam *adam = NULL;
	struct flops fl;
	struct rng r;
	float *input, *target;
	size_t npix;
	double *sec, med, per_image;
	json_t *o, *list;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":m:F:D:s:b:t:w:n:c:S:L:", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "train") == 0)
				mode = MODE_TRAIN;
			else if (strcmp(optarg, "infer") == 0)
				mode = MODE_INFER;
			else if (strcmp(optarg, "layers") == 0)
				mode = MODE_LAYERS;
			else if (strcmp(optarg, "samples") == 0)
				mode = MODE_SAMPLES;
			else if (strcmp(optarg, "images") == 0)
				mode = MODE_IMAGES;
			else
				die_usage("--mode: train, infer, layers, samples "
					  "or images, not '%s'", optarg);
			break;
		case 'F':
			cfg.base_filters = (int)parse_long(optarg, 1, 1024,
							   "--base-filters");
			break;
		case 'D':
			cfg.depth = (int)parse_long(optarg, 2, UNET_MAX_DEPTH,
						    "--depth");
			break;
		case 's':
			size = (int)parse_long(optarg, 1, 8192, "--size");
			break;
		case 'b':
			batch = (int)parse_long(optarg, 1, 4096, "--batch");
			break;
		case 't':
			threads = (int)parse_long(optarg, 1, POOL_MAX_THREADS,
						     "--threads");
			break;
		case 'w':
			warmup = (int)parse_long(optarg, 0, 100000, "--warmup");
			break;
		case 'n':
			steps = (int)parse_long(optarg, 1, 100000, "--steps");
			break;
		case 'c':
			count = (int)parse_long(optarg, 0, 1000000, "--count");
			break;
		case 'S':
			seed = (uint64_t)parse_long(optarg, 0, 1L << 53,
						    "--seed");
			break;
		case 'L':
			if (strcmp(optarg, "bce") != 0 &&
			    strcmp(optarg, "bce+dice") != 0)
				die_usage("--loss: bce or bce+dice, not '%s'",
					  optarg);
			dice = optarg[3] != '\0';
			break;
		case 'W':
			if (strcmp(optarg, "auto") == 0)
				wino_mode = NN_WINOGRAD_AUTO;
			else if (strcmp(optarg, "0") == 0 ||
				 strcmp(optarg, "2") == 0 ||
				 strcmp(optarg, "4") == 0)
				wino_mode = optarg[0] - '0';
			else
				die_usage("--winograd: 0, 2, 4 or auto, not "
					  "'%s'", optarg);
			break;
		case 'P':
			precision = parse_choice(optarg, "fp32", "bf16",
						 "--precision")
				    ? NN_BF16 : NN_FP32;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (optind < argc)
		die_usage("too many operands");
	if (unet_config_check(&cfg, err, sizeof err) < 0)
		die_usage("%s", err);
	if (size % (1 << (cfg.depth - 1)))
		die_usage("--size: %d is not a multiple of %d", size,
			  1 << (cfg.depth - 1));
	nn_set_winograd(wino_mode);
	if (mode == MODE_SAMPLES || mode == MODE_IMAGES) {
		write_stream(mode == MODE_SAMPLES, count, size, seed);
		return 0;
	}
	/* the precision in effect: fp32 without AVX512_BF16 */
	precision = nn_set_precision(precision);

	if (mode == MODE_LAYERS) {
		o = json_object();
		json_object_set_new(o, "mode", json_string("layers"));
		set_int(o, "base_filters", cfg.base_filters);
		set_int(o, "depth", cfg.depth);
		set_int(o, "size", size);
		set_int(o, "batch", batch);
		set_int(o, "threads", threads);
		set_int(o, "winograd", wino_mode);
		set_isa(o);
		set_precision(o, precision);
		set_int(o, "steps", steps);
		json_object_set_new(o, "layers", time_layers(&cfg, size, batch,
							     steps, threads,
							     seed));
		if (json_dumpf(o, stdout, JSON_COMPACT |
					  JSON_REAL_PRECISION(6)) < 0)
			die("write error");
		putchar('\n');
		json_decref(o);
		close_stdout();
		return 0;
	}
	net = unet_new(&cfg);
	unet_init_glorot(net, seed);
	w = unet_work_new(net, batch, size, size, mode == MODE_TRAIN, threads);
	if (mode == MODE_TRAIN)
		adam = adam_new(net, 1e-3);
	else
		nn_keep_kernels(1); /* as unet-infer: fixed weights */
	npix = (size_t)batch * size * size;
	input = unet_work_input(w);
	target = xmalloc(npix * sizeof *target);
	rng_seed(&r, seed + 1);
	for (size_t i = 0; i < npix * cfg.in_channels; i++)
		input[i] = (float)rng_uniform(&r);
	for (size_t i = 0; i < npix; i++)
		target[i] = (float)rng_below(&r, 2);

	sec = xmalloc((size_t)steps * sizeof *sec);
	for (int s = 0; s < warmup + steps; s++) {
		double t0 = now_seconds();

		unet_forward(w, batch);
		if (mode == MODE_TRAIN) {
			unet_backward(w, batch, target, NULL, 1.0f, dice);
			adam_step(adam, net, threads);
		}
		if (s >= warmup)
			sec[s - warmup] = now_seconds() - t0;
	}
	med = median(sec, steps);
	fl = count_flops(&cfg, size);
	per_image = mode == MODE_TRAIN
			    ? fl.forward + fl.backward_data +
				      fl.backward_weights
			    : fl.forward;

	o = json_object();
	json_object_set_new(o, "mode", json_string(mode == MODE_TRAIN
							   ? "train"
							   : "infer"));
	set_int(o, "base_filters", cfg.base_filters);
	set_int(o, "depth", cfg.depth);
	set_int(o, "size", size);
	set_int(o, "batch", batch);
	set_int(o, "threads", threads);
	set_int(o, "winograd", wino_mode);
	set_isa(o);
	set_precision(o, precision);
	set_int(o, "warmup", warmup);
	set_int(o, "steps", steps);
	if (mode == MODE_TRAIN)
		json_object_set_new(o, "loss", json_string(dice ? "bce+dice"
								: "bce"));
	list = json_array();
	for (int s = 0; s < steps; s++)
		json_array_append_new(list, json_real(sec[s]));
	json_object_set_new(o, "step_seconds", list);
	set_num(o, "median_seconds", med);
	set_num(o, "images_per_second", batch / med);
	set_num(o, "flops_forward_per_image", fl.forward);
	set_num(o, "flops_backward_data_per_image", fl.backward_data);
	set_num(o, "flops_backward_weights_per_image", fl.backward_weights);
	set_num(o, "flops_per_image", per_image);
	set_num(o, "gflops_per_second", per_image * batch / med / 1e9);
	set_int(o, "max_rss_kib", max_rss_kib());
	if (json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6)) < 0)
		die("write error");
	putchar('\n');
	json_decref(o);

	free(sec);
	free(target);
	adam_free(adam);
	unet_work_free(w);
	unet_free(net);
	close_stdout();
	return 0;
}
