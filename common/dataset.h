/* dataset: a set of samples (images with their truth masks, and their
 * instance labels when they have them) held in memory compactly, turned
 * into float tensors a batch at a time. */
#ifndef UNETPIPE_DATASET_H
#define UNETPIPE_DATASET_H

#include <stddef.h>
#include <stdint.h>

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
};

/* Every sample has the same width, height and channel count. */
struct dataset {
	int count;
	int width, height, channels; /* 0 while empty */
	int labelled;  /* number of samples with labels */
	struct dataset_sample *samples;
	size_t bytes;  /* memory held by the samples' values and masks */
	uint64_t hash; /* FNV-1a over every sample's shape, maxval, values,
			  mask and labels (if any), in stream order: tells
			  two data sets apart */
};

/* An empty data set. */
void dataset_init(struct dataset *ds);

/* Read every image of the stream at path ("-" is stdin) and append it to
 * ds. Only RGB_MASK, GRAYSCALE_MASK, RGB_LABEL and GRAYSCALE_LABEL images
 * are accepted (a *_LABEL sample keeps its labels); every image
 * must have the size and channel count of the data set's first sample.
 * Bad data dies "prog: NAME: image K: what" (K counted from 1 in this
 * stream). Returns the number of images read. */
int dataset_read(struct dataset *ds, const char *path);

/* Fill the network input (n * height * width * channels floats, NHWC, each
 * value divided by its sample's maxval) and the target (n * height * width
 * floats, 0 or 1) with the samples idx[0 .. n-1]; either may be NULL. */
void dataset_fill(const struct dataset *ds, const int *idx, int n,
		  float *input, float *target);

/* Copy the labels of the samples idx[0 .. n-1] into labels (n * height *
 * width values); every one of them must have labels. */
void dataset_fill_labels(const struct dataset *ds, const int *idx, int n,
			 uint16_t *labels);

/* The index of the first sample without labels, or -1 when all have. */
int dataset_first_unlabelled(const struct dataset *ds);

/* Free every sample and empty ds. */
void dataset_free(struct dataset *ds);

#endif
