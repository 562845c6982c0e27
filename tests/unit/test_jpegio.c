/* test_jpegio: JPEGs made here with libjpeg (gray, RGB, CMYK) read by
 * jpegio: a flat gray image exact, RGB within the loss of quality 95,
 * CMYK, truncated and other files refused with one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "jpegio.h"
#include "tap.h"
#include "util.h"

/* Write a w x h JPEG of components (1 gray, 3 RGB, 4 CMYK) samples at
 * quality 95 to the scratch file name; its path. */
static const char *
write_jpeg(const char *name, int w, int h, int components,
	   const unsigned char *samples)
{
	const char *path = tap_path(name);
	FILE *f = fopen(path, "wb");
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;

	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = components;
	c.in_color_space = components == 1 ? JCS_GRAYSCALE
			   : components == 3 ? JCS_RGB : JCS_CMYK;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 95, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)samples +
			       (size_t)c.next_scanline * w * components;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	fclose(f);
	return path;
}

static int
read_path(const char *path, struct image *img, char *err, size_t n)
{
	FILE *f = fopen(path, "rb");
	int status = jpegio_read_file(f, img, err, n);

	fclose(f);
	return status;
}

static void
test_gray_flat_exact(void)
{
	static unsigned char g[24 * 16];
	struct image img;
	char err[300];
	int same = 1;

	memset(g, 137, sizeof g);
	tap_ok(read_path(write_jpeg("g.jpg", 24, 16, 1, g), &img, err,
			 sizeof err) == 0 &&
		       img.width == 24 && img.height == 16 && img.depth == 1 &&
		       img.maxval == 255 &&
		       strcmp(img.tuple_type, "GRAYSCALE") == 0,
	       "gray JPEG: GRAYSCALE 24x16, maxval 255");
	for (size_t i = 0; img.data && i < sizeof g; i++)
		same &= img.data[i] == 137;
	tap_ok(img.data && same, "flat gray 137: every sample exact");
	image_free(&img);
}

static void
test_rgb_within_loss(void)
{
	enum { W = 32, H = 24 };
	static unsigned char rgb[W * H * 3];
	struct image img;
	char err[300];
	int worst = 0;

	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			unsigned char *p = rgb + (y * W + x) * 3;
			p[0] = (unsigned char)(x * 8);
			p[1] = (unsigned char)(y * 10);
			p[2] = 200;
		}
	tap_ok(read_path(write_jpeg("c.jpg", W, H, 3, rgb), &img, err,
			 sizeof err) == 0 &&
		       img.depth == 3 && strcmp(img.tuple_type, "RGB") == 0,
	       "RGB JPEG: RGB");
	for (size_t i = 0; img.data && i < sizeof rgb; i++) {
		int d = abs((int)img.data[i] - rgb[i]);
		worst = d > worst ? d : worst;
	}
	tap_ok(img.data && worst <= 12, "smooth RGB within 12 of the source "
	       "(largest difference %d)", worst);
	image_free(&img);
}

static void
test_refusals(void)
{
	static unsigned char cmyk[8 * 8 * 4];
	static unsigned char g[64 * 64];
	const char *path, *cut = tap_path("cut.jpg");
	struct image img;
	char err[300], cmd[9000];
	FILE *f;

	path = write_jpeg("k.jpg", 8, 8, 4, cmyk);
	tap_ok(read_path(path, &img, err, sizeof err) == -1 && !img.data &&
		       strcmp(err, "CMYK JPEG not supported (gray or RGB)") == 0,
	       "CMYK refused: %s", err);
	for (size_t i = 0; i < sizeof g; i++)
		g[i] = (unsigned char)(i * 7919 >> 3);
	path = write_jpeg("n.jpg", 64, 64, 1, g);
	snprintf(cmd, sizeof cmd, "head -c 1500 '%s' >'%s'", path, cut);
	if (system(cmd) != 0)
		tap_diag("head failed");
	tap_ok(read_path(cut, &img, err, sizeof err) == -1 && !img.data &&
		       strncmp(err, "corrupt JPEG file: ", 19) == 0 &&
		       !strchr(err, '\n'),
	       "truncated JPEG refused: %s", err);
	f = fopen(tap_path("x.jpg"), "w");
	fputs("\xff\xd8 no more", f);
	fclose(f);
	tap_ok(read_path(tap_path("x.jpg"), &img, err, sizeof err) == -1 &&
		       strncmp(err, "corrupt JPEG file: ", 19) == 0,
	       "a start marker and then junk: %s", err);
	f = fopen(tap_path("y.jpg"), "w");
	fputs("GIF89a", f);
	fclose(f);
	tap_ok(read_path(tap_path("y.jpg"), &img, err, sizeof err) == -1 &&
		       strcmp(err, "not a JPEG file") == 0,
	       "a GIF: %s", err);
	tap_ok(jpegio_signature("\xff\xd8\xff", 3) &&
		       !jpegio_signature("\xff\xd8", 2) &&
		       !jpegio_signature("\xff\xd9\xff", 3),
	       "signature FF D8 FF");
}

int
main(void)
{
	test_gray_flat_exact();
	test_rgb_within_loss();
	test_refusals();
	tap_scratch_remove();
	return tap_done();
}
