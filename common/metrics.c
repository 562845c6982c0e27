#include "metrics.h"

void
confusion_add(struct confusion *c, const float *prob, const float *truth,
	      size_t n, double threshold)
{
	uint64_t tp = 0, fp = 0, fn = 0, tn = 0;

	for (size_t i = 0; i < n; i++) {
		int p = prob[i] > threshold;
		int t = truth[i] > 0.5f;
		tp += p && t;
		fp += p && !t;
		fn += !p && t;
		tn += !p && !t;
	}
	c->tp += tp;
	c->fp += fp;
	c->fn += fn;
	c->tn += tn;
}

static double
ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : 1.0;
}

double
metric_dice(const struct confusion *c)
{
	return ratio(2 * c->tp, 2 * c->tp + c->fp + c->fn);
}

double
metric_iou(const struct confusion *c)
{
	return ratio(c->tp, c->tp + c->fp + c->fn);
}

double
metric_precision(const struct confusion *c)
{
	return ratio(c->tp, c->tp + c->fp);
}

double
metric_recall(const struct confusion *c)
{
	return ratio(c->tp, c->tp + c->fn);
}

double
metric_accuracy(const struct confusion *c)
{
	return ratio(c->tp + c->tn, c->tp + c->fp + c->fn + c->tn);
}
