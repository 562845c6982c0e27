#include "measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A label image's labels as one array, and the object index (from 1) of
 * each label present, in increasing label order. */
struct labelmap {
	int width, height;
	uint16_t *lab;   /* width * height labels */
	uint32_t *index; /* label -> object index from 1, 0 when absent */
	size_t count;
};

static void
labelmap_make(const struct image *labels, struct labelmap *lm)
{
	size_t n = (size_t)labels->width * labels->height;
	uint32_t top = 0;

	lm->width = labels->width;
	lm->height = labels->height;
	lm->lab = xmalloc_for(n, sizeof *lm->lab, "labels");
	for (size_t p = 0; p < n; p++) {
		lm->lab[p] = (uint16_t)image_label_at(labels, p);
		if (lm->lab[p] > top)
			top = lm->lab[p];
	}
	lm->index = xcalloc((size_t)top + 1, sizeof *lm->index);
	for (size_t p = 0; p < n; p++)
		lm->index[lm->lab[p]] = 1;
	lm->count = 0;
	for (uint32_t v = 1; v <= top; v++)
		if (lm->index[v])
			lm->index[v] = (uint32_t)++lm->count;
}

/* Area, bounding box, centroid and sums of the samples of img. */
static void
first_moments(const struct labelmap *lm, const struct image *img,
	      struct measure *m)
{
	uint64_t *sx = xcalloc(m->count, sizeof *sx);
	uint64_t *sy = xcalloc(m->count, sizeof *sy);
	int ch = m->channels;

	for (int y = 0; y < lm->height; y++) {
		for (int x = 0; x < lm->width; x++) {
			size_t p = (size_t)y * lm->width + x;
			uint32_t v = lm->lab[p];
			size_t i;
			struct object_measure *o;

			if (!v)
				continue;
			i = lm->index[v] - 1;
			o = &m->obj[i];
			if (!o->area) {
				o->label = v;
				o->bbox_x = x;
				o->bbox_y = y;
				o->bbox_width = o->bbox_height = 1;
			}
			o->area++;
			sx[i] += (uint64_t)x;
			sy[i] += (uint64_t)y;
			if (x < o->bbox_x) {
				o->bbox_width += o->bbox_x - x;
				o->bbox_x = x;
			}
			if (x >= o->bbox_x + o->bbox_width)
				o->bbox_width = x - o->bbox_x + 1;
			o->bbox_height = y - o->bbox_y + 1;
			for (int c = 0; c < ch; c++)
				m->sum[i * ch + c] +=
					img->data[p * img->depth + c];
		}
	}
	for (size_t i = 0; i < m->count; i++) {
		struct object_measure *o = &m->obj[i];
		o->centroid_x = (double)sx[i] / (double)o->area;
		o->centroid_y = (double)sy[i] / (double)o->area;
		o->equivalent_diameter = sqrt(4.0 * (double)o->area / M_PI);
	}
	free(sx);
	free(sy);
}

/* The axes and eccentricity from the central second moments, as
 * scikit-image's regionprops: the eigenvalues l1 >= l2 of the covariance
 * of the pixel coordinates (divided by the area), axes 4 sqrt(l). */
static void
second_moments(const struct labelmap *lm, struct measure *m)
{
	double *mom = xcalloc(3 * m->count, sizeof *mom);

	for (int y = 0; y < lm->height; y++) {
		for (int x = 0; x < lm->width; x++) {
			uint32_t v = lm->lab[(size_t)y * lm->width + x];
			size_t i;
			double dx, dy;

			if (!v)
				continue;
			i = lm->index[v] - 1;
			dx = x - m->obj[i].centroid_x;
			dy = y - m->obj[i].centroid_y;
			mom[3 * i] += dx * dx;
			mom[3 * i + 1] += dy * dy;
			mom[3 * i + 2] += dx * dy;
		}
	}
	for (size_t i = 0; i < m->count; i++) {
		struct object_measure *o = &m->obj[i];
		double a = mom[3 * i] / (double)o->area;
		double b = mom[3 * i + 1] / (double)o->area;
		double c = mom[3 * i + 2] / (double)o->area;
		double mid = (a + b) / 2;
		double r = sqrt((a - b) * (a - b) / 4 + c * c);
		double l1 = mid + r, l2 = mid - r > 0 ? mid - r : 0;

		o->major_axis = 4 * sqrt(l1);
		o->minor_axis = 4 * sqrt(l2);
		o->eccentricity = l1 > 0 ? sqrt(1 - l2 / l1) : 0;
	}
	free(mom);
}

/* Label at (x, y), 0 outside the image. */
static uint32_t
label_at(const struct labelmap *lm, int x, int y)
{
	if (x < 0 || y < 0 || x >= lm->width || y >= lm->height)
		return 0;
	return lm->lab[(size_t)y * lm->width + x];
}

/* 1 when (x, y) is a pixel of label v with a 4-neighbour that is not
 * (outside the image counts as not). */
static int
is_border(const struct labelmap *lm, int x, int y, uint32_t v)
{
	return label_at(lm, x, y) == v &&
	       (label_at(lm, x - 1, y) != v || label_at(lm, x + 1, y) != v ||
		label_at(lm, x, y - 1) != v || label_at(lm, x, y + 1) != v);
}

/* scikit-image's perimeter (neighbourhood 4): the border pixels (those
 * that a 4-connected erosion removes), each weighted by the pattern of
 * its border neighbours, code = 1 + 2 (edge neighbours) + 10 (corner
 * neighbours): 1 for codes 5, 7, 15, 17, 25, 27, sqrt 2 for 21 and 33,
 * (1 + sqrt 2) / 2 for 13 and 23, 0 otherwise. */
static void
perimeters(const struct labelmap *lm, struct measure *m)
{
	static const int ex[4] = {-1, 1, 0, 0}, ey[4] = {0, 0, -1, 1};
	static const int cx[4] = {-1, 1, -1, 1}, cy[4] = {-1, -1, 1, 1};

	for (int y = 0; y < lm->height; y++) {
		for (int x = 0; x < lm->width; x++) {
			uint32_t v = label_at(lm, x, y);
			int code = 1;
			double w;

			if (!v || !is_border(lm, x, y, v))
				continue;
			for (int k = 0; k < 4; k++) {
				code += 2 * is_border(lm, x + ex[k],
						      y + ey[k], v);
				code += 10 * is_border(lm, x + cx[k],
						       y + cy[k], v);
			}
			switch (code) {
			case 5: case 7: case 15: case 17: case 25: case 27:
				w = 1;
				break;
			case 21: case 33:
				w = M_SQRT2;
				break;
			case 13: case 23:
				w = (1 + M_SQRT2) / 2;
				break;
			default:
				w = 0;
			}
			m->obj[lm->index[v] - 1].perimeter += w;
		}
	}
}

/* Points as (x << 32 | y) of non-negative coordinates: lexicographic
 * order by x then y is numeric order. */
static int
cmp_point(const void *a, const void *b)
{
	uint64_t p = *(const uint64_t *)a, q = *(const uint64_t *)b;

	return (p > q) - (p < q);
}

static long long
cross(uint64_t o, uint64_t a, uint64_t b)
{
	long long ox = (long long)(o >> 32), oy = (long long)(o & 0xffffffffu);
	long long ax = (long long)(a >> 32) - ox;
	long long ay = (long long)(a & 0xffffffffu) - oy;
	long long bx = (long long)(b >> 32) - ox;
	long long by = (long long)(b & 0xffffffffu) - oy;

	return ax * by - ay * bx;
}

/* Area of the convex hull of n points (sorted and overwritten):
 * Andrew's monotone chain, then the shoelace formula, in integers. */
static double
hull_area(uint64_t *pt, size_t n)
{
	uint64_t *h = xmalloc_for(2 * n + 1, sizeof *h, "hull");
	size_t k = 0;
	long long twice = 0;

	qsort(pt, n, sizeof *pt, cmp_point);
	for (size_t i = 0; i < n; i++) {
		while (k >= 2 && cross(h[k - 2], h[k - 1], pt[i]) <= 0)
			k--;
		h[k++] = pt[i];
	}
	for (size_t i = n - 1, lo = k + 1; i-- > 0;) {
		while (k >= lo && cross(h[k - 2], h[k - 1], pt[i]) <= 0)
			k--;
		h[k++] = pt[i];
	}
	for (size_t i = 0; i + 1 < k; i++)
		twice += cross(0, h[i], h[i + 1]);
	free(h);
	return (double)(twice < 0 ? -twice : twice) / 2;
}

/* The convex hull of each object's pixel squares: the corners of the
 * leftmost and rightmost pixel of each of its rows, gathered row by row
 * for every object at once (4 points per object and row). */
static void
convex_areas(const struct labelmap *lm, struct measure *m)
{
	size_t *rows = xcalloc(m->count + 1, sizeof *rows);
	int *last_y = xmalloc_for(m->count, sizeof *last_y, "rows");
	uint64_t *pt;
	size_t *fill;

	/* Rows of each object, then offsets of its points. */
	for (size_t i = 0; i < m->count; i++)
		last_y[i] = -1;
	for (int y = 0; y < lm->height; y++)
		for (int x = 0; x < lm->width; x++) {
			uint32_t v = label_at(lm, x, y);
			if (v && last_y[lm->index[v] - 1] != y) {
				last_y[lm->index[v] - 1] = y;
				rows[lm->index[v]]++;
			}
		}
	for (size_t i = 0; i < m->count; i++)
		rows[i + 1] = rows[i] + 4 * rows[i + 1];
	pt = xmalloc_for(rows[m->count] ? rows[m->count] : 1, sizeof *pt,
			 "hull points");
	fill = xmalloc_for(m->count ? m->count : 1, sizeof *fill, "rows");
	for (size_t i = 0; i < m->count; i++) {
		last_y[i] = -1;
		fill[i] = rows[i];
	}
	for (int y = 0; y < lm->height; y++) {
		for (int x = 0; x < lm->width; x++) {
			uint32_t v = label_at(lm, x, y);
			size_t i;
			uint64_t top = (uint64_t)y, bottom = (uint64_t)y + 1;
			uint64_t right = (uint64_t)x + 1;

			if (!v)
				continue;
			i = lm->index[v] - 1;
			if (last_y[i] != y) {
				/* A new row: its left corners, and its
				 * right corners for now. */
				last_y[i] = y;
				pt[fill[i]++] = (uint64_t)x << 32 | top;
				pt[fill[i]++] = (uint64_t)x << 32 | bottom;
				pt[fill[i]++] = right << 32 | top;
				pt[fill[i]++] = right << 32 | bottom;
			} else {
				pt[fill[i] - 2] = right << 32 | top;
				pt[fill[i] - 1] = right << 32 | bottom;
			}
		}
	}
	for (size_t i = 0; i < m->count; i++) {
		struct object_measure *o = &m->obj[i];
		o->convex_area = hull_area(pt + rows[i], rows[i + 1] - rows[i]);
		o->solidity = (double)o->area / o->convex_area;
	}
	free(fill);
	free(pt);
	free(last_y);
	free(rows);
}

void
measure_objects(const struct image *labels, const struct image *img,
		struct measure *m)
{
	struct labelmap lm;

	memset(m, 0, sizeof *m);
	labelmap_make(labels, &lm);
	m->count = lm.count;
	m->channels = img ? image_channels(img) : 0;
	m->obj = xcalloc(m->count + 1, sizeof *m->obj);
	m->sum = xcalloc(m->count * (size_t)m->channels + 1, sizeof *m->sum);
	first_moments(&lm, img, m);
	second_moments(&lm, m);
	perimeters(&lm, m);
	convex_areas(&lm, m);
	free(lm.lab);
	free(lm.index);
}

void
measure_free(struct measure *m)
{
	free(m->obj);
	free(m->sum);
	memset(m, 0, sizeof *m);
}
