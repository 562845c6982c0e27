/* augment: flips, rotations, crops, colour jitter and elastic deformation
 * of a sample (image and mask or labels together), reproducible from a
 * seed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "resample.h"
#include "util.h"

static const struct {
	const char *name;
	unsigned op;
} op_names[] = {
	{ "crop", AUGMENT_CROP },
	{ "elastic", AUGMENT_ELASTIC },
	{ "rot90", AUGMENT_ROT90 },
	{ "flip", AUGMENT_FLIP },
	{ "color", AUGMENT_COLOR },
};
#define NOPS (sizeof op_names / sizeof op_names[0])

int
augment_parse(const char *list, unsigned *ops, char *err, size_t errlen)
{
	const char *p = list;
	unsigned acc = 0;

	if (strcmp(list, "none") == 0) {
		*ops = 0;
		return 0;
	}
	if (strcmp(list, "all") == 0) {
		*ops = AUGMENT_ALL;
		return 0;
	}
	for (;;) {
		size_t n = strcspn(p, ",");
		size_t i;

		for (i = 0; i < NOPS; i++)
			if (strlen(op_names[i].name) == n &&
			    strncmp(op_names[i].name, p, n) == 0)
				break;
		if (n == 0) {
			snprintf(err, errlen, "'%s': empty name in the list",
				 list);
			return -1;
		}
		if (i == NOPS) {
			snprintf(err, errlen, "'%.*s' is not one of flip, "
				 "rot90, crop, color, elastic, all, none",
				 (int)n, p);
			return -1;
		}
		acc |= op_names[i].op;
		if (!p[n])
			break;
		p += n + 1;
	}
	*ops = acc;
	return 0;
}

void
augment_format(unsigned ops, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (!(ops & AUGMENT_ALL)) {
		snprintf(buf, len, "none");
		return;
	}
	for (size_t i = 0; i < NOPS; i++) {
		if (!(ops & op_names[i].op) || used >= len)
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 used ? "," : "", op_names[i].name);
	}
}

static uint64_t
mix64(uint64_t z)
{
	z ^= z >> 30;
	z *= 0xbf58476d1ce4e5b9ULL;
	z ^= z >> 27;
	z *= 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z;
}

void
augment_rng(struct rng *r, uint64_t seed, uint64_t pass, uint64_t index)
{
	uint64_t k = mix64(seed ^ 0x6a09e667f3bcc909ULL);

	k = mix64(k + pass);
	k = mix64(k + index);
	rng_seed(r, k);
}

static double
uniform(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_uniform(r);
}

/* Pixel permutations: where destination pixel (x, y) comes from. */
enum { P_HFLIP, P_VFLIP, P_ROT90, P_ROT180, P_ROT270 };

static size_t
source_pixel(int kind, int x, int y, int w, int h)
{
	switch (kind) {
	case P_HFLIP:
		return (size_t)y * w + (w - 1 - x);
	case P_VFLIP:
		return (size_t)(h - 1 - y) * w + x;
	case P_ROT90: /* counter-clockwise, square only */
		return (size_t)x * w + (w - 1 - y);
	case P_ROT180:
		return (size_t)(h - 1 - y) * w + (w - 1 - x);
	default: /* P_ROT270 */
		return (size_t)(h - 1 - x) * w + y;
	}
}

/* The truth moved with an image: a 0/1 mask, instance labels, or
 * neither (NULL). */
struct truth {
	float *mask;
	uint16_t *labels;
};

static void
permute(int kind, float *img, const struct truth *t, int w, int h, int c,
	float *tmp)
{
	size_t npix = (size_t)w * h;
	float *mask = t->mask;
	uint16_t *lab = t->labels;

	memcpy(tmp, img, npix * c * sizeof *tmp);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			size_t d = (size_t)y * w + x;
			size_t s = source_pixel(kind, x, y, w, h);
			memcpy(img + d * c, tmp + s * c, c * sizeof *img);
		}
	if (mask) {
		memcpy(tmp, mask, npix * sizeof *tmp);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				mask[(size_t)y * w + x] =
					tmp[source_pixel(kind, x, y, w, h)];
	}
	if (lab) {
		uint16_t *ltmp = (uint16_t *)tmp; /* npix * 2 <= npix * 4 */
		memcpy(ltmp, lab, npix * sizeof *ltmp);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				lab[(size_t)y * w + x] =
					ltmp[source_pixel(kind, x, y, w, h)];
	}
}

/* Labels of the window cw x ch at (x0, y0) of a w x h plane, enlarged
 * back to w x h by nearest neighbour (the source pixel whose centre is
 * nearest, as resample_plane aligns centres). */
static void
crop_labels(uint16_t *lab, int w, int h, int x0, int y0, int cw, int ch,
	    uint16_t *tmp)
{
	memcpy(tmp, lab, (size_t)w * h * sizeof *tmp);
	for (int y = 0; y < h; y++) {
		int sy = (int)floor((y + 0.5) * ch / h);
		sy = sy < ch ? sy : ch - 1;
		for (int x = 0; x < w; x++) {
			int sx = (int)floor((x + 0.5) * cw / w);
			sx = sx < cw ? sx : cw - 1;
			lab[(size_t)y * w + x] =
				tmp[(size_t)(y0 + sy) * w + x0 + sx];
		}
	}
}

static void
crop(struct rng *r, float *img, const struct truth *t, int w, int h, int c,
     float *tmp)
{
	float *mask = t->mask;
	double s = uniform(r, AUGMENT_CROP_MIN, 1);
	int cw = (int)lround(s * w), ch = (int)lround(s * h);
	int x0, y0;
	size_t npix = (size_t)w * h;
	float *plane = tmp + npix; /* cw * ch <= npix */

	if (cw < 1)
		cw = 1;
	if (ch < 1)
		ch = 1;
	x0 = (int)rng_below(r, (uint64_t)(w - cw + 1));
	y0 = (int)rng_below(r, (uint64_t)(h - ch + 1));
	for (int k = 0; k <= c; k++) {
		float *src = k < c ? img : mask;
		int stride = k < c ? c : 1, off = k < c ? k : 0;

		if (!src)
			break;
		for (int y = 0; y < ch; y++)
			for (int x = 0; x < cw; x++)
				plane[(size_t)y * cw + x] =
					src[((size_t)(y0 + y) * w + x0 + x) *
					    stride + off];
		resample_plane(plane, cw, ch, tmp, w, h);
		for (size_t p = 0; p < npix; p++)
			src[p * stride + off] = k < c ? tmp[p]
						      : tmp[p] >= 0.5f ? 1 : 0;
	}
	if (t->labels)
		crop_labels(t->labels, w, h, x0, y0, cw, ch, (uint16_t *)tmp);
}

/* Bilinear interpolation of a g x g grid spread over w x h at (x, y). */
static float
grid_at(const float *grid, int g, double gx, double gy)
{
	int i = (int)gx, j = (int)gy;
	double fx, fy;

	if (i > g - 2)
		i = g - 2;
	if (j > g - 2)
		j = g - 2;
	fx = gx - i;
	fy = gy - j;
	return (float)((1 - fy) * ((1 - fx) * grid[j * g + i] +
				   fx * grid[j * g + i + 1]) +
		       fy * ((1 - fx) * grid[(j + 1) * g + i] +
			     fx * grid[(j + 1) * g + i + 1]));
}

static void
elastic(struct rng *r, float *img, const struct truth *t, int w, int h,
	int c, float *tmp)
{
	enum { G = AUGMENT_ELASTIC_GRID };
	float dx[G * G], dy[G * G];
	double alpha = AUGMENT_ELASTIC_ALPHA * (w < h ? w : h);
	size_t npix = (size_t)w * h;
	float *mask = t->mask, *mtmp = tmp + npix * c;
	uint16_t *lab = t->labels, *ltmp = (uint16_t *)mtmp;

	for (int i = 0; i < G * G; i++) {
		dx[i] = (float)uniform(r, -alpha, alpha);
		dy[i] = (float)uniform(r, -alpha, alpha);
	}
	memcpy(tmp, img, npix * c * sizeof *tmp);
	if (mask)
		memcpy(mtmp, mask, npix * sizeof *mtmp);
	if (lab)
		memcpy(ltmp, lab, npix * sizeof *ltmp);
	for (int y = 0; y < h; y++) {
		double gy = h > 1 ? (double)y * (G - 1) / (h - 1) : 0;
		for (int x = 0; x < w; x++) {
			double gx = w > 1 ? (double)x * (G - 1) / (w - 1) : 0;
			double sx = x + grid_at(dx, G, gx, gy);
			double sy = y + grid_at(dy, G, gx, gy);
			int x0, y0, x1, y1;
			double fx, fy;
			size_t d = (size_t)y * w + x;

			sx = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
			sy = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
			x0 = (int)sx;
			y0 = (int)sy;
			x1 = x0 + 1 < w ? x0 + 1 : x0;
			y1 = y0 + 1 < h ? y0 + 1 : y0;
			fx = sx - x0;
			fy = sy - y0;
			for (int k = 0; k < c; k++) {
				double a = tmp[((size_t)y0 * w + x0) * c + k];
				double b = tmp[((size_t)y0 * w + x1) * c + k];
				double e = tmp[((size_t)y1 * w + x0) * c + k];
				double f = tmp[((size_t)y1 * w + x1) * c + k];
				img[d * c + k] = (float)((1 - fy) *
					((1 - fx) * a + fx * b) +
					fy * ((1 - fx) * e + fx * f));
			}
			if (mask)
				mask[d] = mtmp[(size_t)lround(sy) * w +
					       lround(sx)];
			if (lab)
				lab[d] = ltmp[(size_t)lround(sy) * w +
					      lround(sx)];
		}
	}
}

static void
color(struct rng *r, float *img, size_t n)
{
	double b = uniform(r, -AUGMENT_BRIGHTNESS, AUGMENT_BRIGHTNESS);
	double c = uniform(r, 1 - AUGMENT_CONTRAST, 1 + AUGMENT_CONTRAST);
	double g = exp(uniform(r, -log(AUGMENT_GAMMA), log(AUGMENT_GAMMA)));

	for (size_t i = 0; i < n; i++) {
		double v = (img[i] - 0.5) * c + 0.5 + b;
		v = v < 0 ? 0 : v > 1 ? 1 : v;
		img[i] = (float)pow(v, g);
	}
}

/* augment_apply with the truth t (at most one of mask and labels). */
static void
apply(unsigned ops, struct rng *r, float *img, const struct truth *t,
      int width, int height, int channels)
{
	size_t npix = (size_t)width * height;
	float *tmp;

	if (!(ops & AUGMENT_ALL))
		return;
	tmp = xmalloc(npix * (channels + 1) * sizeof *tmp);
	if (ops & AUGMENT_CROP)
		crop(r, img, t, width, height, channels, tmp);
	if (ops & AUGMENT_ELASTIC)
		elastic(r, img, t, width, height, channels, tmp);
	if (ops & AUGMENT_ROT90) {
		int k = width == height ? (int)rng_below(r, 4)
					: 2 * (int)rng_below(r, 2);
		if (k)
			permute(k == 1 ? P_ROT90 : k == 2 ? P_ROT180
							  : P_ROT270,
				img, t, width, height, channels, tmp);
	}
	if (ops & AUGMENT_FLIP) {
		if (rng_below(r, 2))
			permute(P_HFLIP, img, t, width, height, channels, tmp);
		if (rng_below(r, 2))
			permute(P_VFLIP, img, t, width, height, channels, tmp);
	}
	if (ops & AUGMENT_COLOR)
		color(r, img, npix * channels);
	free(tmp);
}

void
augment_apply(unsigned ops, struct rng *r, float *img, float *mask,
	      int width, int height, int channels)
{
	struct truth t = { mask, NULL };

	apply(ops, r, img, &t, width, height, channels);
}

void
augment_apply_labels(unsigned ops, struct rng *r, float *img,
		     uint16_t *labels, int width, int height, int channels)
{
	struct truth t = { NULL, labels };

	apply(ops, r, img, &t, width, height, channels);
}

void
augment_image(unsigned ops, struct rng *r, struct image *img)
{
	size_t npix = (size_t)img->width * img->height;
	int c = image_channels(img), d = img->depth;
	int has_labels = image_has_labels(img);
	int has_mask = image_has_mask(img) && !has_labels;
	float *x = xmalloc(npix * c * sizeof *x);
	struct truth t = {
		has_mask ? xmalloc(npix * sizeof *t.mask) : NULL,
		has_labels ? xmalloc(npix * sizeof *t.labels) : NULL
	};
	double maxval = img->maxval;

	for (size_t p = 0; p < npix; p++) {
		for (int k = 0; k < c; k++)
			x[p * c + k] = (float)(img->data[p * d + k] / maxval);
		if (t.mask)
			t.mask[p] = (float)image_mask_at(img, p);
		if (t.labels)
			t.labels[p] = img->data[p * d + c];
	}
	apply(ops, r, x, &t, img->width, img->height, c);
	for (size_t p = 0; p < npix; p++) {
		for (int k = 0; k < c; k++) {
			double v = x[p * c + k];
			v = v < 0 ? 0 : v > 1 ? 1 : v;
			img->data[p * d + k] = (uint16_t)lround(v * maxval);
		}
		if (t.mask)
			img->data[p * d + c] = t.mask[p] >= 0.5f ? img->maxval
								 : 0;
		if (t.labels)
			img->data[p * d + c] = t.labels[p];
	}
	free(x);
	free(t.mask);
	free(t.labels);
}
