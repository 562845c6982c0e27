/* unet-infer: apply a U-Net model to an image stream, writing one
 * probability map per image, one channel per output of the model. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "infer.h"
#include "isa.h"
#include "model.h"
#include "nn.h"
#include "outfile.h"
#include "pamio.h"
#include "pool.h"
#include "progress.h"
#include "resample.h"
#include "unet.h"
#include "util.h"

/* --batch's default: a pass takes at most this many images, and no more
 * than give each thread 2^15 pixels (infer.h, unet-infer(1)). */
#define BATCH_DEFAULT 16

static const char usage_text[] =
	"usage: unet-infer [--threads N] [--batch N] [--tile N] [--memory MIB]\n"
	"                  [--resize[=WxH]] [--original-size] [--tta]\n"
	"                  [--precision fp32|bf16] [--quiet] MODEL [FILE]\n"
	"Apply the U-Net in MODEL to each image of the PAM stream FILE (default\n"
	"stdin) and write its probability map (GRAYSCALE, maxval 65535) to stdout;\n"
	"a model of several outputs writes one channel per output. Each image is\n"
	"normalised as the model's metadata says (maxval or percentiles).\n"
	"  -t, --threads N      threads for the network (default: online CPUs,\n"
	"                       at most 8)\n"
	"  -b, --batch N        infer up to N consecutive images of the same size\n"
	"                       together, no more than give each thread 2^15\n"
	"                       pixels (default 16; 1 writes each map as soon as\n"
	"                       its image is read)\n"
	"      --tile N         infer in N x N tiles with overlapping margins\n"
	"                       (0: never tile; default: only images too large\n"
	"                       for the memory budget)\n"
	"      --memory MIB     memory budget for the network's activations, in\n"
	"                       MiB (default 1024): larger images are tiled,\n"
	"                       batches are cut\n"
	"      --resize[=WxH]   resize each image to WxH for the network,\n"
	"                       probabilities back to the image's size; bare: at\n"
	"                       the model's training scale (its input_width x\n"
	"                       input_height; none for a model trained on patches)\n"
	"      --original-size  write probabilities at each image's original size\n"
	"      --tta            average the probabilities over the flips (and, for\n"
	"                       square inputs, the transposes): 4 or 8 passes\n"
	"      --precision P    fp32 (default) or bf16: the Winograd layers'\n"
	"                       products in bf16, summed in fp32 (AVX512_BF16\n"
	"                       only; elsewhere fp32, with a warning)\n"
	"  -q, --quiet          no progress line on a terminal\n"
	"  -h, --help           print this help and exit\n"
	"  -V, --version        print the version and the kernels in use, exit\n";

static struct {
	int threads, batch, tile, resize, rw, rh, original, tta, quiet;
	enum nn_precision precision;
	double budget; /* bytes */
	const char *model, *input;
} opt = { .batch = BATCH_DEFAULT, .tile = -1, .budget = 1024.0 * (1 << 20) };

static struct unet *net;
static struct infer *engine;
static struct normalize norm;         /* the model's */
static int in_channels;
static int outputs;                   /* K: channels of a map */
static char tuple_type[64];           /* of the maps: model_tuple_type */

/* An image read, waiting for its batch. src is what the network sees
 * (img itself, or its resized copy). */
struct job {
	struct image img, resized;
	const struct image *src;
	struct normalize_map map;     /* of src, the model's normalisation */
	int out_w, out_h;
};

static struct job *pending;
static int npending;
static int flushing;                  /* inside flush() */
static struct progress progress;
static long written;
static double started;

/* Fill dst (src's pixels, in_channels each) from src through its map. */
static void
fill_input(float *dst, const struct image *src, const struct normalize_map *m)
{
	size_t pixels = (size_t)src->width * src->height;

	for (size_t p = 0; p < pixels; p++)
		for (int c = 0; c < in_channels; c++)
			dst[p * in_channels + c] = (float)
				((src->data[p * src->depth + c] - m->offset)
				 / m->range);
}

/* The pixel of a w x h image that pixel (x, y) of its symmetry s shows
 * (s from 0 to 7; 4 to 7 only when w == h), as an index: bit 0 flips
 * left-right, bit 1 top-bottom, bit 2 transposes. */
static size_t
symmetry_source(int s, int x, int y, int w, int h)
{
	int sx = s & 1 ? w - 1 - x : x, sy = s & 2 ? h - 1 - y : y;

	return s & 4 ? (size_t)sx * w + sy : (size_t)sy * w + sx;
}

/* The probabilities of n images of w x h (input as for infer_images)
 * averaged over the symmetries of the rectangle (4), or of the square
 * (8) when w == h: each symmetry's image inferred, its probabilities
 * turned back and added. */
static void
infer_tta(int n, int w, int h, const float *input, float *probs)
{
	int count = w == h ? 8 : 4;
	size_t pixels = (size_t)w * h, isize = pixels * in_channels;
	size_t osize = pixels * outputs;
	float *in = xmalloc_for(isize * n, sizeof *in, "the network's input");
	float *out = xmalloc_for(osize * n, sizeof *out, "a probability map");

	memset(probs, 0, sizeof *probs * osize * n);
	for (int s = 0; s < count; s++) {
		for (int k = 0; k < n; k++)
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++)
					memcpy(in + k * isize + ((size_t)y * w + x)
						   * in_channels,
					       input + k * isize +
						   symmetry_source(s, x, y, w, h)
						   * in_channels,
					       sizeof *in * in_channels);
		infer_images(engine, n, w, h, in, out);
		nn_sigmoid(opt.threads, out, out, osize * n);
		for (int k = 0; k < n; k++)
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++) {
					float *d = probs + k * osize +
						   symmetry_source(s, x, y, w, h)
						   * outputs;
					const float *o = out + k * osize +
						((size_t)y * w + x) * outputs;
					for (int c = 0; c < outputs; c++)
						d[c] += o[c];
				}
	}
	for (size_t i = 0; i < osize * n; i++)
		probs[i] /= count;
	free(in);
	free(out);
}

/* Resample the `outputs` interleaved channels of src (sw x sh) into dst
 * (dw x dh), each channel as a plane. */
static void
resample_maps(const float *src, int sw, int sh, float *dst, int dw, int dh)
{
	size_t sn = (size_t)sw * sh, dn = (size_t)dw * dh;
	float *a, *b;

	if (outputs == 1) {
		resample_plane(src, sw, sh, dst, dw, dh);
		return;
	}
	a = xmalloc_for(sn, sizeof *a, "a probability map");
	b = xmalloc_for(dn, sizeof *b, "a probability map");
	for (int c = 0; c < outputs; c++) {
		for (size_t i = 0; i < sn; i++)
			a[i] = src[i * outputs + c];
		resample_plane(a, sw, sh, b, dw, dh);
		for (size_t i = 0; i < dn; i++)
			dst[i * outputs + c] = b[i];
	}
	free(a);
	free(b);
}

/* Write the probability map of a job from its probabilities (the
 * network's size, src->width x src->height, `outputs` channels). */
static void
emit(struct job *j, float *probs)
{
	int nw = j->src->width, nh = j->src->height;
	size_t on = (size_t)j->out_w * j->out_h * outputs;
	struct image out = {0};
	float *p = probs;

	if (j->out_w != nw || j->out_h != nh) {
		p = xmalloc_for(on, sizeof *p, "a probability map");
		resample_maps(probs, nw, nh, p, j->out_w, j->out_h);
	}
	image_alloc(&out, j->out_w, j->out_h, outputs, 65535, tuple_type);
	image_copy_meta(&out, &j->img);
	for (size_t i = 0; i < on; i++) {
		double v = rint((double)p[i] * 65535);
		out.data[i] = v <= 0 ? 0 : v >= 65535 ? 65535 : (uint16_t)v;
	}
	pamio_write(stdout, &out);
	/* The next filter of the pipe can start on it now. */
	if (fflush(stdout) != 0)
		die("write error:");
	image_free(&out);
	if (p != probs)
		free(p);
	written++;
	progress_draw(&progress, 0, "unet-infer: %ld images, %.1f images/s",
		      written, written / (now_seconds() - started + 1e-9));
}

static void
job_free(struct job *j)
{
	image_free(&j->img);
	image_free(&j->resized);
}

/* Infer the pending images (all of the same size) together. */
static void
flush(void)
{
	int nw, nh;
	size_t isize, osize;
	float *in, *probs;

	if (npending == 0)
		return;
	flushing = 1;
	nw = pending[0].src->width;
	nh = pending[0].src->height;
	isize = (size_t)nw * nh * in_channels;
	osize = (size_t)nw * nh * outputs;
	in = xmalloc_for(isize * npending, sizeof *in, "the network's input");
	probs = xmalloc_for(osize * npending, sizeof *probs,
			    "a probability map");
	for (int k = 0; k < npending; k++)
		fill_input(in + k * isize, pending[k].src, &pending[k].map);
	if (opt.tta) {
		infer_tta(npending, nw, nh, in, probs);
	} else {
		infer_images(engine, npending, nw, nh, in, probs);
		nn_sigmoid(opt.threads, probs, probs, osize * npending);
	}
	free(in);
	for (int k = 0; k < npending; k++) {
		emit(&pending[k], probs + k * osize);
		job_free(&pending[k]);
	}
	free(probs);
	npending = 0;
	flushing = 0;
}

/* die()'s hook: the images read before the failure are whole, their maps
 * are written; not when the failure is within flush itself. */
static void
flush_before_exit(void)
{
	if (!flushing)
		flush();
}

/* Queue an image for its batch, inferring the batch when it is full. */
static void
infer(struct job *j)
{
	if (npending > 0 && (pending[0].src->width != j->src->width ||
			     pending[0].src->height != j->src->height))
		flush();
	pending[npending] = *j;
	/* src may point into the job itself, which has moved. */
	if (j->src == &j->img)
		pending[npending].src = &pending[npending].img;
	else
		pending[npending].src = &pending[npending].resized;
	npending++;
	if (npending >= infer_batch(engine, j->src->width, j->src->height))
		flush();
}

/* A size from the model's metadata, strictly "1" .. IMAGE_MAX_SIDE. */
static int
meta_side(json_t *meta, const char *key)
{
	const char *s = json_string_value(json_object_get(meta, key));
	size_t len;

	if (!s)
		die("%s: no %s in its metadata: give --resize=WxH", opt.model, key);
	len = strlen(s);
	if (len == 0 || len > 5 || strspn(s, "0123456789") != len ||
	    s[0] == '0' || atoi(s) > IMAGE_MAX_SIDE)
		die("%s: metadata %s \"%s\" is not a size", opt.model, key, s);
	return atoi(s);
}

/* Bare --resize: the model's training scale, its input_width x
 * input_height; none (no resizing) for a model trained on patches at
 * native scale, which has a patch and no such size. */
static void
training_scale(json_t *meta)
{
	if (!json_object_get(meta, "input_width") &&
	    !json_object_get(meta, "input_height") &&
	    json_object_get(meta, "patch")) {
		opt.resize = 0;
		return;
	}
	opt.rw = meta_side(meta, "input_width");
	opt.rh = meta_side(meta, "input_height");
}

/* Whether s has the form WxH (digits, 'x', digits). */
static int
looks_like_size(const char *s)
{
	size_t w = strspn(s, "0123456789"), h;

	if (w == 0 || s[w] != 'x')
		return 0;
	h = strspn(s + w + 1, "0123456789");
	return h > 0 && s[w + 1 + h] == '\0';
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "tile", required_argument, NULL, 'T' },
		{ "resize", optional_argument, NULL, 'r' },
		{ "original-size", no_argument, NULL, 'o' },
		{ "tta", no_argument, NULL, 'A' },
		{ "memory", required_argument, NULL, 'M' },
		{ "precision", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, bare_resize = 0;
	struct stat sb;

	opt.threads = online_cpus(NN_DEFAULT_MAX_THREADS);
	while ((c = getopt_long(argc, argv, ":t:b:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opt.threads = (int)parse_long(optarg, 1,
						      POOL_MAX_THREADS,
						      "--threads");
			break;
		case 'b':
			opt.batch = (int)parse_long(optarg, 1, 1024, "--batch");
			break;
		case 'T':
			opt.tile = (int)parse_long(optarg, 0, IMAGE_MAX_SIDE, "--tile");
			break;
		case 'r':
			opt.resize = 1;
			bare_resize = !optarg;
			if (optarg)
				parse_size(optarg, IMAGE_MAX_SIDE, &opt.rw, &opt.rh,
					   "--resize");
			break;
		case 'o':
			opt.original = 1;
			break;
		case 'A':
			opt.tta = 1;
			break;
		case 'M':
			opt.budget = (double)(1 << 20) *
				     parse_long(optarg, 1, 1L << 20, "--memory");
			break;
		case 'P':
			opt.precision = parse_choice(optarg, "fp32", "bf16",
						     "--precision")
					? NN_BF16 : NN_FP32;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'V':
			cli_version(isa_name(isa_current()));
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (optind >= argc)
		die_usage("missing MODEL");
	/* --resize takes its size only after '=': a MODEL that looks like
	 * one and is no file was meant for it. */
	if (bare_resize && looks_like_size(argv[optind]) &&
	    stat(argv[optind], &sb) != 0)
		die_usage("'%s' looks like a size: write --resize=%s",
			  argv[optind], argv[optind]);
	if (argc - optind > 2)
		die_usage("too many arguments");
	opt.model = argv[optind];
	opt.input = optind + 1 < argc ? argv[optind + 1] : "-";
}

/* The size of j's map: the image's, or with --original-size its recorded
 * original size. A comment is no size to trust: the map must be one that
 * the readers of its stream accept, all its channels counted. */
static void
set_out_size(struct job *j, struct pamio_reader *r)
{
	j->out_w = j->img.width;
	j->out_h = j->img.height;
	if (opt.original && j->img.orig_width > 0 && j->img.orig_height > 0) {
		if (j->img.orig_width > IMAGE_MAX_SIDE ||
		    j->img.orig_height > IMAGE_MAX_SIDE ||
		    (size_t)j->img.orig_width * j->img.orig_height * outputs
		    > IMAGE_MAX_SAMPLES) {
			flush();
			die("%s: image %d: original size %dx%d beyond the "
			    "limits of %d per side and %zu samples",
			    pamio_name(r), pamio_count(r), j->img.orig_width,
			    j->img.orig_height, IMAGE_MAX_SIDE,
			    (size_t)IMAGE_MAX_SAMPLES);
		}
		j->out_w = j->img.orig_width;
		j->out_h = j->img.orig_height;
	}
	if ((size_t)j->out_w * j->out_h * outputs > IMAGE_MAX_SAMPLES) {
		flush();
		die("%s: image %d: a map of %dx%d in %d channels is beyond the "
		    "limit of %zu samples", pamio_name(r), pamio_count(r),
		    j->out_w, j->out_h, outputs, (size_t)IMAGE_MAX_SAMPLES);
	}
}

int
main(int argc, char **argv)
{
	struct pamio_reader *r;
	json_t *meta;
	struct model_outputs outs;
	char err[512];
	struct job j;

	prog_init(argc, argv);
	opterr = 0;
	parse_options(argc, argv);
	outfile_input(opt.model);
	outfile_input(opt.input);

	net = model_load(opt.model, &meta, err, sizeof err);
	if (!net)
		die("%s: %s", opt.model, err);
	in_channels = unet_get_config(net)->in_channels;
	/* model_load checked the outputs against the network */
	if (model_outputs(meta, &outs, err, sizeof err) < 0)
		die("%s: %s", opt.model, err);
	outputs = outs.count;
	model_tuple_type(&outs, tuple_type, sizeof tuple_type);
	if (model_normalize(meta, &norm, err, sizeof err) < 0)
		die("%s: %s", opt.model, err);
	if (opt.resize && opt.rw == 0)
		training_scale(meta);
	json_decref(meta);
	if (opt.tile > 0 && infer_tile_check(net, opt.tile, err, sizeof err) < 0)
		die_usage("--tile %d: %s", opt.tile, err);
	if (nn_set_precision(opt.precision) != opt.precision)
		warn_msg("this CPU has no AVX512_BF16: computing in fp32");
	engine = infer_new(net, opt.threads, opt.budget, opt.tile);
	/* The model's weights never change here: their transforms stay. */
	nn_keep_kernels(1);
	infer_set_batch(engine, opt.batch);
	pending = xcalloc(opt.batch, sizeof *pending);
	set_die_hook(flush_before_exit);
	r = pamio_open(opt.input, PAMIO_IMAGE | PAMIO_SAMPLE);
	progress_init(&progress, stderr_is_tty() && !opt.quiet);
	started = now_seconds();

	for (;;) {
		memset(&j, 0, sizeof j);
		if (!pamio_read(r, &j.img))
			break;
		int ch = image_channels(&j.img);
		if (ch != in_channels) {
			die("%s: image %d: %d channel%s, model expects %d",
			    pamio_name(r), pamio_count(r), ch, ch == 1 ? "" : "s",
			    in_channels);
		}
		j.src = &j.img;
		if (opt.resize &&
		    (j.img.width != opt.rw || j.img.height != opt.rh)) {
			resample_image(&j.img, &j.resized, opt.rw, opt.rh);
			j.src = &j.resized;
		}
		set_out_size(&j, r);
		/* The map of what the network sees, as in training. */
		normalize_image(&norm, j.src->data,
				(size_t)j.src->width * j.src->height,
				j.src->depth, in_channels, j.src->maxval, &j.map);
		infer(&j);
	}
	flush();
	progress_clear(&progress);
	pamio_close(r);
	infer_free(engine);
	nn_keep_kernels(0);
	unet_free(net);
	free(pending);
	close_stdout();
	return 0;
}
