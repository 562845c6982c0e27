/* targets: what a network with several outputs learns, derived from a
 * plane of instance labels (0 background, k > 0 object k): the target
 * channels of a list of outputs, and the separation-border weight map of
 * the U-Net paper (Ronneberger et al. 2015, eq. 2), extended to the
 * pixels where objects touch. */
#ifndef UNETPIPE_TARGETS_H
#define UNETPIPE_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* The largest number of outputs of a list (the network's limit). */
#define TARGETS_MAX 4

/* The output kinds:
 * foreground  1 on object pixels, 0 on the background;
 * distance    each object pixel's Euclidean distance to the nearest pixel
 *             not of its object (background, another object, or outside
 *             the image: the edge counts as background), divided by the
 *             largest such distance in the object: 1 at the object's
 *             centre(s), 1 / that largest distance at its rim, 0 on the
 *             background (StarDist's object probability). */
enum { TARGET_FOREGROUND, TARGET_DISTANCE };

/* A list of outputs: kinds in the network's channel order. */
struct targets {
	int count;               /* 1 .. TARGETS_MAX */
	int kind[TARGETS_MAX];   /* TARGET_*, kind[0] is TARGET_FOREGROUND */
};

/* Parse a comma-separated list of output names (foreground, distance)
 * into t. Returns 0, or -1 with the reason in err (no program name) for
 * an empty list or element, an unknown or repeated name, or a list whose
 * first name is not foreground. */
int targets_parse(const char *list, struct targets *t, char *err,
		  size_t errlen);

/* The list's names joined by ',' into buf (64 bytes are always enough). */
void targets_format(const struct targets *t, char *buf, size_t len);

/* 1 when some output of t other than foreground needs instance labels. */
int targets_need_labels(const struct targets *t);

/* The distance target of a width x height label plane into out (one float
 * per pixel): an exact Euclidean distance transform in O(pixels) (a row
 * pass, then Felzenszwalb and Huttenlocher's lower envelope of parabolas
 * over each column's runs of one label). */
void targets_distance(const uint16_t *labels, int width, int height,
		      float *out);

/* The target channels of t for a label plane, interleaved (channels-last):
 * out holds width * height * t->count floats. */
void targets_fill(const struct targets *t, const uint16_t *labels,
		  int width, int height, float *out);

/* The cut-off of targets_border_weight: objects farther than this from a
 * pixel are not looked at, since there w0 exp(-s^2 / (2 sigma^2)) is
 * below 2^-26 (a float weight 1 + it rounds to 1); w0 the larger of the
 * two weights. */
int targets_border_reach(double w0, double sigma);

/* The separation weight of each pixel of a label plane into weight: on
 * background pixels 1 + border exp(-(d1 + d2)^2 / (2 sigma^2)), d1 and d2
 * the Euclidean distances to the nearest and second nearest object (the
 * U-Net paper's eq. 2); on object pixels 1 + touch exp(-d^2 / (2
 * sigma^2)), d the distance to the nearest pixel of another object (the
 * same equation with the pixel's own object at distance 0), which weighs
 * most where two objects touch without a gap; 1 where no (second) object
 * is within targets_border_reach. border, touch >= 0, sigma > 0. */
void targets_border_weight(const uint16_t *labels, int width, int height,
			   double border, double touch, double sigma,
			   float *weight);

#endif
