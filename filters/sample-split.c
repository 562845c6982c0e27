/* sample-split: split a sample stream into several files by ratio or into
 * k folds, reproducibly for a given seed, or by a list of ids. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idlist.h"
#include "outfile.h"
#include "pamio.h"
#include "rng.h"
#include "util.h"

#define MAX_PARTS 1000
#define MAX_WEIGHT 1000000

static const char usage_text[] =
	"usage: sample-split [--seed N] --ratio A:B[:C...] [INPUT] OUT1 OUT2 ...\n"
	"       sample-split [--seed N] --folds K [INPUT] OUT1 ... OUTK\n"
	"       sample-split [--seed N] --folds K --fold I [INPUT] TRAIN TEST\n"
	"       sample-split --ids FILE [INPUT] LISTED OTHERS\n"
	"Split a PAM stream (INPUT, or stdin when INPUT is '-' or absent) into\n"
	"files, every image into exactly one of them, in stream order.\n"
	"  -s, --seed N          shuffle seed (default 0)\n"
	"  -r, --ratio A:B[:C..] one positive integer weight per output\n"
	"  -k, --folds K         K equal folds, one output per fold\n"
	"  -f, --fold I          with --folds: write fold I (1..K) to TEST and\n"
	"                        the other folds to TRAIN\n"
	"  -i, --ids FILE        images whose id is a line of FILE go to\n"
	"                        LISTED, the others to OTHERS\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n";

static int
parse_ratio(const char *s, long *w)
{
	char *copy = xstrdup(s), *p = copy, *colon;
	int n = 0;

	for (;;) {
		colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		if (n == MAX_PARTS)
			die_usage("--ratio: more than %d parts", MAX_PARTS);
		w[n++] = parse_long(p, 1, MAX_WEIGHT, "--ratio");
		if (!colon)
			break;
		p = colon + 1;
	}
	free(copy);
	if (n < 2)
		die_usage("--ratio: '%s' needs at least two parts (A:B)", s);
	return n;
}

/* Largest remainder: part i gets floor(n * w[i] / sum) and the samples
 * left over go one each to the parts with the largest remainders, the
 * first part winning a tie. The counts always add up to n. */
static void
apportion(long n, const long *w, int parts, long *count)
{
	uint64_t sum = 0, *rem = xcalloc((size_t)parts, sizeof *rem);
	long given = 0;

	for (int i = 0; i < parts; i++)
		sum += (uint64_t)w[i];
	for (int i = 0; i < parts; i++) {
		uint64_t q = (uint64_t)n * (uint64_t)w[i];
		count[i] = (long)(q / sum);
		rem[i] = q % sum;
		given += count[i];
	}
	for (; given < n; given++) {
		int best = 0;
		for (int i = 1; i < parts; i++)
			if (rem[i] > rem[best])
				best = i;
		count[best]++;
		rem[best] = 0;
	}
	free(rem);
}

/* A copy of an input that cannot be read twice (a pipe, a device), in a
 * temporary file of $TMPDIR removed as soon as it is created, so that no
 * signal, not even SIGKILL, can leave it behind. Returns the stream to
 * write the copy to; *readp is a path that reads it from its start. */
static FILE *
open_spool(char *readp, size_t readlen)
{
	const char *dir = getenv("TMPDIR");
	const char *name = "/sample-split.XXXXXX";
	sigset_t all, old;
	char *path;
	size_t n;
	FILE *f;
	int fd, saved;

	if (!dir || !*dir)
		dir = "/tmp";
	n = strlen(dir);
	path = xmalloc(n + strlen(name) + 1);
	memcpy(path, dir, n);
	strcpy(path + n, name);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	fd = mkstemp(path);
	saved = errno;
	if (fd >= 0)
		unlink(path);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	if (fd < 0)
		die("%s:", path);
	free(path);
	snprintf(readp, readlen, "/dev/fd/%d", fd);
	f = fdopen(fd, "wb");
	if (!f)
		die("spool file:");
	return f;
}

/* The command line: how the images are shared and where they go. */
struct opts {
	long seed, fold;
	int parts;              /* the groups drawn: ratio parts or folds */
	long weight[MAX_PARTS]; /* each group's weight */
	const char *ids_path;   /* --ids, or NULL */
	const char *input;
	char **outputs;
	int nout;               /* 2 with --fold or --ids, else parts */
};

static void
parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"seed", required_argument, NULL, 's'},
		{"ratio", required_argument, NULL, 'r'},
		{"folds", required_argument, NULL, 'k'},
		{"fold", required_argument, NULL, 'f'},
		{"ids", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *ratio = NULL;
	long folds = 0;
	int c, nargs;

	o->input = "-";
	while ((c = getopt_long(argc, argv, ":s:r:k:f:i:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			o->seed = parse_long(optarg, 0, LONG_MAX, "--seed");
			break;
		case 'r':
			ratio = optarg;
			break;
		case 'k':
			folds = parse_long(optarg, 2, MAX_PARTS, "--folds");
			break;
		case 'f':
			o->fold = parse_long(optarg, 1, MAX_PARTS, "--fold");
			break;
		case 'i':
			o->ids_path = optarg;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (!!ratio + !!folds + !!o->ids_path != 1)
		die_usage("give exactly one of --ratio, --folds and --ids");
	if (o->fold && !folds)
		die_usage("--fold needs --folds");
	if (o->fold > folds && folds)
		die_usage("--fold: %ld is out of range [1, %ld]", o->fold,
			  folds);
	if (ratio) {
		o->parts = parse_ratio(ratio, o->weight);
	} else if (o->ids_path) {
		o->parts = 2;
	} else {
		o->parts = (int)folds;
		for (int i = 0; i < o->parts; i++)
			o->weight[i] = 1;
	}
	o->nout = o->fold ? 2 : o->parts;
	nargs = argc - optind;
	if (nargs == o->nout + 1)
		o->input = argv[optind++];
	else if (nargs != o->nout)
		die_usage("%d output files expected, %d names given", o->nout,
			  nargs);
	o->outputs = argv + optind;
}

/* The first pass: count (and check) the images of the input, copying them
 * to a spool when the input cannot be read twice (*spool NULL otherwise,
 * spool_path its path). *stdin_start is where a seekable stdin starts, or
 * -1. No output exists yet. */
static int
count_images(const char *input, FILE **spool, char *spool_path,
	     size_t spool_len, off_t *stdin_start)
{
	struct pamio_reader *r;
	struct image img = {0};
	struct stat st;
	int seekable, n;

	*stdin_start = -1;
	if (strcmp(input, "-") == 0) {
		if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
			*stdin_start = ftello(stdin);
		seekable = *stdin_start >= 0;
	} else {
		if (stat(input, &st) != 0)
			die("%s:", input);
		seekable = S_ISREG(st.st_mode);
	}
	*spool = seekable ? NULL : open_spool(spool_path, spool_len);
	r = pamio_open(input, PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_read(r, &img)) {
		if (*spool)
			pamio_write(*spool, &img);
		image_free(&img);
	}
	n = pamio_count(r);
	if (n == 0)
		die("%s: no images (nothing written)", pamio_name(r));
	pamio_close(r);
	if (*spool && (fflush(*spool) != 0 || ferror(*spool)))
		die("%s: write error:", spool_path);
	return n;
}

/* The output of each of the n images by ratio or folds: shuffled by the
 * seed, then apportioned to the groups in order; with --fold, 1 for the
 * fold's images and 0 for the others. */
static int *
draw_groups(const struct opts *o, int n)
{
	static long count[MAX_PARTS];
	int *order = xcalloc((size_t)n, sizeof *order);
	int *group = xcalloc((size_t)n, sizeof *group);
	struct rng rng;

	apportion(n, o->weight, o->parts, count);
	for (int i = 0; i < n; i++)
		order[i] = i;
	rng_seed(&rng, (uint64_t)o->seed);
	rng_shuffle(&rng, order, n);
	for (int g = 0, k = 0; g < o->parts; g++)
		for (long j = 0; j < count[g]; j++, k++)
			group[order[k]] = o->fold ? (g == o->fold - 1) : g;
	free(order);
	return group;
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	char spool_path[32];
	FILE *spool;
	int n, *group = NULL;
	struct outfile **out;
	struct pamio_reader *r;
	struct image img = {0};
	off_t stdin_start;
	struct idlist listed;

	prog_init(argc, argv);
	parse_options(argc, argv, &o);
	/* Every input is known before any output is checked, and every
	 * output is checked before anything is read. */
	if (o.ids_path)
		outfile_input(o.ids_path);
	outfile_input(o.input);
	for (int i = 0; i < o.nout; i++)
		outfile_check(o.outputs[i]);
	if (strcmp(o.input, "-") == 0 && isatty(STDIN_FILENO))
		die_usage("stdin is a terminal: give INPUT or redirect a "
			  "stream (%d output files named)", o.nout);
	if (o.ids_path)
		idlist_read(o.ids_path, &listed);

	/* Two passes: count (and check) the images, then copy each to its
	 * output. Only one image is in memory at a time. No output is
	 * created before the first pass has read the whole input. */
	n = count_images(o.input, &spool, spool_path, sizeof spool_path,
			 &stdin_start);
	if (!o.ids_path)
		group = draw_groups(&o, n);
	if (stdin_start >= 0) {
		clearerr(stdin);
		if (fseeko(stdin, stdin_start, SEEK_SET) != 0)
			die("stdin:");
	}
	out = xcalloc((size_t)o.nout, sizeof *out);
	for (int i = 0; i < o.nout; i++)
		out[i] = outfile_open_or_die(o.outputs[i]);
	r = pamio_open(spool ? spool_path : o.input,
		       PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_count(r) < n && pamio_read(r, &img)) {
		int g = o.ids_path ? !idlist_has(&listed, img.id)
				   : group[pamio_count(r) - 1];

		pamio_write(outfile_stream(out[g]), &img);
		image_free(&img);
	}
	if (pamio_count(r) != n)
		die("%s: changed while being read", pamio_name(r));
	pamio_close(r);
	if (spool)
		fclose(spool);

	for (int i = 0; i < o.nout; i++)
		outfile_commit_or_die(out[i]);
	if (o.ids_path)
		idlist_free(&listed);
	free(out);
	free(group);
	return 0;
}
