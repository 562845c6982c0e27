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

void
confusion_add_masks(struct confusion *c, const uint8_t *pred,
		    const uint8_t *truth, size_t n)
{
	uint64_t tp = 0, fp = 0, fn = 0, tn = 0;

	for (size_t i = 0; i < n; i++) {
		int p = pred[i] != 0;
		int t = truth[i] != 0;
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

long
metric_prob_cutoff(double threshold)
{
	long v;

	if (!(threshold >= 0.0))
		return -1;
	if (threshold >= 1.0)
		return 65535;
	v = (long)(threshold * 65535.0);
	/* The product may round either way: settle on the exact rule. */
	while (v < 65535 && (double)(v + 1) / 65535.0 <= threshold)
		v++;
	while (v >= 0 && (double)v / 65535.0 > threshold)
		v--;
	return v;
}

void
prob_hist_add(struct prob_hist *h, const uint16_t *v, const uint8_t *truth,
	      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (truth[i])
			h->fg[v[i]]++;
		else
			h->bg[v[i]]++;
	}
}

void
prob_hist_cumulate(struct prob_hist *h)
{
	for (int v = 1; v < 65536; v++) {
		h->fg[v] += h->fg[v - 1];
		h->bg[v] += h->bg[v - 1];
	}
}

void
prob_hist_confusion(const struct prob_hist *h, long cutoff,
		    struct confusion *c)
{
	uint64_t fg_below = cutoff >= 0 ? h->fg[cutoff] : 0;
	uint64_t bg_below = cutoff >= 0 ? h->bg[cutoff] : 0;

	c->tp = h->fg[65535] - fg_below;
	c->fn = fg_below;
	c->fp = h->bg[65535] - bg_below;
	c->tn = bg_below;
}

void
metric_sums_add(struct metric_sums *s, const struct confusion *c)
{
	s->dice += metric_dice(c);
	s->iou += metric_iou(c);
	s->precision += metric_precision(c);
	s->recall += metric_recall(c);
	s->accuracy += metric_accuracy(c);
	s->n++;
}

void
metric_sums_mean(const struct metric_sums *s, struct metric_sums *mean)
{
	double d = s->n > 1 ? (double)s->n : 1.0;

	mean->dice = s->dice / d;
	mean->iou = s->iou / d;
	mean->precision = s->precision / d;
	mean->recall = s->recall / d;
	mean->accuracy = s->accuracy / d;
	mean->n = s->n;
}
