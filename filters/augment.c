/* augment: expand a stream of samples or images with randomly augmented
 * copies, as unet-train --augment draws them. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "outfile.h"
#include "pamio.h"
#include "rng.h"
#include "util.h"

static const char usage_text[] =
	"usage: augment [--seed N] [--copies N] [--ops LIST] [--keep-original]\n"
	"               [FILE]\n"
	"Write N randomly augmented copies of every image of a PAM stream of\n"
	"samples (RGB_MASK, GRAYSCALE_MASK, RGB_LABEL, GRAYSCALE_LABEL) or\n"
	"images (FILE or stdin), the mask or labels moved with the image; ids\n"
	"get the suffix ~augJ.\n"
	"  -s, --seed N          seed of the draws (default 0)\n"
	"  -n, --copies N        augmented copies per image (default 1)\n"
	"  -o, --ops LIST        flip,rot90,crop,color,elastic, all or none\n"
	"                        (default all)\n"
	"  -k, --keep-original   write each image itself before its copies\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n";

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"seed", required_argument, NULL, 's'},
		{"copies", required_argument, NULL, 'n'},
		{"ops", required_argument, NULL, 'o'},
		{"keep-original", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = "-";
	uint64_t seed = 0;
	long copies = 1;
	unsigned ops = AUGMENT_ALL;
	int keep = 0, c;
	char err[256];
	struct pamio_reader *r;
	struct image in = {0}, out = {0};

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":s:n:o:khV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			seed = (uint64_t)parse_long(optarg, 0, LONG_MAX,
						    "--seed");
			break;
		case 'n':
			copies = parse_long(optarg, 0, 100000, "--copies");
			break;
		case 'o':
			if (augment_parse(optarg, &ops, err, sizeof err) < 0)
				die_usage("--ops: %s", err);
			break;
		case 'k':
			keep = 1;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (argc - optind > 1)
		die_usage("too many operands");
	if (argc - optind == 1)
		path = argv[optind];
	if (copies == 0 && !keep)
		die_usage("--copies 0 without --keep-original writes nothing");

	outfile_input(path);
	r = pamio_open(path, PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_read(r, &in)) {
		int k = pamio_count(r);
		size_t n = (size_t)in.width * in.height * in.depth;

		if (keep)
			pamio_write(stdout, &in);
		for (long j = 1; j <= copies; j++) {
			struct rng rng;
			char id[64];
			char *newid;
			size_t len;

			image_alloc(&out, in.width, in.height, in.depth,
				    in.maxval, in.tuple_type);
			image_copy_meta(&out, &in);
			memcpy(out.data, in.data, n * sizeof *in.data);
			augment_rng(&rng, seed, (uint64_t)j, (uint64_t)(k - 1));
			augment_image(ops, &rng, &out);
			/* Without an id the image is known by its index. */
			if (!in.id)
				snprintf(id, sizeof id, "%d", k);
			len = strlen(in.id ? in.id : id) + 32;
			newid = xmalloc(len);
			snprintf(newid, len, "%s~aug%ld", in.id ? in.id : id, j);
			image_set_id(&out, newid);
			free(newid);
			pamio_write(stdout, &out);
			image_free(&out);
		}
		image_free(&in);
	}
	pamio_close(r);
	close_stdout();
	return 0;
}
