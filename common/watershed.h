/* watershed: objects of one image from its foreground and, optionally,
 * seeds: seeded flooding in order of decreasing priority (a marker-based
 * watershed without watershed lines), so that touching objects with a seed
 * each are split, and the removal of objects below a size. */
#ifndef UNETPIPE_WATERSHED_H
#define UNETPIPE_WATERSHED_H

#include <stdint.h>

/* Flood a width x height label image, row-major, with 4- or 8-connectivity:
 * every pixel p with floodable[p] != 0 and labels[p] == 0 that a labelled
 * pixel reaches through such pixels takes the label of the neighbour that
 * reached it first, pixels being taken in order of decreasing priority[p]
 * (a labelled pixel too), ties in the order they were reached (the
 * labelled pixels first, in raster order). Other pixels are left as they
 * are. */
void watershed_flood(uint32_t *labels, const uint8_t *floodable,
		     const uint16_t *priority, int width, int height,
		     int connectivity);

/* The objects of a width x height image into labels (width * height
 * entries, caller's); returns their number n, labels 1..n numbered in
 * raster order of each object's first pixel, 0 the background.
 * Foreground: fg[p] != 0. With seed NULL the objects are the connected
 * components of the foreground. Otherwise the connected components of the
 * seed pixels (seed[p] != 0, foreground or not: those outside the
 * foreground are ignored) flood the foreground by watershed_flood in order
 * of decreasing priority, and each connected part of the foreground that no
 * seed reaches is an object of its own. With merge > 0, two touching
 * objects whose lower peak (highest priority) rises at most merge above
 * the highest saddle between them (the lower priority of two touching
 * pixels, one of each) become one, the highest saddles first (h-maxima
 * dynamics). Then every object of fewer than min_size pixels, or of
 * fewer than min_fraction times the median number of pixels of the
 * image's objects (0: no such rule), is removed: its pixels are flooded
 * from the objects kept (in the same order), and those no kept object
 * reaches become background. */
uint32_t watershed_objects(const uint8_t *fg, const uint8_t *seed,
			   const uint16_t *priority, int width, int height,
			   int connectivity, uint16_t merge, uint32_t min_size,
			   double min_fraction, uint32_t *labels);

#endif
