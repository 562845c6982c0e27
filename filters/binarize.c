/* binarize: probability maps to binary masks at a threshold. */
#include <getopt.h>
#include <stdio.h>

#include "metrics.h"
#include "outfile.h"
#include "pamio.h"
#include "sweep.h"
#include "util.h"

static const char usage_text[] =
	"usage: binarize [--threshold T | --threshold-from SWEEP] [--maxval 1|255]\n"
	"                [FILE]\n"
	"Turn probability maps (GRAYSCALE, maxval 65535; FILE or stdin) into\n"
	"binary masks: foreground (maxval) where p > T, background (0) elsewhere.\n"
	"Of a multi-output map (FOREGROUND_*): channel 0, the foreground.\n"
	"  -T, --threshold T          threshold in [0, 1] (default 0.5)\n"
	"  -f, --threshold-from FILE  take T from a threshold-sweep report\n"
	"  -m, --maxval N             1 or 255 (default 255)\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n";

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"threshold", required_argument, NULL, 'T'},
		{"threshold-from", required_argument, NULL, 'f'},
		{"maxval", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *sweep = NULL, *path = "-";
	double threshold = 0.5;
	int have_threshold = 0, c;
	unsigned maxval = 255;
	struct pamio_reader *r;
	struct image in = {0}, out = {0};
	long cutoff;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":T:f:m:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'T':
			threshold = parse_double(optarg, 0, 1, "--threshold");
			have_threshold = 1;
			break;
		case 'f':
			sweep = optarg;
			break;
		case 'm':
			maxval = (unsigned)parse_long(optarg, 1, 255, "--maxval");
			if (maxval != 1 && maxval != 255)
				die_usage("--maxval: must be 1 or 255");
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
	cutoff = metric_prob_cutoff(threshold);

	r = pamio_open(path, PAMIO_IMAGE | PAMIO_OUTPUTS);
	while (pamio_read(r, &in)) {
		size_t n = (size_t)in.width * in.height;

		/* GRAYSCALE counts 1 output, FOREGROUND_NAME... several;
		 * the foreground is channel 0 of either. */
		if (in.maxval != 65535 ||
		    image_output_count(in.tuple_type) < 1)
			die("%s: image %d: not a probability map (GRAYSCALE "
			    "or FOREGROUND_*, maxval 65535) but %s of depth "
			    "%d, maxval %u", pamio_name(r), pamio_count(r),
			    in.tuple_type, in.depth, in.maxval);
		image_alloc(&out, in.width, in.height, 1, maxval, "GRAYSCALE");
		image_copy_meta(&out, &in);
		for (size_t i = 0; i < n; i++)
			out.data[i] = (long)in.data[i * in.depth] > cutoff
					      ? maxval : 0;
		pamio_write(stdout, &out);
		image_free(&out);
		image_free(&in);
	}
	pamio_close(r);
	close_stdout();
	return 0;
}
