/* label-objects: probability maps or binary masks to label images, one
 * object per nucleus: connected components of the foreground, or a seeded
 * watershed on a DISTANCE channel that splits touching nuclei. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "metrics.h"
#include "outfile.h"
#include "pamio.h"
#include "sweep.h"
#include "util.h"
#include "watershed.h"

static const char usage_text[] =
	"usage: label-objects [--mode components|watershed]\n"
	"                     [--threshold T | --threshold-from SWEEP]\n"
	"                     [--seed-threshold S] [--merge H] [--min-size N]\n"
	"                     [--min-fraction F] [--connectivity 4|8] [FILE]\n"
	"Turn probability maps (GRAYSCALE of maxval 65535, or multi-output maps\n"
	"such as FOREGROUND_DISTANCE) or binary masks (FILE or stdin) into label\n"
	"images: one LABEL image (maxval 65535) per input, objects 1..n in\n"
	"raster order, 0 the background.\n"
	"  -m, --mode MODE            components: the connected parts of the\n"
	"                             foreground; watershed: seeds where the\n"
	"                             DISTANCE channel is above S, flooding the\n"
	"                             foreground (default: watershed when the\n"
	"                             maps have a DISTANCE channel)\n"
	"  -T, --threshold T          foreground where p > T (default 0.5)\n"
	"  -f, --threshold-from FILE  take T from a threshold-sweep report\n"
	"  -s, --seed-threshold S     seeds where the distance > S (default 0.5)\n"
	"  -M, --merge H              join two touching objects whose lower\n"
	"                             distance peak rises at most H above the\n"
	"                             saddle between them (default 0.1; 0:\n"
	"                             none)\n"
	"  -n, --min-size N           remove objects of fewer than N pixels\n"
	"                             (default 4; 0 or 1 keeps all)\n"
	"  -F, --min-fraction F       remove objects of less than F times the\n"
	"                             median size of the image's objects\n"
	"                             (default 0.15; 0: none)\n"
	"  -c, --connectivity N       4 or 8 (default 8)\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n";

enum mode { MODE_AUTO, MODE_COMPONENTS, MODE_WATERSHED };

/* The default --merge, 0.1 of the distance scale, in its units (chosen on
 * the validation images: see label-objects(1)). */
#define MERGE_DEFAULT 6554

/* The default --min-fraction (chosen on the validation images at two
 * scales: see label-objects(1)). */
#define MIN_FRACTION_DEFAULT 0.15

struct opts {
	enum mode mode;
	long cutoff, seed_cutoff; /* v > cutoff: see metric_prob_cutoff */
	uint16_t merge;           /* --merge in the map's units */
	uint32_t min_size;
	double min_fraction;
	int connectivity;
};

/* The channel of the output called name ("distance") in a prediction's
 * tuple type, or -1. */
static int
output_channel(const char *tuple_type, const char *name)
{
	char out[32];

	for (int k = 0; image_output_name(tuple_type, k, out, sizeof out) == 0;
	     k++)
		if (strcmp(out, name) == 0)
			return k;
	return -1;
}

/* Die unless img is a probability map (GRAYSCALE of maxval 65535 or a
 * multi-output map, maxval 65535) or a binary mask (depth 1, maxval 1 or
 * 255, samples 0 or maxval); returns 1 for a map, 0 for a mask. */
static int
check_input(const struct pamio_reader *r, const struct image *img)
{
	int outputs = image_output_count(img->tuple_type);
	size_t i;

	if (outputs >= 1 && img->maxval == 65535)
		return 1;
	if (outputs > 1)
		die("%s: image %d: %s of maxval %u: a multi-output map has "
		    "maxval 65535", pamio_name(r), pamio_count(r),
		    img->tuple_type, img->maxval);
	if (img->depth != 1 || (img->maxval != 1 && img->maxval != 255))
		die("%s: image %d: %s of depth %d, maxval %u: expected a "
		    "probability map (GRAYSCALE or FOREGROUND_..., maxval "
		    "65535) or a binary mask (maxval 1 or 255)", pamio_name(r),
		    pamio_count(r), img->tuple_type, img->depth, img->maxval);
	i = image_not_binary(img);
	if (i != IMAGE_BINARY)
		die("%s: image %d: %s of maxval %u holds %u at x %zu, y %zu: "
		    "neither a binary mask (only 0 and %u) nor a probability "
		    "map (maxval 65535)", pamio_name(r), pamio_count(r),
		    img->tuple_type, img->maxval, img->data[i],
		    i % (size_t)img->width, i / (size_t)img->width,
		    img->maxval);
	return 0;
}

/* The objects of one input into out, a LABEL image. */
static void
label_image(const struct pamio_reader *r, const struct image *in,
	    const struct opts *o, struct image *out)
{
	size_t n = (size_t)in->width * in->height;
	int is_map = check_input(r, in), d = in->depth;
	int dist = is_map && d > 1 ? output_channel(in->tuple_type,
						     "distance") : -1;
	enum mode mode = o->mode;
	long cutoff = is_map ? o->cutoff : (long)(in->maxval / 2);
	uint8_t *fg = xmalloc_for(n, 1, "the foreground");
	uint8_t *seed = NULL;
	uint16_t *prio = xmalloc_for(n, sizeof *prio, "the priorities");
	uint32_t *labels = xmalloc_for(n, sizeof *labels, "the labels"), count;

	if (mode == MODE_AUTO)
		mode = dist >= 0 ? MODE_WATERSHED : MODE_COMPONENTS;
	if (mode == MODE_WATERSHED && dist < 0)
		die("%s: image %d: --mode watershed needs a DISTANCE channel, "
		    "which %s of depth %d has not", pamio_name(r),
		    pamio_count(r), in->tuple_type, d);
	if (mode == MODE_WATERSHED)
		seed = xmalloc_for(n, 1, "the seeds");
	for (size_t p = 0; p < n; p++) {
		fg[p] = (long)in->data[p * d] > cutoff;
		prio[p] = in->data[p * d + (dist >= 0 ? dist : 0)];
		if (seed)
			seed[p] = (long)prio[p] > o->seed_cutoff;
	}
	count = watershed_objects(fg, seed, prio, in->width, in->height,
				  o->connectivity, o->merge, o->min_size,
				  o->min_fraction, labels);
	if (count > 65535)
		die("%s: image %d: %u objects, more than the 65535 a label "
		    "image holds", pamio_name(r), pamio_count(r), count);
	image_alloc(out, in->width, in->height, 1, 65535, "LABEL");
	image_copy_meta(out, in);
	for (size_t p = 0; p < n; p++)
		out->data[p] = (uint16_t)labels[p];
	free(labels);
	free(seed);
	free(prio);
	free(fg);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"mode", required_argument, NULL, 'm'},
		{"threshold", required_argument, NULL, 'T'},
		{"threshold-from", required_argument, NULL, 'f'},
		{"seed-threshold", required_argument, NULL, 's'},
		{"merge", required_argument, NULL, 'M'},
		{"min-size", required_argument, NULL, 'n'},
		{"min-fraction", required_argument, NULL, 'F'},
		{"connectivity", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {MODE_AUTO, 0, 0, MERGE_DEFAULT, 4,
			 MIN_FRACTION_DEFAULT, 8};
	double threshold = 0.5, seed_threshold = 0.5;
	const char *path = "-", *sweep = NULL;
	struct pamio_reader *r;
	struct image in = {0}, out = {0};
	int c, have_threshold = 0;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":m:T:f:s:M:n:F:c:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "components") == 0)
				o.mode = MODE_COMPONENTS;
			else if (strcmp(optarg, "watershed") == 0)
				o.mode = MODE_WATERSHED;
			else
				die_usage("--mode: components or watershed, "
					  "not '%s'", optarg);
			break;
		case 'T':
			threshold = parse_double(optarg, 0, 1, "--threshold");
			have_threshold = 1;
			break;
		case 'f':
			sweep = optarg;
			break;
		case 's':
			seed_threshold = parse_double(optarg, 0, 1,
						      "--seed-threshold");
			break;
		case 'M':
			o.merge = (uint16_t)lround(parse_double(optarg, 0, 1,
							       "--merge") *
						  65535);
			break;
		case 'n':
			o.min_size = (uint32_t)parse_long(
				optarg, 0, (long)IMAGE_MAX_SAMPLES,
				"--min-size");
			break;
		case 'F':
			o.min_fraction = parse_double(optarg, 0, 1,
						      "--min-fraction");
			break;
		case 'c':
			o.connectivity = (int)parse_long(optarg, 4, 8,
							 "--connectivity");
			if (o.connectivity != 4 && o.connectivity != 8)
				die_usage("--connectivity: 4 or 8, not %d",
					  o.connectivity);
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (have_threshold && sweep)
		die_usage("--threshold and --threshold-from exclude each other");
	if (argc - optind > 1)
		die_usage("too many operands");
	if (argc - optind == 1)
		path = argv[optind];
	outfile_input(path);
	threshold = sweep_threshold(sweep, threshold);
	o.cutoff = metric_prob_cutoff(threshold);
	o.seed_cutoff = metric_prob_cutoff(seed_threshold);

	r = pamio_open(path, PAMIO_IMAGE | PAMIO_OUTPUTS);
	while (pamio_read(r, &in)) {
		label_image(r, &in, &o, &out);
		pamio_write(stdout, &out);
		image_free(&out);
		image_free(&in);
	}
	pamio_close(r);
	close_stdout();
	return 0;
}
