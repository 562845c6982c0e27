/* measure: the measurements of the objects of a label image (area,
 * centroid, bounding box, perimeter, second moments, convex hull) and the
 * sums of an image's samples under each object; see measure-objects(1)
 * for the definitions. */
#ifndef UNETPIPE_MEASURE_H
#define UNETPIPE_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* One object. Coordinates are pixel centres: x from 0 (left), y from 0
 * (top). */
struct object_measure {
	unsigned label;
	uint64_t area;                /* pixels */
	int bbox_x, bbox_y;           /* top-left pixel of the bounding box */
	int bbox_width, bbox_height;
	double centroid_x, centroid_y;
	double equivalent_diameter;   /* of the disc of the same area */
	double perimeter;             /* scikit-image's 4-neighbour estimate */
	double major_axis, minor_axis; /* 4 sqrt(eigenvalues of the
				       * coordinates' covariance) */
	double eccentricity;          /* sqrt(1 - minor^2 / major^2), 0 for
				       * a point */
	double convex_area;           /* convex hull of the pixel squares */
	double solidity;              /* area / convex_area */
};

/* The objects of one label image. */
struct measure {
	size_t count;                /* objects, in increasing label order */
	int channels;                /* image channels summed, 0 without */
	struct object_measure *obj;  /* count entries */
	uint64_t *sum;               /* count * channels: the sum of each
				      * channel's samples over each object */
};

/* Measure every object of labels (a LABEL image or a *_LABEL sample,
 * labels as image_label_at gives them: 0 background, any other value one
 * object, in one piece or several) into m, which is overwritten; with img
 * (not NULL, the same width and height) also the sums of its
 * image_channels() channels under each object. Free m with
 * measure_free. */
void measure_objects(const struct image *labels, const struct image *img,
		     struct measure *m);

/* Free what measure_objects allocated and zero m. */
void measure_free(struct measure *m);

#endif
