/* measure-objects: label images to one row of measurements per object. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"
#include "outfile.h"
#include "pamio.h"
#include "report.h"
#include "util.h"

static const char usage_text[] =
	"usage: measure-objects [--image FILE] [--json] [--counts FILE]\n"
	"                       [--output FILE] [LABELS]\n"
	"Read label images (LABELS, or stdin when LABELS is '-' or absent)\n"
	"and write one row per object: id, label, area, centroid, bounding\n"
	"box, equivalent diameter, perimeter, axes, eccentricity, solidity,\n"
	"and with --image the mean and integrated intensity of each channel;\n"
	"CSV with a header line, or JSON Lines.\n"
	"  -i, --image FILE   the images of the labels, paired by order\n"
	"  -j, --json         write JSON Lines instead of CSV\n"
	"  -c, --counts FILE  also write each image's object count to FILE\n"
	"  -o, --output FILE  write the rows to FILE instead of stdout\n"
	"  -h, --help         show this help and exit\n"
	"  -V, --version      show the version and exit\n";

/* The columns before the intensities, in order. */
static const char *const columns[] = {
	"image", "id", "label", "area", "centroid_x", "centroid_y", "bbox_x",
	"bbox_y", "bbox_width", "bbox_height", "equivalent_diameter",
	"perimeter", "major_axis_length", "minor_axis_length", "eccentricity",
	"solidity",
};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

/* Names of the image channels: grey, or red, green and blue. */
static const char *const grey_names[] = {"intensity"};
static const char *const rgb_names[] = {"red", "green", "blue"};

struct writer {
	FILE *rows, *counts;
	int json;
	int channels;       /* of the --image stream, 0 without */
	int header_written; /* CSV header of the rows */
};

/* A CSV field: as is, or quoted with its quotes doubled when it holds a
 * comma, a quote or a line break (RFC 4180). */
static void
csv_field(FILE *f, const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static const char *const *
channel_names(int channels)
{
	return channels == 3 ? rgb_names : grey_names;
}

static void
write_header(struct writer *w)
{
	const char *const *names = channel_names(w->channels);

	w->header_written = 1;
	if (w->json)
		return;
	for (size_t k = 0; k < NCOLUMNS; k++)
		fprintf(w->rows, "%s%s", k ? "," : "", columns[k]);
	for (int c = 0; c < w->channels; c++)
		fprintf(w->rows, ",mean_%s", names[c]);
	for (int c = 0; c < w->channels; c++)
		fprintf(w->rows, ",integrated_%s", names[c]);
	fputc('\n', w->rows);
}

/* The values of one object's row, as JSON values in column order. */
static json_t *
object_row(int index, const char *id, const struct measure *m, size_t i,
	   int channels)
{
	const struct object_measure *o = &m->obj[i];
	const char *const *names = channel_names(channels);
	json_t *r = report_object();
	char key[64];

	report_set(r, "image", json_integer(index));
	report_set(r, "id", id ? json_string(id) : json_null());
	report_set(r, "label", json_integer(o->label));
	report_set(r, "area", json_integer((json_int_t)o->area));
	report_set(r, "centroid_x", json_real(o->centroid_x));
	report_set(r, "centroid_y", json_real(o->centroid_y));
	report_set(r, "bbox_x", json_integer(o->bbox_x));
	report_set(r, "bbox_y", json_integer(o->bbox_y));
	report_set(r, "bbox_width", json_integer(o->bbox_width));
	report_set(r, "bbox_height", json_integer(o->bbox_height));
	report_set(r, "equivalent_diameter", json_real(o->equivalent_diameter));
	report_set(r, "perimeter", json_real(o->perimeter));
	report_set(r, "major_axis_length", json_real(o->major_axis));
	report_set(r, "minor_axis_length", json_real(o->minor_axis));
	report_set(r, "eccentricity", json_real(o->eccentricity));
	report_set(r, "solidity", json_real(o->solidity));
	for (int c = 0; c < channels; c++) {
		snprintf(key, sizeof key, "mean_%s", names[c]);
		report_set(r, key, json_real((double)m->sum[i * channels + c] /
					     (double)o->area));
	}
	for (int c = 0; c < channels; c++) {
		snprintf(key, sizeof key, "integrated_%s", names[c]);
		report_set(r, key,
			   json_integer((json_int_t)m->sum[i * channels + c]));
	}
	return r;
}

/* One row: a JSON line, or the same values as CSV fields (reals with 15
 * significant digits, as in the JSON). */
static void
write_row(FILE *f, int json, json_t *row)
{
	const char *key;
	json_t *v;
	int first = 1;

	if (json) {
		/* A failed write leaves f in error, reported when f is
		 * closed or committed. */
		json_dumpf(row, f, REPORT_LINE(15));
		fputc('\n', f);
		return;
	}
	json_object_foreach(row, key, v) {
		if (!first)
			fputc(',', f);
		first = 0;
		if (json_is_string(v))
			csv_field(f, json_string_value(v));
		else if (json_is_integer(v))
			fprintf(f, "%" JSON_INTEGER_FORMAT,
				json_integer_value(v));
		else if (json_is_real(v))
			fprintf(f, "%.15g", json_real_value(v));
	}
	fputc('\n', f);
}

static void
write_image(struct writer *w, int index, const char *id,
	    const struct measure *m)
{
	json_t *count;

	if (!w->header_written)
		write_header(w);
	for (size_t i = 0; i < m->count; i++) {
		json_t *row = object_row(index, id, m, i, w->channels);
		write_row(w->rows, w->json, row);
		json_decref(row);
	}
	if (!w->counts)
		return;
	count = report_object();
	report_set(count, "image", json_integer(index));
	report_set(count, "id", id ? json_string(id) : json_null());
	report_set(count, "objects", json_integer((json_int_t)m->count));
	write_row(w->counts, w->json, count);
	json_decref(count);
}

/* The --image image paired with label image k: read, checked for size
 * and id, with the same channels as the first. */
static void
read_image(struct pamio_reader *ir, const struct pamio_reader *lr,
	   const struct image *lab, struct image *img, int channels)
{
	int k = pamio_count(lr);

	pamio_read_partner(ir, img, pamio_name(lr), k, lab, "labels'");
	if (channels && image_channels(img) != channels)
		die("%s: image %d: %d channel(s) where the first image had %d",
		    pamio_name(ir), k, image_channels(img), channels);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"image", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"counts", required_argument, NULL, 'c'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *labels_path = "-", *image_path = NULL;
	const char *counts_path = NULL, *out_path = NULL;
	struct outfile *out = NULL, *counts = NULL;
	struct writer w = {0};
	struct pamio_reader *lr, *ir = NULL;
	struct image lab = {0}, img = {0};
	int c;

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":i:jc:o:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'i':
			image_path = optarg;
			break;
		case 'j':
			w.json = 1;
			break;
		case 'c':
			counts_path = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (argc - optind > 1)
		die_usage("at most one label stream");
	if (optind < argc)
		labels_path = argv[optind];
	if (image_path && strcmp(image_path, "-") == 0 &&
	    strcmp(labels_path, "-") == 0)
		die_usage("the labels and the images cannot both be stdin");

	outfile_input(labels_path);
	if (image_path)
		outfile_input(image_path);
	if (out_path)
		outfile_check(out_path);
	if (counts_path)
		outfile_check(counts_path);
	lr = pamio_open(labels_path, PAMIO_LABEL | PAMIO_SAMPLE);
	if (image_path)
		ir = pamio_open(image_path, PAMIO_IMAGE | PAMIO_SAMPLE);
	if (out_path)
		out = outfile_open_or_die(out_path);
	if (counts_path)
		counts = outfile_open_or_die(counts_path);
	w.rows = out ? outfile_stream(out) : stdout;
	w.counts = counts ? outfile_stream(counts) : NULL;
	if (counts && !w.json)
		fputs("image,id,objects\n", w.counts);

	while (pamio_read(lr, &lab)) {
		struct measure m;
		const char *id;

		if (!image_is_label(&lab) && !image_has_labels(&lab))
			die("%s: image %d: %s is not a label image (LABEL or "
			    "*_LABEL)", pamio_name(lr), pamio_count(lr),
			    lab.tuple_type);
		if (ir) {
			read_image(ir, lr, &lab, &img, w.channels);
			w.channels = image_channels(&img);
		}
		measure_objects(&lab, ir ? &img : NULL, &m);
		id = lab.id ? lab.id : img.id;
		write_image(&w, pamio_count(lr), id, &m);
		measure_free(&m);
		image_free(&lab);
		image_free(&img);
	}
	if (ir)
		pamio_partner_end(ir, pamio_name(lr), pamio_count(lr),
				  "label image");
	if (!w.header_written)
		write_header(&w);
	pamio_close(lr);
	if (ir)
		pamio_close(ir);
	if (out)
		outfile_commit_or_die(out);
	else
		close_stdout();
	if (counts)
		outfile_commit_or_die(counts);
	return 0;
}
