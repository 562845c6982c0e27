/* resample: resizing images, masks and probability maps. Reduction
 * averages the source area each output pixel covers (no aliasing);
 * enlargement is bilinear (pixel centres aligned, edges clamped); a mask
 * is resampled as a coverage fraction and kept binary (foreground where at
 * least half the area it covers is foreground); instance labels are taken
 * from the nearest source pixel, so only labels of the source remain. */
#ifndef UNETPIPE_RESAMPLE_H
#define UNETPIPE_RESAMPLE_H

#include "image.h"

/* Resample one float plane src (sw x sh) into dst (dw x dh), each axis
 * reduced by area averaging or enlarged bilinearly. */
void resample_plane(const float *src, int sw, int sh, float *dst, int dw,
		    int dh);

/* Resize src into a newly allocated dst of width x height, same depth,
 * maxval and tuple type; image channels resampled as above and rounded,
 * the mask channel of a *_MASK image kept binary (0 or maxval), the label
 * channel of a *_LABEL image (or a LABEL image) by nearest neighbour: the
 * source pixel under each output pixel's centre. dst gets
 * src's id and comments, and src's original size (or src's own size when
 * that is unknown). */
void resample_image(const struct image *src, struct image *dst, int width,
		    int height);

#endif
