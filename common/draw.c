#include "draw.h"

#include <stdlib.h>

#include <pam.h>
#include <pamdraw.h>

#include "util.h"

void
draw_canvas(struct image *img, int width, int height, struct rgb c)
{
	image_alloc(img, width, height, 3, 255, "RGB");
	draw_rect(img, 0, 0, width, height, c);
}

void
draw_point(struct image *img, int x, int y, struct rgb c)
{
	uint16_t *px;

	if (x < 0 || y < 0 || x >= img->width || y >= img->height)
		return;
	px = img->data + ((size_t)y * img->width + x) * 3;
	px[0] = c.r;
	px[1] = c.g;
	px[2] = c.b;
}

void
draw_rect(struct image *img, int x, int y, int w, int h, struct rgb c)
{
	int x1 = x + w, y1 = y + h;

	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if (x1 > img->width)
		x1 = img->width;
	if (y1 > img->height)
		y1 = img->height;
	for (int j = y; j < y1; j++)
		for (int i = x; i < x1; i++)
			draw_point(img, i, j, c);
}

void
draw_line(struct image *img, int x0, int y0, int x1, int y1, int width,
	  int dash, struct rgb c)
{
	int dx = abs(x1 - x0), dy = -abs(y1 - y0);
	int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
	int err = dx + dy, off = (width - 1) / 2;

	for (long step = 0;; step++) {
		if (dash <= 0 || (step / dash) % 2 == 0)
			draw_rect(img, x0 - off, y0 - off, width, width, c);
		if (x0 == x1 && y0 == y1)
			break;
		int e2 = 2 * err;
		if (e2 >= dy) {
			err += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			err += dx;
			y0 += sy;
		}
	}
}

struct pen {
	struct image *img;
	struct rgb c;
};

static void
text_point(tuple **tuples, unsigned cols, unsigned rows, unsigned depth,
	   sample maxval, pamd_point p, const void *data)
{
	const struct pen *pen = data;

	(void)tuples, (void)cols, (void)rows, (void)depth, (void)maxval;
	draw_point(pen->img, p.x, p.y, pen->c);
}

/* The font has glyphs for printable ASCII only. */
static char *
printable(const char *s)
{
	char *t = xstrdup(s), *o = t;

	for (; *s; s++)
		if (*s >= ' ' && *s <= '~')
			*o++ = *s;
	*o = '\0';
	return t;
}

void
draw_text(struct image *img, int x, int y, int height, struct rgb c,
	  const char *s)
{
	struct pen pen = {img, c};
	char *t = printable(s);
	int left, top, right, bottom;

	/* far outside, libnetpbm would reject the coordinates */
	pamd_text_box(height, 0, t, &left, &top, &right, &bottom);
	if (x + right < 0 || x + left >= img->width || y + bottom < 0 ||
	    y + top >= img->height) {
		free(t);
		return;
	}
	pamd_text(NULL, img->width, img->height, 3, 255, pamd_makePoint(x, y),
		  height, 0, t, text_point, &pen);
	free(t);
}

int
draw_text_width(int height, const char *s)
{
	int left, top, right, bottom;
	char *t = printable(s);

	pamd_text_box(height, 0, t, &left, &top, &right, &bottom);
	free(t);
	return right - left;
}

struct rgb
draw_label_colour(uint32_t k)
{
	/* In units of 1 / (1000 * 60000): saturation in thousandths, the hue
	 * within its 60-degree sector in millidegrees; rounded once. */
	const uint64_t d = 60000000;
	uint64_t h = (uint64_t)k * 137508 % 360000; /* millidegrees */
	uint64_t f = h % 60000, v = k % 2 ? 255 : 204;
	uint8_t hi = (uint8_t)v;
	uint8_t lo = (uint8_t)((v * 300 * 60000 + d / 2) / d);
	uint8_t up = (uint8_t)((v * 300 * 60000 + v * 700 * f + d / 2) / d);
	uint8_t down = (uint8_t)((v * 60000000 - v * 700 * f + d / 2) / d);

	switch (h / 60000) {
	case 0:
		return (struct rgb){hi, up, lo};
	case 1:
		return (struct rgb){down, hi, lo};
	case 2:
		return (struct rgb){lo, hi, up};
	case 3:
		return (struct rgb){lo, down, hi};
	case 4:
		return (struct rgb){up, lo, hi};
	default:
		return (struct rgb){hi, lo, down};
	}
}

void
draw_blend(struct image *img, size_t p, struct rgb c, double alpha)
{
	uint16_t *px = img->data + p * 3;
	const uint8_t v[3] = {c.r, c.g, c.b};

	for (int k = 0; k < 3; k++)
		px[k] = (uint16_t)(alpha * v[k] + (1 - alpha) * px[k] + 0.5);
}

void
draw_copy_image(struct image *dst, int x0, const struct image *src)
{
	int ch = image_channels(src);

	for (int y = 0; y < src->height && y < dst->height; y++) {
		for (int x = 0; x < src->width; x++) {
			const uint16_t *s = src->data +
				((size_t)y * src->width + x) * src->depth;
			uint16_t *d;

			if (x0 + x < 0 || x0 + x >= dst->width)
				continue;
			d = dst->data + ((size_t)y * dst->width + x0 + x) * 3;
			for (int k = 0; k < 3; k++) {
				unsigned v = s[ch == 1 ? 0 : k];
				d[k] = (uint16_t)((v * 255u + src->maxval / 2) /
						  src->maxval);
			}
		}
	}
}
