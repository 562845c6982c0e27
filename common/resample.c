#include "resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The weights of one axis: output pixel i is the sum over k < count[i] of
 * w[off[i] + k] * in[start[i] + k]. */
struct axis {
	int *start, *count, *off;
	float *w;
};

static void
axis_init(struct axis *a, int s, int d)
{
	double scale = (double)s / d;
	int max = d < s ? (int)ceil(scale) + 2 : 2;
	int n = 0;

	a->start = xmalloc(sizeof(int) * (size_t)d);
	a->count = xmalloc(sizeof(int) * (size_t)d);
	a->off = xmalloc(sizeof(int) * (size_t)d);
	a->w = xmalloc(sizeof(float) * (size_t)d * (size_t)max);
	for (int i = 0; i < d; i++) {
		a->off[i] = n;
		if (d == s) {
			a->start[i] = i;
			a->count[i] = 1;
			a->w[n++] = 1;
		} else if (d < s) {
			/* Output pixel i covers [i * scale, (i + 1) * scale). */
			double lo = i * scale, hi = (i + 1) * scale;
			int first = (int)floor(lo), last = (int)ceil(hi) - 1;
			if (last > s - 1)
				last = s - 1;
			a->start[i] = first;
			a->count[i] = last - first + 1;
			for (int k = first; k <= last; k++) {
				double a0 = k > lo ? k : lo;
				double a1 = k + 1 < hi ? k + 1 : hi;
				a->w[n++] = (float)((a1 - a0) / scale);
			}
		} else {
			/* Pixel centres aligned, edges clamped. */
			double x = (i + 0.5) * scale - 0.5;
			int x0;
			if (x < 0)
				x = 0;
			if (x > s - 1)
				x = s - 1;
			x0 = (int)floor(x);
			if (x0 >= s - 1) {
				a->start[i] = s - 1;
				a->count[i] = 1;
				a->w[n++] = 1;
			} else {
				a->start[i] = x0;
				a->count[i] = 2;
				a->w[n++] = (float)(1 - (x - x0));
				a->w[n++] = (float)(x - x0);
			}
		}
	}
}

static void
axis_free(struct axis *a)
{
	free(a->start);
	free(a->count);
	free(a->off);
	free(a->w);
}

void
resample_plane(const float *src, int sw, int sh, float *dst, int dw, int dh)
{
	struct axis ax, ay;
	float *tmp = xmalloc(sizeof(float) * (size_t)dw * (size_t)sh);

	axis_init(&ax, sw, dw);
	axis_init(&ay, sh, dh);
	for (int y = 0; y < sh; y++) {
		const float *in = src + (size_t)y * sw;
		float *out = tmp + (size_t)y * dw;
		for (int x = 0; x < dw; x++) {
			const float *w = ax.w + ax.off[x];
			const float *p = in + ax.start[x];
			float sum = 0;
			for (int k = 0; k < ax.count[x]; k++)
				sum += w[k] * p[k];
			out[x] = sum;
		}
	}
	for (int y = 0; y < dh; y++) {
		const float *w = ay.w + ay.off[y];
		float *out = dst + (size_t)y * dw;
		for (int x = 0; x < dw; x++)
			out[x] = 0;
		for (int k = 0; k < ay.count[y]; k++) {
			const float *in = tmp + (size_t)(ay.start[y] + k) * dw;
			float wk = w[k];
			for (int x = 0; x < dw; x++)
				out[x] += wk * in[x];
		}
	}
	axis_free(&ax);
	axis_free(&ay);
	free(tmp);
}

/* The label channel c of src into channel c of dst by nearest neighbour:
 * output pixel x takes source pixel floor((x + 0.5) * sw / dw). */
static void
resample_labels(const struct image *src, struct image *dst, int c)
{
	int depth = src->depth;

	for (int y = 0; y < dst->height; y++) {
		int sy = (int)(((int64_t)2 * y + 1) * src->height /
			       (2 * (int64_t)dst->height));
		for (int x = 0; x < dst->width; x++) {
			int sx = (int)(((int64_t)2 * x + 1) * src->width /
				       (2 * (int64_t)dst->width));
			dst->data[((size_t)y * dst->width + x) * depth + c] =
				src->data[((size_t)sy * src->width + sx) * depth +
					  c];
		}
	}
}

void
resample_image(const struct image *src, struct image *dst, int width,
	       int height)
{
	size_t sn = (size_t)src->width * src->height;
	size_t dn = (size_t)width * height;
	float *in = xmalloc(sizeof(float) * sn);
	float *out = xmalloc(sizeof(float) * dn);
	int depth = src->depth;
	int labels = image_has_labels(src) || image_is_label(src);
	int mask = image_has_mask(src) || labels ? depth - 1 : -1;

	image_alloc(dst, width, height, depth, src->maxval, src->tuple_type);
	for (int c = 0; c < depth; c++) {
		if (c == mask && labels) {
			resample_labels(src, dst, c);
			continue;
		}
		for (size_t p = 0; p < sn; p++) {
			unsigned v = src->data[p * depth + c];
			in[p] = c == mask ? (float)(v > src->maxval / 2) : (float)v;
		}
		resample_plane(in, src->width, src->height, out, width, height);
		for (size_t p = 0; p < dn; p++) {
			float v = out[p];
			uint16_t q;
			if (c == mask) {
				/* A tolerance for the float sums of exact halves. */
				q = v >= 0.5f - 1e-5f ? (uint16_t)src->maxval : 0;
			} else {
				v = roundf(v);
				q = v <= 0 ? 0
				  : v >= (float)src->maxval ? (uint16_t)src->maxval
				  : (uint16_t)v;
			}
			dst->data[p * depth + c] = q;
		}
	}
	free(in);
	free(out);
	image_copy_meta(dst, src);
	if (!src->orig_width || !src->orig_height) {
		dst->orig_width = src->width;
		dst->orig_height = src->height;
	}
}
