/* stream-join: the round-robin shards of stream-shard(1) back into one
 * stream in the original order, after checking that their lengths are
 * those of round-robin shards; or any shards in the order of the ids of
 * the original stream. */
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

static const char usage_text[] =
	"usage: stream-join [--output FILE] [--order STREAM] SHARD...\n"
	"Join the round-robin shards SHARD... (stream-shard --shards N --index 0,\n"
	"1, ... N-1, in that order; '-' is stdin) into one PAM stream on stdout:\n"
	"image 0 of each shard in turn, then image 1 of each, and so on. Their\n"
	"lengths must be those of round-robin shards of one stream; when every\n"
	"shard is a regular file they are checked before anything is written.\n"
	"  -o, --output FILE   write the stream to FILE, replaced only when the\n"
	"                      join succeeds\n"
	"  -r, --order STREAM  join shards cut in any order-keeping way\n"
	"                      (stream-shard --pixels or --ids) by id, in the\n"
	"                      order of the ids of STREAM, the original\n"
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

/* The id of img, read from shard or stream r; dies when it has none. */
static const char *
id_of(const struct image *img, const struct pamio_reader *r)
{
	if (!img->id)
		die("%s: image %d: no id (--order joins by id)", pamio_name(r),
		    pamio_count(r));
	return img->id;
}

/* Copy the shards' images to f (nothing written when f is NULL) in the
 * order of the ids of the stream order: for each of its images, the next
 * image of the shard whose next image has its id. Every shard must keep
 * the order of the stream and all together hold each of its images once. */
static void
join_by_ids(FILE *f, const char *order)
{
	struct pamio_reader *o = pamio_open(order, PAMIO_ANY);
	struct image *head = xcalloc((size_t)nshards, sizeof *head), ref = {0};
	int *has = xcalloc((size_t)nshards, sizeof *has), i;

	for (i = 0; i < nshards; i++)
		if ((has[i] = pamio_read(rd[i], &head[i])))
			id_of(&head[i], rd[i]);
	while (pamio_read(o, &ref)) {
		const char *id = id_of(&ref, o);
		for (i = 0; i < nshards; i++)
			if (has[i] && strcmp(head[i].id, id) == 0)
				break;
		if (i == nshards)
			die("%s: image %d: id '%s' is the next image of no "
			    "shard", pamio_name(o), pamio_count(o), id);
		if (f)
			pamio_write(f, &head[i]);
		image_free(&head[i]);
		if ((has[i] = pamio_read(rd[i], &head[i])))
			id_of(&head[i], rd[i]);
		image_free(&ref);
	}
	for (i = 0; i < nshards; i++)
		if (has[i])
			die("%s: image %d: id '%s' is left over (not in %s, or "
			    "out of its order)", pamio_name(rd[i]),
			    pamio_count(rd[i]), head[i].id, pamio_name(o));
	pamio_close(o);
	free(head);
	free(has);
}

/* Put stdin (a regular file, when it is read) back at offset start. */
static void
rewind_stdin(off_t start)
{
	clearerr(stdin);
	if (start >= 0 && fseeko(stdin, start, SEEK_SET) != 0)
		die("stdin:");
}

/* The first pass over regular files: count and check every shard's
 * images into counted[], then check their lengths or, with order, join
 * them by id without writing; stdin is put back where it was. */
static void
first_pass(const char *order, long *counted)
{
	struct image img = {0};
	off_t stdin_start = ftello(stdin);

	for (int i = 0; i < nshards; i++) {
		rd[i] = pamio_open(names[i], PAMIO_ANY);
		while (pamio_read(rd[i], &img))
			image_free(&img);
		counted[i] = pamio_count(rd[i]);
	}
	if (!order)
		check_lengths(counted, 1); /* names the shards by rd[] */
	for (int i = 0; i < nshards; i++)
		pamio_close(rd[i]);
	if (order) {
		rewind_stdin(stdin_start);
		for (int i = 0; i < nshards; i++)
			rd[i] = pamio_open(names[i], PAMIO_ANY);
		join_by_ids(NULL, order);
		for (int i = 0; i < nshards; i++)
			pamio_close(rd[i]);
	}
	rewind_stdin(stdin_start);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"order", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *output = NULL, *order = NULL;
	struct outfile *out = NULL;
	long *counted = NULL, *len;
	int c, stdin_seen = 0, regular = 1;
	FILE *f = stdout;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":o:r:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'r':
			order = optarg;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	nshards = argc - optind;
	if (nshards < 1)
		die_usage("no SHARD given");
	if (nshards > PAMIO_MAX_SHARDS)
		die_usage("%d shards, at most %d", nshards, PAMIO_MAX_SHARDS);
	names = (const char **)argv + optind;
	for (int i = 0; i <= nshards; i++) {
		const char *path = i < nshards ? names[i] : order;
		if (!path)
			continue;
		if (strcmp(path, "-") == 0 && stdin_seen++)
			die_usage("'-' (stdin) given twice");
		outfile_input(path);
		regular = regular && is_regular(path);
	}
	if (output)
		outfile_check(output);

	/* Regular files are read twice: checked (every image, the lengths
	 * or the ids) before anything is written, then joined. Pipes are
	 * joined as they come and checked on the way. */
	rd = xcalloc((size_t)nshards, sizeof *rd);
	len = xcalloc((size_t)nshards, sizeof *len);
	if (regular) {
		counted = xcalloc((size_t)nshards, sizeof *counted);
		first_pass(order, counted);
	}
	if (output) {
		out = outfile_open_or_die(output);
		f = outfile_stream(out);
	}
	for (int i = 0; i < nshards; i++)
		rd[i] = pamio_open(names[i], PAMIO_ANY);
	if (order)
		join_by_ids(f, order);
	else
		join(f, len);
	for (int i = 0; i < nshards; i++) {
		if (counted && pamio_count(rd[i]) != counted[i])
			die("%s: changed while being read", pamio_name(rd[i]));
		pamio_close(rd[i]);
	}
	if (out)
		outfile_commit_or_die(out);
	else
		close_stdout();
	free(counted);
	free(len);
	free(rd);
	return 0;
}
