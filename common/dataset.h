/* dataset: a set of samples (images with their truth masks, and their
 * instance labels when they have them) held in memory compactly, turned
 * into float tensors a batch at a time. */
#ifndef UNETPIPE_DATASET_H
#define UNETPIPE_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "normalize.h"

/* One sample as read: channels-last raw values, a 0/1 mask and, for a
 * *_LABEL sample, its instance labels. */
struct dataset_sample {
	void *data;         /* height * width * channels values: uint8_t when
			       maxval <= 255, uint16_t otherwise */
	uint8_t *mask;      /* height * width values, 1 = foreground */
	uint16_t *labels;   /* height * width labels (0 background), or NULL
			       for a *_MASK sample */
	unsigned maxval;    /* 1 .. 65535 */
	uint64_t positives; /* number of foreground mask pixels */
	int width, height;
	struct normalize_map map; /* its normalisation (the data set's rule) */
};

/* Every sample has the same channel count; sizes may differ. */
struct dataset {
	int count;
	int width, height; /* every sample's size, 0 while empty or when the
			      samples' sizes differ */
	int channels;      /* 0 while empty */
	struct normalize norm; /* how values become inputs */
	int labelled;  /* number of samples with labels */
	struct dataset_sample *samples;
	size_t bytes;  /* memory held by the samples' values and masks */
	uint64_t hash; /* FNV-1a over every sample's shape, maxval, values,
			  mask and labels (if any), in stream order: tells
			  two data sets apart */
};

/* An empty data set whose samples will be normalised by norm (NULL:
 * maxval). */
void dataset_init(struct dataset *ds, const struct normalize *norm);

/* Read every image of the stream at path ("-" is stdin) and append it to
 * ds, with its normalize_map under ds->norm. Only RGB_MASK,
 * GRAYSCALE_MASK, RGB_LABEL and GRAYSCALE_LABEL images are accepted (a
 * *_LABEL sample keeps its labels); every image must have the channel
 * count of the data set's first sample (sizes may differ). Bad data dies
 * "prog: NAME: image K: what" (K counted from 1 in this stream). Returns
 * the number of images read. */
int dataset_read(struct dataset *ds, const char *path);

/* Fill w x h pixels of sample i from (x0, y0), a window inside the
 * sample: its normalised values into input (h * w * channels floats,
 * NHWC; maxval: each value divided by the sample's maxval, in double as
 * the reference does; percentile: (value - offset) * scale), its mask
 * into target (h * w floats, 0 or 1) and its labels into labels (h * w
 * values; the sample must have labels); any of the three may be NULL. */
void dataset_window(const struct dataset *ds, int i, int x0, int y0, int w,
		    int h, float *input, float *target, uint16_t *labels);

/* dataset_window of the whole samples idx[0 .. n-1], all of the data
 * set's one size, one after the other (n * height * width * channels
 * input floats, n * height * width targets); either may be NULL. */
void dataset_fill(const struct dataset *ds, const int *idx, int n,
		  float *input, float *target);

/* Copy the labels of the samples idx[0 .. n-1] (all of the data set's one
 * size, all with labels) into labels (n * height * width values). */
void dataset_fill_labels(const struct dataset *ds, const int *idx, int n,
			 uint16_t *labels);

/* The index of the first sample without labels, or -1 when all have. */
int dataset_first_unlabelled(const struct dataset *ds);

/* Free every sample and empty ds. */
void dataset_free(struct dataset *ds);

#endif
