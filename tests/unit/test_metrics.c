/* Unit tests of common/metrics and common/instances. */
#include <stdlib.h>
#include <string.h>

#include "instances.h"
#include "metrics.h"
#include "rng.h"
#include "tap.h"

static int
near(double a, double b)
{
	return fabs(a - b) <= 1e-12;
}

static void
test_figures(void)
{
	/* tp 3, fp 1, fn 2, tn 4 */
	static const uint8_t pred[10] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
	static const uint8_t truth[10] = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};
	float fpred[10], ftruth[10];
	struct confusion c = {0}, f = {0}, z = {0};

	confusion_add_masks(&c, pred, truth, 10);
	tap_ok(c.tp == 3 && c.fp == 1 && c.fn == 2 && c.tn == 4,
	       "mask counts tp 3 fp 1 fn 2 tn 4");
	tap_ok(metric_dice(&c) == 6.0 / 9.0, "dice 2*3/(6+1+2) = 2/3");
	tap_ok(metric_iou(&c) == 0.5, "iou 3/(3+1+2) = 1/2");
	tap_ok(metric_precision(&c) == 0.75, "precision 3/4");
	tap_ok(metric_recall(&c) == 0.6, "recall 3/5");
	tap_ok(metric_accuracy(&c) == 0.7, "accuracy 7/10");

	for (int i = 0; i < 10; i++) {
		fpred[i] = pred[i] ? 0.7f : 0.3f;
		ftruth[i] = truth[i];
	}
	confusion_add(&f, fpred, ftruth, 10, 0.5);
	tap_ok(memcmp(&f, &c, sizeof c) == 0, "confusion_add agrees");
	confusion_add(&f, fpred, ftruth, 10, 0.7);
	tap_ok(f.tp == 3 && f.fp == 1 && f.fn == 7 && f.tn == 9,
	       "confusion_add adds, p > t is strict");

	tap_ok(metric_dice(&z) == 1 && metric_iou(&z) == 1 &&
	       metric_precision(&z) == 1 && metric_recall(&z) == 1 &&
	       metric_accuracy(&z) == 1, "no pixels: every figure is 1");
	z.tn = 5;
	tap_ok(metric_dice(&z) == 1 && metric_iou(&z) == 1,
	       "both empty: dice and iou 1");
	z.fn = 5;
	tap_ok(metric_dice(&z) == 0 && metric_iou(&z) == 0 &&
	       metric_precision(&z) == 1 && metric_recall(&z) == 0 &&
	       metric_accuracy(&z) == 0.5,
	       "nothing predicted, truth not empty: dice 0, precision 1");
}

static void
test_cutoff(void)
{
	int bad = 0;

	tap_ok(metric_prob_cutoff(0.0) == 0, "cutoff(0) = 0: any v > 0 is fg");
	tap_ok(metric_prob_cutoff(0.5) == 32767, "cutoff(0.5) = 32767");
	tap_ok(metric_prob_cutoff(1.0) == 65535, "cutoff(1) = 65535: no fg");
	tap_ok(metric_prob_cutoff(0.2) == 13107, "cutoff(0.2) = 13107");
	tap_ok(metric_prob_cutoff(0.6) == 39321, "cutoff(0.6) = 39321");
	tap_ok(metric_prob_cutoff(1.0 / 65535) == 1, "cutoff(1/65535) = 1");
	tap_ok(metric_prob_cutoff(-0.5) == -1, "cutoff(< 0) = -1: all fg");
	for (int i = 0; i <= 200; i++) {
		double t = i / 200.0;
		long cut = metric_prob_cutoff(t);
		for (long v = 0; v < 65536; v++)
			bad += (v > cut) != ((double)v / 65535.0 > t);
	}
	tap_ok(bad == 0, "v > cutoff(t) iff v/65535 > t, 201 thresholds");
}

static void
test_hist(void)
{
	enum { N = 5000 };
	static struct prob_hist h;
	uint16_t v[N];
	uint8_t t[N];
	struct rng r;
	int bad = 0;

	rng_seed(&r, 7);
	for (int i = 0; i < N; i++) {
		v[i] = (uint16_t)rng_below(&r, 65536);
		t[i] = rng_below(&r, 3) == 0;
	}
	v[0] = 0;
	v[1] = 65535;
	prob_hist_add(&h, v, t, N);
	prob_hist_cumulate(&h);
	for (long cut = -1; cut <= 65535; cut += 97) {
		struct confusion a = {0}, b;
		uint8_t p[N];
		for (int i = 0; i < N; i++)
			p[i] = v[i] > cut;
		confusion_add_masks(&a, p, t, N);
		prob_hist_confusion(&h, cut, &b);
		bad += memcmp(&a, &b, sizeof a) != 0;
	}
	tap_ok(bad == 0, "histogram counts equal direct counts");
}

static void
test_sums(void)
{
	struct confusion a = {1, 1, 0, 2}, b = {0, 0, 0, 4};
	struct metric_sums s = {0}, m;

	metric_sums_add(&s, &a);
	metric_sums_add(&s, &b);
	metric_sums_mean(&s, &m);
	/* a: dice 2/3, iou 1/2, precision 1/2, recall 1, accuracy 3/4;
	 * b (both empty): all 1. */
	tap_ok(m.n == 2 && near(m.dice, (2.0 / 3 + 1) / 2) &&
	       near(m.iou, 0.75) && near(m.precision, 0.75) &&
	       near(m.recall, 1) && near(m.accuracy, 0.875),
	       "per-image means");
}

/* Parse a picture of '#' (foreground) and '.' rows. */
static uint8_t *
picture(const char *rows, int *w, int *h)
{
	uint8_t *m = calloc(strlen(rows) + 1, 1);
	int n = 0;

	*w = (int)strcspn(rows, "\n");
	*h = 0;
	for (const char *p = rows; *p; p++) {
		if (*p == '\n') {
			++*h;
			continue;
		}
		m[n++] = *p == '#';
	}
	if (n % *w == 0)
		*h = n / *w;
	return m;
}

static uint32_t
count(const char *rows, int connectivity, uint32_t *labels_out)
{
	int w, h;
	uint8_t *m = picture(rows, &w, &h);
	uint32_t *labels = malloc(sizeof *labels * (size_t)w * h);
	uint32_t n = instances_label(m, w, h, connectivity, labels);

	if (labels_out)
		memcpy(labels_out, labels, sizeof *labels * (size_t)w * h);
	free(labels);
	free(m);
	return n;
}

static void
test_components(void)
{
	static const char *diagonal = "#..\n.#.\n..#\n";
	static const char *anti = ".#\n#.\n";
	static const char *cup = "#.#\n#.#\n###\n";
	static const char *late = "..#\n#.#\n###\n";
	static const char *three = ".#.#\n...#\n##..\n";
	static const uint32_t three_labels[12] = {0, 1, 0, 2, 0, 0, 0, 2,
						  3, 3, 0, 0};
	static const char *ring = "#####\n#...#\n#.#.#\n#...#\n#####\n";
	uint32_t labels[25];
	uint8_t none[6] = {0};

	tap_ok(count(diagonal, 4, NULL) == 3, "diagonal: 3 objects with 4");
	tap_ok(count(diagonal, 8, NULL) == 1, "diagonal: 1 object with 8");
	tap_ok(count(anti, 4, NULL) == 2, "anti-diagonal: 2 objects with 4");
	tap_ok(count(anti, 8, NULL) == 1,
	       "anti-diagonal (north-east neighbour): 1 object with 8");
	tap_ok(count(cup, 4, NULL) == 1, "cup: the arms join at the bottom");
	count(late, 4, labels);
	tap_ok(labels[2] == 1 && labels[3] == 1 && labels[8] == 1,
	       "late merge: every pixel gets label 1");
	tap_ok(count(three, 4, labels) == 3 &&
	       memcmp(labels, three_labels, sizeof three_labels) == 0,
	       "labels numbered in raster order of first pixels");
	tap_ok(count(ring, 8, NULL) == 2 && count(ring, 4, NULL) == 2,
	       "ring and the dot inside: 2 objects");
	tap_ok(instances_label(none, 3, 2, 8, labels) == 0,
	       "empty mask: 0 objects");
}

/* Label a one-row picture. */
static uint32_t
row_labels(const char *row, uint32_t *labels)
{
	int w, h;
	uint8_t *m = picture(row, &w, &h);
	uint32_t n = instances_label(m, w, 1, 8, labels);

	free(m);
	return n;
}

static void
test_dsb(void)
{
	/*
	 * One row, 29 pixels (x = 0..28):
	 *
	 *   truth  ##########.###..######..####.   T1 0-9, T2 12-14,
	 *                                          T3 17-22, T4 25-28
	 *   pred   ##.#######.###########..###..   P1 0-1, P2 3-9,
	 *                                          P3 12-22, P4 25-27
	 *
	 * T1 is split into P1 and P2; T2 and T3 are merged into P3.
	 * IoUs: P1/T1 2/10 = 0.2, P2/T1 7/10 = 0.7, P3/T2 3/11 = 0.27,
	 * P3/T3 6/11 = 0.545, P4/T4 3/4 = 0.75.
	 * 4 predicted and 4 true objects; TP(t) = pairs with IoU > t:
	 *   t = 0.50: P2/T1, P3/T3, P4/T4: TP 3, FP 1, FN 1 -> 3/5
	 *   t = 0.55, 0.60, 0.65: P2/T1, P4/T4: TP 2, FP 2, FN 2 -> 2/6
	 *   t = 0.70: P4/T4 (0.7 > 0.7 is false): TP 1 -> 1/7
	 *   t = 0.75 .. 0.95: TP 0 -> 0
	 * score = (3/5 + 3 * 1/3 + 1/7) / 10 = 61/350.
	 */
	static const char *truth = "##########.###..######..####.\n";
	static const char *pred = "##.#######.###########..###..\n";
	static const uint32_t want[INSTANCES_NTHRESH] = {3, 2, 2, 2, 1};
	uint32_t tl[29], pl[29], none[29] = {0};
	uint32_t nt = row_labels(truth, tl), np = row_labels(pred, pl);
	struct instance_score s;

	instances_score(pl, np, tl, nt, 29, &s);
	tap_ok(s.pred_objects == 4 && s.true_objects == 4, "4 and 4 objects");
	tap_ok(memcmp(s.matches, want, sizeof want) == 0,
	       "matches 3 2 2 2 1 0 0 0 0 0");
	tap_ok(near(s.precision[0], 0.6) && near(s.precision[1], 1.0 / 3) &&
	       near(s.precision[4], 1.0 / 7) && s.precision[5] == 0,
	       "precision(t) 3/5, 1/3, 1/7, 0");
	tap_ok(near(s.score, 61.0 / 350), "score 61/350 = %.6f", s.score);

	instances_score(none, 0, none, 0, 29, &s);
	tap_ok(s.score == 1, "no objects in either: score 1");
	instances_score(none, 0, tl, nt, 29, &s);
	tap_ok(s.score == 0 && s.true_objects == 4,
	       "nothing predicted: score 0");
	instances_score(pl, np, none, 0, 29, &s);
	tap_ok(s.score == 0, "nothing true: score 0");
	instances_score(tl, nt, tl, nt, 29, &s);
	tap_ok(s.score == 1, "the truth against itself: score 1");
	tap_ok(instances_iou_threshold(0) == 0.5 &&
	       instances_iou_threshold(9) == 0.95, "IoU thresholds 0.5..0.95");
}

/* Many objects: the sparse table against a dense one. */
static void
test_many(void)
{
	enum { W = 120, H = 100, N = W * H };
	static uint8_t a[N], b[N];
	static uint32_t la[N], lb[N];
	uint32_t na, nb, want[INSTANCES_NTHRESH] = {0};
	uint32_t *inter, *area_a, *area_b;
	struct instance_score s;
	struct rng r;

	rng_seed(&r, 11);
	for (int i = 0; i < N; i++) {
		a[i] = rng_below(&r, 5) < 2;
		b[i] = rng_below(&r, 5) < 2 || (a[i] && rng_below(&r, 2));
	}
	na = instances_label(a, W, H, 4, la);
	nb = instances_label(b, W, H, 4, lb);
	inter = calloc((size_t)(na + 1) * (nb + 1), sizeof *inter);
	area_a = calloc(na + 1, sizeof *area_a);
	area_b = calloc(nb + 1, sizeof *area_b);
	for (int i = 0; i < N; i++) {
		inter[(size_t)la[i] * (nb + 1) + lb[i]]++;
		area_a[la[i]]++;
		area_b[lb[i]]++;
	}
	for (uint32_t i = 1; i <= na; i++)
		for (uint32_t j = 1; j <= nb; j++) {
			double x = inter[(size_t)i * (nb + 1) + j];
			double iou = x / (area_a[i] + area_b[j] - x);
			for (int k = 0; k < INSTANCES_NTHRESH; k++)
				want[k] += x > 0 &&
					   iou > (50 + 5 * k) / 100.0 + 1e-12;
		}
	instances_score(la, na, lb, nb, N, &s);
	tap_diag("%u and %u objects", na, nb);
	tap_ok(na > 1000 && memcmp(s.matches, want, sizeof want) == 0,
	       "many objects: matches equal a dense count");
	free(inter);
	free(area_a);
	free(area_b);
}

/* Labels as a label image gives them: not consecutive, not in raster
 * order, one of them in two pieces; renumbered 1..m by first pixel. */
static void
test_renumber(void)
{
	uint32_t l[12] = { 0, 907, 907, 0, 5, 0, 65535, 907, 5, 0, 0, 65535 };
	static const uint32_t want[12] = { 0, 1, 1, 0, 2, 0, 3, 1, 2, 0, 0, 3 };
	uint32_t zero[4] = { 0 };

	tap_ok(instances_renumber(l, 12) == 3, "renumber: 3 objects");
	tap_ok(memcmp(l, want, sizeof want) == 0,
	       "renumber: 907 5 65535 become 1 2 3 in raster order, 0 stays");
	tap_ok(instances_renumber(l, 12) == 3 && memcmp(l, want, sizeof want) == 0,
	       "renumber: labels already 1..m stay as they are");
	tap_ok(instances_renumber(zero, 4) == 0 && zero[0] == 0 && zero[3] == 0,
	       "renumber: an all-background image has no object");
}

int
main(void)
{
	test_figures();
	test_cutoff();
	test_hist();
	test_sums();
	test_components();
	test_dsb();
	test_many();
	test_renumber();
	return tap_done();
}
