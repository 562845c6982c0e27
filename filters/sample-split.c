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

int
main(int argc, char **argv)
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
	static long weight[MAX_PARTS], count[MAX_PARTS];
	const char *ratio = NULL, *ids_path = NULL, *input = "-";
	char spool_path[32];
	FILE *spool = NULL;
	long seed = 0, folds = 0, fold = 0;
	int parts, nout, nargs, c, n, seekable, *order, *group;
	struct outfile **out;
	struct pamio_reader *r;
	struct image img;
	off_t stdin_start = -1;
	struct rng rng;
	struct idlist listed;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":s:r:k:f:i:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			seed = parse_long(optarg, 0, LONG_MAX, "--seed");
			break;
		case 'r':
			ratio = optarg;
			break;
		case 'k':
			folds = parse_long(optarg, 2, MAX_PARTS, "--folds");
			break;
		case 'f':
			fold = parse_long(optarg, 1, MAX_PARTS, "--fold");
			break;
		case 'i':
			ids_path = optarg;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (!!ratio + !!folds + !!ids_path != 1)
		die_usage("give exactly one of --ratio, --folds and --ids");
	if (fold && !folds)
		die_usage("--fold needs --folds");
	if (fold > folds && folds)
		die_usage("--fold: %ld is out of range [1, %ld]", fold, folds);
	if (ratio) {
		parts = parse_ratio(ratio, weight);
	} else if (ids_path) {
		parts = 2;
	} else {
		parts = (int)folds;
		for (int i = 0; i < parts; i++)
			weight[i] = 1;
	}
	nout = fold ? 2 : parts;
	nargs = argc - optind;
	if (nargs == nout + 1)
		input = argv[optind++];
	else if (nargs != nout)
		die_usage("%d output files expected, %d names given", nout,
			  nargs);
	/* Every input is known before any output is checked, and every
	 * output is checked before anything is read. */
	if (ids_path)
		outfile_input(ids_path);
	outfile_input(input);
	for (int i = 0; i < nout; i++)
		outfile_check(argv[optind + i]);
	if (strcmp(input, "-") == 0 && isatty(STDIN_FILENO))
		die_usage("stdin is a terminal: give INPUT or redirect a "
			  "stream (%d output files named)", nout);

	if (ids_path)
		idlist_read(ids_path, &listed);

	/* Two passes: count (and check) the images, then copy each to its
	 * output. Only one image is in memory at a time. An input that
	 * cannot be read twice is copied to a temporary file during the
	 * first pass, and the second pass reads that copy. No output is
	 * created before the first pass has read the whole input. */
	if (strcmp(input, "-") == 0) {
		struct stat st;
		if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
			stdin_start = ftello(stdin);
		seekable = stdin_start >= 0;
	} else {
		struct stat st;
		if (stat(input, &st) != 0)
			die("%s:", input);
		seekable = S_ISREG(st.st_mode);
	}
	if (!seekable)
		spool = open_spool(spool_path, sizeof spool_path);

	memset(&img, 0, sizeof img);
	r = pamio_open(input, PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_read(r, &img)) {
		if (spool)
			pamio_write(spool, &img);
		image_free(&img);
	}
	n = pamio_count(r);
	if (n == 0)
		die("%s: no images (nothing written)", pamio_name(r));
	pamio_close(r);
	if (spool && (fflush(spool) != 0 || ferror(spool)))
		die("%s: write error:", spool_path);

	order = xcalloc((size_t)n, sizeof *order);
	group = xcalloc((size_t)n, sizeof *group);
	if (!ids_path) {
		apportion(n, weight, parts, count);
		for (int i = 0; i < n; i++)
			order[i] = i;
		rng_seed(&rng, (uint64_t)seed);
		rng_shuffle(&rng, order, n);
		for (int g = 0, k = 0; g < parts; g++)
			for (long j = 0; j < count[g]; j++, k++)
				group[order[k]] = fold ? (g == fold - 1) : g;
	}

	if (stdin_start >= 0) {
		clearerr(stdin);
		if (fseeko(stdin, stdin_start, SEEK_SET) != 0)
			die("stdin:");
	}
	out = xcalloc((size_t)nout, sizeof *out);
	for (int i = 0; i < nout; i++)
		out[i] = outfile_open_or_die(argv[optind + i]);
	r = pamio_open(spool ? spool_path : input, PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_count(r) < n && pamio_read(r, &img)) {
		int g = group[pamio_count(r) - 1];
		if (ids_path)
			g = !idlist_has(&listed, img.id);
		pamio_write(outfile_stream(out[g]), &img);
		image_free(&img);
	}
	if (pamio_count(r) != n)
		die("%s: changed while being read", pamio_name(r));
	pamio_close(r);
	if (spool)
		fclose(spool);

	for (int i = 0; i < nout; i++)
		outfile_commit_or_die(out[i]);
	if (ids_path)
		idlist_free(&listed);
	free(out);
	free(order);
	free(group);
	return 0;
}
