/* ingest-resize: turn a Data Science Bowl folder, image files or a Netpbm
 * stream into a PAM stream of samples or images, optionally resized. */
#define _GNU_SOURCE /* tdestroy */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "idname.h"
#include "imgfile.h"
#include "outfile.h"
#include "pamio.h"
#include "pngio.h"
#include "progress.h"
#include "resample.h"
#include "util.h"

static const char usage_text[] =
	"usage: ingest-resize [options] DATASET_DIR...\n"
	"       ingest-resize [options] [--masks DIR] [FILE...]\n"
	"Turn a Data Science Bowl folder (ID/images/ID.png and ID/masks/*.png,\n"
	"or .tif, .tiff, .pgm, .pbm, .pam, .jpg, .jpeg) into a PAM stream of\n"
	"samples (RGB_LABEL: the K-th mask file by name is object K), or image\n"
	"files (PNG, TIFF, JPEG or Netpbm, told by their first bytes; each page\n"
	"of a TIFF an image; stdin when FILE is '-' or absent: Netpbm) into a\n"
	"PAM image stream. Each id is the file's (or folder's) name without\n"
	"extension; two inputs of the same id are refused before any is read.\n"
	"  -s, --size WxH      resize every image to W x H (default: keep);\n"
	"                      labels by nearest neighbour\n"
	"  -S, --scale F       resample every image by the factor F, keeping\n"
	"                      its aspect: W x H becomes round(W F) x round(H F),\n"
	"                      at least 1 (labels by nearest neighbour)\n"
	"  -c, --channels N    1 (gray, Rec. 601 luminance) or 3 (RGB, the\n"
	"                      default)\n"
	"  -m, --masks DIR     join the truth DIR/ID.png (or .tif, .tiff, .pgm,\n"
	"                      .pbm, .pam, .jpg, .jpeg)\n"
	"                      to each image: *_LABEL samples from a label\n"
	"                      image, *_MASK samples from a binary mask\n"
	"  -k, --mask-kind K   how --masks files are read: auto (the default:\n"
	"                      a grey file of several nonzero values, or of\n"
	"                      one value at most half its maxval, is a label\n"
	"                      image), binary or labels\n"
	"      --semantic      write *_MASK samples (the union of the objects)\n"
	"                      instead of *_LABEL samples\n"
	"  -q, --quiet         no progress line on a terminal\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n";

enum { KIND_AUTO, KIND_BINARY, KIND_LABELS };

static struct {
	int width, height; /* 0: keep the native size */
	double scale;      /* 0: no --scale */
	int channels;
	const char *masks;
	int mask_kind;     /* KIND_*: how the --masks files are read */
	int semantic;      /* 1: *_MASK samples, never *_LABEL */
	int quiet;
} opt = {0, 0, 0, 3, NULL, KIND_AUTO, 0, 0};

static struct progress progress;
static int done, total;

static void
show_progress(void)
{
	done++;
	if (total)
		progress_draw(&progress, done == total,
			      "ingest-resize: %d/%d images", done, total);
	else
		progress_draw(&progress, 0, "ingest-resize: %d images", done);
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 when nothing is at path; a path that stat cannot follow for another
 * reason (a symbolic link loop, no permission) is there, for its reader
 * to report. */
static int
missing(const char *path)
{
	struct stat st;

	return stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

static char *
join(const char *a, const char *b)
{
	size_t la = strlen(a), n = la + strlen(b) + 2;
	char *s = xmalloc(n);

	snprintf(s, n, "%s%s%s", a, la && a[la - 1] == '/' ? "" : "/", b);
	return s;
}

/* The extensions of the image files found by name (a data set folder's
 * images/ID.EXT and masks, --masks DIR/ID.EXT), in the order tried. */
static const char *const exts[] = {".png", ".tif", ".tiff", ".pgm", ".pbm",
				   ".pam", ".jpg", ".jpeg"};
#define NEXTS (sizeof exts / sizeof exts[0])
#define OTHER_EXTS "(or .tif, .tiff, .pgm, .pbm, .pam, .jpg, .jpeg)"

static int
has_image_ext(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < NEXTS; i++) {
		size_t el = strlen(exts[i]);
		if (len > el && strcmp(name + len - el, exts[i]) == 0)
			return 1;
	}
	return 0;
}

/* dir/NAME.EXT for the first extension of exts that is there, or NULL. */
static char *
find_by_name(const char *dir, const char *name)
{
	for (size_t i = 0; i < NEXTS; i++) {
		size_t n = strlen(dir) + strlen(name) + strlen(exts[i]) + 2;
		char *path = xmalloc(n);
		snprintf(path, n, "%s/%s%s", dir, name, exts[i]);
		if (!missing(path))
			return path;
		free(path);
	}
	return NULL;
}

/* An id given from a name (of a file operand, a TIFF page, a sample
 * folder), as the stream carries it, and the input it came from. */
struct given {
	char *id;
	char *from;
};

static void *given_ids;

static int
cmp_given(const void *a, const void *b)
{
	return strcmp(((const struct given *)a)->id,
		      ((const struct given *)b)->id);
}

static void
free_given(void *p)
{
	free(((struct given *)p)->id);
	free(((struct given *)p)->from);
	free(p);
}

/* Record that the input from gives the id id; dies naming both inputs
 * when an earlier one gave the same id (after the stream's cut). */
static void
give_id(const char *id, const char *from)
{
	struct given *g = xmalloc(sizeof *g), **found;

	g->id = pamio_stream_id(id);
	g->from = xstrdup(from);
	found = tsearch(g, &given_ids, cmp_given);
	if (!found)
		die("out of memory");
	if (*found != g)
		die("%s and %s give the same id '%s'", (*found)->from, from,
		    g->id);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (no hidden ones; only those ending in one of exts
 * when images is set), sorted by strcmp. Dies when the folder cannot be
 * read. */
static char **
list_dir(const char *dir, int images, int *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	int n = 0, cap = 0;

	if (!d)
		die("%s:", dir);
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (images && !has_image_ext(e->d_name)))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xreallocarray(names, (size_t)cap, sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
		errno = 0;
	}
	if (errno)
		die("%s:", dir);
	closedir(d);
	if (n)
		qsort(names, (size_t)n, sizeof *names, cmp_names);
	*count = n;
	return names;
}

static void
free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Read the one image of the file at path (any format), a regular file
 * (never a FIFO). */
static void
read_image(const char *path, struct image *img)
{
	char err[300];

	outfile_input(path);
	if (imgfile_read_one(path, img, err, sizeof err) != 0)
		die("%s: %s", path, err);
}

/* The truth of pixel p of src (0 when src has none): its label, or 1 for
 * the foreground of a *_MASK channel. */
static unsigned
own_truth(const struct image *src, size_t p)
{
	if (image_has_labels(src))
		return image_label_at(src, p);
	return image_has_mask(src) ? (unsigned)image_mask_at(src, p) : 0;
}

/* The largest label of truth (or of src's own labels when truth is NULL). */
static unsigned
largest_label(const struct image *src, const uint16_t *truth)
{
	size_t n = (size_t)src->width * src->height;
	unsigned top = 0;

	for (size_t p = 0; p < n; p++) {
		unsigned t = truth ? truth[p] : own_truth(src, p);
		if (t > top)
			top = t;
	}
	return top;
}

/* side resampled by --scale: round(side * scale), a half rounded up, at
 * least 1. The relative slack of 1e-9 rounds a product that is a half in
 * decimals up as written (10 * 0.35 = 3.5 gives 4), whatever the binary
 * error of the factor; side and factor are at most 32768, so the product
 * fits an int. */
static int
scaled_side(int side)
{
	double x = side * opt.scale;
	double r = floor(x + 0.5 + x * 1e-9);

	return r < 1 ? 1 : (int)r;
}

/* Build the output image from src (any of our tuple types), its truth
 * (truth, one value per pixel: labels when labels is set, else 0 or 1;
 * or src's own truth channel; or none) and the options, then write it
 * whole. An output over the readers' limits is refused (where names src)
 * before anything is allocated. */
static void
emit(const struct image *src, const uint16_t *truth, int labels,
     const char *where)
{
	int has_truth = truth || image_has_mask(src);
	int out_labels = !opt.semantic &&
			 (truth ? labels : image_has_labels(src));
	int sc = image_channels(src), oc = opt.channels;
	int depth = oc + has_truth;
	int ow = opt.width ? opt.width :
		 opt.scale ? scaled_side(src->width) : src->width;
	int oh = opt.width ? opt.height :
		 opt.scale ? scaled_side(src->height) : src->height;
	size_t n = (size_t)src->width * src->height;
	unsigned m = src->maxval, M;
	char type[32];
	struct image out;

	if (ow > IMAGE_MAX_SIDE || oh > IMAGE_MAX_SIDE ||
	    (size_t)ow * oh * depth > IMAGE_MAX_SAMPLES)
		die("%s: the output, %dx%dx%d, would be over the limit of %zu "
		    "samples that its readers accept (use %s or "
		    "--channels 1)", where, ow, oh, depth,
		    (size_t)IMAGE_MAX_SAMPLES,
		    opt.scale ? "a smaller --scale" : "--size");
	/* The image's maxval, or 65535 when a label needs more. */
	if (m > 255 || (out_labels && largest_label(src, truth) > 255))
		M = 65535;
	else
		M = 255;
	snprintf(type, sizeof type, "%s%s", oc == 3 ? "RGB" : "GRAYSCALE",
		 !has_truth ? "" : out_labels ? "_LABEL" : "_MASK");
	image_alloc(&out, src->width, src->height, depth, M, type);
	for (size_t p = 0; p < n; p++) {
		const uint16_t *s = src->data + p * src->depth;
		uint16_t *d = out.data + p * depth;
		uint32_t v[3];

		for (int c = 0; c < sc; c++)
			v[c] = m == M ? s[c] : ((uint32_t)s[c] * M + m / 2) / m;
		if (oc == 1 && sc == 3)
			v[0] = (299 * v[0] + 587 * v[1] + 114 * v[2] + 500) / 1000;
		else if (oc == 3 && sc == 1)
			v[1] = v[2] = v[0];
		for (int c = 0; c < oc; c++)
			d[c] = (uint16_t)v[c];
		if (has_truth) {
			unsigned t = truth ? truth[p] : own_truth(src, p);
			d[oc] = (uint16_t)(out_labels ? t : t ? M : 0);
		}
	}
	image_copy_meta(&out, src);
	if (!out.orig_width || !out.orig_height) {
		out.orig_width = src->width;
		out.orig_height = src->height;
	}
	if (ow != out.width || oh != out.height) {
		struct image small;
		resample_image(&out, &small, ow, oh);
		pamio_write(stdout, &small);
		image_free(&small);
	} else {
		pamio_write(stdout, &out);
	}
	image_free(&out);
	show_progress();
}

/* The masks of one sample are decoded by several threads, each painting
 * its own truth, taking every nthreads-th file: file i paints label i + 1
 * (or 1 for a union) where no earlier file of its thread painted. The
 * first failure in file order is the one reported, whatever the timing. */
struct mask_job {
	const char *dir;
	char **files;
	int nfiles, first, step;
	int labels;
	int width, height;
	uint16_t *truth;
	int failed;      /* index of the first file that failed, or -1 */
	char err[600];   /* its message */
};

static int nthreads = 1;

/* Paint the foreground of the mask file at path (any channel above half
 * its maxval) with value where truth (width x height) is still 0: a PNG
 * row by row, any other format whole. Returns 0, -2 when its size
 * differs (*mw x *mh), or -1 with a one-line message in err. */
static int
paint_file(const char *path, int width, int height, uint16_t *truth,
	   uint16_t value, int *mw, int *mh, char *err, size_t errsize)
{
	FILE *f = fopen_regular(path, err, errsize);
	struct image m;
	int c;

	if (!f)
		return -1;
	c = getc(f);
	fclose(f);
	if (imgfile_format(c) == IMGFILE_PNG)
		return pngio_paint_mask(path, width, height, truth, value, mw,
					mh, err, errsize);
	if (imgfile_read_one(path, &m, err, errsize) != 0)
		return -1;
	*mw = m.width;
	*mh = m.height;
	if (m.width == width && m.height == height) {
		size_t n = (size_t)width * height;
		for (size_t p = 0; p < n; p++) {
			int fg = 0;
			for (int ch = 0; ch < m.depth; ch++)
				fg |= m.data[p * m.depth + ch] > m.maxval / 2;
			if (fg && !truth[p])
				truth[p] = value;
		}
	}
	image_free(&m);
	return *mw == width && *mh == height ? 0 : -2;
}

static void *
mask_worker(void *arg)
{
	struct mask_job *j = arg;

	j->failed = -1;
	for (int i = j->first; i < j->nfiles; i += j->step) {
		char *path = join(j->dir, j->files[i]);
		char msg[300];
		int mw, mh;
		uint16_t value = (uint16_t)(j->labels ? i + 1 : 1);
		int status = paint_file(path, j->width, j->height, j->truth,
					value, &mw, &mh, msg, sizeof msg);
		if (status != 0) {
			j->failed = i;
			if (status == -2)
				snprintf(j->err, sizeof j->err,
					 "%s: %dx%d, image is %dx%d", path, mw,
					 mh, j->width, j->height);
			else
				snprintf(j->err, sizeof j->err, "%s: %s", path,
					 msg);
			free(path);
			break;
		}
		free(path);
	}
	return NULL;
}

/* The truth of a sample from its nfiles mask files (at most 65535 for
 * labels): labels 1..nfiles in file order, a pixel of several masks
 * keeping the first one's label; or the union, 1 on every mask pixel.
 * No file gives an empty truth. */
static uint16_t *
paint_masks(const char *dir, char **files, int nfiles,
	    const struct image *img, int labels)
{
	int nt = nfiles < nthreads ? nfiles : nthreads;
	size_t n = (size_t)img->width * img->height;
	struct mask_job *jobs;
	pthread_t *threads;
	const struct mask_job *bad = NULL;
	uint16_t *truth;

	if (nt == 0)
		return xcalloc(n, sizeof *truth);
	jobs = xcalloc((size_t)nt, sizeof *jobs);
	threads = xcalloc((size_t)nt, sizeof *threads);
	for (int t = 0; t < nt; t++) {
		jobs[t] = (struct mask_job){dir, files, nfiles, t, nt, labels,
					    img->width, img->height,
					    xcalloc(n, sizeof *truth), -1, ""};
		if (t > 0 && pthread_create(&threads[t], NULL, mask_worker,
					    &jobs[t]) != 0)
			die("cannot start a thread");
	}
	mask_worker(&jobs[0]);
	for (int t = 1; t < nt; t++)
		pthread_join(threads[t], NULL);
	for (int t = 0; t < nt; t++)
		if (jobs[t].failed >= 0 &&
		    (!bad || jobs[t].failed < bad->failed))
			bad = &jobs[t];
	if (bad)
		die("%s", bad->err);
	truth = jobs[0].truth;
	for (int t = 1; t < nt; t++) {
		/* The smallest label is the first file's. */
		for (size_t p = 0; p < n; p++) {
			uint16_t v = jobs[t].truth[p];
			if (v && (!truth[p] || v < truth[p]))
				truth[p] = v;
		}
		free(jobs[t].truth);
	}
	free(jobs);
	free(threads);
	return truth;
}

/* One Data Science Bowl sample folder: sdir/images/ID.png (or another
 * extension of exts) and sdir/masks/ *.png (and the others), one nucleus
 * per mask file (none: no nucleus), each file of any format. */
static void
ingest_sample(const char *sdir, const char *id)
{
	char *images = join(sdir, "images");
	char *masks = join(sdir, "masks");
	char *path;
	char **files;
	int nfiles;
	struct image img;
	struct stat st;
	uint16_t *truth;

	path = find_by_name(images, id);
	if (!path)
		die("%s: no images/%s.png " OTHER_EXTS, sdir, id);
	read_image(path, &img);
	image_set_id(&img, id);
	free(path);

	if (stat(masks, &st) != 0) {
		if (errno == ENOENT)
			die("%s: no masks folder", sdir);
		die("%s:", masks);
	}
	if (!S_ISDIR(st.st_mode))
		die("%s: not a folder", masks);
	files = list_dir(masks, 1, &nfiles);
	if (!opt.semantic && nfiles > 65535)
		die("%s: %d masks, more than the 65535 labels a sample can hold "
		    "(--semantic joins them into one mask)", masks, nfiles);
	for (int i = 0; i < nfiles; i++) {
		path = join(masks, files[i]);
		outfile_input(path);
		free(path);
	}
	truth = paint_masks(masks, files, nfiles, &img, !opt.semantic);
	emit(&img, truth, !opt.semantic, sdir);
	free(truth);
	image_free(&img);
	free_names(files, nfiles);
	free(images);
	free(masks);
}

/* The sample folders of a data set folder (its sub-folders, sorted by
 * strcmp; other files are ignored). */
static char **
list_samples(const char *dir, int *count)
{
	int n, k = 0;
	char **names = list_dir(dir, 0, &n);

	for (int i = 0; i < n; i++) {
		char *sdir = join(dir, names[i]);
		if (is_dir(sdir))
			names[k++] = names[i];
		else
			free(names[i]);
		free(sdir);
	}
	*count = k;
	return names;
}

static void
check_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		die("%s:", dir);
	if (!S_ISDIR(st.st_mode))
		die("%s: not a folder", dir);
}

/* A folder is a sample folder itself when it has images/; otherwise it
 * holds sample folders. */
static int
is_sample_dir(const char *dir)
{
	char *images = join(dir, "images");
	int yes = is_dir(images);

	free(images);
	return yes;
}

/* The number of samples of the data set folder dir, each of whose ids
 * is given (give_id). */
static int
give_sample_ids(const char *dir)
{
	char **ids;
	int n;

	check_dir(dir);
	if (is_sample_dir(dir)) {
		char *id = idname_of_path(dir, 1);
		give_id(id, dir);
		free(id);
		return 1;
	}
	ids = list_samples(dir, &n);
	for (int i = 0; i < n; i++) {
		char *sdir = join(dir, ids[i]);
		give_id(ids[i], sdir);
		free(sdir);
	}
	free_names(ids, n);
	return n;
}

static void
ingest_dataset(const char *dir)
{
	char **ids;
	int n;

	if (is_sample_dir(dir)) {
		char *id = idname_of_path(dir, 1);
		ingest_sample(dir, id);
		free(id);
		return;
	}
	ids = list_samples(dir, &n);
	if (n == 0)
		die("%s: no samples", dir);
	for (int i = 0; i < n; i++) {
		char *sdir = join(dir, ids[i]);
		ingest_sample(sdir, ids[i]);
		free(sdir);
	}
	free_names(ids, n);
}

/* Open a regular file for reading, never blocking on a FIFO or a
 * device; dies "PATH: reason". */
static FILE *
open_regular(const char *path)
{
	char err[300];
	FILE *f;

	outfile_input(path);
	f = fopen_regular(path, err, sizeof err);
	if (!f)
		die("%s: %s", path, err);
	return f;
}

/* 1 when every pixel of m has all its channels equal: a grey image, even
 * when stored as RGB (a PNG of a grey palette, a grey PPM). */
static int
is_grey(const struct image *m)
{
	size_t n = (size_t)m->width * m->height;

	for (size_t p = 0; p < n; p++)
		for (int c = 1; c < m->depth; c++)
			if (m->data[p * m->depth + c] != m->data[p * m->depth])
				return 0;
	return 1;
}

/* The truth of image img from the mask file m at path: labels (the
 * file's values; set *labels) or a binary mask (1 where any channel is
 * above maxval / 2), as --mask-kind says; auto takes a grey file for a
 * label image when its nonzero values are several, or one value of at
 * most maxval / 2 (a 16-bit file of one object, label 1). */
static uint16_t *
read_truth(const char *path, const struct image *m, const struct image *img,
	   int *labels)
{
	size_t n = (size_t)m->width * m->height;
	uint16_t *truth;
	int depth = m->depth, grey;
	unsigned half = m->maxval / 2, first = 0;
	int several = 0;

	if (m->width != img->width || m->height != img->height)
		die("%s: %dx%d, image is %dx%d", path, m->width, m->height,
		    img->width, img->height);
	grey = opt.mask_kind != KIND_BINARY && is_grey(m);
	*labels = opt.mask_kind == KIND_LABELS;
	if (opt.mask_kind == KIND_AUTO && grey) {
		for (size_t p = 0; p < n && !several; p++) {
			unsigned v = m->data[p * depth];
			if (v && !first)
				first = v;
			several = v && v != first;
		}
		*labels = several || (first && first <= half);
	}
	if (*labels && !grey)
		die("%s: not a label image: its %d channels differ "
		    "(--mask-kind binary reads it as a mask)", path, depth);
	truth = xcalloc(n, sizeof *truth);
	for (size_t p = 0; p < n; p++) {
		const uint16_t *v = m->data + p * depth;
		int fg = 0;
		if (*labels) {
			truth[p] = v[0];
			continue;
		}
		for (int c = 0; c < depth; c++)
			fg |= v[c] > half;
		truth[p] = (uint16_t)fg;
	}
	return truth;
}

/* The truth of image img (id) from the --masks folder; *labels set when
 * it holds labels. */
static uint16_t *
find_truth(const struct image *img, const char *where, int *labels)
{
	uint16_t *truth;
	struct image m;
	char *path;

	if (!img->id)
		die("%s: no id to find its mask by", where);
	if (!img->id[0] || strchr(img->id, '/') || strcmp(img->id, ".") == 0 ||
	    strcmp(img->id, "..") == 0)
		die("%s: id '%s' cannot name a file of %s (empty, '.', '..' "
		    "or with a '/')", where, img->id, opt.masks);
	if (image_has_mask(img))
		die("%s: already has a truth mask", where);
	path = find_by_name(opt.masks, img->id);
	if (!path)
		die("%s: no mask %s/%s.png " OTHER_EXTS, where, opt.masks,
		    img->id);
	read_image(path, &m);
	truth = read_truth(path, &m, img, labels);
	image_free(&m);
	free(path);
	return truth;
}

static void
emit_with_mask(const struct image *img, const char *where)
{
	int labels = 0;
	uint16_t *truth = opt.masks ? find_truth(img, where, &labels) : NULL;

	emit(img, truth, labels, where);
	free(truth);
}

/* Open a file operand: a regular file without ever blocking; a FIFO or a
 * device named on the command line is a stream, read as it comes. */
static FILE *
open_operand(const char *path)
{
	struct stat st;
	FILE *f;

	if (stat(path, &st) != 0)
		die("%s:", path);
	if (S_ISREG(st.st_mode))
		return open_regular(path);
	f = fopen(path, "rb");
	if (!f)
		die("%s:", path);
	return f;
}

/* A PNG, TIFF or JPEG file operand f: each image (each page of a TIFF),
 * the id its name without extension, "-K" added for page K of several;
 * each id given (give_id) unless checked, when it was before any image
 * was read. */
static void
ingest_imgfile(FILE *f, const char *path, const char *stem, int checked)
{
	char err[300], where[4200], id[4100];
	struct imgfile *in = imgfile_open(f, err, sizeof err);
	struct image img;
	int status, k = 0;

	if (!in)
		die("%s: %s", path, err);
	while ((status = imgfile_read(in, &img, err, sizeof err)) > 0) {
		k++;
		snprintf(id, sizeof id, "%s-%d", stem, k);
		snprintf(where, sizeof where, "%s: page %d", path, k);
		image_set_id(&img, imgfile_count(in) > 1 ? id : stem);
		if (!checked)
			give_id(img.id, imgfile_count(in) > 1 ? where : path);
		emit_with_mask(&img, imgfile_count(in) > 1 ? where : path);
		image_free(&img);
	}
	if (status < 0)
		die("%s: %s", path, err);
	imgfile_close(in);
}

/* A file operand: PNG, TIFF, JPEG, or a Netpbm file or stream ("-" is
 * stdin, a Netpbm stream). The id is the image's own (#id comment) or
 * else, for a file, its name without extension ("-K" added for the K-th
 * image of a multi-image file), given (give_id) unless checked. A file
 * without any image is an error; an empty stdin is an empty stream. */
static void
ingest_file(const char *path, int checked)
{
	int is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : open_operand(path);
	struct pamio_reader *r;
	struct image img;
	char *stem = is_stdin ? NULL : idname_of_path(path, 0);
	int c = is_stdin ? EOF : getc(f);

	if (!is_stdin && c == EOF && ferror(f))
		die("%s:", path);
	if (!is_stdin && imgfile_format(c) != IMGFILE_NETPBM &&
	    imgfile_format(c) != IMGFILE_EMPTY) {
		ungetc(c, f);
		ingest_imgfile(f, path, stem, checked);
		free(stem);
		return;
	}
	if (c != EOF)
		ungetc(c, f);
	r = pamio_open_file(f, is_stdin ? "stdin" : path,
			    PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_read(r, &img)) {
		char where[4200];
		int k = pamio_count(r);
		snprintf(where, sizeof where, "%s: image %d", pamio_name(r), k);
		if (!img.id && stem) {
			char id[4100];
			snprintf(id, sizeof id, k == 1 ? "%s" : "%s-%d", stem, k);
			image_set_id(&img, id);
			if (!checked)
				give_id(id, k == 1 ? path : where);
		}
		emit_with_mask(&img, where);
		image_free(&img);
	}
	if (!is_stdin && pamio_count(r) == 0)
		die("%s: empty file", path);
	pamio_close(r);
	free(stem);
}

/* Give (give_id), before any image is read, the ids that the file
 * operand path will give: a regular PNG or JPEG file its name without
 * extension, a TIFF that or NAME-K for each page K of several. Returns 1
 * when it did; 0 for a Netpbm file (whose ids, its own or from its name,
 * are known when its images are read), stdin, a FIFO or a device; dies
 * for a file that is none of these formats, or a TIFF that libtiff
 * cannot open. */
static int
give_file_ids(const char *path)
{
	char err[300];
	struct stat st;
	struct imgfile *in;
	enum imgfile_format format;
	char *stem;
	FILE *f;

	if (strcmp(path, "-") == 0 || stat(path, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	f = fopen_regular(path, err, sizeof err);
	if (!f)
		die("%s: %s", path, err);
	format = imgfile_format(getc(f));
	if (ferror(f))
		die("%s:", path);
	rewind(f);
	if (format == IMGFILE_NETPBM || format == IMGFILE_EMPTY) {
		fclose(f);
		return 0;
	}
	in = imgfile_open(f, err, sizeof err);
	if (!in)
		die("%s: %s", path, err);
	stem = idname_of_path(path, 0);
	if (imgfile_count(in) == 1)
		give_id(stem, path);
	for (int k = 1; k <= imgfile_count(in) && imgfile_count(in) > 1; k++) {
		char id[4100], where[4200];
		snprintf(id, sizeof id, "%s-%d", stem, k);
		snprintf(where, sizeof where, "%s: page %d", path, k);
		give_id(id, where);
	}
	free(stem);
	imgfile_close(in);
	return 1;
}

static int
parse_mask_kind(const char *arg)
{
	static const char *names[] = {"auto", "binary", "labels"};

	for (int k = KIND_AUTO; k <= KIND_LABELS; k++)
		if (strcmp(arg, names[k]) == 0)
			return k;
	die_usage("--mask-kind: '%s' is not auto, binary or labels", arg);
}

int
main(int argc, char **argv)
{
	enum { OPT_SEMANTIC = 256 };
	static const struct option longopts[] = {
		{"size", required_argument, NULL, 's'},
		{"scale", required_argument, NULL, 'S'},
		{"channels", required_argument, NULL, 'c'},
		{"masks", required_argument, NULL, 'm'},
		{"mask-kind", required_argument, NULL, 'k'},
		{"semantic", no_argument, NULL, OPT_SEMANTIC},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c, dirs = 0, files = 0, kind_given = 0;
	char *checked;

	prog_init(argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:S:c:m:k:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			parse_size(optarg, IMAGE_MAX_SIDE, &opt.width,
				   &opt.height, "--size");
			break;
		case 'S':
			opt.scale = parse_double(optarg, -DBL_MAX, DBL_MAX,
						 "--scale");
			if (!(opt.scale > 0 && opt.scale <= IMAGE_MAX_SIDE))
				die_usage("--scale: %g is out of range (0, %d]",
					  opt.scale, IMAGE_MAX_SIDE);
			break;
		case 'c':
			opt.channels = (int)parse_long(optarg, 1, 3, "--channels");
			if (opt.channels == 2)
				die_usage("--channels: 2 is not 1 or 3");
			break;
		case 'm':
			opt.masks = optarg;
			break;
		case 'k':
			opt.mask_kind = parse_mask_kind(optarg);
			kind_given = 1;
			break;
		case OPT_SEMANTIC:
			opt.semantic = 1;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") != 0 && is_dir(argv[i]))
			dirs++;
		else
			files++;
		outfile_input(argv[i]);
	}
	if (optind == argc)
		outfile_input("-");
	if (opt.width && opt.scale)
		die_usage("--size and --scale cannot be used together");
	if (dirs && files)
		die_usage("data set folders and image files cannot be mixed");
	if (dirs && opt.masks)
		die_usage("--masks is for image files; a data set folder has "
			  "its masks");
	if (kind_given && !opt.masks)
		die_usage("--mask-kind is for --masks");
	if (opt.masks)
		check_dir(opt.masks);

	nthreads = online_cpus(4);
	/* In a pipeline the program reading the samples (unet-infer,
	 * unet-train) draws the line: two would overwrite each other. */
	progress_init(&progress, stderr_is_tty() && !opt.quiet &&
				 !stdout_is_pipe());
	/* Every id given from a name is known, and two equal ones refused,
	 * before any image is read. */
	if (dirs) {
		for (int i = optind; i < argc; i++)
			total += give_sample_ids(argv[i]);
		for (int i = optind; i < argc; i++)
			ingest_dataset(argv[i]);
	} else if (optind == argc) {
		ingest_file("-", 0);
	} else {
		checked = xcalloc((size_t)argc, 1);
		for (int i = optind; i < argc; i++)
			checked[i] = (char)give_file_ids(argv[i]);
		for (int i = optind; i < argc; i++)
			ingest_file(argv[i], checked[i]);
		free(checked);
	}
	tdestroy(given_ids, free_given);
	progress_clear(&progress);
	close_stdout();
	return 0;
}
