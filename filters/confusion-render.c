/* confusion-render: colour each pixel of a prediction as a true positive,
 * false positive, false negative or true negative against the truth, over
 * the image, optionally beside the image, truth and prediction. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "evalpair.h"
#include "metrics.h"
#include "outfile.h"
#include "pamio.h"
#include "sweep.h"
#include "util.h"

/* Okabe-Ito colours, distinct with the common colour blindnesses. */
#define COLOUR_TP RGB_YELLOW
#define COLOUR_FP RGB_VERMILLION
#define COLOUR_FN RGB_BLUE
#define COLOUR_TN RGB_BLACK

static const char usage_text[] =
	"usage: confusion-render --truth FILE [--threshold T |\n"
	"                        --threshold-from SWEEP.json] [--image FILE |\n"
	"                        --no-image] [--alpha A] [--panels]\n"
	"                        [--gap N] [PRED]\n"
	"Colour each pixel of the predictions (PRED, or stdin when PRED is '-'\n"
	"or absent) by its confusion with the truth: true positive yellow, false\n"
	"positive vermillion, false negative blue, true negative black (or the\n"
	"image). Writes one RGB PAM image per prediction to stdout.\n"
	"  -t, --truth FILE           truth: *_MASK or *_LABEL samples, or masks\n"
	"  -T, --threshold T          foreground where p > T (default 0.5)\n"
	"      --threshold-from FILE  take T from a threshold-sweep report\n"
	"  -i, --image FILE           draw over the images of FILE (default:\n"
	"                             the image channels of a sample truth)\n"
	"      --no-image             draw on black, even over a sample truth\n"
	"  -a, --alpha A              opacity of the colours over the image,\n"
	"                             0 to 1 (default 0.5)\n"
	"  -p, --panels               image | truth | prediction | confusion\n"
	"                             side by side\n"
	"      --gap N                pixels between the panels (default 4)\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n";

/* The command line: the streams, the threshold, and how to draw. */
struct opts {
	const char *truth, *pred, *image, *sweep;
	double threshold, alpha;
	int have_threshold, no_image, panels, gap;
};

/* A 0/1 mask as white on black at column x0 of out. */
static void
put_mask(struct image *out, int x0, const uint8_t *m, int w, int h)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			draw_point(out, x0 + x, y, m[(size_t)y * w + x] ?
				   RGB_WHITE : RGB_BLACK);
}

static void
render(struct image *out, const struct evalpair_item *it,
       const uint8_t *pred, const struct image *bg, const struct opts *o)
{
	int w = it->width, h = it->height, panels = 1, x0 = 0;

	if (o->panels)
		panels = bg ? 4 : 3;
	draw_canvas(out, panels * w + (panels - 1) * o->gap, h, RGB_WHITE);
	image_copy_meta(out, it->pred);
	if (!out->id && it->id)
		image_set_id(out, it->id);
	if (o->panels) {
		/* the original size is that of one panel, not of the row */
		out->orig_width = out->orig_height = 0;
		if (bg) {
			draw_copy_image(out, 0, bg);
			x0 += w + o->gap;
		}
		put_mask(out, x0, it->truth_mask, w, h);
		x0 += w + o->gap;
		put_mask(out, x0, pred, w, h);
		x0 += w + o->gap;
	}
	if (bg)
		draw_copy_image(out, x0, bg);
	else
		draw_rect(out, x0, 0, w, h, COLOUR_TN);
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			size_t p = (size_t)y * w + x;
			int t = it->truth_mask[p], m = pred[p];
			struct rgb c;

			if (!t && !m)
				continue;
			c = t && m ? COLOUR_TP : m ? COLOUR_FP : COLOUR_FN;
			if (bg)
				draw_blend(out, (size_t)y * out->width + x0 + x,
					   c, o->alpha);
			else
				draw_point(out, x0 + x, y, c);
		}
	}
}

static void
parse_options(int argc, char **argv, struct opts *o)
{
	enum { OPT_FROM = 256, OPT_NO_IMAGE, OPT_GAP };
	static const struct option longopts[] = {
		{"truth", required_argument, NULL, 't'},
		{"threshold", required_argument, NULL, 'T'},
		{"threshold-from", required_argument, NULL, OPT_FROM},
		{"image", required_argument, NULL, 'i'},
		{"no-image", no_argument, NULL, OPT_NO_IMAGE},
		{"alpha", required_argument, NULL, 'a'},
		{"panels", no_argument, NULL, 'p'},
		{"gap", required_argument, NULL, OPT_GAP},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){ .pred = "-", .threshold = 0.5, .alpha = 0.5,
			    .gap = 4 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:T:i:a:phV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 't':
			o->truth = optarg;
			break;
		case 'T':
			o->threshold = parse_double(optarg, 0, 1,
						    "--threshold");
			o->have_threshold = 1;
			break;
		case OPT_FROM:
			o->sweep = optarg;
			break;
		case 'i':
			o->image = optarg;
			break;
		case OPT_NO_IMAGE:
			o->no_image = 1;
			break;
		case 'a':
			o->alpha = parse_double(optarg, 0, 1, "--alpha");
			break;
		case 'p':
			o->panels = 1;
			break;
		case OPT_GAP:
			o->gap = (int)parse_long(optarg, 0, 1000, "--gap");
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (argc - optind > 1)
		die_usage("at most one prediction stream");
	if (optind < argc)
		o->pred = argv[optind];
	if (!o->truth)
		die_usage("--truth FILE is required");
	if (o->have_threshold && o->sweep)
		die_usage("--threshold and --threshold-from exclude each other");
	if (o->image && o->no_image)
		die_usage("--image and --no-image exclude each other");
	if (o->image && strcmp(o->image, "-") == 0 &&
	    (strcmp(o->pred, "-") == 0 || strcmp(o->truth, "-") == 0))
		die_usage("only one stream can be stdin");
}

int
main(int argc, char **argv)
{
	struct opts o;
	const char *bad;
	long cutoff;
	struct evalpair *e;
	struct evalpair_item it;
	struct pamio_reader *bg_reader = NULL;
	struct image bg = {0}, out = {0};
	uint8_t *pred = NULL;
	size_t pred_cap = 0;

	prog_init(argc, argv);
	parse_options(argc, argv, &o);
	outfile_input(o.pred);
	outfile_input(o.truth);
	if (o.image)
		outfile_input(o.image);
	cutoff = metric_prob_cutoff(sweep_threshold(o.sweep, o.threshold));
	if ((bad = evalpair_usage_error(o.pred, o.truth)))
		die_usage("%s", bad);
	e = evalpair_open(o.pred, o.truth, EVALPAIR_PROB | EVALPAIR_MASK);
	if (o.image)
		bg_reader = pamio_open(o.image, PAMIO_IMAGE | PAMIO_SAMPLE);

	while (evalpair_next(e, &it)) {
		size_t n = (size_t)it.width * it.height;
		const struct image *b = NULL;

		if (n > pred_cap) {
			pred = xreallocarray(pred, n, 1);
			pred_cap = n;
		}
		evalpair_pred_mask(&it, cutoff, pred);
		if (bg_reader) {
			pamio_read_partner(bg_reader, &bg,
					   evalpair_pred_name(e), it.index,
					   it.pred, "prediction's");
			b = &bg;
		} else if (!o.no_image && image_has_mask(it.truth)) {
			b = it.truth;
		}
		render(&out, &it, pred, b, &o);
		pamio_write(stdout, &out);
		image_free(&out);
	}
	if (bg_reader) {
		image_free(&bg);
		pamio_partner_end(bg_reader, evalpair_pred_name(e),
				  pamio_count(bg_reader), "prediction");
		pamio_close(bg_reader);
	}
	evalpair_close(e);
	free(pred);
	close_stdout();
	return 0;
}
