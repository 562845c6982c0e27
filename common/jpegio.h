/* jpegio: reading JPEG files through libjpeg into a struct image. */
#ifndef UNETPIPE_JPEGIO_H
#define UNETPIPE_JPEGIO_H

#include <stddef.h>
#include <stdio.h>

#include "image.h"

/* 1 when the n bytes at buf start with a JPEG's start-of-image marker
 * and another marker (FF D8 FF; n >= 3 is needed for a yes). */
int jpegio_signature(const void *buf, size_t n);

/* Read the JPEG at the position of f (not closed) into img, allocated as
 * by image_alloc (id and comments empty): GRAYSCALE for a gray JPEG, RGB
 * for any other of 3 components, maxval 255. CMYK (and YCCK) JPEGs are
 * refused, as sizes over IMAGE_MAX_SIDE or IMAGE_MAX_SAMPLES are, before
 * the raster is allocated; so is a file libjpeg would only warn about
 * (truncated or with corrupt data). Returns 0, or -1 with img zeroed and
 * a one-line message in err ("not a JPEG file", "corrupt JPEG file: ...").
 * Prints nothing; thread-safe. */
int jpegio_read_file(FILE *f, struct image *img, char *err, size_t errsize);

#endif
