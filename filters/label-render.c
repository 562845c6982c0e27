/* label-render: label images to pictures for people, each object in a
 * colour of its own, filled on black or outlined over the image. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "outfile.h"
#include "pamio.h"
#include "util.h"

static const char usage_text[] =
	"usage: label-render [--image FILE] [--alpha A] [FILE]\n"
	"Draw label images (LABEL, as label-objects writes them; FILE or stdin)\n"
	"for people: each object in a colour of its own (by its label), filled\n"
	"on black, or outlined over the images of --image. A sample with its\n"
	"instance truth (RGB_LABEL, GRAYSCALE_LABEL) is drawn as its objects\n"
	"outlined over its own image. Writes one RGB PAM image (maxval 255) per\n"
	"input image to stdout.\n"
	"  -i, --image FILE           draw the outlines over the images (or\n"
	"                             samples) of FILE, paired by order\n"
	"  -a, --alpha A              over an image, also fill the objects with\n"
	"                             their colour at opacity A, 0 to 1\n"
	"                             (default 0: outlines only)\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n";

/* 1 when pixel (x, y) of object l has an edge neighbour outside it (the
 * outside of the image included). */
static int
on_outline(const struct image *lab, int x, int y, uint16_t l)
{
	const uint16_t *d = lab->data;
	size_t p = (size_t)y * lab->width + x;

	return x == 0 || y == 0 || x == lab->width - 1 ||
	       y == lab->height - 1 || d[p - 1] != l || d[p + 1] != l ||
	       d[p - lab->width] != l || d[p + lab->width] != l;
}

static void
render(struct image *out, const struct image *lab, const struct image *bg,
       double alpha)
{
	draw_canvas(out, lab->width, lab->height, RGB_BLACK);
	image_copy_meta(out, lab);
	if (bg) {
		draw_copy_image(out, 0, bg);
		if (!out->id && bg->id)
			image_set_id(out, bg->id);
	}
	for (int y = 0; y < lab->height; y++) {
		for (int x = 0; x < lab->width; x++) {
			size_t p = (size_t)y * lab->width + x;
			uint16_t l = lab->data[p];
			struct rgb c;

			if (!l)
				continue;
			c = draw_label_colour(l);
			if (!bg || on_outline(lab, x, y, l))
				draw_point(out, x, y, c);
			else if (alpha > 0)
				draw_blend(out, p, c, alpha);
		}
	}
}

/* The label image of a *_LABEL sample, its last channel, in lab. */
static void
sample_labels(const struct image *sample, struct image *lab)
{
	size_t n = (size_t)sample->width * sample->height;

	image_alloc(lab, sample->width, sample->height, 1, 65535, "LABEL");
	image_copy_meta(lab, sample);
	for (size_t p = 0; p < n; p++)
		lab->data[p] = (uint16_t)image_label_at(sample, p);
}

/* The labels of image in of r into lab: a label image moved there (in
 * left empty), a *_LABEL sample's label channel copied. Returns the
 * image to draw over: the sample itself, or NULL. */
static const struct image *
take_labels(const struct pamio_reader *r, struct image *in,
	    struct image *lab)
{
	if (image_is_label(in)) {
		*lab = *in;
		memset(in, 0, sizeof *in);
		return NULL;
	}
	if (!image_has_labels(in))
		die("%s: image %d: a %s sample has a mask, not objects "
		    "(label-objects makes them)", pamio_name(r),
		    pamio_count(r), in->tuple_type);
	sample_labels(in, lab);
	return in;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"image", required_argument, NULL, 'i'},
		{"alpha", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = "-", *image = NULL;
	double alpha = 0;
	int have_alpha = 0, c;
	struct pamio_reader *r, *bg_reader = NULL;
	struct image in = {0}, lab = {0}, bg = {0}, out = {0};

	prog_init(argc, argv);
	while ((c = getopt_long(argc, argv, ":i:a:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			image = optarg;
			break;
		case 'a':
			alpha = parse_double(optarg, 0, 1, "--alpha");
			have_alpha = 1;
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (argc - optind > 1)
		die_usage("too many operands");
	if (argc - optind == 1)
		path = argv[optind];
	if (image && strcmp(image, "-") == 0 && strcmp(path, "-") == 0)
		die_usage("the label images and --image cannot both be stdin");
	outfile_input(path);
	if (image)
		outfile_input(image);

	r = pamio_open(path, PAMIO_LABEL | PAMIO_SAMPLE);
	if (image)
		bg_reader = pamio_open(image, PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_read(r, &in)) {
		const struct image *over = take_labels(r, &in, &lab);

		if (bg_reader) {
			pamio_read_partner(bg_reader, &bg, pamio_name(r),
					   pamio_count(r), &lab,
					   "label image's");
			over = &bg;
		}
		if (have_alpha && !over)
			die("%s: image %d: --alpha needs an image to draw over "
			    "(--image, or a *_LABEL sample)", pamio_name(r),
			    pamio_count(r));
		render(&out, &lab, over, alpha);
		pamio_write(stdout, &out);
		image_free(&out);
		image_free(&lab);
		image_free(&in);
	}
	if (bg_reader) {
		image_free(&bg);
		pamio_partner_end(bg_reader, pamio_name(r), pamio_count(r),
				  "label image");
		pamio_close(bg_reader);
	}
	pamio_close(r);
	close_stdout();
	return 0;
}
