/* save-images: write each image of a stream to its own file, named by id. */
#define _GNU_SOURCE /* tdestroy */
#include <errno.h>
#include <getopt.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "idname.h"
#include "outfile.h"
#include "pamio.h"
#include "pngio.h"
#include "tifio.h"
#include "util.h"

static const char usage_text[] =
	"usage: save-images --dir DIR [--format png|tiff|pam] [--suffix S]\n"
	"                   [--overwrite] [FILE]\n"
	"Write each image of a PAM stream (FILE or stdin) to DIR/ID.png (or\n"
	".tif, .pam), ID being the image's id ('/' and control characters as\n"
	"'_', '.' and '..' as image-N, cut to fit 248 bytes), or its index in\n"
	"the stream (1, 2, ...) when it has none; print the file names, one\n"
	"per line; refuse a second image of the same file. A LABEL\n"
	"image becomes a 16-bit PNG (or TIFF) whose values are its labels; a\n"
	"*_LABEL sample becomes DIR/ID.png, its image, and DIR/ID-labels.png,\n"
	"its labels; a multi-output map (FOREGROUND_DISTANCE) one 16-bit PNG\n"
	"per output, DIR/ID.png the foreground and DIR/ID-distance.png.\n"
	"  -d, --dir DIR      folder of the files (made when missing)\n"
	"  -f, --format F     png (default), tiff (8 or 16 bits, as the image)\n"
	"                     or pam\n"
	"  -s, --suffix S     add S (no '/', at most 200 bytes) to each name\n"
	"                     before the extension\n"
	"      --overwrite    replace a file of the same name (never the input)\n"
	"  -h, --help         show this help and exit\n"
	"  -V, --version      show the version and exit\n";

/* The formats of --format, and their file name extensions. */
enum format { PNG, TIFF, PAM };
static const char *const extension[] = {"png", "tif", "pam"};

/* A file written so far, to refuse a second image of the same file. */
struct saved {
	char *path;
	int index;
};

static void
free_saved(void *p)
{
	free(((struct saved *)p)->path);
	free(p);
}

static int
compare_saved(const void *a, const void *b)
{
	return strcmp(((const struct saved *)a)->path,
		      ((const struct saved *)b)->path);
}

/* pamio_write dies on a write error without naming the file: write the
 * image to memory first, then to f. Returns 0, or -1 with errno set. */
static int
write_pam(FILE *f, const struct image *img)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	int status = 0;

	if (!mem)
		die("out of memory");
	pamio_write(mem, img);
	if (fclose(mem) != 0)
		die("out of memory");
	if (fwrite(buf, 1, size, f) != size || fflush(f) != 0)
		status = -1;
	free(buf);
	return status;
}

/* Start writing path, which may replace an existing file only when
 * overwrite is set, to a temporary file beside it renamed when committed,
 * so that a failed write leaves no half file under the final name. */
static struct outfile *
start(const char *path, int overwrite)
{
	struct stat st;

	if (!overwrite && lstat(path, &st) == 0)
		die("%s: exists (--overwrite replaces it)", path);
	return outfile_open_or_die(path);
}

/* Write img to o, the file path, in format fmt. */
static void
write_image(struct outfile *o, const char *path, const struct image *img,
	    enum format fmt)
{
	char err[256];

	if (fmt == PNG) {
		if (pngio_write(outfile_stream(o), img, err, sizeof err) != 0)
			die("%s: %s", path, err);
	} else if (fmt == TIFF) {
		if (tifio_write(outfile_stream(o), img, err, sizeof err) != 0)
			die("%s: %s", path, err);
	} else if (write_pam(outfile_stream(o), img) != 0) {
		die("%s:", path);
	}
}

/* A multi-output map has at most this many outputs (model.h); a *_LABEL
 * sample two parts. */
#define MAX_PARTS 4
#define MAX_TAIL 20

/* A --suffix leaves at least 20 bytes of a name to the id. */
#define MAX_SUFFIX 200

/* Split a *_LABEL sample into its image (GRAYSCALE or RGB) and its
 * LABEL image, both of its maxval. */
static void
split_labels(const struct image *img, struct image *pic, struct image *lab)
{
	int ch = image_channels(img);
	size_t n = (size_t)img->width * img->height;

	image_alloc(pic, img->width, img->height, ch, img->maxval,
		    ch == 3 ? "RGB" : "GRAYSCALE");
	image_alloc(lab, img->width, img->height, 1, img->maxval, "LABEL");
	for (size_t p = 0; p < n; p++) {
		for (int c = 0; c < ch; c++)
			pic->data[p * ch + c] = img->data[p * img->depth + c];
		lab->data[p] = (uint16_t)image_label_at(img, p);
	}
}

/* Split a multi-output map (FOREGROUND_DISTANCE, ...) into one GRAYSCALE
 * probability map per output, with the tails "" for the first and
 * "-NAME" (lower case) for the others. */
static void
split_outputs(const struct image *img, struct image *parts,
	      char tails[][MAX_TAIL])
{
	size_t n = (size_t)img->width * img->height;

	for (int k = 0; k < img->depth; k++) {
		tails[k][0] = '\0';
		if (k > 0) {
			tails[k][0] = '-';
			image_output_name(img->tuple_type, k, tails[k] + 1,
					  MAX_TAIL - 1);
		}
		image_alloc(&parts[k], img->width, img->height, 1, img->maxval,
			    "GRAYSCALE");
		for (size_t p = 0; p < n; p++)
			parts[k].data[p] = img->data[p * img->depth + k];
	}
}

/* Claim the file path for image index of stream r; dies, before it is
 * written, when an earlier image of this run wrote it. */
static void
claim(void **names, const char *path, const struct pamio_reader *r)
{
	struct saved *s = xmalloc(sizeof *s), **found;

	s->path = xstrdup(path);
	s->index = pamio_count(r);
	found = tsearch(s, names, compare_saved);
	if (!found)
		die("out of memory");
	if (*found != s)
		die("%s: image %d: %s already written for image %d", pamio_name(r),
		    pamio_count(r), path, (*found)->index);
}

/* The file dir/BASE SUFFIX TAIL.EXT. */
static char *
file_name(const char *dir, const char *base, const char *suffix,
	  const char *tail, enum format fmt)
{
	size_t n = strlen(dir) + strlen(base) + strlen(suffix) +
		   strlen(tail) + 6;
	char *name = xmalloc(n);

	snprintf(name, n, "%s/%s%s%s.%s", strcmp(dir, "/") == 0 ? "" : dir,
		 base, suffix, tail, extension[fmt]);
	return name;
}

/* Save img: one file, or as PNG or TIFF a *_LABEL sample as two (its
 * image, and its labels under BASE-labels) and a multi-output map as one
 * per output (BASE, BASE-NAME), BASE the name of its id (idname_file,
 * cut so that the longest of its names fits IDNAME_NAME_MAX); each name checked
 * before any is written, and committed together; print their names. */
static void
save(const char *dir, const char *suffix, const struct image *img,
     enum format fmt, int overwrite, void **names,
     const struct pamio_reader *r)
{
	struct image parts[MAX_PARTS] = {{0}};
	char tails[MAX_PARTS][MAX_TAIL] = {""};
	const struct image *what[MAX_PARTS] = {img};
	char *path[MAX_PARTS] = {NULL};
	struct outfile *o[MAX_PARTS];
	size_t longest = 0;
	char *base;
	int n = 1;

	if (fmt != PAM && image_has_labels(img)) {
		n = 2;
		split_labels(img, &parts[0], &parts[1]);
		strcpy(tails[1], "-labels");
	} else if (fmt != PAM && image_output_count(img->tuple_type) > 1) {
		n = img->depth;
		split_outputs(img, parts, tails);
	}
	for (int i = 0; i < n; i++)
		if (strlen(tails[i]) > longest)
			longest = strlen(tails[i]);
	base = idname_file(img->id, pamio_count(r), IDNAME_NAME_MAX -
			   strlen(suffix) - longest - 1 -
			   strlen(extension[fmt]));
	for (int i = 0; i < n; i++) {
		path[i] = file_name(dir, base, suffix, tails[i], fmt);
		claim(names, path[i], r);
		if (n > 1)
			what[i] = &parts[i];
	}
	free(base);
	for (int i = 0; i < n; i++)
		outfile_check(path[i]);
	for (int i = 0; i < n; i++)
		o[i] = start(path[i], overwrite);
	for (int i = 0; i < n; i++)
		write_image(o[i], path[i], what[i], fmt);
	for (int i = 0; i < n; i++)
		outfile_commit_or_die(o[i]);
	for (int i = 0; i < n; i++) {
		printf("%s\n", path[i]);
		free(path[i]);
		image_free(&parts[i]);
	}
}

int
main(int argc, char **argv)
{
	enum { OPT_OVERWRITE = 256 };
	static const struct option longopts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"format", required_argument, NULL, 'f'},
		{"suffix", required_argument, NULL, 's'},
		{"overwrite", no_argument, NULL, OPT_OVERWRITE},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *suffix = "", *path = "-";
	char *dir = NULL;
	enum format fmt = PNG;
	int overwrite = 0, c;
	size_t len;
	struct pamio_reader *r;
	struct image img = {0};
	struct stat st;
	void *names = NULL;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":d:f:s:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'd':
			free(dir);
			dir = xstrdup(optarg);
			break;
		case 'f':
			if (strcmp(optarg, "png") == 0)
				fmt = PNG;
			else if (strcmp(optarg, "tiff") == 0)
				fmt = TIFF;
			else if (strcmp(optarg, "pam") == 0)
				fmt = PAM;
			else
				die_usage("--format: '%s' is not png, tiff or "
					  "pam", optarg);
			break;
		case 's':
			suffix = optarg;
			if (strchr(suffix, '/'))
				die_usage("--suffix: '%s' holds a '/'", suffix);
			if (strlen(suffix) > MAX_SUFFIX)
				die_usage("--suffix: longer than %d bytes",
					  MAX_SUFFIX);
			break;
		case OPT_OVERWRITE:
			overwrite = 1;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (!dir)
		die_usage("--dir is required");
	if (argc - optind > 1)
		die_usage("too many operands");
	if (argc - optind == 1)
		path = argv[optind];
	outfile_input(path);
	/* A missing folder is made (its parent must exist), as mkdir does. */
	if (stat(dir, &st) != 0 &&
	    (errno != ENOENT || mkdir(dir, 0777) != 0 || stat(dir, &st) != 0))
		die("%s:", dir);
	if (!S_ISDIR(st.st_mode))
		die("%s: not a folder", dir);
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = '\0';
	r = pamio_open(path, PAMIO_ANY);
	while (pamio_read(r, &img)) {
		save(dir, suffix, &img, fmt, overwrite, &names, r);
		image_free(&img);
	}
	pamio_close(r);
	tdestroy(names, free_saved);
	free(dir);
	close_stdout();
	return 0;
}
