/* Unit tests of common/measure: shapes measured by hand. */
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "measure.h"
#include "tap.h"

static int
near(double a, double b)
{
	return fabs(a - b) <= 1e-12;
}

/* A LABEL image of w x h from v (row-major). */
static void
label_image(struct image *img, int w, int h, const unsigned *v)
{
	image_alloc(img, w, h, 1, 65535, "LABEL");
	for (int i = 0; i < w * h; i++)
		img->data[i] = (uint16_t)v[i];
}

static void
test_ring(void)
{
	/* A 5x5 square less its centre: hull 25, solidity 24/25. */
	unsigned v[25];
	struct image img;
	struct measure m;

	for (int i = 0; i < 25; i++)
		v[i] = i == 12 ? 0 : 4;
	label_image(&img, 5, 5, v);
	measure_objects(&img, NULL, &m);
	tap_ok(m.count == 1 && m.obj[0].label == 4 && m.obj[0].area == 24,
	       "ring: one object of 24 pixels");
	tap_ok(m.obj[0].centroid_x == 2 && m.obj[0].centroid_y == 2,
	       "ring: centroid at the hole");
	tap_ok(near(m.obj[0].convex_area, 25) &&
	       near(m.obj[0].solidity, 24.0 / 25),
	       "ring: the hole is in the hull: solidity 24/25");
	tap_ok(m.obj[0].eccentricity == 0, "ring: eccentricity 0");
	measure_free(&m);
	image_free(&img);
}

static void
test_pieces_and_line(void)
{
	/* Label 3 at x = 0 and x = 4 of a 5x1 image: one object in two
	 * pieces. */
	static const unsigned two[5] = {3, 0, 0, 0, 3};
	/* A diagonal of 4 pixels: var x = var y = cov = 5/4, so l1 = 5/2,
	 * l2 = 0; border codes 11, 21, 21, 11: perimeter 2 sqrt 2; hull the
	 * hexagon (0,0) (1,0) (4,3) (4,4) (3,4) (0,1) of area 7. */
	static const unsigned diag[16] = {
		9, 0, 0, 0,
		0, 9, 0, 0,
		0, 0, 9, 0,
		0, 0, 0, 9,
	};
	struct image img;
	struct measure m;

	label_image(&img, 5, 1, two);
	measure_objects(&img, NULL, &m);
	tap_ok(m.count == 1 && m.obj[0].area == 2 &&
	       m.obj[0].centroid_x == 2 && m.obj[0].bbox_width == 5,
	       "two pieces: one object, centroid between them, bbox 5 wide");
	tap_ok(near(m.obj[0].major_axis, 8) && m.obj[0].minor_axis == 0 &&
	       m.obj[0].eccentricity == 1,
	       "two pieces: major 4 sqrt 4 = 8, minor 0, eccentricity 1");
	tap_ok(near(m.obj[0].convex_area, 5) && near(m.obj[0].solidity, 0.4),
	       "two pieces: hull over the gap, solidity 2/5");
	tap_ok(m.obj[0].perimeter == 0, "two pieces: perimeter 0");
	measure_free(&m);
	image_free(&img);

	label_image(&img, 4, 4, diag);
	measure_objects(&img, NULL, &m);
	tap_ok(m.count == 1 && near(m.obj[0].major_axis, 4 * sqrt(2.5)) &&
	       m.obj[0].minor_axis == 0 && near(m.obj[0].eccentricity, 1),
	       "diagonal: major 4 sqrt(5/2), minor 0, eccentricity 1");
	tap_ok(near(m.obj[0].perimeter, 2 * M_SQRT2),
	       "diagonal: perimeter 2 sqrt 2");
	tap_ok(near(m.obj[0].convex_area, 7) &&
	       near(m.obj[0].solidity, 4.0 / 7),
	       "diagonal: hull area 7, solidity 4/7");
	measure_free(&m);
	image_free(&img);
}

static void
test_labels_and_sums(void)
{
	/* A GRAYSCALE_LABEL sample (grey, label) of 3x1 and a GRAYSCALE_MASK
	 * image: labels from the last channel, sums from the image channel
	 * alone; label 65535 and 1 as objects, in label order. */
	static const uint16_t sample[6] = {10, 65535, 20, 0, 30, 1};
	static const uint16_t grey[6] = {100, 255, 7, 255, 40000, 0};
	struct image lab, img;
	struct measure m;

	image_alloc(&lab, 3, 1, 2, 65535, "GRAYSCALE_LABEL");
	memcpy(lab.data, sample, sizeof sample);
	image_alloc(&img, 3, 1, 2, 65535, "GRAYSCALE_MASK");
	memcpy(img.data, grey, sizeof grey);
	measure_objects(&lab, &img, &m);
	tap_ok(m.count == 2 && m.channels == 1 && m.obj[0].label == 1 &&
	       m.obj[1].label == 65535,
	       "sample labels: 1 then 65535, one image channel");
	tap_ok(m.sum[0] == 40000 && m.sum[1] == 100,
	       "sums of the image channel, not of its mask");
	tap_ok(m.obj[0].centroid_x == 2 && m.obj[1].centroid_x == 0,
	       "each object where its label is");
	measure_free(&m);

	memset(lab.data, 0, 6 * sizeof *lab.data);
	measure_objects(&lab, &img, &m);
	tap_ok(m.count == 0, "an image of 0 only: no object");
	measure_free(&m);
	image_free(&lab);
	image_free(&img);
}

int
main(void)
{
	test_ring();
	test_pieces_and_line();
	test_labels_and_sums();
	return tap_done();
}
