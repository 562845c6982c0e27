/* normalize: how an image's raw values become the network's input, the
 * same rule in training and inference: divided by maxval (every model
 * before percentile normalisation), or stretched between two percentiles
 * of the image's own values (CSBDeep's rule), so that 8-, 12- and 16-bit
 * copies of an image give the same input. */
#ifndef UNETPIPE_NORMALIZE_H
#define UNETPIPE_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

/* The percentiles of "percentile" without bounds (CSBDeep's defaults). */
#define NORMALIZE_LOW 1.0
#define NORMALIZE_HIGH 99.8

enum normalize_mode { NORMALIZE_MAXVAL, NORMALIZE_PERCENTILE };

struct normalize {
	enum normalize_mode mode;
	double low, high; /* percentiles, 0 <= low < high <= 100 */
};

/* The linear map of one image: input = (value - offset) / range, a
 * division (not a product by 1 / range) so that maxval normalisation
 * gives exactly value / maxval, as the reference computes it. */
struct normalize_map {
	double offset, range; /* range > 0 */
};

/* Parse "maxval", "percentile" (NORMALIZE_LOW .. NORMALIZE_HIGH) or
 * "percentile:LOW:HIGH" (plain decimals, at most 3 decimals) into *n. 0,
 * or -1 with the reason in err (no program name). */
int normalize_parse(const char *s, struct normalize *n, char *err,
		    size_t errlen);

/* The canonical form, what normalize_parse reads back: "maxval" or
 * "percentile:1:99.8" (%g), in buf (32 bytes are always enough). */
void normalize_format(const struct normalize *n, char *buf, size_t len);

/* The map of one image of pixels x depth raw values (maxval 1 .. 65535)
 * of which the first `channels` of each pixel are the image's (a *_MASK
 * or *_LABEL sample's last channel is not looked at). maxval: offset 0,
 * range maxval. percentile: offset the low percentile and range the high
 * minus the low percentile of every image value of every channel
 * together (numpy.percentile's linear interpolation), so that colours
 * keep their relations; no clipping (values outside the percentiles go
 * below 0 or above 1). When the two percentiles are equal the image's
 * minimum and maximum take their place; an image of one constant value
 * gets that value as offset and range 1 (an input of zeros), never a
 * division by zero. */
void normalize_image(const struct normalize *n, const uint16_t *data,
		     size_t pixels, int depth, int channels, unsigned maxval,
		     struct normalize_map *m);

#endif
