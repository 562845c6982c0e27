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

#endif
