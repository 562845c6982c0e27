/* pngio: reading PNG files (the Data Science Bowl images and masks) through
 * libpng into a struct image. The functions are prefixed pngio_ because
 * png_ is libpng's namespace. */
#ifndef UNETPIPE_PNGIO_H
#define UNETPIPE_PNGIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "image.h"

/* Flags of pngio_read(). */
enum {
	PNGIO_KEEP_ALPHA = 1, /* give GRAYSCALE_ALPHA / RGB_ALPHA when the
				 file has an alpha channel or transparency */
};

/* 1 when the n bytes at buf start with the PNG signature (n >= 8 is
 * needed for a yes). */
int pngio_signature(const void *buf, size_t n);

/* Read the PNG file at path into img, allocated as by image_alloc (id and
 * comments empty): GRAYSCALE (depth 1) or RGB (depth 3), maxval 65535 for
 * 16-bit files and 255 otherwise (palettes become RGB, 1/2/4-bit gray is
 * scaled to 0..255). The alpha channel and tRNS transparency are dropped
 * unless flags has PNGIO_KEEP_ALPHA. Sizes over IMAGE_MAX_SIDE or
 * IMAGE_MAX_SAMPLES are refused before the raster is allocated. Only a
 * regular file is opened, never blocking on a FIFO or a device. Returns 0,
 * or -1 with img zeroed and a one-line message without the path in err
 * ("not a PNG file", "truncated PNG file", "corrupt PNG file: ...", or as
 * fopen_regular when it cannot be opened: strerror, "not a regular file",
 * "is a folder"). Prints nothing; thread-safe. */
int pngio_read(const char *path, struct image *img, int flags, char *err,
	       size_t errsize);

/* Like pngio_read on an open stream positioned at the signature (the
 * stream is not closed). */
int pngio_read_file(FILE *f, struct image *img, int flags, char *err,
		    size_t errsize);

/* Paint the foreground of the PNG mask at path (a pixel where any
 * channel, alpha dropped, is above half its range) with value into out,
 * width x height labels, at the pixels of out still 0 (an earlier mask
 * keeps its pixels), row by row without holding the whole image.
 * Returns 0; -2 when the file's size differs from width x height (its
 * size in *mask_width, *mask_height, out untouched); -1 with a message
 * in err (as pngio_read: a regular file only) when it cannot be read,
 * out then partly updated. Prints nothing; thread-safe. */
int pngio_paint_mask(const char *path, int width, int height, uint16_t *out,
		     uint16_t value, int *mask_width, int *mask_height,
		     char *err, size_t errsize);

/* Write img (GRAYSCALE, RGB, or their *_MASK and *_ALPHA forms as gray +
 * alpha or RGBA) to f as a PNG of 8 bits (maxval 255 and below, rescaled
 * when not 255) or 16 bits (maxval above 255, rescaled to 65535). A mask
 * or alpha channel becomes the PNG's alpha channel. A LABEL image is
 * written as 16-bit gray whose values are its labels, not rescaled.
 * Returns 0, or -1 with a one-line message in err. Prints nothing. */
int pngio_write(FILE *f, const struct image *img, char *err, size_t errsize);

#endif
