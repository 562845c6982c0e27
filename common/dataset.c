#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pamio.h"
#include "util.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV_PRIME;
	return h;
}

void
dataset_init(struct dataset *ds, const struct normalize *norm)
{
	memset(ds, 0, sizeof *ds);
	ds->hash = FNV_OFFSET;
	ds->norm.mode = NORMALIZE_MAXVAL;
	if (norm)
		ds->norm = *norm;
}

/* Append img, image nth of the stream name (named when out of memory). */
static void
add_sample(struct dataset *ds, const struct image *img, const char *name,
	   int nth)
{
	size_t npix = (size_t)img->width * img->height;
	int c = ds->channels, depth = img->depth;
	size_t nval = npix * c;
	struct dataset_sample *s;
	uint32_t shape[4] = { img->width, img->height, c, img->maxval };
	char what[320];
	void *grown;

	grown = realloc(ds->samples, ((size_t)ds->count + 1) * sizeof *s);
	if (!grown)
		die_out_of_memory((size_t)ds->count + 1, sizeof *s,
				  "the list of samples");
	ds->samples = grown;
	s = &ds->samples[ds->count];
	memset(s, 0, sizeof *s);
	s->maxval = img->maxval;
	s->width = img->width;
	s->height = img->height;
	normalize_image(&ds->norm, img->data, npix, depth, c, img->maxval,
			&s->map);
	snprintf(what, sizeof what, "the mask of image %d of %s", nth, name);
	s->mask = xmalloc_for(npix, 1, what);
	snprintf(what, sizeof what, "image %d of %s", nth, name);
	if (img->maxval <= 255) {
		uint8_t *d = xmalloc_for(nval, 1, what);
		for (size_t p = 0; p < npix; p++)
			for (int k = 0; k < c; k++)
				d[p * c + k] = (uint8_t)img->data[p * depth + k];
		s->data = d;
		ds->bytes += nval;
	} else {
		uint16_t *d = xmalloc_for(nval, sizeof *d, what);
		for (size_t p = 0; p < npix; p++)
			for (int k = 0; k < c; k++)
				d[p * c + k] = img->data[p * depth + k];
		s->data = d;
		ds->bytes += nval * sizeof *d;
	}
	ds->count++;
	for (size_t p = 0; p < npix; p++) {
		s->mask[p] = (uint8_t)image_mask_at(img, p);
		s->positives += s->mask[p];
	}
	ds->bytes += npix;
	ds->hash = fnv(ds->hash, shape, sizeof shape);
	ds->hash = fnv(ds->hash, s->data, img->maxval <= 255 ? nval : 2 * nval);
	ds->hash = fnv(ds->hash, s->mask, npix);
	if (image_has_labels(img)) {
		snprintf(what, sizeof what, "the labels of image %d of %s",
			 nth, name);
		s->labels = xmalloc_for(npix, sizeof *s->labels, what);
		for (size_t p = 0; p < npix; p++)
			s->labels[p] = (uint16_t)image_label_at(img, p);
		ds->bytes += npix * sizeof *s->labels;
		ds->labelled++;
		ds->hash = fnv(ds->hash, s->labels, npix * sizeof *s->labels);
	}
}

int
dataset_read(struct dataset *ds, const char *path)
{
	struct pamio_reader *r = pamio_open(path, PAMIO_SAMPLE);
	struct image img;
	int n = 0;

	memset(&img, 0, sizeof img);
	while (pamio_read(r, &img)) {
		n++;
		if (ds->count == 0) {
			ds->width = img.width;
			ds->height = img.height;
			ds->channels = image_channels(&img);
		} else if (image_channels(&img) != ds->channels) {
			die("%s: image %d: %d channel(s), the first sample has "
			    "%d", pamio_name(r), n, image_channels(&img),
			    ds->channels);
		} else if (img.width != ds->width || img.height != ds->height) {
			ds->width = ds->height = 0;
		}
		add_sample(ds, &img, pamio_name(r), n);
		image_free(&img);
	}
	pamio_close(r);
	return n;
}

void
dataset_window(const struct dataset *ds, int i, int x0, int y0, int w, int h,
	       float *input, float *target, uint16_t *labels)
{
	const struct dataset_sample *s = &ds->samples[i];
	int c = ds->channels;
	double off = s->map.offset, range = s->map.range;

	for (int y = 0; y < h; y++) {
		size_t from = (size_t)(y0 + y) * s->width + x0;
		size_t to = (size_t)y * w;

		for (size_t k = 0; input && k < (size_t)w * c; k++) {
			double v = s->maxval <= 255
				   ? ((const uint8_t *)s->data)[from * c + k]
				   : ((const uint16_t *)s->data)[from * c + k];
			input[to * c + k] = (float)((v - off) / range);
		}
		for (int x = 0; target && x < w; x++)
			target[to + x] = s->mask[from + x];
		if (labels)
			memcpy(labels + to, s->labels + from,
			       (size_t)w * sizeof *labels);
	}
}

void
dataset_fill(const struct dataset *ds, const int *idx, int n, float *input,
	     float *target)
{
	size_t npix = (size_t)ds->width * ds->height;

	for (int i = 0; i < n; i++)
		dataset_window(ds, idx[i], 0, 0, ds->width, ds->height,
			       input ? input + i * npix * ds->channels : NULL,
			       target ? target + i * npix : NULL, NULL);
}

void
dataset_fill_labels(const struct dataset *ds, const int *idx, int n,
		    uint16_t *labels)
{
	size_t npix = (size_t)ds->width * ds->height;

	for (int i = 0; i < n; i++)
		dataset_window(ds, idx[i], 0, 0, ds->width, ds->height, NULL,
			       NULL, labels + i * npix);
}

int
dataset_first_unlabelled(const struct dataset *ds)
{
	for (int i = 0; i < ds->count; i++)
		if (!ds->samples[i].labels)
			return i;
	return -1;
}

void
dataset_free(struct dataset *ds)
{
	struct normalize norm = ds->norm;

	for (int i = 0; i < ds->count; i++) {
		free(ds->samples[i].data);
		free(ds->samples[i].mask);
		free(ds->samples[i].labels);
	}
	free(ds->samples);
	dataset_init(ds, &norm);
}
