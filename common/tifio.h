/* tifio: TIFF files through libtiff: every page of a file read into a
 * struct image, one image written. The module and its functions are named
 * tifio because tiffio.h and TIFF* are libtiff's. */
#ifndef UNETPIPE_TIFIO_H
#define UNETPIPE_TIFIO_H

#include <stddef.h>
#include <stdio.h>

#include "image.h"

/* 1 when the n bytes at buf start with a TIFF or BigTIFF signature ("II"
 * or "MM" and the version 42 or 43; n >= 4 is needed for a yes). */
int tifio_signature(const void *buf, size_t n);

struct tifio;

/* Open the TIFF file f, which must be seekable (a regular file; it is
 * read from its start whatever its position; not closed by tifio), and
 * count its pages. A stack of more than one of OME-TIFF's Z, C and T (or
 * ImageJ's slices, channels and frames), or of several OME series, is
 * refused. Returns NULL with a one-line message in err ("not a TIFF
 * file", "truncated TIFF file", "corrupt TIFF file: ...", ...). Prints
 * nothing; thread-safe. */
struct tifio *tifio_open(FILE *f, char *err, size_t errsize);

/* Number of pages (images) of the file, at least 1. */
int tifio_pages(const struct tifio *t);

/* Read page k (from 0) into img, allocated as by image_alloc (id and
 * comments empty): GRAYSCALE or RGB. Unsigned samples of 1 to 16 bits,
 * gray (min-is-black or min-is-white), RGB or a palette (RGB, 8 bits),
 * in strips or tiles, contiguous or planar, any compression libtiff
 * decodes (JPEG-compressed YCbCr as RGB); one extra (alpha) sample is
 * dropped. 16-bit samples keep their values (maxval 65535, 12-bit data
 * too); 8-bit ones give maxval 255; 1, 2 and 4 bits are scaled to
 * 0..255. 32-bit floats give maxval 65535: when every sample of the
 * page is within [0, 1], v * 65535; otherwise the page's minimum to 0
 * and its maximum to 65535, linearly (a constant page is 0); NaN and
 * infinities are refused. Anything else (signed or 32-bit integers,
 * 64-bit floats, CMYK, more than 4 samples, sizes over IMAGE_MAX_SIDE
 * or IMAGE_MAX_SAMPLES) is refused before the raster is allocated.
 * Returns 0, or -1 with img zeroed and a one-line message in err. */
int tifio_read(struct tifio *t, int k, struct image *img, char *err,
	       size_t errsize);

/* Close the TIFF (f is left open). */
void tifio_close(struct tifio *t);

/* Write img (GRAYSCALE, RGB, or their *_MASK and *_ALPHA forms with the
 * mask or alpha as an extra alpha sample) to f, which must be seekable,
 * as one LZW-compressed page of 8 bits (maxval 255 and below, rescaled
 * when not 255) or 16 bits (maxval above 255, rescaled to 65535). A LABEL
 * image is written as 16-bit gray whose values are its labels, not
 * rescaled. Returns 0, or -1 with a one-line message in err. Prints
 * nothing. */
int tifio_write(FILE *f, const struct image *img, char *err, size_t errsize);

#endif
