/* metrics: pixel confusion counts and the figures made from them. */
#ifndef UNETPIPE_METRICS_H
#define UNETPIPE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct confusion {
	uint64_t tp, fp, fn, tn;
};

/* Add n pixels: predicted foreground where prob[i] > threshold, truth
 * foreground where truth[i] > 0.5. */
void confusion_add(struct confusion *c, const float *prob,
		   const float *truth, size_t n, double threshold);

/* Dice = F1 = 2tp / (2tp + fp + fn); 1 when prediction and truth are both
 * empty (nothing to find, nothing found). */
double metric_dice(const struct confusion *c);

/* IoU = tp / (tp + fp + fn); 1 when both are empty. */
double metric_iou(const struct confusion *c);

/* Precision = tp / (tp + fp); 1 when nothing was predicted. */
double metric_precision(const struct confusion *c);

/* Recall = tp / (tp + fn); 1 when the truth is empty. */
double metric_recall(const struct confusion *c);

/* Accuracy = (tp + tn) / all; 1 for no pixels. */
double metric_accuracy(const struct confusion *c);

/* Add n pixels of two 0/1 masks (nonzero = foreground). */
void confusion_add_masks(struct confusion *c, const uint8_t *pred,
			 const uint8_t *truth, size_t n);

/* Probability maps hold p = v / 65535 as 16-bit values v. Returns the
 * largest v in [-1, 65535] with v / 65535.0 <= threshold (in double), so
 * that a pixel is predicted foreground (p > threshold) exactly when
 * v > metric_prob_cutoff(threshold). */
long metric_prob_cutoff(double threshold);

/* Counts of 16-bit probability values, split by the truth: fg[v] for
 * truth-foreground pixels, bg[v] for the others. */
struct prob_hist {
	uint64_t fg[65536], bg[65536];
};

/* Add n pixels: values v[i], truth[i] nonzero = foreground. */
void prob_hist_add(struct prob_hist *h, const uint16_t *v,
		   const uint8_t *truth, size_t n);

/* Turn the counts into cumulative counts in place: afterwards fg[v] and
 * bg[v] count the pixels with value <= v. */
void prob_hist_cumulate(struct prob_hist *h);

/* Set *c to the counts of a cumulated histogram for predicted foreground
 * where v > cutoff (cutoff in [-1, 65535], see metric_prob_cutoff). */
void prob_hist_confusion(const struct prob_hist *h, long cutoff,
			 struct confusion *c);

/* Sums of per-image figures, for means over images. */
struct metric_sums {
	double dice, iou, precision, recall, accuracy;
	uint64_t n;
};

/* Add one image's figures (computed from its counts) to the sums. */
void metric_sums_add(struct metric_sums *s, const struct confusion *c);

/* Means of the summed figures (the sums themselves when n is 0 or 1);
 * n is copied. */
void metric_sums_mean(const struct metric_sums *s, struct metric_sums *mean);

#endif
