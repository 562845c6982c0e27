/* targets: target channels and weight maps from instance labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "targets.h"
#include "util.h"

static const char *const kind_names[] = { "foreground", "distance" };
#define NKINDS (int)(sizeof kind_names / sizeof kind_names[0])

int
targets_parse(const char *list, struct targets *t, char *err, size_t errlen)
{
	const char *p = list;

	t->count = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		int k;

		if (n == 0)
			return set_error(err, errlen, "'%s': empty name in the "
					 "list", list);
		for (k = 0; k < NKINDS; k++)
			if (strlen(kind_names[k]) == n &&
			    strncmp(kind_names[k], p, n) == 0)
				break;
		if (k == NKINDS)
			return set_error(err, errlen, "'%.*s' is not one of "
					 "foreground, distance", (int)n, p);
		for (int i = 0; i < t->count; i++)
			if (t->kind[i] == k)
				return set_error(err, errlen, "'%s': %s named "
						 "twice", list, kind_names[k]);
		if (t->count == 0 && k != TARGET_FOREGROUND)
			return set_error(err, errlen, "'%s': the first output "
					 "must be foreground", list);
		t->kind[t->count++] = k;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

void
targets_format(const struct targets *t, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < t->count && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s", i ? "," : "",
				 kind_names[t->kind[i]]);
}

int
targets_need_labels(const struct targets *t)
{
	for (int i = 0; i < t->count; i++)
		if (t->kind[i] != TARGET_FOREGROUND)
			return 1;
	return 0;
}

/* d[q] = min over p with f[p] finite of (q - p)^2 + f[p], for q in
 * 0 .. n-1 (INFINITY when no f is finite): the lower envelope of
 * parabolas of Felzenszwalb and Huttenlocher. v holds n ints, z n + 1
 * doubles (scratch). */
static void
envelope(const double *f, int n, double *d, int *v, double *z)
{
	int k = -1;

	for (int q = 0; q < n; q++) {
		double s;

		if (isinf(f[q]))
			continue;
		if (k < 0) {
			k = 0;
			v[0] = q;
			z[0] = -INFINITY;
			z[1] = INFINITY;
			continue;
		}
		for (;;) {
			int p = v[k];
			s = ((f[q] + (double)q * q) - (f[p] + (double)p * p)) /
			    (2.0 * (q - p));
			if (s > z[k])
				break;
			k--;
		}
		k++;
		v[k] = q;
		z[k] = s;
		z[k + 1] = INFINITY;
	}
	if (k < 0) {
		for (int q = 0; q < n; q++)
			d[q] = INFINITY;
		return;
	}
	k = 0;
	for (int q = 0; q < n; q++) {
		while (z[k + 1] < q)
			k++;
		d[q] = (double)(q - v[k]) * (q - v[k]) + f[v[k]];
	}
}

/* Scratch of one column's envelope: n + 2 positions. */
struct column {
	double *f, *d, *z;
	int *v;
};

static void
column_alloc(struct column *c, int n)
{
	c->f = xmalloc(((size_t)n + 2) * sizeof *c->f);
	c->d = xmalloc(((size_t)n + 2) * sizeof *c->d);
	c->z = xmalloc(((size_t)n + 3) * sizeof *c->z);
	c->v = xmalloc(((size_t)n + 2) * sizeof *c->v);
}

static void
column_free(struct column *c)
{
	free(c->f);
	free(c->d);
	free(c->z);
	free(c->v);
}

static unsigned
max_label(const uint16_t *labels, size_t npix)
{
	unsigned m = 0;

	for (size_t p = 0; p < npix; p++)
		if (labels[p] > m)
			m = labels[p];
	return m;
}

/* The nearest pixel q not of the object k of pixel p has a 4-neighbour of
 * k (a step from q towards p comes closer, so it is k). Along a row that
 * is an end of p's run; along a column, pixels of k beyond the ends of
 * p's vertical run are farther than those ends, which are not k. So the
 * squared distance is the envelope over p's vertical run of the squared
 * row distances, with 0 at both ends (pixels outside the image count as
 * not of the object). */
void
targets_distance(const uint16_t *labels, int width, int height, float *out)
{
	size_t npix = (size_t)width * height;
	double *g = xmalloc(npix * sizeof *g);
	float *top = xcalloc((size_t)max_label(labels, npix) + 1, sizeof *top);
	struct column c;

	for (int y = 0; y < height; y++) {
		const uint16_t *row = labels + (size_t)y * width;
		for (int x0 = 0, x1; x0 < width; x0 = x1 + 1) {
			for (x1 = x0; x1 + 1 < width && row[x1 + 1] == row[x0];
			     x1++)
				;
			for (int x = x0; x <= x1; x++) {
				int dx = x - x0 + 1 < x1 + 1 - x ? x - x0 + 1
								 : x1 + 1 - x;
				g[(size_t)y * width + x] = row[x0] ?
					(double)dx * dx : 0;
			}
		}
	}
	column_alloc(&c, height);
	for (int x = 0; x < width; x++) {
		for (int y0 = 0, y1; y0 < height; y0 = y1 + 1) {
			unsigned k = labels[(size_t)y0 * width + x];
			int m;

			for (y1 = y0; y1 + 1 < height &&
			     labels[(size_t)(y1 + 1) * width + x] == k; y1++)
				;
			if (!k) {
				for (int y = y0; y <= y1; y++)
					out[(size_t)y * width + x] = 0;
				continue;
			}
			m = y1 - y0 + 3;
			c.f[0] = c.f[m - 1] = 0;
			for (int y = y0; y <= y1; y++)
				c.f[y - y0 + 1] = g[(size_t)y * width + x];
			envelope(c.f, m, c.d, c.v, c.z);
			for (int y = y0; y <= y1; y++) {
				float d = (float)sqrt(c.d[y - y0 + 1]);
				out[(size_t)y * width + x] = d;
				if (d > top[k])
					top[k] = d;
			}
		}
	}
	for (size_t p = 0; p < npix; p++)
		if (labels[p])
			out[p] /= top[labels[p]];
	column_free(&c);
	free(top);
	free(g);
}

void
targets_fill(const struct targets *t, const uint16_t *labels, int width,
	     int height, float *out)
{
	size_t npix = (size_t)width * height;
	int kc = t->count;
	float *plane = NULL;

	for (int i = 0; i < kc; i++) {
		if (t->kind[i] == TARGET_FOREGROUND) {
			for (size_t p = 0; p < npix; p++)
				out[p * kc + i] = labels[p] != 0;
			continue;
		}
		if (!plane)
			plane = xmalloc(npix * sizeof *plane);
		targets_distance(labels, width, height, plane);
		for (size_t p = 0; p < npix; p++)
			out[p * kc + i] = plane[p];
	}
	free(plane);
}

int
targets_border_reach(double w0, double sigma)
{
	double a = w0 * 67108864.0; /* w0 * 2^26 */
	double r;

	if (a <= 1)
		return 0;
	r = ceil(sigma * sqrt(2 * log(a)));
	return r < IMAGE_MAX_SIDE ? (int)r : IMAGE_MAX_SIDE;
}

/* The bounding box of every label 1 .. nlab - 1 (x0 > x1 when absent). */
static void
bounding_boxes(const uint16_t *labels, int width, int height, int *box,
	       unsigned nlab)
{
	for (unsigned k = 0; k < nlab; k++) {
		box[4 * k] = box[4 * k + 1] = INT32_MAX;
		box[4 * k + 2] = box[4 * k + 3] = -1;
	}
	for (int y = 0; y < height; y++)
		for (int x = 0; x < width; x++) {
			int *b = box + 4 * labels[(size_t)y * width + x];
			if (x < b[0])
				b[0] = x;
			if (y < b[1])
				b[1] = y;
			if (x > b[2])
				b[2] = x;
			if (y > b[3])
				b[3] = y;
		}
}

/* Each object's exact distance map over its bounding box grown by the
 * reach (a row pass of two sweeps, then the column envelope), merged into
 * the two smallest distances d1 <= d2 of every pixel not of that object:
 * exact wherever the (second) object is within the reach. An object
 * pixel's d1 is its distance to the nearest other object. */
void
targets_border_weight(const uint16_t *labels, int width, int height,
		      double border, double touch, double sigma,
		      float *weight)
{
	size_t npix = (size_t)width * height;
	unsigned nlab = max_label(labels, npix) + 1;
	int reach = targets_border_reach(fmax(border, touch), sigma);
	int *box = xmalloc((size_t)nlab * 4 * sizeof *box);
	double *d1 = xmalloc(npix * sizeof *d1), *d2 = xmalloc(npix * sizeof *d2);
	double *g = xmalloc(npix * sizeof *g);
	struct column c;

	for (size_t p = 0; p < npix; p++)
		d1[p] = d2[p] = INFINITY;
	bounding_boxes(labels, width, height, box, nlab);
	column_alloc(&c, height);
	for (unsigned k = 1; k < nlab && reach > 0; k++) {
		int *b = box + 4 * k;
		int x0 = b[0] - reach < 0 ? 0 : b[0] - reach;
		int y0 = b[1] - reach < 0 ? 0 : b[1] - reach;
		int x1 = b[2] + reach >= width ? width - 1 : b[2] + reach;
		int y1 = b[3] + reach >= height ? height - 1 : b[3] + reach;

		if (b[2] < 0)
			continue;
		for (int y = y0; y <= y1; y++) {
			const uint16_t *row = labels + (size_t)y * width;
			double *gr = g + (size_t)y * width;
			double last = -INFINITY;
			for (int x = x0; x <= x1; x++) {
				if (row[x] == k)
					last = x;
				gr[x] = x - last;
			}
			last = INFINITY;
			for (int x = x1; x >= x0; x--) {
				if (row[x] == k)
					last = x;
				if (last - x < gr[x])
					gr[x] = last - x;
				gr[x] *= gr[x];
			}
		}
		for (int x = x0; x <= x1; x++) {
			for (int y = y0; y <= y1; y++)
				c.f[y - y0] = g[(size_t)y * width + x];
			envelope(c.f, y1 - y0 + 1, c.d, c.v, c.z);
			for (int y = y0; y <= y1; y++) {
				size_t p = (size_t)y * width + x;
				double d = sqrt(c.d[y - y0]);
				if (labels[p] == k)
					continue;
				if (d < d1[p]) {
					d2[p] = d1[p];
					d1[p] = d;
				} else if (d < d2[p]) {
					d2[p] = d;
				}
			}
		}
	}
	for (size_t p = 0; p < npix; p++) {
		double s = labels[p] ? d1[p] : d1[p] + d2[p];
		double w0 = labels[p] ? touch : border;

		weight[p] = isinf(s) ? 1.0f :
			(float)(1 + w0 * exp(-s * s / (2 * sigma * sigma)));
	}
	column_free(&c);
	free(g);
	free(d1);
	free(d2);
	free(box);
}
