/* stream-join: the round-robin shards of stream-shard(1) back into one
 * stream in the original order, after checking that their lengths are
 * those of round-robin shards. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "outfile.h"
#include "pamio.h"
#include "util.h"

/* Most shards: stream-shard's limit, and the streams kept open. */
#define MAX_SHARDS 1000

#define ANY_IMAGE (PAMIO_IMAGE | PAMIO_SAMPLE | PAMIO_LABEL | PAMIO_OUTPUTS)

static const char usage_text[] =
	"usage: stream-join [--output FILE] SHARD...\n"
	"Join the round-robin shards SHARD... (stream-shard --shards N --index 0,\n"
	"1, ... N-1, in that order; '-' is stdin) into one PAM stream on stdout:\n"
	"image 0 of each shard in turn, then image 1 of each, and so on. Their\n"
	"lengths must be those of round-robin shards of one stream; when every\n"
	"shard is a regular file they are checked before anything is written.\n"
	"  -o, --output FILE   write the stream to FILE, replaced only when the\n"
	"                      join succeeds\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n";

static int nshards;
static const char **names;     /* as given, for pamio_open */
static struct pamio_reader **rd;

/* 1 when path ("-": stdin) is a regular file, which can be read twice. */
static int
is_regular(const char *path)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		return fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *
plural(long n)
{
	return n == 1 ? "" : "s";
}

/* Die, naming the shards, unless shard lengths len[0..nshards-1] (those
 * of shards already read to their end; the others at least that long
 * when exact is 0) are those of round-robin shards: each as long as the
 * one before it or one image shorter, the last at most one shorter than
 * the first. e is the first of the shortest (length len[e]); j the first
 * shard that breaks the rule after it (longer than shard e) or before it
 * (longer than len[e] + 1). */
static void
check_lengths(const long *len, int exact)
{
	const char *more = exact ? "" : "at least ";
	int e = 0;

	for (int i = 1; i < nshards; i++)
		if (len[i] < len[e])
			e = i;
	for (int j = e + 1; j < nshards; j++)
		if (len[j] > len[e])
			die("%s: %s%ld image%s, more than the earlier shard %s (%ld): "
			    "not round-robin shards in order",
			    pamio_name(rd[j]), more, len[j], plural(len[j]),
			    pamio_name(rd[e]), len[e]);
	for (int j = 0; j < e; j++)
		if (len[j] > len[e] + 1)
			die("%s: %ld image%s, %s%ld fewer than the earlier shard %s "
			    "(%s%ld): round-robin shards differ by at most one",
			    pamio_name(rd[e]), len[e], plural(len[e]), more,
			    len[j] - len[e], pamio_name(rd[j]), more, len[j]);
}

/* Copy the shards round-robin to f: image r of shard 0, 1, ... until the
 * first shard that has no image r; then every shard after it must have
 * ended too, and every shard before it must end after image r. */
static void
join(FILE *f, long *len)
{
	struct image img = {0};
	int e = -1;

	for (long round = 0; e < 0; round++) {
		for (int i = 0; i < nshards; i++) {
			if (pamio_read(rd[i], &img)) {
				pamio_write(f, &img);
				image_free(&img);
			} else if (e < 0) {
				e = i;
			}
			len[i] = pamio_count(rd[i]);
			if (e >= 0 && len[i] > len[e])
				check_lengths(len, 0);
		}
	}
	/* the shards before the first to end: one image more at most */
	for (int j = 0; j < e; j++) {
		if (pamio_read(rd[j], &img)) {
			image_free(&img);
			len[j] = pamio_count(rd[j]);
			check_lengths(len, 0);
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	struct outfile *out = NULL;
	struct image img = {0};
	long *counted = NULL, *len;
	off_t stdin_start = -1;
	int c, stdin_seen = 0, regular = 1;
	FILE *f = stdout;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	nshards = argc - optind;
	if (nshards < 1)
		die_usage("no SHARD given");
	if (nshards > MAX_SHARDS)
		die_usage("%d shards, at most %d", nshards, MAX_SHARDS);
	names = (const char **)argv + optind;
	for (int i = 0; i < nshards; i++) {
		if (strcmp(names[i], "-") == 0 && stdin_seen++)
			die_usage("'-' (stdin) given twice");
		outfile_input(names[i]);
	}
	if (output)
		outfile_check(output);

	/* Regular files are read twice: counted (and checked image by
	 * image), then joined, so that shards of the wrong lengths or a bad
	 * image stop the run before anything is written. Pipes are joined
	 * as they come, their lengths checked on the way. */
	for (int i = 0; i < nshards; i++)
		regular = regular && is_regular(names[i]);
	rd = xcalloc((size_t)nshards, sizeof *rd);
	len = xcalloc((size_t)nshards, sizeof *len);
	if (regular) {
		if (stdin_seen)
			stdin_start = ftello(stdin);
		counted = xcalloc((size_t)nshards, sizeof *counted);
		for (int i = 0; i < nshards; i++) {
			rd[i] = pamio_open(names[i], ANY_IMAGE);
			while (pamio_read(rd[i], &img))
				image_free(&img);
			counted[i] = pamio_count(rd[i]);
		}
		check_lengths(counted, 1);
		for (int i = 0; i < nshards; i++)
			pamio_close(rd[i]);
		if (stdin_seen) {
			clearerr(stdin);
			if (stdin_start < 0 ||
			    fseeko(stdin, stdin_start, SEEK_SET) != 0)
				die("stdin:");
		}
	}

	if (output) {
		out = outfile_open_or_die(output);
		f = outfile_stream(out);
	}
	for (int i = 0; i < nshards; i++)
		rd[i] = pamio_open(names[i], ANY_IMAGE);
	join(f, len);
	for (int i = 0; i < nshards; i++) {
		if (counted && len[i] != counted[i])
			die("%s: changed while being read", pamio_name(rd[i]));
		pamio_close(rd[i]);
	}
	if (out)
		outfile_commit_or_die(out);
	close_stdout();
	free(counted);
	free(len);
	free(rd);
	return 0;
}
