/* threshold-sweep: Dice/F1, IoU, precision, recall and accuracy of
 * probability maps against the truth at a range of thresholds. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evalpair.h"
#include "metrics.h"
#include "outfile.h"
#include "report.h"
#include "util.h"

#define MAX_THRESHOLDS 1000001

static const char usage_text[] =
	"usage: threshold-sweep --truth FILE [--from T] [--to T] [--step S]\n"
	"                       [--per-image-mean] [PRED]\n"
	"Read probability maps (PRED, or stdin when PRED is '-' or absent; of a\n"
	"multi-output map FOREGROUND_*, channel 0) and\n"
	"the truth, and report as JSON the figures at each threshold and the\n"
	"threshold with the best F1 (Dice); warn on stderr when that threshold\n"
	"is no better than calling every pixel foreground.\n"
	"  -t, --truth FILE      truth: *_MASK or *_LABEL samples, LABEL\n"
	"                        images or binary masks\n"
	"      --from T          first threshold (default 0)\n"
	"      --to T            last threshold (default 1)\n"
	"      --step S          step between thresholds (default 0.1)\n"
	"  -m, --per-image-mean  average per-image figures instead of pooling\n"
	"                        all pixels\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n";

enum { OPT_FROM = 256, OPT_TO, OPT_STEP };

/* Ties in F1 go to the threshold closest to 0.5, then to the lower one.
 * Thresholds lie on a 1e-9 grid, so nearer distances are equal. */
static int
better(double f1, double t, double best_f1, double best_t)
{
	double d = fabs(t - 0.5), best_d = fabs(best_t - 0.5);

	if (f1 != best_f1)
		return f1 > best_f1;
	if (fabs(d - best_d) > 1e-12)
		return d < best_d;
	return t < best_t;
}

/* The margin of F1 over calling every pixel foreground below which the
 * best threshold is degenerate (threshold-sweep(1), DIAGNOSTICS). */
#define DEGENERATE_MARGIN 0.01

/* The warning (into msg) when the best threshold t, with pooled counts cf
 * and F1 f1, is degenerate: no better than calling every pixel
 * foreground (F1 fg_f1); "" when it is not. */
static void
degenerate(double t, const struct confusion *cf, double f1, double fg_f1,
	   char *msg, size_t len)
{
	static const char advice[] = "the model has not learnt to separate "
		"the foreground from the background (train longer, or with "
		"more patience)";

	msg[0] = '\0';
	if (!(f1 < fg_f1 + DEGENERATE_MARGIN))
		return;
	if (cf->fn + cf->tn == 0)
		snprintf(msg, len, "the best threshold %g calls every pixel "
			 "foreground (F1 %.4f): %s", t, f1, advice);
	else if (cf->tp + cf->fp == 0)
		snprintf(msg, len, "the best threshold %g calls every pixel "
			 "background (F1 %.4f): %s", t, f1, advice);
	else
		snprintf(msg, len, "the best F1 %.4f (threshold %g) is no "
			 "better than the %.4f of calling every pixel "
			 "foreground: %s", f1, t, fg_f1, advice);
}

/* The report of images whose pixels are in all, over the nthr thresholds
 * thr (cutoffs cutoff): pooled figures or, given sums, the means of the
 * per-image figures; the counts pooled; the best threshold; fg_f1, the F1
 * of calling every pixel foreground, and the warning (into warning, ""
 * for none) when the best is no better. */
static json_t *
build_report(const struct prob_hist *all, const struct metric_sums *sums,
	     const double *thr, const long *cutoff, long nthr, int images,
	     double fg_f1, char *warning, size_t len)
{
	json_t *root = report_object(), *list = report_array();
	struct confusion best_cf = {0, 0, 0, 0};
	long best = 0;
	double best_f1 = 0;

	report_set(root, "images", json_integer(images));
	report_set(root, "pixels", json_integer((json_int_t)(all->fg[65535] +
							     all->bg[65535])));
	report_set(root, "average", json_string(sums ? "per-image-mean" :
						"pooled"));
	for (long i = 0; i < nthr; i++) {
		struct confusion cf;
		json_t *o = report_object(), *fig;
		double f1;

		prob_hist_confusion(all, cutoff[i], &cf);
		if (sums) {
			struct metric_sums mean;
			metric_sums_mean(&sums[i], &mean);
			fig = report_means(&mean, "f1");
			f1 = mean.dice;
		} else {
			fig = report_figures(&cf, "f1", 0);
			f1 = metric_dice(&cf);
		}
		report_set(o, "threshold", json_real(thr[i]));
		report_merge(o, fig);
		report_counts(o, &cf);
		report_append(list, o);
		if (i == 0 || better(f1, thr[i], best_f1, thr[best])) {
			best = i;
			best_f1 = f1;
			best_cf = cf;
		}
	}
	report_set(root, "thresholds", list);
	report_set(root, "best",
		   json_deep_copy(json_array_get(list, (size_t)best)));
	degenerate(thr[best], &best_cf, best_f1, fg_f1, warning, len);
	report_set(root, "all_foreground_f1", json_real(fg_f1));
	report_set(root, "degenerate", json_boolean(warning[0] != '\0'));
	report_set(root, "warning", warning[0] ? json_string(warning) :
		   json_null());
	return root;
}

/* The command line. */
struct opts {
	const char *truth, *pred;
	double from, to, step;
	int per_image;
};

static void
parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"truth", required_argument, NULL, 't'},
		{"from", required_argument, NULL, OPT_FROM},
		{"to", required_argument, NULL, OPT_TO},
		{"step", required_argument, NULL, OPT_STEP},
		{"per-image-mean", no_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){ NULL, "-", 0.0, 1.0, 0.1, 0 };
	while ((c = getopt_long(argc, argv, ":t:mhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->truth = optarg;
			break;
		case OPT_FROM:
			o->from = parse_double(optarg, 0.0, 1.0, "--from");
			break;
		case OPT_TO:
			o->to = parse_double(optarg, 0.0, 1.0, "--to");
			break;
		case OPT_STEP:
			o->step = parse_double(optarg, 1e-6, 1.0, "--step");
			break;
		case 'm':
			o->per_image = 1;
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
	if (o->from > o->to)
		die_usage("--from %g is above --to %g", o->from, o->to);
}

/* The thresholds t_i = from + i * step up to to, rounded to 9 decimals so
 * that 0.3 is the same number here and when read back from the report,
 * into *thr, and their cutoffs into *cutoff; returns their number. */
static long
thresholds(const struct opts *o, double **thr, long **cutoff)
{
	long n = (long)floor((o->to - o->from) / o->step + 1e-9) + 1;

	if (n > MAX_THRESHOLDS)
		die_usage("more than %d thresholds", MAX_THRESHOLDS);
	*thr = xcalloc((size_t)n, sizeof **thr);
	*cutoff = xcalloc((size_t)n, sizeof **cutoff);
	for (long i = 0; i < n; i++) {
		double t = round((o->from + (double)i * o->step) * 1e9) / 1e9;

		(*thr)[i] = t > o->to ? o->to : t;
		(*cutoff)[i] = metric_prob_cutoff((*thr)[i]);
	}
	return n;
}

/* Add one image's n pixels to the per-image sums at every threshold
 * (sums) and at cutoff -1, every pixel foreground (fg_sums). */
static void
add_per_image(const uint16_t *pred, const uint8_t *truth, size_t n,
	      const long *cutoff, long nthr, struct metric_sums *sums,
	      struct metric_sums *fg_sums)
{
	static struct prob_hist one;
	struct confusion cf;

	memset(&one, 0, sizeof one);
	prob_hist_add(&one, pred, truth, n);
	prob_hist_cumulate(&one);
	for (long i = 0; i < nthr; i++) {
		prob_hist_confusion(&one, cutoff[i], &cf);
		metric_sums_add(&sums[i], &cf);
	}
	prob_hist_confusion(&one, -1, &cf);
	metric_sums_add(fg_sums, &cf);
}

int
main(int argc, char **argv)
{
	static struct prob_hist all;
	struct opts o;
	const char *bad;
	int images = 0;
	long nthr, *cutoff;
	double *thr, fg_f1;
	struct metric_sums *sums = NULL, fg_sums = {0, 0, 0, 0, 0, 0};
	char warning[512];
	struct evalpair *e;
	struct evalpair_item it;
	json_t *root;

	prog_init(argc, argv);
	parse_options(argc, argv, &o);
	nthr = thresholds(&o, &thr, &cutoff);
	if (o.per_image)
		sums = xcalloc((size_t)nthr, sizeof *sums);

	outfile_input(o.pred);
	outfile_input(o.truth);
	if ((bad = evalpair_usage_error(o.pred, o.truth)))
		die_usage("%s", bad);
	e = evalpair_open(o.pred, o.truth, EVALPAIR_PROB);
	while (evalpair_next(e, &it)) {
		size_t n = (size_t)it.width * it.height;

		prob_hist_add(&all, it.pred->data, it.truth_mask, n);
		if (o.per_image)
			add_per_image(it.pred->data, it.truth_mask, n, cutoff,
				      nthr, sums, &fg_sums);
		images++;
	}
	if (images == 0)
		die("%s: no images", evalpair_pred_name(e));
	evalpair_close(e);
	prob_hist_cumulate(&all);

	/* cutoff -1: every pixel foreground */
	if (o.per_image) {
		struct metric_sums mean;

		metric_sums_mean(&fg_sums, &mean);
		fg_f1 = mean.dice;
	} else {
		struct confusion fg_cf;

		prob_hist_confusion(&all, -1, &fg_cf);
		fg_f1 = metric_dice(&fg_cf);
	}
	root = build_report(&all, sums, thr, cutoff, nthr, images, fg_f1,
			    warning, sizeof warning);
	report_print(root, REPORT_INDENTED(15));
	json_decref(root);
	free(thr);
	free(cutoff);
	free(sums);
	close_stdout();
	if (warning[0])
		fprintf(stderr, "%s: warning: %s\n", prog_name(), warning);
	return 0;
}
