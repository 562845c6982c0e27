/* evalpair: a prediction stream and a truth stream read in step, image by
 * image, with their counts, sizes and ids checked; shared by the filters
 * that compare a prediction with the truth (threshold-sweep, score,
 * confusion-render). See "Pairs of streams" in unetpipe-formats(5). */
#ifndef UNETPIPE_EVALPAIR_H
#define UNETPIPE_EVALPAIR_H

#include <stdint.h>

#include "image.h"

/* Kinds of prediction a reader accepts (or-ed together). */
enum {
	EVALPAIR_PROB = 1, /* GRAYSCALE maxval 65535: p = v / 65535 */
	EVALPAIR_MASK = 2, /* depth 1, maxval 1 or 255, samples 0 or maxval */
	EVALPAIR_LABEL = 4 /* LABEL: instance labels, foreground = label != 0 */
};

/* One pair, owned by the reader and valid until the next evalpair_next()
 * or evalpair_close(). */
struct evalpair_item {
	int index;                 /* position in both streams, from 1 */
	int width, height;         /* the same for both images */
	const char *id;            /* the prediction's id, else the truth's,
				    * else NULL */
	int is_prob;               /* 1: probability map, 0: otherwise */
	int is_label;              /* 1: the prediction is a LABEL image */
	int truth_labels;          /* 1: the truth holds instance labels
				    * (*_LABEL sample or LABEL image) */
	const struct image *pred;  /* the prediction (depth 1): as read, or
				    * for a multi-output map (FOREGROUND_*)
				    * its channel 0, the foreground, as a
				    * GRAYSCALE image */
	const struct image *truth; /* the truth image as read */
	const uint8_t *truth_mask; /* width * height: 1 = truth foreground */
};

struct evalpair;

/* The usage error of a filter given pred_path and truth_path, both "-"
 * ("the prediction and the truth cannot both be stdin"), else NULL. */
const char *evalpair_usage_error(const char *pred_path,
				 const char *truth_path);

/* Open the prediction stream pred_path (usually "-") and the truth stream
 * truth_path ("-" for stdin; not both: the caller checks
 * evalpair_usage_error first, else this dies with its message, exit 1).
 * accept says which predictions are allowed (EVALPAIR_PROB and/or
 * EVALPAIR_MASK). Dies "prog: path: strerror" when a stream cannot be
 * opened. */
struct evalpair *evalpair_open(const char *pred_path, const char *truth_path,
			       int accept);

/* Read the next pair into *it. Returns 1 for a pair, 0 when both streams
 * ended together (at once for two empty streams). Dies with one line
 * naming the stream and the image index when an image is bad, when the
 * prediction is not one of the accepted kinds (a GRAYSCALE image or a
 * multi-output FOREGROUND_* map of maxval 65535, a depth-1 image of maxval
 * 1 or 255 whose samples are all 0 or maxval, a LABEL image), when the
 * truth is neither a *_MASK or *_LABEL sample (truth = last channel) nor a
 * LABEL image nor a one-channel mask of maxval 1 or 255, when the sizes
 * differ, when both carry ids and they differ, and when one stream has
 * more images than the other. */
int evalpair_next(struct evalpair *e, struct evalpair_item *it);

/* The names of the two streams for messages ("stdin" for "-"). */
const char *evalpair_pred_name(const struct evalpair *e);
const char *evalpair_truth_name(const struct evalpair *e);

/* Close both streams and free the reader and its current pair. */
void evalpair_close(struct evalpair *e);

/* Write the prediction's foreground into out (width * height, 0/1): for a
 * probability map where v > cutoff (see metric_prob_cutoff), for a binary
 * mask where v > maxval / 2, for a label image where v != 0 (cutoff
 * unused). */
void evalpair_pred_mask(const struct evalpair_item *it, long cutoff,
			uint8_t *out);

#endif
