/* stream-shard: one worker's share of a stream (image i when i mod N is K,
 * or the images whose id is listed), or all N round-robin shards at once
 * into files; stream-join(1) puts the round-robin shards back. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idlist.h"
#include "outfile.h"
#include "pamio.h"
#include "util.h"

static const char usage_text[] =
	"usage: stream-shard --shards N [--pixels] --index K [FILE]\n"
	"       stream-shard --shards N [--pixels] --output PATTERN [FILE]\n"
	"       stream-shard --ids LIST [FILE]\n"
	"Pass one worker's share of the PAM stream FILE (default stdin) to\n"
	"stdout, image by image, in stream order: round-robin, image i (from 0)\n"
	"when i mod N is K; or the images whose id is a line of LIST.\n"
	"stream-join puts the N round-robin shards back in order.\n"
	"  -n, --shards N          the number of shards, 1 to 1000\n"
	"  -k, --index K           the shard to pass, 0 to N-1\n"
	"  -p, --pixels            deal each image to the shard of the fewest\n"
	"                          pixels so far instead (join: stream-join\n"
	"                          --order)\n"
	"  -o, --output PATTERN    write every shard in one pass, shard K to\n"
	"                          PATTERN with %d (or %0Wd) replaced by K\n"
	"  -i, --ids LIST          pass the images whose id is listed\n"
	"  -h, --help              show this help and exit\n"
	"  -V, --version           show the version and exit\n";

/* The length of the conversion "%d" or "%0Wd" (W one digit 1 to 9) at s
 * (which starts with '%'), 0 when it is neither. */
static size_t
conversion_length(const char *s)
{
	if (s[1] == 'd')
		return 2;
	if (s[1] == '0' && s[2] >= '1' && s[2] <= '9' && s[3] == 'd')
		return 4;
	return 0;
}

/* Die (usage) unless pattern has exactly one conversion %d or %0Wd, any
 * other '%' being doubled ("%%"). */
static void
check_pattern(const char *pattern)
{
	int conversions = 0;

	for (const char *p = pattern; *p; p++) {
		size_t len;
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		len = conversion_length(p);
		if (len == 0)
			die_usage("--output: '%s': a '%%' must start %%d, "
				  "%%0Wd or %%%%", pattern);
		conversions++;
		p += len - 1;
	}
	if (conversions != 1)
		die_usage("--output: '%s' needs exactly one %%d (or %%0Wd) "
			  "for the shard's index", pattern);
}

/* The file name of shard k: pattern (checked) with its conversion
 * replaced by k and "%%" by '%'; the caller frees it. */
static char *
shard_name(const char *pattern, int k)
{
	char *name = xmalloc(strlen(pattern) + 16), *q = name;

	for (const char *p = pattern; *p; p++) {
		size_t len;
		if (*p != '%') {
			*q++ = *p;
		} else if (p[1] == '%') {
			*q++ = '%';
			p++;
		} else {
			len = conversion_length(p);
			q += sprintf(q, "%0*d", len == 4 ? p[2] - '0' : 0, k);
			p += len - 1;
		}
	}
	*q = '\0';
	return name;
}

static struct {
	long shards, index;      /* 0 and -1 when not given */
	int by_pixels;
	const char *pattern, *ids, *input;
} opt = { .index = -1, .input = "-" };

static double *pixels;          /* of each shard so far, with --pixels */

/* The shard of image i (from 0): round-robin, or with --pixels the first
 * shard of the fewest pixels so far, which then counts img's. */
static long
shard_of(long i, const struct image *img)
{
	long k = 0;

	if (!opt.by_pixels)
		return i % opt.shards;
	for (long j = 1; j < opt.shards; j++)
		if (pixels[j] < pixels[k])
			k = j;
	pixels[k] += (double)img->width * img->height;
	return k;
}

/* Parse the options and operands into opt; dies on a usage error. */
static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"shards", required_argument, NULL, 'n'},
		{"index", required_argument, NULL, 'k'},
		{"output", required_argument, NULL, 'o'},
		{"ids", required_argument, NULL, 'i'},
		{"pixels", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, ":n:k:o:i:phV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'n':
			opt.shards = parse_long(optarg, 1, PAMIO_MAX_SHARDS,
						"--shards");
			break;
		case 'k':
			opt.index = parse_long(optarg, 0, PAMIO_MAX_SHARDS - 1,
					       "--index");
			break;
		case 'o':
			opt.pattern = optarg;
			break;
		case 'i':
			opt.ids = optarg;
			break;
		case 'p':
			opt.by_pixels = 1;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (opt.ids) {
		if (opt.shards || opt.index >= 0 || opt.pattern ||
		    opt.by_pixels)
			die_usage("--ids excludes --shards, --index, --pixels "
				  "and --output");
	} else {
		if (!opt.shards)
			die_usage("give --shards N with --index K or --output "
				  "PATTERN, or --ids LIST");
		if ((opt.index >= 0) == !!opt.pattern)
			die_usage("give exactly one of --index and --output");
		if (opt.index >= opt.shards)
			die_usage("--index: %ld is out of range [0, %ld]",
				  opt.index, opt.shards - 1);
		if (opt.pattern)
			check_pattern(opt.pattern);
	}
	if (argc - optind > 1)
		die_usage("too many operands");
	if (argc - optind == 1)
		opt.input = argv[optind];
}

int
main(int argc, char **argv)
{
	struct outfile **out = NULL;
	struct pamio_reader *r;
	struct image img = {0};
	struct idlist listed;
	long n;

	prog_init(argc, argv);
	parse_options(argc, argv);
	n = opt.shards;
	if (opt.ids)
		outfile_input(opt.ids);
	outfile_input(opt.input);
	for (int k = 0; opt.pattern && k < n; k++) {
		char *name = shard_name(opt.pattern, k);
		outfile_check(name);
		free(name);
	}
	if (opt.ids)
		idlist_read(opt.ids, &listed);
	if (opt.pattern)
		out = xcalloc((size_t)n, sizeof *out);
	for (int k = 0; opt.pattern && k < n; k++) {
		char *name = shard_name(opt.pattern, k);
		out[k] = outfile_open_or_die(name);
		free(name);
	}
	if (opt.by_pixels)
		pixels = xcalloc((size_t)n, sizeof *pixels);

	r = pamio_open(opt.input, PAMIO_ANY);
	while (pamio_read(r, &img)) {
		long i = pamio_count(r) - 1;
		if (opt.ids && !img.id)
			die("%s: image %ld: no id (--ids selects images by "
			    "id)", pamio_name(r), i + 1);
		if (opt.ids) {
			if (idlist_has(&listed, img.id))
				pamio_write(stdout, &img);
		} else if (opt.pattern) {
			pamio_write(outfile_stream(out[shard_of(i, &img)]),
				    &img);
		} else if (shard_of(i, &img) == opt.index) {
			pamio_write(stdout, &img);
		}
		image_free(&img);
	}
	pamio_close(r);
	if (opt.ids)
		idlist_free(&listed);
	for (int k = 0; opt.pattern && k < n; k++)
		outfile_commit_or_die(out[k]);
	free(out);
	free(pixels);
	if (!opt.pattern) /* stdout is not an output of --output */
		close_stdout();
	return 0;
}
