/* test_resample: area reduction, bilinear enlargement, masks kept binary,
 * labels by nearest neighbour, metadata carried over. */
#include <math.h>
#include <string.h>

#include "image.h"
#include "resample.h"
#include "tap.h"
#include "util.h"

static int
near(float a, float b)
{
	return fabsf(a - b) < 1e-4f;
}

static void
test_plane(void)
{
	float src[16], dst[64];
	int ok;

	/* 4x4 -> 2x2: each output is the mean of its 2x2 block. */
	for (int i = 0; i < 16; i++)
		src[i] = (float)i;
	resample_plane(src, 4, 4, dst, 2, 2);
	tap_ok(near(dst[0], 2.5f) && near(dst[1], 4.5f) &&
		       near(dst[2], 10.5f) && near(dst[3], 12.5f),
	       "4x4 -> 2x2 block means (%g %g %g %g)", dst[0], dst[1], dst[2],
	       dst[3]);

	/* 3 -> 2 covers 1.5 source pixels each: (0 + 0.5*1)/1.5, (0.5*1 + 2)/1.5. */
	{
		float row[3] = {0, 1, 2}, out[2];
		resample_plane(row, 3, 1, out, 2, 1);
		tap_ok(near(out[0], 1.0f / 3) && near(out[1], 5.0f / 3),
		       "3 -> 2 area weights (%g %g)", out[0], out[1]);
	}

	/* A constant image stays constant under any size change. */
	for (int i = 0; i < 16; i++)
		src[i] = 7.25f;
	ok = 1;
	resample_plane(src, 4, 4, dst, 3, 5);
	for (int i = 0; i < 15; i++)
		ok &= near(dst[i], 7.25f);
	resample_plane(src, 4, 4, dst, 8, 8);
	for (int i = 0; i < 64; i++)
		ok &= near(dst[i], 7.25f);
	resample_plane(src, 4, 4, dst, 1, 1);
	ok &= near(dst[0], 7.25f);
	tap_ok(ok, "constant plane stays constant (4x4 -> 3x5, 8x8, 1x1)");

	/* The mean is kept by an exact reduction. */
	{
		float big[12 * 8], small[3 * 2], m0 = 0, m1 = 0;
		for (int i = 0; i < 96; i++)
			m0 += big[i] = (float)((i * 37) % 11);
		resample_plane(big, 12, 8, small, 3, 2);
		for (int i = 0; i < 6; i++)
			m1 += small[i];
		tap_ok(near(m0 / 96, m1 / 6), "12x8 -> 3x2 keeps the mean");
	}

	/* 2x enlargement of a row: centres at -0.25, 0.25, 0.75, 1.25 of
	 * the source, clamped at the edges. */
	{
		float row[2] = {0, 4}, out[4];
		resample_plane(row, 2, 1, out, 4, 1);
		tap_ok(near(out[0], 0) && near(out[1], 1) && near(out[2], 3) &&
			       near(out[3], 4),
		       "2 -> 4 bilinear (%g %g %g %g)", out[0], out[1], out[2],
		       out[3]);
	}
	{
		float col[3] = {0, 6, 12}, out[6];
		resample_plane(col, 1, 3, out, 1, 6);
		tap_ok(near(out[0], 0) && near(out[1], 1.5f) &&
			       near(out[2], 4.5f) && near(out[3], 7.5f) &&
			       near(out[4], 10.5f) && near(out[5], 12),
		       "3 -> 6 vertical bilinear");
	}
	{
		float one = 9, out[6];
		resample_plane(&one, 1, 1, out, 3, 2);
		ok = 1;
		for (int i = 0; i < 6; i++)
			ok &= near(out[i], 9);
		tap_ok(ok, "1x1 -> 3x2 replicates");
	}
	{
		float row[4] = {1, 2, 3, 4}, out[4];
		resample_plane(row, 4, 1, out, 4, 1);
		tap_ok(near(out[0], 1) && near(out[3], 4), "same size is identity");
	}
}

static void
test_image(void)
{
	struct image a, b;
	size_t count = 0;
	int binary = 1;

	/* 8x8 RGB_MASK, mask = left 3 columns (rows 0..7), image ramp. */
	image_alloc(&a, 8, 8, 4, 255, "RGB_MASK");
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 8; x++) {
			uint16_t *p = a.data + (size_t)(y * 8 + x) * 4;
			p[0] = (uint16_t)(x * 30);
			p[1] = 100;
			p[2] = (uint16_t)(y * 30 + 1);
			p[3] = x < 3 ? 255 : 0;
		}
	image_set_id(&a, "s1");
	a.comments = xstrdup("keep me");
	resample_image(&a, &b, 4, 4);
	tap_ok(b.width == 4 && b.height == 4 && b.depth == 4 &&
		       b.maxval == 255 && strcmp(b.tuple_type, "RGB_MASK") == 0,
	       "image shape and type");
	tap_ok(b.data[0] == 15 && b.data[4] == 75 && b.data[1] == 100 &&
		       b.data[2] == 16,
	       "image channels averaged and rounded (%u %u %u %u)",
	       b.data[0], b.data[4], b.data[1], b.data[2]);
	for (size_t p = 0; p < 16; p++) {
		uint16_t v = b.data[p * 4 + 3];
		binary &= v == 0 || v == 255;
		count += image_mask_at(&b, p);
	}
	/* Output column 0 is all foreground, column 1 half (kept). */
	tap_ok(binary && count == 8, "mask binary, 8 foreground pixels (%zu)",
	       count);
	tap_ok(b.id && strcmp(b.id, "s1") == 0 && b.comments &&
		       strcmp(b.comments, "keep me") == 0,
	       "id and comments copied");
	tap_ok(b.orig_width == 8 && b.orig_height == 8,
	       "original size recorded from the source size");
	image_free(&b);

	/* A source with a known original size passes it on. */
	a.orig_width = 100;
	a.orig_height = 50;
	resample_image(&a, &b, 16, 16);
	tap_ok(b.orig_width == 100 && b.orig_height == 50,
	       "known original size kept");
	count = 0;
	binary = 1;
	for (size_t p = 0; p < 256; p++) {
		uint16_t v = b.data[p * 4 + 3];
		binary &= v == 0 || v == 255;
		count += image_mask_at(&b, p);
	}
	/* Enlarged x2: 3 columns become 6 (coverage >= 1/2 up to x = 2.5). */
	tap_ok(binary && count == 16 * 6, "2x mask enlargement: %zu of 96",
	       count);
	image_free(&b);
	image_free(&a);

	/* Mask with less than half coverage disappears on reduction. */
	image_alloc(&a, 4, 4, 2, 1, "GRAYSCALE_MASK");
	a.data[1] = 1; /* one pixel of 16 */
	resample_image(&a, &b, 1, 1);
	tap_ok(b.data[1] == 0, "1/16 coverage -> background");
	image_free(&b);
	for (int p = 0; p < 8; p++)
		a.data[p * 2 + 1] = 1;
	resample_image(&a, &b, 1, 1);
	tap_ok(b.data[1] == 1, "1/2 coverage -> foreground");
	image_free(&b);
	image_free(&a);

	/* 16-bit values stay in range and round. */
	image_alloc(&a, 2, 1, 1, 65535, "GRAYSCALE");
	a.data[0] = 65535;
	a.data[1] = 65534;
	resample_image(&a, &b, 1, 1);
	tap_ok(b.data[0] == 65535, "16-bit mean rounds half up (%u)",
	       b.data[0]);
	image_free(&b);
	resample_image(&a, &b, 5, 1);
	tap_ok(b.data[0] == 65535 && b.data[4] == 65534, "16-bit enlargement");
	image_free(&b);
	image_free(&a);

	/* A large reduction of a real-sized image: masks stay binary and
	 * the foreground fraction is about kept. */
	image_alloc(&a, 1388, 1040, 2, 255, "GRAYSCALE_MASK");
	count = 0;
	for (int y = 0; y < 1040; y++)
		for (int x = 0; x < 1388; x++) {
			int fg = (x / 40 + y / 40) % 2;
			a.data[((size_t)y * 1388 + x) * 2 + 1] = fg ? 255 : 0;
			a.data[((size_t)y * 1388 + x) * 2] = fg ? 200 : 20;
			count += (size_t)fg;
		}
	resample_image(&a, &b, 128, 128);
	{
		size_t fg = 0;
		binary = 1;
		for (size_t p = 0; p < 128 * 128; p++) {
			uint16_t v = b.data[p * 2 + 1];
			binary &= v == 0 || v == 255;
			fg += image_mask_at(&b, p);
		}
		double f0 = (double)count / (1388.0 * 1040);
		double f1 = (double)fg / (128 * 128);
		tap_ok(binary && fabs(f0 - f1) < 0.03,
		       "1388x1040 -> 128x128 mask fraction %.3f vs %.3f", f1,
		       f0);
	}
	image_free(&b);
	image_free(&a);
}

/* Labels (of a *_LABEL sample or a LABEL image) come from the source
 * pixel under each output pixel's centre: never a mean of two labels. */
static void
test_labels(void)
{
	struct image a, b;
	int ok = 1;

	/* 4x2 labels 1..8 (label 300 in place of 8: maxval 65535) with an
	 * image channel 10 * label. */
	image_alloc(&a, 4, 2, 2, 65535, "GRAYSCALE_LABEL");
	for (int p = 0; p < 8; p++) {
		a.data[p * 2] = (uint16_t)(10 * (p + 1));
		a.data[p * 2 + 1] = (uint16_t)(p == 7 ? 300 : p + 1);
	}
	resample_image(&a, &b, 2, 1);
	/* Centres (1, 1) and (3, 1): labels 6 and 300; the image averaged. */
	tap_ok(strcmp(b.tuple_type, "GRAYSCALE_LABEL") == 0 &&
		       b.data[1] == 6 && b.data[3] == 300 && b.data[0] == 35 &&
		       b.data[2] == 55,
	       "4x2 -> 2x1: labels 6 and 300 (%u %u), image %u %u", b.data[1],
	       b.data[3], b.data[0], b.data[2]);
	image_free(&b);
	/* 4x2 -> 3x5: every label is a source label at its nearest pixel. */
	resample_image(&a, &b, 3, 5);
	for (int y = 0; y < 5; y++)
		for (int x = 0; x < 3; x++) {
			int sx = (2 * x + 1) * 4 / 6, sy = (2 * y + 1) * 2 / 10;
			ok &= b.data[(y * 3 + x) * 2 + 1] ==
			      a.data[(sy * 4 + sx) * 2 + 1];
		}
	tap_ok(ok, "4x2 -> 3x5: each label the source's under the centre");
	image_free(&b);
	image_free(&a);

	/* A LABEL image: enlarged, labels repeated. */
	image_alloc(&a, 2, 1, 1, 65535, "LABEL");
	a.data[0] = 7;
	a.data[1] = 65535;
	resample_image(&a, &b, 4, 2);
	tap_ok(b.data[0] == 7 && b.data[1] == 7 && b.data[2] == 65535 &&
		       b.data[3] == 65535 && b.data[4] == 7 &&
		       b.data[7] == 65535,
	       "LABEL 2x1 -> 4x2: 7 7 65535 65535 twice");
	image_free(&b);
	image_free(&a);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_plane();
	test_image();
	test_labels();
	return tap_done();
}
