#include "evalpair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pamio.h"
#include "util.h"

struct evalpair {
	struct pamio_reader *pred, *truth;
	int accept;
	struct image pred_img, truth_img;
	uint8_t *mask;
	size_t mask_cap;
};

const char *
evalpair_usage_error(const char *pred_path, const char *truth_path)
{
	if (strcmp(pred_path, "-") == 0 && strcmp(truth_path, "-") == 0)
		return "the prediction and the truth cannot both be stdin";
	return NULL;
}

struct evalpair *
evalpair_open(const char *pred_path, const char *truth_path, int accept)
{
	const char *bad = evalpair_usage_error(pred_path, truth_path);
	struct evalpair *e;

	if (bad)
		die("%s", bad);
	e = xcalloc(1, sizeof *e);
	e->accept = accept;
	e->pred = pamio_open(pred_path, PAMIO_IMAGE | PAMIO_OUTPUTS |
			     (accept & EVALPAIR_LABEL ? PAMIO_LABEL : 0));
	e->truth = pamio_open(truth_path,
			      PAMIO_IMAGE | PAMIO_SAMPLE | PAMIO_LABEL);
	return e;
}

const char *
evalpair_pred_name(const struct evalpair *e)
{
	return pamio_name(e->pred);
}

const char *
evalpair_truth_name(const struct evalpair *e)
{
	return pamio_name(e->truth);
}

void
evalpair_close(struct evalpair *e)
{
	if (!e)
		return;
	pamio_close(e->pred);
	pamio_close(e->truth);
	image_free(&e->pred_img);
	image_free(&e->truth_img);
	free(e->mask);
	free(e);
}

/* " (id 'ID')" for a message about image p, or "" without an id. */
static const char *
id_note(const struct image *p, char *buf, size_t len)
{
	if (!p->id)
		return "";
	snprintf(buf, len, " (id '%s')", p->id);
	return buf;
}

/* Keep channel 0 (the foreground) of a multi-output map, in place, as a
 * GRAYSCALE image. */
static void
keep_foreground(struct image *p)
{
	size_t n = (size_t)p->width * p->height;

	for (size_t i = 0; i < n; i++)
		p->data[i] = p->data[i * p->depth];
	p->depth = 1;
	snprintf(p->tuple_type, sizeof p->tuple_type, "GRAYSCALE");
}

/* A prediction is a probability map (GRAYSCALE, or FOREGROUND_* whose
 * channel 0 is kept, maxval 65535, any values), a binary mask (depth 1,
 * maxval 1 or 255, every sample 0 or maxval) or, when accepted, a LABEL
 * image; anything else, such as a photo, is refused with one line naming
 * the image. */
static void
check_pred(const struct evalpair *e, struct image *p, int *is_prob,
	   int *is_label)
{
	const char *name = pamio_name(e->pred);
	int k = pamio_count(e->pred);
	char note[320];

	*is_label = image_is_label(p);
	*is_prob = 0;
	if (*is_label)
		return;
	if (image_output_count(p->tuple_type) > 1) {
		if (p->maxval != 65535)
			die("%s: image %d%s: %s of maxval %u: a probability "
			    "map has maxval 65535", name, k,
			    id_note(p, note, sizeof note), p->tuple_type,
			    p->maxval);
		keep_foreground(p);
	}
	if (p->depth != 1)
		die("%s: image %d%s: %s image of depth %d: a prediction has "
		    "one channel", name, k, id_note(p, note, sizeof note),
		    p->tuple_type, p->depth);
	*is_prob = p->maxval == 65535 &&
		   strcmp(p->tuple_type, "GRAYSCALE") == 0;
	if (*is_prob && (e->accept & EVALPAIR_PROB))
		return;
	if ((p->maxval == 1 || p->maxval == 255) &&
	    (e->accept & EVALPAIR_MASK)) {
		size_t i = image_not_binary(p);

		if (i != IMAGE_BINARY)
			die("%s: image %d%s: %s of maxval %u holds %u at x "
			    "%zu, y %zu: neither a binary mask (only 0 and %u) "
			    "nor a probability map (maxval 65535)", name, k,
			    id_note(p, note, sizeof note), p->tuple_type,
			    p->maxval, p->data[i], i % (size_t)p->width,
			    i / (size_t)p->width, p->maxval);
		return;
	}
	if (e->accept == EVALPAIR_PROB)
		die("%s: image %d%s: %s of maxval %u: a probability map is "
		    "GRAYSCALE of maxval 65535", name, k,
		    id_note(p, note, sizeof note), p->tuple_type, p->maxval);
	if (e->accept == EVALPAIR_MASK)
		die("%s: image %d%s: maxval %u: a binary mask has maxval 1 "
		    "or 255", name, k, id_note(p, note, sizeof note),
		    p->maxval);
	die("%s: image %d%s: %s of maxval %u: expected a probability map "
	    "(GRAYSCALE, maxval 65535) or a binary mask (maxval 1 or 255)%s",
	    name, k, id_note(p, note, sizeof note), p->tuple_type, p->maxval,
	    e->accept & EVALPAIR_LABEL ? " or a LABEL image" : "");
}

/* The truth's foreground into e->mask (a *_LABEL sample's or a LABEL
 * image's: label not 0). */
static void
truth_mask(struct evalpair *e)
{
	const struct image *t = &e->truth_img;
	size_t n = (size_t)t->width * t->height;

	if (!image_has_mask(t) && !image_is_label(t) &&
	    (t->depth != 1 || (t->maxval != 1 && t->maxval != 255)))
		die("%s: image %d: %s image of depth %d and maxval %u is not "
		    "a truth (expected a *_MASK or *_LABEL sample, a LABEL "
		    "image or a mask of maxval 1 or 255)",
		    pamio_name(e->truth), pamio_count(e->truth),
		    t->tuple_type, t->depth, t->maxval);
	if (n > e->mask_cap) {
		e->mask = xreallocarray(e->mask, n, 1);
		e->mask_cap = n;
	}
	for (size_t p = 0; p < n; p++)
		e->mask[p] = (uint8_t)image_mask_at(t, p);
}

int
evalpair_next(struct evalpair *e, struct evalpair_item *it)
{
	const char *pn = pamio_name(e->pred), *tn = pamio_name(e->truth);
	struct image *p = &e->pred_img, *t = &e->truth_img;
	int k;

	image_free(p);
	image_free(t);
	if (!pamio_read(e->pred, p)) {
		if (pamio_read(e->truth, t))
			die("%s: image %d: no matching image in %s, which "
			    "ends after %d", tn, pamio_count(e->truth), pn,
			    pamio_count(e->pred));
		return 0;
	}
	k = pamio_count(e->pred);
	check_pred(e, p, &it->is_prob, &it->is_label);
	if (!pamio_read(e->truth, t))
		die("%s: image %d: no matching truth image in %s, which ends "
		    "after %d", pn, k, tn, pamio_count(e->truth));
	if (p->width != t->width || p->height != t->height)
		die("%s: image %d: size %dx%d differs from the truth's "
		    "(%s: %dx%d)", pn, k, p->width, p->height, tn, t->width,
		    t->height);
	if (p->id && t->id && strcmp(p->id, t->id) != 0)
		die("%s: image %d: id '%s' differs from the truth's (%s: '%s')",
		    pn, k, p->id, tn, t->id);
	truth_mask(e);
	it->index = k;
	it->width = p->width;
	it->height = p->height;
	it->id = p->id ? p->id : t->id;
	it->pred = p;
	it->truth = t;
	it->truth_labels = image_has_labels(t) || image_is_label(t);
	it->truth_mask = e->mask;
	return 1;
}

void
evalpair_pred_mask(const struct evalpair_item *it, long cutoff, uint8_t *out)
{
	const uint16_t *v = it->pred->data;
	size_t n = (size_t)it->width * it->height;
	long c = it->is_prob ? cutoff
		 : it->is_label ? 0 : (long)(it->pred->maxval / 2);

	for (size_t p = 0; p < n; p++)
		out[p] = v[p] > c;
}
