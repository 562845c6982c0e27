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

/* Most shards: a worker count, and the files that --output keeps open. */
#define MAX_SHARDS 1000

/* Every kind of image: a shard carries whatever the stream holds. */
#define ANY_IMAGE (PAMIO_IMAGE | PAMIO_SAMPLE | PAMIO_LABEL | PAMIO_OUTPUTS)

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

int
main(int argc, char **argv)
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
	const char *pattern = NULL, *ids_path = NULL, *path = "-";
	long shards = 0, index = -1;
	int c, by_pixels = 0;
	double *pixels = NULL; /* of each shard so far, with --pixels */
	struct outfile **out = NULL;
	struct pamio_reader *r;
	struct image img = {0};
	struct idlist listed;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":n:k:o:i:phV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'n':
			shards = parse_long(optarg, 1, MAX_SHARDS, "--shards");
			break;
		case 'k':
			index = parse_long(optarg, 0, MAX_SHARDS - 1, "--index");
			break;
		case 'o':
			pattern = optarg;
			break;
		case 'i':
			ids_path = optarg;
			break;
		case 'p':
			by_pixels = 1;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (ids_path) {
		if (shards || index >= 0 || pattern || by_pixels)
			die_usage("--ids excludes --shards, --index, --pixels "
				  "and --output");
	} else {
		if (!shards)
			die_usage("give --shards N with --index K or --output "
				  "PATTERN, or --ids LIST");
		if ((index >= 0) == !!pattern)
			die_usage("give exactly one of --index and --output");
		if (index >= shards)
			die_usage("--index: %ld is out of range [0, %ld]",
				  index, shards - 1);
		if (pattern)
			check_pattern(pattern);
	}
	if (argc - optind > 1)
		die_usage("too many operands");
	if (argc - optind == 1)
		path = argv[optind];

	if (ids_path)
		outfile_input(ids_path);
	outfile_input(path);
	if (pattern) {
		out = xcalloc((size_t)shards, sizeof *out);
		for (int k = 0; k < shards; k++) {
			char *name = shard_name(pattern, k);
			outfile_check(name);
			free(name);
		}
	}
	if (ids_path)
		idlist_read(ids_path, &listed);
	for (int k = 0; pattern && k < shards; k++) {
		char *name = shard_name(pattern, k);
		out[k] = outfile_open_or_die(name);
		free(name);
	}

	if (by_pixels)
		pixels = xcalloc((size_t)shards, sizeof *pixels);
	r = pamio_open(path, ANY_IMAGE);
	while (pamio_read(r, &img)) {
		long i = pamio_count(r) - 1, k = shards ? i % shards : 0;
		if (ids_path && !img.id)
			die("%s: image %ld: no id (--ids selects images by "
			    "id)", pamio_name(r), i + 1);
		if (by_pixels) {
			k = 0;
			for (long j = 1; j < shards; j++)
				if (pixels[j] < pixels[k])
					k = j;
			pixels[k] += (double)img.width * img.height;
		}
		if (pattern)
			pamio_write(outfile_stream(out[k]), &img);
		else if (ids_path ? idlist_has(&listed, img.id) : k == index)
			pamio_write(stdout, &img);
		image_free(&img);
	}
	free(pixels);
	pamio_close(r);
	if (ids_path)
		idlist_free(&listed);
	if (pattern) {
		for (int k = 0; k < shards; k++)
			outfile_commit_or_die(out[k]);
		free(out);
	}
	close_stdout();
	return 0;
}
