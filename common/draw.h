/* draw: drawing on RGB images (struct image, depth 3, maxval 255) for the
 * renders: rectangles, thick and dashed lines, text in libnetpbm's built-in
 * vector font, blending. Everything is clipped to the image. */
#ifndef UNETPIPE_DRAW_H
#define UNETPIPE_DRAW_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct rgb {
	uint8_t r, g, b;
};

/* The Okabe-Ito colour-blind-safe palette, plus white and greys. */
#define RGB_BLACK ((struct rgb){0, 0, 0})
#define RGB_ORANGE ((struct rgb){230, 159, 0})
#define RGB_SKY_BLUE ((struct rgb){86, 180, 233})
#define RGB_BLUISH_GREEN ((struct rgb){0, 158, 115})
#define RGB_YELLOW ((struct rgb){240, 228, 66})
#define RGB_BLUE ((struct rgb){0, 114, 178})
#define RGB_VERMILLION ((struct rgb){213, 94, 0})
#define RGB_REDDISH_PURPLE ((struct rgb){204, 121, 167})
#define RGB_WHITE ((struct rgb){255, 255, 255})
#define RGB_GREY ((struct rgb){153, 153, 153})
#define RGB_LIGHT_GREY ((struct rgb){225, 225, 225})

/* The colour of object label k >= 1 in the renders of label images: hue
 * k x 137.508 degrees (the golden angle, so that labels near in number get
 * distant hues), saturation 0.7, value 1 for odd k and 0.8 for even k
 * (labels 13 or 21 apart, of near hues, differ in brightness), computed
 * in integers. */
struct rgb draw_label_colour(uint32_t k);

/* Allocate img as a width x height RGB image, maxval 255, filled with c. */
void draw_canvas(struct image *img, int width, int height, struct rgb c);

/* Set pixel (x, y) to c; points outside the image are ignored. */
void draw_point(struct image *img, int x, int y, struct rgb c);

/* Fill the rectangle with top left corner (x, y), w x h pixels. */
void draw_rect(struct image *img, int x, int y, int w, int h, struct rgb c);

/* Draw a line from (x0, y0) to (x1, y1) with a square pen `width` pixels
 * wide (1 or more). dash > 0 draws dash pixels on, dash off along the
 * line; 0 draws it solid. */
void draw_line(struct image *img, int x0, int y0, int x1, int y1, int width,
	       int dash, struct rgb c);

/* Draw s with the left end of its baseline at (x, y), capital letters about
 * `height` pixels tall. Characters the font lacks are skipped. */
void draw_text(struct image *img, int x, int y, int height, struct rgb c,
	       const char *s);

/* Width in pixels of s drawn by draw_text at the given height. */
int draw_text_width(int height, const char *s);

/* Mix c into pixel p (y * width + x): new = alpha * c + (1 - alpha) * old,
 * alpha in [0, 1], rounded. */
void draw_blend(struct image *img, size_t p, struct rgb c, double alpha);

/* Copy the image channels of src (GRAYSCALE or RGB, with or without a mask
 * channel, any maxval) into the RGB maxval 255 image dst with src's top left
 * corner at column x0, row 0 (clipped to dst): grey is repeated in the three
 * channels, values are rescaled to 255 and rounded. */
void draw_copy_image(struct image *dst, int x0, const struct image *src);

#endif
