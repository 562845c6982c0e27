/* score: pixel and object figures of predictions against the truth. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "evalpair.h"
#include "instances.h"
#include "metrics.h"
#include "outfile.h"
#include "report.h"
#include "sweep.h"
#include "util.h"

static const char usage_text[] =
	"usage: score --truth FILE [--threshold T | --threshold-from SWEEP]\n"
	"             [--connectivity 4|8] [--per-image FILE] [PRED]\n"
	"Read probability maps, binary masks or label images (PRED, or stdin\n"
	"when PRED is '-' or absent) and the truth, and report as JSON the\n"
	"pooled and per-image-mean Dice, IoU, precision, recall and accuracy,\n"
	"and the objects: counts, count error, the Data Science Bowl 2018\n"
	"score, precision, recall and F1 at IoU 0.5. Objects are the labels\n"
	"of label images and *_LABEL samples, else connected components.\n"
	"  -t, --truth FILE           truth: *_MASK or *_LABEL samples, LABEL\n"
	"                             images or binary masks\n"
	"  -T, --threshold T          foreground where p > T (default 0.5)\n"
	"  -f, --threshold-from FILE  take T from a threshold-sweep report's\n"
	"                             \"best\"\n"
	"  -c, --connectivity N       4 or 8 (default 8) for the components\n"
	"  -p, --per-image FILE       write one JSON line per image to FILE\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n";

/* Where the objects of one side of an image came from (bits, so that a
 * run records every source it saw). */
enum { FROM_LABELS = 1, FROM_COMPONENTS = 2 };

/* The sums over the images of a run. */
struct totals {
	int images, any_prob;
	int pred_from, true_from; /* FROM_* bits */
	struct confusion pooled;
	struct metric_sums sums;
	uint64_t pred_objects, true_objects, matched;
	double dsb, precision[INSTANCES_NTHRESH];
	double abs_count_error;
};

/* The figures of one image: its pixel counts, its objects. */
struct image_score {
	struct confusion cf;
	struct instance_score is;
	uint32_t np, nt; /* predicted and true objects */
	int pred_from, true_from; /* FROM_LABELS or FROM_COMPONENTS */
};

static void
set_int(json_t *o, const char *key, uint64_t v)
{
	report_set(o, key, json_integer((json_int_t)v));
}

static const char *
from_name(int from)
{
	return from == FROM_LABELS ? "labels"
	       : from == FROM_COMPONENTS ? "components" : "both";
}

/* a / b, or 1 when b is 0 (as the pixel figures). */
static double
ratio_or_one(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 1.0;
}

/* The object figures at IoU 0.5 and the count error of np predicted and
 * nt true objects of which tp matched: object_precision, object_recall,
 * object_f1, count_error, relative_count_error (null when nt is 0). */
static void
set_object_figures(json_t *o, uint64_t np, uint64_t nt, uint64_t tp)
{
	double err = (double)np - (double)nt;

	report_set(o, "object_precision", json_real(ratio_or_one(tp, np)));
	report_set(o, "object_recall", json_real(ratio_or_one(tp, nt)));
	report_set(o, "object_f1", json_real(ratio_or_one(2 * tp, np + nt)));
	report_set(o, "count_error",
		   json_integer((json_int_t)np - (json_int_t)nt));
	report_set(o, "relative_count_error",
		   nt ? json_real(err / (double)nt) : json_null());
}

static void
totals_add(struct totals *t, const struct image_score *s, int is_prob)
{
	t->images++;
	t->any_prob |= is_prob;
	t->pooled.tp += s->cf.tp;
	t->pooled.fp += s->cf.fp;
	t->pooled.fn += s->cf.fn;
	t->pooled.tn += s->cf.tn;
	metric_sums_add(&t->sums, &s->cf);
	t->pred_objects += s->np;
	t->true_objects += s->nt;
	t->matched += s->is.matches[0];
	t->dsb += s->is.score;
	t->abs_count_error += s->np > s->nt ? s->np - s->nt : s->nt - s->np;
	t->pred_from |= s->pred_from;
	t->true_from |= s->true_from;
	for (int k = 0; k < INSTANCES_NTHRESH; k++)
		t->precision[k] += s->is.precision[k];
}

/* The --per-image line of one image. */
static json_t *
image_line(const struct evalpair_item *it, const struct image_score *s)
{
	json_t *o = report_object();

	set_int(o, "index", (uint64_t)it->index);
	report_set(o, "id", it->id ? json_string(it->id) : json_null());
	set_int(o, "width", (uint64_t)it->width);
	set_int(o, "height", (uint64_t)it->height);
	report_merge(o, report_figures(&s->cf, "dice", 1));
	set_int(o, "predicted_objects", s->np);
	set_int(o, "true_objects", s->nt);
	set_int(o, "matched_objects", s->is.matches[0]);
	report_set(o, "dsb2018", json_real(s->is.score));
	set_object_figures(o, s->np, s->nt, s->is.matches[0]);
	report_set(o, "predicted_objects_from",
		   json_string(from_name(s->pred_from)));
	report_set(o, "true_objects_from",
		   json_string(from_name(s->true_from)));
	return o;
}

/* The objects of one side of a pair into labels (1..n, returned): the
 * labels of img when it has them, else the connected components of
 * mask. */
static uint32_t
objects(const struct evalpair_item *it, const uint8_t *mask,
	const struct image *img, int has_labels, int connectivity,
	uint32_t *labels, int *from)
{
	size_t n = (size_t)it->width * it->height;

	if (!has_labels) {
		*from = FROM_COMPONENTS;
		return instances_label(mask, it->width, it->height,
				       connectivity, labels);
	}
	*from = FROM_LABELS;
	for (size_t p = 0; p < n; p++)
		labels[p] = image_label_at(img, p);
	return instances_renumber(labels, n);
}

/* The report of a run of at least one image. */
static json_t *
summary(const struct totals *t, double threshold, int connectivity)
{
	json_t *root = report_object(), *inst = report_object();
	json_t *by_iou = report_array();
	struct metric_sums mean;

	set_int(root, "images", (uint64_t)t->images);
	report_set(root, "threshold", t->any_prob ? json_real(threshold) :
		   json_null());
	report_set(root, "pooled", report_figures(&t->pooled, "dice", 1));
	metric_sums_mean(&t->sums, &mean);
	report_set(root, "per_image_mean", report_means(&mean, "dice"));
	set_int(inst, "connectivity", (uint64_t)connectivity);
	set_int(inst, "predicted_objects", t->pred_objects);
	set_int(inst, "true_objects", t->true_objects);
	set_int(inst, "matched_objects", t->matched);
	report_set(inst, "dsb2018", json_real(t->dsb / t->images));
	for (int k = 0; k < INSTANCES_NTHRESH; k++) {
		json_t *o = report_object();

		report_set(o, "iou", json_real(instances_iou_threshold(k)));
		report_set(o, "precision",
			   json_real(t->precision[k] / t->images));
		report_append(by_iou, o);
	}
	report_set(inst, "dsb2018_by_iou", by_iou);
	set_object_figures(inst, t->pred_objects, t->true_objects, t->matched);
	report_set(inst, "mean_absolute_count_error",
		   json_real(t->abs_count_error / t->images));
	report_set(inst, "predicted_objects_from",
		   json_string(from_name(t->pred_from)));
	report_set(inst, "true_objects_from",
		   json_string(from_name(t->true_from)));
	report_set(root, "instances", inst);
	return root;
}

/* The command line. */
struct opts {
	const char *truth, *pred, *sweep, *per_image_path;
	double threshold;
	int have_threshold, connectivity;
};

static void
parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"truth", required_argument, NULL, 't'},
		{"threshold", required_argument, NULL, 'T'},
		{"threshold-from", required_argument, NULL, 'f'},
		{"connectivity", required_argument, NULL, 'c'},
		{"per-image", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){ NULL, "-", NULL, NULL, 0.5, 0, 8 };
	while ((c = getopt_long(argc, argv, ":t:T:f:c:p:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 't':
			o->truth = optarg;
			break;
		case 'T':
			o->threshold = parse_double(optarg, 0.0, 1.0,
						    "--threshold");
			o->have_threshold = 1;
			break;
		case 'f':
			o->sweep = optarg;
			break;
		case 'c':
			o->connectivity = (int)parse_long(optarg, 4, 8,
							  "--connectivity");
			if (o->connectivity != 4 && o->connectivity != 8)
				die_usage("--connectivity: 4 or 8, not %d",
					  o->connectivity);
			break;
		case 'p':
			o->per_image_path = optarg;
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
		die_usage("give --threshold or --threshold-from, not both");
}

/* Work buffers of one image's pixels, grown as images grow. */
struct buffers {
	uint8_t *pmask;
	uint32_t *plabels, *tlabels;
	size_t cap;
};

/* The figures of one pair of images into s: pixels at cutoff, objects. */
static void
score_image(const struct evalpair_item *it, long cutoff, int connectivity,
	    struct buffers *b, struct image_score *s)
{
	size_t n = (size_t)it->width * it->height;

	if (n > b->cap) {
		b->pmask = xreallocarray(b->pmask, n, 1);
		b->plabels = xreallocarray(b->plabels, n, sizeof *b->plabels);
		b->tlabels = xreallocarray(b->tlabels, n, sizeof *b->tlabels);
		b->cap = n;
	}
	evalpair_pred_mask(it, cutoff, b->pmask);
	confusion_add_masks(&s->cf, b->pmask, it->truth_mask, n);
	s->np = objects(it, b->pmask, it->pred, it->is_label, connectivity,
			b->plabels, &s->pred_from);
	s->nt = objects(it, it->truth_mask, it->truth, it->truth_labels,
			connectivity, b->tlabels, &s->true_from);
	instances_score(b->plabels, s->np, b->tlabels, s->nt, n, &s->is);
}

int
main(int argc, char **argv)
{
	struct opts o;
	const char *bad;
	long cutoff;
	struct outfile *per_image = NULL;
	struct totals t = {0};
	struct buffers b = {0};
	struct evalpair *e;
	struct evalpair_item it;
	json_t *root, *lines;

	prog_init(argc, argv);
	parse_options(argc, argv, &o);
	outfile_input(o.pred);
	outfile_input(o.truth);
	if (o.sweep)
		outfile_input(o.sweep);
	if (o.per_image_path)
		outfile_check(o.per_image_path);
	if (o.sweep)
		o.threshold = sweep_best_threshold(o.sweep);
	cutoff = metric_prob_cutoff(o.threshold);
	if ((bad = evalpair_usage_error(o.pred, o.truth)))
		die_usage("%s", bad);
	e = evalpair_open(o.pred, o.truth,
			  EVALPAIR_PROB | EVALPAIR_MASK | EVALPAIR_LABEL);
	lines = report_array();

	while (evalpair_next(e, &it)) {
		struct image_score s = {0};

		score_image(&it, cutoff, o.connectivity, &b, &s);
		totals_add(&t, &s, it.is_prob);
		if (o.per_image_path)
			report_append(lines, image_line(&it, &s));
	}
	if (t.images == 0)
		die("%s: no images", evalpair_pred_name(e));
	evalpair_close(e);
	free(b.pmask);
	free(b.plabels);
	free(b.tlabels);
	if (o.per_image_path)
		per_image = report_save_lines(o.per_image_path, lines,
					      REPORT_LINE(15));
	json_decref(lines);

	root = summary(&t, o.threshold, o.connectivity);
	report_print(root, REPORT_INDENTED(15));
	json_decref(root);
	close_stdout();
	if (per_image)
		outfile_commit_or_die(per_image);
	return 0;
}
