/* augment: random data augmentation applied identically to an image and
 * its truth mask or instance labels (geometry), or to the image channels
 * only (colour), every draw from a struct rng so that a seed reproduces it
 * bit for bit. */
#ifndef UNETPIPE_AUGMENT_H
#define UNETPIPE_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "rng.h"

/* The operations, applied in this order when selected:
 * crop     a random square-aspect window of 0.6 .. 1 of each side (one
 *          uniform scale, uniform position) rescaled back to the size
 *          with resample_plane; the mask kept binary (foreground where the
 *          rescaled mask is >= 0.5, resample(3)'s rule), labels taken
 *          from the nearest pixel centre (so a label's foreground can
 *          differ from the mask's on a few rim pixels);
 * elastic  a smooth displacement field: a 5x5 grid of control offsets,
 *          each uniform in [-alpha, alpha] per axis with alpha = 4 % of
 *          the smaller side (AUGMENT_ELASTIC_ALPHA), upsampled bilinearly
 *          over the image; image channels sampled bilinearly, the mask
 *          and labels nearest, edges clamped;
 * rot90    a rotation by k x 90 degrees, k uniform in 0..3 (square images)
 *          or in {0, 2} (other images, which keep their size);
 * flip     a horizontal flip with probability 1/2, then a vertical one
 *          with probability 1/2;
 * color    image channels only, the same for every channel:
 *          v = clamp((v - 0.5) * contrast + 0.5 + brightness, 0, 1) ^ gamma
 *          with brightness uniform in [-0.1, 0.1], contrast in [0.8, 1.2],
 *          gamma log-uniform in [1/1.25, 1.25]. */
enum {
	AUGMENT_CROP = 1,
	AUGMENT_ELASTIC = 2,
	AUGMENT_ROT90 = 4,
	AUGMENT_FLIP = 8,
	AUGMENT_COLOR = 16,
	AUGMENT_ALL = 31
};

#define AUGMENT_CROP_MIN 0.6
#define AUGMENT_ELASTIC_GRID 5
#define AUGMENT_ELASTIC_ALPHA 0.04
#define AUGMENT_BRIGHTNESS 0.1
#define AUGMENT_CONTRAST 0.2
#define AUGMENT_GAMMA 1.25

/* Parse a comma-separated list of the names flip, rot90, crop, color and
 * elastic, or "all", or "none", into *ops (an or of AUGMENT_*). Returns 0,
 * or -1 with the reason in err (no program name) for an empty list or
 * element or an unknown name. */
int augment_parse(const char *list, unsigned *ops, char *err, size_t errlen);

/* The canonical list of ops ("none", or the names in the order above,
 * comma-separated) into buf (64 bytes are always enough). */
void augment_format(unsigned ops, char *buf, size_t len);

/* The generator of one sample's augmentation: a function of seed, pass
 * (an epoch, a copy number) and the sample's index only, so that a draw
 * does not depend on the order samples are processed in. */
void augment_rng(struct rng *r, uint64_t seed, uint64_t pass, uint64_t index);

/* Augment one sample in place: img holds height * width * channels floats
 * (channels-last, values in [0, 1]), mask height * width floats 0 or 1, or
 * is NULL. The draws come from r; with ops 0 nothing changes and nothing
 * is drawn. */
void augment_apply(unsigned ops, struct rng *r, float *img, float *mask,
		   int width, int height, int channels);

/* The same with a plane of instance labels (height * width values) in
 * place of the mask: the same draws as augment_apply, every geometric op
 * moving each label value unchanged (nearest neighbour, never mixed). */
void augment_apply_labels(unsigned ops, struct rng *r, float *img,
			  uint16_t *labels, int width, int height,
			  int channels);

/* Augment a PAM image in place with augment_apply: image channels divided
 * by maxval and rounded back, the mask channel of a *_MASK image written
 * 0 or maxval, the label channel of a *_LABEL image moved with
 * augment_apply_labels (values kept). Metadata untouched. */
void augment_image(unsigned ops, struct rng *r, struct image *img);

#endif
