/* Unit tests of common/draw.c: pixels, clipping, lines, blending, copies. */
#include <string.h>

#include "draw.h"
#include "tap.h"
#include "util.h"

static int
is(const struct image *img, int x, int y, struct rgb c)
{
	const uint16_t *p = img->data + ((size_t)y * img->width + x) * 3;

	return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

static int
count(const struct image *img, struct rgb c)
{
	int n = 0;

	for (int y = 0; y < img->height; y++)
		for (int x = 0; x < img->width; x++)
			n += is(img, x, y, c);
	return n;
}

int
main(int argc, char **argv)
{
	struct image img, src;
	int ok;

	prog_init(argc, argv);

	draw_canvas(&img, 10, 6, RGB_WHITE);
	tap_ok(img.depth == 3 && img.maxval == 255 &&
	       strcmp(img.tuple_type, "RGB") == 0, "canvas is RGB maxval 255");
	tap_ok(count(&img, RGB_WHITE) == 60, "canvas filled");

	draw_point(&img, -1, 0, RGB_BLACK);
	draw_point(&img, 10, 0, RGB_BLACK);
	draw_point(&img, 0, 6, RGB_BLACK);
	tap_ok(count(&img, RGB_WHITE) == 60, "points outside are ignored");

	draw_rect(&img, 8, 4, 5, 5, RGB_BLUE);
	tap_ok(count(&img, RGB_BLUE) == 4 && is(&img, 9, 5, RGB_BLUE),
	       "rectangle clipped to the image");

	image_free(&img);
	draw_canvas(&img, 10, 6, RGB_WHITE);
	draw_line(&img, 0, 0, 9, 0, 1, 0, RGB_BLACK);
	tap_ok(count(&img, RGB_BLACK) == 10, "horizontal line, both ends");
	draw_line(&img, 0, 0, 5, 5, 1, 0, RGB_BLUE);
	ok = 1;
	for (int i = 0; i <= 5; i++)
		ok &= is(&img, i, i, RGB_BLUE);
	tap_ok(ok && count(&img, RGB_BLUE) == 6, "diagonal line");

	image_free(&img);
	draw_canvas(&img, 10, 6, RGB_WHITE);
	draw_line(&img, 0, 2, 9, 2, 3, 0, RGB_BLACK);
	tap_ok(count(&img, RGB_BLACK) == 30 && is(&img, 0, 1, RGB_BLACK) &&
	       is(&img, 0, 3, RGB_BLACK), "3-pixel pen centred on the line");

	image_free(&img);
	draw_canvas(&img, 10, 6, RGB_WHITE);
	draw_line(&img, 0, 0, 9, 0, 1, 2, RGB_BLACK);
	tap_ok(count(&img, RGB_BLACK) == 6 && is(&img, 0, 0, RGB_BLACK) &&
	       is(&img, 1, 0, RGB_BLACK) && !is(&img, 2, 0, RGB_BLACK) &&
	       is(&img, 4, 0, RGB_BLACK), "dashed line: 2 on, 2 off");

	image_free(&img);
	draw_canvas(&img, 10, 6, RGB_WHITE);
	draw_line(&img, -20, 3, 30, 3, 1, 0, RGB_BLACK);
	tap_ok(count(&img, RGB_BLACK) == 10, "line beyond the edges clipped");

	image_free(&img);
	draw_canvas(&img, 80, 30, RGB_WHITE);
	draw_text(&img, 2, 20, 12, RGB_BLACK, "Ab1");
	tap_ok(count(&img, RGB_BLACK) > 20, "text draws pixels");
	tap_ok(draw_text_width(12, "Ab1") > 10 &&
	       draw_text_width(12, "Ab1Ab1") > draw_text_width(12, "Ab1"),
	       "text width grows with the text");
	tap_ok(draw_text_width(12, "A\x01\xff") == draw_text_width(12, "A"),
	       "characters outside printable ASCII are skipped");
	image_free(&img);
	draw_canvas(&img, 10, 10, RGB_WHITE);
	draw_text(&img, -100, 300, 40, RGB_BLACK, "outside");
	tap_ok(count(&img, RGB_WHITE) == 100, "text outside is clipped");

	image_free(&img);
	draw_canvas(&img, 2, 1, RGB_BLACK);
	draw_blend(&img, 1, (struct rgb){255, 100, 1}, 0.5);
	tap_ok(is(&img, 0, 0, RGB_BLACK) &&
	       is(&img, 1, 0, ((struct rgb){128, 50, 1})),
	       "blend rounds halves up, only pixel p");
	draw_blend(&img, 0, RGB_WHITE, 0);
	tap_ok(is(&img, 0, 0, RGB_BLACK), "alpha 0 keeps the pixel");

	image_alloc(&src, 2, 1, 2, 65535, "GRAYSCALE_MASK");
	src.data[0] = 65535;
	src.data[1] = 0;
	src.data[2] = 32768;
	src.data[3] = 65535;
	image_free(&img);
	draw_canvas(&img, 4, 2, RGB_WHITE);
	draw_copy_image(&img, 1, &src);
	tap_ok(is(&img, 0, 0, RGB_WHITE) && is(&img, 1, 0, RGB_WHITE) &&
	       is(&img, 2, 0, ((struct rgb){128, 128, 128})) &&
	       is(&img, 3, 0, RGB_WHITE) && is(&img, 1, 1, RGB_WHITE),
	       "grey sample copied at x0, rescaled, mask channel ignored");
	image_free(&src);

	image_alloc(&src, 3, 1, 3, 15, "RGB");
	for (int i = 0; i < 9; i++)
		src.data[i] = (uint16_t)i;
	image_free(&img);
	draw_canvas(&img, 2, 1, RGB_WHITE);
	draw_copy_image(&img, 0, &src);
	tap_ok(is(&img, 0, 0, ((struct rgb){0, 17, 34})) &&
	       is(&img, 1, 0, ((struct rgb){51, 68, 85})),
	       "RGB copied, rescaled to 255, clipped at the right edge");
	image_free(&src);
	image_free(&img);
	return tap_done();
}
